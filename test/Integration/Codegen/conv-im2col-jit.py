# quantx.conv2d lowered as im2col + generated GEMM against the reference
# lowering (one contraction over (c, kh, kw), `conv-im2col=false`) through
# the JIT on random data: padding, strides, dilations, batches, 1x1 filters,
# i32 bias, ReLU, per-channel filter scales, asymmetric input zero points.
# Integer paths must agree bit for bit (and the i32 results with an exact
# numpy convolution); float activations (weight-only filters) within the
# rounding of an f32 sum.
#
# RUN: %python %s quantx-opt quantx-run %t

import os
import subprocess
import sys

import numpy as np

OPT, RUNNER, TMP = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(TMP, exist_ok=True)
failures = []


def sh(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{r.stderr}")
    return r.stdout


def run(mlir, inputs, im2col, threads=2):
    src = os.path.join(TMP, "m.mlir")
    with open(src, "w") as f:
        f.write(mlir)
    if not im2col:
        # The reference lowering first; the runner's own pipeline then has
        # no quantx op left to lower.
        lowered = os.path.join(TMP, "ref.mlir")
        with open(lowered, "w") as f:
            f.write(sh([OPT, src, "--convert-quantx-to-linalg=conv-im2col=false"]))
        src = lowered
        # Lowered signatures carry signless storage: unsigned data as i8.
        inputs = [a.view(np.int8) if a.dtype == np.uint8 else a for a in inputs]
    args = [RUNNER, src, "-e", "f"]
    for i, a in enumerate(inputs):
        p = os.path.join(TMP, f"in{i}.npy")
        np.save(p, a)
        args += ["--input", p]
    out = os.path.join(TMP, "out.npy")
    args += ["--output", out]
    sh(args, env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    return np.load(out)


def check(name, ok):
    print(f"{'ok' if ok else 'FAIL'}: {name}")
    if not ok:
        failures.append(name)


def fmt(a):
    return "[" + ", ".join(repr(float(v)) for v in a) + "]"


def conv_ref(x, w, pad, st, dil):
    """Direct convolution in the operands' type (exact for int64)."""
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[1]), (pad[2], pad[3])))
    oh = (h + pad[0] + pad[1] - dil[0] * (kh - 1) - 1) // st[0] + 1
    ow = (wd + pad[2] + pad[3] - dil[1] * (kw - 1) - 1) // st[1] + 1
    out = np.zeros((n, f, oh, ow), np.result_type(x, w))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i * dil[0]:i * dil[0] + st[0] * (oh - 1) + 1:st[0],
                       j * dil[1]:j * dil[1] + st[1] * (ow - 1) + 1:st[1]]
            out += np.einsum("nchw,fc->nfhw", patch, w[:, :, i, j])
    return out, oh, ow


rng = np.random.default_rng(11)

# (name, n, c, h, w, f, kh, kw, pad, strides, dilations, input storage, zp)
CASES = [
    ("3x3 pad 1", 1, 3, 9, 9, 8, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), "i8", -7),
    ("asymmetric pad, stride, dilation", 2, 5, 11, 10, 12, 3, 2,
     (1, 2, 0, 1), (2, 1), (1, 2), "u8", 131),
    ("1x1 one image", 1, 16, 7, 6, 24, 1, 1, (0, 0, 0, 0), (1, 1), (1, 1), "i8", 5),
    ("1x1 batch", 3, 16, 5, 5, 10, 1, 1, (0, 0, 0, 0), (1, 1), (1, 1), "u8", 0),
    ("1x1 stride 2", 1, 4, 7, 7, 9, 1, 1, (0, 0, 0, 0), (2, 2), (1, 1), "i8", -128),
    ("5x5 few filters", 2, 2, 12, 12, 3, 5, 5, (2, 2, 2, 2), (1, 1), (1, 1), "u8", 17),
]

