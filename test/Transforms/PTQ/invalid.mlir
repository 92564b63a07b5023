// RUN: quantx-opt %s -split-input-file -quantx-ptq -verify-diagnostics
// RUN: quantx-opt %s -split-input-file -quantx-ptq='keep-float=^matmul_0$' | FileCheck %s --check-prefix=KEEP

// A batched matmul is not a supported form: the error names the layer
// and the op.
func.func @batched(%x: tensor<2x4x8xf32>) -> tensor<2x4x3xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<0.5> : tensor<2x8x3xf32>
  %e = tensor.empty() : tensor<2x4x3xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<2x4x3xf32>) -> tensor<2x4x3xf32>
  %0 = quantx.observe %x {kind = #quantx.observer<min_max>, name = "matmul_0.input", stats = {min = -1.0 : f64, max = 1.0 : f64}} : tensor<2x4x8xf32>
  // expected-error @below {{quantx-ptq: cannot quantize layer 'matmul_0' (linalg.batch_matmul): only 2-D matmuls (one M, N and K dimension, no batch) are supported; keep it in float with keep-float}}
  %y = linalg.batch_matmul ins(%0, %w : tensor<2x4x8xf32>, tensor<2x8x3xf32>) outs(%f : tensor<2x4x3xf32>) -> tensor<2x4x3xf32>
  return %y : tensor<2x4x3xf32>
}
// KEEP-LABEL: func.func @batched
// KEEP: linalg.batch_matmul
// KEEP-NOT: quantx.observe

// -----

// Static int8 without statistics on the layer's input.
func.func @no_stats(%x: tensor<4x8xf32>) -> tensor<4x3xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<0.5> : tensor<8x3xf32>
  %e = tensor.empty() : tensor<4x3xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x3xf32>) -> tensor<4x3xf32>
  %0 = quantx.observe %x {kind = #quantx.observer<min_max>, name = "matmul_0.input"} : tensor<4x8xf32>
  // expected-error @below {{cannot quantize layer 'matmul_0' (linalg.matmul): observation 'matmul_0.input' has no valid {min, max} statistics (run quantx-apply-calibration first)}}
  %y = linalg.matmul ins(%0, %w : tensor<4x8xf32>, tensor<8x3xf32>) outs(%f : tensor<4x3xf32>) -> tensor<4x3xf32>
  return %y : tensor<4x3xf32>
}
// KEEP-LABEL: func.func @no_stats
// KEEP: linalg.matmul

// -----

// Static int8 without any observation point.
func.func @no_observe(%x: tensor<4x8xf32>) -> tensor<4x3xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<0.5> : tensor<8x3xf32>
  %e = tensor.empty() : tensor<4x3xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x3xf32>) -> tensor<4x3xf32>
  // expected-error @below {{its input has no quantx.observe}}
  %y = linalg.matmul ins(%x, %w : tensor<4x8xf32>, tensor<8x3xf32>) outs(%f : tensor<4x3xf32>) -> tensor<4x3xf32>
  return %y : tensor<4x3xf32>
}

// -----

// An accumulator that does not start at zero (or a bias) is not matched.
func.func @nonzero_init(%x: tensor<4x8xf32>, %init: tensor<4x3xf32>) -> tensor<4x3xf32> {
  %w = arith.constant dense<0.5> : tensor<8x3xf32>
  %0 = quantx.observe %x {kind = #quantx.observer<min_max>, name = "matmul_0.input", stats = {min = -1.0 : f64, max = 1.0 : f64}} : tensor<4x8xf32>
  // expected-error @below {{the accumulator does not start at zero or at a broadcast bias}}
  %y = linalg.matmul ins(%0, %w : tensor<4x8xf32>, tensor<8x3xf32>) outs(%init : tensor<4x3xf32>) -> tensor<4x3xf32>
  return %y : tensor<4x3xf32>
}
