# Generated GEMM kernels through the JIT against exact numpy references:
# shapes that are not multiples of the register tile, the vector width or the
# cache blocks, zero points, per-channel scales, every epilogue, f32; and the
# same results bit for bit on 1 and 2 threads.
#
# RUN: %python %s quantx-run %t

import os
import subprocess
import sys

import numpy as np

RUNNER, TMP = sys.argv[1], sys.argv[2]
os.makedirs(TMP, exist_ok=True)
failures = []


def run(mlir, inputs, n_out, threads):
    src = os.path.join(TMP, "m.mlir")
    with open(src, "w") as f:
        f.write(mlir)
    args = [RUNNER, src, "-e", "f"]
    for i, a in enumerate(inputs):
        p = os.path.join(TMP, f"in{i}.npy")
        np.save(p, a)
        args += ["--input", p]
    outs = [os.path.join(TMP, f"out{i}.npy") for i in range(n_out)]
    for p in outs:
        args += ["--output", p]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    r = subprocess.run(args, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"quantx-run failed:\n{r.stderr}")
    return [np.load(p) for p in outs]


def check(name, got, ref, exact=True, tol=0.0):
    ok = np.array_equal(got, ref) if exact else bool(
        np.abs(got - ref).max(initial=0) <= tol)
    print(f"{'ok' if ok else 'FAIL'}: {name}")
    if not ok:
        failures.append(name)


def both_threads(name, mlir, inputs, n_out):
    """Runs on 1 and 2 threads; results must be identical bit for bit."""
    one = run(mlir, inputs, n_out, 1)
    two = run(mlir, inputs, n_out, 2)
    for i, (a, b) in enumerate(zip(one, two)):
        check(f"{name} result {i}: 1 thread == 2 threads", a, b)
    return two


rng = np.random.default_rng(7)

# int8 x int8 -> i32 with zero points (lhs u8 zp 131, rhs i8 zp -5), rhs
# transposed or not, ragged shapes.
for (m, k, n) in [(8, 1, 1), (9, 3, 5), (13, 37, 21), (50, 300, 17),
                  (127, 129, 65), (97, 1030, 300)]:
    for transposed in (False, True):
        a = rng.integers(0, 256, (m, k), dtype=np.uint8)
        wshape = (n, k) if transposed else (k, n)
        w = rng.integers(-128, 128, wshape, dtype=np.int8)
        attr = " {transpose_rhs}" if transposed else ""
        wt = f"{wshape[0]}x{wshape[1]}"
        mlir = f"""
!x = !quantx.uniform<u8:f32, scale = 0.5, zero_point = 131>
!w = !quantx.uniform<i8:f32, scale = 0.25, zero_point = -5>
func.func @f(%a: tensor<{m}x{k}xi8>, %b: tensor<{wt}xi8>) -> tensor<{m}x{n}xi32> {{
  %x = quantx.scast %a : tensor<{m}x{k}xi8> -> tensor<{m}x{k}x!x>
  %w = quantx.scast %b : tensor<{wt}xi8> -> tensor<{wt}x!w>
  %r = quantx.matmul %x, %w{attr} : tensor<{m}x{k}x!x>, tensor<{wt}x!w> -> tensor<{m}x{n}xi32>
  return %r : tensor<{m}x{n}xi32>
}}"""
        (got,) = both_threads(f"int8 zp {m}x{k}x{n} t={transposed}", mlir,
                              [a.view(np.int8), w], 1)
        wk = w.T if transposed else w
        ref = (a.astype(np.int64) - 131) @ (wk.astype(np.int64) + 5)
        check(f"int8 zp {m}x{k}x{n} transposed={transposed}", got,
              ref.astype(np.int32))

