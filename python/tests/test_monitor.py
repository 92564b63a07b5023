"""quantx.monitor: a quantized model run against its float original."""

import json
import subprocess
import sys

import numpy as np
import pytest

from quantx import monitor, ptq
from quantx.ptq import PTQError
from toy_models import toy_mlp

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """A static int8 MLP calibrated on N(0, 1) inputs: (float path,
    quantized path, statistics path, report path)."""
    tmp = tmp_path_factory.mktemp("deployed")
    float_path = tmp / "float.mlir"
    toy_mlp(torch, float_path)
    x = np.random.default_rng(0).standard_normal((500, 16)).astype(np.float32)
    stats, report, quantized = tmp / "stats.json", tmp / "report.json", tmp / "int8.mlir"
    ptq.calibrate(str(float_path), x, str(stats))
    ptq.quantize(str(float_path), str(stats), str(quantized), report=str(report))
    return str(float_path), str(quantized), str(stats), str(report)


def samples(scale, n=300, seed=1):
    return (np.random.default_rng(seed).standard_normal((n, 16)) * scale).astype(np.float32)


def grid(stats_path, name):
    """The real values the calibrated uint8 grid of `name` represents,
    half a step beyond each end."""
    rec = json.load(open(stats_path))["observations"][name]
    s, z = rec["scale"], rec["zero_point"]
    return (0 - z - 0.5) * s, (255 - z + 0.5) * s


