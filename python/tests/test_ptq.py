"""The PTQ flow: calibration through the JIT, statistics files, the
static-int8 rewrite against a numpy reference of the integer computation."""

import json
import os
import re
import stat
import subprocess

import numpy as np
import pytest

from quantx import _core, jit, ptq

SRC = os.environ.get("QUANTX_SOURCE_DIR",
                     os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(os.environ.get("QUANTX_BINARY_DIR", "build"), "bin")
CNN = os.path.join(SRC, "test", "Transforms", "PTQ", "Inputs", "cnn.mlir")
STATS = os.path.join(SRC, "test", "Transforms", "PTQ", "Inputs", "cnn-stats.json")
pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(BIN, "quantx-run")),
                                reason="built without MLIR: no quantx-run")


def cnn_weights():
    """The constants of cnn.mlir, read back from its text."""
    text = open(CNN).read()
    out = {}
    for name, shape in (("w1", (2, 1, 3, 3)), ("b1", (2,)), ("w2", (4, 18)), ("b2", (4,))):
        m = re.search(r"%" + name + r" = arith.constant dense<(.*?)> :", text, re.S)
        vals = np.array(json.loads(m.group(1)), dtype=np.float32)
        out[name] = vals.reshape(shape)
    return out


def float_cnn(x, w):
    """numpy float reference of cnn.mlir."""
    n = x.shape[0]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    y = np.zeros((n, 2, 6, 6), np.float32)
    for i in range(6):
        for j in range(6):
            y[:, :, i, j] = np.einsum("nchw,fchw->nf", xp[:, :, i:i + 3, j:j + 3], w["w1"])
    y = np.maximum(y + w["b1"][None, :, None, None], 0)
    y = y.reshape(n, 2, 3, 2, 3, 2).max(axis=(3, 5)).reshape(n, 18)
    return y @ w["w2"].T + w["b2"]


def batches(seed, count, outlier=None):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        x = rng.uniform(-2.0, 2.5, (2, 1, 6, 6)).astype(np.float32)
        out.append(x)
    if outlier is not None:
        out[0][0, 0, 2, 3] = outlier
    return out


def test_min_max_statistics_match_numpy(tmp_path):
    data = batches(0, 3)
    stats = ptq.calibrate(CNN, data, str(tmp_path / "s.json"))
    on_disk = json.load(open(tmp_path / "s.json"))
    assert on_disk == json.loads(json.dumps(stats))
    assert on_disk["format"] == "quantx-calibration"
    assert on_disk["num_batches"] == 3
    obs = on_disk["observations"]
    assert sorted(obs) == ["classifier.input", "classifier.output",
                           "features.0.input", "features.0.output"]
    allx = np.stack(data)
    assert obs["features.0.input"]["min"] == float(allx.min())
    assert obs["features.0.input"]["max"] == float(allx.max())
    w = cnn_weights()
    outs = np.concatenate([float_cnn(x, w) for x in data])
    assert obs["classifier.output"]["min"] == pytest.approx(float(outs.min()), rel=1e-5)
    assert obs["classifier.output"]["max"] == pytest.approx(float(outs.max()), rel=1e-5)


def test_calibration_reports_progress(tmp_path):
    lines = []
    stats = ptq.calibrate(CNN, batches(3, 5), str(tmp_path / "s.json"),
                          progress=lines.append, progress_seconds=0.0)
    assert stats["num_batches"] == 5
    assert lines == [f"calibrating: {i} batches in " + l.split(" in ")[1]
                     for i, l in zip(range(1, 6), lines)]


def test_npz_input_is_split_into_batches(tmp_path):
    data = np.concatenate(batches(1, 3))
    np.savez(tmp_path / "c.npz", x=data)
    stats = ptq.calibrate(CNN, str(tmp_path / "c.npz"), str(tmp_path / "s.json"))
    assert stats["num_batches"] == 3
    assert stats["observations"]["features.0.input"]["max"] == float(data.max())


LINEAR = """
func.func @main(%x: tensor<8192x16xf32>) -> tensor<8192x2xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<[[0.5, -0.25], [0.125, 1.0], [-0.5, 0.75], [0.25, 0.25],
                             [1.0, -1.0], [0.5, 0.5], [-0.125, 0.25], [0.75, -0.5],
                             [0.5, -0.25], [0.125, 1.0], [-0.5, 0.75], [0.25, 0.25],
                             [1.0, -1.0], [0.5, 0.5], [-0.125, 0.25], [0.75, -0.5]]> : tensor<16x2xf32>
  %e = tensor.empty() : tensor<8192x2xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<8192x2xf32>) -> tensor<8192x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<8192x16xf32>, tensor<16x2xf32>) outs(%f : tensor<8192x2xf32>) -> tensor<8192x2xf32> loc("fc")
  return %y : tensor<8192x2xf32>
}
"""


@pytest.mark.parametrize("kind,opts", [("percentile", {"percentile": 99.99}),
                                       ("entropy", {}), ("mse", {})])
def test_outlier_is_clipped_by_range_searching_observers(tmp_path, kind, opts):
    model = tmp_path / "fc.mlir"
    model.write_text(LINEAR)
    rng = np.random.default_rng(3)
    # 262144 standard normal values in two batches, outliers at 50, 48, -40
    # (the case docs/NumericCore.md describes).
    data = [rng.standard_normal((8192, 16)).astype(np.float32) for _ in range(2)]
    data[1][5, 7] = 50.0
    data[0][1, 1] = 48.0
    data[1][9, 3] = -40.0
    mm = ptq.calibrate(str(model), data, str(tmp_path / "mm.json"))
    other = ptq.calibrate(str(model), data, str(tmp_path / f"{kind}.json"),
                          kind=kind, **opts)
    a = mm["observations"]["fc.input"]
    b = other["observations"]["fc.input"]
    assert b["kind"] == kind
    # min/max covers the outlier; the other methods clip it but keep the
    # bulk of the distribution (|x| < ~5).
    assert (a["min"], a["max"]) == (-40.0, 50.0)
    assert 3.0 < b["max"] < 45.0
    assert b["scale"] < 0.8 * a["scale"]


def test_wrong_shape_or_dtype_is_an_error_and_writes_nothing(tmp_path):
    out = tmp_path / "s.json"
    bad_shape = [np.zeros((3, 1, 6, 6), np.float32)]
    with pytest.raises(ptq.PTQError, match=r"shape \(3, 1, 6, 6\).*\(2, 1, 6, 6\)"):
        ptq.calibrate(CNN, bad_shape, str(out))
    assert not out.exists()
    bad_dtype = [np.zeros((2, 1, 6, 6), np.float64)]
    with pytest.raises(ptq.PTQError, match="dtype float64.*f32"):
        ptq.calibrate(CNN, bad_dtype, str(out))
    assert not out.exists()
    np.savez(tmp_path / "c.npz", x=np.zeros((3, 1, 6, 6), np.float32))
    with pytest.raises(ptq.PTQError, match="multiple of the model's batch size 2"):
        ptq.calibrate(CNN, str(tmp_path / "c.npz"), str(out))
    assert not out.exists()
    assert ptq.main(["calibrate", CNN, "--data", str(tmp_path / "c.npz"),
                     "--stats", str(out)]) == 1
    assert not out.exists()


def test_unreadable_data_files_are_errors_and_write_nothing(tmp_path, capsys):
    """Truncated, corrupted, foreign and missing data files: a clear error
    naming the file, status 1, no statistics; an .npy file is one array."""
    good = tmp_path / "good.npz"
    np.savez(good, x=np.concatenate(batches(3, 2)))
    raw = good.read_bytes()
    # 40 bytes of the array data flipped: the archive's CRC check fails.
    flipped = bytearray(raw)
    for i in range(200, 240):
        flipped[i] ^= 0xFF
    files = {"truncated.npz": raw[:len(raw) // 2], "corrupted.npz": bytes(flipped),
             "text.npz": b"not an archive\n"}
    out = tmp_path / "s.json"
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ptq.PTQError, match=f"cannot read calibration data '.*{name}': "
                                               "not a readable .npz or .npy file"):
            ptq.calibrate(CNN, str(path), str(out))
        assert ptq.main(["calibrate", CNN, "--data", str(path), "--stats", str(out)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: cannot read calibration data") and "Traceback" not in err
        assert not out.exists()
    with pytest.raises(ptq.PTQError, match="No such file"):
        ptq.calibrate(CNN, str(tmp_path / "missing.npz"), str(out))
    np.save(tmp_path / "one.npy", np.concatenate(batches(3, 2)))
    stats = ptq.calibrate(CNN, str(tmp_path / "one.npy"), str(out))
    assert stats["num_batches"] == 2 and out.exists()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_data_is_an_error_and_writes_nothing(tmp_path, bad):
    out = tmp_path / "s.json"
    data = batches(2, 2)
    data[1][1, 0, 3, 4] = bad
    with pytest.raises(ptq.PTQError, match=r"calibration batch 1, argument 0: 1 NaN or "
                                           r"infinite values"):
        ptq.calibrate(CNN, data, str(out))
    assert not out.exists()
    # The same check guards the SQNR measurement of the whole flow.
    q = tmp_path / "q.mlir"
    with pytest.raises(ptq.PTQError, match="NaN or infinite"):
        ptq.quantize_model(CNN, data, str(q), mode="dynamic-int8")
    assert not q.exists()


def test_a_model_that_overflows_on_the_data_is_an_error(tmp_path):
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2)).eval()
    with torch.no_grad():
        model[0].weight.fill_(3e38)  # finite weights, infinite products
    x = np.ones((8, 4), np.float32)
    out = tmp_path / "q.mlir"
    with pytest.raises(ptq.PTQError, match=r"calibration batch 0: '.*' has NaN or "
                                           r"infinite values \(the float model overflows"):
        ptq.quantize_model(model, x, str(out))
    assert not out.exists()


def test_missing_statistics_is_an_error_and_writes_nothing(tmp_path, capsys):
    stats = json.load(open(STATS))
    del stats["observations"]["classifier.input"]
    (tmp_path / "s.json").write_text(json.dumps(stats))
    out = tmp_path / "q.mlir"
    assert ptq.main(["quantize", CNN, "--stats", str(tmp_path / "s.json"),
                     "-o", str(out)]) == 1
    assert "no calibration statistics for observation 'classifier.input'" in capsys.readouterr().err
    assert not out.exists()


def quant_params_u8(lo, hi):
    lo, hi = np.float32(min(lo, 0.0)), np.float32(max(hi, 0.0))
    s = np.float32((hi - lo) / np.float32(255))
    zp = int(np.clip(0 - np.round(lo / s), 0, 255))
    return s, zp


