"""Compile MLIR modules in-process and call their functions on numpy arrays.

A thin layer over the JIT of the QuantX C API (``include/quantx-c/QuantX.h``)::

    import numpy as np
    import quantx.jit

    cm = quantx.jit.compile('''
    func.func @add(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
      %s = arith.addf %a, %b : tensor<4xf32>
      return %s : tensor<4xf32>
    }''')
    y = cm["add"](np.ones(4, np.float32), np.arange(4, dtype=np.float32))

Every public function with a body is compiled (by default with the quantx
CPU pipeline). Arguments and results are ranked tensors of static shape;
quantized tensors are passed as their integer storage (``uint8``/``int8``
arrays for storage of up to 8 bits). Arguments must have exactly the
function's dtype and shape (no implicit casts): a wrong dtype raises
``TypeError``, a wrong shape ``ValueError``, a wrong number of arguments
``TypeError``, an unknown function ``KeyError``, and compiler failures
:class:`quantx.ir.QuantXError` with the diagnostics. Arguments are never
written; results are new numpy arrays over memory handed over by the
compiled code (no copy), released when the arrays are garbage.
"""

import ctypes
import statistics
import time
import weakref

import numpy as np

from . import ir
from .ir import QuantXError

__all__ = ["compile", "CompiledModule", "Function", "TensorType",
           "BenchmarkResult", "benchmark", "QuantXError"]

_lib = ir._lib
_p, _sz = ctypes.c_void_p, ctypes.c_size_t
_i64p = ctypes.POINTER(ctypes.c_int64)


class _TensorInfo(ctypes.Structure):
    _fields_ = [("element_type", ctypes.c_int), ("rank", _sz),
                ("shape", _i64p), ("type_name", ctypes.c_char_p)]


class _BufferView(ctypes.Structure):
    _fields_ = [("element_type", ctypes.c_int), ("rank", _sz),
                ("shape", _i64p), ("strides", _i64p), ("data", _p)]


for _name, (_args, _res) in {
    "quantxExecutableCreate": ([_p, ctypes.c_char_p, ctypes.POINTER(_p)], _p),
    "quantxExecutableDestroy": ([_p], None),
    "quantxExecutableGetNumFunctions": ([_p], _sz),
    "quantxExecutableGetFunctionName": ([_p, _sz], ctypes.c_char_p),
    "quantxExecutableLookupFunction": ([_p, ctypes.c_char_p, ctypes.POINTER(_p)], _p),
    "quantxFunctionGetNumArguments": ([_p], _sz),
    "quantxFunctionGetNumResults": ([_p], _sz),
    "quantxFunctionGetArgument": ([_p, _sz, ctypes.POINTER(_TensorInfo)], _p),
    "quantxFunctionGetResult": ([_p, _sz, ctypes.POINTER(_TensorInfo)], _p),
    "quantxFunctionInvoke": ([_p, ctypes.POINTER(_BufferView), _sz,
                              ctypes.POINTER(_p), _sz], _p),
    "quantxFunctionBenchmark": ([_p, ctypes.POINTER(_BufferView), _sz, _sz, _sz,
                                 ctypes.POINTER(ctypes.c_double)], _p),
    "quantxBufferGetData": ([_p], _p),
    "quantxBufferGetByteSize": ([_p], _sz),
    "quantxBufferDestroy": ([_p], None),
}.items():
    _fn = getattr(_lib, _name)
    _fn.argtypes, _fn.restype = _args, _res

# C API element types and their numpy dtypes (bf16 as its raw uint16 bits).
_DTYPES = {
    1: np.dtype(np.float16), 2: np.dtype(np.uint16), 3: np.dtype(np.float32),
    4: np.dtype(np.float64), 5: np.dtype(np.bool_), 6: np.dtype(np.int8),
    7: np.dtype(np.int16), 8: np.dtype(np.int32), 9: np.dtype(np.int64),
    10: np.dtype(np.uint8), 11: np.dtype(np.uint16), 12: np.dtype(np.uint32),
    13: np.dtype(np.uint64),
}


class TensorType:
    """An argument or result: numpy dtype, static shape and MLIR type."""

    def __init__(self, element_type, dtype, shape, mlir_type):
        self.element_type = element_type
        self.dtype = dtype
        self.shape = shape
        self.mlir_type = mlir_type

    def __repr__(self):
        return f"TensorType({self.mlir_type}: {self.dtype}{list(self.shape)})"


class BenchmarkResult:
    """Seconds per call of repeated timed calls, with summary statistics."""

    def __init__(self, name, seconds):
        self.name = name
        self.times = list(seconds)
        self.median = statistics.median(self.times)
        self.min = min(self.times)
        self.max = max(self.times)
        self.mean = statistics.fmean(self.times)
        self.spread = (self.max - self.min) / self.median if self.median else 0.0

    def __repr__(self):
        def t(s):
            return f"{s * 1e3:.4f} ms" if s >= 1e-4 else f"{s * 1e6:.3f} us"
        return (f"{self.name}: {len(self.times)} runs, median {t(self.median)}, "
                f"min {t(self.min)}, max {t(self.max)}, "
                f"spread {self.spread * 100:.1f}%")


def _check(error):
    ir._check(error)


def _wrap(buffer, t):
    """A numpy array over a result buffer without copying it; the buffer is
    released when the array (and every view of it) is gone."""
    size = _lib.quantxBufferGetByteSize(buffer)
    if size == 0:
        _lib.quantxBufferDestroy(buffer)
        return np.empty(t.shape, t.dtype)
    raw = (ctypes.c_char * size).from_address(_lib.quantxBufferGetData(buffer))
    weakref.finalize(raw, _lib.quantxBufferDestroy, buffer)
    return np.frombuffer(raw, dtype=t.dtype).reshape(t.shape)


