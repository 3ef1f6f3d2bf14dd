"""The loop IR: data types, expressions, statements, buffers, functions, and the tools
that print, check, simplify, transform and interpret them."""
from .datatype import DataType, dtype, promote, SUPPORTED_DTYPES  # noqa: F401
from .expr import (Node, ExprOp, PrimExpr, IntImm, FloatImm, StringImm, Var, Cast,  # noqa: F401
                   BinaryOp, Add, Sub, Mul, Div, FloorDiv, FloorMod, Min, Max, CmpOp, EQ,
                   NE, LT, LE, GT, GE, And, Or, Not, Select, Let, Call, Ramp, Broadcast,
                   BitwiseOp, ShiftRight, ShiftLeft, BitwiseAnd, BitwiseOr, BitwiseXor,
                   BufferLoad, BufferArg, ProducerLoad, Range, IterVar, CommReducer, Reduce,
                   DATA_PAR, REDUCE, THREAD, OPAQUE, ORDERED)
from .buffer import Buffer, decl_buffer, SCOPES  # noqa: F401
from .stmt import (Stmt, ForKind, For, BufferStore, Allocate, IfThenElse, LetStmt,  # noqa: F401
                   SeqStmt, Evaluate, AttrStmt, PrimFunc, seq, is_no_op, NO_OP)
from .op import (const, convert, cast, var, select, call_intrin, call_builtin,  # noqa: F401
                 ramp, broadcast, is_const_int, as_const_int)
from .bitwise import (shift_right, shift_left, bitwise_and, bitwise_or,  # noqa: F401
                      bitwise_xor, bitwise_not)
from .packed import call_packed  # noqa: F401
from .extern_calls import call_extern, call_pure_extern  # noqa: F401
from .intrin_rules import register_intrin, register_intrin_lowering  # noqa: F401
from .registry import (register_func, get_global_func, remove_global_func,  # noqa: F401
                       list_global_func_names)
from .functor import Visitor, Mutator, post_order_visit  # noqa: F401
from .structural import structural_equal, structural_hash  # noqa: F401
from .printer import format_node  # noqa: F401  (also makes it the text of str(node))
from .transform.substitute import substitute  # noqa: F401
