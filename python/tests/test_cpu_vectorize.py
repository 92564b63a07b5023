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