# Per-channel symmetric weights with the epilogues: i32 bias + ReLU (i32),
# f32 output, requantized u8 output.
m, k, n = 29, 77, 40
a = rng.integers(-128, 128, (m, k), dtype=np.int8)
w = rng.integers(-127, 128, (n, k), dtype=np.int8)
ws = rng.uniform(0.01, 0.05, n).astype(np.float32)
bias = rng.integers(-2000, 2000, n).astype(np.int32)
scales = ", ".join(f"{v:.9e}" for v in ws)
mlir = f"""
!x = !quantx.uniform<i8:f32, scale = 0.125>
!w = !quantx.uniform<i8:f32, axis = 0, scales = dense<[{scales}]> : tensor<{n}xf32>>
!y = !quantx.uniform<u8:f32, scale = 0.5, zero_point = 20>
func.func @f(%a: tensor<{m}x{k}xi8>, %b: tensor<{n}x{k}xi8>, %bias: tensor<{n}xi32>) -> (tensor<{m}x{n}xi32>, tensor<{m}x{n}xf32>, tensor<{m}x{n}xi8>) {{
  %x = quantx.scast %a : tensor<{m}x{k}xi8> -> tensor<{m}x{k}x!x>
  %w = quantx.scast %b : tensor<{n}x{k}xi8> -> tensor<{n}x{k}x!w>
  %r = quantx.matmul %x, %w bias(%bias : tensor<{n}xi32>) {{relu, transpose_rhs}} : tensor<{m}x{k}x!x>, tensor<{n}x{k}x!w> -> tensor<{m}x{n}xi32>
  %f = quantx.matmul %x, %w bias(%bias : tensor<{n}xi32>) {{transpose_rhs}} : tensor<{m}x{k}x!x>, tensor<{n}x{k}x!w> -> tensor<{m}x{n}xf32>
  %q = quantx.matmul %x, %w bias(%bias : tensor<{n}xi32>) {{relu, transpose_rhs}} : tensor<{m}x{k}x!x>, tensor<{n}x{k}x!w> -> tensor<{m}x{n}x!y>
  %qi = quantx.scast %q : tensor<{m}x{n}x!y> -> tensor<{m}x{n}xi8>
  return %r, %f, %qi : tensor<{m}x{n}xi32>, tensor<{m}x{n}xf32>, tensor<{m}x{n}xi8>
}}"""
r, f, q = both_threads("int8 epilogues", mlir, [a, w, bias], 3)
acc = (a.astype(np.int64) @ w.T.astype(np.int64)).astype(np.int32) + bias
check("int8 bias + relu (i32)", r, np.maximum(acc, 0))
# f32 epilogue: float(acc) * (0.125 * s_w[n]), in f32.
yf = acc.astype(np.float32) * (np.float32(0.125) * ws)
check("int8 scaled f32 output", f, yf)
yq = np.clip(np.round(np.maximum(yf, 0) / np.float32(0.5)) + 20, 0, 255)
check("int8 requantized u8 output", q.view(np.uint8), yq.astype(np.uint8))

