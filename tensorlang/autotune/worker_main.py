"""The entry point of the tuner's worker processes (``python -m
tensorlang.autotune.worker_main FD NAME``), started by :mod:`.workers`.

FD is the worker's end of a socket pair.  The first message is the tuning process's
``sys.path``; the second names the function of :mod:`.measure_worker` to run and its
arguments; the function is then called with the connection.  Nothing of the user's main
script is imported.
"""
from __future__ import annotations

import sys
from multiprocessing.connection import Connection

from . import measure_worker


def main(argv: list) -> int:
    connection = Connection(int(argv[1]))
    path = connection.recv()
    # the tuning process's modules (a template's, a fault hook's) resolve here alike
    sys.path[:] = path + [p for p in sys.path if p not in path]
    function, args = connection.recv()
    getattr(measure_worker, function)(connection, *args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
