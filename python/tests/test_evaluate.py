"""quantx.evaluate: a float model beside its quantized versions."""

import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest

from quantx import evaluate, ptq
from quantx.ptq import PTQError
from toy_models import toy_mlp

torch = pytest.importorskip("torch")
jit = pytest.importorskip("quantx.jit")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A float MLP (16 -> 32 -> 8, batch 10), its static int8 and weight-only
    int4 versions, and labelled data: (float, int8, int4, npz, x, y)."""
    tmp = tmp_path_factory.mktemp("evaluate")
    float_path = tmp / "float.mlir"
    model = toy_mlp(torch, float_path)
    rng = np.random.default_rng(0)
    calib = rng.standard_normal((200, 16)).astype(np.float32)
    ptq.calibrate(str(float_path), calib, str(tmp / "stats.json"))
    int8, int4 = str(tmp / "int8.mlir"), str(tmp / "int4.mlir")
    ptq.quantize(str(float_path), str(tmp / "stats.json"), int8)
    ptq.quantize(str(float_path), None, int4, mode="weight-int4", group_size=16)
    x = rng.standard_normal((300, 16)).astype(np.float32)
    # Labels the float model gets right about 3 times in 4: its arg-max,
    # replaced by another class on every 4th sample.
    with torch.no_grad():
        y = model(torch.from_numpy(x)).argmax(1).numpy().astype(np.int64)
    y[::4] = (y[::4] + 1) % 8
    npz = tmp / "test.npz"
    np.savez(npz, x=x, y=y)
    return str(float_path), int8, int4, str(npz), x, y


def outputs(path, x):
    fn = jit.compile(open(path).read())["forward"]
    return np.concatenate([fn(x[i:i + 10]) for i in range(0, len(x), 10)])


def test_figures_match_direct_runs(models):
    """Accuracy, agreement and SQNR equal those of the models run directly;
    sizes are the bytes of their constants at storage width."""
    float_path, int8, int4, npz, x, y = models
    r = evaluate.evaluate({"float": float_path, "int8": int8, "int4": int4}, npz,
                          labels="y", rounds=2, min_seconds=0.02)
    assert (r["entry"], r["samples"], r["batch"], r["reference"]) == (
        "forward", 300, 10, "float")
    ref = outputs(float_path, x)
    by = {m["name"]: m for m in r["models"]}
    assert by["float"]["correct"] == np.count_nonzero(ref.argmax(1) == y)
    assert 0.6 < by["float"]["accuracy"] < 0.9
    for name, path in (("int8", int8), ("int4", int4)):
        got = outputs(path, x)
        m = by[name]
        assert m["correct"] == np.count_nonzero(got.argmax(1) == y)
        assert m["accuracy"] == m["correct"] / 300
        assert m["top1_agreement"] == np.mean(got.argmax(1) == ref.argmax(1))
        assert m["output_sqnr_db"] == pytest.approx(ptq.sqnr_db(ref, got), abs=1e-9)
        assert m["size_ratio"] == by["float"]["weight_bytes"] / m["weight_bytes"]
        # The loss, against PyTorch's cross-entropy of the same logits.
        ce = torch.nn.functional.cross_entropy(
            torch.from_numpy(got).double(), torch.from_numpy(y)).item()
        assert m["nll"] == pytest.approx(ce, rel=1e-9)
        assert m["perplexity"] == pytest.approx(math.exp(ce), rel=1e-9)
        ref_right, right = ref.argmax(1) == y, got.argmax(1) == y
        assert m["only_reference_right"] == np.count_nonzero(ref_right & ~right)
        assert m["only_this_right"] == np.count_nonzero(~ref_right & right)
        assert 0 < m["accuracy_p_value"] <= 1
        assert m["speedup"] > 0
    # f32 weights and biases; int8: 1 byte per weight, f32 scales and i32
    # biases per output channel; int4: half a byte per weight, one f32
    # scale per group of 16, f32 biases.
    assert by["float"]["weight_bytes"] == (16 * 32 + 32 + 32 * 8 + 8) * 4
    assert by["int8"]["weight_bytes"] == 16 * 32 + 32 * 8 + (32 + 8) * 4 * 2
    assert by["int4"]["weight_bytes"] == ((16 * 32 + 32 * 8) // 2 +
                                          (32 * 1 + 8 * 2) * 4 + (32 + 8) * 4)
    assert by["int8"]["output_sqnr_db"] > by["int4"]["output_sqnr_db"] > 10
    for m in r["models"]:
        lat = m["latency_ms"]
        assert 0 < lat["min"] <= lat["median"] <= lat["p90"]
        assert m["calls_timed"] >= 2 * 3
        assert m["samples_per_second"] == pytest.approx(10 / lat["median"] * 1e3)
    assert "int4" in r["text"] and "x smaller" in r["text"]


def test_sequence_outputs_give_token_accuracy_and_perplexity(tmp_path):
    """A language-model-like result [batch, positions, vocabulary] with
    labels per position: accuracy over all positions, perplexity as
    exp(cross-entropy), agreement per position."""
    from quantx import importer
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(12, 16), torch.nn.Linear(16, 12)).eval()
    path = tmp_path / "lm.mlir"
    path.write_text(importer.import_module(model, (torch.zeros(4, 6, dtype=torch.int64),)))
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, 12, (20, 6)).astype(np.int64)
    targets = rng.integers(0, 12, (20, 6)).astype(np.int64)
    r = evaluate.evaluate({"a": str(path), "b": str(path)}, tokens, labels=targets,
                          rounds=1, min_seconds=0.01)
    with torch.no_grad():
        logits = model(torch.from_numpy(tokens)).double()
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, 12),
                                           torch.from_numpy(targets).reshape(-1)).item()
    a = r["models"][0]
    assert r["labels"] == 120 and r["samples"] == 20
    assert a["correct"] == int((logits.argmax(-1).numpy() == targets).sum())
    assert a["accuracy"] == a["correct"] / 120
    assert a["perplexity"] == pytest.approx(math.exp(ce), rel=1e-5)
    assert r["models"][1]["top1_agreement"] == 1.0
    assert "perplexity" in r["text"].splitlines()[1]
    with pytest.raises(PTQError, match=r"expected \[samples, 6\]"):
        evaluate.evaluate([str(path)], tokens, labels=targets[:, :5])


def test_pytorch_and_python_peers(models):
    """PyTorch modules (float, and PyTorch's own dynamic int8) and a plain
    Python function beside quantx's models: the same batches, their
    results converted, every model timed through its Python call, the
    modules' sizes those of their serialized state dicts."""
    import io
    float_path, int8, _, npz, x, y = models
    model = toy_mlp(torch)  # the fixture's model again
    tq = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear},
                                                dtype=torch.qint8)
    w = [p.detach().numpy() for p in model.parameters()]

    def numpy_mlp(a):
        return np.maximum(a @ w[0].T + w[1], 0) @ w[2].T + w[3]

    r = evaluate.evaluate({"torch float": model, "quantx float": float_path,
                           "quantx int8": int8, "torch int8": tq, "numpy": numpy_mlp},
                          npz, labels="y", rounds=1, min_seconds=0.01)
    assert r["timing"] == "python" and "Python call" in r["text"].splitlines()[0]
    by = {m["name"]: m for m in r["models"]}
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    assert by["torch float"]["correct"] == np.count_nonzero(ref.argmax(1) == y)
    assert by["quantx float"]["output_sqnr_db"] > 100
    assert by["numpy"]["output_sqnr_db"] > 100
    assert by["torch int8"]["top1_agreement"] > 0.9
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    assert by["torch float"]["weight_bytes"] == buf.tell()
    assert by["quantx int8"]["size_ratio"] == buf.tell() / by["quantx int8"]["weight_bytes"]
    assert by["numpy"]["weight_bytes"] is None and "size_ratio" not in by["numpy"]
    assert all(m["latency_ms"]["median"] > 0 for m in r["models"])

    def broken(a):
        raise RuntimeError("out of cheese")
    with pytest.raises(PTQError, match="running 'broken' failed: RuntimeError: out of cheese"):
        evaluate.evaluate({"q": float_path, "broken": broken}, x)
    with pytest.raises(PTQError, match="no quantx model"):
        evaluate.evaluate({"torch": model}, x)


