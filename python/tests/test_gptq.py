"""RTN and GPTQ through quantx._core: parity with the reference implementation
(IST-DASLab/gptq) on committed golden numbers (test/data/gptq, made by
scripts/gen_gptq_golden.py), the Python API, and argument errors."""

import importlib.util
import json
import os

import numpy as np
import pytest

import quantx._core as core

SOURCE_DIR = os.environ.get(
    "QUANTX_SOURCE_DIR",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DATA_DIR = os.path.join(SOURCE_DIR, "test", "data", "gptq")


def _load_generator():
    spec = importlib.util.spec_from_file_location(
        "gen_gptq_golden", os.path.join(SOURCE_DIR, "scripts",
                                        "gen_gptq_golden.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


def _streamed(w, x, batch):
    g = core.GPTQ(w.shape[1])
    for t in range(0, x.shape[0], batch):
        g.add_batch(x[t:t + batch][None])  # one (1, seq, hidden) sample
    return g


@pytest.fixture(scope="module")
def golden():
    with open(os.path.join(DATA_DIR, "golden.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def parity_layer(golden):
    layer = golden["layer"]
    assert layer["seed"] == gen.PARITY_SEED
    w, x = gen.make_layer(layer["seed"], layer["rows"], layer["cols"],
                          layer["tokens"])
    return w, x, _streamed(w, x, layer["batch_tokens"])


@pytest.mark.parametrize("name", sorted(gen.PARITY_CASES))
def test_parity_with_reference(golden, parity_layer, name):
    """||WX - QX||^2 at most 1.01x the reference's on the same layer."""
    w, x, g = parity_layer
    case = golden["cases"][name]
    r = g.quantize(w, bits=case["bits"], group_size=case["groupsize"],
                   sym=case["sym"], act_order=case["actorder"],
                   static_groups=case["static_groups"],
                   percdamp=golden["layer"]["percdamp"],
                   blocksize=golden["layer"]["blocksize"])
    err = gen.output_error(w, r["dequantized"], x)
    ratio = err / case["reference_error"]
    assert ratio <= 1.01, f"{name}: error ratio {ratio:.5f}"
    # The reference's own loss figure agrees too.
    assert r["loss"] == pytest.approx(case["reference_loss"], rel=0.01)
    # GPTQ must clearly beat RTN on this correlated data.
    rtn = core.rtn_quantize(w, case["bits"], group_size=case["groupsize"],
                            sym=case["sym"])
    assert err < 0.5 * gen.output_error(w, rtn["dequantized"], x)


def test_small_layer_matches_reference_values():
    """Groups that start inside a block (group 32, block 64) take their
    parameters from the weights as updated at the block start, as in the
    reference; every value agrees up to float32 rounding (a different code
    would differ by a whole quantization step)."""
    ref = np.load(os.path.join(DATA_DIR, "gptq_small.npz"))
    w, x = gen.make_layer(gen.SMALL_SEED, gen.SMALL_ROWS, gen.SMALL_COLS,
                          gen.SMALL_TOKENS)
    g = _streamed(w, x, 64)
    for name, (bits, gs, sym, act, static) in gen.SMALL_CASES.items():
        r = g.quantize(w, bits=bits, group_size=gs, sym=sym, act_order=act,
                       static_groups=static, blocksize=gen.SMALL_BLOCK)
        q = ref[name]
        scale = np.abs(q).max()
        np.testing.assert_allclose(r["dequantized"], q, rtol=0,
                                   atol=1e-5 * scale, err_msg=name)
        assert r["loss"] == pytest.approx(float(ref[name + "_loss"]),
                                          rel=1e-4)


def test_quantizer_is_bit_identical_to_reference():
    ref = np.load(os.path.join(DATA_DIR, "quantizer.npz"))
    x = gen.quantizer_input()
    for i, (bits, pc, sym, mse, trits) in enumerate(gen.QUANTIZER_CASES):
        what = f"case {i}: bits={bits} perchannel={pc} sym={sym} mse={mse} " \
               f"trits={trits}"
        s, z = core.rtn_find_params(x, bits, per_channel=pc, sym=sym,
                                    mse=mse, trits=trits)
        np.testing.assert_array_equal(s, ref[f"scale_{i}"], err_msg=what)
        np.testing.assert_array_equal(z, ref[f"zero_{i}"], err_msg=what)
        r = core.rtn_quantize(x, bits, per_channel=pc, sym=sym, mse=mse,
                              trits=trits)
        np.testing.assert_array_equal(r["dequantized"], ref[f"deq_{i}"],
                                      err_msg=what)
        # Codes and parameters reproduce the dequantized values exactly.
        if not trits:
            np.testing.assert_array_equal(
                r["scales"] * (r["codes"].astype(np.float32) - r["zeros"]),
                r["dequantized"], err_msg=what)


def test_gptq_beats_rtn_on_correlated_data():
    w, x = gen.make_layer(5, 64, 256, 512)
    g = _streamed(w, x, 128)
    for bits, gs in ((4, 64), (3, -1)):
        for act in (False, True):
            r = g.quantize(w, bits=bits, group_size=gs, act_order=act)
            rtn = core.rtn_quantize(w, bits, group_size=gs, sym=False)
            e_gptq = gen.output_error(w, r["dequantized"], x)
            e_rtn = gen.output_error(w, rtn["dequantized"], x)
            assert e_gptq <= e_rtn, (bits, gs, act)


def test_result_layout():
    w, x = gen.make_layer(6, 16, 96, 128)
    g = _streamed(w, x, 64)
    assert g.num_samples == 2 and g.columns == 96
    r = g.quantize(w, bits=4, group_size=32, act_order=True)
    assert r["codes"].dtype == np.uint8 and r["codes"].shape == (16, 96)
    assert r["scales"].shape == (16, 3) and r["zeros"].shape == (16, 3)
    assert r["g_idx"].dtype == np.int32 and r["perm"].shape == (96,)
    assert sorted(r["perm"].tolist()) == list(range(96))
    assert r["codes"].max() <= 15
    # g_idx follows the quantization order with act-order.
    assert (r["g_idx"][r["perm"]] == np.arange(96) // 32).all()
    deq = np.take_along_axis(r["scales"], np.broadcast_to(
        r["g_idx"][None, :], (16, 96)).astype(np.int64), 1) * (
        r["codes"] - np.take_along_axis(r["zeros"], np.broadcast_to(
            r["g_idx"][None, :], (16, 96)).astype(np.int64), 1))
    np.testing.assert_array_equal(deq.astype(np.float32), r["dequantized"])
    # The Hessian is 2/N sum X^T X with N counting samples.
    h = g.hessian()
    np.testing.assert_allclose(h, 2.0 / 2 * (x.astype(np.float64).T @ x),
                               rtol=1e-4, atol=1e-3)


def test_bad_input_raises():
    g = core.GPTQ(8)
    w = np.ones((4, 8), np.float32)
    with pytest.raises(ValueError, match="no calibration data"):
        g.quantize(w)
    with pytest.raises(ValueError, match="columns"):
        g.add_batch(np.ones((3, 7), np.float32))
    with pytest.raises(ValueError):
        g.add_batch(np.ones(8, np.float32))
    bad = np.ones((3, 8), np.float32)
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        g.add_batch(bad)
    g.add_batch(np.eye(8, dtype=np.float32))
    with pytest.raises(ValueError, match="bits"):
        g.quantize(w, bits=1)
    with pytest.raises(ValueError, match="static groups"):
        g.quantize(w, static_groups=True)
    with pytest.raises(ValueError, match="columns"):
        g.quantize(np.ones((4, 9), np.float32))
    with pytest.raises(ValueError):
        core.rtn_quantize(np.ones((0, 4), np.float32), 4)
    with pytest.raises(ValueError, match="mse"):
        core.rtn_find_params(w, 2, mse=True, trits=True)
