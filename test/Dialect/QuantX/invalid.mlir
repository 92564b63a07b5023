// Every diagnostic of the quantx op verifiers.
// RUN: quantx-opt %s -split-input-file -verify-diagnostics

// Quantize shapes differ.
func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{'quantx.quantize' op input and result shapes differ}}
  %q = quantx.quantize %x : tensor<4xf32> -> tensor<5x!quantx.uniform<i8:f32, scale = 0.5>>
  return
}

// -----

// Quantize from a float that is not the expressed type.
func.func @f(%x: tensor<4xf16>) {
  // expected-error @+1 {{input element type 'f16' is not the expressed type 'f32' of the result}}
  %q = quantx.quantize %x : tensor<4xf16> -> tensor<4x!quantx.uniform<i8:f32, scale = 0.5>>
  return
}

// -----

// Dynamic parameters need a scale operand.
func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{is missing the result scale operand: the parameters are dynamic}}
  %q = quantx.quantize %x : tensor<4xf32> -> tensor<4x!quantx.uniform<i8:f32>>
  return
}

// -----

// Static parameters take no scale operand.
func.func @f(%x: tensor<4xf32>, %s: tensor<f32>) {
  // expected-error @+1 {{has an unexpected result scale operand}}
  %q = quantx.quantize %x scale(%s : tensor<f32>) : tensor<4xf32> -> tensor<4x!quantx.uniform<i8:f32, scale = 0.5>>
  return
}

// -----

// Asymmetric dynamic parameters need an offset.
func.func @f(%x: tensor<4xf32>, %s: tensor<f32>) {
  // expected-error @+1 {{is missing the result offset operand}}
  %q = quantx.quantize %x scale(%s : tensor<f32>) : tensor<4xf32> -> tensor<4x!quantx.uniform<u8:f32, offset = zero_point>>
  return
}

// -----

// Symmetric types take no offset.
func.func @f(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) {
  // expected-error @+1 {{has an unexpected result offset operand}}
  %q = quantx.quantize %x scale(%s : tensor<f32>) offset(%z : tensor<i32>) : tensor<4xf32> -> tensor<4x!quantx.uniform<i8:f32>>
  return
}

// -----

// Scale element type must be the scale type.
func.func @f(%x: tensor<4x64xf32>, %s: tensor<4x2xf32>) {
  // expected-error @+1 {{result scale must have element type 'f16', got 'f32'}}
  %q = quantx.quantize %x scale(%s : tensor<4x2xf32>) : tensor<4x64xf32> -> tensor<4x64x!quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>>
  return
}

// -----

// Scale shape must be the parameter shape.
func.func @f(%x: tensor<4x64xf32>, %s: tensor<4x3xf16>) {
  // expected-error @+1 {{result scale has shape [4, 3] but the parameter shape of the data is [4, 2]}}
  %q = quantx.quantize %x scale(%s : tensor<4x3xf16>) : tensor<4x64xf32> -> tensor<4x64x!quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>>
  return
}

// -----

// A quantized axis beyond the rank.
func.func @f(%x: tensor<4xf32>, %s: tensor<4xf32>) {
  // expected-error @+1 {{quantizes an axis out of range for rank 1}}
  %q = quantx.quantize %x scale(%s : tensor<4xf32>) : tensor<4xf32> -> tensor<4x!quantx.uniform<i8:f32, axis = 1>>
  return
}

// -----

// A static table of the wrong length.
func.func @f(%x: tensor<3x4xf32>) {
  // expected-error @+1 {{result static scales have shape [2] but the parameter shape of the data is [3]}}
  %q = quantx.quantize %x : tensor<3x4xf32> -> tensor<3x4x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>
  return
}

// -----

// Dequantize shapes differ.
func.func @f(%q: tensor<4x!quantx.uniform<i8:f32, scale = 0.5>>) {
  // expected-error @+1 {{'quantx.dequantize' op input and result shapes differ}}
  %x = quantx.dequantize %q : tensor<4x!quantx.uniform<i8:f32, scale = 0.5>> -> tensor<5xf32>
  return
}

// -----