def test_mcnemar_p_value():
    """The exact two-sided test: 20 against 29 of 49 split samples (the
    binomial tail, doubled: p = 0.2528697...), no split, all one way, and
    splits too large for a float's 2^n."""
    a = np.array([True] * 20 + [False] * 29 + [True] * 100)
    b = np.array([False] * 20 + [True] * 29 + [True] * 100)
    p, only_a, only_b = evaluate.mcnemar_p(a, b)
    assert (only_a, only_b) == (20, 29)
    assert p == pytest.approx(sum(math.comb(49, i) for i in range(21)) / 2 ** 48, rel=1e-12)
    assert p == pytest.approx(0.25286973, abs=1e-8)
    assert evaluate.mcnemar_p(a, a) == (1.0, 0, 0)
    assert evaluate.mcnemar_p(np.ones(5, bool), np.zeros(5, bool))[0] == pytest.approx(2 / 32)
    big_a = np.array([True] * 1500 + [False] * 1600)
    p, _, _ = evaluate.mcnemar_p(big_a, ~big_a)
    assert 0.05 < p < 0.1  # normal approximation: z = 1.78, p = 0.075


def test_same_model_twice_is_identical(models):
    float_path, _, _, _, x, y = models
    r = evaluate.evaluate({"a": float_path, "b": float_path}, x, labels=y,
                          rounds=1, min_seconds=0.01)
    a, b = r["models"]
    assert b["output_sqnr_db"] == math.inf and b["top1_agreement"] == 1.0
    assert a["correct"] == b["correct"] and b["size_ratio"] == 1.0


