"""GGUF files from Python: read, write, dump, report and export.

Everything here runs on quantx's C++ library (``quantx._core``): the
validating reader (memory-mapped), the streamed atomic writer, the block
codecs and the lossless packer. docs/GGUF.md describes the format and the
mapping of quantx schemes to GGUF types.

* :func:`read` - a validated file: metadata, tensor table, tensor bytes and
  tensors dequantized by quantx's codecs.
* :func:`write` - metadata and tensors (float arrays or raw GGUF bytes) to a
  file, atomically.
* :func:`dump`, :func:`report` - the same text as ``quantx-translate
  --gguf-dump`` / ``--gguf-report``.
* :func:`export` - float and already-quantized tensors to GGUF: a tensor
  quantx has quantized (:class:`QuantizedTensor`) whose values are exactly a
  GGUF type is converted without requantization; otherwise it is
  requantized and the added error is reported per tensor.
* :mod:`quantx.gguf.llama` - the Llama-architecture export of the example
  character language model; ``python -m quantx.gguf`` is the command line.
"""

import dataclasses
import math
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from .. import _core

__all__ = [
    "Value", "RawTensor", "QuantizedTensor", "GGUFReader", "TensorInfo",
    "ExportEntry", "read", "write", "dump", "report", "export",
    "type_id", "type_name", "LOSSLESS_TYPES",
]

# ----------------------------------------------------------------------------
# Types
# ----------------------------------------------------------------------------

# GGUF metadata value type ids.
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
_VALUE_NAMES = ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str",
                "arr", "u64", "i64", "f64"]

# ggml tensor type ids that have names here (the codecs know the quantized
# ones; F32/F16/BF16 are stored as they are).
_GGML_IDS = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7,
             "q8_0": 8, "q8_1": 9, "q2_k": 10, "q3_k": 11, "q4_k": 12,
             "q5_k": 13, "q6_k": 14, "q8_k": 15, "bf16": 30}
_GGML_NAMES = {v: k for k, v in _GGML_IDS.items()}

#: GGUF types an already-quantized tensor can be converted into without
#: requantization, smallest first (see :func:`export`).
LOSSLESS_TYPES = ("q4_0", "q4_1", "q5_0", "q5_1", "q8_0")


def type_id(t) -> int:
    """ggml type id of a name ("q4_0", "Q4_K", "f16") or id."""
    if isinstance(t, (int, np.integer)):
        return int(t)
    if hasattr(t, "value"):  # gguf.GGMLQuantizationType
        return int(t.value)
    key = str(t).lower()
    if key.startswith("type") and key[4:].isdigit():  # ids without a name here
        return int(key[4:])
    if key not in _GGML_IDS:
        raise ValueError(f"unknown GGUF tensor type {t!r}")
    return _GGML_IDS[key]


def type_name(t) -> str:
    """ggml's name of a type ("q4_K" spelled "q4_k" here)."""
    i = type_id(t)
    return _GGML_NAMES.get(i, f"type{i}")


@dataclasses.dataclass(frozen=True, eq=False)
class Value:
    """A typed metadata value. ``type`` is the GGUF value type id; arrays
    have ``element_type`` and a list (or numpy array) of elements, nested
    arrays being lists of :class:`Value`."""

    type: int
    value: object
    element_type: Optional[int] = None

    @staticmethod
    def u8(v): return Value(U8, int(v))
    @staticmethod
    def i8(v): return Value(I8, int(v))
    @staticmethod
    def u16(v): return Value(U16, int(v))
    @staticmethod
    def i16(v): return Value(I16, int(v))
    @staticmethod
    def u32(v): return Value(U32, int(v))
    @staticmethod
    def i32(v): return Value(I32, int(v))
    @staticmethod
    def u64(v): return Value(U64, int(v))
    @staticmethod
    def i64(v): return Value(I64, int(v))
    @staticmethod
    def f32(v): return Value(F32, float(v))
    @staticmethod
    def f64(v): return Value(F64, float(v))
    @staticmethod
    def bool_(v): return Value(BOOL, bool(v))
    @staticmethod
    def string(v): return Value(STRING, v)
    @staticmethod
    def array(element_type, values): return Value(ARRAY, values, element_type)

    @property
    def type_name(self) -> str:
        return _VALUE_NAMES[self.type]

    def __eq__(self, other):
        if not isinstance(other, Value):
            return NotImplemented
        if (self.type, self.element_type) != (other.type, other.element_type):
            return False
        if self.type in (F32, F64) or self.element_type in (F32, F64):
            # Compare bit patterns so NaN payloads and -0 count.
            dt = "<f4" if F32 in (self.type, self.element_type) else "<f8"
            return (np.asarray(self.to_python(), dt).tobytes()
                    == np.asarray(other.to_python(), dt).tobytes())
        return self.to_python() == other.to_python()

    __hash__ = None

    def to_python(self):
        """The plain Python value (arrays as lists)."""
        if self.type != ARRAY:
            return self.value
        if self.element_type == ARRAY:
            return [e.to_python() for e in self.value]
        return list(self.value.tolist() if isinstance(self.value, np.ndarray)
                    else self.value)