// Dequantize to a float that is not the expressed type.
func.func @f(%q: tensor<4x!quantx.uniform<i8:f32, scale = 0.5>>) {
  // expected-error @+1 {{result element type 'f16' is not the expressed type 'f32' of the input}}
  %x = quantx.dequantize %q : tensor<4x!quantx.uniform<i8:f32, scale = 0.5>> -> tensor<4xf16>
  return
}

// -----

// quantx.add does not broadcast.
func.func @f(%a: tensor<4x!quantx.uniform<u8:f32, scale = 0.5>>, %b: tensor<1x!quantx.uniform<u8:f32, scale = 0.5>>) {
  // expected-error @+1 {{'quantx.add' op rhs shape [1] differs from the result shape [4] (no broadcasting)}}
  %r = quantx.add %a, %b : tensor<4x!quantx.uniform<u8:f32, scale = 0.5>>, tensor<1x!quantx.uniform<u8:f32, scale = 0.5>> -> tensor<4x!quantx.uniform<u8:f32, scale = 0.5>>
  return
}

// -----

// quantx.add keeps the expressed type.
func.func @f(%a: tensor<4x!quantx.uniform<u8:f16, scale = 0.5>>, %b: tensor<4x!quantx.uniform<u8:f32, scale = 0.5>>) {
  // expected-error @+1 {{'quantx.add' op lhs and result expressed types differ ('f16' vs 'f32')}}
  %r = quantx.add %a, %b : tensor<4x!quantx.uniform<u8:f16, scale = 0.5>>, tensor<4x!quantx.uniform<u8:f32, scale = 0.5>> -> tensor<4x!quantx.uniform<u8:f32, scale = 0.5>>
  return
}

// -----

// quantx.add takes static parameters only.
func.func @f(%a: tensor<4x!quantx.uniform<u8:f32>>, %b: tensor<4x!quantx.uniform<u8:f32, scale = 0.5>>) {
  // expected-error @+1 {{'quantx.add' op lhs type '!quantx.uniform<u8:f32>' has dynamic parameters; quantx.add takes static ones}}
  %r = quantx.add %a, %b : tensor<4x!quantx.uniform<u8:f32>>, tensor<4x!quantx.uniform<u8:f32, scale = 0.5>> -> tensor<4x!quantx.uniform<u8:f32, scale = 0.5>>
  return
}

// -----

// quantx.add: a per-axis table of the wrong length.
func.func @f(%a: tensor<2x4x!quantx.uniform<u8:f32, scale = 0.5>>, %b: tensor<2x4x!quantx.uniform<i8:f32, axis = 1, scales = dense<[0.1, 0.2]> : tensor<2xf64>>>) {
  // expected-error @+1 {{'quantx.add' op rhs static scales have shape [2] but the parameter shape of the data is [4]}}
  %r = quantx.add %a, %b : tensor<2x4x!quantx.uniform<u8:f32, scale = 0.5>>, tensor<2x4x!quantx.uniform<i8:f32, axis = 1, scales = dense<[0.1, 0.2]> : tensor<2xf64>>> -> tensor<2x4x!quantx.uniform<u8:f32, scale = 0.5>>
  return
}

// -----

// Requantize shapes differ.
func.func @f(%q: tensor<4x!quantx.uniform<i8:f32, scale = 0.5>>) {
  // expected-error @+1 {{'quantx.requantize' op input and result shapes differ}}
  %r = quantx.requantize %q : tensor<4x!quantx.uniform<i8:f32, scale = 0.5>> -> tensor<5x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>
  return
}

// -----

// Requantize cannot change the expressed type.
func.func @f(%q: tensor<4x!quantx.uniform<i8:f32, scale = 0.5>>) {
  // expected-error @+1 {{input and result expressed types differ ('f32' vs 'f16')}}
  %r = quantx.requantize %q : tensor<4x!quantx.uniform<i8:f32, scale = 0.5>> -> tensor<4x!quantx.uniform<i8:f16, scale = 1.0>>
  return
}

// -----

// Requantize of dynamic input needs the input scale.
func.func @f(%q: tensor<4x!quantx.uniform<i8:f32>>) {
  // expected-error @+1 {{is missing the input scale operand}}
  %r = quantx.requantize %q : tensor<4x!quantx.uniform<i8:f32>> -> tensor<4x!quantx.uniform<i8:f32, scale = 0.5>>
  return
}

