"""quantx.gguf: reader/writer from Python, and export of weights quantx has
already quantized. A tensor whose quantized values are exactly a GGUF type
is converted without requantization: the gguf package (PyPI) dequantizes
the emitted blocks to exactly quantx's dequantized values. Other schemes are
requantized and the added error is reported per tensor."""

import os

import numpy as np
import pytest

import quantx
from quantx import gguf as G

core = quantx._core
gguf = pytest.importorskip("gguf")
from gguf import quants  # noqa: E402


def scheme(bits, group, symmetric=True, signed=True, scale="f16", axis=1,
           granularity="per_group"):
    return core.QuantScheme(bits=bits, signed=signed, symmetric=symmetric,
                            granularity=granularity, axis=axis,
                            group_size=group, scale_dtype=scale)


def weights(seed, rows=16, cols=256):
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.05, (rows, cols)).astype(np.float32)
    w[0, :32] = 0.0          # an all-zero block
    w[1, 5] = 3.0            # an outlier
    return w


def package_dequantize(path, name):
    r = gguf.GGUFReader(str(path))
    t = next(t for t in r.tensors if t.name == name)
    return quants.dequantize(np.asarray(t.data), t.tensor_type), t.tensor_type


@pytest.mark.parametrize("bits,group,expected", [
    (4, 32, "q4_0"), (4, 64, "q4_0"), (4, 128, "q4_0"), (4, 0, "q4_0"),
    (5, 32, "q5_0"), (8, 32, "q8_0"), (8, 256, "q8_0"), (3, 32, "q4_0"),
])
def test_symmetric_f16_schemes_export_losslessly(tmp_path, bits, group, expected):
    w = weights(bits * 1000 + group)
    if group == 0:  # per output row (per axis 0)
        s = scheme(bits, 0, axis=0, granularity="per_axis")
    else:
        s = scheme(bits, group)
    qt = G.QuantizedTensor.from_scheme(w, s)
    path = tmp_path / "m.gguf"
    entries = G.export(path, {"general.architecture": "llama"}, [("w", qt)])
    assert entries[0].mode == "lossless" and entries[0].type == expected
    got, ttype = package_dequantize(path, "w")
    assert ttype.name.lower() == expected
    ref = core.dequantize(core.quantize(w, s, *core.compute_params(w, s)), s,
                          *core.compute_params(w, s))
    np.testing.assert_array_equal(qt.dequantize(), ref)   # same values as the core
    np.testing.assert_array_equal(got.reshape(w.shape), ref)
    # quantx's own reader agrees, and the bytes are what the codec stores.
    np.testing.assert_array_equal(G.read(path).tensor("w"), ref)
    if bits in (4, 5, 8) and group in (32, 0) and bits != 3:
        assert G.scheme_gguf_type(bits, True, True, 32, "f16") == expected


def test_rtn_symmetric_with_fp16_scales_is_q4_0(tmp_path):
    """GPTQ-reference RTN codes (0..15, zero point 8) with scales that are
    fp16 values are exactly Q4_0."""
    w = weights(7)
    r = core.rtn_quantize(w, bits=4, group_size=32, sym=True)
    qt = G.QuantizedTensor.from_rtn(r)
    qt.scales = qt.scales.astype(np.float16).astype(np.float32)
    path = tmp_path / "m.gguf"
    e = G.export(path, {}, [("w", qt)])[0]
    assert (e.mode, e.type) == ("lossless", "q4_0")
    got, _ = package_dequantize(path, "w")
    np.testing.assert_array_equal(got.reshape(w.shape), qt.dequantize())