_NUMPY_VALUE_TYPES = {np.dtype(k): v for k, v in [
    ("u1", U8), ("i1", I8), ("u2", U16), ("i2", I16), ("u4", U32),
    ("i4", I32), ("f4", F32), ("?", BOOL), ("u8", U64), ("i8", I64),
    ("f8", F64)]}


def _as_value(v) -> Value:
    """Plain Python values get the gguf package's default types: bool, int
    (i32), float (f32), str, list; numpy scalars and arrays keep their
    dtype."""
    if isinstance(v, Value):
        return v
    if isinstance(v, np.ndarray):
        if v.dtype not in _NUMPY_VALUE_TYPES:
            raise TypeError(f"no GGUF array type for dtype {v.dtype}")
        return Value(ARRAY, v.ravel(), _NUMPY_VALUE_TYPES[v.dtype])
    if isinstance(v, np.generic):
        return Value(_NUMPY_VALUE_TYPES[v.dtype], v.item())
    if isinstance(v, bool):
        return Value(BOOL, v)
    if isinstance(v, int):
        return Value(I32, v)
    if isinstance(v, float):
        return Value(F32, v)
    if isinstance(v, (str, bytes)):
        return Value(STRING, v)
    if isinstance(v, (list, tuple)):
        items = [_as_value(e) for e in v]
        if not items:
            raise TypeError("an empty list has no element type: use Value.array")
        et = items[0].type
        if any(e.type != et for e in items):
            raise TypeError("array elements must all have one type")
        return Value(ARRAY, items if et == ARRAY else [e.value for e in items], et)
    raise TypeError(f"no GGUF value type for {type(v).__name__}")


def _to_core(v: Value):
    if v.type == ARRAY:
        if v.element_type == ARRAY:
            return (ARRAY, [_to_core(_as_value(e)) for e in v.value], ARRAY)
        return (ARRAY, v.value, v.element_type)
    return (v.type, v.value, None)


def _from_core(t) -> Value:
    vt, payload, et = t
    if vt == ARRAY and et == ARRAY:
        return Value(ARRAY, [_from_core(e) for e in payload], ARRAY)
    return Value(vt, payload, et)


# ----------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class TensorInfo:
    name: str
    #: Logical shape, outermost first (numpy order; GGUF stores it reversed).
    shape: Tuple[int, ...]
    type: str
    type_id: int
    offset: int
    nbytes: int