// -----

// Scast needs exactly one quantized side.
func.func @f(%q: tensor<4x!quantx.uniform<i8:f32, scale = 0.5>>) {
  // expected-error @+1 {{exactly one side must be quantized}}
  %r = quantx.scast %q : tensor<4x!quantx.uniform<i8:f32, scale = 0.5>> -> tensor<4x!quantx.uniform<i8:f32, scale = 0.5>>
  return
}

// -----

// Scast to a type that is not the storage type.
func.func @f(%q: tensor<4x!quantx.uniform<i8:f32, scale = 0.5>>) {
  // expected-error @+1 {{storage type of '!quantx.uniform<i8:f32, scale = 5.000000e-01>' is 'i8', not 'i16'}}
  %r = quantx.scast %q : tensor<4x!quantx.uniform<i8:f32, scale = 0.5>> -> tensor<4xi16>
  return
}

// -----

// Fake_quant on a float that is not the expressed type.
func.func @f(%x: tensor<4xf16>) {
  // expected-error @+1 {{input element type 'f16' is not the expressed type 'f32' of qtype}}
  %y = quantx.fake_quant %x {qtype = !quantx.uniform<i8:f32, scale = 0.5>} : tensor<4xf16>
  return
}

// -----

// Fake_quant with an axis beyond the rank.
func.func @f(%x: tensor<4xf32>, %s: tensor<4xf32>) {
  // expected-error @+1 {{qtype quantizes an axis out of range for rank 1}}
  %y = quantx.fake_quant %x scale(%s : tensor<4xf32>) {qtype = !quantx.uniform<i8:f32, axis = 2>} : tensor<4xf32>
  return
}

// -----

// Learnable parameters are float tensors.
func.func @f(%x: tensor<4xf32>, %s: tensor<f16>) {
  // expected-error @+1 {{learnable scale must have element type 'f32', got 'f16'}}
  %y = quantx.fake_quant %x scale(%s : tensor<f16>) {qtype = !quantx.uniform<i8:f32>} : tensor<4xf32>
  return
}

// -----

// Learnable zero point of a symmetric type.
func.func @f(%x: tensor<4xf32>, %s: tensor<f32>) {
  // expected-error @+1 {{has an unexpected learnable offset operand}}
  %y = quantx.fake_quant %x scale(%s : tensor<f32>) offset(%s : tensor<f32>) {qtype = !quantx.uniform<i8:f32>} : tensor<4xf32>
  return
}

// -----

// Observe integer tensors.
func.func @f(%x: tensor<4xi32>) {
  // expected-error @+1 {{observes float tensors, got element type 'i32'}}
  %y = quantx.observe %x {kind = #quantx.observer<min_max>, name = "a"} : tensor<4xi32>
  return
}

// -----

// Observe needs a name.
func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{needs a non-empty name}}
  %y = quantx.observe %x {kind = #quantx.observer<min_max>, name = ""} : tensor<4xf32>
  return
}

// -----

// Observe axis out of range.
func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{axis 1 is out of range for rank 1}}
  %y = quantx.observe %x {kind = #quantx.observer<min_max>, name = "a", axis = 1 : i64} : tensor<4xf32>
  return
}

// -----

// Observe with one bin.
func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{num_bins must be at least 2, got 1}}
  %y = quantx.observe %x {kind = #quantx.observer<histogram>, name = "a", num_bins = 1 : i64} : tensor<4xf32>
  return
}

// -----

// Percentile out of range.
func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{percentile must be in (0, 100], got 1.005000e+02}}
  %y = quantx.observe %x {kind = #quantx.observer<percentile>, name = "a", percentile = 100.5 : f64} : tensor<4xf32>
  return
}

// -----

// Momentum out of range.
func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{momentum must be in (0, 1], got 0}}
  %y = quantx.observe %x {kind = #quantx.observer<moving_average_min_max>, name = "a", momentum = 0.0 : f64} : tensor<4xf32>
  return
}

// -----

