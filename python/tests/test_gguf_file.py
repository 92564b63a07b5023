"""GGUF files written by `quantx-translate --quantx-to-gguf`, read by the
`gguf` package (PyPI): same metadata, same tensor table, and the package's
dequantization of every tensor equal to quantx's bit for bit. Also imports a
file written by the package's GGUFWriter (a stand-in for llama.cpp's tools)
and re-emits it."""

import os
import subprocess

import numpy as np
import pytest

import quantx

core = quantx._core
gguf = pytest.importorskip("gguf")
from gguf import quants  # noqa: E402

BINARY_DIR = os.environ.get("QUANTX_BINARY_DIR", "")
TRANSLATE = os.path.join(BINARY_DIR, "bin", "quantx-translate")

pytestmark = pytest.mark.skipif(
    not os.path.exists(TRANSLATE),
    reason="quantx-translate is not built (QUANTX_ENABLE_MLIR=OFF)")

QUANT_TYPES = ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1",
               "q2_K", "q3_K", "q4_K", "q5_K", "q6_K"]
FLOAT_TYPES = ["f32", "f16", "bf16"]
MLIR_FLOAT = {"f32": ("f32", np.float32), "f16": ("f16", np.float16)}


def run(*args, check=True):
    proc = subprocess.run([TRANSLATE, *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"quantx-translate {args} failed:\n{proc.stderr}")
    return proc


def qtype(name):
    return gguf.GGMLQuantizationType[name.upper()]


def random_matrix(seed, rows, cols):
    rng = np.random.default_rng(seed)
    scale = np.exp(rng.normal(0, 1.5, (rows, 1)))
    x = (rng.normal(0, 1, (rows, cols)) * scale).astype(np.float32)
    x[0, :7] = [0.0, -0.0, 1e-30, -65504.0, 3.0, 3.0, -3.0]
    return x


def blob(array):
    """Hex of a dense_resource blob: u32 alignment, then the bytes."""
    align = array.dtype.itemsize
    return "0x" + align.to_bytes(4, "little").hex() + array.tobytes().hex()


def bf16_bits(x):
    """float32 -> bf16 bits with round to nearest even (finite inputs)."""
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def write_model(path, tensors, metadata):
    """tensors: list of (name, array, mlir element type, gguf type or None)."""
    ops, blobs = [], []
    for i, (name, array, elem, target) in enumerate(tensors):
        shape = "x".join(str(d) for d in array.shape)
        attrs = f'quantx.gguf.name = "{name}"'
        if target:
            attrs += f", quantx.gguf.type = #quantx.gguf<{target.lower()}>"
        ops.append(f"  %{i} = arith.constant {{{attrs}}} "
                   f"dense_resource<t{i}> : tensor<{shape}x{elem}>")
        blobs.append(f'      t{i}: "{blob(array)}"')
    text = (f"module attributes {{quantx.gguf.metadata = {{{metadata}}}}} {{\n"
            + "\n".join(ops) + "\n}\n{-#\n  dialect_resources: {\n"
            "    builtin: {\n" + ",\n".join(blobs) + "\n    }\n  }\n#-}\n")
    with open(path, "w") as f:
        f.write(text)


METADATA = ('general.architecture = "llama", general.name = "t\\C3\\A9st", '
            "llama.block_count = 2 : ui32, llama.context_length = 128 : ui32, "
            "llama.rope.freq_base = 10000.0 : f32, "
            "llama.attention.layer_norm_rms_epsilon = 1.0e-05 : f32, "
            "x.u8 = 200 : ui8, x.i8 = -100 : i8, x.u16 = 60000 : ui16, "
            "x.i16 = -30000 : i16, x.i32 = -7 : i32, x.u64 = 1099511627776 : ui64, "
            "x.i64 = -1099511627776 : i64, x.f64 = 0.125 : f64, x.bool = true, "
            'tokenizer.ggml.tokens = ["<s>", "</s>", "a", "bc"], '
            "tokenizer.ggml.scores = dense<[0.0, -1.0, -2.5, -3.0]> : tensor<4xf32>, "
            "tokenizer.ggml.token_type = dense<[3, 3, 1, 1]> : tensor<4xi32>, "
            "x.bools = dense<[true, false]> : tensor<2xi1>")

EXPECTED_FIELDS = {
    "general.architecture": (gguf.GGUFValueType.STRING, "llama"),
    "general.name": (gguf.GGUFValueType.STRING, "t\u00e9st"),
    "llama.block_count": (gguf.GGUFValueType.UINT32, 2),
    "llama.context_length": (gguf.GGUFValueType.UINT32, 128),
    "llama.rope.freq_base": (gguf.GGUFValueType.FLOAT32, 10000.0),
    "llama.attention.layer_norm_rms_epsilon":
        (gguf.GGUFValueType.FLOAT32, float(np.float32(1e-5))),
    "x.u8": (gguf.GGUFValueType.UINT8, 200),
    "x.i8": (gguf.GGUFValueType.INT8, -100),
    "x.u16": (gguf.GGUFValueType.UINT16, 60000),
    "x.i16": (gguf.GGUFValueType.INT16, -30000),
    "x.i32": (gguf.GGUFValueType.INT32, -7),
    "x.u64": (gguf.GGUFValueType.UINT64, 1 << 40),
    "x.i64": (gguf.GGUFValueType.INT64, -(1 << 40)),
    "x.f64": (gguf.GGUFValueType.FLOAT64, 0.125),
    "x.bool": (gguf.GGUFValueType.BOOL, True),
    "tokenizer.ggml.tokens": (gguf.GGUFValueType.ARRAY, ["<s>", "</s>", "a", "bc"]),
    "tokenizer.ggml.scores": (gguf.GGUFValueType.ARRAY, [0.0, -1.0, -2.5, -3.0]),
    "tokenizer.ggml.token_type": (gguf.GGUFValueType.ARRAY, [3, 3, 1, 1]),
    "x.bools": (gguf.GGUFValueType.ARRAY, [True, False]),
    "general.quantization_version": (gguf.GGUFValueType.UINT32, 2),
}
ARRAY_ELEMENT = {
    "tokenizer.ggml.tokens": gguf.GGUFValueType.STRING,
    "tokenizer.ggml.scores": gguf.GGUFValueType.FLOAT32,
    "tokenizer.ggml.token_type": gguf.GGUFValueType.INT32,
    "x.bools": gguf.GGUFValueType.BOOL,
}


@pytest.fixture(scope="module")
def emitted(tmp_path_factory):
    """One model with a tensor of every type, emitted by quantx-translate."""
    d = tmp_path_factory.mktemp("gguf")
    tensors, sources = [], {}
    for i, name in enumerate(FLOAT_TYPES + QUANT_TYPES):
        x = random_matrix(100 + i, 3, 512)
        tname = f"blk.{i}.{name}.weight"
        if name == "f16":
            tensors.append((tname, x.astype(np.float16), "f16", None))
            sources[tname] = (name, x.astype(np.float16).astype(np.float32))
        elif name == "bf16":
            bits = bf16_bits(x)
            tensors.append((tname, bits, "bf16", None))
            sources[tname] = (name, (bits.astype(np.uint32) << 16).view(np.float32))
        else:
            tensors.append((tname, x, "f32", None if name == "f32" else name))
            sources[tname] = (name, x)
    # A tensor in the file's 3-D shape, and one requantized from f16.
    x3 = random_matrix(7, 4, 64).reshape(2, 2, 64)
    tensors.append(("three_d.weight", x3, "f32", "q8_0"))
    sources["three_d.weight"] = ("q8_0", x3)
    xh = random_matrix(8, 2, 256).astype(np.float16)
    tensors.append(("from_f16.weight", xh, "f16", "q4_K"))
    sources["from_f16.weight"] = ("q4_K", xh.astype(np.float32))
    mlir = d / "model.mlir"
    write_model(mlir, tensors, METADATA)
    out = d / "model.gguf"
    proc = run("--quantx-to-gguf", str(mlir), "-o", str(out))
    return out, sources, proc.stderr


def field_value(field):
    return field.contents()


def test_gguf_package_reads_metadata(emitted):
    path, _, _ = emitted
    reader = gguf.GGUFReader(str(path))
    names = set(reader.fields) - {"GGUF.version", "GGUF.tensor_count",
                                  "GGUF.kv_count"}
    assert names == set(EXPECTED_FIELDS)
    for key, (vtype, value) in EXPECTED_FIELDS.items():
        field = reader.fields[key]
        assert field.types[0] == vtype, key
        if vtype == gguf.GGUFValueType.ARRAY:
            assert field.types[1] == ARRAY_ELEMENT[key], key
        assert field_value(field) == value, key
    assert reader.alignment == 32


def test_gguf_package_dequantizes_bit_identically(emitted):
    path, sources, _ = emitted
    reader = gguf.GGUFReader(str(path))
    assert [t.name for t in reader.tensors] == list(sources)
    seen = set()
    for t in reader.tensors:
        name, x = sources[t.name]
        assert t.tensor_type == qtype(name), t.name
        # GGUF order: innermost first.
        assert list(t.shape) == list(reversed(x.shape)), t.name
        raw = np.asarray(t.data)
        if name == "f32":
            ours_bytes = x.astype(np.float32).tobytes()
            theirs = raw.astype(np.float32).reshape(x.shape)
        else:
            ours_bytes = core.gguf_quantize(x.astype(np.float32), name).tobytes()
            theirs = quants.dequantize(raw.view(np.uint8), qtype(name))
            theirs = np.asarray(theirs, dtype=np.float32).reshape(x.shape)
        # The file holds exactly the codec's bytes...
        assert raw.tobytes() == ours_bytes, t.name
        # ...and the gguf package's dequantization equals quantx's bit for bit.
        ours = core.gguf_dequantize(np.frombuffer(ours_bytes, np.uint8),
                                    name, list(x.shape))
        np.testing.assert_array_equal(theirs.view(np.uint32),
                                      np.asarray(ours, np.float32).view(np.uint32),
                                      err_msg=t.name)
        seen.add(name)
    assert seen == set(FLOAT_TYPES + QUANT_TYPES)


def test_error_report_per_requantized_tensor(emitted):
    _, sources, stderr = emitted
    lines = [l for l in stderr.splitlines() if " -> " in l]
    reported = {l.split(":")[0] for l in lines}
    expected = {n for n, (t, _) in sources.items()
                if t not in ("f32", "f16", "bf16")}
    assert reported == expected
    # The reported RMSE is the error of the codec's round trip.
    for line in lines:
        name = line.split(":")[0]
        tname, x = sources[name]
        q = core.gguf_quantize(x.astype(np.float32), tname)
        y = np.asarray(core.gguf_dequantize(q, tname, list(x.shape)))
        rmse = float(np.sqrt(np.mean((y.astype(np.float64) - x) ** 2)))
        got = float(line.split("rmse ")[1].split(",")[0])
        assert got == pytest.approx(rmse, rel=1e-5), line


def test_round_trip_through_import_is_byte_identical(emitted, tmp_path):
    path, _, _ = emitted
    mlir = tmp_path / "imported.mlir"
    run("--gguf-to-quantx", str(path), "-o", str(mlir))
    again = tmp_path / "again.gguf"
    run("--quantx-to-gguf", str(mlir), "-o", str(again))
    assert again.read_bytes() == path.read_bytes()


def test_import_file_from_gguf_writer(tmp_path):
    """A file written by gguf.GGUFWriter imports, dumps and re-emits with the
    same metadata and tensor bytes."""
    src = tmp_path / "from_gguf_py.gguf"
    w = gguf.GGUFWriter(str(src), "llama")
    w.add_block_count(1)
    w.add_context_length(64)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_uint8("x.u8", 9)
    w.add_int16("x.i16", -9)
    w.add_uint64("x.u64", 1 << 50)
    w.add_float64("x.f64", -0.5)
    w.add_bool("x.bool", False)
    w.add_array("x.ints", [1, 2, 3])
    w.add_array("x.strs", ["p", "q"])
    w.add_array("x.nested", [[1, 2], [3]])
    w.add_token_list(["<unk>", "a"])
    w.add_token_scores([0.0, -1.0])
    rng = np.random.default_rng(3)
    f32 = rng.normal(size=(2, 32)).astype(np.float32)
    f16 = rng.normal(size=(4,)).astype(np.float16)
    q8 = quants.quantize(rng.normal(size=(2, 64)).astype(np.float32),
                         gguf.GGMLQuantizationType.Q8_0)
    w.add_tensor("token_embd.weight", f32)
    w.add_tensor("output_norm.weight", f16)
    w.add_tensor("blk.0.attn_q.weight", q8,
                 raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    dump = run("--gguf-dump", str(src)).stdout
    assert "general.architecture: str = \"llama\"" in dump
    assert "x.nested: arr[arr,2] = [[1, 2], [3]]" in dump
    assert "blk.0.attn_q.weight q8_0 [64, 2]" in dump

    mlir = tmp_path / "imported.mlir"
    run("--gguf-to-quantx", str(src), "-o", str(mlir))
    text = mlir.read_text()
    assert "x.u8 = 9 : ui8" in text
    assert "x.f64 = -5.000000e-01 : f64" in text
    assert "#quantx.gguf<q8_0>" in text
    out = tmp_path / "re-emitted.gguf"
    run("--quantx-to-gguf", str(mlir), "-o", str(out))

    a, b = gguf.GGUFReader(str(src)), gguf.GGUFReader(str(out))
    skip = {"GGUF.version", "GGUF.tensor_count", "GGUF.kv_count"}
    # The source has a Q8_0 tensor but no quantization version: the emitter
    # adds it.
    assert "general.quantization_version" not in a.fields
    assert field_value(b.fields["general.quantization_version"]) == 2
    skip.add("general.quantization_version")
    assert set(a.fields) - skip == set(b.fields) - skip
    for key in set(a.fields) - skip:
        fa, fb = a.fields[key], b.fields[key]
        assert fa.types == fb.types, key
        assert field_value(fa) == field_value(fb), key
    assert [t.name for t in a.tensors] == [t.name for t in b.tensors]
    for ta, tb in zip(a.tensors, b.tensors):
        assert ta.tensor_type == tb.tensor_type
        assert list(ta.shape) == list(tb.shape)
        assert np.asarray(ta.data).tobytes() == np.asarray(tb.data).tobytes()


def test_malformed_file_is_rejected(tmp_path, emitted):
    path, _, _ = emitted
    data = path.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: len(data) // 2])
    out = tmp_path / "cut.mlir"
    proc = run("--gguf-to-quantx", str(cut), "-o", str(out), check=False)
    assert proc.returncode != 0
    assert "truncated" in proc.stderr
    assert not out.exists()