# Constant weights (packed at compile time) with a static zero point, and a
# dynamic lhs zero point read at run time (corrected by the column sums of
# the weights), ragged and tile-aligned shapes.
for (m, k, n) in [(9, 37, 21), (64, 784, 256), (16, 130, 10)]:
    a = rng.integers(0, 256, (m, k), dtype=np.uint8)
    w = rng.integers(-127, 128, (k, n), dtype=np.int8)
    zp = int(rng.integers(0, 256))
    hexw = "0x" + w.tobytes().hex().upper()
    mlir = f"""
!x = !quantx.uniform<u8:f32, scale = 0.5, zero_point = 77>
!xd = !quantx.uniform<u8:f32, offset = zero_point>
!w = !quantx.uniform<i8<-127:127>:f32, scale = 0.25>
func.func @f(%a: tensor<{m}x{k}xi8>, %zp: tensor<i32>, %s: tensor<f32>) -> (tensor<{m}x{n}xi32>, tensor<{m}x{n}xi32>) {{
  %w = quantx.constant dense<"{hexw}"> : tensor<{k}x{n}xi8> -> tensor<{k}x{n}x!w>
  %x = quantx.scast %a : tensor<{m}x{k}xi8> -> tensor<{m}x{k}x!x>
  %r = quantx.matmul %x, %w : tensor<{m}x{k}x!x>, tensor<{k}x{n}x!w> -> tensor<{m}x{n}xi32>
  %xd = quantx.scast %a : tensor<{m}x{k}xi8> -> tensor<{m}x{k}x!xd>
  %d = quantx.matmul %xd, %w lhs_scale(%s : tensor<f32>) lhs_offset(%zp : tensor<i32>) : tensor<{m}x{k}x!xd>, tensor<{k}x{n}x!w> -> tensor<{m}x{n}xi32>
  return %r, %d : tensor<{m}x{n}xi32>, tensor<{m}x{n}xi32>
}}"""
    r, d = both_threads(f"constant weights {m}x{k}x{n}", mlir,
                        [a.view(np.int8), np.array(zp, np.int32),
                         np.array(0.5, np.float32)], 2)
    wl = w.astype(np.int64)
    check(f"constant weights, zero point 77, {m}x{k}x{n}", r,
          ((a.astype(np.int64) - 77) @ wl).astype(np.int32))
    check(f"constant weights, dynamic zero point {zp}, {m}x{k}x{n}", d,
          ((a.astype(np.int64) - zp) @ wl).astype(np.int32))

# Constant uint8 weights with a zero point (the compile-time packing then
# evaluates extui and subi), ragged shape.
m, k, n = 11, 45, 19
a = rng.integers(-128, 128, (m, k), dtype=np.int8)
wu = rng.integers(0, 256, (k, n), dtype=np.uint8)
mlir = f"""
!x = !quantx.uniform<i8:f32, scale = 0.5>
!w = !quantx.uniform<u8:f32, scale = 0.25, zero_point = 131>
func.func @f(%a: tensor<{m}x{k}xi8>) -> tensor<{m}x{n}xi32> {{
  %w = quantx.constant dense<"0x{wu.tobytes().hex().upper()}"> : tensor<{k}x{n}xi8> -> tensor<{k}x{n}x!w>
  %x = quantx.scast %a : tensor<{m}x{k}xi8> -> tensor<{m}x{k}x!x>
  %r = quantx.matmul %x, %w : tensor<{m}x{k}x!x>, tensor<{k}x{n}x!w> -> tensor<{m}x{n}xi32>
  return %r : tensor<{m}x{n}xi32>
}}"""
(got,) = both_threads("constant uint8 weights", mlir, [a], 1)
check("constant uint8 weights, zero point 131", got,
      (a.astype(np.int64) @ (wu.astype(np.int64) - 131)).astype(np.int32))

# f32 GEMM (linalg.matmul) on ragged shapes, against float64 numpy within
# the f32 rounding bound of a K-term dot product.
for (m, k, n) in [(8, 1, 3), (13, 37, 21), (100, 257, 50), (64, 512, 96)]:
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    mlir = f"""
func.func @f(%a: tensor<{m}x{k}xf32>, %b: tensor<{k}x{n}xf32>) -> tensor<{m}x{n}xf32> {{
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{m}x{n}xf32>
  %c = linalg.fill ins(%z : f32) outs(%e : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  %r = linalg.matmul ins(%a, %b : tensor<{m}x{k}xf32>, tensor<{k}x{n}xf32>) outs(%c : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  return %r : tensor<{m}x{n}xf32>
}}"""
    (got,) = both_threads(f"f32 {m}x{k}x{n}", mlir, [a, b], 1)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    bound = k * np.finfo(np.float32).eps * (np.abs(a).astype(np.float64) @
                                            np.abs(b).astype(np.float64))
    ok = bool((np.abs(got - ref) <= bound).all())
    print(f"{'ok' if ok else 'FAIL'}: f32 {m}x{k}x{n} within k*eps*|a||b|")
    if not ok:
        failures.append(f"f32 {m}x{k}x{n}")

if failures:
    sys.exit("failed: " + ", ".join(failures))
print("all passed")
