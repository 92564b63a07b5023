// Canonicalization removes only provably exact work; a lossy round trip is
// never folded away.
// RUN: quantx-opt %s -split-input-file -canonicalize | FileCheck %s

// dequantize(quantize(x)) is the quantization error itself: kept.
// CHECK-LABEL: func @negative_dequantize_of_quantize
// CHECK: %[[Q:.*]] = quantx.quantize %arg0
// CHECK: %[[D:.*]] = quantx.dequantize %[[Q]]
// CHECK: return %[[D]]
func.func @negative_dequantize_of_quantize(%x: tensor<4xf32>) -> tensor<4xf32> {
  %q = quantx.quantize %x : tensor<4xf32> -> tensor<4x!quantx.uniform<u8:f32, scale = 0.1, zero_point = 3>>
  %d = quantx.dequantize %q : tensor<4x!quantx.uniform<u8:f32, scale = 0.1, zero_point = 3>> -> tensor<4xf32>
  return %d : tensor<4xf32>
}

// -----

// quantize(dequantize(q)) with the same static type is exact for every
// storage value here (checked exhaustively), so it folds to q.
// CHECK-LABEL: func @quantize_of_dequantize
// CHECK-NEXT: return %arg0
func.func @quantize_of_dequantize(%q: tensor<4x!quantx.uniform<u8:f32, scale = 0.1, zero_point = 3>>) -> tensor<4x!quantx.uniform<u8:f32, scale = 0.1, zero_point = 3>> {
  %d = quantx.dequantize %q : tensor<4x!quantx.uniform<u8:f32, scale = 0.1, zero_point = 3>> -> tensor<4xf32>
  %r = quantx.quantize %d : tensor<4xf32> -> tensor<4x!quantx.uniform<u8:f32, scale = 0.1, zero_point = 3>>
  return %r : tensor<4x!quantx.uniform<u8:f32, scale = 0.1, zero_point = 3>>
}

// -----

