// RUN: quantx-opt %s -split-input-file -quantx-ptq -verify-diagnostics
// RUN: quantx-opt %s -split-input-file -quantx-ptq='keep-float=^conv2d_0$' | FileCheck %s --check-prefix=KEEP

// Grouped convolutions quantx-ptq cannot take: an error that names the
// layer and says why, or, with keep-float, the layer left as it is.
// A grouped convolution whose result is read as [N, G, F/G, OH, OW] (no
// collapse back to NCHW) is not one quantx.conv2d.
func.func @grouped_5d_result(%x: tensor<1x4x4x4xf32>) -> tensor<1x2x2x4x4xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<0.5> : tensor<2x2x2x1x1xf32>
  %0 = quantx.observe %x {kind = #quantx.observer<min_max>, name = "conv2d_0.input", stats = {min = -1.0 : f64, max = 1.0 : f64}} : tensor<1x4x4x4xf32>
  %g = tensor.expand_shape %0 [[0], [1, 2], [3], [4]] output_shape [1, 2, 2, 4, 4] : tensor<1x4x4x4xf32> into tensor<1x2x2x4x4xf32>
  %e = tensor.empty() : tensor<1x2x2x4x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x2x4x4xf32>) -> tensor<1x2x2x4x4xf32>
  // expected-error @below {{cannot quantize layer 'conv2d_0' (linalg.conv_2d_ngchw_gfchw): a grouped convolution must read an NCHW input split by tensor.expand_shape [[0], [1, 2], [3], [4]] and be read only through the matching tensor.collapse_shape}}
  %y = linalg.conv_2d_ngchw_gfchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%g, %w : tensor<1x2x2x4x4xf32>, tensor<2x2x2x1x1xf32>) outs(%f : tensor<1x2x2x4x4xf32>) -> tensor<1x2x2x4x4xf32>
  return %y : tensor<1x2x2x4x4xf32>
}
// KEEP-LABEL: func.func @grouped_5d_result
// KEEP: linalg.conv_2d_ngchw_gfchw
