#!/usr/bin/env python3
"""Generate the golden corpus of the GGUF codec tests (test/data/gguf/).

Input rows are drawn with a fixed seed (random normal/uniform, all-zero,
constant, huge, tiny and subnormal magnitudes, sign patterns, outliers,
non-finite values), each with an importance-matrix row. The expected bytes come
from ggml itself: `ggml_quantize_chunk` (with and without the imatrix) and the
type traits' `to_float`, called through ctypes on the libggml-base.so that the
pinned `llama-cpp-python` wheel builds (python/requirements-dev.txt). Where the
`gguf` package implements a quantizer in numpy, its bytes are checked to agree
with ggml's before anything is written.

Output: test/data/gguf/corpus.bin, a little-endian file read by
unittests/Quant/GGUFCodecsTest.cpp and python/tests/test_gguf_codecs.py:

    magic  b"QXGGUF01"
    u32 nVectors, u32 nEntries
    nVectors x { u32 nameLen, name (utf-8), u32 n, f32[n] x, f32[n] imatrix }
    nEntries x { u32 vector, u32 ggmlType, u32 withImatrix,
                 u64 dequantFnv1a, u32 nBytes, u8[nBytes] quantized }

`dequantFnv1a` is the 64-bit FNV-1a hash of the float32 bytes that ggml's
to_float produces from the quantized bytes (so dequantization is checked bit
for bit without storing every output).

Usage: python scripts/gen_gguf_vectors.py [--out test/data/gguf/corpus.bin]
"""

import argparse
import ctypes
import importlib.util
import os
import struct
import sys

import numpy as np

SEED = 20240613
N = 512  # elements per row: two K-quant super-blocks, sixteen legacy blocks

# ggml type ids and whether ggml's quantizer reads an importance matrix.
TYPES = {
    "f16": (1, False),
    "q4_0": (2, True),
    "q4_1": (3, True),
    "q5_0": (6, True),
    "q5_1": (7, True),
    "q8_0": (8, False),
    "q2_K": (10, True),
    "q3_K": (11, True),
    "q4_K": (12, True),
    "q5_K": (13, True),
    "q6_K": (14, True),
    "bf16": (30, False),
}


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


class _Traits(ctypes.Structure):
    _fields_ = [
        ("type_name", ctypes.c_char_p),
        ("blck_size", ctypes.c_int64),
        ("blck_size_interleave", ctypes.c_int64),
        ("type_size", ctypes.c_size_t),
        ("is_quantized", ctypes.c_bool),
        ("to_float", ctypes.c_void_p),
        ("from_float_ref", ctypes.c_void_p),
    ]


_TO_FLOAT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)


def find_ggml_base() -> str:
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llama-cpp-python is not installed (see python/requirements-dev.txt)")
    for root in spec.submodule_search_locations:
        for name in ("libggml-base.so", "libggml.so"):
            path = os.path.join(root, "lib", name)
            if os.path.exists(path):
                return path
    raise SystemExit("libggml-base.so not found inside the llama_cpp package")


