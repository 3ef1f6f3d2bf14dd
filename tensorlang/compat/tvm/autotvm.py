"""``tvm.autotvm``: AutoTVM's templates, tasks, tuners and history over tensorlang's
template mode (``tl.autotune.template``).

>>> @autotvm.template("tutorial/matmul")
... def matmul(N, L, M, dtype):
...     ...; cfg = autotvm.get_config(); cfg.define_split("tile_y", y, num_outputs=2); ...
>>> task = autotvm.task.create("tutorial/matmul", args=(N, L, M, "float32"), target="llvm")
>>> autotvm.tuner.XGBTuner(task).tune(n_trial=20, measure_option=autotvm.measure_option(
...     builder="local", runner=autotvm.LocalRunner(number=5)),
...     callbacks=[autotvm.callback.log_to_file("matmul.log")])
>>> with autotvm.apply_history_best("matmul.log"):
...     with tvm.target.Target("llvm"):
...         s, arg_bufs = matmul(N, L, M, "float32")

Differences: the log holds tensorlang's tuning records (JSON lines), not TVM's; tuners
differ in how they pick candidates (XGBTuner: tensorlang's cost-model search, the others:
uniform random samples); every candidate is checked against the numpy reference.
"""
from __future__ import annotations

import threading
import types
import warnings

from ...autotune import apply_history_best as _apply_history_best
from ...autotune import best_schedule as _best_schedule
from ...autotune import autotune as _autotune
from ...autotune.dispatch import current_context
from ...autotune.measure import MeasureOptions
from ...autotune.template import (ConfigEntity, ConfigSpace, Template, TemplateSpace,
                                  _Cfg)
from ...autotune.tune_warnings import TuneWarning
from ...errors import TuneError
from .target import as_target

_CURRENT = threading.local()
#: task name -> template
_TASKS: dict = {}


def get_config():
    """The config an ``@autotvm.template`` function is running with."""
    cfg = getattr(_CURRENT, "cfg", None)
    if cfg is None:
        raise TuneError("autotvm.get_config() is called inside an @autotvm.template function, "
                        "while it runs")
    return cfg


class AutoTVMTemplate(Template):
    """A template registered under a task name; called with its arguments (no config), it
    builds the best recorded config inside ``autotvm.apply_history_best`` and the fallback
    config (the first value of every knob, with a TuneWarning) elsewhere."""

    def __init__(self, func, task_name: str, user_function):
        super().__init__(func, task_name)
        self.__name__ = getattr(user_function, "__name__", task_name)
        self.__doc__ = getattr(user_function, "__doc__", None)

    def __call__(self, *args, **kwargs):
        if args and isinstance(args[0], _Cfg):
            return self.func(*args, **kwargs)
        target = as_target(None)
        if current_context() is not None:
            return _best_schedule(self, target.tl, args=args)
        warnings.warn(f"autotvm template '{self.name}' runs outside "
                      f"autotvm.apply_history_best: the fallback config (first value of "
                      f"every knob) is used", TuneWarning, stacklevel=2)
        return super().__call__(*args, **kwargs)


class _WithConfig:
    """``user_function(*args)`` run with ``cfg`` as :func:`get_config`'s answer (a class,
    not a closure, so that worker processes can receive it)."""

    def __init__(self, user_function):
        self.user_function = user_function

    def __call__(self, cfg, *args, **kwargs):
        previous = getattr(_CURRENT, "cfg", None)
        _CURRENT.cfg = cfg
        try:
            return self.user_function(*args, **kwargs)
        finally:
            _CURRENT.cfg = previous


def template(task_name: str, func=None):
    """``@autotvm.template("name")``: register ``func(*args) -> (s, tensors)``, which reads
    its knobs from :func:`get_config`."""
    def register(user_function):
        registered = AutoTVMTemplate(_WithConfig(user_function), task_name, user_function)
        _TASKS[task_name] = registered
        return registered
    return register(func) if func is not None else register


def register_topi_compute(*unused, **unused_kwargs):
    raise NotImplementedError("autotvm.register_topi_compute: tensorlang has no TOPI "
                              "strategy registry; write the template with @autotvm.template")


register_topi_schedule = register_topi_compute


class Task:
    """``autotvm.task.create(name, args, target)``: a template with arguments and a
    target, and its ``config_space``."""

    def __init__(self, name: str, args, target):
        if name not in _TASKS:
            raise TuneError(f"autotvm.task.create: no template is registered as {name!r}; "
                            f"decorate it with @autotvm.template({name!r}) first")
        self.name = name
        self.args = tuple(args)
        self.target = as_target(target)
        self.template = _TASKS[name]
        self.space = TemplateSpace(self.template, self.args, str(self.target.tl))
        self.config_space = self.space.config_space
        self.flop = self.space.flop

    def instantiate(self, config: ConfigEntity):
        return self.template.func(config, *self.args)

    def __repr__(self) -> str:
        return f"Task(func_name={self.name}, args={self.args}, target={self.target})"


def _create(task_name: str, args=(), target=None, target_host=None) -> Task:
    return Task(task_name, args, target)


