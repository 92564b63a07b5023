// RUN: quantx-opt %s -split-input-file -quantx-ptq='mode=weight-int8' -verify-diagnostics
// RUN: quantx-opt %s -split-input-file -quantx-ptq='mode=weight-int4 group-size=2' -verify-diagnostics

// Convolutions linalg's verifier accepts but quantx.conv2d cannot
// represent: a clear error naming the layer, not an invalid op (or, for an
// empty filter window, a division by zero).

func.func @negative_stride(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x2x2xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<0.5> : tensor<2x1x3x3xf32>
  %e = tensor.empty() : tensor<1x2x2x2xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  // expected-error @below {{cannot quantize layer 'conv2d_0' (linalg.conv_2d_nchw_fchw): its strides and dilations must be positive; keep it in float with keep-float}}
  %c = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<-1> : tensor<2xi64>} ins(%x, %w : tensor<1x1x4x4xf32>, tensor<2x1x3x3xf32>) outs(%f : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  return %c : tensor<1x2x2x2xf32>
}

// -----

func.func @dilation_too_large(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x0x0xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<0.5> : tensor<2x1x3x3xf32>
  %e = tensor.empty() : tensor<1x2x0x0xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x0x0xf32>) -> tensor<1x2x0x0xf32>
  // expected-error @below {{cannot quantize layer 'conv2d_0' (linalg.conv_2d_nchw_fchw): its output is empty (is the dilated filter larger than the padded input?)}}
  %c = linalg.conv_2d_nchw_fchw {dilations = dense<2> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x, %w : tensor<1x1x4x4xf32>, tensor<2x1x3x3xf32>) outs(%f : tensor<1x2x0x0xf32>) -> tensor<1x2x0x0xf32>
  return %c : tensor<1x2x0x0xf32>
}

// -----

func.func @empty_window(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x5x5xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<0.5> : tensor<2x1x0x0xf32>
  %e = tensor.empty() : tensor<1x2x5x5xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xf32>
  // expected-error @below {{cannot quantize layer 'conv2d_0' (linalg.conv_2d_nchw_fchw): its filter window is empty; keep it in float with keep-float}}
  %c = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x, %w : tensor<1x1x4x4xf32>, tensor<2x1x0x0xf32>) outs(%f : tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xf32>
  return %c : tensor<1x2x5x5xf32>
}
