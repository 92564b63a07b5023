"""JIT tests of the int8-activation weight-only GEMV kernels.

quantx-pack-weight-only=activations=int8 packs 4-bit weights (groups of a
multiple of 8) into the "n8k8" layout and generates kernels that quantize
each activation row per weight group to int8 on every call, then take
integer dot products with the 4-bit levels. The results are compared with

  * `model`: a numpy model of exactly that algorithm (the same f32
    quantization of the activations, exact integer dot products, the
    per-group f32 rescale). The only differences left are the order of the
    f32 additions over groups; bound 2e-6 * sum_g |terms| + 1e-6 (a few
    dozen f32 ulps of the magnitude); a wrong index, nibble or scale is
    orders of magnitude above it;
  * the float reference (dequantized weights times the f32 activations in
    f64), within the activation quantization error: |err| <= sum_k |w_k| *
    d_g / 2 (half a step of the activation grid per element, d_g =
    max|x| / 127 of the group) plus the model bound.
"""

import subprocess

import numpy as np
import pytest

from test_weight_only_gemv import (OPT, RUN, constant_weight_source, core,
                                   make_case, matmul_source, pytestmark,
                                   reference, run_packed)


def quantize_activations(x, group):
    """Per group of K: d = max|x| / 127 and a = roundeven(x * (1/d)),
    clamped to [-127, 127], all in f32 like the kernel."""
    m, k = x.shape
    g = -(-k // group)
    xp = np.zeros((m, g * group), np.float32)
    xp[:, :k] = x
    xg = xp.reshape(m, g, group)
    d = (np.abs(xg).max(axis=2) / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(d == 0, np.float32(0),
                       np.float32(1) / d).astype(np.float32)
    a = np.clip(np.round(xg * inv[:, :, None]), -127, 127).astype(np.int64)
    return a, d


def model(x, q, s, o, group, bits, signed, offset):
    """The int8-activation algorithm in f64 with exact integer dots.

    Returns the results and the bound sum_g |terms| for the comparison."""
    m, k = x.shape
    n = q.shape[0]
    g = -(-k // group)
    a, d = quantize_activations(x, group)
    qmin = -(1 << (bits - 1)) if signed else 0
    u = np.zeros((n, g * group), np.int64)
    u[:, :k] = q.astype(np.int64) - qmin
    ug = u.reshape(n, g, group)
    dots = np.einsum("mgk,ngk->mng", a, ug).astype(np.float64)
    sw = s.astype(np.float32).astype(np.float64)
    if offset == "none":
        c = sw * qmin
    elif offset == "zero_point":
        c = sw * (qmin - o.astype(np.float64))
    elif offset == "add_min":
        c = sw * qmin + o.astype(np.float32).astype(np.float64)
    else:
        c = sw * qmin - o.astype(np.float32).astype(np.float64)
    d64 = d.astype(np.float64)
    asum = a.sum(axis=2).astype(np.float64)
    t1 = sw[None, :, :] * d64[:, None, :] * dots
    t2 = c[None, :, :] * (d64 * asum)[:, None, :]
    return (t1 + t2).sum(axis=2), (np.abs(t1) + np.abs(t2)).sum(axis=2), d


def activation_error_bound(q, s, o, group, bits, signed, offset, d):
    """sum_k |w_k| * d_g / 2: half a step of the int8 grid per product."""
    k = q.shape[1]
    ref_w = np.abs(dequantized(q, s, o, group, offset))
    dk = np.repeat(d.astype(np.float64), group, axis=1)[:, :k]
    return dk @ ref_w.T / 2


def dequantized(q, s, o, group, offset):
    k = q.shape[1]
    sf = np.repeat(s.astype(np.float64), group, axis=1)[:, :k]
    qf = q.astype(np.float64)
    if offset == "zero_point":
        return sf * (qf - np.repeat(o, group, axis=1)[:, :k])
    if offset == "add_min":
        return sf * qf + np.repeat(o.astype(np.float64), group, axis=1)[:, :k]
    if offset == "sub_min":
        return sf * qf - np.repeat(o.astype(np.float64), group, axis=1)[:, :k]
    return sf * qf


def run_int8(tmp_path, x, q, s, o, group, signed, offset, threads=1,
             min_bytes=None):
    return run_packed(tmp_path, x, q, s, o, group, 4, signed, offset,
                      threads=threads, min_bytes=min_bytes,
                      activations="int8")


def check_both(y, x, q, s, o, group, signed, offset):
    want, mag, d = model(x, q, s, o, group, 4, signed, offset)
    err = np.abs(y.astype(np.float64) - want)
    assert np.all(err <= 2e-6 * mag + 1e-6), (err / (mag + 1e-30)).max()
    ref, _ = reference(x, q, s, o, group, offset)
    bound = activation_error_bound(q, s, o, group, 4, signed, offset, d)
    err_ref = np.abs(y.astype(np.float64) - ref)
    assert np.all(err_ref <= bound + 2e-6 * mag + 1e-6)


def host_has_vnni():
    try:
        flags = open("/proc/cpuinfo").read().split()
    except OSError:
        return False
    return "avx_vnni" in flags or ("avx512_vnni" in flags and "avx512vl" in flags)


@pytest.mark.skipif(not host_has_vnni(), reason="the host has no vpdpbusd")
@pytest.mark.parametrize("m,n,k,threads", [(2, 72, 160, 1), (8, 72, 160, 1),
                                           (20, 72, 160, 2), (64, 72, 160, 2),
                                           (20, 1032, 2048, 2), (70, 1032, 2048, 2)])
@pytest.mark.parametrize("offset", ["none", "zero_point"])
def test_vnni_kernel_equals_the_vpmaddubsw_kernel(tmp_path, m, n, k, threads, offset):
    """vpdpbusd sums the same integer products as vpmaddubsw + vpmaddwd:
    the kernels' results are equal bit for bit, for one block of rows, for
    blocks of rows called one by one on small weights, and on weights of
    over 1 MiB for blocks of rows run inside each tile (a panel of 64 rows
    and one of 6)."""
    rng = np.random.default_rng(m)
    signed = offset == "none"
    x, q, s, o = make_case(rng, m, n, k, 32, signed=signed, offset=offset)
    got = {}
    for rows in (2, -1):
        d = tmp_path / f"vnni{rows}"
        d.mkdir()
        got[rows], text = run_packed(d, x, q, s, o, 32, 4, signed, offset,
                                     threads=threads, min_bytes=0, activations="int8",
                                     extra_opts=f"vnni-min-rows={rows}")
        assert ("_vnni" in text) == (rows == 2)
        # Rows per kernel call: up to 64 on large weights, else up to 8;
        # more rows go through a driver calling it on each such panel.
        per_call = min(m, 64 if n * k // 2 >= 1 << 20 else 8)
        assert f"gemv_m{per_call}_n" in text
        assert ("_rowblocks" in text) == (m > per_call)
    np.testing.assert_array_equal(got[2], got[-1])
    check_both(got[2], x, q, s, o, 32, signed, offset)


@pytest.mark.skipif(not host_has_vnni(), reason="the host has no vpdpbusd")
@pytest.mark.parametrize("m", [1, 3, 8, 20])
@pytest.mark.parametrize("signed,offset", [(True, "none"), (False, "zero_point")])
def test_eight_bit_constant_weights_with_vpdpbusd(tmp_path, m, signed, offset):
    """8-bit constant weights take the int8-activation kernel where the
    target has vpdpbusd (u8 levels up to 255: exact i32 sums), at any row
    count: the algorithm's result within f32 rounding, and the reference
    within the activation quantization's bound. Without vpdpbusd they keep
    the f32 kernel."""
    rng = np.random.default_rng(m)
    group = 40
    x, q, s, o = make_case(rng, m, 24, 200, group, bits=8, signed=signed,
                           offset=offset)
    f = tmp_path / "c.mlir"
    f.write_text(constant_weight_source(x, q, s, o, group, signed, offset, bits=8))
    packed = tmp_path / "c.packed.mlir"
    subprocess.run([OPT, str(f), "--quantx-pack-weight-only=activations=int8",
                    "-o", str(packed)], check=True)
    assert "_a8_vnni" in packed.read_text()
    np.save(tmp_path / "x.npy", x)
    subprocess.run([RUN, str(packed), "-e", "f", "--input", str(tmp_path / "x.npy"),
                    "--output", str(tmp_path / "y.npy")], check=True,
                   capture_output=True)
    y = np.load(tmp_path / "y.npy").astype(np.float64)
    want, mag, d = model(x, q, s, o, group, 8, signed, offset)
    assert np.all(np.abs(y - want) <= 2e-6 * mag + 1e-6)
    ref, _ = reference(x, q, s, o, group, offset)
    bound = activation_error_bound(q, s, o, group, 8, signed, offset, d)
    assert np.all(np.abs(y - ref) <= bound + 2e-6 * mag + 1e-6)
    for opts in ("activations=int8 vnni-min-rows=-1",
                 "activations=int8 target-features=+avx2,+fma"):
        text = subprocess.run([OPT, str(f), f"--quantx-pack-weight-only={opts}"],
                              check=True, capture_output=True, text=True).stdout
        assert "__quantx_wo_gemv" in text and "_a8" not in text


@pytest.mark.parametrize("m", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("group", [32, 128])
def test_rows_and_groups(tmp_path, m, group):
    rng = np.random.default_rng(m * 10 + group)
    x, q, s, o = make_case(rng, m, 24, 512, group, f16=True)
    y, _ = run_int8(tmp_path, x, q, s, o, group, True, "none")
    check_both(y, x, q, s, o, group, True, "none")


@pytest.mark.parametrize("n,k,group", [
    (13, 101, 32),   # odd K: a partial last group, odd group count
    (9, 130, 128),   # one full group and a 2-element one
    (5, 40, 32),     # two groups, the second of 8 elements
    (7, 200, 64),    # group of two 32-blocks, partial last group
    (6, 300, 96),    # 12 octets per group: three inner steps
    (3, 600, 512),   # 64 octets per group: an inner loop of 4 iterations
    (17, 70, 8),     # one octet per group
    (10, 100, 40),   # 5 octets: steps of one octet
    (8, 48, 24),     # 3 octets
])
def test_odd_shapes(tmp_path, n, k, group):
    rng = np.random.default_rng(n * 1000 + k)
    x, q, s, o = make_case(rng, 3, n, k, group)
    y, _ = run_int8(tmp_path, x, q, s, o, group, True, "none")
    check_both(y, x, q, s, o, group, True, "none")


@pytest.mark.parametrize("offset", ["none", "zero_point", "add_min",
                                    "sub_min"])
@pytest.mark.parametrize("f16", [False, True])
def test_unsigned_with_offsets(tmp_path, offset, f16):
    rng = np.random.default_rng(7)
    x, q, s, o = make_case(rng, 2, 24, 160, 32, signed=False, f16=f16,
                           offset=offset)
    y, text = run_int8(tmp_path, x, q, s, o, 32, False, offset)
    assert ("_f16" in text) == f16
    check_both(y, x, q, s, o, 32, False, offset)


def test_zero_and_extreme_activations(tmp_path):
    # An all-zero group (d = 0), a group with one large value, and values
    # at exactly half a step (round half to even).
    rng = np.random.default_rng(2)
    x, q, s, o = make_case(rng, 2, 16, 128, 32)
    x[0, :32] = 0
    x[1, 32:64] = 0.001
    x[1, 40] = 1000.0
    x[0, 64:96] = np.arange(32, dtype=np.float32) * 0.5 - 8
    x[0, 64] = 127.0
    y, _ = run_int8(tmp_path, x, q, s, o, 32, True, "none")
    check_both(y, x, q, s, o, 32, True, "none")


def test_threaded_kernel_matches(tmp_path):
    rng = np.random.default_rng(5)
    x, q, s, o = make_case(rng, 1, 200, 256, 32, f16=True)
    y, text = run_int8(tmp_path, x, q, s, o, 32, True, "none", threads=2,
                       min_bytes=0)
    assert "omp.wsloop" in text
    check_both(y, x, q, s, o, 32, True, "none")


def test_constant_weights_packed_at_compile_time(tmp_path):
    rng = np.random.default_rng(3)
    m, n, k, group = 2, 11, 72, 32
    x, q, s, o = make_case(rng, m, n, k, group)
    src = constant_weight_source(x, q, s, o, group, True, "none")
    f = tmp_path / "c.mlir"
    f.write_text(src)
    packed = tmp_path / "c.packed.mlir"
    subprocess.run([OPT, str(f), "--quantx-pack-weight-only=activations=int8",
                    "-o", str(packed)], check=True)
    text = packed.read_text()
    assert "dense_resource<quantx_wo_weights" in text and "_a8" in text
    np.save(tmp_path / "x.npy", x)
    subprocess.run([RUN, str(packed), "-e", "f", "--input",
                    str(tmp_path / "x.npy"), "--output",
                    str(tmp_path / "y.npy")], check=True,
                   capture_output=True)
    check_both(np.load(tmp_path / "y.npy"), x, q, s, o, group, True, "none")


def test_model_differs_from_float_reference():
    # The int8 model is not the float reference: the tests above would not
    # tell the two paths apart if the activation error were negligible.
    rng = np.random.default_rng(1)
    x, q, s, o = make_case(rng, 1, 8, 256, 32)
    want, mag, _ = model(x, q, s, o, 32, 4, True, "none")
    ref, _ = reference(x, q, s, o, 32, "none")
    assert np.abs(want - ref).max() > 100 * 2e-6 * mag.max()


def test_n8k8_packer_layout_by_hand():
    # Nine rows (two tiles), K = 16 in groups of 8: byte
    # ((t*G + g)*1 + 0)*32 + 4*l + b holds u[8t+l][8g+b] (low nibble) and
    # u[8t+l][8g+4+b] (high nibble), u = q + 8; row 8 is in tile 1, rows
    # 9..15 are padding (u = 0, scale 0).
    q = ((np.arange(9)[:, None] * 3 + np.arange(16)[None, :]) % 16 - 8
         ).astype(np.int8)
    s = np.arange(1, 19, dtype=np.float32).reshape(9, 2) / 4
    w, ps, pc = core.pack_weight_only(q, s, group=8, layout="n8k8")
    w = w.view(np.uint8)
    u = q.astype(np.int64) + 8
    assert w.shape == (16 * 16 // 2,) and pc is None
    want = np.zeros(128, np.int64)
    for row in range(9):
        t, lane = divmod(row, 8)
        for g in range(2):
            for b in range(4):
                want[(t * 2 + g) * 32 + 4 * lane + b] = (
                    u[row, 8 * g + b] | u[row, 8 * g + 4 + b] << 4)
    assert w.tolist() == want.tolist()
    # Scales as in "n8": (t*G + g)*8 + lane.
    want_s = np.zeros(32, np.float32)
    for row in range(9):
        t, lane = divmod(row, 8)
        for g in range(2):
            want_s[(t * 2 + g) * 8 + lane] = s[row, g]
    assert ps.tolist() == want_s.tolist()
    w2, ps2, _ = core.pack_weight_only(q.T.copy(), s.T.copy(), group=8,
                                       layout="n8k8", transposed=False)
    assert (w2.view(np.uint8) == w).all() and (ps2 == ps).all()


def test_n8k8_packer_pads_k():
    # K = 12 in groups of 8: the second group holds k 8..11 and zeros.
    q = np.full((8, 12), 7, np.int8)
    s = np.ones((8, 2), np.float32)
    w, _, _ = core.pack_weight_only(q, s, group=8, layout="n8k8")
    w = w.view(np.uint8).reshape(2, 32)
    assert (w[0] == 0xFF).all()
    assert (w[1] == 0x0F).all()


def test_n8k8_packer_rejects_bad_input():
    q = np.zeros((4, 64), np.int8)
    with pytest.raises(ValueError, match="multiple of 8"):
        core.pack_weight_only(q, np.ones((4, 6), np.float32), group=12,
                              layout="n8k8")
    with pytest.raises(ValueError, match="n8 or n8k8"):
        core.pack_weight_only(q, np.ones((4, 2), np.float32), group=32,
                              layout="k8")
    with pytest.raises(ValueError, match="outside the 4-bit storage range"):
        core.pack_weight_only(q + 8, np.ones((4, 2), np.float32), group=32,
                              layout="n8k8")


def test_pack_arguments_needs_an_n8k8_shape(tmp_path):
    # With pack-arguments, int8 activations on weights the n8k8 layout
    # cannot hold is an error (the caller would not know the layout).
    src = tmp_path / "f.mlir"
    src.write_text(matmul_source(1, 8, 60, 12, 4, True, False, "none"))
    r = subprocess.run([OPT, str(src), "--quantx-pack-weight-only="
                        "pack-arguments=1 activations=int8"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "multiple of 8" in r.stderr


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_largest_products_do_not_saturate(tmp_path, sign):
    # u = 15 everywhere and every activation at the top of the grid
    # (a = +-127): the i16 sums reach +-8*2*15*127 = +-30480, the most the
    # kernel adds before widening; a saturating sum would be off by far
    # more than the bound.
    rng = np.random.default_rng(9)
    x, q, s, o = make_case(rng, 1, 16, 256, 128)
    q[:] = 7
    x[:] = sign * 0.75
    y, _ = run_int8(tmp_path, x, q, s, o, 128, True, "none")
    check_both(y, x, q, s, o, 128, True, "none")
