"""JIT tests of the weight-only GEMV kernels (quantx-pack-weight-only).

Weights are 4/8-bit integers grouped along K with f32 or f16 scales and
optional zero points or mins, either packed on the host by
quantx._core.pack_weight_only and passed as arguments, or constants packed
by the compiler. Results are compared with the dequantize-then-matmul in
f64. Tolerance: the kernel accumulates in f32 (per group x*u with FMAs in
several chains, then s * acc + c * sum(x)), so each result may differ from
the exact sum by a few f32 roundings of the partial sums; the bound used is
1e-5 * sum_k |x_k * w_k| (about 100 f32 ulps of the magnitude), far below
any error a wrong index, nibble or scale would cause.
"""

import os
import subprocess

import numpy as np
import pytest

BUILD = os.environ.get("QUANTX_BINARY_DIR", "build")
RUN = os.path.join(BUILD, "bin", "quantx-run")
OPT = os.path.join(BUILD, "bin", "quantx-opt")
pytestmark = pytest.mark.skipif(not os.path.exists(RUN),
                                reason="built without MLIR: no quantx-run")

core = pytest.importorskip("quantx._core")


def qtype(bits, signed, group, f16, offset):
    parts = [f"{'i' if signed else 'u'}{bits}:f32",
             f"blocks = {{0 : 1, 1 : {group}}}"]
    if offset != "none":
        parts.append(f"offset = {offset}")
    if f16:
        parts.append("scale_type = f16")
    return "!quantx.uniform<" + ", ".join(parts) + ">"


def make_case(rng, m, n, k, group, bits=4, signed=True, f16=False,
              offset="none"):
    g = -(-k // group)
    lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0,
                                                                   1 << bits)
    q = rng.integers(lo, hi, size=(n, k)).astype(np.int32)
    s = rng.uniform(0.01, 0.2, size=(n, g)).astype(np.float16 if f16 else
                                                  np.float32)
    o = None
    if offset == "zero_point":
        o = rng.integers(lo, hi, size=(n, g)).astype(np.int32)
    elif offset in ("add_min", "sub_min"):
        o = rng.uniform(-1, 1, size=(n, g)).astype(s.dtype)
    x = rng.standard_normal((m, k)).astype(np.float32)
    return x, q, s, o


def reference(x, q, s, o, group, offset):
    k = q.shape[1]
    sf = np.repeat(s.astype(np.float64), group, axis=1)[:, :k]
    qf = q.astype(np.float64)
    if offset == "zero_point":
        w = sf * (qf - np.repeat(o, group, axis=1)[:, :k])
    elif offset == "add_min":
        w = sf * qf + np.repeat(o.astype(np.float64), group, axis=1)[:, :k]
    elif offset == "sub_min":
        w = sf * qf - np.repeat(o.astype(np.float64), group, axis=1)[:, :k]
    else:
        w = sf * qf
    xd = x.astype(np.float64)
    return xd @ w.T, np.abs(xd) @ np.abs(w).T


def check(y, ref, bound):
    assert y.shape == ref.shape
    err = np.abs(y.astype(np.float64) - ref)
    assert np.all(err <= 1e-5 * bound + 1e-6), err.max()


def storage_dtype(bits, signed):
    return np.int8 if signed else np.uint8


