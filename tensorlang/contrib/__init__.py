"""Libraries called from tensorlang programs through registered functions (TVM's
``tvm.contrib``): ``contrib.cblas`` (matrix products by BLAS)."""
from . import cblas  # noqa: F401  (registers its functions)
