"""GGUF codecs through the Python extension: byte identity with the `gguf`
package's numpy quantizers and with the committed ggml corpus."""

import os
import struct

import numpy as np
import pytest

import quantx

core = quantx._core
gguf = pytest.importorskip("gguf")
from gguf import quants  # noqa: E402

SOURCE_DIR = os.environ.get(
    "QUANTX_SOURCE_DIR",
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CORPUS = os.path.join(SOURCE_DIR, "test", "data", "gguf", "corpus.bin")

ALL_TYPES = ["f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0",
             "q2_K", "q3_K", "q4_K", "q5_K", "q6_K"]
# Types whose quantizer the gguf package implements in numpy.
GGUF_PY_QUANTIZE = ["f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0"]


def qtype(name):
    return gguf.GGMLQuantizationType[name.upper()]


def random_rows(seed, rows=6, cols=1024):
    rng = np.random.default_rng(seed)
    scale = np.exp(rng.normal(0, 2, (rows, 1)))
    return (rng.normal(0, 1, (rows, cols)) * scale).astype(np.float32)


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def load_corpus():
    data = open(CORPUS, "rb").read()
    assert data[:8] == b"QXGGUF01"
    nvec, nent = struct.unpack_from("<II", data, 8)
    off = 16
    vectors = []
    for _ in range(nvec):
        (ln,) = struct.unpack_from("<I", data, off)
        name = data[off + 4:off + 4 + ln].decode()
        off += 4 + ln
        (n,) = struct.unpack_from("<I", data, off)
        off += 4
        x = np.frombuffer(data, np.float32, n, off)
        imatrix = np.frombuffer(data, np.float32, n, off + 4 * n)
        off += 8 * n
        vectors.append((name, x, imatrix))
    entries = []
    for _ in range(nent):
        vi, tid, wi, h, nb = struct.unpack_from("<IIIQI", data, off)
        off += 24
        entries.append((vi, tid, bool(wi), h, np.frombuffer(data, np.uint8, nb, off)))
        off += nb
    assert off == len(data)
    return vectors, entries


@pytest.mark.parametrize("name", GGUF_PY_QUANTIZE)
def test_quantize_matches_gguf_py(name):
    for seed in range(3):
        x = random_rows(seed)
        ref = quants.quantize(x, qtype(name)).view(np.uint8).reshape(x.shape[0], -1)
        got = core.gguf_quantize(x, name)
        assert got.dtype == np.uint8 and got.shape == ref.shape
        assert np.array_equal(got, ref), f"{name} seed {seed}"


@pytest.mark.parametrize("name", ALL_TYPES)
def test_dequantize_matches_gguf_py_bit_for_bit(name):
    x = random_rows(10)
    q = core.gguf_quantize(x, name)
    got = core.gguf_dequantize(q, name, list(x.shape))
    ref = quants.dequantize(q, qtype(name)).astype(np.float32)
    assert got.shape == x.shape
    assert np.array_equal(got.view(np.uint32), ref.view(np.uint32))


def test_corpus_quantize_and_dequantize_match_ggml():
    vectors, entries = load_corpus()
    assert len(entries) >= 500
    for vi, tid, with_imatrix, dq_hash, expected in entries:
        name, x, imatrix = vectors[vi]
        got = core.gguf_quantize(x.reshape(1, -1), tid, imatrix if with_imatrix else None)
        assert np.array_equal(got.reshape(-1), expected), (name, tid, with_imatrix)
        y = core.gguf_dequantize(expected, tid, [1, x.size])
        assert fnv1a64(y.tobytes()) == dq_hash, (name, tid, with_imatrix)


def test_type_info_and_row_size():
    info = core.gguf_type_info("Q4_K")
    assert info == {"name": "q4_K", "id": 12, "block_size": 256, "type_size": 144,
                    "uses_imatrix": True}
    assert core.gguf_type_info(8)["name"] == "q8_0"
    assert core.gguf_type_info(qtype("bf16"))["id"] == 30
    for name in ALL_TYPES:
        info = core.gguf_type_info(name)
        bs, ts = gguf.GGML_QUANT_SIZES[qtype(name)]
        assert (info["block_size"], info["type_size"]) == (bs, ts)
        assert core.gguf_row_size(name, 4096) == 4096 // bs * ts
    assert core.gguf_types()[0] == "f32"


def test_multidimensional_rows_and_imatrix():
    x = random_rows(4, rows=6, cols=512).reshape(2, 3, 512)
    w = np.exp(np.random.default_rng(5).normal(size=512)).astype(np.float32)
    q = core.gguf_quantize(x, "q4_K", imatrix=w)
    assert q.shape == (2, 3, 288)
    flat = core.gguf_quantize(x.reshape(6, 512), "q4_K", imatrix=w)
    assert np.array_equal(q.reshape(6, -1), flat)
    assert not np.array_equal(flat, core.gguf_quantize(x.reshape(6, 512), "q4_K"))
    y = core.gguf_dequantize(q, "q4_K", [2, 3, 512])
    assert y.shape == (2, 3, 512)


def test_errors():
    x = np.zeros((2, 100), np.float32)
    with pytest.raises(ValueError, match="multiple of the block size 32"):
        core.gguf_quantize(x, "q8_0")
    with pytest.raises(ValueError, match="unknown GGUF type"):
        core.gguf_quantize(np.zeros((1, 32), np.float32), "q9_9")
    with pytest.raises(ValueError):
        core.gguf_quantize(np.zeros((1, 32), np.float32), 4)
    with pytest.raises(ValueError, match="imatrix"):
        core.gguf_quantize(np.zeros((1, 32), np.float32), "q4_0",
                           imatrix=np.ones(16, np.float32))
    with pytest.raises(ValueError, match="bytes"):
        core.gguf_dequantize(np.zeros(33, np.uint8), "q8_0", [1, 32])