def int_cnn(x, w, st):
    """numpy reference of the static-int8 computation (integer path)."""
    f32 = np.float32
    s1, z1 = quant_params_u8(st["features.0.input"]["min"], st["features.0.input"]["max"])
    s2, z2 = quant_params_u8(st["classifier.input"]["min"], st["classifier.input"]["max"])

    def wq(wt):
        amax = np.abs(wt.reshape(wt.shape[0], -1)).max(axis=1).astype(f32)
        s = (amax / f32(127.0)).astype(f32)
        q = np.clip(np.round(wt / s.reshape((-1,) + (1,) * (wt.ndim - 1))), -127, 127)
        return q.astype(np.int64), s

    q1, sw1 = wq(w["w1"])
    q2, sw2 = wq(w["w2"])
    n = x.shape[0]
    xq = np.clip(np.round(x / s1) + z1, 0, 255).astype(np.int64)
    xp = np.pad(xq - z1, ((0, 0), (0, 0), (1, 1), (1, 1)))
    acc = np.zeros((n, 2, 6, 6), np.int64)
    for i in range(6):
        for j in range(6):
            acc[:, :, i, j] = np.einsum("nchw,fchw->nf", xp[:, :, i:i + 3, j:j + 3], q1)
    sb1 = (f32(s1) * sw1).astype(f32)
    acc += np.round(w["b1"] / sb1).astype(np.int64)[None, :, None, None]
    y = acc.astype(f32) * sb1[None, :, None, None]
    y = np.maximum(y, f32(0))
    yq = np.clip(np.round(y / s2) + z2, 0, 255).astype(np.int64)
    yq = yq.reshape(n, 2, 3, 2, 3, 2).max(axis=(3, 5)).reshape(n, 18)
    sb2 = (f32(s2) * sw2).astype(f32)
    acc2 = (yq - z2) @ q2.T + np.round(w["b2"] / sb2).astype(np.int64)
    return acc2.astype(f32) * sb2


def test_static_int8_matches_integer_reference_and_stays_close_to_float(tmp_path):
    out = tmp_path / "q.mlir"
    report = ptq.quantize(CNN, STATS, str(out), report=str(tmp_path / "r.json"))
    assert [l["name"] for l in report["layers"]] == ["features.0", "classifier"]
    assert report["layers"][0]["output"] == "requantized to classifier"
    text = out.read_text()
    assert "quantx.conv2d" in text and "quantx.matmul" in text
    assert "linalg.conv_2d" not in text and "linalg.matmul" not in text
    w = cnn_weights()
    st = json.load(open(STATS))["observations"]
    for seed in range(3):
        x = batches(10 + seed, 1)[0]
        (y,) = ptq.run_function(str(out), [x], 1)
        ref = int_cnn(x, w, st)
        np.testing.assert_array_equal(y, ref)
        fl = float_cnn(x, w)
        assert ptq.sqnr_db(fl, y) > 25.0


@pytest.mark.parametrize("mode,extra,min_sqnr", [("dynamic-int8", [], 25.0),
                                                 ("weight-int8", [], 30.0),
                                                 ("weight-int4", ["--group-size", "6"], 12.0)])
def test_other_modes_run_and_stay_close_to_float(tmp_path, mode, extra, min_sqnr):
    out = tmp_path / "q.mlir"
    assert ptq.main(["quantize", CNN, "--mode", mode, "-o", str(out)] + extra) == 0
    w = cnn_weights()
    x = batches(20, 1)[0]
    (y,) = ptq.run_function(str(out), [x], 1)
    assert ptq.sqnr_db(float_cnn(x, w), y) > min_sqnr


def test_keep_float_leaves_the_layer_in_float(tmp_path):
    out = tmp_path / "q.mlir"
    report = ptq.quantize(CNN, STATS, str(out), keep_float=["classif.*"])
    status = {l["name"]: l["status"] for l in report["layers"]}
    assert status == {"features.0": "quantized", "classifier": "float"}
    text = out.read_text()
    assert "linalg.matmul" in text and "quantx.conv2d" in text
    w = cnn_weights()
    x = batches(30, 1)[0]
    (y,) = ptq.run_function(str(out), [x], 1)
    assert ptq.sqnr_db(float_cnn(x, w), y) > 25.0


def test_keep_int8_gives_matching_layers_8_bit_weights_in_weight_int4(tmp_path):
    """keep-int8 in weight-int4: the matching layer is quantized exactly as
    weight-int8 quantizes it, the others as weight-int4, and the model is
    closer to float than the all-int4 one."""
    paths = {n: str(tmp_path / f"{n}.mlir") for n in ("int4", "mixed", "int8")}
    reports = {
        "int4": ptq.quantize(CNN, None, paths["int4"], "weight-int4", 6),
        "mixed": ptq.quantize(CNN, None, paths["mixed"], "weight-int4", 6,
                              keep_int8=["^features"]),
        "int8": ptq.quantize(CNN, None, paths["int8"], "weight-int8", 6)}
    layers = {k: {l["name"]: l for l in r["layers"]} for k, r in reports.items()}
    mixed = layers["mixed"]
    assert (mixed["features.0"]["weight_bits"], mixed["classifier"]["weight_bits"]) == (8, 4)
    assert mixed["features.0"]["weight_scales"] == layers["int8"]["features.0"]["weight_scales"]
    assert mixed["classifier"]["weight_scales"] == layers["int4"]["classifier"]["weight_scales"]
    # 18 int8 weights and 2 f32 scales; 72 int4 weights and 4x3 scales.
    assert mixed["features.0"]["bytes_after"] == 18 + 2 * 4
    assert mixed["classifier"]["bytes_after"] == 72 // 2 + 12 * 4
    w = cnn_weights()
    data = batches(50, 4)
    ref = np.concatenate([float_cnn(x, w).reshape(-1) for x in data])

    def sqnr(path):
        return ptq.sqnr_db(ref, np.concatenate(
            [ptq.run_function(path, [x], 1)[0].reshape(-1) for x in data]))
    assert sqnr(paths["int4"]) < sqnr(paths["mixed"]) < sqnr(paths["int8"])
    bad = tmp_path / "bad.mlir"
    with pytest.raises(ptq.PTQError, match="keep-int8 is only meaningful in mode weight-int4"):
        ptq.quantize(CNN, STATS, str(bad), keep_int8=["features"])
    assert not bad.exists()


def test_mixed_precision_can_promote_layers_to_int8_weights(tmp_path, capsys):
    """In weight-int4, the automatic mixed precision can give the most
    sensitive layers 8-bit weights instead of keeping them in float."""
    data = batches(40, 1)
    ranking = ptq.sensitivity(CNN, None, data, "weight-int4", 6)
    top = ranking[0]["name"]
    out = tmp_path / "mixed.mlir"
    rep = ptq.mixed_precision(CNN, None, data, str(out), -1000.0, "weight-int4", 6,
                              promote_to="int8")
    assert rep["mixed_precision"]["promote_to"] == "int8"
    assert rep["mixed_precision"]["int8_layers"] == []
    all4 = rep["output_sqnr_db"]
    one = tmp_path / "one.mlir"
    ptq.quantize(CNN, None, str(one), "weight-int4", 6, keep_int8=ptq._keep_exactly([top]))
    ref = np.concatenate([float_cnn(x, cnn_weights()).reshape(-1) for x in data])
    promoted = ptq.sqnr_db(ref, np.concatenate(
        [ptq.run_function(str(one), [x], 1)[0].reshape(-1) for x in data]))
    assert promoted > all4
    target = (all4 + promoted) / 2
    rep = ptq.mixed_precision(CNN, None, data, str(out), target, "weight-int4", 6,
                              promote_to="int8")
    assert rep["mixed_precision"]["int8_layers"] == [top]
    assert [s["int8_layers"] for s in rep["mixed_precision"]["steps"]] == [[], [top]]
    assert rep["output_sqnr_db"] == pytest.approx(promoted, abs=0.05)
    bits = {l["name"]: (l["status"], l["weight_bits"]) for l in rep["layers"]}
    assert bits[top] == ("quantized", 8)
    assert sorted(b for _, b in bits.values()) == [4, 8]
    assert out.read_text() == one.read_text()
    with pytest.raises(ptq.PTQError, match="needs mode weight-int4"):
        ptq.mixed_precision(CNN, STATS, data, str(tmp_path / "x.mlir"), 30.0,
                            promote_to="int8")
    with pytest.raises(ptq.PTQError, match="unknown promotion 'fp16'"):
        ptq.mixed_precision(CNN, None, data, str(tmp_path / "x.mlir"), 30.0,
                            "weight-int4", promote_to="fp16")
    # The command line: --promote-to int8, and its misuse.
    np.savez(tmp_path / "d.npz", x=np.concatenate(data))
    assert ptq.main(["quantize", CNN, "--mode", "weight-int4", "--group-size", "6",
                     "-o", str(tmp_path / "cli.mlir"), "--data", str(tmp_path / "d.npz"),
                     "--target-sqnr", str(target), "--promote-to", "int8"]) == 0
    captured = capsys.readouterr()
    assert f"given int8 weights for the target: {top}" in captured.out
    assert "1 layer(s) in int8" in captured.err
    assert ptq.main(["quantize", CNN, "--mode", "weight-int4", "-o",
                     str(tmp_path / "x.mlir"), "--promote-to", "int8"]) == 1
    assert "--promote-to needs --target-sqnr" in capsys.readouterr().err
    assert not (tmp_path / "x.mlir").exists()


def test_sensitivity_ranks_layers_by_the_error_each_adds_alone(tmp_path):
    data = batches(40, 1)
    ranking = ptq.sensitivity(CNN, STATS, data)
    assert sorted(e["name"] for e in ranking) == ["classifier", "features.0"]
    assert ranking[0]["sqnr_db"] <= ranking[1]["sqnr_db"]
    # Each figure is the SQNR of the model with only that layer quantized.
    w = cnn_weights()
    ref = np.concatenate([float_cnn(x, w).reshape(-1) for x in data])
    for e in ranking:
        other = "features.0" if e["name"] == "classifier" else "classifier"
        out = tmp_path / "one.mlir"
        ptq.quantize(CNN, STATS, str(out), keep_float=["^" + other.replace(".", "\\.") + "$"])
        got = np.concatenate([ptq.run_function(str(out), [x], 1)[0].reshape(-1) for x in data])
        assert e["sqnr_db"] == pytest.approx(ptq.sqnr_db(ref, got), abs=0.05)
        assert 20.0 < e["sqnr_db"] < 200.0


def test_sensitivity_keeps_residual_additions_float(tmp_path):
    """In the per-layer runs of the ranking the residual addition stays
    float (static int8 would quantize it with fc3, which reads it): each
    figure is the SQNR with only that layer quantized, nothing else."""
    model = os.path.join(SRC, "test", "Transforms", "PTQ", "residual-add.mlir")
    stats = os.path.join(SRC, "test", "Transforms", "PTQ", "Inputs",
                         "residual-add-stats.json")
    rng = np.random.default_rng(0)
    data = [rng.uniform(-1, 1, (2, 4)).astype(np.float32) for _ in range(6)]
    ranking = ptq.sensitivity(model, stats, data, entry="residual")
    # tail is @float_reader's layer: quantizing it alone leaves @residual
    # as it is.
    names = ["fc1", "fc2", "fc3", "tail"]
    assert sorted(e["name"] for e in ranking) == names
    assert ranking[-1] == {"name": "tail", "sqnr_db": float("inf")}
    ref = np.concatenate([ptq.run_function(model, [x], 1, "residual")[0].reshape(-1)
                          for x in data])
    for e in ranking:
        out = tmp_path / "one.mlir"
        keep = ["^" + n + "$" for n in names if n != e["name"]] + ["^add$"]
        ptq.quantize(model, stats, str(out), keep_float=keep)
        got = np.concatenate([ptq.run_function(str(out), [x], 1, "residual")[0].reshape(-1)
                              for x in data])
        assert e["sqnr_db"] == pytest.approx(ptq.sqnr_db(ref, got), abs=1e-6)