class Function:
    """A compiled function; call it with numpy arrays."""

    def __init__(self, module, name, handle):
        self._module, self.name, self._handle = module, name, handle
        self.arguments = self._infos(_lib.quantxFunctionGetNumArguments,
                                     _lib.quantxFunctionGetArgument)
        self.results = self._infos(_lib.quantxFunctionGetNumResults,
                                   _lib.quantxFunctionGetResult)

    def _infos(self, count, get):
        out = []
        for i in range(count(self._handle)):
            info = _TensorInfo()
            _check(get(self._handle, i, ctypes.byref(info)))
            out.append(TensorType(info.element_type, _DTYPES[info.element_type],
                                  tuple(info.shape[k] for k in range(info.rank)),
                                  info.type_name.decode()))
        return out

    def _views(self, args):
        if len(args) != len(self.arguments):
            raise TypeError(f"function '{self.name}' takes "
                            f"{len(self.arguments)} argument"
                            f"{'' if len(self.arguments) == 1 else 's'}, "
                            f"{len(args)} given")
        keep, views = [], (_BufferView * max(1, len(args)))()
        for i, (a, t) in enumerate(zip(args, self.arguments)):
            a = np.asarray(a)
            what = f"argument #{i} of '{self.name}' ({t.mlir_type})"
            if a.dtype != t.dtype:
                raise TypeError(f"{what}: expected dtype {t.dtype}, got {a.dtype}")
            if a.shape != t.shape:
                raise ValueError(f"{what}: expected shape {t.shape}, got {a.shape}")
            if not a.flags.c_contiguous:  # (ascontiguousarray makes 0-d 1-d)
                a = a.copy(order="C")
            shape = (ctypes.c_int64 * max(1, a.ndim))(*a.shape)
            keep += [a, shape]
            views[i] = _BufferView(t.element_type, a.ndim, shape, None,
                                   a.ctypes.data if a.size else None)
        return keep, views

    def __call__(self, *args):
        """Calls the function: one result as an array, several as a tuple,
        none as None. Each result is a new writable array."""
        keep, views = self._views(args)
        n = len(self.results)
        out = (_p * max(1, n))()
        _check(_lib.quantxFunctionInvoke(self._handle, views, len(args), out, n))
        arrays = [None] * n
        try:
            for i, t in enumerate(self.results):
                arrays[i] = _wrap(out[i], t)
                out[i] = None
        finally:
            for i in range(n):  # Only reached for a failed wrap.
                if out[i]:
                    _lib.quantxBufferDestroy(out[i])
        del keep
        if n == 0:
            return None
        return arrays[0] if n == 1 else tuple(arrays)

    def benchmark(self, *args, warmup=3, repetitions=20):
        """Times calls in native code (arguments prepared once, results
        discarded) and returns a :class:`BenchmarkResult`."""
        if repetitions < 1 or warmup < 0:
            raise ValueError("need repetitions >= 1 and warmup >= 0")
        keep, views = self._views(args)
        seconds = (ctypes.c_double * repetitions)()
        _check(_lib.quantxFunctionBenchmark(self._handle, views, len(args),
                                            warmup, repetitions, seconds))
        del keep
        return BenchmarkResult(self.name, seconds)

    def __repr__(self):
        return (f"Function({self.name}: ({', '.join(t.mlir_type for t in self.arguments)})"
                f" -> ({', '.join(t.mlir_type for t in self.results)}))")


class CompiledModule:
    """A module compiled for the host CPU; index it by function name."""

    def __init__(self, handle):
        self._handle = handle
        self.functions = [
            _lib.quantxExecutableGetFunctionName(handle, i).decode()
            for i in range(_lib.quantxExecutableGetNumFunctions(handle))]

    def __getitem__(self, name):
        if name not in self.functions:
            raise KeyError(f"no public function '{name}' with a body in the "
                           f"module (available: {', '.join(self.functions)})")
        out = ctypes.c_void_p()
        _check(_lib.quantxExecutableLookupFunction(
            self._handle, name.encode(), ctypes.byref(out)))
        # The function keeps this module (and its code) alive.
        return Function(self, name, out.value)

    def __contains__(self, name):
        return name in self.functions

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.quantxExecutableDestroy(self._handle)
            self._handle = None


def compile(module, pipeline=None):
    """Compiles ``module`` (MLIR text, bytecode, or a :class:`quantx.ir.Module`,
    which is not changed) with ``pipeline`` (a textual pass pipeline that
    reaches the LLVM dialect; default: the quantx CPU pipeline)."""
    if not isinstance(module, ir.Module):
        module = ir.Module.parse(ir.Context(), module, name="<jit>")
    out = ctypes.c_void_p()
    _check(_lib.quantxExecutableCreate(
        module._handle, pipeline.encode() if pipeline is not None else None,
        ctypes.byref(out)))
    return CompiledModule(out.value)


def benchmark(fn, *args, warmup=3, repetitions=20, name=None):
    """Times any Python callable (a numpy or PyTorch peer, or a
    :class:`Function` including the call overhead) with ``time.perf_counter``:
    ``warmup`` untimed calls, then ``repetitions`` timed ones."""
    if repetitions < 1 or warmup < 0:
        raise ValueError("need repetitions >= 1 and warmup >= 0")
    for _ in range(warmup):
        fn(*args)
    seconds = []
    for _ in range(repetitions):
        t0 = time.perf_counter()
        fn(*args)
        seconds.append(time.perf_counter() - t0)
    return BenchmarkResult(name or getattr(fn, "name", None)
                           or getattr(fn, "__name__", "call"), seconds)