def test_in_distribution_data_raises_no_alert(deployed):
    float_path, quantized, stats, report = deployed
    s = monitor.monitor(quantized, float_path, stats, samples(1.0), report=report,
                        shadow_every=3)
    assert (s["calls"], s["shadow_calls"]) == (30, 10)
    # The report names the observations the int8 layers' inputs come from.
    assert sorted(s["clipping"]) == ["0.input", "0.output"]
    assert s["alerts"] == [] and "no alerts" in s["text"]
    assert s["output_sqnr_db"] > 30.0 and s["top1_agreement"] > 0.95
    assert s["worst_call_sqnr_db"] <= s["output_sqnr_db"] + 3.0
    assert all(c["fraction"] <= 0.01 for c in s["clipping"].values())
    lat = s["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]


def test_drifted_data_is_clipped_and_raises_alerts(deployed):
    """Inputs 3x wider than the calibration data: the share of input values
    the int8 model clips is counted exactly on the shadow calls' inputs, and
    the output SQNR collapses."""
    float_path, quantized, stats, report = deployed
    x = samples(3.0)
    s = monitor.monitor(quantized, float_path, stats, x, report=report, shadow_every=3)
    lo, hi = grid(stats, "0.input")
    shadowed = np.concatenate([x[i:i + 10] for i in range(0, 300, 30)])
    expected = np.count_nonzero((shadowed < lo) | (shadowed > hi))
    clip = s["clipping"]["0.input"]
    assert (clip["clipped"], clip["values"]) == (expected, shadowed.size)
    assert clip["seen"] == [float(shadowed.min()), float(shadowed.max())]
    assert clip["fraction"] > 0.1
    assert len(s["alerts"]) == 2 and "'0.input'" in s["alerts"][0]
    assert "recalibrate" in s["alerts"][0]
    assert s["output_sqnr_db"] < 20.0


def test_sqnr_threshold_and_monitor_object(deployed):
    """Called in place of the model, a Monitor returns the quantized model's
    outputs; min_sqnr_db turns a low output SQNR into an alert."""
    float_path, quantized, stats, report = deployed
    x = samples(1.0, 20)
    with monitor.Monitor(quantized, float_path, stats, report, shadow_every=1,
                         min_sqnr_db=200.0) as mon:
        y = mon(x[:10])
        mon(x[10:])
        s = mon.summary()
    np.testing.assert_array_equal(y, ptq.run_function(quantized, [x[:10]], 1, "forward")[0])
    assert s["shadow_calls"] == 2
    assert s["alerts"] == [f"output SQNR against float {s['output_sqnr_db']:.2f} dB is "
                           "below 200.00 dB"]


def test_dynamic_models_are_checked_on_their_outputs_only(deployed, tmp_path):
    """A dynamic int8 model computes its activation parameters at run time:
    with its report nothing is checked for clipping, even on drifted data,
    and the output comparison still runs."""
    float_path, _, stats, _ = deployed
    dynamic, report = tmp_path / "dynamic.mlir", tmp_path / "report.json"
    ptq.quantize(float_path, None, str(dynamic), mode="dynamic-int8", report=str(report))
    s = monitor.monitor(str(dynamic), float_path, stats, samples(3.0), report=str(report))
    assert s["clipping"] == {} and s["alerts"] == []
    assert s["output_sqnr_db"] > 30.0


def test_without_a_report_every_observation_but_the_results_is_checked(deployed):
    float_path, quantized, stats, _ = deployed
    with monitor.Monitor(quantized, float_path, stats) as mon:
        assert sorted(mon.summary()["clipping"]) == ["0.input", "0.output"]


def test_bad_input_is_a_clear_error(deployed, tmp_path):
    float_path, quantized, stats, report = deployed
    with pytest.raises(PTQError, match=r"monitored batch 0, argument 0: shape \(10, 15\)"):
        with monitor.Monitor(quantized, float_path, stats) as mon:
            mon(np.zeros((10, 15), np.float32))
    with pytest.raises(PTQError, match="the monitoring array: 25 samples is not a positive multiple"):
        monitor.monitor(quantized, float_path, stats, samples(1.0, 25))
    other = json.load(open(stats))
    other["observations"] = {"x." + k: v for k, v in other["observations"].items()}
    with pytest.raises(PTQError, match="statistics do not belong to this model"):
        monitor.Monitor(quantized, float_path, other)
    bad_report = json.load(open(report))
    bad_report["layers"][0]["input_observation"] = "elsewhere.input"
    with pytest.raises(PTQError, match="report does not belong to this model.*'elsewhere.input'"):
        monitor.Monitor(quantized, float_path, stats, bad_report)
    with pytest.raises(PTQError, match="not a quantx calibration file"):
        monitor.Monitor(quantized, float_path, {"observations": {}})
    with pytest.raises(PTQError, match="cannot read the quantized model"):
        monitor.Monitor(str(tmp_path / "missing.mlir"), float_path, stats)
    with pytest.raises(PTQError, match="shadow_every must be >= 1"):
        monitor.Monitor(quantized, float_path, stats, shadow_every=0)


def test_malformed_statistics_and_reports_are_clear_errors(deployed, tmp_path, capsys):
    float_path, quantized, stats, report = deployed
    good = json.load(open(stats))
    for field, value in (("scale", "abc"), ("zero_point", None), ("scale", -1.0),
                         ("zero_point", 300), ("zero_point", 1.5)):
        bad = json.loads(json.dumps(good))
        bad["observations"]["0.input"][field] = value
        with pytest.raises(PTQError, match=r"the statistics of '0.input' are malformed: "
                                           r"'scale' must be a positive number"):
            monitor.Monitor(quantized, float_path, bad, report)
    with pytest.raises(PTQError, match="'observations' is not an object"):
        monitor.Monitor(quantized, float_path, dict(good, observations=[1]))
    for bad_report, message in (([], r"not a quantx-ptq report \(a JSON object\)"),
                                ({"layers": {}}, "'layers' is not a list of objects"),
                                ({"adds": [1]}, "'adds' is not a list of objects"),
                                ({"layers": [{"status": "quantized",
                                              "input_observation": ["x"]}]},
                                 r"a 'input_observation' of 'layers' is \['x'\], not a name")):
        (tmp_path / "r.json").write_text(json.dumps(bad_report))
        with pytest.raises(PTQError, match=message):
            monitor.Monitor(quantized, float_path, stats, str(tmp_path / "r.json"))
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 2000 + "]" * 2000)
    with pytest.raises(PTQError, match="cannot read statistics '.*deep.json': nested too deeply"):
        monitor.Monitor(quantized, float_path, str(deep))
    with pytest.raises(PTQError, match="cannot read report '.*deep.json': nested too deeply"):
        monitor.Monitor(quantized, float_path, stats, str(deep))
    bad = json.loads(json.dumps(good))
    bad["observations"]["0.input"]["scale"] = "abc"
    (tmp_path / "s.json").write_text(json.dumps(bad))
    np.savez(tmp_path / "d.npz", x=samples(1.0))
    assert ptq.main(["monitor", quantized, "--float", float_path, "--stats",
                     str(tmp_path / "s.json"), "--data", str(tmp_path / "d.npz"),
                     "--json", str(tmp_path / "m.json")]) == 1
    assert capsys.readouterr().err.startswith("error: the statistics of '0.input'")
    assert not (tmp_path / "m.json").exists()