// Hessian of a scalar.
func.func @f(%x: tensor<f32>) {
  // expected-error @+1 {{observer 'hessian' needs a tensor of rank >= 1}}
  %y = quantx.observe %x {kind = #quantx.observer<hessian>, name = "a"} : tensor<f32>
  return
}

// -----

// Mean_abs with an axis.
func.func @f(%x: tensor<4x4xf32>) {
  // expected-error @+1 {{observer 'mean_abs' always works on the last axis; remove 'axis'}}
  %y = quantx.observe %x {kind = #quantx.observer<mean_abs>, name = "a", axis = 0 : i64} : tensor<4x4xf32>
  return
}

// -----

// Percentile on another observer.
func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{'percentile' is only meaningful for the percentile observer}}
  %y = quantx.observe %x {kind = #quantx.observer<min_max>, name = "a", percentile = 99.0 : f64} : tensor<4xf32>
  return
}

// -----

// Momentum on another observer.
func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{'momentum' is only meaningful for the moving_average_min_max observer}}
  %y = quantx.observe %x {kind = #quantx.observer<min_max>, name = "a", momentum = 0.5 : f64} : tensor<4xf32>
  return
}

// -----

// Matmul lhs of rank 1.
func.func @f(%x: tensor<16x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{lhs must have rank >= 2, got 1}}
  %y = quantx.matmul %x, %w {transpose_rhs} : tensor<16x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<2xf32>
  return
}

// -----

// Matmul rhs of rank 3.
func.func @f(%x: tensor<2x16x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<1x2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{rhs must have rank 2, got 3}}
  %y = quantx.matmul %x, %w : tensor<2x16x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<1x2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<2x2xf32>
  return
}

// -----

// Matmul reduction sizes differ.
func.func @f(%x: tensor<2x16x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<2x8x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{reduction sizes differ: lhs has K = 16, rhs has 8}}
  %y = quantx.matmul %x, %w {transpose_rhs} : tensor<2x16x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<2x8x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<2x2xf32>
  return
}

// -----

// Matmul result shape.
func.func @f(%x: tensor<2x16x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{result shape [2, 3] does not match [2, 2]}}
  %y = quantx.matmul %x, %w {transpose_rhs} : tensor<2x16x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<2x3xf32>
  return
}

// -----

// Per-axis rhs along the reduction axis.
func.func @f(%x: tensor<2x2x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<2x2x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{per-axis rhs must be quantized along its output axis 1}}
  %y = quantx.matmul %x, %w : tensor<2x2x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<2x2x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<2x2xf32>
  return
}

// -----

// Rhs blocks along the output axis.
func.func @f(%x: tensor<2x32xf32>, %w: tensor<4x32x!quantx.uniform<i4:f32, blocks = {0 : 2, 1 : 32}>>, %s: tensor<2x1xf32>) {
  // expected-error @+1 {{rhs blocks along the output axis must have size 1}}
  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<2x1xf32>) {transpose_rhs} : tensor<2x32xf32>, tensor<4x32x!quantx.uniform<i4:f32, blocks = {0 : 2, 1 : 32}>> -> tensor<2x4xf32>
  return
}

// -----

// Per-block lhs.
func.func @f(%x: tensor<2x16x!quantx.uniform<i8:f32, blocks = {1 : 8}>>, %s: tensor<1x2xf32>, %w: tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{a quantized lhs must be per tensor or per row}}
  %y = quantx.matmul %x, %w lhs_scale(%s : tensor<1x2xf32>) {transpose_rhs} : tensor<2x16x!quantx.uniform<i8:f32, blocks = {1 : 8}>>, tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<2x2xf32>
  return
}

// -----

// Per-axis lhs along K.
func.func @f(%x: tensor<2x16x!quantx.uniform<i8:f32, axis = 1>>, %s: tensor<16xf32>, %w: tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{per-axis lhs must be quantized along its row axis 0}}
  %y = quantx.matmul %x, %w lhs_scale(%s : tensor<16xf32>) {transpose_rhs} : tensor<2x16x!quantx.uniform<i8:f32, axis = 1>>, tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<2x2xf32>
  return
}

// -----

// Float lhs with parameters.
func.func @f(%x: tensor<2x16xf32>, %s: tensor<f32>, %w: tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{a float lhs takes no quantization parameters}}
  %y = quantx.matmul %x, %w lhs_scale(%s : tensor<f32>) {transpose_rhs} : tensor<2x16xf32>, tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<2x2xf32>
  return
}

// -----