// With floor rounding, (0.1 * -62) / 0.1 is -62.000004 in f32 and floors to
// -63: not exact,
// not folded.
// CHECK-LABEL: func @negative_quantize_of_dequantize_floor
// CHECK: quantx.dequantize
// CHECK: quantx.quantize
func.func @negative_quantize_of_dequantize_floor(%q: tensor<4x!quantx.uniform<i8:f32, scale = 0.1>>) -> tensor<4x!quantx.uniform<i8:f32, scale = 0.1>> {
  %d = quantx.dequantize %q : tensor<4x!quantx.uniform<i8:f32, scale = 0.1>> -> tensor<4xf32>
  %r = quantx.quantize %d {rounding = #quantx.rounding<floor>} : tensor<4xf32> -> tensor<4x!quantx.uniform<i8:f32, scale = 0.1>>
  return %r : tensor<4x!quantx.uniform<i8:f32, scale = 0.1>>
}

// -----

// An f16 expressed type overflows: 300 * 300 = 90000 is infinity in f16,
// so the round trip is not exact and stays.
// CHECK-LABEL: func @negative_quantize_of_dequantize_f16_overflow
// CHECK: quantx.dequantize
// CHECK: quantx.quantize
func.func @negative_quantize_of_dequantize_f16_overflow(%q: tensor<4x!quantx.uniform<i16:f16, scale = 300.0>>) -> tensor<4x!quantx.uniform<i16:f16, scale = 300.0>> {
  %d = quantx.dequantize %q : tensor<4x!quantx.uniform<i16:f16, scale = 300.0>> -> tensor<4xf16>
  %r = quantx.quantize %d : tensor<4xf16> -> tensor<4x!quantx.uniform<i16:f16, scale = 300.0>>
  return %r : tensor<4x!quantx.uniform<i16:f16, scale = 300.0>>
}

// -----

// Different types: a real requantization, kept.
// CHECK-LABEL: func @negative_quantize_of_dequantize_other_type
// CHECK: quantx.dequantize
// CHECK: quantx.quantize
func.func @negative_quantize_of_dequantize_other_type(%q: tensor<4x!quantx.uniform<i8:f32, scale = 0.1>>) -> tensor<4x!quantx.uniform<i8:f32, scale = 0.2>> {
  %d = quantx.dequantize %q : tensor<4x!quantx.uniform<i8:f32, scale = 0.1>> -> tensor<4xf32>
  %r = quantx.quantize %d : tensor<4xf32> -> tensor<4x!quantx.uniform<i8:f32, scale = 0.2>>
  return %r : tensor<4x!quantx.uniform<i8:f32, scale = 0.2>>
}

// -----

// Dynamic parameters cannot be checked: kept.
// CHECK-LABEL: func @negative_quantize_of_dequantize_dynamic
// CHECK: quantx.dequantize
// CHECK: quantx.quantize
func.func @negative_quantize_of_dequantize_dynamic(%q: tensor<4x!quantx.uniform<i8:f32>>, %s: tensor<f32>) -> tensor<4x!quantx.uniform<i8:f32>> {
  %d = quantx.dequantize %q scale(%s : tensor<f32>) : tensor<4x!quantx.uniform<i8:f32>> -> tensor<4xf32>
  %r = quantx.quantize %d scale(%s : tensor<f32>) : tensor<4xf32> -> tensor<4x!quantx.uniform<i8:f32>>
  return %r : tensor<4x!quantx.uniform<i8:f32>>
}

// -----

// Requantizing to the same static type is exact here: folded.
// CHECK-LABEL: func @requantize_identity
// CHECK-NEXT: return %arg0
func.func @requantize_identity(%q: tensor<4x!quantx.uniform<i8:f32, axis = 0, scales = dense<[0.5, 0.25, 0.125, 3.0]> : tensor<4xf64>>>) -> tensor<4x!quantx.uniform<i8:f32, axis = 0, scales = dense<[0.5, 0.25, 0.125, 3.0]> : tensor<4xf64>>> {
  %r = quantx.requantize %q : tensor<4x!quantx.uniform<i8:f32, axis = 0, scales = dense<[0.5, 0.25, 0.125, 3.0]> : tensor<4xf64>>> -> tensor<4x!quantx.uniform<i8:f32, axis = 0, scales = dense<[0.5, 0.25, 0.125, 3.0]> : tensor<4xf64>>>
  return %r : tensor<4x!quantx.uniform<i8:f32, axis = 0, scales = dense<[0.5, 0.25, 0.125, 3.0]> : tensor<4xf64>>>
}

// -----

// Requantizing to another scale is lossy: kept.
// CHECK-LABEL: func @negative_requantize
// CHECK: quantx.requantize
func.func @negative_requantize(%q: tensor<4x!quantx.uniform<i8:f32, scale = 0.1>>) -> tensor<4x!quantx.uniform<i8:f32, scale = 0.3>> {
  %r = quantx.requantize %q : tensor<4x!quantx.uniform<i8:f32, scale = 0.1>> -> tensor<4x!quantx.uniform<i8:f32, scale = 0.3>>
  return %r : tensor<4x!quantx.uniform<i8:f32, scale = 0.3>>
}

// -----

// A pair of storage casts is a bit-preserving no-op.
// CHECK-LABEL: func @scast_pair
// CHECK-NEXT: return %arg0
func.func @scast_pair(%q: tensor<4x!quantx.uniform<u4:f32, scale = 1.0>>) -> tensor<4x!quantx.uniform<u4:f32, scale = 1.0>> {
  %i = quantx.scast %q : tensor<4x!quantx.uniform<u4:f32, scale = 1.0>> -> tensor<4xi4>
  %r = quantx.scast %i : tensor<4xi4> -> tensor<4x!quantx.uniform<u4:f32, scale = 1.0>>
  return %r : tensor<4x!quantx.uniform<u4:f32, scale = 1.0>>
}

// -----

// A storage cast to another quantized type is a real reinterpretation.
// CHECK-LABEL: func @negative_scast_pair_other_type
// CHECK: quantx.scast
// CHECK: quantx.scast
func.func @negative_scast_pair_other_type(%q: tensor<4x!quantx.uniform<u4:f32, scale = 1.0>>) -> tensor<4x!quantx.uniform<u4:f32, scale = 2.0>> {
  %i = quantx.scast %q : tensor<4x!quantx.uniform<u4:f32, scale = 1.0>> -> tensor<4xi4>
  %r = quantx.scast %i : tensor<4xi4> -> tensor<4x!quantx.uniform<u4:f32, scale = 2.0>>
  return %r : tensor<4x!quantx.uniform<u4:f32, scale = 2.0>>
}

// -----

// fake_quant is part of the model: never folded, even when unused values
// around it are removed.
// CHECK-LABEL: func @negative_fake_quant
// CHECK: quantx.fake_quant
func.func @negative_fake_quant(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = quantx.fake_quant %x {qtype = !quantx.uniform<i8:f32, scale = 0.1>} : tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// An observation point survives canonicalization even when its result is
// unused (it feeds calibration).
// CHECK-LABEL: func @negative_observe_unused
// CHECK: quantx.observe
func.func @negative_observe_unused(%x: tensor<4xf32>) {
  %y = quantx.observe %x {kind = #quantx.observer<min_max>, name = "x"} : tensor<4xf32>
  return
}
