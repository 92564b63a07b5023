"""Vectorized element-wise code (quantx-cpu-vectorize-elementwise) through
quantx.jit: quantize, dequantize and dynamic quantization's min/max range on
widths that leave a scalar remainder, bit for bit against numpy and against
the scalar reference lowering (gemm=false), NaN and infinities included.
"""

import os

import numpy as np
import pytest

import quantx

if not os.path.exists(os.path.join(os.path.dirname(quantx.__file__),
                                   "libQuantXCAPI.so")):
    pytest.skip("built without MLIR (QUANTX_ENABLE_MLIR=OFF): no C API",
                allow_module_level=True)

import quantx.jit as jit  # noqa: E402

SCALAR = "builtin.module(quantx-cpu-pipeline{gemm=false parallel=false})"

STATIC = """
!q = !quantx.uniform<u8:f32, scale = 0.05, zero_point = 73>
func.func @f(%x: tensor<5x{n}xf32>) -> (tensor<5x{n}xi8>, tensor<5x{n}xf32>) {{
  %q = quantx.quantize %x : tensor<5x{n}xf32> -> tensor<5x{n}x!q>
  %d = quantx.dequantize %q : tensor<5x{n}x!q> -> tensor<5x{n}xf32>
  %i = quantx.scast %q : tensor<5x{n}x!q> -> tensor<5x{n}xi8>
  return %i, %d : tensor<5x{n}xi8>, tensor<5x{n}xf32>
}}
"""


@pytest.mark.parametrize("n", [8, 21, 64])
def test_quantize_dequantize_exact(n):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal((5, n)) * 4).astype(np.float32)
    text = STATIC.format(n=n)
    q, d = jit.compile(text)["f"](x)
    # Reference: round half to even of x / scale, + zero point, clamped.
    ref = np.clip(np.round(x / np.float32(0.05)) + 73, 0, 255).astype(np.uint8)
    assert np.array_equal(q.view(np.uint8), ref)
    deq = (ref.astype(np.int32) - 73).astype(np.float32) * np.float32(0.05)
    assert np.array_equal(d, deq)
    # Special values: identical to the scalar lowering bit for bit.
    x.flat[:4] = [np.nan, np.inf, -np.inf, -0.0]
    got = jit.compile(text)["f"](x)
    want = jit.compile(text, SCALAR)["f"](x)
    for g, w in zip(got, want):
        assert np.array_equal(g.view(np.uint8), w.view(np.uint8))


RANGE = """
#id = affine_map<(d0, d1) -> (d0, d1)>
#all = affine_map<(d0, d1) -> ()>
func.func @f(%x: tensor<{m}x{k}xf32>) -> (tensor<f32>, tensor<f32>) {{
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<f32>
  %i = linalg.fill ins(%z : f32) outs(%e : tensor<f32>) -> tensor<f32>
  %lo = linalg.generic {{indexing_maps = [#id, #all], iterator_types = ["reduction", "reduction"]}} ins(%x : tensor<{m}x{k}xf32>) outs(%i : tensor<f32>) {{
  ^bb0(%a: f32, %o: f32):
    %r = arith.minimumf %a, %o : f32
    linalg.yield %r : f32
  }} -> tensor<f32>
  %hi = linalg.generic {{indexing_maps = [#id, #all], iterator_types = ["reduction", "reduction"]}} ins(%x : tensor<{m}x{k}xf32>) outs(%i : tensor<f32>) {{
  ^bb0(%a: f32, %o: f32):
    %r = arith.maximumf %a, %o : f32
    linalg.yield %r : f32
  }} -> tensor<f32>
  return %lo, %hi : tensor<f32>, tensor<f32>
}}
"""


@pytest.mark.parametrize("m,k", [(64, 784), (3, 7), (9, 37)])
def test_dynamic_range_exact(m, k):
    # Dynamic quantization's range (as quantx.ptq writes it): min and max
    # over the whole activation and 0.
    rng = np.random.default_rng(m * k)
    x = rng.standard_normal((m, k)).astype(np.float32)
    text = RANGE.format(m=m, k=k)
    fn = jit.compile(text)["f"]
    lo, hi = fn(x)
    assert lo == min(np.float32(0), x.min()) and hi == max(np.float32(0), x.max())
    ref = jit.compile(text, SCALAR)["f"]
    for special in ([-0.0], [np.nan], [np.inf, -np.inf]):
        y = x.copy()
        y.flat[-len(special):] = special  # in the scalar remainder or a lane
        y.flat[:len(special)] = special
        for g, w in zip(fn(y), ref(y)):
            assert np.array_equal(np.asarray(g).view(np.uint32),
                                  np.asarray(w).view(np.uint32))


