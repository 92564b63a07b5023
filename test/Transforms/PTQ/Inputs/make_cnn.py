"""Writes cnn.mlir (next to this script): a small float CNN in the form the
PyTorch importer emits, with seeded random weights."""
import os

import numpy as np

rng = np.random.default_rng(0)
w1 = rng.normal(0, 0.4, (2, 1, 3, 3)).astype(np.float32)
b1 = rng.normal(0, 0.1, (2,)).astype(np.float32)
w2 = rng.normal(0, 0.3, (4, 18)).astype(np.float32)
b2 = rng.normal(0, 0.1, (4,)).astype(np.float32)


def d(a):
    return "dense<" + np.array2string(
        a, separator=", ", floatmode="unique",
        threshold=10**6, max_line_width=10**6) + ">"


txt = f'''// A small CNN in the form the PyTorch importer emits: a padded conv with
// bias and ReLU, max pooling, a flatten and a Linear layer (weights from
// make_cnn.py).
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#ch4 = affine_map<(d0, d1, d2, d3) -> (d1)>
#id2 = affine_map<(d0, d1) -> (d0, d1)>
#ch2 = affine_map<(d0, d1) -> (d1)>
func.func @main(%x: tensor<2x1x6x6xf32>) -> tensor<2x4xf32> {{
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %w1 = arith.constant {d(w1)} : tensor<2x1x3x3xf32>
  %b1 = arith.constant {d(b1)} : tensor<2xf32>
  %w2 = arith.constant {d(w2)} : tensor<4x18xf32>
  %b2 = arith.constant {d(b2)} : tensor<4xf32>
  %p = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {{
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  }} : tensor<2x1x6x6xf32> to tensor<2x1x8x8xf32>
  %e1 = tensor.empty() : tensor<2x2x6x6xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<2x2x6x6xf32>) -> tensor<2x2x6x6xf32>
  %c = linalg.conv_2d_nchw_fchw {{dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}}
         ins(%p, %w1 : tensor<2x1x8x8xf32>, tensor<2x1x3x3xf32>) outs(%f1 : tensor<2x2x6x6xf32>) -> tensor<2x2x6x6xf32> loc("features.0")
  %cb = linalg.generic {{indexing_maps = [#id4, #ch4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}}
         ins(%c, %b1 : tensor<2x2x6x6xf32>, tensor<2xf32>) outs(%e1 : tensor<2x2x6x6xf32>) {{
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  }} -> tensor<2x2x6x6xf32>
  %r = linalg.generic {{indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}}
         ins(%cb : tensor<2x2x6x6xf32>) outs(%e1 : tensor<2x2x6x6xf32>) {{
  ^bb0(%a: f32, %o: f32):
    %m = arith.maximumf %a, %zero : f32
    linalg.yield %m : f32
  }} -> tensor<2x2x6x6xf32>
  %win = tensor.empty() : tensor<2x2xf32>
  %e2 = tensor.empty() : tensor<2x2x3x3xf32>
  %f2 = linalg.fill ins(%ninf : f32) outs(%e2 : tensor<2x2x3x3xf32>) -> tensor<2x2x3x3xf32>
  %mp = linalg.pooling_nchw_max {{dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}}
         ins(%r, %win : tensor<2x2x6x6xf32>, tensor<2x2xf32>) outs(%f2 : tensor<2x2x3x3xf32>) -> tensor<2x2x3x3xf32>
  %fl = tensor.collapse_shape %mp [[0], [1, 2, 3]] : tensor<2x2x3x3xf32> into tensor<2x18xf32>
  %e3 = tensor.empty() : tensor<2x4xf32>
  %f3 = linalg.fill ins(%zero : f32) outs(%e3 : tensor<2x4xf32>) -> tensor<2x4xf32>
  %mm = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
         ins(%fl, %w2 : tensor<2x18xf32>, tensor<4x18xf32>) outs(%f3 : tensor<2x4xf32>) -> tensor<2x4xf32> loc("classifier")
  %y = linalg.generic {{indexing_maps = [#id2, #ch2, #id2], iterator_types = ["parallel", "parallel"]}}
         ins(%mm, %b2 : tensor<2x4xf32>, tensor<4xf32>) outs(%e3 : tensor<2x4xf32>) {{
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  }} -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}}
'''
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cnn.mlir"), "w") as f:
    f.write(txt)