def test_rtn_with_f32_scales_is_requantized_with_error_report(tmp_path):
    """GPTQ/AWQ-style asymmetric 4-bit, groups of 128, f32 scales: not a GGUF
    type. Requantized to the requested type; the reported error is against
    quantx's dequantized weights."""
    w = weights(8)
    r = core.rtn_quantize(w, bits=4, group_size=128, sym=False)
    qt = G.QuantizedTensor.from_rtn(r)
    np.testing.assert_array_equal(qt.dequantize(), r["dequantized"])
    lines = []
    path = tmp_path / "m.gguf"
    e = G.export(path, {}, [("w", qt)], types={"w": "q4_k"}, error_report=lines.append)[0]
    assert e.mode == "requantized" and e.type == "q4_k"
    assert "no layout conversion" in e.reason
    got, _ = package_dequantize(path, "w")
    d = got.reshape(w.shape).astype(np.float64) - r["dequantized"]
    assert e.rmse == pytest.approx(np.sqrt(np.mean(d * d)), rel=1e-12)
    assert e.max_abs == pytest.approx(np.abs(d).max(), rel=1e-12)
    assert e.rmse > 0
    assert lines and lines[0].startswith("w: requantized -> q4_k, rmse ")
    # Asked for q4_0, the reason names the first failing group and value.
    e0 = G.prepare("w", qt, "q4_0")[1]
    assert e0.mode == "requantized"
    assert "group" in e0.reason or "level" in e0.reason
    # With no type named there is nothing lossless to fall back on.
    with pytest.raises(ValueError, match="not exactly a GGUF type"):
        G.prepare("w", qt)


def test_min_form_is_q4_1_and_q5_1(tmp_path):
    rng = np.random.default_rng(9)
    for bits, expected in ((4, "q4_1"), (5, "q5_1")):
        levels = rng.integers(0, 1 << bits, (8, 64))
        scales = rng.uniform(1e-3, 1e-1, (8, 2)).astype(np.float16).astype(np.float32)
        mins = -rng.uniform(0, 1, (8, 2)).astype(np.float16).astype(np.float32)
        qt = G.QuantizedTensor(levels, scales, mins, 32, form="add_min")
        path = tmp_path / f"{expected}.gguf"
        e = G.export(path, {}, [("w", qt)], types={"w": expected})[0]
        assert e.mode == "lossless"
        got, _ = package_dequantize(path, "w")
        np.testing.assert_array_equal(got.reshape(8, 64), qt.dequantize())


def test_zero_point_converts_to_min_only_when_exact():
    levels = np.tile(np.arange(16, dtype=np.int32), (1, 2)).reshape(1, 32)
    ok = G.QuantizedTensor(levels, [0.25], [3.0], 32)     # -0.25*3 is fp16
    blocks, why = ok.pack("q4_1")
    assert why is None and blocks.shape == (1, 20)
    np.testing.assert_array_equal(
        core.gguf_dequantize(blocks, "q4_1", [1, 32]), ok.dequantize())
    bad = G.QuantizedTensor(levels, [0.1], [3.0], 32)      # 0.1 is not fp16
    blocks, why = bad.pack("q4_1")
    assert blocks is None and "not an fp16 value" in why


@pytest.mark.parametrize("case,message", [
    (dict(levels=[[8] * 32], scales=[0.5], t="q4_0"), "outside q4_0's range"),
    (dict(levels=[[0] * 48], scales=[0.5], t="q4_0"), "not a multiple of 32"),
    (dict(levels=[[0] * 64], scales=[0.5] * 4, group=16, t="q4_0"),
     "do not split into blocks"),
    (dict(levels=[[0] * 32], scales=[np.nan], t="q8_0"), "not an fp16 value"),
    (dict(levels=[[0] * 32], scales=[0.5], offsets=[0.5], t="q8_0"),
     "not a small integer"),
])
def test_pack_reports_why_not(case, message):
    levels = np.array(case["levels"], np.int32)
    qt = G.QuantizedTensor(levels, case["scales"], case.get("offsets"),
                           case.get("group", 0))
    blocks, why = qt.pack(case["t"])
    assert blocks is None and message in why


def test_pack_rejects_types_without_layout_conversion():
    qt = G.QuantizedTensor(np.zeros((1, 256), np.int32), [0.5], None, 0)
    with pytest.raises(ValueError, match="no layout conversion"):
        qt.pack("q4_k")


def test_pack_does_not_depend_on_threads():
    rng = np.random.default_rng(11)
    levels = rng.integers(-8, 8, (6000, 32))
    scales = rng.uniform(0.01, 1, (6000, 1)).astype(np.float16).astype(np.float32)
    scales[217, 0] = 0.1  # the first failing row must be reported every time
    scales[5000, 0] = 0.3
    qt = G.QuantizedTensor(levels, scales, None, 32)
    results = []
    for n in (1, 2, 7):
        os.environ["QUANTX_NUM_THREADS"] = str(n)
        results.append(qt.pack("q4_0")[1])
    os.environ.pop("QUANTX_NUM_THREADS")
    assert results[0] == results[1] == results[2]
    assert "row 217" in results[0]