POOL = """
#in = affine_map<(n, c, oh, ow, kh, kw) -> (n, c, oh * {s} + kh, ow * {s} + kw)>
#win = affine_map<(n, c, oh, ow, kh, kw) -> (kh, kw)>
#out = affine_map<(n, c, oh, ow, kh, kw) -> (n, c, oh, ow)>
func.func @f(%x: tensor<{n}x{c}x{h}x{w}xi8>) -> tensor<{n}x{c}x{oh}x{ow}xi8> {{
  %lo = arith.constant -128 : i8
  %e = tensor.empty() : tensor<{n}x{c}x{oh}x{ow}xi8>
  %i = linalg.fill ins(%lo : i8) outs(%e : tensor<{n}x{c}x{oh}x{ow}xi8>) -> tensor<{n}x{c}x{oh}x{ow}xi8>
  %k = tensor.empty() : tensor<{k}x{k}xf32>
  %m = linalg.generic {{indexing_maps = [#in, #win, #out], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]}} ins(%x, %k : tensor<{n}x{c}x{h}x{w}xi8>, tensor<{k}x{k}xf32>) outs(%i : tensor<{n}x{c}x{oh}x{ow}xi8>) {{
  ^bb0(%a: i8, %b: f32, %o: i8):
    %r = arith.maxsi %a, %o : i8
    linalg.yield %r : i8
  }} -> tensor<{n}x{c}x{oh}x{ow}xi8>
  return %m : tensor<{n}x{c}x{oh}x{ow}xi8>
}}
"""


@pytest.mark.parametrize("n,c,h,w,k,s", [
    (3, 4, 16, 16, 2, 2),    # the last vector of the buffer would read past it
    (2, 3, 15, 29, 3, 2),    # odd sizes, overlapping 3x3 windows
    (16, 16, 32, 32, 2, 2),  # large enough for parallel loops
    (1, 2, 9, 40, 2, 1),     # stride 1: contiguous reads
])
def test_pooling_windows_exact(n, c, h, w, k, s):
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    text = POOL.format(n=n, c=c, h=h, w=w, k=k, s=s, oh=oh, ow=ow)
    rng = np.random.default_rng(h * w + k)
    x = rng.integers(-128, 128, (n, c, h, w), dtype=np.int8)
    got = jit.compile(text)["f"](x)
    want = jit.compile(text, SCALAR)["f"](x)
    ref = np.full((n, c, oh, ow), -128, np.int8)
    for i in range(k):
        for j in range(k):
            ref = np.maximum(ref, x[:, :, i:i + s * oh:s, j:j + s * ow:s])
    assert np.array_equal(want, ref)
    assert np.array_equal(got, ref)


CONV = """
!x = !quantx.uniform<i8:f32, scale = 0.05, zero_point = -7>
!w = !quantx.uniform<i8<-127:127>:f32, axis = 0, scales = dense<[0.01, 0.02, 0.03, 0.04, 0.05, 0.06]> : tensor<6xf64>>
!y = !quantx.uniform<i8:f32, scale = 0.1, zero_point = 3>
func.func @f(%x: tensor<{n}x3x{h}x{w}xi8>, %k: tensor<6x3x3x3xi8>) -> tensor<{n}x6x{h}x{w}xi8> {{
  %xq = quantx.scast %x : tensor<{n}x3x{h}x{w}xi8> -> tensor<{n}x3x{h}x{w}x!x>
  %kq = quantx.scast %k : tensor<6x3x3x3xi8> -> tensor<6x3x3x3x!w>
  %y = quantx.conv2d %xq, %kq {{padding = array<i64: 1, 1, 1, 1>, relu}} : tensor<{n}x3x{h}x{w}x!x>, tensor<6x3x3x3x!w> -> tensor<{n}x6x{h}x{w}x!y>
  %i = quantx.scast %y : tensor<{n}x6x{h}x{w}x!y> -> tensor<{n}x6x{h}x{w}xi8>
  return %i : tensor<{n}x6x{h}x{w}xi8>
}}
"""


@pytest.mark.parametrize("n,h,w", [(2, 7, 5), (16, 28, 28)])
def test_padded_conv_pipeline_matches_scalar_lowering(n, h, w):
    # Padding (fill + interior copy), patches, GEMM and requantization
    # through the vector loops, against the scalar lowering bit for bit.
    text = CONV.format(n=n, h=h, w=w)
    rng = np.random.default_rng(n * h)
    x = rng.integers(-128, 128, (n, 3, h, w), dtype=np.int8)
    k = rng.integers(-127, 128, (6, 3, 3, 3), dtype=np.int8)
    got = jit.compile(text)["f"](x, k)
    want = jit.compile(text, SCALAR)["f"](x, k)
    assert np.array_equal(got, want)
    assert got.std() > 0  # not a degenerate output


DYNAMIC_CONV = """
!x = !quantx.uniform<u8:f32, offset = zero_point>
!w = !quantx.uniform<i8:f32, scale = 0.25>
func.func @f(%xi: tensor<{n}x4x{h}x{h}xi8>, %wi: tensor<8x4x3x3xi8>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<{n}x8x{h}x{h}xf32> {{
  %x = quantx.scast %xi : tensor<{n}x4x{h}x{h}xi8> -> tensor<{n}x4x{h}x{h}x!x>
  %w = quantx.scast %wi : tensor<8x4x3x3xi8> -> tensor<8x4x3x3x!w>
  %y = quantx.conv2d %x, %w input_scale(%s : tensor<f32>) input_offset(%z : tensor<i32>) {{padding = array<i64: 1, 1, 1, 1>}} : tensor<{n}x4x{h}x{h}x!x>, tensor<8x4x3x3x!w> -> tensor<{n}x8x{h}x{h}xf32>
  return %y : tensor<{n}x8x{h}x{h}xf32>
}}
"""


