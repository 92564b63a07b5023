"""bench/ptq.py, bench/residual.py and bench/grouped_conv.py on a small
slice: the scripts run end to end against the built tree (the MLP, 80
test images, one further calibration draw; the MobileNet-style model; 2
groups) and their JSON lines carry the figures the docs quote, with values
in range."""

import json
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

SOURCE = os.environ.get("QUANTX_SOURCE_DIR", os.path.join(
    os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(SOURCE, "bench", "ptq.py")


def test_bench_ptq_small_run():
    r = subprocess.run([sys.executable, SCRIPT, "--models", "fashion_mlp",
                        "--test-images", "80", "--repetitions", "2",
                        "--observer", "min_max", "--calibration-draws", "1"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures["bench"] == "ptq"
    key = "fashion_mlp_static_int8"
    for suffix in ("accuracy", "torch_accuracy", "draws_mean_accuracy",
                   "draws_torch_mean_accuracy", "float_agreement",
                   "torch_float_agreement"):
        assert 0.0 <= figures[f"{key}_{suffix}"] <= 1.0, suffix
    for suffix in ("accuracy_at_least_torch", "float_agreement_at_least_torch",
                   "within_0.5_points", "latency_at_most_torch", "size_3.5x"):
        assert isinstance(figures[f"{key}_{suffix}"], bool), suffix
    assert figures[f"{key}_draws_quantx_at_least_torch_count"] in (0, 1)
    # int8 logits are far from float's noise floor and far from garbage.
    assert 30.0 < figures[f"{key}_logit_sqnr_db"] < 80.0
    assert figures[f"{key}_size_ratio"] > 3.5
    assert any("calibration sets" in l for l in lines)


def test_bench_residual_small_run():
    """bench/residual.py on the MobileNet-style model, few repetitions: its
    additions are quantized and its JSON line has the figures, in range."""
    script = os.path.join(SOURCE, "bench", "residual.py")
    r = subprocess.run([sys.executable, script, "--models", "mobilenet",
                        "--repetitions", "5"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    figures = json.loads(r.stdout.strip().splitlines()[-1])
    assert figures["mobilenet_additions_quantized"] is True
    for key in ("sqnr_db", "float_add_sqnr_db", "torch_sqnr_db"):
        assert 20.0 < figures[f"mobilenet_{key}"] < 80.0, key
    assert figures["mobilenet_error_ratio"] > 0.0
    assert figures["mobilenet_speedup"] > 0.0 and figures["mobilenet_int8_add_speedup"] > 0.0


def test_bench_grouped_conv_small_run():
    """bench/grouped_conv.py with 2 groups, few repetitions: quantx's
    per-group lowering agrees bit for bit with the direct form."""
    script = os.path.join(SOURCE, "bench", "grouped_conv.py")
    r = subprocess.run([sys.executable, script, "--groups", "2", "--repetitions", "5"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    figures = json.loads(r.stdout.strip().splitlines()[-1])
    assert figures["g2_bit_exact"] is True
    assert figures["g2_speedup"] > 0.0 and figures["g2_lowering_speedup"] > 0.0


def test_bench_bias_correction_small_run():
    """bench/bias_correction.py on the MLP and 500 images: the correction
    brings every mode's logits closer to float, and the JSON line has the
    figures, in range."""
    script = os.path.join(SOURCE, "bench", "bias_correction.py")
    r = subprocess.run([sys.executable, script, "--models", "fashion_mlp",
                        "--images", "500"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    figures = json.loads(r.stdout.strip().splitlines()[-1])
    assert figures["bench"] == "bias_correction"
    for mode in ("static_int8", "dynamic_int8", "weight_int4"):
        key = f"fashion_mlp_{mode}"
        assert figures[f"{key}_bc_sqnr_db"] > figures[f"{key}_sqnr_db"] > 25.0, mode
        assert 0.0 < figures[f"{key}_bc_error_ratio"] < 0.5, mode
        assert 0.0 <= figures[f"{key}_bc_accuracy"] <= 1.0, mode
    assert figures["fashion_mlp_static_int8_torch_sqnr_db"] > 20.0


def test_bench_ptq_lm_small_run():
    """bench/ptq_lm.py on 16 windows and one mode: the language model
    quantizes, its perplexity stays near float's, and the JSON line has the
    figures."""
    script = os.path.join(SOURCE, "bench", "ptq_lm.py")
    r = subprocess.run([sys.executable, script, "--windows", "16", "--modes",
                        "dynamic-int8", "--repetitions", "2"],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    figures = json.loads(r.stdout.strip().splitlines()[-1])
    assert figures["bench"] == "ptq_lm" and figures["windows"] == 16
    assert abs(figures["float_ppl"] / figures["torch_float_ppl"] - 1) < 1e-4
    assert 1.0 < figures["dynamic_int8_ppl"] / figures["float_ppl"] < 1.02
    assert figures["dynamic_int8_bytes"] * 3.5 < figures["float_bytes"]
    assert figures["dynamic_int8_speedup_b1"] > 0 and figures["dynamic_int8_speedup_b16"] > 0
