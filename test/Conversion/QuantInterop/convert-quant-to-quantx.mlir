// RUN: quantx-opt %s -split-input-file -convert-quant-to-quantx -verify-diagnostics | FileCheck %s

// qcast/dcast/scast become quantize/dequantize/scast with round-half-to-even
// and saturation (the defaults, elided in the output).
// CHECK-LABEL: func.func @casts
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>) -> tensor<4xf32>
// CHECK: %[[Q:.*]] = quantx.quantize %[[X]] : tensor<4xf32> -> tensor<4x!quantx.uniform<u8:f32, scale = 5.000000e-01, zero_point = 128>>
// CHECK: %[[I:.*]] = quantx.scast %[[Q]] : tensor<4x!quantx.uniform<u8:f32, scale = 5.000000e-01, zero_point = 128>> -> tensor<4xi8>
// CHECK: %[[Q2:.*]] = quantx.scast %[[I]] : tensor<4xi8> -> tensor<4x!quantx.uniform<u8:f32, scale = 5.000000e-01, zero_point = 128>>
// CHECK: %[[D:.*]] = quantx.dequantize %[[Q2]]
// CHECK: return %[[D]]
func.func @casts(%x: tensor<4xf32>) -> tensor<4xf32> {
  %q = quant.qcast %x : tensor<4xf32> to tensor<4x!quant.uniform<u8:f32, 0.5:128>>
  %i = quant.scast %q : tensor<4x!quant.uniform<u8:f32, 0.5:128>> to tensor<4xi8>
  %q2 = quant.scast %i : tensor<4xi8> to tensor<4x!quant.uniform<u8:f32, 0.5:128>>
  %d = quant.dcast %q2 : tensor<4x!quant.uniform<u8:f32, 0.5:128>> to tensor<4xf32>
  return %d : tensor<4xf32>
}

// -----

// Types in other dialects' ops convert too (here a tensor.empty and a call).
// CHECK-LABEL: func.func @other_ops
// CHECK: tensor.empty() : tensor<2x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf64>>>
// CHECK: call @callee(%{{.*}}) : (tensor<2x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf64>>>) -> ()
func.func private @callee(tensor<2x!quant.uniform<i8:f32:0, {1.0, 2.0}>>)
func.func @other_ops() {
  %e = tensor.empty() : tensor<2x!quant.uniform<i8:f32:0, {1.0, 2.0}>>
  call @callee(%e) : (tensor<2x!quant.uniform<i8:f32:0, {1.0, 2.0}>>) -> ()
  return
}

// -----

// 1-bit storage is valid upstream but below quantx's 2-bit minimum.
func.func @one_bit(%x: tensor<4xf32>) {
  // expected-error @+1 {{cannot convert type '!quant.uniform<i1:f32, 1.000000e+00>': storage width must be in [2, 32], got 1}}
  %q = quant.qcast %x : tensor<4xf32> to tensor<4x!quant.uniform<i1:f32, 1.0>>
  return
}
