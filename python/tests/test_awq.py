"""AWQ through the Python extension: the pseudo-quantizer's formulas, the
scale and clip searches (built-in and Python-callable forwards), and parity
with the reference (mit-han-lab/llm-awq) on a Llama block, against the
golden numbers in test/data/awq/golden.json."""

import importlib.util
import json
import os

import numpy as np
import pytest

import quantx

core = quantx._core

SOURCE_DIR = os.environ.get(
    "QUANTX_SOURCE_DIR",
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
GOLDEN = os.path.join(SOURCE_DIR, "test", "data", "awq", "golden.json")


def load_block_module():
    path = os.path.join(SOURCE_DIR, "scripts", "gen_awq_golden.py")
    spec = importlib.util.spec_from_file_location("gen_awq_golden", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def pseudo_quantize_numpy(w, bits, group):
    """The reference's pseudo_quantize_tensor (zero_point=True) in float32."""
    g = w.reshape(-1, group).astype(np.float32)
    mx = g.max(axis=1, keepdims=True)
    mn = g.min(axis=1, keepdims=True)
    max_int = np.float32(2 ** bits - 1)
    scales = np.maximum(mx - mn, np.float32(1e-5)) / max_int
    zeros = np.clip(-np.round(mn / scales), 0, max_int)
    q = np.clip(np.round(g / scales) + zeros, 0, max_int)
    return ((q - zeros) * scales).reshape(w.shape).astype(np.float32)


def rng_weights(seed, rows, cols):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((rows, cols)) *
            np.exp(rng.normal(0, 1, (rows, 1)))).astype(np.float32)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("group", [32, 128])
def test_pseudo_quantize_matches_reference_formula(bits, group):
    w = rng_weights(bits * 100 + group, 24, 256)
    got = core.awq_pseudo_quantize(w, bits=bits, group_size=group)
    np.testing.assert_array_equal(got, pseudo_quantize_numpy(w, bits, group))
    q = core.awq_quantize(w, bits=bits, group_size=group)
    assert q["codes"].max() <= 2 ** bits - 1
    deq = (q["codes"].astype(np.float32).reshape(24, -1, group) -
           q["zeros"][..., None]) * q["scales"][..., None]
    np.testing.assert_array_equal(deq.reshape(w.shape), got)


def test_pseudo_quantize_constant_group_and_bad_input():
    w = np.full((2, 128), 0.25, dtype=np.float32)
    got = core.awq_pseudo_quantize(w, bits=4, group_size=128)
    np.testing.assert_array_equal(got, pseudo_quantize_numpy(w, 4, 128))
    with pytest.raises(ValueError, match="multiple of the group size"):
        core.awq_pseudo_quantize(np.ones((2, 100), np.float32), 4, 128)
    with pytest.raises(ValueError, match="bits"):
        core.awq_pseudo_quantize(w, bits=9, group_size=128)
    bad = w.copy()
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        core.awq_pseudo_quantize(bad, 4, 128)


def test_activation_and_weight_means():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 64)).astype(np.float32)
    np.testing.assert_allclose(core.awq_activation_mean(x),
                               np.abs(x).reshape(-1, 64).mean(0), rtol=1e-6)
    ws = [rng_weights(2, 8, 64), rng_weights(3, 4, 64)]
    cat = np.concatenate(ws).reshape(-1, 32)
    expect = (np.abs(cat) / (np.abs(cat).max(1, keepdims=True) + 1e-6))
    expect = expect.reshape(12, 64).mean(0)
    np.testing.assert_allclose(core.awq_weight_mean(ws, group_size=32),
                               expect, rtol=1e-5)


def numpy_scale_search(weights, x, forward, bits, group, n_grid=20):
    """The reference's _search_module_scale, written out in numpy."""
    x_max = np.abs(x).reshape(-1, x.shape[-1]).mean(0).astype(np.float32)
    org = forward(weights)
    losses = []
    for i in range(n_grid):
        s = np.maximum(x_max ** np.float32(i / n_grid), np.float32(1e-4))
        s = s / np.sqrt(s.max() * s.min())
        cand = [pseudo_quantize_numpy(w * s, bits, group) / s
                for w in weights]
        losses.append(float(np.mean((org - forward(cand)) ** 2)))
    return int(np.argmin(losses)), np.array(losses)


def test_scale_search_linear_matches_numpy_search():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((256, 256)).astype(np.float32)
    x[:, [3, 77, 200]] *= 30.0
    w = rng_weights(8, 64, 256)
    r = core.awq_search_scale([w], x, None, bits=4, group_size=64)
    best, losses = numpy_scale_search(
        [w], x, lambda ws: x.astype(np.float64) @ ws[0].T.astype(np.float64),
        4, 64)
    assert r["best_index"] == best
    np.testing.assert_allclose(r["losses"], losses, rtol=1e-3)
    # AWQ scaling must beat plain RTN (grid point 0) on outlier inputs.
    assert r["best_loss"] < r["losses"][0]
    s = r["scales"]
    np.testing.assert_allclose(r["scaled_weights"][0], w * s, rtol=1e-6)
    q = r["quantized"][0]
    np.testing.assert_array_equal(
        q["codes"], core.awq_quantize(w * s, 4, 64)["codes"])