def matmul_source(m, n, k, group, bits, signed, f16, offset):
    g = -(-k // group)
    t = qtype(bits, signed, group, f16, offset)
    sdt = "f16" if f16 else "f32"
    odt = "i32" if offset == "zero_point" else sdt
    args = [f"%x: tensor<{m}x{k}xf32>", f"%w: tensor<{n}x{k}x!q>",
            f"%s: tensor<{n}x{g}x{sdt}>"]
    ops = f"rhs_scale(%s : tensor<{n}x{g}x{sdt}>)"
    if offset != "none":
        args.append(f"%o: tensor<{n}x{g}x{odt}>")
        ops += f" rhs_offset(%o : tensor<{n}x{g}x{odt}>)"
    return (f"!q = {t}\n"
            f"func.func @f({', '.join(args)}) -> tensor<{m}x{n}xf32> {{\n"
            f"  %y = quantx.matmul %x, %w {ops} {{transpose_rhs}} : "
            f"tensor<{m}x{k}xf32>, tensor<{n}x{k}x!q> -> tensor<{m}x{n}xf32>\n"
            f"  return %y : tensor<{m}x{n}xf32>\n}}\n")


def run_packed(tmp_path, x, q, s, o, group, bits, signed, offset, threads=1,
               min_bytes=None, activations="f32", extra_opts=""):
    """Packs the weight arguments with quantx-pack-weight-only (f32 or int8
    activations), packs the test's weights with the numeric core's packer
    in the matching layout (n8 or n8k8) and runs the result with
    quantx-run. Returns (output, packed IR)."""
    m, k = x.shape
    n = q.shape[0]
    src = tmp_path / "f.mlir"
    src.write_text(matmul_source(m, n, k, group, bits, signed,
                                 s.dtype == np.float16, offset))
    packed = tmp_path / "f.packed.mlir"
    opts = f"pack-arguments=1 activations={activations}"
    if min_bytes is not None:
        opts += f" parallel-min-bytes={min_bytes}"
    if extra_opts:
        opts += " " + extra_opts
    subprocess.run([OPT, str(src), f"--quantx-pack-weight-only={opts}",
                    "-o", str(packed)], check=True)
    text = packed.read_text()
    marker = "_a8" if activations == "int8" else "__quantx_wo_gemv"
    assert "quantx.matmul" not in text and marker in text
    pw, ps, pc = core.pack_weight_only(
        q, s, offsets=None if o is None else o.astype(np.float32), bits=bits,
        signed=signed, group=group, offset=offset,
        **({"layout": "n8k8"} if activations == "int8" else {}))
    inputs = [x, pw, ps] + ([] if pc is None else [pc])
    args = [RUN, str(packed), "-e", "f"]
    for i, a in enumerate(inputs):
        p = tmp_path / f"in{i}.npy"
        np.save(p, a)
        args += ["--input", str(p)]
    out = tmp_path / "y.npy"
    subprocess.run(args + ["--output", str(out)], check=True,
                   capture_output=True,
                   env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    return np.load(out), text


@pytest.mark.parametrize("m", [1, 2, 3, 5, 8])
def test_int4_group32_packed_arguments(tmp_path, m):
    rng = np.random.default_rng(m)
    x, q, s, o = make_case(rng, m, 40, 96, 32)
    y, _ = run_packed(tmp_path, x, q, s, o, 32, 4, True, "none")
    check(y, *reference(x, q, s, o, 32, "none"))


@pytest.mark.parametrize("n,k,group", [
    (13, 100, 32),   # partial last group, N not a multiple of the tile
    (9, 130, 128),   # one full group and a 2-element one
    (8, 6, 2),       # tiny groups
    (17, 70, 14),    # group size not a power of two
    (10, 50, 7),     # odd groups: 4-bit groups padded to whole bytes
    (8, 9, 3),
])
def test_odd_shapes(tmp_path, n, k, group):
    rng = np.random.default_rng(n * 1000 + k)
    x, q, s, o = make_case(rng, 3, n, k, group)
    y, _ = run_packed(tmp_path, x, q, s, o, group, 4, True, "none")
    check(y, *reference(x, q, s, o, group, "none"))


@pytest.mark.parametrize("offset", ["zero_point", "add_min", "sub_min"])
@pytest.mark.parametrize("f16", [False, True])
def test_unsigned_int4_with_offsets(tmp_path, offset, f16):
    rng = np.random.default_rng(7)
    x, q, s, o = make_case(rng, 2, 24, 96, 32, signed=False, f16=f16,
                           offset=offset)
    y, text = run_packed(tmp_path, x, q, s, o, 32, 4, False, offset)
    assert ("_f16" in text) == f16
    check(y, *reference(x, q, s, o, 32, offset))


@pytest.mark.parametrize("signed", [True, False])
def test_int8_weights(tmp_path, signed):
    rng = np.random.default_rng(11)
    offset = "none" if signed else "zero_point"
    x, q, s, o = make_case(rng, 4, 20, 80, 16, bits=8, signed=signed,
                           f16=True, offset=offset)
    y, _ = run_packed(tmp_path, x, q, s, o, 16, 8, signed, offset)
    check(y, *reference(x, q, s, o, 16, offset))


def test_threaded_kernel_matches(tmp_path):
    # parallel-min-bytes=0 threads even this small kernel over N (OpenMP).
    rng = np.random.default_rng(5)
    x, q, s, o = make_case(rng, 1, 200, 256, 32, f16=True)
    y, text = run_packed(tmp_path, x, q, s, o, 32, 4, True, "none",
                         threads=2, min_bytes=0)
    assert "omp.wsloop" in text
    check(y, *reference(x, q, s, o, 32, "none"))


@pytest.mark.parametrize("m,min_bytes", [(9, 0), (20, 0), (64, 1 << 30)])
@pytest.mark.parametrize("activations", ["f32", "int8"])
def test_more_than_eight_rows_in_blocks(tmp_path, m, min_bytes, activations):
    """Blocks of 8 rows and a rest: threads inside each kernel call
    (min_bytes 0) or, with serial kernels, over the blocks (64 rows of a
    256 x 128 matrix read 8 times)."""
    rng = np.random.default_rng(m)
    x, q, s, o = make_case(rng, m, 256, 128, 32)
    y, text = run_packed(tmp_path, x, q, s, o, 32, 4, True, "none",
                         threads=2, min_bytes=min_bytes,
                         activations=activations)
    assert "memref.subview" in text and "omp.wsloop" in text
    ref, bound = reference(x, q, s, o, 32, "none")
    if activations == "f32":
        check(y, ref, bound)
    else:
        step = np.abs(x).reshape(m, -1, 32).max(axis=2) / 127
        w = np.abs(np.repeat(s.astype(np.float64), 32, axis=1) * q)
        err = np.abs(y - ref)
        assert np.all(err <= 0.5 * np.repeat(step, 32, axis=1) @ w.T + 1e-4), err.max()


def constant_weight_source(x, q, s, o, group, signed, offset, bits=4):
    """A quantx.matmul of an argument x by 4-bit (or 8-bit) weights q
    (scales s, zero points o with offset="zero_point") written as
    constants."""
    m, k = x.shape
    n = q.shape[0]
    g = -(-k // group)

    def dense(a, t):
        return f"dense<{a.tolist()}> : {t}"

    # Unsigned values above the signed maximum print as negative iN.
    half = 1 << (bits - 1)
    qi = q if signed else np.where(q >= half, q - 2 * half, q)
    zp = offset == "zero_point"
    return (
        f"!q = {qtype(bits, signed, group, False, offset)}\n"
        f"func.func @f(%x: tensor<{m}x{k}xf32>) -> tensor<{m}x{n}xf32> {{\n"
        f"  %wi = arith.constant {dense(qi, f'tensor<{n}x{k}xi{bits}>')}\n"
        f"  %w = quantx.scast %wi : tensor<{n}x{k}xi{bits}> -> tensor<{n}x{k}x!q>\n"
        f"  %s = arith.constant {dense(s, f'tensor<{n}x{g}xf32>')}\n"
        + (f"  %o = arith.constant {dense(o, f'tensor<{n}x{g}xi32>')}\n"
           if zp else "")
        + f"  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<{n}x{g}xf32>) "
        + (f"rhs_offset(%o : tensor<{n}x{g}xi32>) " if zp else "")
        + f"{{transpose_rhs}} : "
        f"tensor<{m}x{k}xf32>, tensor<{n}x{k}x!q> -> tensor<{m}x{n}xf32>\n"
        f"  return %y : tensor<{m}x{n}xf32>\n}}\n")


def test_constant_weights_packed_at_compile_time(tmp_path):
    rng = np.random.default_rng(3)
    m, n, k, group = 2, 11, 72, 32
    x, q, s, o = make_case(rng, m, n, k, group, offset="zero_point",
                           signed=False)
    src = constant_weight_source(x, q, s, o, group, False, "zero_point")
    f = tmp_path / "c.mlir"
    f.write_text(src)
    lowered = subprocess.run([OPT, str(f), "--quantx-pack-weight-only"],
                             check=True, capture_output=True,
                             text=True).stdout
    assert "dense_resource<quantx_wo_weights" in lowered
    assert "quantx.matmul" not in lowered
    # The f32 kernel (the pipeline's default for these weights is the int8
    # form, tested in test_weight_only_gemv_int8.py).
    jit = pytest.importorskip("quantx.jit")
    fn = jit.compile(src, "builtin.module(quantx-cpu-pipeline{"
                          "weight-only-activations=f32})")["f"]
    check(fn(x), *reference(x, q, s, o, group, "zero_point"))


@pytest.mark.parametrize("activations", ["f32", "int8"])
def test_bias_and_relu_follow_the_kernel(tmp_path, activations):
    """A bias and ReLU (as PTQ's weight-only modes emit them) no longer keep
    the matmul off the packed kernel: they are applied to its result."""
    rng = np.random.default_rng(5)
    m, n, k, group = 3, 11, 64, 32
    x, q, s, o = make_case(rng, m, n, k, group)
    b = rng.standard_normal(n).astype(np.float32)
    src = constant_weight_source(x, q, s, o, group, True, "none")
    src = src.replace(
        "  %y = quantx.matmul %x, %w rhs_scale",
        f"  %b = arith.constant dense<{b.tolist()}> : tensor<{n}xf32>\n"
        f"  %y = quantx.matmul %x, %w bias(%b : tensor<{n}xf32>) rhs_scale")
    src = src.replace("{transpose_rhs}", "{relu, transpose_rhs}")
    f = tmp_path / "c.mlir"
    f.write_text(src)
    lowered = subprocess.run(
        [OPT, str(f), f"--quantx-pack-weight-only=activations={activations}"],
        check=True, capture_output=True, text=True).stdout
    assert "quantx.matmul" not in lowered and "dense_resource<quantx_wo_weights" in lowered
    assert "arith.maximumf" in lowered
    jit = pytest.importorskip("quantx.jit")
    fn = jit.compile(src, "builtin.module(quantx-cpu-pipeline{"
                          f"weight-only-activations={activations}}})")["f"]
    y = fn(x)
    ref, bound = reference(x, q, s, o, group, "none")
    ref = np.maximum(ref + b, 0)
    assert (ref == 0).any() and (ref > 0).any()
    if activations == "f32":
        check(y, ref, bound + np.abs(b))
    else:
        # int8 activations: the activation quantization error (half a step
        # of max|x| / 127 per group) bounds the difference.
        step = np.abs(x).reshape(m, -1, group).max(axis=2) / 127
        w = np.abs(np.repeat(s.astype(np.float64), group, axis=1) * q)
        err = np.abs(y - ref)
        assert np.all(err <= 0.5 * np.repeat(step, group, axis=1) @ w.T + 1e-4), err.max()


def test_packer_layout_by_hand():
    # Two rows, K = 4, groups of 2: row 0 = [1, -2, 3, 0], row 1 =
    # [2, 2, -1, 4]; u = q + 8 in nibbles, low nibble = even k.
    q = np.array([[1, -2, 3, 0], [2, 2, -1, 4]], np.int8)
    s = np.array([[0.5, 1.0], [0.25, 2.0]], np.float32)
    w, ps, pc = core.pack_weight_only(q, s, group=2)
    w = w.view(np.uint8)
    assert w.shape == (16,) and pc is None
    assert w[0] == (9 | 6 << 4) and w[1] == (10 | 10 << 4)
    assert w[8] == (11 | 8 << 4) and w[9] == (7 | 12 << 4)
    assert not w[2:8].any() and not w[10:].any()
    assert ps.tolist() == [0.5, 0.25] + [0] * 6 + [1.0, 2.0] + [0] * 6
    # [K, N] input gives the same layout.
    w2, ps2, _ = core.pack_weight_only(q.T.copy(), s.T.copy(), group=2,
                                       transposed=False)
    assert (w2.view(np.uint8) == w).all() and (ps2 == ps).all()


def test_packer_rejects_bad_input():
    q = np.zeros((4, 8), np.int8)
    s = np.ones((4, 1), np.float32)
    with pytest.raises(ValueError, match="positive"):
        core.pack_weight_only(q, np.ones((4, 2), np.float32), group=0)
    with pytest.raises(ValueError, match="outside the 4-bit storage range"):
        core.pack_weight_only(q + 9, s, group=8)
    with pytest.raises(ValueError, match="shape"):
        core.pack_weight_only(q, np.ones((4, 3), np.float32), group=8)
    with pytest.raises(ValueError, match="needs offsets"):
        core.pack_weight_only(q, s, group=8, offset="zero_point")
