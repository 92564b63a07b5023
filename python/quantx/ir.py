"""Compiler entry points over the QuantX C API (``include/quantx-c/QuantX.h``).

Parse, verify, print and transform MLIR modules from Python::

    import quantx.ir as ir
    ctx = ir.Context()
    m = ir.Module.parse(ctx, text)
    m.run_pipeline("convert-quant-to-quantx,canonicalize")
    print(m)

Errors raised by the compiler (parse errors, verifier failures, failing
passes) come back as :class:`QuantXError` carrying the diagnostics.
"""

import ctypes
import os

__all__ = ["QuantXError", "Context", "Module"]


class QuantXError(RuntimeError):
    """A compiler error; the message holds the MLIR diagnostics."""


def _load():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "libQuantXCAPI.so")
    lib = ctypes.CDLL(path)
    p, sz, cstr = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p
    sigs = {
        "quantxGetApiVersion": ([], ctypes.c_int),
        "quantxErrorGetMessage": ([p], cstr),
        "quantxErrorDestroy": ([p], None),
        "quantxContextCreate": ([], p),
        "quantxContextDestroy": ([p], None),
        "quantxModuleParse": ([p, ctypes.c_char_p, sz, cstr, ctypes.POINTER(p)], p),
        "quantxModuleParseFile": ([p, cstr, ctypes.POINTER(p)], p),
        "quantxModuleDestroy": ([p], None),
        "quantxModuleVerify": ([p], p),
        "quantxModulePrint": ([p, ctypes.c_int, ctypes.POINTER(p)], p),
        "quantxModuleWriteBytecode": ([p, ctypes.POINTER(p), ctypes.POINTER(sz)], p),
        "quantxStringDestroy": ([p], None),
        "quantxModuleRunPipeline": ([p, cstr], p),
    }
    for name, (args, res) in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res
    return lib


_lib = _load()
API_VERSION = _lib.quantxGetApiVersion()


def _check(error):
    if error:
        message = _lib.quantxErrorGetMessage(error).decode("utf-8", "replace")
        _lib.quantxErrorDestroy(error)
        raise QuantXError(message)


class Context:
    """Owns MLIR state; every upstream dialect plus quantx is available."""

    def __init__(self):
        self._handle = _lib.quantxContextCreate()

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.quantxContextDestroy(self._handle)
            self._handle = None


class Module:
    """A parsed, verified MLIR module. Keeps its context alive."""

    def __init__(self, context, handle):
        self._context, self._handle = context, handle

    @staticmethod
    def parse(context, source, name="<python>"):
        """Parses MLIR text (str) or bytecode (bytes) and verifies it."""
        data = source.encode("utf-8") if isinstance(source, str) else bytes(source)
        out = ctypes.c_void_p()
        _check(_lib.quantxModuleParse(context._handle, data, len(data),
                                      name.encode(), ctypes.byref(out)))
        return Module(context, out.value)

    @staticmethod
    def parse_file(context, path):
        out = ctypes.c_void_p()
        _check(_lib.quantxModuleParseFile(context._handle,
                                          os.fsencode(path), ctypes.byref(out)))
        return Module(context, out.value)

    def verify(self):
        _check(_lib.quantxModuleVerify(self._handle))

    def run_pipeline(self, pipeline):
        """Runs a textual pass pipeline on the module in place."""
        _check(_lib.quantxModuleRunPipeline(self._handle, pipeline.encode()))

    def to_string(self, generic=False):
        out = ctypes.c_void_p()
        _check(_lib.quantxModulePrint(self._handle, int(generic), ctypes.byref(out)))
        try:
            return ctypes.string_at(out.value).decode("utf-8")
        finally:
            _lib.quantxStringDestroy(out.value)

    def to_bytecode(self):
        out, size = ctypes.c_void_p(), ctypes.c_size_t()
        _check(_lib.quantxModuleWriteBytecode(self._handle, ctypes.byref(out),
                                              ctypes.byref(size)))
        try:
            return ctypes.string_at(out.value, size.value)
        finally:
            _lib.quantxStringDestroy(out.value)

    def __str__(self):
        return self.to_string()

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.quantxModuleDestroy(self._handle)
            self._handle = None