// Float lhs of another type.
func.func @f(%x: tensor<2x16xf16>, %w: tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{float lhs element type 'f16' must be the expressed type of rhs}}
  %y = quantx.matmul %x, %w {transpose_rhs} : tensor<2x16xf16>, tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<2x2xf16>
  return
}

// -----

// Float result with parameters.
func.func @f(%x: tensor<2x16x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>, %s: tensor<f32>) {
  // expected-error @+1 {{a non-quantized result takes no quantization parameters}}
  %y = quantx.matmul %x, %w result_scale(%s : tensor<f32>) {transpose_rhs} : tensor<2x16x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<2x2xf32>
  return
}

// -----

// Weight-only matmul with an integer result.
func.func @f(%x: tensor<2x16xf32>, %w: tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{with a float input (weight-only), the result must be float}}
  %y = quantx.matmul %x, %w {transpose_rhs} : tensor<2x16xf32>, tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<2x2xi32>
  return
}

// -----

// Accumulator of another width.
func.func @f(%x: tensor<2x16x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{raw accumulator result must be i32, got 'i16'}}
  %y = quantx.matmul %x, %w {transpose_rhs} : tensor<2x16x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<2x2xi16>
  return
}

// -----

// I32 accumulator with grouped weights.
func.func @f(%x: tensor<2x64x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<4x64x!quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>>, %s: tensor<4x2xf16>) {
  // expected-error @+1 {{an i32 accumulator result is not defined for weights with blocks along the reduction axis}}
  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<4x2xf16>) {transpose_rhs} : tensor<2x64x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<4x64x!quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>> -> tensor<2x4xi32>
  return
}

// -----

// Bias of the wrong length.
func.func @f(%x: tensor<2x16x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>, %b: tensor<3xi32>) {
  // expected-error @+1 {{bias must have shape [2], got [3]}}
  %y = quantx.matmul %x, %w bias(%b : tensor<3xi32>) {transpose_rhs} : tensor<2x16x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<2x2xf32>
  return
}

// -----

// I32 bias with float activations.
func.func @f(%x: tensor<2x16xf32>, %w: tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>, %b: tensor<2xi32>) {
  // expected-error @+1 {{an i32 bias needs a quantized input}}
  %y = quantx.matmul %x, %w bias(%b : tensor<2xi32>) {transpose_rhs} : tensor<2x16xf32>, tensor<2x16x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<2x2xf32>
  return
}

// -----

// I32 bias with grouped weights.
func.func @f(%x: tensor<2x64x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<4x64x!quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>>, %s: tensor<4x2xf16>, %b: tensor<4xi32>) {
  // expected-error @+1 {{an i32 bias is not defined for weights with blocks along the reduction axis}}
  %y = quantx.matmul %x, %w bias(%b : tensor<4xi32>) rhs_scale(%s : tensor<4x2xf16>) {transpose_rhs} : tensor<2x64x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<4x64x!quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>> -> tensor<2x4xf32>
  return
}

// -----

// Conv2d of rank-3 input.
func.func @f(%x: tensor<3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{input, filter and result must have rank 4 (NCHW, FCHW, NFHW)}}
  %y = quantx.conv2d %x, %w : tensor<3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<1x2x6x6xf32>
  return
}

// -----

// Conv2d strides.
func.func @f(%x: tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{strides must be two positive integers}}
  %y = quantx.conv2d %x, %w {strides = array<i64: 0, 1>} : tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<1x2x6x6xf32>
  return
}

// -----

// Conv2d dilations.
func.func @f(%x: tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{dilations must be two positive integers}}
  %y = quantx.conv2d %x, %w {dilations = array<i64: 1>} : tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<1x2x6x6xf32>
  return
}

// -----

// Conv2d padding.
func.func @f(%x: tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{padding must be four non-negative integers (top, bottom, left, right)}}
  %y = quantx.conv2d %x, %w {padding = array<i64: 1, 1, -1, 1>} : tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<1x2x6x6xf32>
  return
}

// -----

// Conv2d groups.
func.func @f(%x: tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{groups must be positive, got 0}}
  %y = quantx.conv2d %x, %w {groups = 0 : i64} : tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<1x2x6x6xf32>
  return
}

// -----