def test_mixed_precision_keeps_the_fewest_most_sensitive_layers(tmp_path):
    data = batches(40, 1)
    ranking = ptq.sensitivity(CNN, STATS, data)
    out = tmp_path / "mixed.mlir"
    # A target the fully quantized model meets: nothing stays in float, and
    # the output is the plain rewrite's.
    rep = ptq.mixed_precision(CNN, STATS, data, str(out), -1000.0)
    assert rep["mixed_precision"]["float_layers"] == []
    all_q = rep["output_sqnr_db"]
    plain = tmp_path / "plain.mlir"
    ptq.quantize(CNN, STATS, str(plain))
    assert out.read_text() == plain.read_text()
    # With two layers, keeping the most sensitive in float leaves the other
    # one alone quantized: its sensitivity figure. A target between the two
    # keeps exactly the most sensitive layer.
    one_kept = ranking[1]["sqnr_db"]
    assert one_kept > all_q
    target = (all_q + one_kept) / 2
    lines = []
    rep = ptq.mixed_precision(CNN, STATS, data, str(out), target, progress=lines.append)
    kept = ranking[0]["name"]
    assert rep["mixed_precision"]["float_layers"] == [kept]
    assert [s["float_layers"] for s in rep["mixed_precision"]["steps"]] == [[], [kept]]
    assert {l["name"]: l["status"] for l in rep["layers"]}[kept] == "float"
    assert len(lines) == 3 and "sensitivity" in lines[0]
    # The written model meets the target, measured here against numpy.
    w = cnn_weights()
    ref = np.concatenate([float_cnn(x, w).reshape(-1) for x in data])
    got = np.concatenate([ptq.run_function(str(out), [x], 1)[0].reshape(-1) for x in data])
    assert ptq.sqnr_db(ref, got) >= target
    assert ptq.sqnr_db(ref, got) == pytest.approx(rep["output_sqnr_db"], abs=0.05)
    # Out of reach within one float layer: an error, and nothing written.
    missing = tmp_path / "none.mlir"
    with pytest.raises(ptq.PTQError, match="not reached"):
        ptq.mixed_precision(CNN, STATS, data, str(missing), one_kept + 1.0,
                            max_float_layers=1)
    assert not missing.exists()
    with pytest.raises(ptq.PTQError, match="finite"):
        ptq.mixed_precision(CNN, STATS, data, str(missing), float("inf"))


