"""QuantX: an MLIR-based quantization compiler.

The numeric core (observers, RTN, GPTQ, AWQ, GGUF block codecs) is exposed
on numpy arrays through the compiled extension ``quantx._core``; the compiler
itself (parse, verify, print, pass pipelines) through ``quantx.ir``, a thin
layer over the C API in ``include/quantx-c/QuantX.h``.
"""

from . import _core  # noqa: F401

__all__ = ["_core"]
