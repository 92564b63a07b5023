// RUN: quantx-opt %s -split-input-file -convert-quantx-to-quant -verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @casts
// CHECK: %[[Q:.*]] = quant.qcast %{{.*}} : tensor<4xf32> to tensor<4x!quant.uniform<i8<-127:127>:f32:0, {5.000000e-01,2.500000e-01,1.000000e+00,2.000000e+00}>>
// CHECK: %[[I:.*]] = quant.scast %[[Q]] : tensor<4x!quant.uniform<i8<-127:127>:f32:0, {{.*}}>> to tensor<4xi8>
// CHECK: quant.dcast %{{.*}} : tensor<4x!quant.uniform<u8:f32, 5.000000e-01:128>> to tensor<4xf32>
func.func @casts(%x: tensor<4xf32>, %u: tensor<4x!quantx.uniform<u8:f32, scale = 0.5, zero_point = 128>>) -> (tensor<4xi8>, tensor<4xf32>) {
  %q = quantx.quantize %x : tensor<4xf32> -> tensor<4x!quantx.uniform<i8<-127:127>:f32, axis = 0, scales = dense<[0.5, 0.25, 1.0, 2.0]> : tensor<4xf64>>>
  %i = quantx.scast %q : tensor<4x!quantx.uniform<i8<-127:127>:f32, axis = 0, scales = dense<[0.5, 0.25, 1.0, 2.0]> : tensor<4xf64>>> -> tensor<4xi8>
  %d = quantx.dequantize %u : tensor<4x!quantx.uniform<u8:f32, scale = 0.5, zero_point = 128>> -> tensor<4xf32>
  return %i, %d : tensor<4xi8>, tensor<4xf32>
}

// -----

// A symmetric sub-channel type gets upstream's all-zero zero-point table.
// CHECK-LABEL: func.func private @symmetric_sub_channel
// CHECK-SAME: !quant.uniform<i8:f32:{0:1, 1:2}, {{\{}}{1.000000e+00, 2.000000e+00}}>
func.func private @symmetric_sub_channel(!quantx.uniform<i8:f32, blocks = {0 : 1, 1 : 2}, scales = dense<[[1.0, 2.0]]> : tensor<1x2xf32>>)

// -----

// Dynamic parameters have no upstream equivalent.
// expected-error @+1 {{cannot convert type '!quantx.uniform<i8:f32>': it has dynamic parameters; !quant.uniform keeps them in the type}}
func.func private @dynamic(!quantx.uniform<i8:f32>)

// -----

// Neither have min offsets.
// expected-error @+1 {{!quant.uniform has no min offsets}}
func.func private @min(!quantx.uniform<u4:f32, scale = 0.5, min = -1.0>)

// -----

// Nor fp16 scale element types.
// expected-error @+1 {{!quant.uniform has no scale or zero-point element types}}
func.func private @scale_type(!quantx.uniform<i8:f32, scale = 0.5, scale_type = f16>)

// -----

func.func @rounding(%x: tensor<4xf32>) {
  // expected-error @+1 {{quant.qcast rounds half to even and saturates; this quantize op does not}}
  %q = quantx.quantize %x {rounding = #quantx.rounding<half_away_from_zero>} : tensor<4xf32> -> tensor<4x!quantx.uniform<i8:f32, scale = 0.5>>
  return
}

// -----

func.func @dynamic_cast(%x: tensor<4xf32>, %s: tensor<f32>) {
  // expected-error @+1 {{cannot convert a cast with dynamic parameters to quant}}
  %q = quantx.quantize %x scale(%s : tensor<f32>) : tensor<4xf32> -> tensor<4x!quantx.uniform<i8:f32>>
  return
}

// -----

func.func @other_op(%x: tensor<4xf32>) {
  // expected-error @+1 {{'quantx.observe' has no quant equivalent}}
  %y = quantx.observe %x {kind = #quantx.observer<min_max>, name = "x"} : tensor<4xf32>
  return
}