class GGUFReader:
    """A validated GGUF file. Tensor bytes are read-only views of the
    mapping (they keep it alive)."""

    def __init__(self, path_or_bytes):
        if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            self._file = _core.GGUFFile.from_bytes(bytes(path_or_bytes))
        else:
            self._file = _core.GGUFFile(str(path_or_bytes))
        self.metadata: Dict[str, Value] = {
            k: _from_core(v) for k, v in self._file.metadata()}
        self.tensors: List[TensorInfo] = [
            TensorInfo(name, tuple(int(d) for d in reversed(dims)),
                       type_name(t), int(t), int(off), int(size))
            for name, dims, t, off, size in self._file.tensors()]
        self._index = {t.name: i for i, t in enumerate(self.tensors)}

    version = property(lambda self: self._file.version)
    alignment = property(lambda self: self._file.alignment)
    data_offset = property(lambda self: self._file.data_offset)
    file_size = property(lambda self: self._file.file_size)

    def value(self, key, default=None):
        """Plain Python value of a metadata key."""
        v = self.metadata.get(key)
        return default if v is None else v.to_python()

    def info(self, name) -> TensorInfo:
        return self.tensors[self._index[name]]

    def tensor_bytes(self, name) -> np.ndarray:
        return self._file.tensor_data(self._index[name])

    def tensor(self, name) -> np.ndarray:
        """float32 values of a tensor, dequantized by quantx's codecs."""
        info = self.info(name)
        raw = self.tensor_bytes(name)
        if info.type == "f32":
            return raw.view("<f4").reshape(info.shape).copy()
        if info.type == "f16":
            return raw.view("<f2").astype(np.float32).reshape(info.shape)
        return _core.gguf_dequantize(raw, info.type, list(info.shape))

    def dump(self, max_array=0) -> str:
        return self._file.dump(max_array)

    def report(self) -> str:
        return self._file.report()


def read(path) -> GGUFReader:
    """Opens and validates a GGUF file (or parses bytes)."""
    return GGUFReader(path)


def dump(path, max_array=0) -> str:
    """Header, metadata and tensor table as ``--gguf-dump`` prints them."""
    return read(path).dump(max_array)


def report(path) -> str:
    """Per-tensor type, shape, bytes, bits per weight, ratio to f32."""
    return read(path).report()


# ----------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class RawTensor:
    """A tensor's GGUF bytes as they are (any ggml type)."""
    type: str
    shape: Tuple[int, ...]
    data: np.ndarray


def _tensor_parts(t) -> Tuple[int, Tuple[int, ...], np.ndarray]:
    if isinstance(t, RawTensor):
        data = np.ascontiguousarray(t.data).view(np.uint8).reshape(-1)
        return type_id(t.type), tuple(t.shape), data
    a = np.asarray(t)
    if a.dtype == np.float32:
        return 0, a.shape, np.ascontiguousarray(a, dtype="<f4")
    if a.dtype == np.float16:
        return 1, a.shape, np.ascontiguousarray(a, dtype="<f2")
    raise TypeError(f"tensor of dtype {a.dtype}: pass float32/float16 or a RawTensor")


def write(path, metadata, tensors, alignment=None, to_bytes=False):
    """Writes a GGUF v3 file atomically (temporary file, fsync, rename).

    ``metadata``: mapping or sequence of (key, value) (values as
    :class:`Value` or plain Python/numpy values); ``tensors``: mapping or
    sequence of (name, tensor), a tensor being a float32/float16 array or a
    :class:`RawTensor`. ``general.quantization_version`` is added when a
    quantized tensor is present. Returns the file size (or the bytes with
    ``to_bytes``)."""
    w = _core.GGUFWriter()
    items = metadata.items() if hasattr(metadata, "items") else metadata
    for key, v in items:
        w.add_metadata(key, _to_core(_as_value(v)))
    if alignment is not None:
        w.set_alignment(int(alignment))
    titems = tensors.items() if hasattr(tensors, "items") else tensors
    for name, t in titems:
        tid, shape, data = _tensor_parts(t)
        w.add_tensor(name, tid, [int(d) for d in reversed(shape)], data)
    if to_bytes:
        return w.to_bytes()
    w.write(str(path))
    return w.file_size


# ----------------------------------------------------------------------------
# Already-quantized tensors and export
# ----------------------------------------------------------------------------

