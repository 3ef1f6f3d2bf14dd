"""The tuner's worker processes: started from tensorlang's own entry point (never the
user's main script), one job per worker at a time, so a crash or a hang is blamed on its
own job and the others finish."""
from __future__ import annotations

import sys
import time

from tensorlang.autotune import Config, LocalBuilder
from tensorlang.autotune.measure import ArgSpec, MeasureTask, pickle_space

from tiny_spaces import MatmulTileSpace

BASE = {"tile_i": 4, "tile_j": 8, "tile_k": 2, "order": 0, "vectorize": True,
        "parallel": False}


class ProbeSpace(MatmulTileSpace):
    """A matmul space whose ``fault`` decision can hang the build, or report the main
    module of the process that builds."""

    def apply(self, config):
        fault = config.get("fault", "none")
        if fault == "build_hang":
            time.sleep(120)
        if fault == "report_main":
            main = sys.modules["__main__"]
            raise RuntimeError(f"main module {getattr(main.__spec__, 'name', None)} "
                               f"{getattr(main, '__file__', None)}")
        return super().apply(config)


def _task(space) -> MeasureTask:
    specs = [ArgSpec(t.name, tuple(int(d.value) for d in t.shape), str(t.dtype),
                     t is space.C) for t in space.args]
    return MeasureTask("probe|llvm", "llvm", specs, pickle_space(space), space, 0)


def _config(fault, **changes) -> Config:
    return Config.make("tile", {**BASE, **changes, "fault": fault})


def test_workers_run_tensorlangs_entry_point_not_the_main_script():
    space = ProbeSpace(8, 8, 8, faults=("report_main",))
    with LocalBuilder(n_parallel=1) as builder:
        [build] = builder.build(_task(space), [_config("report_main")])
    assert build.error_kind == "build_error"
    assert "main module tensorlang.autotune.worker_main" in build.error_msg


def test_a_hang_and_a_crash_are_blamed_on_their_own_jobs():
    space = ProbeSpace(8, 8, 8, faults=("build_hang", "build_crash"))
    task = _task(space)
    configs = [_config("build_hang"), _config("none"), _config("build_crash"),
               _config("none", tile_i=2), _config("none", tile_j=4)]
    # the timeout leaves a loaded machine time to start the workers and build the others
    with LocalBuilder(n_parallel=2, timeout=8.0) as builder:
        start = time.perf_counter()
        builds = builder.build(task, configs)
        elapsed = time.perf_counter() - start
        assert [b.error_kind for b in builds] == ["timeout", None, "build_error", None, None]
        assert "crashed" in builds[2].error_msg and "SIGABRT" in builds[2].error_msg
        assert elapsed < 40
        # the pool goes on with fresh workers
        assert builder.build(task, [_config("none", tile_k=4)])[0].error_kind is None