def test_write_read_metadata_types(tmp_path):
    meta = [
        ("general.architecture", "llama"),
        ("a.u8", G.Value.u8(255)), ("a.i8", G.Value.i8(-128)),
        ("a.u16", G.Value.u16(65535)), ("a.i16", G.Value.i16(-3)),
        ("a.u32", G.Value.u32(4000000000)), ("a.i32", -5),
        ("a.u64", G.Value.u64(1 << 63)), ("a.i64", G.Value.i64(-(1 << 62))),
        ("a.f32", 0.5), ("a.f64", G.Value.f64(1e-300)), ("a.bool", True),
        ("a.str", "h\u00e9"), ("a.ints", np.array([1, -2], np.int32)),
        ("a.floats", np.array([0.25], np.float32)),
        ("a.strs", ["x", "yz"]), ("a.nested", [[1, 2], [3]]),
        ("a.bools", G.Value.array(G.BOOL, [True, False])),
        ("a.empty", G.Value.array(G.STRING, [])),
    ]
    x = np.arange(64, dtype=np.float32).reshape(2, 32)
    path = tmp_path / "m.gguf"
    size = G.write(path, meta, [("x", x), ("h", x[0].astype(np.float16))], alignment=64)
    assert size == os.path.getsize(path)
    r = G.read(path)
    assert r.alignment == 64 and r.version == 3
    assert r.metadata["a.u32"] == G.Value.u32(4000000000)
    assert r.value("a.u64") == 1 << 63 and r.value("a.i64") == -(1 << 62)
    assert r.metadata["a.i32"].type == G.I32 and r.metadata["a.f32"].type == G.F32
    assert r.value("a.f64") == 1e-300 and r.value("a.str") == "h\u00e9"
    assert r.value("a.ints") == [1, -2] and r.value("a.strs") == ["x", "yz"]
    assert r.value("a.nested") == [[1, 2], [3]] and r.value("a.bools") == [True, False]
    assert r.value("a.empty") == [] and r.value("a.bool") is True
    np.testing.assert_array_equal(r.tensor("x"), x)
    np.testing.assert_array_equal(r.tensor("h"), x[0])
    # The gguf package agrees on every key and type.
    pr = gguf.GGUFReader(str(path))
    assert pr.fields["a.u32"].types == [gguf.GGUFValueType.UINT32]
    assert pr.fields["a.nested"].types[:2] == [gguf.GGUFValueType.ARRAY] * 2
    # Writing what was read gives the same bytes.
    again = G.write(None, list(r.metadata.items()),
                    [(t.name, G.RawTensor(t.type, t.shape, r.tensor_bytes(t.name)))
                     for t in r.tensors], to_bytes=True)
    assert again == path.read_bytes()
    assert "a.nested: arr[arr,2] = [[1, 2], [3]]" in G.dump(path)
    assert "total" in G.report(path)


def test_bad_values_and_files_raise(tmp_path):
    with pytest.raises(ValueError, match="out of range"):
        G.write(tmp_path / "x.gguf", [("k", G.Value.u8(256))], [])
    with pytest.raises(ValueError, match="do not fit"):
        G.write(tmp_path / "x.gguf", [("k", G.Value.array(G.I8, np.array([300])))], [])
    with pytest.raises(ValueError, match="duplicate"):
        G.write(tmp_path / "x.gguf", [("k", 1), ("k", 2)], [])
    assert not os.path.exists(tmp_path / "x.gguf")
    with pytest.raises(ValueError):
        G.read(b"GGUF\x03\x00\x00\x00")
    with pytest.raises(ValueError, match="magic"):
        G.read(b"NOPE" + bytes(40))
    good = G.write(None, [("k", 1)], [("x", np.zeros((2, 32), np.float32))], to_bytes=True)
    for cut in range(0, len(good) - 1, 7):
        with pytest.raises(ValueError):
            G.read(good[:cut])
    # A failed write leaves an existing file untouched and no temporary file.
    target = tmp_path / "keep.gguf"
    target.write_bytes(b"old")
    with pytest.raises(ValueError):
        G.write(target, [], [("x", G.RawTensor("q4_0", (1, 32), np.zeros(17, np.uint8)))])
    assert target.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["keep.gguf"]