def test_without_labels_no_accuracy(models):
    float_path, int8, _, _, x, _ = models
    r = evaluate.evaluate([float_path, int8], x, rounds=1, min_seconds=0.01)
    assert all("accuracy" not in m for m in r["models"])
    assert r["models"][1]["top1_agreement"] > 0.9
    assert r["reference"] == "float.mlir"


@pytest.mark.parametrize("labels, message", [
    (np.zeros(299, np.int64), "299 labels for 300 samples"),
    (np.zeros(300, np.float32), "must be an integer array"),
    (np.zeros((300, 2), np.int64), r"labels of shape \(300, 2\) do not fit"),
    (np.full(300, 8), r"labels must lie in \[0, 8\)"),
    (np.full(300, -1), r"labels must lie in \[0, 8\)"),
])
def test_bad_labels(models, labels, message):
    float_path, _, _, _, x, _ = models
    with pytest.raises(PTQError, match=message):
        evaluate.evaluate([float_path], x, labels=labels, rounds=1, min_seconds=0.01)


def test_bad_inputs(models, tmp_path):
    float_path, int8, _, npz, x, _ = models
    with pytest.raises(PTQError, match="has no array 'label'"):
        evaluate.evaluate([float_path], npz, labels="label")
    with pytest.raises(PTQError, match="need .npz data"):
        evaluate.evaluate([float_path], x, labels="y")
    with pytest.raises(PTQError, match="not a positive multiple"):
        evaluate.evaluate([float_path], x[:15])
    with pytest.raises(PTQError, match="dtype float64"):
        evaluate.evaluate([float_path], x.astype(np.float64))
    with pytest.raises(PTQError, match="cannot read the model"):
        evaluate.evaluate([float_path, str(tmp_path / "missing.mlir")], x)
    with pytest.raises(PTQError, match="same name"):
        evaluate.evaluate([float_path, float_path], x)
    with pytest.raises(PTQError, match="no public function 'main'"):
        evaluate.evaluate([float_path], x, entry="main")
    # A model of another batch size takes other arguments.
    from quantx import importer
    other = tmp_path / "batch5.mlir"
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(16, 8)).eval()
    other.write_text(importer.import_module(m, (torch.zeros(5, 16),)))
    with pytest.raises(PTQError, match=r"takes forward\(5x16xf32\), but .* takes forward\(10x16xf32\)"):
        evaluate.evaluate([float_path, str(other)], x)
    broken = tmp_path / "broken.mlir"
    broken.write_text("func.func @forward(")
    with pytest.raises(PTQError, match="compiling .*broken.mlir' failed"):
        evaluate.evaluate([str(broken)], x)


def test_command_line(models, tmp_path):
    float_path, int8, _, npz, _, _ = models
    out = tmp_path / "figures.json"
    cmd = [sys.executable, "-m", "quantx.ptq", "evaluate", float_path, int8,
           "--data", npz, "--labels", "y", "--rounds", "1", "--round-seconds", "0.01",
           "--json", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "int8.mlir" in proc.stdout and "x smaller" in proc.stdout
    saved = json.loads(out.read_text())
    assert [m["name"] for m in saved["models"]] == ["float.mlir", "int8.mlir"]
    assert saved["models"][1]["size_ratio"] > 2.5
    bad = tmp_path / "bad.json"
    proc = subprocess.run(cmd[:-2] + ["--labels", "nope", "--json", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stderr.startswith("error: ")
    assert "Traceback" not in proc.stderr
    assert "has no array 'nope'" in proc.stderr and not bad.exists()


def test_example_prints_float_beside_int8():
    """examples/ptq_fashion_cnn.py (the README's main job) on 200 test
    images: the per-layer report, then the evaluate table."""
    import os
    example = os.path.join(os.path.dirname(__file__), "..", "..", "examples",
                           "ptq_fashion_cnn.py")
    r = subprocess.run([sys.executable, example, "--test-images", "200"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("calibrated on 1000 images")
    assert lines[1].startswith("layer") and "SQNR dB" in lines[1]
    header = lines.index(next(l for l in lines if l.startswith("model  ")))
    names = re.split(r"\s{2,}", lines[header])
    rows = {cells[0]: dict(zip(names, cells)) for cells in
            (re.split(r"\s{2,}", l) for l in lines[header + 1:header + 3])}
    assert set(rows) == {"float", "int8"}
    float_acc, int8_acc = (float(rows[k]["accuracy"].rstrip("%")) for k in ("float", "int8"))
    assert abs(float_acc - int8_acc) <= 2.0  # within 4 of 200 images
    assert float(rows["int8"]["x smaller"]) > 3.5
    assert float(rows["int8"]["SQNR dB"]) > 30