def test_cli_target_sqnr(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", x=np.concatenate(batches(40, 1)))
    out = tmp_path / "q.mlir"
    assert ptq.main(["quantize", CNN, "--stats", STATS, "-o", str(out),
                     "--data", str(tmp_path / "d.npz"), "--target-sqnr", "1000"]) == 0
    captured = capsys.readouterr()
    # Both layers in float: the output is the float model's.
    assert "kept in float for the target: " in captured.out
    assert "2 layer(s) kept in float" in captured.err
    assert ptq.main(["quantize", CNN, "--stats", STATS, "-o", str(tmp_path / "x.mlir"),
                     "--target-sqnr", "30"]) == 1
    assert "needs --data" in capsys.readouterr().err
    assert ptq.main(["quantize", CNN, "--stats", STATS, "-o", str(tmp_path / "x.mlir"),
                     "--max-float-layers", "1"]) == 1
    assert "needs --target-sqnr" in capsys.readouterr().err
    assert not (tmp_path / "x.mlir").exists()


def test_the_entry_defaults_to_the_one_function_with_layers(tmp_path):
    """A model whose function is not `main` (as the PyTorch importer's
    `forward`) calibrates, ranks and reports without naming it; with two
    such functions and no `main`, the error names them."""
    text = open(CNN).read()
    assert "@main(" in text
    forward = tmp_path / "forward.mlir"
    forward.write_text(text.replace("@main(", "@forward("))
    data = batches(40, 1)
    stats = tmp_path / "s.json"
    ptq.calibrate(str(forward), data, str(stats))
    assert set(json.load(open(stats))["observations"]) == \
        set(json.load(open(STATS))["observations"])
    ranking = ptq.sensitivity(str(forward), str(stats), data)
    assert [e["name"] for e in ranking] == [e["name"] for e in ptq.sensitivity(CNN, str(stats), data)]
    rep = ptq.add_sqnr(ptq.quantize(str(forward), str(stats), str(tmp_path / "q.mlir")),
                       str(forward), str(stats), data)
    assert rep["output_sqnr_db"] > 25.0
    body = text[text.index("func.func @main("):]
    two = tmp_path / "two.mlir"
    two.write_text(text.replace("@main(", "@first(") + "\n" +
                   body.replace("@main(", "@second("))
    with pytest.raises(ptq.PTQError, match="first, second"):
        ptq.calibrate(str(two), data, str(tmp_path / "s2.json"))
    assert not (tmp_path / "s2.json").exists()
    ptq.calibrate(str(two), data, str(tmp_path / "s2.json"), entry="second")


def test_quantize_model_is_the_whole_flow_in_one_call(tmp_path):
    data = batches(40, 2)
    out = tmp_path / "flow.mlir"
    lines = []
    rep = ptq.quantize_model(CNN, data, str(out), kind="mse",
                             stats_path=str(tmp_path / "kept.json"), progress=lines.append)
    # The same as the steps one by one.
    stats = tmp_path / "s.json"
    ptq.calibrate(CNN, data, str(stats), kind="mse")
    assert json.load(open(stats))["observations"] == \
        json.load(open(tmp_path / "kept.json"))["observations"]
    steps = tmp_path / "steps.mlir"
    by_steps = ptq.add_sqnr(ptq.quantize(CNN, str(stats), str(steps)), CNN, str(stats), data)
    assert out.read_text() == steps.read_text()
    assert rep["output_sqnr_db"] == by_steps["output_sqnr_db"]
    assert [l.get("sqnr_db") for l in rep["layers"]] == [l.get("sqnr_db") for l in by_steps["layers"]]
    assert any("calibrated (mse)" in l for l in lines)
    # Out of reach: an error, and no output.
    missing = tmp_path / "none.mlir"
    with pytest.raises(ptq.PTQError, match="not reached"):
        ptq.quantize_model(CNN, data, str(missing), target_sqnr_db=1000.0, max_float_layers=0)
    assert not missing.exists()


def test_quantize_model_imports_a_pytorch_model(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(),
                                torch.nn.Linear(16, 4)).eval()
    x = np.random.default_rng(1).standard_normal((60, 8)).astype(np.float32)
    out = tmp_path / "mlp-int8.mlir"
    lines = []
    rep = ptq.quantize_model(model, x, str(out), batch_size=1, progress=lines.append)
    assert "calibration batch 60, output batch 1" in lines[0]
    assert [l["status"] for l in rep["layers"]] == ["quantized", "quantized"]
    assert rep["output_sqnr_db"] > 30.0
    # The written model takes one sample and stays close to PyTorch's.
    assert sqnr_against_torch(model, out.read_text(), x, 1) > 30.0
    with pytest.raises(ptq.PTQError, match="one non-empty array of samples"):
        ptq.quantize_model(model, [x[:10]], str(tmp_path / "bad.mlir"))
    assert not (tmp_path / "bad.mlir").exists()


def sqnr_against_torch(model, text, x, batch):
    """SQNR (dB) of the quantized module `text`, run through the JIT in
    batches of `batch` samples of `x`, against the PyTorch `model`."""
    import torch
    fn = jit.compile(text)["forward"]
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    got = np.concatenate([fn(x[i:i + batch]) for i in range(0, len(x), batch)])
    return ptq.sqnr_db(ref, got)


def test_layers_are_named_after_their_modules(tmp_path):
    """The importer gives each module's ops its qualified name as their
    location (non-ASCII names too), which the report uses."""
    torch = pytest.importorskip("torch")

    class Named(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
            setattr(self, "tête", torch.nn.Linear(8, 2))

        def forward(self, x):
            return getattr(self, "tête")(self.encoder(x))

    torch.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    rep = ptq.quantize_model(Named().eval(), x, str(tmp_path / "named.mlir"))
    assert [l["name"] for l in rep["layers"]] == ["encoder.0", "tête"]


def test_concatenated_layers_requantize_to_their_reader(tmp_path):
    """torch.cat of two conv branches read by a third conv, then a flatten
    into a Linear: every layer but the last writes uint8 with its reader's
    input parameters, and the concatenation and the flatten run on the
    integers (no dequantize is left)."""
    torch = pytest.importorskip("torch")

    class Branches(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Conv2d(1, 4, 3, padding=1)
            self.b = torch.nn.Conv2d(1, 4, 3, padding=1)
            self.c = torch.nn.Conv2d(8, 4, 3, padding=1)
            self.fc = torch.nn.Linear(4 * 8 * 8, 3)

        def forward(self, x):
            y = torch.cat([torch.relu(self.a(x)), torch.relu(self.b(x))], dim=1)
            return self.fc(torch.relu(self.c(y)).flatten(1))

    torch.manual_seed(0)
    model = Branches().eval()
    x = np.random.default_rng(0).standard_normal((64, 1, 8, 8)).astype(np.float32)
    out = tmp_path / "branches.mlir"
    rep = ptq.quantize_model(model, x, str(out), batch_size=16)
    # Layers are named after their modules.
    assert [(l["name"], l["output"]) for l in rep["layers"]] == [
        ("a", "requantized to c"), ("b", "requantized to c"),
        ("c", "requantized to fc"), ("fc", "f32")]
    text = out.read_text()
    assert "quantx.dequantize" not in text
    assert text.count("tensor.insert_slice") == 2 and "xi8> into tensor<16x8x8x8xi8>" in text
    assert rep["output_sqnr_db"] > 30.0
    assert sqnr_against_torch(model, text, x, 16) > 30.0


def test_residual_block_with_float_activations_between_layers(tmp_path):
    """A ResNet-style block (a skip connection added to a conv's output),
    ReLU6, hardswish, BatchNorm1d and global average pooling: every conv and
    the Linear are quantized, the element-wise ops and the pooling between
    them run in float on the layers' f32 outputs, and the model stays close
    to PyTorch's."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(1, 8, 3, padding=1)
            self.c1 = nn.Conv2d(8, 8, 3, padding=1)
            self.c2 = nn.Conv2d(8, 8, 3, padding=1)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.bn = nn.BatchNorm1d(8)
            self.fc = nn.Linear(8, 3)

        def forward(self, x):
            x = nn.functional.relu6(self.stem(x))
            x = nn.functional.hardswish(x + self.c2(torch.relu(self.c1(x))))
            return self.fc(self.bn(self.pool(x).flatten(1)))

    torch.manual_seed(0)
    model = Residual().eval()
    with torch.no_grad():
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
    x = np.random.default_rng(0).standard_normal((64, 1, 8, 8)).astype(np.float32)
    out = tmp_path / "residual.mlir"
    rep = ptq.quantize_model(model, x, str(out), batch_size=16)
    assert [l["status"] for l in rep["layers"]] == ["quantized"] * 4
    # The sum goes to a float hardswish: an int8 result would only round.
    assert [(a["name"], a["status"], a["reason"]) for a in rep["adds"]] == [
        ("add", "float", "no reader of its result is quantized")]
    # So does the pooling: its result goes to the float BatchNorm.
    assert [(p["name"], p["status"]) for p in rep["pools"]] == [("pool", "float")]
    text = out.read_text()
    assert text.count("quantx.conv2d") == 3 and text.count("quantx.matmul") == 1
    assert "quantx.add" not in text and "linalg.pooling_nchw_sum" in text
    assert sqnr_against_torch(model, text, x, 16) > 30.0


@pytest.mark.parametrize("mode", ["static-int8", "dynamic-int8"])
def test_depthwise_and_grouped_convolutions(tmp_path, mode):
    """A MobileNetV2-style inverted residual (1x1 expansion, depthwise 3x3,
    1x1 projection, BatchNorm folded, ReLU6) and a strided conv of 2 groups:
    every conv is one quantx.conv2d with its groups, and the model stays
    close to PyTorch's."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    def block(cin, cout, k=1, act=None, **kw):
        layers = [nn.Conv2d(cin, cout, k, **kw), nn.BatchNorm2d(cout)]
        return nn.Sequential(*layers, *([act] if act else []))

    class InvertedResidual(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = block(1, 8, 3, nn.ReLU6(), padding=1)
            self.expand = block(8, 16, 1, nn.ReLU6())
            self.dw = block(16, 16, 3, nn.ReLU(), padding=1, groups=16)
            self.proj = block(16, 8)
            self.grouped = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=2)
            self.fc = nn.Linear(8, 3)

        def forward(self, x):
            x = self.stem(x)
            x = x + self.proj(self.dw(self.expand(x)))
            x = torch.relu(self.grouped(x))
            return self.fc(nn.functional.adaptive_avg_pool2d(x, 1).flatten(1))

    torch.manual_seed(0)
    model = InvertedResidual().eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
    x = np.random.default_rng(0).standard_normal((64, 1, 8, 8)).astype(np.float32)
    out = tmp_path / "mobile.mlir"
    rep = ptq.quantize_model(model, x, str(out), batch_size=16, mode=mode)
    assert [l["status"] for l in rep["layers"]] == ["quantized"] * 6
    if mode == "static-int8":
        # The expansion's ReLU6 is the saturation of its uint8 output,
        # requantized to the depthwise conv that reads it; the stem's is
        # read by the expansion and the skip connection, the projection's
        # by the addition, whose uint8 sum the grouped conv reads.
        stem, expand, proj = rep["layers"][0], rep["layers"][1], rep["layers"][3]
        assert (expand["name"], expand["clamp_fused"], expand["output"]) == (
            "expand.0", True, "requantized to dw.0")
        assert (stem["clamp_fused"], stem["output"]) == (True, "requantized to expand.0, add")
        assert proj["output"] == "requantized to add"
        assert [(a["name"], a["status"], a["output"]) for a in rep["adds"]] == [
            ("add", "quantized", "requantized to grouped")]
        assert [(p["status"], p["output"]) for p in rep["pools"]] == [
            ("quantized", "requantized to fc")]
    else:
        assert [(a["name"], a["status"]) for a in rep["adds"]] == [("add", "float")]
        assert [p["status"] for p in rep["pools"]] == ["float"]
    text = out.read_text()
    assert text.count("quantx.conv2d") == 5 and "linalg.conv" not in text
    assert "groups = 16 : i64" in text and "groups = 2 : i64" in text
    assert sqnr_against_torch(model, text, x, 16) > 30.0


def test_residual_additions_stay_in_uint8(tmp_path):
    """ResNet basic blocks, relu(x + c2(relu(c1(x)))), one with a strided
    projection shortcut, global average pooling and a Linear: each addition
    becomes a quantx.add of the uint8 its operands' layers write, with the
    ReLU as the saturation of its output, the pooling sums the uint8 of the
    last one, nothing is dequantized before the Linear's f32 result, and
    the model stays close to PyTorch's. Keeping an addition float by name
    keeps the values it reads in f32 too."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride=1):
            super().__init__()
            self.c1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
            self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
            self.down = nn.Conv2d(cin, cout, 1, stride=stride) if stride > 1 else None

        def forward(self, x):
            skip = self.down(x) if self.down is not None else x
            return torch.relu(skip + self.c2(torch.relu(self.c1(x))))

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(1, 8, 3, padding=1)
            self.b1, self.b2, self.b3 = Block(8, 8), Block(8, 16, 2), Block(16, 16)
            self.fc = nn.Linear(16, 5)

        def forward(self, x):
            x = self.b3(self.b2(self.b1(torch.relu(self.stem(x)))))
            return self.fc(nn.functional.adaptive_avg_pool2d(x, 1).flatten(1))

    torch.manual_seed(0)
    model = ResNet().eval()
    x = np.random.default_rng(0).standard_normal((64, 1, 12, 12)).astype(np.float32)
    out = tmp_path / "resnet.mlir"
    rep = ptq.quantize_model(model, x, str(out), batch_size=16)
    assert all(l["status"] == "quantized" for l in rep["layers"])
    adds = {a["name"]: a for a in rep["adds"]}
    assert [(n, a["status"]) for n, a in adds.items()] == [
        ("add", "quantized"), ("add_1", "quantized"), ("add_2", "quantized")]
    assert adds["add"]["relu_fused"] and adds["add"]["output_zero_point"] == 0
    assert adds["add"]["output"] == "requantized to b2.down, b2.c1"
    assert adds["add_1"]["output"] == "requantized to b3.c1, add_2"
    assert adds["add_2"]["output"] == "requantized to avgpool_0"
    # Each sum's SQNR against the float model's, from its kept observation.
    assert all(a["sqnr_db"] > 30.0 for a in adds.values())
    assert [(p["name"], p["status"], p["output"]) for p in rep["pools"]] == [
        ("avgpool_0", "quantized", "requantized to fc")]
    layers = {l["name"]: l for l in rep["layers"]}
    assert layers["stem"]["output"] == "requantized to b1.c1, add"
    assert layers["b1.c2"]["output"] == "requantized to add"
    assert layers["b2.down"]["output"] == "requantized to add_1"
    assert layers["b3.c2"]["output"] == "requantized to add_2"
    text = out.read_text()
    assert text.count("quantx.add") == 3
    assert "quantx.dequantize" not in text and "linalg.pooling" not in text
    assert sqnr_against_torch(model, text, x, 16) > 30.0

    kept = tmp_path / "kept.mlir"
    rep = ptq.quantize_model(model, x, str(kept), batch_size=16, keep_float=["^add_1$"])
    adds = {a["name"]: a for a in rep["adds"]}
    assert [a["status"] for a in adds.values()] == ["quantized", "float", "quantized"]
    assert adds["add_1"]["reason"] == "keep-float"
    layers = {l["name"]: l for l in rep["layers"]}
    assert layers["b2.c2"]["output"] == "f32" and layers["b2.down"]["output"] == "f32"
    assert layers["b1.c2"]["output"] == "requantized to add"
    assert sqnr_against_torch(model, kept.read_text(), x, 16) > 30.0


@pytest.mark.parametrize("mode", ["static-int8", "dynamic-int8"])
def test_grouped_convolutions_per_group_gemm_match_the_direct_form(tmp_path, mode):
    """Grouped convolutions with 3 or more input channels per group are
    lowered as one im2col product per group (the GEMM path); the integer
    accumulation is exact, so the model's output is bit for bit the one the
    direct 7-loop form (conv-im2col=false) computes, and it stays close to
    PyTorch's."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(12, 8, 3, padding=1, groups=2), nn.ReLU(),
        nn.Conv2d(8, 6, 3, stride=2, groups=2, bias=False)).eval()
    x = np.random.default_rng(2).standard_normal((16, 12, 9, 9)).astype(np.float32)
    out = tmp_path / "grouped.mlir"
    ptq.quantize_model(model, x, str(out), batch_size=8, mode=mode)
    text = out.read_text()
    assert text.count("groups = 2 : i64") == 2
    direct = tmp_path / "direct.mlir"
    r = subprocess.run([ptq._tool("quantx-opt"), str(out),
                        "-convert-quantx-to-linalg=conv-im2col=false", "-o", str(direct)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    per_group = jit.compile(text)["forward"]
    reference = jit.compile(direct.read_text())["forward"]
    for i in range(0, 16, 8):
        np.testing.assert_array_equal(per_group(x[i:i + 8]), reference(x[i:i + 8]))
    assert sqnr_against_torch(model, text, x, 8) > 30.0


@pytest.mark.parametrize("mode", ["static-int8", "dynamic-int8"])
@pytest.mark.parametrize("kernel,stride,padding,dilation,groups,bias", [
    ((3, 3), (1, 1), (1, 1), (1, 1), 1, True),
    ((1, 5), (1, 1), (0, 2), (1, 1), 1, True),
    ((3, 2), (2, 1), (1, 0), (1, 1), 2, False),
    ((3, 3), (2, 2), (0, 2), (2, 1), 4, True),
    ((1, 1), (2, 2), (0, 0), (1, 1), 1, False),
    ((2, 4), (1, 1), "same", (1, 1), 1, True)])  # padded unevenly
def test_convolution_forms_match_pytorch(tmp_path, mode, kernel, stride, padding, dilation,
                                         groups, bias):
    """Kernels, strides, paddings (different per dimension), dilations and
    groups of a conv + ReLU read by a second conv: the quantized model
    stays close to PyTorch's."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(4, 8, kernel, stride=stride, padding=padding, dilation=dilation,
                  groups=groups, bias=bias),
        nn.ReLU(), nn.Conv2d(8, 4, 3, padding=1)).eval()
    x = np.random.default_rng(1).standard_normal((8, 4, 11, 13)).astype(np.float32)
    out = tmp_path / "conv.mlir"
    rep = ptq.quantize_model(model, x, str(out), batch_size=4, mode=mode)
    assert [l["status"] for l in rep["layers"]] == ["quantized"] * 2
    assert sqnr_against_torch(model, out.read_text(), x, 4) > 30.0


@pytest.mark.parametrize("mode,group_size,cin,cout,kernel,stride,padding,dilation,groups,group", [
    # group: the reported weight elements per scale (the filter's C/G*KH*KW
    # when group-size is not a whole number of its input channels).
    ("weight-int8", 0, 8, 16, (3, 3), (1, 1), (1, 1), (1, 1), 1, 72),
    ("weight-int4", 0, 8, 16, (3, 3), (2, 2), (1, 1), (1, 1), 1, 72),
    ("weight-int4", 18, 8, 16, (3, 3), (1, 1), (1, 1), (1, 1), 1, 18),
    ("weight-int4", 16, 8, 16, (3, 3), (1, 1), (1, 1), (1, 1), 1, 72),
    ("weight-int4", 12, 8, 6, (3, 2), (1, 2), (2, 0), (2, 1), 2, 12),  # im2col per group
    ("weight-int4", 9, 16, 16, (3, 3), (1, 1), (1, 1), (1, 1), 16, 9),  # depthwise
    ("weight-int8", 0, 12, 8, (1, 1), (1, 1), (0, 0), (1, 1), 4, 3)])  # direct form
def test_weight_only_convolutions_compute_with_the_dequantized_filters(
        tmp_path, mode, group_size, cin, cout, kernel, stride, padding, dilation, groups,
        group):
    """Weight-only modes quantize convolutions too: the filter in int8 or
    int4, one scale per output channel or per group of whole input
    channels, the activations f32. The result is the convolution with the
    dequantized filter (codes recomputed here from the reported scales),
    bias and ReLU, within the worst-case error of its f32 sum."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, dilation=dilation,
                     groups=groups)
    model = nn.Sequential(conv, nn.ReLU()).eval()
    x = np.random.default_rng(3).standard_normal((4, cin, 9, 10)).astype(np.float32)
    out = tmp_path / "conv.mlir"
    rep = ptq.quantize_model(model, x, str(out), batch_size=4, mode=mode,
                             group_size=group_size)
    layer = rep["layers"][0]
    assert (layer["status"], layer["weight_group"], layer["relu_fused"]) == (
        "quantized", group, True)
    assert ("weight_note" in layer) == (group_size > 0 and group != group_size)
    assert layer["weight_granularity"] == ("per_group" if group < cin // groups *
                                           kernel[0] * kernel[1] else "per_channel")
    text = out.read_text()
    assert "linalg.conv" not in text and "quantx.conv2d" in text

    w = conv.weight.detach().numpy()
    qmax = 127 if mode == "weight-int8" else 7
    rows = w.reshape(cout, -1, group)
    scales = np.array(layer["weight_scales"], np.float32).reshape(cout, -1, 1)
    codes = np.clip(np.rint(rows / scales), -qmax, qmax)
    deq = (codes * scales).reshape(w.shape).astype(np.float64)
    args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    xt = torch.from_numpy(x).double()
    exact = torch.nn.functional.conv2d(xt, torch.from_numpy(deq),
                                       conv.bias.detach().double(), **args)
    magnitude = torch.nn.functional.conv2d(xt.abs(), torch.from_numpy(np.abs(deq)),
                                           conv.bias.detach().double().abs(), **args)
    k = deq[0].size
    bound = (k + 2) * np.finfo(np.float32).eps * magnitude.numpy()
    y = jit.compile(text)["forward"](x)
    assert np.all(np.abs(y - torch.relu(exact).numpy()) <= bound)


def test_one_dimensional_cnn(tmp_path):
    """Conv1d (with BatchNorm1d folded), MaxPool1d and global average
    pooling, as the 2-D ops on [N, C, 1, L]: every conv is quantized with
    its bias and the ReLU that reads it back as [N, C, L] fused, the
    layers and poolings pass uint8 to each other, and the model stays close
    to PyTorch's."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv1d(2, 8, 5, padding=2), nn.BatchNorm1d(8), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(8, 8, 3, padding=1, groups=2), nn.ReLU(), nn.AdaptiveAvgPool1d(1),
        nn.Flatten(), nn.Linear(8, 3)).eval()
    with torch.no_grad():
        model[1].running_mean.uniform_(-0.3, 0.3)
        model[1].running_var.uniform_(0.5, 2.0)
    x = np.random.default_rng(0).standard_normal((64, 2, 32)).astype(np.float32)
    out = tmp_path / "cnn1d.mlir"
    rep = ptq.quantize_model(model, x, str(out), batch_size=16)
    assert [(l["name"], l["status"]) for l in rep["layers"]] == [
        ("0", "quantized"), ("4", "quantized"), ("8", "quantized")]
    assert [(l["bias"], l["relu_fused"], l["output"]) for l in rep["layers"][:2]] == [
        (True, True, "requantized to 4"), (True, True, "requantized to 6")]
    assert [(p["name"], p["status"]) for p in rep["pools"]] == [("6", "quantized")]
    text = out.read_text()
    assert text.count("quantx.conv2d") == 2 and "linalg.conv" not in text
    assert "quantx.dequantize" not in text and "arith.addf" not in text
    assert sqnr_against_torch(model, text, x, 16) > 30.0


@pytest.mark.parametrize("mode", ["static-int8", "dynamic-int8"])
def test_attention_products_stay_float(tmp_path, mode):
    """A causal self-attention block on token ids: the projections are
    quantized and named after their modules, the two products of
    activations (Q K^T and P V) stay float with the reason in the report,
    and the model stays close to PyTorch's."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Attention(nn.Module):
        def __init__(self, vocab=20, dim=16, heads=2):
            super().__init__()
            self.heads, self.hd = heads, dim // heads
            self.embed = nn.Embedding(vocab, dim)
            self.q_proj, self.k_proj, self.v_proj, self.o_proj = (
                nn.Linear(dim, dim, bias=False) for _ in range(4))
            self.head = nn.Linear(dim, vocab)
            self.register_buffer("mask", torch.full((12, 12), float("-inf")).triu(1))

        def forward(self, ids):
            x = self.embed(ids)
            b, t, d = x.shape[0], x.shape[1], x.shape[2]
            q, k, v = (p(x).reshape(b, t, self.heads, self.hd).transpose(1, 2)
                       for p in (self.q_proj, self.k_proj, self.v_proj))
            att = torch.softmax(q @ k.transpose(-2, -1) / self.hd ** 0.5 + self.mask[:t, :t],
                                dim=-1)
            y = (att @ v).transpose(1, 2).reshape(b, t, d)
            return self.head(x + self.o_proj(y))

    torch.manual_seed(0)
    model = Attention().eval()
    ids = np.random.default_rng(0).integers(0, 20, (32, 12)).astype(np.int64)
    out = tmp_path / "attention.mlir"
    rep = ptq.quantize_model(model, ids, str(out), batch_size=8, mode=mode)
    status = {l["name"]: (l["status"], l.get("reason")) for l in rep["layers"]}
    for name in ("q_proj", "k_proj", "v_proj", "o_proj", "head"):
        assert status.pop(name) == ("quantized", None)
    assert list(status.values()) == [
        ("float", "no constant operand (both are computed at run time): not quantized")] * 2
    assert "no constant operand" in ptq.format_report(rep)
    assert sqnr_against_torch(model, out.read_text(), ids, 8) > 30.0


def test_cli_run(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", x=np.concatenate(batches(40, 2)))
    out = tmp_path / "q.mlir"
    assert ptq.main(["run", CNN, "--data", str(tmp_path / "d.npz"), "-o", str(out),
                     "--kind", "percentile", "--percentile", "99.9",
                     "--report", str(tmp_path / "r.json")]) == 0
    captured = capsys.readouterr()
    assert "output SQNR vs float" in captured.out and "classifier" in captured.out
    assert "calibrated (percentile)" in captured.err
    assert json.load(open(tmp_path / "r.json"))["output_sqnr_db"] > 25.0
    assert out.exists()
    assert ptq.main(["run", CNN, "--data", str(tmp_path / "d.npz"), "-o",
                     str(tmp_path / "x.mlir"), "--max-float-layers", "1"]) == 1
    assert "needs target_sqnr_db" in capsys.readouterr().err
    assert not (tmp_path / "x.mlir").exists()


def test_cli_quantize_prints_the_report_and_output_sqnr(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", x=np.concatenate(batches(50, 2)))
    out = tmp_path / "q.mlir"
    rep = tmp_path / "r.json"
    stats = tmp_path / "s.json"
    assert ptq.main(["calibrate", CNN, "--data", str(tmp_path / "d.npz"),
                     "--stats", str(stats)]) == 0
    assert ptq.main(["quantize", CNN, "--stats", str(stats), "-o", str(out),
                     "--report", str(rep), "--data", str(tmp_path / "d.npz")]) == 0
    text = capsys.readouterr().out
    assert "features.0" in text and "classifier" in text
    assert "72 -> 26" in text and "output SQNR vs float" in text
    r = json.load(open(rep))
    assert r["output_sqnr_db"] > 25.0
    # Per-layer SQNR against the float model's layer outputs: the last
    # layer's output is the model's output, so both figures agree; the
    # conv's (after bias and ReLU, requantized) is measured on its own.
    assert [l["name"] for l in r["layers"]] == ["features.0", "classifier"]
    assert r["layers"][1]["sqnr_db"] == pytest.approx(r["output_sqnr_db"], abs=1e-6)
    assert 20.0 < r["layers"][0]["sqnr_db"] < 80.0
    assert "SQNR dB" in text


@pytest.mark.parametrize("kind", ["histogram", "percentile", "entropy", "mse"])
def test_statistics_of_any_observer_kind_quantize(tmp_path, kind):
    # quantize() re-creates the observers the statistics were collected
    # with; before, only min/max statistics were accepted.
    stats = tmp_path / "s.json"
    ptq.calibrate(CNN, batches(1, 4), str(stats), kind=kind)
    out = tmp_path / "q.mlir"
    ptq.quantize(CNN, str(stats), str(out))
    text = out.read_text()
    assert "quantx.conv2d" in text and "quantx.matmul" in text
    x = batches(30, 1)[0]
    (y,) = ptq.run_function(str(out), [x], 1)
    assert ptq.sqnr_db(float_cnn(x, cnn_weights()), y) > 15.0


def test_run_function_compiles_each_file_once_and_matches_quantx_run(tmp_path, monkeypatch):
    from quantx import jit
    out = tmp_path / "q.mlir"
    ptq.quantize(CNN, STATS, str(out))
    x = batches(40, 1)[0]
    calls = []
    real = jit.compile
    monkeypatch.setattr(jit, "compile", lambda *a, **k: calls.append(1) or real(*a, **k))
    (a,) = ptq.run_function(str(out), [x], 1)
    (b,) = ptq.run_function(str(out), [x], 1)
    assert len(calls) == 1
    np.testing.assert_array_equal(a, b)
    # The quantx-run path (used when the JIT library is missing) agrees.
    monkeypatch.setattr(ptq, "_jit_function", lambda *a: None)
    (c,) = ptq.run_function(str(out), [x], 1)
    np.testing.assert_array_equal(a, c)
    with pytest.raises(ptq.PTQError, match="running the model failed"):
        monkeypatch.undo()
        ptq.run_function(str(out), [x[:1]], 1)


def test_format_report_lists_additions_and_poolings():
    """The report table has one table per kind, with each float entry's
    reason once (keep-float is asked for, so not repeated)."""
    rep = {"layers": [{"name": "fc", "status": "quantized", "input_scale": 0.1,
                       "input_zero_point": 3, "weight_scales": [0.01, 0.02],
                       "weight_bits": 8, "weight_granularity": "per_channel",
                       "weight_group": 2,
                       "bytes_before": 8, "bytes_after": 2, "sqnr_db": 40.0},
                      {"name": "conv", "status": "quantized", "weight_scales": [0.5] * 4,
                       "weight_bits": 4, "weight_granularity": "per_group",
                       "weight_group": 18, "bytes_before": 144, "bytes_after": 34},
                      {"name": "conv_1", "status": "quantized", "weight_scales": [0.25],
                       "weight_bits": 4, "weight_granularity": "per_channel",
                       "weight_group": 9, "bytes_before": 36, "bytes_after": 9,
                       "weight_note": "group-size 16 is not a whole number"},
                      {"name": "matmul_1", "status": "float", "bytes_before": 0,
                       "bytes_after": 0, "reason": "no constant operand"}],
           "adds": [{"name": "add", "status": "quantized", "relu_fused": True,
                     "lhs_scale": 0.1, "rhs_scale": 0.2, "output_scale": 0.3,
                     "output_zero_point": 0, "sqnr_db": 33.25},
                    {"name": "add_1", "status": "float",
                     "reason": "no reader of its result is quantized"},
                    {"name": "add_2", "status": "float", "reason": "keep-float"}],
           "pools": [{"name": "pool", "status": "quantized", "input_scale": 0.1,
                      "output_scale": 0.05, "output_zero_point": 7}]}
    lines = ptq.format_report(rep).splitlines()
    assert lines[0].split()[:3] == ["layer", "status", "weights"]
    assert lines[1].split() == ["fc", "quantized", "int8", "0.1", "3", "0.02", "8", "->", "2",
                                "40.00"]
    # Weight-only: no input parameters; grouped weights name their group.
    assert lines[2].split() == ["conv", "quantized", "int4", "g18", "-", "-", "0.5", "144",
                                "->", "34", "-"]
    assert lines[3].split()[:3] == ["conv_1", "quantized", "int4"]
    # A product without weights has no bytes to compare.
    assert lines[4].split() == ["matmul_1", "float", "-", "-", "-", "-", "-", "-"]
    assert "float: matmul_1: no constant operand" in lines
    assert "weights: conv_1: group-size 16 is not a whole number" in lines
    assert lines[8].split()[:2] == ["addition", "status"]
    assert lines[9].split() == ["add", "quantized", "+relu", "0.1", "0.2", "0.3", "0", "33.25"]
    assert "float: add_1: no reader of its result is quantized" in lines
    assert not any("add_2:" in l for l in lines)
    assert lines[-2].split()[:2] == ["avg", "pooling"]
    assert lines[-1].split() == ["pool", "quantized", "0.1", "0.05", "7", "-"]


def test_calibration_records_the_channel_means_of_layer_inputs(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                                torch.nn.Flatten(), torch.nn.Linear(4 * 5 * 5, 6)).eval()
    x = (np.random.default_rng(2).standard_normal((20, 3, 5, 5)) +
         np.array([0.5, -1.0, 2.0]).reshape(1, 3, 1, 1)).astype(np.float32)
    path = tmp_path / "m.mlir"
    from quantx import importer
    path.write_text(importer.import_module(model, (torch.from_numpy(x[:10]),)))
    stats = ptq.calibrate(str(path), [x[:10], x[10:]], str(tmp_path / "s.json"))
    obs = stats["observations"]
    conv_in = next(v for k, v in obs.items() if k.endswith(".input") and len(v.get("channel_mean", [])) == 3)
    assert conv_in["mean_axis"] == 1
    np.testing.assert_allclose(conv_in["channel_mean"], x.mean(axis=(0, 2, 3)), rtol=1e-6)
    with torch.no_grad():
        hidden = model[:3](torch.from_numpy(x)).numpy()
    fc_in = next(v for k, v in obs.items() if len(v.get("channel_mean", [])) == 100)
    assert fc_in["mean_axis"] == 1
    np.testing.assert_allclose(fc_in["channel_mean"], hidden.mean(axis=0), rtol=1e-5, atol=1e-6)
    # Layer outputs have no means.
    assert all("channel_mean" not in v for k, v in obs.items() if k.endswith(".output"))


def output_mean_error(model, text, x):
    """Per output channel, the mean over every other axis of the quantized
    module's output less PyTorch's, on `x` (one batch)."""
    import torch
    got = jit.compile(text)["forward"](x)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    axes = tuple(a for a in range(ref.ndim) if a != 1)
    return (got.astype(np.float64) - ref).mean(axis=axes)


def test_bias_correction_cancels_the_mean_error_of_quantized_weights(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    # Inputs are integers in [0, 255] with both ends in the batch, so that
    # dynamic int8's run-time quantization is exact (scale 1, zero point 0)
    # and only the weights err: on the calibration data, the corrected
    # layer's mean error is then 0 up to float rounding. The features' means
    # differ (and are far from 0).
    rng = np.random.default_rng(3)
    x = np.clip(rng.normal(np.linspace(20, 230, 64), 20, (128, 64)).round(), 0, 255)
    x[0, 0], x[1, 0] = 0, 255
    x = x.astype(np.float32)
    linear = torch.nn.Linear(64, 8).eval()
    err = {}
    for bc in (False, True):
        out = tmp_path / f"linear-{bc}.mlir"
        rep = ptq.quantize_model(linear, x, str(out), mode="dynamic-int8",
                                 calibration_batch=128, bias_correction=bc)
        assert ("bias_correction" in rep["layers"][0]) == bc
        err[bc] = np.abs(output_mean_error(linear, out.read_text(), x))
    assert err[False].max() > 1e-2
    assert err[True].max() < 1e-3 * err[False].max()

    # A grouped, strided, padded convolution without bias. Each channel is
    # constant over the image, so its mean is the same at every position
    # and the padding-weighted column means are exact.
    conv = torch.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, bias=False).eval()
    v = rng.integers(0, 256, (64, 4)).astype(np.float32)
    v[0], v[1] = 0.0, 255.0
    img = np.ascontiguousarray(np.broadcast_to(v[:, :, None, None], (64, 4, 7, 7)))
    for bc in (False, True):
        out = tmp_path / f"conv-{bc}.mlir"
        ptq.quantize_model(conv, img, str(out), mode="dynamic-int8",
                           calibration_batch=64, bias_correction=bc)
        err[bc] = np.abs(output_mean_error(conv, out.read_text(), img))
    assert err[False].max() > 1e-2
    assert err[True].max() < 1e-3 * err[False].max()

    # Weight-only int4 in groups of 16 (a scale per group). Its kernels
    # quantize the activations to int8 per group of 16, which leaves a
    # small mean error of their own (measured: 190x below the weights').
    xf = (rng.standard_normal((128, 64)) * 0.5 + np.linspace(-2, 3, 64)).astype(np.float32)
    for bc in (False, True):
        out = tmp_path / f"int4-{bc}.mlir"
        ptq.quantize_model(linear, xf, str(out), mode="weight-int4", group_size=16,
                           calibration_batch=128, bias_correction=bc)
        err[bc] = np.abs(output_mean_error(linear, out.read_text(), xf))
    assert err[False].max() > 1e-2
    assert err[True].max() < 0.02 * err[False].max()

    # A weight-only int4 convolution (groups of 18 = 2 input channels of 3x3
    # taps; f32 activations, so only the weights err) on constant channels.
    conv = torch.nn.Conv2d(8, 6, 3, stride=2, padding=1, groups=2, bias=False).eval()
    v = rng.integers(0, 256, (64, 8)).astype(np.float32)
    img = np.ascontiguousarray(np.broadcast_to(v[:, :, None, None], (64, 8, 7, 7)))
    for bc in (False, True):
        out = tmp_path / f"conv-int4-{bc}.mlir"
        rep = ptq.quantize_model(conv, img, str(out), mode="weight-int4", group_size=18,
                                 calibration_batch=64, bias_correction=bc)
        assert rep["layers"][0]["weight_group"] == 18
        err[bc] = np.abs(output_mean_error(conv, out.read_text(), img))
    assert err[False].max() > 1e-2
    assert err[True].max() < 1e-3 * err[False].max()


def test_bias_correction_needs_statistics_with_channel_means(tmp_path, capsys):
    with pytest.raises(ptq.PTQError, match="bias correction needs a statistics file"):
        ptq.quantize(CNN, None, str(tmp_path / "q.mlir"), mode="dynamic-int8",
                     bias_correction=True)
    # The committed statistics predate the means: a clear error, no file.
    assert ptq.main(["quantize", CNN, "--stats", STATS, "-o", str(tmp_path / "q.mlir"),
                     "--bias-correction"]) == 1
    assert "needs the per-channel means of its input observation" in capsys.readouterr().err
    assert not (tmp_path / "q.mlir").exists()
    # With this version's calibration, the CLI corrects the bias.
    np.savez(tmp_path / "d.npz", x=np.concatenate(batches(40, 2)))
    assert ptq.main(["run", CNN, "--data", str(tmp_path / "d.npz"), "-o",
                     str(tmp_path / "q.mlir"), "--bias-correction",
                     "--report", str(tmp_path / "r.json")]) == 0
    layers = json.load(open(tmp_path / "r.json"))["layers"]
    assert all(l["bias_correction"] > 0 for l in layers)


def outlier_data(seed):
    """Two batches of standard normal LINEAR inputs with outliers at 50, 48
    and -40 (as in test_outlier_is_clipped_by_range_searching_observers)."""
    rng = np.random.default_rng(seed)
    data = [rng.standard_normal((8192, 16)).astype(np.float32) for _ in range(2)]
    data[1][5, 7], data[0][1, 1], data[1][9, 3] = 50.0, 48.0, -40.0
    return data


def linear_selection_case(tmp_path, seed):
    """LINEAR written to `tmp_path`, calibration data with outliers and two
    batches of outlier-free validation data: (model, calib, validation)."""
    model = tmp_path / "fc.mlir"
    model.write_text(LINEAR)
    rng = np.random.default_rng(seed + 1)
    validation = [rng.standard_normal((8192, 16)).astype(np.float32) for _ in range(2)]
    return model, outlier_data(seed), validation


def test_select_observer_keeps_the_kind_most_faithful_on_validation_data(tmp_path):
    model, calib, validation = linear_selection_case(tmp_path, 5)
    stats = tmp_path / "s.json"
    lines = []
    sel = ptq.select_observer(str(model), calib, validation, str(stats),
                              progress=lines.append)
    kinds = [c["kind"] for c in sel["candidates"]]
    assert kinds == list(ptq.SELECT_KINDS) and sel["criterion"] == "output SQNR"
    assert all("accuracy" not in c for c in sel["candidates"])
    # Each candidate's figure is that of the flow step by step.
    reference = np.concatenate([ptq.run_function(str(model), [x], 1)[0]
                                for x in validation])
    for c in sel["candidates"]:
        s, q = tmp_path / f"{c['kind']}.json", tmp_path / f"{c['kind']}.mlir"
        ptq.calibrate(str(model), calib, str(s), kind=c["kind"])
        ptq.quantize(str(model), str(s), str(q))
        got = np.concatenate([ptq.run_function(str(q), [x], 1)[0] for x in validation])
        assert c["output_sqnr_db"] == pytest.approx(ptq.sqnr_db(reference, got), abs=1e-9)
    by_kind = {c["kind"]: c["output_sqnr_db"] for c in sel["candidates"]}
    # The outliers widen min/max's range (and histogram's, which keeps the
    # whole range): the clipping observers are more faithful on outlier-free
    # data, and the best of them wins.
    assert max(by_kind["percentile"], by_kind["entropy"], by_kind["mse"]) > \
        by_kind["min_max"] + 3.0
    assert sel["observer"] == max(kinds, key=lambda k: by_kind[k])
    assert sel["observer"] not in ("min_max", "histogram")
    on_disk = json.load(open(stats))
    assert on_disk["selection"] == json.loads(json.dumps(sel))
    assert on_disk["observations"] == \
        json.load(open(tmp_path / f"{sel['observer']}.json"))["observations"]
    assert len(lines) == len(kinds) + 1 and sel["observer"] in lines[-1]
    # The file quantizes as any statistics file does.
    ptq.quantize(str(model), str(stats), str(tmp_path / "chosen.mlir"))
    assert (tmp_path / "chosen.mlir").read_text() == \
        (tmp_path / f"{sel['observer']}.mlir").read_text()


def test_select_observer_with_labels_ranks_by_accuracy_then_sqnr(tmp_path):
    model, calib, validation = linear_selection_case(tmp_path, 7)
    w = np.array(re.findall(r"-?\d+\.\d+", LINEAR.split("dense<")[1].split(">")[0]),
                 np.float32).reshape(16, 2)
    labels = np.concatenate([(x @ w).argmax(1) for x in validation])
    np.savez(tmp_path / "v.npz", x=np.concatenate(validation), y=labels)
    sel = ptq.select_observer(str(model), calib, str(tmp_path / "v.npz"),
                              str(tmp_path / "s.json"), kinds=["min_max", "mse", "entropy"],
                              labels="y")
    assert sel["criterion"] == "accuracy, then output SQNR"
    assert [c["kind"] for c in sel["candidates"]] == ["min_max", "mse", "entropy"]
    for c in sel["candidates"]:
        q = tmp_path / "q.mlir"
        ptq.calibrate(str(model), calib, str(tmp_path / "k.json"), kind=c["kind"])
        ptq.quantize(str(model), str(tmp_path / "k.json"), str(q))
        got = np.concatenate([ptq.run_function(str(q), [x], 1)[0] for x in validation])
        assert c["accuracy"] == float(np.mean(got.argmax(1) == labels))
    # The labels are the float model's own classes: the coarse min/max
    # range flips more of them.
    acc = {c["kind"]: c["accuracy"] for c in sel["candidates"]}
    assert acc["min_max"] < max(acc["mse"], acc["entropy"])
    best = max(sel["candidates"], key=lambda c: (c["accuracy"], c["output_sqnr_db"]))
    assert sel["observer"] == best["kind"]


def test_select_observer_errors_write_nothing(tmp_path, capsys):
    model = tmp_path / "fc.mlir"
    model.write_text(LINEAR)
    calib = outlier_data(9)
    out = tmp_path / "s.json"
    with pytest.raises(ptq.PTQError, match="unknown observer kind 'minmax'"):
        ptq.select_observer(str(model), calib, calib, str(out), kinds=["minmax"])
    with pytest.raises(ptq.PTQError, match="listed twice"):
        ptq.select_observer(str(model), calib, calib, str(out), kinds=["mse", "mse"])
    with pytest.raises(ptq.PTQError, match="no observer kind"):
        ptq.select_observer(str(model), calib, calib, str(out), kinds=[])
    with pytest.raises(ptq.PTQError, match="8191 labels for 16384 samples"):
        ptq.select_observer(str(model), calib, calib, str(out),
                            labels=np.zeros(8191, np.int64))
    with pytest.raises(ptq.PTQError, match=r"validation batch 0, argument 0: shape"):
        ptq.select_observer(str(model), calib, [np.zeros((4, 16), np.float32)], str(out))
    assert not out.exists()
    q = tmp_path / "q.mlir"
    with pytest.raises(ptq.PTQError, match="'auto' needs validation data"):
        ptq.quantize_model(str(model), calib, str(q), kind="auto")
    with pytest.raises(ptq.PTQError, match="need observer kind 'auto'"):
        ptq.quantize_model(str(model), calib, str(q), kind="mse", validation=calib)
    assert not q.exists()
    np.savez(tmp_path / "d.npz", x=np.concatenate(calib))
    assert ptq.main(["calibrate", str(model), "--data", str(tmp_path / "d.npz"),
                     "--stats", str(out), "--kind", "auto"]) == 1
    assert "--kind auto needs --validation" in capsys.readouterr().err
    assert ptq.main(["run", str(model), "--data", str(tmp_path / "d.npz"), "-o", str(q),
                     "--validation", str(tmp_path / "d.npz")]) == 1
    assert "they need --kind auto" in capsys.readouterr().err
    assert not out.exists() and not q.exists()


def test_cli_kind_auto(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", x=np.concatenate(batches(60, 2)))
    np.savez(tmp_path / "v.npz", x=np.concatenate(batches(61, 3)))
    stats = tmp_path / "s.json"
    assert ptq.main(["calibrate", CNN, "--data", str(tmp_path / "d.npz"),
                     "--stats", str(stats), "--kind", "auto",
                     "--validation", str(tmp_path / "v.npz")]) == 0
    captured = capsys.readouterr()
    sel = json.load(open(stats))["selection"]
    assert f"selected observer {sel['observer']}" in captured.err
    assert "observations over 2 batches" in captured.out
    out = tmp_path / "q.mlir"
    assert ptq.main(["run", CNN, "--data", str(tmp_path / "d.npz"), "-o", str(out),
                     "--kind", "auto", "--validation", str(tmp_path / "v.npz"),
                     "--report", str(tmp_path / "r.json")]) == 0
    text = capsys.readouterr().out
    assert f"observer: {sel['observer']} (by output SQNR on the validation data" in text
    assert json.load(open(tmp_path / "r.json"))["observer_selection"] == sel


def test_select_observer_full_ties_go_to_the_kind_listed_first(tmp_path):
    # The histogram observer's default range is the data's whole range, as
    # min/max's: the same statistics, the same model, a full tie.
    model = tmp_path / "fc.mlir"
    model.write_text(LINEAR)
    calib = outlier_data(10)
    for kinds in (["histogram", "min_max"], ["min_max", "histogram"]):
        sel = ptq.select_observer(str(model), calib, calib, str(tmp_path / "s.json"),
                                  kinds=kinds)
        a, b = sel["candidates"]
        assert a["output_sqnr_db"] == b["output_sqnr_db"]
        assert sel["observer"] == kinds[0]


@pytest.mark.parametrize("bad", ["nodir/out", "adir", "", "new/"])
def test_bad_output_paths_are_clear_errors(tmp_path, capsys, bad):
    """A missing directory, a directory, an empty path, a directory name:
    an error naming the path for every output, before any work."""
    (tmp_path / "adir").mkdir()
    path = os.path.join(str(tmp_path), bad) if bad else ""
    np.savez(tmp_path / "d.npz", x=np.concatenate(batches(70, 2)))
    data, out = str(tmp_path / "d.npz"), str(tmp_path / "q.mlir")
    reason = "empty output path" if not bad else f"cannot write '{re.escape(path)}'"
    with pytest.raises(ptq.PTQError, match=reason):
        ptq.calibrate(CNN, batches(70, 2), path)
    for args in (["calibrate", CNN, "--data", data, "--stats", path],
                 ["quantize", CNN, "--stats", STATS, "-o", path],
                 ["quantize", CNN, "--stats", STATS, "-o", out, "--report", path],
                 ["run", CNN, "--data", data, "-o", out, "--report", path]):
        assert ptq.main(args) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and re.search(reason, err), err
        assert not os.path.exists(out)
    assert sorted(os.listdir(tmp_path)) == ["adir", "d.npz"]


def test_outputs_keep_links_write_fifos_in_place_and_get_usual_modes(tmp_path):
    real, link, fifo = tmp_path / "real.json", tmp_path / "link.json", tmp_path / "fifo"
    real.write_text("old")
    os.chmod(real, 0o640)
    link.symlink_to("real.json")
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so that a writer can open it
    old_umask = os.umask(0o027)
    try:
        ptq.quantize(CNN, STATS, str(tmp_path / "q.mlir"), report=str(link))
        stats = ptq.calibrate(CNN, batches(71, 2), str(fifo))
        written = os.read(reader, 1 << 20)
    finally:
        os.umask(old_umask)
        os.close(reader)
    # The link still points at the file, whose content is replaced, its mode kept.
    assert link.is_symlink() and os.readlink(link) == "real.json"
    assert json.loads(real.read_text())["layers"] and real.stat().st_mode & 0o777 == 0o640
    # A new file's mode is 0666 less the umask (not mkstemp's 0600).
    assert (tmp_path / "q.mlir").stat().st_mode & 0o777 == 0o640
    assert json.loads(written) == json.loads(json.dumps(stats))
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]


def test_failed_commands_write_no_output(tmp_path, capsys):
    """Nothing is written, nor an existing file replaced, unless the whole
    command succeeds."""
    np.savez(tmp_path / "d.npz", x=np.concatenate(batches(72, 2)))
    data = str(tmp_path / "d.npz")
    out, rep, stats = tmp_path / "q.mlir", tmp_path / "r.json", tmp_path / "s.json"
    out.write_text("old model")
    # The SQNR measurement fails after the rewrite.
    assert ptq.main(["quantize", CNN, "--stats", STATS, "-o", str(out), "--report",
                     str(rep), "--data", str(tmp_path / "missing.npz")]) == 1
    assert "cannot read calibration data" in capsys.readouterr().err
    assert out.read_text() == "old model" and not rep.exists()
    # The rewrite fails after calibration.
    assert ptq.main(["run", CNN, "--data", data, "-o", str(out), "--stats", str(stats),
                     "--report", str(rep), "--keep-float", "("]) == 1
    assert "bad keep-float pattern '('" in capsys.readouterr().err
    assert out.read_text() == "old model" and not rep.exists() and not stats.exists()
    with pytest.raises(ptq.PTQError, match="bad keep-float pattern"):
        ptq.quantize_model(CNN, batches(72, 2), str(out), stats_path=str(stats),
                           float_out=str(tmp_path / "f.mlir"), keep_float=["("])
    assert out.read_text() == "old model" and not stats.exists()
    assert sorted(os.listdir(tmp_path)) == ["d.npz", "q.mlir"]
    # All together once it succeeds.
    assert ptq.main(["run", CNN, "--data", data, "-o", str(out), "--stats", str(stats),
                     "--report", str(rep)]) == 0
    assert "func.func" in out.read_text() and rep.exists() and stats.exists()


def test_hostile_npz_files_are_errors(tmp_path, capsys):
    """A member that is not an .npy array, a header declaring 4 PB, a
    member compressed with an unknown method: clear errors."""
    import io
    import zipfile
    huge = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        huge, {"descr": "<f4", "fortran_order": False, "shape": (10**15,)})
    cases = {"text.npz": ("x.txt", b"hello", r"member 'x.txt' is not an .npy array"),
             "huge.npz": ("x.npy", huge.getvalue() + b"\0" * 64, r"too large"),
             "method.npz": ("x.npy", b"", r"not a readable .npz.*compression method")}
    for name, (member, content, message) in cases.items():
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as z:
            z.writestr(member, content)
        if name == "method.npz":  # compression method 99 in both headers
            raw = bytearray(path.read_bytes())
            for sig, at in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
                i = raw.find(sig) + at
                raw[i:i + 2] = (99).to_bytes(2, "little")
            path.write_bytes(bytes(raw))
        with pytest.raises(ptq.PTQError, match=f"cannot read calibration data '.*{name}': "
                                               f"{message}"):
            ptq.calibrate(CNN, str(path), str(tmp_path / "s.json"))
        assert ptq.main(["calibrate", CNN, "--data", str(path), "--stats",
                         str(tmp_path / "s.json")]) == 1
        assert capsys.readouterr().err.startswith("error: cannot read calibration data")
    assert not (tmp_path / "s.json").exists()


def test_malformed_statistics_are_clear_errors(tmp_path, capsys):
    good = json.load(open(STATS))
    out = tmp_path / "q.mlir"
    cases = [("kind", ["min_max"], r"observation 'features.0.input' has unknown observer "
                                   r"kind \[\"min_max\"\]"),
             ("kind", {"a": 1}, "has unknown observer kind"),
             ("kind", "minmax", "has unknown observer kind \"minmax\""),
             ("num_bins", "2048 report=x", r"'num_bins' of observation 'features.0.input' "
                                           r"is \"2048 report=x\", not a number"),
             ("percentile", [99.0], "'percentile' .* not a number")]
    for key, value, message in cases:
        stats = json.loads(json.dumps(good))
        for rec in stats["observations"].values():
            if "axis" not in rec:
                rec[key] = value
        path = tmp_path / "s.json"
        path.write_text(json.dumps(stats))
        with pytest.raises(ptq.PTQError, match=f"statistics file '.*s.json': .*{message}"):
            ptq.quantize(CNN, str(path), str(out))
    # Nesting too deep for Python's parser: quantx-opt reports the file.
    deep = tmp_path / "deep.json"
    deep.write_text('{"format": "quantx-calibration", "version": 1, "observations": ' +
                    "[" * 2000 + "]" * 2000 + "}")
    assert ptq.main(["quantize", CNN, "--stats", str(deep), "-o", str(out)]) == 1
    assert "deep.json" in capsys.readouterr().err
    assert not out.exists()


def test_bad_observer_settings_are_errors_before_calibration(tmp_path, capsys):
    """Histogram bins from 2 (256 for the entropy observer, whose
    narrowest candidate range is 256 bins) to MAX_NUM_BINS; percentile in
    (0, 100]; momentum in (0, 1]."""
    stats = tmp_path / "s.json"
    for kind, settings, message in [
            ("entropy", dict(num_bins=2), r"num_bins of observer 'entropy' must be an "
                                          r"integer in \[256, 65536\], got 2"),
            ("entropy", dict(num_bins=255), r"\[256, 65536\], got 255"),
            ("histogram", dict(num_bins=10**11), r"\[2, 65536\], got 100000000000"),
            ("mse", dict(num_bins=1), r"\[2, 65536\], got 1"),
            ("histogram", dict(num_bins=2048.0), "must be an integer"),
            ("percentile", dict(percentile=150.0), r"percentile must be in \(0, 100\]"),
            ("percentile", dict(percentile=float("nan")), r"\(0, 100\], got nan"),
            ("moving_average_min_max", dict(momentum=1.5), r"momentum must be in \(0, 1\]"),
            (["min_max"], {}, r"unknown observer kind \['min_max'\]")]:
        with pytest.raises(ptq.PTQError, match=message):
            ptq.calibrate(CNN, batches(73, 1), str(stats), kind, **settings)
    with pytest.raises(ptq.PTQError, match=r"'entropy' must be an integer in \[256"):
        ptq.select_observer(CNN, batches(73, 1), batches(74, 1), str(stats), num_bins=100)
    assert not stats.exists()
    np.savez(tmp_path / "d.npz", x=np.concatenate(batches(73, 2)))
    for args in (["--kind", "entropy", "--num-bins", "3"],
                 ["--kind", "histogram", "--num-bins", "100000000000"]):
        assert ptq.main(["calibrate", CNN, "--data", str(tmp_path / "d.npz"),
                         "--stats", str(stats)] + args) == 1
        assert capsys.readouterr().err.startswith("error: num_bins of observer")
    assert not stats.exists()
    # The limits themselves are accepted.
    for kind, bins in (("entropy", 256), ("histogram", 2)):
        s = ptq.calibrate(CNN, batches(73, 1), str(stats), kind, num_bins=bins)
        assert s["observations"]["classifier.input"]["num_bins"] == bins


NON_UTF8 = b"""func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
  %y = "bad\xff\xfeop"(%x) : (tensor<2xf32>) -> tensor<2xf32>
  return %y : tensor<2xf32>
}
"""


def test_models_with_bytes_that_are_not_utf8_are_clear_errors(tmp_path, capsys):
    from quantx import evaluate
    model = tmp_path / "bad.mlir"
    model.write_bytes(NON_UTF8)
    x = [np.zeros(2, np.float32)]
    # quantx-opt's error output quotes the line.
    with pytest.raises(ptq.PTQError, match="inserting observers failed:\n.*unregistered"):
        ptq.calibrate(str(model), x, str(tmp_path / "s.json"))
    with pytest.raises(ptq.PTQError, match="compiling the model failed"):
        ptq.run_function(str(model), x, 1)
    with pytest.raises(ptq.PTQError, match="compiling '.*bad.mlir' failed"):
        evaluate.evaluate([str(model)], x)


def test_layer_patterns_and_paths_reach_quantx_opt_whole(tmp_path):
    """Each pattern and path is quoted as one pass-option value: spaces
    and commas are part of it, and cannot add an option."""
    injected = tmp_path / "injected.json"
    out = tmp_path / "q.mlir"
    rep = ptq.quantize(CNN, STATS, str(out), keep_float=[f"fc9 report={injected}"])
    assert not injected.exists()
    assert [l["status"] for l in rep["layers"]] == ["quantized", "quantized"]
    rep = ptq.quantize(CNN, STATS, str(out),
                       keep_float=["^(classifier|no such layer, really)$", "x'y", 'z"w'])
    assert [(l["name"], l["status"]) for l in rep["layers"]] == \
        [("features.0", "quantized"), ("classifier", "float")]
    # A statistics file in a directory whose name has a space.
    (tmp_path / "my stats").mkdir()
    stats = tmp_path / "my stats" / "s.json"
    stats.write_text(open(STATS).read())
    assert ptq.quantize(CNN, str(stats), str(out))["layers"][1]["status"] == "quantized"
    rep = ptq.quantize(CNN, None, str(out), mode="weight-int4",
                       keep_int8=["^feat.*0$", "a b,c"])
    assert [l["weight_bits"] for l in rep["layers"]] == [8, 4]
    for bad in ["a'b\"c", " classifier", "a\0b"]:
        with pytest.raises(ptq.PTQError, match="keep-float .* cannot be passed to quantx-opt"):
            ptq.quantize(CNN, STATS, str(out), keep_float=[bad])


def test_cli_reports_file_system_errors_without_a_traceback(monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "/somewhere/model.mlir")
    monkeypatch.setattr(ptq, "sensitivity", fail)
    assert ptq.main(["sensitivity", CNN, "--data", "d.npz"]) == 1
    assert capsys.readouterr().err == \
        "error: [Errno 13] Permission denied: '/somewhere/model.mlir'\n"


def test_two_outputs_may_not_be_one_file_and_dash_paths_are_files(tmp_path, monkeypatch,
                                                                  capsys):
    np.savez(tmp_path / "d.npz", x=np.concatenate(batches(70, 2)))
    stats = tmp_path / "s.json"
    ptq.calibrate(CNN, str(tmp_path / "d.npz"), str(stats))
    same = tmp_path / "q.mlir"
    assert ptq.main(["quantize", CNN, "--stats", str(stats), "-o", str(same),
                     "--report", str(same)]) == 1
    assert "are the same file" in capsys.readouterr().err
    assert not same.exists()
    # A model whose relative path begins with '-' is a file, not an option.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-cnn.mlir").write_text(open(CNN).read())
    got = ptq.calibrate("-cnn.mlir", str(tmp_path / "d.npz"), "s2.json")
    assert got["observations"] == json.load(open(stats))["observations"]
    ptq.quantize("-cnn.mlir", "s2.json", "-q.mlir")
    (y,) = ptq.run_function("-q.mlir", [batches(71, 1)[0]], 1)
    assert y.shape == (2, 4)


def test_a_tool_that_crashes_is_reported_without_its_stack_dump(tmp_path, monkeypatch,
                                                                capsys):
    # MLIR's parser crashes on some truncated files (a segfault in its lexer
    # inside a dense_resource blob): the error keeps the diagnostics before
    # the crash, names the signal, and leaves LLVM's stack dump out.
    fake = tmp_path / "quantx-opt"
    fake.write_text("#!/bin/sh\n"
                    "echo \"m.mlir:66:47: error: expected '\\\"' in string literal\" >&2\n"
                    "echo 'PLEASE submit a bug report to https://example/' >&2\n"
                    "echo 'Stack dump:' >&2\necho ' #0 0x0 llvm::foo' >&2\n"
                    "kill -SEGV $$\n")
    fake.chmod(0o755)
    monkeypatch.setattr(ptq, "_tool", lambda name: str(fake))
    np.savez(tmp_path / "d.npz", x=np.concatenate(batches(72, 2)))
    assert ptq.main(["calibrate", CNN, "--data", str(tmp_path / "d.npz"),
                     "--stats", str(tmp_path / "s.json")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: inserting observers failed: quantx-opt crashed (SIGSEGV)")
    assert "expected '\"' in string literal" in err and "truncated or malformed" in err
    assert "Stack dump" not in err and "PLEASE" not in err and "llvm::foo" not in err
    assert not (tmp_path / "s.json").exists()