class GGML:
    """ggml's quantizers and dequantizers through ctypes."""

    def __init__(self, path=None):
        self.path = path or find_ggml_base()
        self.lib = ctypes.CDLL(self.path)
        self.lib.ggml_quantize_chunk.restype = ctypes.c_size_t
        self.lib.ggml_quantize_chunk.argtypes = [
            ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
            ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
        self.lib.ggml_row_size.restype = ctypes.c_size_t
        self.lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
        self.lib.ggml_get_type_traits.restype = ctypes.POINTER(_Traits)
        self.lib.ggml_get_type_traits.argtypes = [ctypes.c_int]

    def row_size(self, type_id, n):
        return self.lib.ggml_row_size(type_id, n)

    def quantize(self, type_id, x, imatrix=None):
        x = np.ascontiguousarray(x, dtype=np.float32)
        nrows, n = x.shape
        out = np.zeros(nrows * self.row_size(type_id, n), dtype=np.uint8)
        imat = None
        if imatrix is not None:
            imatrix = np.ascontiguousarray(imatrix, dtype=np.float32)
            imat = imatrix.ctypes.data
        size = self.lib.ggml_quantize_chunk(type_id, x.ctypes.data, out.ctypes.data,
                                            0, nrows, n, imat)
        assert size == out.size
        return out.reshape(nrows, -1)

    def dequantize(self, type_id, q, shape):
        q = np.ascontiguousarray(q, dtype=np.uint8)
        y = np.empty(shape, dtype=np.float32)
        fn = _TO_FLOAT(self.lib.ggml_get_type_traits(type_id).contents.to_float)
        fn(q.ctypes.data, y.ctypes.data, y.size)
        return y


def make_vectors(rng):
    """Named input rows, each with its imatrix row."""
    vecs = []

    def add(name, x, imatrix=None):
        x = np.asarray(x, dtype=np.float32).reshape(N)
        if imatrix is None:
            imatrix = np.exp(rng.normal(0.0, 1.0, N))
        vecs.append((name, x, np.asarray(imatrix, dtype=np.float32).reshape(N)))

    add("normal_a", rng.normal(0, 1, N))
    add("normal_b", rng.normal(0, 1, N))
    add("normal_small", rng.normal(0, 0.02, N))
    add("uniform", rng.uniform(-1, 1, N))
    add("uniform_positive", rng.uniform(0.1, 2, N))
    add("all_zero", np.zeros(N))
    add("negative_zero", -np.zeros(N))
    add("constant_positive", np.full(N, 0.75))
    add("constant_negative", np.full(N, -3.0))
    add("huge_1e30", rng.normal(0, 1, N) * 1e30)
    add("near_fp16_max", rng.uniform(-65504, 65504, N))
    add("above_fp16_max", rng.uniform(-1, 1, N) * 2e6)
    add("tiny_1e30", rng.normal(0, 1, N) * 1e-30)
    add("float_subnormal", rng.normal(0, 1, N) * 1e-40)
    add("fp16_subnormal", rng.normal(0, 1, N) * 3e-6)
    add("all_negative", -np.abs(rng.normal(0, 1, N)))
    add("all_positive", np.abs(rng.normal(0, 1, N)))
    add("alternating", np.abs(rng.normal(0, 1, N)) * np.where(np.arange(N) % 2, -1, 1))
    x = rng.normal(0, 1, N)
    x[rng.choice(N, 6, replace=False)] *= 100
    add("outliers", x)
    add("block_scales", rng.normal(0, 1, N) * np.repeat(10.0 ** rng.uniform(-4, 4, N // 16), 16))
    add("ramp", np.linspace(-1, 1, N))
    add("small_integers", rng.integers(-8, 8, N))
    add("sparse", rng.normal(0, 1, N) * (rng.uniform(0, 1, N) < 0.1))
    x = rng.normal(0, 1, N)
    imatrix = np.exp(rng.normal(0, 2, N))
    imatrix[rng.uniform(0, 1, N) < 0.3] = 0
    add("imatrix_with_zeros", x, imatrix)
    x = rng.normal(0, 1, N)
    x[[3, 40, 300]] = [np.inf, -np.inf, np.nan]
    add("non_finite", x)
    return vecs


def check_against_gguf_py(vecs, expected):
    """The gguf package's numpy quantizers must agree with ggml."""
    try:
        import gguf
        from gguf import quants
    except ImportError:
        print("gguf package not installed; skipping the cross-check", file=sys.stderr)
        return 0
    checked = 0
    for name in ("f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0"):
        qtype = gguf.GGMLQuantizationType[name.upper()]
        for vi, (vname, x, _) in enumerate(vecs):
            if not np.all(np.isfinite(x)):
                continue
            with np.errstate(all="ignore"):
                ref = quants.quantize(x.reshape(1, N), qtype).view(np.uint8).reshape(-1)
            got = expected[(vi, TYPES[name][0], 0)]
            if not np.array_equal(ref, got):
                print(f"note: gguf-py {name} differs from ggml on {vname}", file=sys.stderr)
            else:
                checked += 1
    return checked


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--out", default=os.path.join(root, "test", "data", "gguf", "corpus.bin"))
    ap.add_argument("--ggml", default=None, help="path of libggml-base.so (default: llama_cpp's)")
    args = ap.parse_args()

    ggml = GGML(args.ggml)
    rng = np.random.default_rng(SEED)
    vecs = make_vectors(rng)

    entries = []
    expected = {}
    with np.errstate(all="ignore"):
        for vi, (vname, x, imatrix) in enumerate(vecs):
            for tname, (tid, uses_imatrix) in TYPES.items():
                for with_imatrix in ((False, True) if uses_imatrix else (False,)):
                    q = ggml.quantize(tid, x.reshape(1, N), imatrix if with_imatrix else None)
                    y = ggml.dequantize(tid, q, (1, N))
                    q = q.reshape(-1)
                    expected[(vi, tid, int(with_imatrix))] = q
                    entries.append((vi, tid, int(with_imatrix), fnv1a64(y.tobytes()), q.tobytes()))

    agreeing = check_against_gguf_py(vecs, expected)

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "wb") as f:
        f.write(b"QXGGUF01")
        f.write(struct.pack("<II", len(vecs), len(entries)))
        for vname, x, imatrix in vecs:
            raw = vname.encode()
            f.write(struct.pack("<I", len(raw)) + raw)
            f.write(struct.pack("<I", N))
            f.write(x.astype("<f4").tobytes())
            f.write(imatrix.astype("<f4").tobytes())
        for vi, tid, wi, h, q in entries:
            f.write(struct.pack("<IIIQI", vi, tid, wi, h, len(q)))
            f.write(q)
    print(f"wrote {args.out}: {len(vecs)} vectors, {len(entries)} entries, "
          f"{os.path.getsize(args.out)} bytes; ggml from {ggml.path}; "
          f"{agreeing} gguf-py quantizations agree with ggml")


if __name__ == "__main__":
    main()