@dataclasses.dataclass
class QuantizedTensor:
    """A matrix quantx has quantized: integer ``levels`` (rows, cols) and
    per-group ``scales`` (rows, groups), groups of ``group_size`` columns
    along the last axis (``group_size`` = cols: one group per row), and

    * ``form = "zero_point"``: ``x = scale * (level - zero)``, ``offsets``
      the integer zero points (None: 0) - Scheme.h, RTN, GPTQ, AWQ;
    * ``form = "add_min"``: ``x = scale * level + min`` - ggml's Q4_1/Q5_1.
    """

    levels: np.ndarray
    scales: np.ndarray
    offsets: Optional[np.ndarray] = None
    group_size: int = 0
    form: str = "zero_point"

    def __post_init__(self):
        lv = np.asarray(self.levels)
        # Narrow integer levels stay as they are (the packer reads them in
        # place); anything else becomes int32.
        if lv.dtype not in (np.int8, np.uint8, np.int16, np.int32):
            lv = lv.astype(np.int32)
        self.levels = np.ascontiguousarray(lv)
        if self.levels.ndim != 2:
            raise ValueError("QuantizedTensor: levels must be 2-D (rows, cols)")
        rows, cols = self.levels.shape
        if self.group_size <= 0:
            self.group_size = cols
        groups = -(-cols // self.group_size)
        self.scales = np.ascontiguousarray(self.scales, dtype=np.float32).reshape(rows, groups)
        if self.offsets is not None:
            self.offsets = np.ascontiguousarray(
                self.offsets, dtype=np.float32).reshape(rows, groups)
        if self.form not in ("zero_point", "add_min"):
            raise ValueError("form must be 'zero_point' or 'add_min'")

    @property
    def shape(self):
        return self.levels.shape

    def _expand(self, p):
        return np.repeat(p, self.group_size, axis=1)[:, :self.levels.shape[1]]

    def dequantize(self) -> np.ndarray:
        """quantx's values in float32: scale * (level - zero) or
        scale * level + min (the numeric core's operations)."""
        s = self._expand(self.scales)
        o = (self._expand(self.offsets) if self.offsets is not None
             else np.zeros_like(s))
        q = self.levels.astype(np.float32)
        if self.form == "zero_point":
            return (s * (q - o)).astype(np.float32)
        return (s * q + o).astype(np.float32)

    def pack(self, gguf_type) -> Tuple[Optional[np.ndarray], Optional[str]]:
        """(GGUF block bytes, None) when the values are exactly
        ``gguf_type``'s, else (None, reason). No requantization."""
        return _core.gguf_pack(self.levels, self.scales, self.offsets,
                               type_name(gguf_type), self.group_size, self.form)

    # -- constructors from quantx's quantizers --------------------------------

    @staticmethod
    def from_scheme(x, scheme) -> "QuantizedTensor":
        """Quantizes a 2-D float32 matrix with a ``_core.QuantScheme``
        (per-group or per-axis along the last axis, or per-axis 0 = per
        row)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError("from_scheme: need a 2-D matrix")
        rows, cols = x.shape
        scales, zps = _core.compute_params(x, scheme)
        codes = _core.quantize(x, scheme, scales, zps)
        g = scheme.granularity
        axis = scheme.axis % 2 if g != "per_tensor" else None
        if g == "per_group" and axis == 1:
            gs = scheme.group_size
        elif g == "per_axis" and axis == 0:
            gs = cols
        elif g == "per_tensor":
            gs = cols
            scales = np.full((rows, 1), scales, np.float32)
            zps = np.full((rows, 1), zps, np.int32)
        else:
            raise ValueError("from_scheme: parameters must run along rows "
                             "(per tensor, per axis 0, or groups along axis 1)")
        return QuantizedTensor(codes, np.asarray(scales).reshape(rows, -1),
                               np.asarray(zps, np.float32).reshape(rows, -1), gs)

    @staticmethod
    def from_rtn(result) -> "QuantizedTensor":
        """From the dict of ``_core.rtn_quantize`` or ``GPTQ.quantize``:
        codes, scales, zeros, group_size (groups of consecutive columns).
        A GPTQ result whose groups are not consecutive columns (act_order
        without static_groups: ``g_idx`` is not ``column // group_size``)
        raises ValueError: it is not a block layout; export its
        ``dequantized`` weights instead."""
        codes = np.asarray(result["codes"])
        gs = int(result["group_size"])
        if "g_idx" in result:
            cols = codes.shape[1]
            expect = np.arange(cols) // (gs if gs > 0 else cols)
            if not np.array_equal(np.asarray(result["g_idx"]), expect):
                raise ValueError("groups are not consecutive columns (act_order): "
                                 "no block layout holds them; export the "
                                 "dequantized weights to requantize")
        return QuantizedTensor(codes, result["scales"], result["zeros"], gs)

    from_gptq = from_rtn


def scheme_gguf_type(bits, signed, symmetric, group_size, scale_dtype,
                     form="zero_point") -> Optional[str]:
    """The GGUF type a quantx scheme is exactly, by construction (the
    dialect's ``getGGUFTypeFor`` table), or None. Groups run along the last
    axis; ``group_size`` must be a multiple of 32 (a whole row counts when
    its length is). Schemes with an integer zero point can still pack
    losslessly into Q4_1/Q5_1 for particular data (when every
    ``-scale * zero`` is an fp16 value); :func:`export` tries that."""
    if scale_dtype != "f16" or group_size % 32 != 0:
        return None
    if form == "add_min" and not signed:
        return {4: "q4_1", 5: "q5_1"}.get(bits)
    if form == "zero_point" and symmetric and signed:
        return {4: "q4_0", 5: "q5_0", 8: "q8_0"}.get(bits)
    return None


@dataclasses.dataclass
class ExportEntry:
    """What export did with one tensor."""
    name: str
    shape: Tuple[int, ...]
    type: str
    #: "stored" (float kept), "lossless" (layout conversion), "quantized"
    #: (float weights quantized), "requantized" (already-quantized weights
    #: quantized again because they are not exactly the GGUF type).
    mode: str
    nbytes: int
    #: Error against the input's values (float weights or quantx's
    #: dequantized weights); 0 for lossless and stored float32.
    rmse: float = 0.0
    max_abs: float = 0.0
    rel_rmse: float = 0.0
    #: Why a lossless conversion did not apply.
    reason: str = ""

    def line(self) -> str:
        s = f"{self.name}: {self.mode} -> {self.type}"
        if self.mode in ("quantized", "requantized"):
            s += (f", rmse {self.rmse:.6e}, max |err| {self.max_abs:.6e}, "
                  f"relative rmse {self.rel_rmse:.6e}")
        if self.reason:
            s += f" ({self.reason})"
        return s


def _errors(ref, got):
    ref = np.asarray(ref, np.float64)
    d = np.asarray(got, np.float64) - ref
    rmse = math.sqrt(float(np.mean(d * d))) if d.size else 0.0
    rms = math.sqrt(float(np.mean(ref * ref))) if ref.size else 0.0
    return rmse, float(np.max(np.abs(d))) if d.size else 0.0, (rmse / rms if rms else 0.0)


def _quantize_float(x, t, imatrix=None):
    x = np.ascontiguousarray(x, dtype=np.float32)
    if t == "f32":
        return x, x
    if t == "f16":
        h = x.astype(np.float16)
        return h, h.astype(np.float32)
    data = _core.gguf_quantize(x, t, imatrix)
    return RawTensor(t, x.shape, data), _core.gguf_dequantize(data, t, list(x.shape))


def prepare(name, tensor, gguf_type=None):
    """Converts one tensor for export: returns (tensor for :func:`write`,
    :class:`ExportEntry`)."""
    if isinstance(tensor, RawTensor):
        data = np.ascontiguousarray(tensor.data).view(np.uint8)
        return tensor, ExportEntry(name, tuple(tensor.shape), type_name(tensor.type),
                                   "stored", int(data.size))
    if isinstance(tensor, QuantizedTensor):
        shape = tuple(tensor.shape)
        candidates = [type_name(gguf_type)] if gguf_type else list(LOSSLESS_TYPES)
        reasons = []
        for t in candidates:
            if t not in LOSSLESS_TYPES:
                reasons.append(f"{t} has no layout conversion")
                continue
            blocks, why = tensor.pack(t)
            if blocks is not None:
                return (RawTensor(t, shape, blocks),
                        ExportEntry(name, shape, t, "lossless", int(blocks.size)))
            reasons.append(f"{t}: {why}")
        if not gguf_type:
            raise ValueError(f"{name}: not exactly a GGUF type ({'; '.join(reasons)}); "
                             "name the GGUF type to requantize to")
        ref = tensor.dequantize()
        out, deq = _quantize_float(ref, type_name(gguf_type))
        rmse, mx, rel = _errors(ref, deq)
        nbytes = out.data.size if isinstance(out, RawTensor) else out.nbytes
        return out, ExportEntry(name, shape, type_name(gguf_type), "requantized",
                                int(nbytes), rmse, mx, rel, "; ".join(reasons))
    x = np.asarray(tensor)
    if x.dtype not in (np.float32, np.float16):
        x = x.astype(np.float32)
    t = type_name(gguf_type) if gguf_type else ("f16" if x.dtype == np.float16 else "f32")
    if t == "f16" and x.dtype == np.float16:
        return x, ExportEntry(name, x.shape, "f16", "stored", int(x.nbytes))
    out, deq = _quantize_float(x, t)
    rmse, mx, rel = _errors(x, deq)
    mode = "stored" if t == "f32" else "quantized"
    nbytes = out.data.size if isinstance(out, RawTensor) else out.nbytes
    return out, ExportEntry(name, tuple(x.shape), t, mode, int(nbytes), rmse, mx, rel)


def _export_streamed(path, metadata, titems, wants):
    """The lossless export with each :class:`QuantizedTensor` of a requested
    lossless type packed while the file is written (one tensor ahead of the
    writing) instead of all before. Returns the entries, or None when a
    conversion is not exact (no file is left; :func:`export` then takes the
    general path, which reports why and requantizes)."""
    if not any(isinstance(t, QuantizedTensor) and w is not None
               and type_name(w) in LOSSLESS_TYPES and t.shape[1] % 32 == 0
               for (_, t), w in zip(titems, wants)):
        return None
    w = _core.GGUFWriter()
    items = metadata.items() if hasattr(metadata, "items") else metadata
    for key, v in items:
        w.add_metadata(key, _to_core(_as_value(v)))
    entries = []
    for (name, t), want in zip(titems, wants):
        if (isinstance(t, QuantizedTensor) and want is not None
                and type_name(want) in LOSSLESS_TYPES and t.shape[1] % 32 == 0):
            tn = type_name(want)
            w.add_packed_tensor(name, t.levels, t.scales, t.offsets, tn,
                                t.group_size, t.form)
            info = _core.gguf_type_info(tn)
            nbytes = t.shape[0] * t.shape[1] // info["block_size"] * info["type_size"]
            entries.append(ExportEntry(name, tuple(t.shape), tn, "lossless", int(nbytes)))
            continue
        prepared, entry = prepare(name, t, want)
        tid, shape, data = _tensor_parts(prepared)
        w.add_tensor(name, tid, [int(d) for d in reversed(shape)], data)
        entries.append(entry)
    try:
        w.write(str(path))
    except ValueError:
        # A conversion that is not exact (or an error the general path
        # meets and reports again).
        return None
    return entries


def export(path, metadata, tensors, types=None, default_type=None,
           error_report=None) -> List[ExportEntry]:
    """Exports float and already-quantized tensors to a GGUF file.

    ``tensors``: mapping or sequence of (name, tensor) where a tensor is a
    float array, a :class:`RawTensor` or a :class:`QuantizedTensor`.
    ``types``: optional {name: GGUF type}; ``default_type`` applies to the
    other tensors of rank >= 2 (float ones whose rows are a multiple of the
    type's block; 1-D tensors stay float).

    A :class:`QuantizedTensor` is converted without requantization when its
    values are exactly the requested type (or, with no type requested, the
    smallest of :data:`LOSSLESS_TYPES` that holds them exactly); otherwise it
    is requantized from quantx's dequantized values and the entry records the
    added RMSE / max abs error and why the lossless path did not apply.
    ``error_report``: a callable taking one line per tensor (e.g. ``print``).
    Returns one :class:`ExportEntry` per tensor."""
    types = dict(types or {})
    titems = list(tensors.items() if hasattr(tensors, "items") else tensors)
    wants = []
    for name, t in titems:
        want = types.get(name)
        if want is None and default_type is not None and not isinstance(t, RawTensor):
            shape = t.shape
            info = _core.gguf_type_info(default_type)
            if len(shape) >= 2 and shape[-1] % info["block_size"] == 0:
                want = default_type
        wants.append(want)
    entries = _export_streamed(path, metadata, titems, wants)
    if entries is not None:
        if error_report is not None:
            for entry in entries:
                error_report(entry.line())
        return entries
    out, entries = [], []
    for (name, t), want in zip(titems, wants):
        prepared, entry = prepare(name, t, want)
        out.append((name, prepared))
        entries.append(entry)
        if error_report is not None:
            error_report(entry.line())
    write(path, metadata, out)
    return entries
