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


def test_int8_conv2d_matches_torch_exactly(tmp_path):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (2, 4, 9, 9)).astype(np.int8)
    w = rng.integers(-127, 128, (6, 2, 3, 3)).astype(np.int8)
    bias = rng.integers(-500, 500, 6).astype(np.int32)
    mlir = """
!x = !quantx.uniform<i8:f32, scale = 0.5, zero_point = 5>
!w = !quantx.uniform<i8<-127:127>:f32, axis = 0, scales = dense<[1.0, 2.0, 1.0, 2.0, 1.0, 2.0]> : tensor<6xf64>>
func.func @f(%xi: tensor<2x4x9x9xi8>, %wi: tensor<6x2x3x3xi8>, %b: tensor<6xi32>) -> tensor<2x6x5x3xi32> {
  %x = quantx.scast %xi : tensor<2x4x9x9xi8> -> tensor<2x4x9x9x!x>
  %w = quantx.scast %wi : tensor<6x2x3x3xi8> -> tensor<6x2x3x3x!w>
  %y = quantx.conv2d %x, %w bias(%b : tensor<6xi32>) {strides = array<i64: 2, 2>, padding = array<i64: 1, 1, 0, 1>, dilations = array<i64: 1, 2>, groups = 2 : i64} : tensor<2x4x9x9x!x>, tensor<6x2x3x3x!w> -> tensor<2x6x5x3xi32>
  return %y : tensor<2x6x5x3xi32>
}"""
    (y,) = run(tmp_path, mlir, "f", [x, w, bias], 1)
    # Padding pads real 0, i.e. (x - zp) = 0: pad the centred integers.
    xc = torch.from_numpy(x.astype(np.float64) - 5)
    xc = torch.nn.functional.pad(xc, (0, 1, 1, 1))
    ref = torch.nn.functional.conv2d(xc, torch.from_numpy(w.astype(np.float64)),
                                     torch.from_numpy(bias.astype(np.float64)),
                                     stride=2, dilation=(1, 2), groups=2)
    np.testing.assert_array_equal(y, ref.numpy().astype(np.int32))


def test_weight_only_conv2d_matches_torch(tmp_path):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    w = rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8)
    scales = rng.uniform(0.01, 0.02, 4).astype(np.float32)
    mlir = """
!w = !quantx.uniform<i8<-127:127>:f32, axis = 0>
func.func @f(%x: tensor<1x3x8x8xf32>, %wi: tensor<4x3x3x3xi8>, %s: tensor<4xf32>) -> tensor<1x4x8x8xf32> {
  %w = quantx.scast %wi : tensor<4x3x3x3xi8> -> tensor<4x3x3x3x!w>
  %y = quantx.conv2d %x, %w filter_scale(%s : tensor<4xf32>) {padding = array<i64: 1, 1, 1, 1>, relu} : tensor<1x3x8x8xf32>, tensor<4x3x3x3x!w> -> tensor<1x4x8x8xf32>
  return %y : tensor<1x4x8x8xf32>
}"""
    (y,) = run(tmp_path, mlir, "f", [x, w, scales], 1)
    wf = w.astype(np.float32) * scales[:, None, None, None]
    ref = torch.relu(torch.nn.functional.conv2d(
        torch.from_numpy(x).double(), torch.from_numpy(wf).double(), padding=1))
    np.testing.assert_allclose(y, ref.numpy(), rtol=1e-5, atol=1e-6)