// Conv2d input channels and groups.
func.func @f(%x: tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<2x1x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{input channels 3 are not divisible by groups 2}}
  %y = quantx.conv2d %x, %w {groups = 2 : i64} : tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<2x1x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<1x2x6x6xf32>
  return
}

// -----

// Conv2d filters and groups.
func.func @f(%x: tensor<1x4x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<3x2x3x3x!quantx.uniform<i8:f32, scale = 0.5>>) {
  // expected-error @+1 {{filter count 3 is not divisible by groups 2}}
  %y = quantx.conv2d %x, %w {groups = 2 : i64} : tensor<1x4x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<3x2x3x3x!quantx.uniform<i8:f32, scale = 0.5>> -> tensor<1x3x6x6xf32>
  return
}

// -----

// Conv2d filter channels.
func.func @f(%x: tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<2x2x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{filter has 2 input channels, expected 3}}
  %y = quantx.conv2d %x, %w : tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<2x2x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<1x2x6x6xf32>
  return
}

// -----

// Conv2d filter larger than the input.
func.func @f(%x: tensor<1x3x2x2x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{the dilated filter is larger than the padded input}}
  %y = quantx.conv2d %x, %w : tensor<1x3x2x2x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<1x2x1x1xf32>
  return
}

// -----

// Conv2d result shape.
func.func @f(%x: tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{result shape [1, 2, 8, 8] does not match [1, 2, 6, 6]}}
  %y = quantx.conv2d %x, %w : tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<1x2x8x8xf32>
  return
}

// -----

// Conv2d grouped filter with a quantized input.
func.func @f(%x: tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<2x3x3x3x!quantx.uniform<i8:f32, blocks = {1 : 3}>>, %s: tensor<1x1x1x1xf32>) {
  // expected-error @+1 {{a filter quantized in blocks needs a float input (weight-only)}}
  %y = quantx.conv2d %x, %w filter_scale(%s : tensor<1x1x1x1xf32>) : tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<2x3x3x3x!quantx.uniform<i8:f32, blocks = {1 : 3}>> -> tensor<1x2x6x6xf32>
  return
}

// -----

// Conv2d weight-only filter whose blocks span several output channels.
func.func @f(%x: tensor<1x4x8x8xf32>, %w: tensor<2x4x3x3x!quantx.uniform<i4:f32, blocks = {0 : 2, 1 : 2}>>, %s: tensor<1x2x1x1xf32>) {
  // expected-error @+1 {{a filter quantized in blocks must have blocks of one output channel and whole input channels (blocks = {0 : 1, 1 : B})}}
  %y = quantx.conv2d %x, %w filter_scale(%s : tensor<1x2x1x1xf32>) : tensor<1x4x8x8xf32>, tensor<2x4x3x3x!quantx.uniform<i4:f32, blocks = {0 : 2, 1 : 2}>> -> tensor<1x2x6x6xf32>
  return
}

// -----

// Conv2d weight-only filter whose blocks split the taps of a channel.
func.func @f(%x: tensor<1x4x8x8xf32>, %w: tensor<2x4x3x3x!quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 1, 3 : 1}>>, %s: tensor<2x4x1x3xf32>) {
  // expected-error @+1 {{a filter quantized in blocks must have blocks of one output channel and whole input channels}}
  %y = quantx.conv2d %x, %w filter_scale(%s : tensor<2x4x1x3xf32>) : tensor<1x4x8x8xf32>, tensor<2x4x3x3x!quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 1, 3 : 1}>> -> tensor<1x2x6x6xf32>
  return
}

// -----

// Conv2d filter per input channel.
func.func @f(%x: tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 1>>, %s: tensor<3xf32>) {
  // expected-error @+1 {{per-axis filter must be quantized along axis 0}}
  %y = quantx.conv2d %x, %w filter_scale(%s : tensor<3xf32>) : tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 1>> -> tensor<1x2x6x6xf32>
  return
}

// -----

// Conv2d per-channel input.
func.func @f(%x: tensor<1x3x8x8x!quantx.uniform<u8:f32, axis = 1>>, %s: tensor<3xf32>, %w: tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{a quantized input must be quantized per tensor}}
  %y = quantx.conv2d %x, %w input_scale(%s : tensor<3xf32>) : tensor<1x3x8x8x!quantx.uniform<u8:f32, axis = 1>>, tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<1x2x6x6xf32>
  return
}