def test_gguf_package_file_imports_and_re_emits(tmp_path):
    """A file written by gguf.GGUFWriter reads with quantx.gguf and writes
    back byte for byte."""
    src = tmp_path / "from_gguf_py.gguf"
    w = gguf.GGUFWriter(str(src), "llama")
    w.add_block_count(1)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_uint64("x.u64", 1 << 50)
    w.add_array("x.nested", [[1, 2], [3]])
    w.add_token_list(["<unk>", "a"])
    w.add_token_scores([0.0, -1.0])
    rng = np.random.default_rng(3)
    q4 = quants.quantize(rng.normal(size=(2, 64)).astype(np.float32),
                         gguf.GGMLQuantizationType.Q8_0)
    w.add_tensor("token_embd.weight", rng.normal(size=(3, 32)).astype(np.float32))
    w.add_tensor("output_norm.weight", rng.normal(size=(4,)).astype(np.float16))
    w.add_tensor("blk.0.attn_q.weight", q4, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    r = G.read(src)
    assert r.value("x.nested") == [[1, 2], [3]]
    assert r.metadata["x.u64"].type == G.U64
    assert r.info("blk.0.attn_q.weight").shape == (2, 64)
    np.testing.assert_array_equal(
        r.tensor("blk.0.attn_q.weight"),
        quants.dequantize(q4, gguf.GGMLQuantizationType.Q8_0))
    G.write(tmp_path / "again.gguf", list(r.metadata.items()),
            [(t.name, G.RawTensor(t.type, t.shape, r.tensor_bytes(t.name)))
             for t in r.tensors])
    a = src.read_bytes()
    b = (tmp_path / "again.gguf").read_bytes()
    # The package writes no general.quantization_version; quantx adds it
    # (u32 2) at the end of the metadata, so compare the rest separately.
    rb = G.read(b)
    assert rb.value("general.quantization_version") == 2
    meta = [(k, v) for k, v in rb.metadata.items() if k != "general.quantization_version"]
    assert meta == list(r.metadata.items())
    for t in r.tensors:
        assert rb.info(t.name) == t or (rb.info(t.name).nbytes == t.nbytes)
        assert np.array_equal(rb.tensor_bytes(t.name), r.tensor_bytes(t.name))
    assert len(b) >= len(a)


def test_gptq_results(tmp_path):
    """GPTQ (f32 scales) is requantized against its dequantized weights; with
    act_order its groups are not blocks at all, which is an error."""
    rng = np.random.default_rng(12)
    w = weights(12, rows=8, cols=128)
    g = core.GPTQ(128)
    g.add_batch(rng.normal(size=(256, 128)).astype(np.float32))
    r = g.quantize(w, bits=4, group_size=32, sym=True)
    qt = G.QuantizedTensor.from_gptq(r)
    np.testing.assert_array_equal(qt.dequantize(), r["dequantized"])
    e = G.export(tmp_path / "g.gguf", {}, [("w", qt)], types={"w": "q4_0"})[0]
    assert e.mode == "requantized" and "not an fp16 value" in e.reason
    ra = g.quantize(w, bits=4, group_size=32, sym=True, act_order=True)
    assert not np.array_equal(ra["g_idx"], np.arange(128) // 32)
    with pytest.raises(ValueError, match="act_order"):
        G.QuantizedTensor.from_gptq(ra)


@pytest.mark.parametrize("t,lo,hi,zero,form", [
    ("q8_0", -128, 128, 0, "zero_point"),
    ("q4_0", -8, 8, 0, "zero_point"),
    ("q4_0", 0, 16, 8, "zero_point"),   # unsigned levels with zero point 8
    ("q5_0", -16, 16, 0, "zero_point"),
    ("q4_1", 0, 16, 0, "add_min"),
    ("q5_1", 0, 32, 0, "add_min"),
])
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.int64])
def test_pack_narrow_level_dtypes_match_int32(t, lo, hi, zero, form, dtype):
    # int8/uint8/int16 levels are read in place, others converted: the bytes
    # (and the reasons) must be those of the int32 levels.
    if not (np.iinfo(dtype).min <= lo and hi - 1 <= np.iinfo(dtype).max):
        pytest.skip("levels do not fit the dtype")
    rng = np.random.default_rng(3)
    levels = rng.integers(lo, hi, (37, 128))
    scales = rng.uniform(0.01, 1, (37, 4)).astype(np.float16).astype(np.float32)
    if form == "add_min":
        offsets = rng.uniform(-1, 1, (37, 4)).astype(np.float16).astype(np.float32)
    else:
        offsets = np.full((37, 4), float(zero), np.float32)
    ref = G.QuantizedTensor(levels.astype(np.int32), scales, offsets, 32, form)
    narrow = G.QuantizedTensor(levels.astype(dtype), scales, offsets, 32, form)
    assert narrow.levels.dtype == (np.int32 if dtype == np.int64 else dtype)
    want, why = ref.pack(t)
    assert why is None
    got, why = narrow.pack(t)
    assert why is None
    np.testing.assert_array_equal(got, want)
    # A level out of range is reported the same way.
    if hi <= np.iinfo(dtype).max:
        wrong = levels.copy()
        wrong[5, 70] = hi
        bad32 = G.QuantizedTensor(wrong.astype(np.int32), scales, offsets, 32, form)
        bad = G.QuantizedTensor(wrong.astype(dtype), scales, offsets, 32, form)
        assert bad.pack(t)[1] == bad32.pack(t)[1]
        assert "row 5, column 70" in bad.pack(t)[1]
    # Non-contiguous narrow levels are made contiguous, not misread.
    wide = np.zeros((37, 256), dtype)
    wide[:, ::2] = levels.astype(dtype)
    view = G.QuantizedTensor(wide[:, ::2], scales, offsets, 32, form)
    np.testing.assert_array_equal(
        core.gguf_pack(wide[:, ::2], scales, offsets, t, 32, form)[0], want)
    assert view.pack(t)[1] is None