def test_cli_exit_status_and_json(deployed, tmp_path):
    float_path, quantized, stats, report = deployed
    for scale, status in ((1.0, 0), (3.0, 2)):
        data = tmp_path / f"data{scale}.npz"
        np.savez(data, x=samples(scale))
        out = tmp_path / f"summary{scale}.json"
        r = subprocess.run([sys.executable, "-m", "quantx.ptq", "monitor", quantized,
                            "--float", float_path, "--stats", stats, "--report", report,
                            "--data", str(data), "--json", str(out), "--fail-on-alert"],
                           capture_output=True, text=True)
        assert r.returncode == status, r.stderr
        assert "compared with the float model" in r.stdout
        summary = json.loads(out.read_text())
        assert summary["calls"] == 30 and bool(summary["alerts"]) == (status == 2)
    r = subprocess.run([sys.executable, "-m", "quantx.ptq", "monitor", quantized,
                        "--float", float_path, "--stats", str(tmp_path / "none.json"),
                        "--data", str(data)], capture_output=True, text=True)
    assert r.returncode == 1 and "cannot read statistics" in r.stderr
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr


def test_example_flags_drift_on_fashion_mnist():
    """examples/ptq_monitor.py on 200 test images: no alert on the test
    images, clipped first-layer inputs on both kinds of drift."""
    import os
    example = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "ptq_monitor.py")
    r = subprocess.run([sys.executable, example, "--test-images", "200"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    parts = r.stdout.split("== ")[1:]
    assert [p.splitlines()[0] for p in parts] == [
        "test images", "contrast doubled (normalized pixels x 2)",
        "Gaussian noise (sd 0.5) added"]
    assert "no alerts" in parts[0] and "ALERT" not in parts[0]
    for drifted in parts[1:]:
        assert "ALERT: 'conv1.input'" in drifted


def test_quantize_model_keeps_what_the_monitor_needs(tmp_path):
    """From a PyTorch module in one call: with float_out, stats_path and
    report, the deployed model can be monitored (at the output batch size,
    here not the calibration batch's)."""
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(16, 12), torch.nn.ReLU(),
                                torch.nn.Linear(12, 4)).eval()
    x = samples(1.0, 200, seed=4)
    paths = {k: str(tmp_path / f"{k}") for k in ("int8.mlir", "float.mlir", "stats.json",
                                                 "report.json")}
    ptq.quantize_model(model, x, paths["int8.mlir"], batch_size=20,
                       float_out=paths["float.mlir"], stats_path=paths["stats.json"],
                       report=paths["report.json"])
    assert "tensor<20x16xf32>" in open(paths["float.mlir"]).read()
    s = monitor.monitor(paths["int8.mlir"], paths["float.mlir"], paths["stats.json"],
                        samples(3.0, 100, seed=5), report=paths["report.json"])
    assert s["calls"] == 5 and "0.input" in s["clipping"]
    assert s["clipping"]["0.input"]["fraction"] > 0.1 and s["alerts"]


def test_sequence_outputs_agree_per_position(tmp_path):
    """A result of [batch, positions, vocabulary] (a language model's next
    tokens): top-1 agreement counts positions, compared with running both
    models directly on the shadow calls' inputs."""
    import quantx.jit
    torch.manual_seed(2)
    model = torch.nn.Sequential(torch.nn.Embedding(12, 16), torch.nn.Linear(16, 32),
                                torch.nn.ReLU(), torch.nn.Linear(32, 12)).eval()
    rng = np.random.default_rng(6)
    calib = rng.integers(0, 12, (40, 6)).astype(np.int64)
    paths = {k: str(tmp_path / k) for k in ("int8.mlir", "float.mlir", "stats.json")}
    ptq.quantize_model(model, calib, paths["int8.mlir"], batch_size=4,
                       float_out=paths["float.mlir"], stats_path=paths["stats.json"])
    tokens = rng.integers(0, 12, (24, 6)).astype(np.int64)
    s = monitor.monitor(paths["int8.mlir"], paths["float.mlir"], paths["stats.json"],
                        tokens, shadow_every=2)
    assert (s["calls"], s["shadow_calls"]) == (6, 3)
    run = {k: quantx.jit.compile(open(paths[k]).read())["forward"]
           for k in ("int8.mlir", "float.mlir")}
    shadowed = [tokens[i:i + 4] for i in range(0, 24, 8)]
    agree = [run["int8.mlir"](t).argmax(-1) == run["float.mlir"](t).argmax(-1)
             for t in shadowed]
    assert s["top1_agreement"] == np.mean(np.concatenate(agree))
    assert np.concatenate(agree).size == 3 * 4 * 6
