"""Differential tests of the JIT (quantx-run) against numpy references.

Integer results must be equal exactly; float results within float32
rounding of the same computation order.
"""

import os
import subprocess

import numpy as np
import pytest

BIN = os.path.join(os.environ.get("QUANTX_BINARY_DIR", "build"), "bin", "quantx-run")
pytestmark = pytest.mark.skipif(not os.path.exists(BIN),
                                reason="built without MLIR: no quantx-run")


def run(tmp_path, mlir, entry, inputs, n_out):
    src = tmp_path / "m.mlir"
    src.write_text(mlir)
    args = [BIN, str(src), "-e", entry]
    for i, a in enumerate(inputs):
        p = tmp_path / f"in{i}.npy"
        np.save(p, a)
        args += ["--input", str(p)]
    outs = [tmp_path / f"out{i}.npy" for i in range(n_out)]
    for p in outs:
        args += ["--output", str(p)]
    subprocess.run(args, check=True, capture_output=True)
    return [np.load(p) for p in outs]


def test_per_channel_asymmetric_quantize_matches_numpy(tmp_path):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((64, 96)) * 3).astype(np.float32)
    x[3, 5] = np.nan
    x[7, 1] = 1e30
    scale = rng.uniform(0.01, 0.1, 96).astype(np.float32)
    zp = rng.integers(0, 256, 96).astype(np.int32)
    mlir = """
!q = !quantx.uniform<u8:f32, axis = 1, offset = zero_point>
func.func @f(%x: tensor<64x96xf32>, %s: tensor<96xf32>, %z: tensor<96xi32>) -> (tensor<64x96x!q>, tensor<64x96xf32>) {
  %q = quantx.quantize %x scale(%s : tensor<96xf32>) offset(%z : tensor<96xi32>) : tensor<64x96xf32> -> tensor<64x96x!q>
  %d = quantx.dequantize %q scale(%s : tensor<96xf32>) offset(%z : tensor<96xi32>) : tensor<64x96x!q> -> tensor<64x96xf32>
  return %q, %d : tensor<64x96x!q>, tensor<64x96xf32>
}"""
    q, d = run(tmp_path, mlir, "f", [x, scale, zp], 2)
    # numpy reference: NaN as 0, x / s in f32, round half to even, + zp,
    # clamp to [0, 255].
    xs = np.where(np.isnan(x), np.float32(0), x) / scale
    ref = np.clip(np.round(xs) + zp.astype(np.float32), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(q, ref)
    ref_d = scale * (ref.astype(np.int64) - zp).astype(np.float32)
    np.testing.assert_array_equal(d, ref_d)


def test_int8_matmul_matches_numpy_exactly(tmp_path):
    rng = np.random.default_rng(1)
    a = rng.integers(-128, 128, (16, 64)).astype(np.int8)
    w = rng.integers(-127, 128, (24, 64)).astype(np.int8)
    bias = rng.integers(-1000, 1000, 24).astype(np.int32)
    mlir = """
!a = !quantx.uniform<i8:f32, scale = 0.5, zero_point = -3>
!w = !quantx.uniform<i8<-127:127>:f32, scale = 0.25>
func.func @f(%ai: tensor<16x64xi8>, %wi: tensor<24x64xi8>, %b: tensor<24xi32>) -> tensor<16x24xi32> {
  %a = quantx.scast %ai : tensor<16x64xi8> -> tensor<16x64x!a>
  %w = quantx.scast %wi : tensor<24x64xi8> -> tensor<24x64x!w>
  %y = quantx.matmul %a, %w bias(%b : tensor<24xi32>) {transpose_rhs} : tensor<16x64x!a>, tensor<24x64x!w> -> tensor<16x24xi32>
  return %y : tensor<16x24xi32>
}"""
    (y,) = run(tmp_path, mlir, "f", [a, w, bias], 1)
    ref = (a.astype(np.int32) + 3) @ w.astype(np.int32).T + bias
    np.testing.assert_array_equal(y, ref)


def test_weight_only_grouped_matmul_matches_numpy(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 256)).astype(np.float32)
    codes = rng.integers(0, 16, (32, 256)).astype(np.uint8)
    scales = rng.uniform(0.01, 0.05, (32, 2)).astype(np.float16)
    zeros = rng.integers(0, 16, (32, 2)).astype(np.int32)
    mlir = """
!w = !quantx.uniform<u4:f32, blocks = {0 : 1, 1 : 128}, offset = zero_point, scale_type = f16>
func.func @f(%x: tensor<8x256xf32>, %c: tensor<32x256xi8>, %s: tensor<32x2xf16>, %z: tensor<32x2xi32>) -> tensor<8x32xf32> {
  %c4 = arith.trunci %c : tensor<32x256xi8> to tensor<32x256xi4>
  %w = quantx.scast %c4 : tensor<32x256xi4> -> tensor<32x256x!w>
  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<32x2xf16>) rhs_offset(%z : tensor<32x2xi32>) {transpose_rhs} : tensor<8x256xf32>, tensor<32x256x!w> -> tensor<8x32xf32>
  return %y : tensor<8x32xf32>
}"""
    (y,) = run(tmp_path, mlir, "f", [x, codes.view(np.int8), scales, zeros], 1)
    g = np.repeat(np.arange(2), 128)
    w = scales.astype(np.float32)[:, g] * (codes.astype(np.int64) - zeros[:, g]).astype(np.float32)
    ref = x.astype(np.float64) @ w.T.astype(np.float64)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