def test_scale_search_python_callable_equals_builtin_forwards():
    gen = load_block_module()
    p = gen.make_block()
    _, f = gen.block_forward(p, dtype=np.float32)
    x = f["gate"].reshape(-1, gen.HIDDEN)
    calls = []

    def mlp(ws):
        calls.append(len(ws))
        return gen.mlp(f["gate"], ws[0], ws[1], p["down"], np.float32)[0]

    py = core.awq_search_scale([p["gate"], p["up"]], x, mlp, bits=4,
                               group_size=128)
    builtin = core.awq_search_scale([p["gate"], p["up"]], x,
                                    core.AWQGatedMLP(p["down"]), bits=4,
                                    group_size=128)
    assert calls == [2] * 21  # float output once, then every grid point
    assert py["best_index"] == builtin["best_index"]
    np.testing.assert_allclose(py["losses"], builtin["losses"], rtol=2e-3)

    xq = f["q"].reshape(-1, gen.HIDDEN)
    attn = core.AWQLlamaAttention(p["o"], batch=gen.BATCH, seq_len=gen.SEQ,
                                  num_heads=gen.HEADS, head_dim=gen.HEAD_DIM)
    a_py = core.awq_search_scale(
        [p["q"], p["k"], p["v"]], xq,
        lambda ws: gen.attention(f["q"], ws[0], ws[1], ws[2], p["o"])[0],
        bits=4, group_size=128)
    a_builtin = core.awq_search_scale([p["q"], p["k"], p["v"]], xq, attn,
                                      bits=4, group_size=128)
    assert a_py["best_index"] == a_builtin["best_index"]
    np.testing.assert_allclose(a_py["losses"], a_builtin["losses"],
                               rtol=2e-3)


def test_scale_search_errors():
    w = rng_weights(1, 8, 128)
    x = np.ones((4, 128), np.float32)
    with pytest.raises(ValueError, match="last dimension"):
        core.awq_search_scale([w], np.ones((4, 64), np.float32))
    with pytest.raises(ValueError, match="non-empty"):
        core.awq_search_scale([], x)
    with pytest.raises(ValueError, match="forward must be"):
        core.awq_search_scale([w], x, 3)
    with pytest.raises(RuntimeError, match="returned"):
        sizes = iter([4, 5] + [5] * 30)
        core.awq_search_scale([w], x, lambda ws: np.zeros(next(sizes)))
    with pytest.raises(ZeroDivisionError):
        core.awq_search_scale([w], x, lambda ws: 1 / 0)
    calls = []

    def nan_after_first(ws):
        calls.append(1)
        return np.zeros(3) if len(calls) == 1 else np.full(3, np.nan)

    with pytest.raises(RuntimeError, match="finite"):
        core.awq_search_scale([w], x, nan_after_first)


def test_clip_search_matches_numpy_search():
    rng = np.random.default_rng(11)
    w = rng_weights(12, 64, 256)
    w[:, 5] *= 8.0  # a few large weights make clipping pay off
    x = rng.standard_normal((1024, 256)).astype(np.float32)
    r = core.awq_search_clip(w, x, bits=3, group_size=128)
    # The reference's auto_clip_layer in numpy (float64 errors).
    xs = x[::1024 // 512].reshape(-1, 2, 128).astype(np.float64)
    wg = w.reshape(64, 2, 128)
    org_max = np.abs(wg).max(-1, keepdims=True)
    best = org_max.copy()
    min_err = np.full_like(org_max, 1e9, dtype=np.float64)
    for i in range(10):
        mv = org_max * np.float32(1 - i / 20)
        qw = pseudo_quantize_numpy(np.clip(wg, -mv, mv), 3, 128)
        d = (qw.astype(np.float64) - wg)  # (co, g, gs)
        err = np.einsum("tgi,cgi->ctg", xs, d) ** 2
        err = err.mean(1)[..., None]
        better = err < min_err
        min_err[better] = err[better]
        best[better] = mv[better]
    np.testing.assert_array_equal(r["max_val"], best[..., 0])
    assert (r["max_val"] < org_max[..., 0]).any()
    np.testing.assert_array_equal(
        r["weight"], np.clip(wg, -best, best).reshape(w.shape))


@pytest.fixture(scope="module")
def golden():
    with open(GOLDEN) as f:
        return json.load(f)


@pytest.mark.parametrize("bits,group", [(4, 128), (3, 128)])
def test_llama_block_parity_with_reference(golden, bits, group):
    gen = load_block_module()
    assert golden["block"]["seed"] == gen.SEED
    entry = next(c for c in golden["configs"]
                 if c["bits"] == bits and c["group_size"] == group)
    p = gen.make_block()
    _, feats = gen.block_forward(p)
    final, _ = gen.run_quantx(core, p, bits, group)
    block_mse, per_linear = gen.evaluate(p, final, feats)
    ratio = block_mse / entry["block_mse"]
    assert ratio <= 1.01, (block_mse, entry["block_mse"])
    for name, ref in entry["linear_sq_err"].items():
        assert per_linear[name] / ref <= 1.01, (name, per_linear[name], ref)
    # AWQ must beat plain round-to-nearest on this block.
    rtn = {k: v for k, v in final.items()}
    rtn.update({"in_norm": p["in_norm"], "post_norm": p["post_norm"],
                "s_o": np.ones(gen.HIDDEN, np.float32),
                "s_down": np.ones(gen.FFN, np.float32)})
    for n in gen.LINEARS:
        rtn[n] = core.awq_pseudo_quantize(p[n], bits, group)
    rtn_mse, _ = gen.evaluate(p, rtn, feats)
    assert block_mse < rtn_mse