// -----

// Conv2d float input with parameters.
func.func @f(%x: tensor<1x3x8x8xf32>, %s: tensor<f32>, %w: tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{a float input takes no quantization parameters}}
  %y = quantx.conv2d %x, %w input_scale(%s : tensor<f32>) : tensor<1x3x8x8xf32>, tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<1x2x6x6xf32>
  return
}

// -----

// Conv2d float input of another type.
func.func @f(%x: tensor<1x3x8x8xbf16>, %w: tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>) {
  // expected-error @+1 {{float input element type 'bf16' must be the expressed type of the filter}}
  %y = quantx.conv2d %x, %w : tensor<1x3x8x8xbf16>, tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<1x2x6x6xbf16>
  return
}

// -----

// Conv2d float result with parameters.
func.func @f(%x: tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, %w: tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>>, %s: tensor<f32>) {
  // expected-error @+1 {{a non-quantized result takes no quantization parameters}}
  %y = quantx.conv2d %x, %w result_scale(%s : tensor<f32>) : tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>, tensor<2x3x3x3x!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf64>>> -> tensor<1x2x6x6xf32>
  return
}

// -----

// Constant of dynamic shape.
func.func @f() {
  // expected-error @+1 {{result must have a static shape}}
  %c = quantx.constant dense<[1]> : tensor<1xi8> -> tensor<?x!quantx.uniform<i8:f32, scale = 0.5>>
  return
}

// -----

// Constant with dynamic parameters.
func.func @f() {
  // expected-error @+1 {{a constant needs static quantization parameters}}
  %c = quantx.constant dense<[1]> : tensor<1xi8> -> tensor<1x!quantx.uniform<i8:f32>>
  return
}

// -----

// Constant value outside the storage range.
func.func @f() {
  // expected-error @+1 {{value -128 is outside the storage range [-127, 127]}}
  %c = quantx.constant dense<[1, -128]> : tensor<2xi8> -> tensor<2x!quantx.uniform<i8<-127:127>:f32, scale = 1.0>>
  return
}

// -----

// Constant value that is neither unpacked nor bytes.
func.func @f() {
  // expected-error @+1 {{or a 1-D i8 attribute of packed bytes}}
  %c = quantx.constant dense<[1, 2]> : tensor<2xi16> -> tensor<2x!quantx.uniform<i8:f32, scale = 0.5>>
  return
}

// -----

// Constant with too few packed bytes.
func.func @f() {
  // expected-error @+1 {{packed value has 2 bytes, but 5 values of 4 bits need 3}}
  %c = quantx.constant dense<[1, 2]> : tensor<2xi8> -> tensor<5x!quantx.uniform<i4:f32, scale = 1.0>>
  return
}

// -----

// Storage casts keep the shape.
func.func @f(%q: tensor<4x!quantx.uniform<i8:f32, scale = 0.5>>) {
  // expected-error @+1 {{'quantx.scast' op input and result shapes differ}}
  %r = quantx.scast %q : tensor<4x!quantx.uniform<i8:f32, scale = 0.5>> -> tensor<5xi8>
  return
}

// -----

// A scalar cannot become a tensor.
func.func @f(%x: f32) {
  // expected-error @+1 {{'quantx.quantize' op input and result shapes differ}}
  %q = quantx.quantize %x : f32 -> tensor<1x!quantx.uniform<i8:f32, scale = 0.5>>
  return
}

// -----

// Unranked data: parameters are still required exactly when dynamic.
func.func @f(%x: tensor<*xf32>) {
  // expected-error @+1 {{'quantx.quantize' op is missing the result scale operand}}
  %q = quantx.quantize %x : tensor<*xf32> -> tensor<*x!quantx.uniform<i8:f32>>
  return
}

// -----

// Unranked data: the parameter element type is still checked.
func.func @f(%x: tensor<*xf32>, %s: tensor<f16>) {
  // expected-error @+1 {{'quantx.quantize' op result scale must have element type 'f32'}}
  %q = quantx.quantize %x scale(%s : tensor<f16>) : tensor<*xf32> -> tensor<*x!quantx.uniform<i8:f32>>
  return
}