for (name, n, c, h, wd, f, kh, kw, pad, st, dil, storage, zp) in CASES:
    lo, hi = (-128, 127) if storage == "i8" else (0, 255)
    x = rng.integers(lo, hi + 1, size=(n, c, h, wd)).astype(
        np.int8 if storage == "i8" else np.uint8)
    w = rng.integers(-127, 128, size=(f, c, kh, kw)).astype(np.int8)
    bias = rng.integers(-3000, 3000, size=(f,)).astype(np.int32)
    scales = rng.uniform(0.002, 0.02, size=f)
    _, oh, ow = conv_ref(np.zeros((n, c, h, wd), np.int64), w.astype(np.int64),
                         pad, st, dil)
    xt = f"tensor<{n}x{c}x{h}x{wd}x!quantx.uniform<{storage}:f32, scale = 0.03, zero_point = {zp}>>"
    wt = (f"tensor<{f}x{c}x{kh}x{kw}x!quantx.uniform<i8<-127:127>:f32, axis = 0, "
          f"scales = dense<{fmt(scales)}> : tensor<{f}xf64>>>")
    attrs = (f"{{padding = array<i64: {', '.join(map(str, pad))}>, "
             f"strides = array<i64: {st[0]}, {st[1]}>, "
             f"dilations = array<i64: {dil[0]}, {dil[1]}>")
    shapes = f"tensor<{n}x{f}x{oh}x{ow}"
    sx = x

    # Requantized int8 result with bias and ReLU: the PTQ epilogue.
    rq = f"{shapes}x!quantx.uniform<i8:f32, scale = 0.11, zero_point = -4>>"
    mlir = f"""
func.func @f(%x: {xt}, %w: {wt}, %b: tensor<{f}xi32>) -> {shapes}xi8> {{
  %y = quantx.conv2d %x, %w bias(%b : tensor<{f}xi32>) {attrs}, relu}} : {xt}, {wt} -> {rq}
  %s = quantx.scast %y : {rq} -> {shapes}xi8>
  return %s : {shapes}xi8>
}}"""
    new = run(mlir, [sx, w, bias], True)
    old = run(mlir, [sx, w, bias], False)
    check(f"{name}: requantized + ReLU, im2col == reference", np.array_equal(new, old))
    check(f"{name}: requantized, 1 thread == 2 threads",
          np.array_equal(new, run(mlir, [sx, w, bias], True, threads=1)))

    # f32 result without ReLU (dequantized accumulator plus float bias).
    fb = rng.standard_normal(f).astype(np.float32)
    mlir = f"""
func.func @f(%x: {xt}, %w: {wt}, %b: tensor<{f}xf32>) -> {shapes}xf32> {{
  %y = quantx.conv2d %x, %w bias(%b : tensor<{f}xf32>) {attrs}}} : {xt}, {wt} -> {shapes}xf32>
  return %y : {shapes}xf32>
}}"""
    new = run(mlir, [sx, w, fb], True)
    old = run(mlir, [sx, w, fb], False)
    check(f"{name}: f32 result, im2col == reference bit for bit",
          np.array_equal(new.view(np.int32), old.view(np.int32)))

    # i32 result: exactly the integer convolution of (x - zp) and w.
    mlir = f"""
func.func @f(%x: {xt}, %w: {wt}) -> {shapes}xi32> {{
  %y = quantx.conv2d %x, %w {attrs}}} : {xt}, {wt} -> {shapes}xi32>
  return %y : {shapes}xi32>
}}"""
    new = run(mlir, [sx, w], True)
    ref, _, _ = conv_ref(x.astype(np.int64) - zp, w.astype(np.int64), pad, st, dil)
    # Padding is the real value 0: the zero point, i.e. 0 after subtraction.
    check(f"{name}: i32 result == exact numpy convolution",
          np.array_equal(new.astype(np.int64), ref))

    # Float activations, int8 filter (weight-only): f32 GEMM.
    xf = rng.standard_normal((n, c, h, wd)).astype(np.float32)
    xft = f"tensor<{n}x{c}x{h}x{wd}xf32>"
    mlir = f"""
func.func @f(%x: {xft}, %w: {wt}, %b: tensor<{f}xf32>) -> {shapes}xf32> {{
  %y = quantx.conv2d %x, %w bias(%b : tensor<{f}xf32>) {attrs}, relu}} : {xft}, {wt} -> {shapes}xf32>
  return %y : {shapes}xf32>
}}"""
    new = run(mlir, [xf, w, fb], True)
    old = run(mlir, [xf, w, fb], False)
    # Both sum the same products in another order: |error| <= 2 K eps sum|.|.
    wd_ = w.astype(np.float64) * scales[:, None, None, None]
    bound, _, _ = conv_ref(np.abs(xf.astype(np.float64)), np.abs(wd_), pad, st, dil)
    k = c * kh * kw
    tol = 2 * (k + 2) * np.finfo(np.float32).eps * (bound + np.abs(fb)[None, :, None, None])
    check(f"{name}: float activations, im2col ~ reference (f32 rounding)",
          new.shape == old.shape and bool(np.all(np.abs(new - old) <= tol)))

if failures:
    raise SystemExit("failed: " + ", ".join(failures))
print("all passed")
