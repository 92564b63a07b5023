"""QuantX: an MLIR-based quantization compiler.

The numeric core (observers, RTN, GPTQ, AWQ, GGUF block codecs) is exposed
on numpy arrays through the compiled extension ``quantx._core``; the compiler
itself (parse, verify, print, pass pipelines) through ``quantx.ir``, a thin
layer over the C API in ``include/quantx-c/QuantX.h``, and in-process
compilation and calls on numpy arrays through ``quantx.jit``. ``quantx.ir``
and ``quantx.jit`` load the compiler library on first use.
"""

import importlib

from . import _core  # noqa: F401

__all__ = ["_core", "ir", "jit"]


def __getattr__(name):
    if name in ("ir", "jit"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'quantx' has no attribute '{name}'")