task = types.SimpleNamespace(create=_create, Task=Task, ConfigSpace=ConfigSpace,
                             ConfigEntity=ConfigEntity,
                             space=types.SimpleNamespace(ConfigSpace=ConfigSpace,
                                                         ConfigEntity=ConfigEntity))


# -- measurement options --------------------------------------------------------------
class LocalBuilder:
    """Candidates are built in tensorlang's worker processes; ``timeout`` is honoured."""

    def __init__(self, timeout: float = 10, n_parallel=None, **unused):
        self.timeout = timeout
        self.n_parallel = n_parallel


class LocalRunner:
    """``number`` calls per sample, ``repeat`` samples at least; ``timeout`` seconds."""

    def __init__(self, timeout: float = 10, number: int = 4, repeat: int = 3,
                 min_repeat_ms: int = 0, cooldown_interval: float = 0.1,
                 enable_cpu_cache_flush: bool = False, **unused):
        self.timeout, self.number, self.repeat = timeout, number, repeat
        self.min_repeat_ms = min_repeat_ms
        self.enable_cpu_cache_flush = enable_cpu_cache_flush


def RPCRunner(*unused, **unused_kwargs):  # noqa: N802 - TVM's spelling
    raise NotImplementedError("autotvm.RPCRunner: tensorlang measures on this machine, or "
                              "on a Ray cluster with tl.autotune(..., runner="
                              "tl.autotune.RayRunner(address))")


def measure_option(builder="local", runner="local", **unused) -> dict:
    builder = LocalBuilder() if builder == "local" else builder
    runner = LocalRunner() if runner == "local" else runner
    if not isinstance(builder, LocalBuilder) or not isinstance(runner, LocalRunner):
        raise NotImplementedError("autotvm.measure_option: tensorlang measures with "
                                  "LocalBuilder and LocalRunner ('local')")
    return {"builder": builder, "runner": runner}


def _measure_options(option: dict | None) -> MeasureOptions:
    if option is None:
        return MeasureOptions()
    runner = option["runner"]
    return MeasureOptions(timeout=float(runner.timeout), min_repeats=max(1, runner.repeat),
                          min_measure_seconds=max(0.0, runner.min_repeat_ms / 1e3),
                          build_timeout=float(option["builder"].timeout),
                          flush_cache=bool(runner.enable_cpu_cache_flush))


# -- callbacks --------------------------------------------------------------------------
class _LogToFile:
    def __init__(self, path):
        self.path = str(path)


def _progress_bar(*unused, **unused_kwargs):
    return "progress"  # tensorlang shows progress itself (verbose=1)


callback = types.SimpleNamespace(log_to_file=_LogToFile, progress_bar=_progress_bar)


# -- tuners -----------------------------------------------------------------------------
class Tuner:
    """``tuner.tune(n_trial, measure_option, early_stopping, callbacks)`` runs
    ``tl.autotune`` on the task's template; ``best_config`` / ``best_flops`` after."""

    search = "random"

    def __init__(self, task: Task, **unused):
        if not isinstance(task, Task):
            raise TuneError(f"{type(self).__name__}(task): expected an autotvm task "
                            f"(autotvm.task.create), got {type(task).__name__}")
        self.task = task
        self.result = None

    def tune(self, n_trial: int, measure_option=None, early_stopping=None, callbacks=(),
             si_prefix: str = "G"):
        logs = [c.path for c in callbacks if isinstance(c, _LogToFile)]
        others = [c for c in callbacks if not isinstance(c, _LogToFile) and c != "progress"]
        if others:
            raise NotImplementedError("autotvm tuner callbacks: tensorlang honours "
                                      "autotvm.callback.log_to_file and progress_bar; read "
                                      "the measured records from the log instead")
        if len(logs) > 1:
            raise TuneError("tune: give one autotvm.callback.log_to_file")
        self.result = _autotune(self.task.template, args=self.task.args,
                                target=self.task.target.tl, trials=int(n_trial),
                                log_file=logs[0] if logs else None, search=self.search,
                                early_stopping=early_stopping,
                                measure_options=_measure_options(measure_option))
        return self.result

    @property
    def best_config(self):
        return None if self.result is None else self.result.best_config

    @property
    def best_flops(self) -> float:
        """FLOP/s of the best candidate (0 before tuning)."""
        if self.result is None or not self.result.best_time:
            return 0.0
        return self.result.best_gflops * 1e9


class RandomTuner(Tuner):
    search = "random"


class GridSearchTuner(Tuner):
    search = "random"


class GATuner(Tuner):
    search = "random"


class XGBTuner(Tuner):
    search = "model"


tuner = types.SimpleNamespace(Tuner=Tuner, RandomTuner=RandomTuner,
                              GridSearchTuner=GridSearchTuner, GATuner=GATuner,
                              XGBTuner=XGBTuner)


def apply_history_best(log_file):
    """Inside, calling a template builds its best recorded config (``tvm.build`` of an
    untouched schedule of a tuned workload, too)."""
    return _apply_history_best(log_file)
