"""Worker processes of the tuner, started from tensorlang's own entry point.

Each worker is a fresh interpreter running ``python -m tensorlang.autotune.worker_main``
(:mod:`.worker_main`), joined to the tuning process by a socket pair that both ends use
as a :class:`multiprocessing.connection.Connection`.  multiprocessing's ``spawn`` and
``forkserver`` methods would run the user's main script again in every worker (as
``__mp_main__``), so a script without an ``if __name__ == "__main__":`` guard would start
tuning anew in each of them; these workers import tensorlang and nothing of the user's,
and inherit no threads (OpenMP, xgboost) from the tuning process.

:class:`Worker` is one process (the isolated runner is one); :class:`WorkerPool` runs
jobs, functions of :mod:`.measure_worker`, on a few of them, and blames a crash or a
timeout on the one job whose worker died or hung.

>>> with WorkerPool(4) as pool:
...     outcomes = pool.run("build_candidate", jobs, timeout=60.0)   # [(status, value)]
"""
from __future__ import annotations

import multiprocessing.connection as mp_connection
import os
import signal
import socket
import subprocess
import sys
import time

#: the directory holding the ``tensorlang`` package, so that a worker imports this copy
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _interpreter_flags() -> list:
    """The flags of this interpreter that a worker should share (``-W``, ``-X``, ...),
    as multiprocessing passes them to its own children."""
    try:
        return subprocess._args_from_interpreter_flags()
    except AttributeError:  # not part of every Python's subprocess module
        return []


class Worker:
    """One worker process running ``measure_worker.<function>(connection, *args)``.

    Offers what the tuner used of :class:`multiprocessing.Process`: ``is_alive``,
    ``kill``, ``join`` and ``exitcode`` (negative: the signal that ended it), and
    ``connection``, the tuning process's end of the pipe."""

    def __init__(self, function: str, args: tuple = (), name: str = "tensorlang-worker"):
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = _PACKAGE_ROOT + (os.pathsep + path if path else "")
        try:
            self._process = subprocess.Popen(
                [sys.executable, *_interpreter_flags(), "-m",
                 "tensorlang.autotune.worker_main", str(theirs.fileno()), name],
                pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        self.name = name
        self.pid = self._process.pid
        self.connection = mp_connection.Connection(ours.detach())
        # sys.path first, as plain strings, so that what follows (functions of the
        # user's modules, a fault hook) unpickles against the modules this process sees
        self.connection.send([p for p in sys.path if isinstance(p, str)])
        self.connection.send((function, tuple(args)))

    def is_alive(self) -> bool:
        return self._process.poll() is None

    def kill(self) -> None:
        if self.is_alive():
            self._process.kill()

    def join(self, timeout: float | None = None) -> None:
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass

    @property
    def exitcode(self) -> int | None:
        return self._process.poll()

    def close(self, grace: float = 5.0) -> None:
        """Ask the worker to stop; kill it if it has not within ``grace`` seconds."""
        if self.is_alive():
            try:
                self.connection.send(("stop",))
            except OSError:
                pass
            self.join(grace)
        self.kill()
        self.join()
        self.connection.close()


class WorkerPool:
    """Up to ``size`` workers, each serving jobs (:func:`.measure_worker.serve_jobs`)
    one at a time; workers start on first use and are kept between calls."""

    def __init__(self, size: int, name: str = "tensorlang-builder"):
        self.size = max(1, int(size))
        self.name = name
        self._idle: list[Worker] = []

    def _take(self) -> tuple:
        """``(worker, whether it was just started)``: an idle live worker, or a new one."""
        while self._idle:
            worker = self._idle.pop()
            if worker.is_alive():
                return worker, False
            worker.close(grace=0)
        return Worker("serve_jobs", (os.getpid(),), self.name), True

    def run(self, function: str, jobs: list, timeout: float) -> list:
        """``measure_worker.<function>(*job)`` for every job, at most ``size`` at a time:
        a ``(status, value)`` per job, in order.  Status ``"ok"`` (value: the result),
        ``"error"`` (it raised; value: the exception's text), ``"crash"`` (its worker
        died; value: how) or ``"timeout"`` (it ran more than ``timeout`` seconds and its
        worker was killed)."""
        outcomes: list = [None] * len(jobs)
        waiting = list(range(len(jobs)))[::-1]
        busy: dict = {}   # connection -> (worker, job index, start)
        while waiting or busy:
            while waiting and len(busy) < self.size:
                k = waiting.pop()
                worker, fresh = self._take()
                try:
                    worker.connection.send(("job", function, jobs[k]))
                except OSError:
                    worker.join(1)
                    if fresh:   # died at once: starting another would fare no better
                        outcomes[k] = ("crash", _death(worker))
                    else:       # died idle (killed from outside): another takes the job
                        waiting.append(k)
                    worker.close(grace=0)
                    continue
                busy[worker.connection] = (worker, k, time.monotonic())
            if not busy:
                continue
            first_deadline = min(start for _, _, start in busy.values()) + timeout
            ready = mp_connection.wait(list(busy), max(0.0, first_deadline - time.monotonic()))
            for connection in ready:
                worker, k, _ = busy.pop(connection)
                try:
                    outcomes[k] = connection.recv()
                    self._idle.append(worker)
                except (EOFError, OSError):
                    worker.join(5)
                    outcomes[k] = ("crash", _death(worker))
                    worker.close(grace=0)
            now = time.monotonic()
            for connection, (worker, k, start) in list(busy.items()):
                if now - start >= timeout:
                    del busy[connection]
                    outcomes[k] = ("timeout", f"no result within {timeout:g} s")
                    worker.kill()
                    worker.close(grace=0)
        return outcomes

    def reset(self) -> None:
        """Kill every worker (the next job starts fresh ones)."""
        idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()
            worker.close(grace=0)

    def close(self) -> None:
        """Stop the workers, letting each finish what it is doing."""
        idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _death(worker: Worker) -> str:
    """How a worker ended, in words."""
    code = worker.exitcode
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"
