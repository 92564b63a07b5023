"""Schemes, parameters and observers through quantx._core: exact agreement
with PyTorch 1.13's observers and quantize ops where the formulas are the
same, an independent numpy implementation of the entropy search, merges and
argument errors."""

import numpy as np
import pytest

import quantx._core as core

torch = pytest.importorskip("torch")
from torch.ao.quantization import observer as tobs  # noqa: E402


def _data(seed, shape, outliers=True):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32) * \
        rng.uniform(0.01, 10.0, size=(shape[0],) + (1,) * (len(shape) - 1)) \
        .astype(np.float32)
    if outliers:
        x.reshape(-1)[::997] *= 20
    return x


def _check_codes(q, tq, x, scale, zp, qmin, qmax):
    """torch multiplies by 1/scale (float32), quantx divides (the dialect's
    IEEE division). Check each side against its own formula exactly, and
    that they differ only where the two formulas do."""
    ours = np.clip(np.rint(x / scale) + zp, qmin, qmax)
    theirs = np.clip(np.rint(x * (np.float32(1) / scale)) + zp, qmin, qmax)
    np.testing.assert_array_equal(q, ours)
    np.testing.assert_array_equal(tq, theirs)
    differ = ours != theirs
    np.testing.assert_array_equal(q[~differ], tq[~differ])
    assert np.count_nonzero(differ) <= max(2, x.size // 100)


TORCH_DTYPES = {
    (8, True): torch.qint8,
    (8, False): torch.quint8,
}


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_per_tensor_matches_torch(signed, symmetric, seed):
    x = _data(seed, (7, 129))
    if seed == 4:
        x = np.abs(x)  # range not crossing zero
    dtype = TORCH_DTYPES[(8, signed)]
    qscheme = torch.per_tensor_symmetric if symmetric else \
        torch.per_tensor_affine
    ob = tobs.MinMaxObserver(dtype=dtype, qscheme=qscheme)
    ob(torch.from_numpy(x))
    tscale, tzp = ob.calculate_qparams()
    s = core.QuantScheme(bits=8, signed=signed, symmetric=symmetric)
    scale, zp = core.compute_params(x, s)
    assert np.float32(scale) == np.float32(tscale.item())
    assert int(zp) == int(tzp.item())
    ours = core.MinMaxObserver()
    ours.observe(x)
    assert ours.compute_params(s)[0] == scale
    assert ours.compute_params(s)[1] == zp
    q = core.quantize(x, s, scale, zp)
    tq = torch.quantize_per_tensor(torch.from_numpy(x), float(scale),
                                   int(zp), dtype).int_repr().numpy()
    _check_codes(q, tq, x, np.float32(scale), int(zp), s.qmin, s.qmax)
    deq = core.dequantize(q, s, scale, zp)
    tdeq = torch.quantize_per_tensor(torch.from_numpy(x), float(scale),
                                     int(zp), dtype).dequantize().numpy()
    same = q == tq
    np.testing.assert_array_equal(deq[same], tdeq[same])


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_per_channel_matches_torch(signed, symmetric, axis):
    x = _data(axis, (5, 6, 33))
    dtype = TORCH_DTYPES[(8, signed)]
    qscheme = torch.per_channel_symmetric if symmetric else \
        torch.per_channel_affine
    ob = tobs.PerChannelMinMaxObserver(ch_axis=axis, dtype=dtype,
                                       qscheme=qscheme)
    ob(torch.from_numpy(x))
    tscale, tzp = ob.calculate_qparams()
    s = core.QuantScheme(bits=8, signed=signed, symmetric=symmetric,
                         granularity="per_axis", axis=axis)
    scale, zp = core.compute_params(x, s)
    np.testing.assert_array_equal(scale, tscale.numpy().astype(np.float32))
    np.testing.assert_array_equal(zp, tzp.numpy())
    ours = core.PerChannelMinMaxObserver(axis)
    ours.observe(x)
    mn, mx = ours.min_max()
    np.testing.assert_array_equal(mn, ob.min_val.numpy())
    np.testing.assert_array_equal(mx, ob.max_val.numpy())
    oscale, ozp = ours.compute_params(s)
    np.testing.assert_array_equal(oscale, scale)
    np.testing.assert_array_equal(ozp, zp)
    q = core.quantize(x, s, scale, zp)
    tq = torch.quantize_per_channel(
        torch.from_numpy(x), torch.from_numpy(scale).double(),
        torch.from_numpy(zp).long(), axis, dtype).int_repr().numpy()
    shape = [1] * x.ndim
    shape[axis] = -1
    _check_codes(q, tq, x, scale.reshape(shape), zp.reshape(shape), s.qmin,
                 s.qmax)


def test_moving_average_matches_torch():
    batches = [_data(i, (4, 50)) for i in range(6)]
    ob = tobs.MovingAverageMinMaxObserver(averaging_constant=0.01)
    pob = tobs.MovingAveragePerChannelMinMaxObserver(averaging_constant=0.01,
                                                     ch_axis=1)
    ours = core.MovingAverageMinMaxObserver(0.01)
    pours = core.PerChannelMovingAverageMinMaxObserver(1, 0.01)
    for b in batches:
        ob(torch.from_numpy(b))
        pob(torch.from_numpy(b))
        ours.observe(b)
        pours.observe(b)
    assert ours.min_max() == (ob.min_val.item(), ob.max_val.item())
    mn, mx = pours.min_max()
    np.testing.assert_array_equal(mn, pob.min_val.numpy())
    np.testing.assert_array_equal(mx, pob.max_val.numpy())
    s = core.QuantScheme(bits=8, signed=False)
    tscale, tzp = ob.calculate_qparams()
    scale, zp = ours.compute_params(s)
    assert np.float32(scale) == np.float32(tscale.item())
    assert int(zp) == int(tzp.item())


def test_all_granularities_and_modes_roundtrip():
    x = _data(9, (3, 10, 7))
    for gran, axis, group in [("per_tensor", 0, 0), ("per_axis", -2, 0),
                              ("per_group", 1, 4), ("per_group", 2, 3),
                              ("per_group", 0, 2)]:
        for mode in ["half_to_even", "half_away_from_zero", "toward_zero",
                     "floor"]:
            s = core.QuantScheme(bits=4, signed=False, granularity=gran,
                                 axis=axis, group_size=group, rounding=mode,
                                 scale_dtype="f16")
            scale, zp = core.compute_params(x, s)
            q = core.quantize(x, s, scale, zp)
            assert q.min() >= 0 and q.max() <= 15
            deq = core.dequantize(q, s, scale, zp)
            np.testing.assert_array_equal(core.fake_quant(x, s, scale, zp),
                                          deq)
            # Independent numpy evaluation with broadcast parameters.
            if gran == "per_tensor":
                sb, zb = scale, zp
            elif gran == "per_axis":
                shape = [1] * x.ndim
                shape[axis] = -1
                sb, zb = scale.reshape(shape), zp.reshape(shape)
            else:
                sb = np.repeat(scale, group, axis=axis).take(
                    range(x.shape[axis]), axis=axis)
                zb = np.repeat(zp, group, axis=axis).take(
                    range(x.shape[axis]), axis=axis)
            v = x / sb
            r = {"half_to_even": np.rint,
                 "half_away_from_zero":
                     lambda a: np.trunc(a + np.copysign(
                         np.float32(0.5) * (np.abs(a - np.trunc(a)) >= 0.5),
                         a)),
                 "toward_zero": np.trunc, "floor": np.floor}[mode](v)
            ref = np.clip(r + zb, 0, 15).astype(np.int32)
            np.testing.assert_array_equal(q, ref)
            assert scale.dtype == np.float32
            np.testing.assert_array_equal(
                scale, scale.astype(np.float16).astype(np.float32))


def test_edge_cases():
    s = core.QuantScheme(bits=8, signed=True)
    assert core.params_from_range(0.0, 0.0, s) == (1.0, -128)
    x = np.array([np.nan, np.inf, -np.inf, 1.0], dtype=np.float32)
    scale, zp = core.compute_params(x, s)
    q = core.quantize(x, s, scale, zp)
    assert list(q) == [int(zp), 127, -128, 127]
    empty = np.zeros((0, 4), dtype=np.float32)
    sc, z = core.compute_params(empty, s)
    assert core.quantize(empty, s, sc, z).shape == (0, 4)
    with pytest.raises(ValueError):
        core.QuantScheme(bits=1)
    with pytest.raises(ValueError):
        core.QuantScheme(rounding="nearest")
    with pytest.raises(ValueError):
        core.params_from_range(1.0, 0.0, s)
    with pytest.raises(ValueError):
        core.quantize(x, s, np.ones(2, np.float32), np.zeros(2, np.int32))
    with pytest.raises(ValueError):
        core.dequantize(np.array([300], np.int32), s, sc, z)
    with pytest.raises(ValueError):
        core.MinMaxObserver().merge(core.HistogramObserver())
    np.testing.assert_array_equal(
        core.round_with(np.array([2.5, -2.5], np.float32),
                        "half_away_from_zero"), [3, -3])


def _smooth(d, eps=1e-4):
    zeros = d == 0
    if zeros.all() or not zeros.any():
        return d
    return np.where(zeros, eps, d - eps * zeros.sum() / (~zeros).sum())


def _entropy_reference(counts, start, bin_width, data_min, data_max,
                       start_bin=256, levels=256 - 1):
    """Independent numpy version of the KL range search: returns the range."""
    counts = counts.astype(np.float64)
    zero = -start
    # The bin of 0 takes the mean count of its neighbours (rounded half up),
    # so that a spike of exact zeros does not decide the clip.
    neighbours = [counts[j] for j in (zero - 1, zero + 1) if 0 <= j < len(counts)]
    if neighbours:
        counts[zero] = np.floor(sum(neighbours) / len(neighbours) + 0.5)
    occupied = np.nonzero(counts)[0]
    pos = max(occupied[-1] + 1 - zero, 0)
    neg = max(zero - occupied[0], 0)
    longest, shortest = max(pos, neg), min(pos, neg)

    def sides(d):
        other = (d * shortest + longest // 2) // longest
        return (other, d) if pos >= neg else (d, other)

    best, best_kl = longest, np.inf
    for d in range(longest, 0, -1):
        below, above = sides(d)
        if below + above < start_bin:
            break
        s, e = zero - below, zero + above
        p = counts[s:e].copy()
        p[0] += counts[:s].sum()
        p[-1] += counts[e:].sum()
        q = np.zeros_like(p)
        edges = (np.arange(levels + 1) * (e - s)) // levels
        for k in range(levels):
            nz = np.count_nonzero(p[edges[k]:edges[k + 1]])
            if nz:
                mass = counts[s + edges[k]:s + edges[k + 1]].sum()
                q[edges[k]:edges[k + 1]] = np.where(p[edges[k]:edges[k + 1]] > 0,
                                                    mass / nz, 0)
        p, q = _smooth(p), _smooth(q)
        m = p > 0
        if np.any(q[m] <= 0):
            continue
        pn, qn = p / p.sum(), q / q.sum()
        kl = float(np.sum(pn[m] * np.log(pn[m] / qn[m])))
        if kl < best_kl:
            best_kl, best = kl, d
    below, above = sides(best)
    return (max(np.float32(-below * bin_width), np.float32(min(data_min, 0))),
            min(np.float32(above * bin_width), np.float32(max(data_max, 0))))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("shape", ["gaussian", "relu", "skewed"])
def test_entropy_matches_numpy_reference(seed, shape):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(20000).astype(np.float32)
    x[:3] = [30.0, -25.0, 12.0]
    if shape == "relu":
        x = np.maximum(x, 0)
    elif shape == "skewed":  # a spike at the minimum, a long positive tail
        x = np.where(x < 0, np.float32(-0.8), x * np.float32(1.5))
    ob = core.EntropyObserver()
    ob.observe(x)
    h = ob.histogram()
    expected = _entropy_reference(h["counts"], h["start"], h["bin_width"],
                                  x.min(), x.max())
    assert ob.clip_range() == expected
    assert ob.min_max() == expected
    if shape == "relu":
        assert expected[0] == 0


@pytest.mark.parametrize("mean", [0.0, 0.5])
def test_entropy_clip_ignores_the_relu_zero_spike(mean):
    """Half of a ReLU's outputs are exact zeros. The clip is the one of the
    positive values alone; counting the spike in the KL search clipped
    relu(N(0, 1)) at 1.49 instead of 3.5."""
    x = np.maximum(np.random.default_rng(0).standard_normal(20000) + mean,
                   0).astype(np.float32)
    with_zeros, positive = core.EntropyObserver(), core.EntropyObserver()
    with_zeros.observe(x)
    positive.observe(x[x > 0])
    assert with_zeros.clip_range() == positive.clip_range()
    assert with_zeros.clip_range()[1] > 0.75 * x.max()
    h = with_zeros.histogram()
    assert with_zeros.clip_range() == _entropy_reference(
        h["counts"], h["start"], h["bin_width"], x.min(), x.max())


def test_observers_clip_outliers_and_merge_exactly():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(100000).astype(np.float32)
    x[[10, 500, 7000]] = [50.0, -40.0, 48.0]
    s4 = core.QuantScheme(bits=4)
    obs = {"minmax": core.MinMaxObserver(),
           "pct": core.HistogramObserver(percentile=99.99),
           "ent": core.EntropyObserver(),
           "mse": core.MSEObserver(s4)}
    for o in obs.values():
        o.observe(x)
    assert obs["minmax"].min_max() == (-40.0, 50.0)
    for name in ["pct", "ent", "mse"]:
        lo, hi = obs[name].min_max()
        assert hi < 25.0, name
        assert lo > -20.0, name
    # Split streams merge to the same state.
    for make in [core.MinMaxObserver, core.HistogramObserver,
                 core.EntropyObserver, lambda: core.MSEObserver(s4),
                 core.MovingAverageMinMaxObserver]:
        whole, a, b = make(), make(), make()
        for i in range(10):
            chunk = x[i * 10000:(i + 1) * 10000]
            whole.observe(chunk)
            (a if i < 4 else b).observe(chunk)
        a.merge(b)
        assert a.min_max() == whole.min_max()