def test_export_packs_while_writing_same_bytes(tmp_path):
    # export() packs lossless tensors during the write: the file must be
    # byte for byte the one written from blocks packed beforehand.
    rng = np.random.default_rng(8)
    qts = []
    for i in range(3):
        levels = rng.integers(-8, 8, (50 + i, 64)).astype(np.int8)
        scales = rng.uniform(0.01, 1, (50 + i, 2)).astype(np.float16).astype(np.float32)
        qts.append((f"t{i}", G.QuantizedTensor(levels, scales, None, 32)))
    qts.append(("norm", np.ones(64, np.float32)))
    meta = {"general.architecture": "llama"}
    entries = G.export(tmp_path / "a.gguf", meta, qts, default_type="q4_0")
    assert [e.mode for e in entries] == ["lossless"] * 3 + ["stored"]
    raw = [(n, G.RawTensor("q4_0", q.shape, q.pack("q4_0")[0]))
           if isinstance(q, G.QuantizedTensor) else (n, q) for n, q in qts]
    G.write(tmp_path / "b.gguf", meta, raw)
    assert (tmp_path / "a.gguf").read_bytes() == (tmp_path / "b.gguf").read_bytes()
    assert [e.nbytes for e in entries[:3]] == [r.data.size for _, r in raw[:3]]


def test_export_falls_back_when_packing_during_write_fails(tmp_path):
    levels = np.zeros((4, 32), np.int32)
    good = G.QuantizedTensor(levels, [0.5] * 4, None, 32)
    bad = G.QuantizedTensor(levels, [0.5, 0.5, 0.1, 0.5], None, 32)  # 0.1 not fp16
    entries = G.export(tmp_path / "m.gguf", {}, [("a", good), ("b", bad)],
                       default_type="q4_0")
    assert [e.mode for e in entries] == ["lossless", "requantized"]
    assert "row 2" in entries[1].reason
    assert G.read(tmp_path / "m.gguf").tensors[1].type == "q4_0"


def test_writer_packed_tensor_that_is_not_exact_leaves_no_file(tmp_path):
    w = core.GGUFWriter()
    w.add_packed_tensor("a", np.zeros((2, 32), np.int8), np.array([0.5, 0.1], np.float32),
                        None, "q4_0", 32)
    with pytest.raises(ValueError, match="a: scale of row 1"):
        w.write(str(tmp_path / "x.gguf"))
    assert os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match="no layout conversion"):
        w.add_packed_tensor("b", np.zeros((2, 256), np.int8), np.ones(2, np.float32),
                            None, "q4_k", 256)
