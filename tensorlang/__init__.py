"""tensorlang: a tensor compiler in Python (tensor expressions -> schedules -> loop IR ->
LLVM / CUDA C)."""
__version__ = "0.1.0"

from . import tir, te, schedule  # noqa: F401,E402
from .errors import (TensorLangError, ScheduleError, LoweringError, BuildError,  # noqa: F401,E402
                     TuneError, InternalError, ExternCallError)
from .tir.registry import (register_func, get_global_func, remove_global_func,  # noqa: F401,E402
                           list_global_func_names)
from .schedule import create_schedule  # noqa: F401,E402
te.create_schedule = create_schedule  # TVM spelling; te itself never imports the schedule layer
from .driver import lower, build  # noqa: F401,E402
from .target import Target, load_module  # noqa: F401,E402
from . import ops, target, autotune, contrib  # noqa: F401,E402
