"""Shared libraries of compiled functions: ``Module.export_library`` and ``load_module``.

The library holds the function's object code, linked by the system C compiler against
libgomp, plus two read-only strings that make it self-describing: the signature (JSON)
under ``__tensorlang_signature`` and the optimised LLVM IR under ``__tensorlang_ir``.
Its last 40 bytes (which the dynamic loader ignores) are a magic string and a blake2b
digest of the rest: ``load_module`` refuses a file whose bytes changed before the
dynamic loader, or compiled code, ever sees them.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import subprocess
import tempfile

import llvmlite.ir as ir

from ...errors import BuildError, TensorLangValueError
from ...settings import settings
from .jit import compile_ir, target_machine
from .runtime import libgomp_path
from .signature import Signature, signature_json_problem

_SIGNATURE_SYMBOL = "__tensorlang_signature"
_IR_SYMBOL = "__tensorlang_ir"
_CHECKSUM_MAGIC = b"TLSOSUM1"
_DIGEST_SIZE = 32


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=_DIGEST_SIZE).digest()


def _string_global(module: ir.Module, name: str, text: str) -> None:
    data = bytearray(text.encode()) + b"\0"
    ty = ir.ArrayType(ir.IntType(8), len(data))
    var = ir.GlobalVariable(module, ty, name)
    var.global_constant = True
    var.initializer = ir.Constant(ty, data)


def _metadata_object(module, triple: str, cpu: str, features: str) -> bytes:
    meta = ir.Module(name="tensorlang_metadata")
    meta.triple = triple
    _string_global(meta, _SIGNATURE_SYMBOL, json.dumps(module.signature.to_json()))
    _string_global(meta, _IR_SYMBOL, module.get_source("ll"))
    object_code, _ = compile_ir(str(meta), target_machine(triple, cpu, features), 0)
    return object_code


def _compiler() -> str:
    for name in (settings.cc, "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    raise BuildError("export_library needs a C compiler to link (cc, gcc or clang); "
                     "install one (apt-get install gcc) or set CC")


def export_library(module, path: str) -> None:
    """Link ``module``'s object code into the shared library ``path`` (atomically)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TensorLangValueError(f"export_library(path): path must be a file name, got "
                                   f"{type(path).__name__}")
    path = os.fspath(path)
    artifact = module.artifact()
    triple, cpu, features = artifact.target_info
    gomp = libgomp_path()
    directory = os.path.dirname(os.path.abspath(path))
    with tempfile.TemporaryDirectory(prefix="tensorlang-export-") as work:
        code_path = os.path.join(work, "code.o")
        meta_path = os.path.join(work, "metadata.o")
        with open(code_path, "wb") as f:
            f.write(artifact.object_code)
        with open(meta_path, "wb") as f:
            f.write(_metadata_object(module, triple, cpu, features))
        temp_out = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
        command = [_compiler(), "-shared", "-o", temp_out, code_path, meta_path, gomp,
                   f"-Wl,-rpath,{os.path.dirname(gomp)}", "-lm"]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise BuildError(f"linking {path} failed:\n{' '.join(command)}\n{result.stderr}")
        with open(temp_out, "r+b") as f:
            linked = f.read()
            f.write(_CHECKSUM_MAGIC + _digest(linked))
        os.replace(temp_out, path)


def _checksum_problem(path: str) -> str | None:
    """Why the library ``path`` is not as export_library wrote it (None: it is)."""
    with open(path, "rb") as f:
        data = f.read()
    trailer = len(_CHECKSUM_MAGIC) + _DIGEST_SIZE
    if len(data) < trailer or data[-trailer:-_DIGEST_SIZE] != _CHECKSUM_MAGIC:
        return "was not written by export_library, or was changed after (it does not end " \
               "with tensorlang's checksum; was it truncated or stripped?)"
    if _digest(data[:-trailer]) != data[-_DIGEST_SIZE:]:
        return "is damaged: its bytes differ from those export_library wrote (checksum " \
               "mismatch)"
    return None


def read_library(path: str):
    """``(library, signature, ir_text, address)`` of a library written by
    ``export_library``, checked (checksum, signature) before use."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise TensorLangValueError(f"load_module: no file {path!r}")
    try:
        problem = _checksum_problem(path)
    except OSError as error:
        raise TensorLangValueError(f"load_module: cannot read {path!r}: {error}") from None
    if problem:
        raise TensorLangValueError(f"load_module: {path!r} {problem}; export the module "
                                   f"again")
    try:
        library = ctypes.CDLL(os.path.abspath(path))
    except OSError as error:
        raise TensorLangValueError(f"load_module: cannot load {path!r}: {error}") from None
    try:
        raw = ctypes.cast(getattr(library, _SIGNATURE_SYMBOL), ctypes.c_char_p).value
    except AttributeError:
        raise TensorLangValueError(f"load_module: {path!r} was not written by "
                                   f"export_library (it has no tensorlang signature)") from None
    try:
        data = json.loads(raw.decode())
    except (ValueError, UnicodeDecodeError) as error:
        raise TensorLangValueError(f"load_module: the signature in {path!r} is not JSON "
                                   f"({error}); export the module again") from None
    problem = signature_json_problem(data)
    if problem:
        raise TensorLangValueError(f"load_module: the signature in {path!r} {problem}; "
                                   f"export the module again")
    signature = Signature.from_json(data)
    ir_text = ctypes.cast(getattr(library, _IR_SYMBOL), ctypes.c_char_p).value
    address = ctypes.cast(getattr(library, signature.symbol), ctypes.c_void_p).value
    return library, signature, ir_text.decode() if ir_text else None, address