@pytest.mark.parametrize("n,h", [(1, 5), (16, 12)])
def test_conv_with_run_time_zero_point_matches_scalar_lowering(n, h):
    # Dynamic quantization's convolution: im2col, the GEMM on the raw
    # patches minus z times the filter's row sums, bit for bit against the
    # direct scalar form; padding takes the run-time zero point.
    text = DYNAMIC_CONV.format(n=n, h=h)
    rng = np.random.default_rng(n + h)
    x = rng.integers(0, 256, (n, 4, h, h), dtype=np.uint8).view(np.int8)
    w = rng.integers(-127, 128, (8, 4, 3, 3), dtype=np.int8)
    s = np.array(0.03, np.float32)
    for zp in (0, 77, 255):
        z = np.array(zp, np.int32)
        got = jit.compile(text)["f"](x, w, s, z)
        want = jit.compile(text, SCALAR)["f"](x, w, s, z)
        assert np.array_equal(got, want), zp
        # Against numpy: real values (x - z) * 0.03, weights * 0.25, zero
        # padding in the real domain.
        xr = (x.view(np.uint8).astype(np.int64) - zp)
        xp = np.pad(xr, ((0, 0), (0, 0), (1, 1), (1, 1)))
        acc = np.zeros((n, 8, h, h), np.int64)
        for i in range(3):
            for j in range(3):
                acc += np.einsum("nchw,fc->nfhw", xp[:, :, i:i + h, j:j + h],
                                 w[:, :, i, j].astype(np.int64))
        np.testing.assert_allclose(got, acc * np.float32(0.03 * 0.25),
                                   rtol=1e-6, atol=1e-6)


def test_results_written_in_place_match_scalar_lowering():
    # test/Transforms/PTQ/Inputs/cnn.mlir: bufferization writes the bias
    # addition's result into the convolution's buffer. A row ending in a
    # vector that overlaps the one before would then read elements already
    # rewritten (that bug once shifted the outputs by 0.2%).
    src = os.path.join(os.path.dirname(__file__), "..", "..", "test",
                       "Transforms", "PTQ", "Inputs", "cnn.mlir")
    text = open(src).read()
    x = np.random.default_rng(5).uniform(-2, 2.5, (2, 1, 6, 6)).astype(np.float32)
    # Its products have 2 rows: gemm-min-rows=8 leaves them to the scalar
    # lowering (the GEMM's float sums round in another order), so that
    # only the element-wise vectorization differs from the reference.
    got = jit.compile(text, "builtin.module(quantx-cpu-pipeline{gemm-min-rows=8})")["main"](x)
    want = jit.compile(text, SCALAR)["main"](x)
    assert np.array_equal(got, want)
    # With the GEMM (a 2-row register tile): equal up to the summation
    # order.
    np.testing.assert_allclose(jit.compile(text)["main"](x), want,
                               rtol=1e-5, atol=1e-6)


FLOAT_CONV = """
func.func @f(%x: tensor<{n}x3x{h}x{h}xf32>, %w: tensor<8x3x3x3xf32>, %b: tensor<{n}x8x{oh}x{oh}xf32>) -> tensor<{n}x8x{oh}x{oh}xf32> {{
  %zero = arith.constant 0.0 : f32
  %p = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {{
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  }} : tensor<{n}x3x{h}x{h}xf32> to tensor<{n}x3x{hp}x{hp}xf32>
  %c = linalg.conv_2d_nchw_fchw {{dilations = dense<1> : tensor<2xi64>, strides = dense<{s}> : tensor<2xi64>}}
         ins(%p, %w : tensor<{n}x3x{hp}x{hp}xf32>, tensor<8x3x3x3xf32>) outs(%b : tensor<{n}x8x{oh}x{oh}xf32>) -> tensor<{n}x8x{oh}x{oh}xf32>
  return %c : tensor<{n}x8x{oh}x{oh}xf32>
}}
"""


@pytest.mark.parametrize("n,h,s", [(2, 9, 1), (16, 14, 1), (4, 11, 2)])
def test_float_linalg_conv_takes_im2col(n, h, s):
    # The importer's float convolution through padding, patches and the f32
    # GEMM: equal to the direct scalar form up to the order of the sums.
    hp = h + 2
    oh = (hp - 3) // s + 1
    text = FLOAT_CONV.format(n=n, h=h, hp=hp, oh=oh, s=s)
    rng = np.random.default_rng(n * h + s)
    x = rng.standard_normal((n, 3, h, h)).astype(np.float32)
    w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal((n, 8, oh, oh)).astype(np.float32)
    got = jit.compile(text)["f"](x, w, b)
    want = jit.compile(text, SCALAR)["f"](x, w, b)
    bound = np.float32(27 * 4e-7) * (1 + np.abs(want))  # 27 terms
    assert np.all(np.abs(got - want) <= bound * 10), np.abs(got - want).max()
