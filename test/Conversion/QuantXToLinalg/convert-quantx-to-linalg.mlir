// RUN: quantx-opt %s -split-input-file -convert-quantx-to-linalg -verify-diagnostics | FileCheck %s

// Static per-tensor parameters become captured constants; the signature uses
// the storage type.
// CHECK-LABEL: func.func @quantize_per_tensor
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>) -> tensor<4xi8>
// CHECK-DAG: %[[S:.*]] = arith.constant 5.000000e-01 : f32
// CHECK-DAG: %[[Z:.*]] = arith.constant 3 : i64
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[X]] : tensor<4xf32>) outs(%{{.*}} : tensor<4xi8>)
// CHECK: %[[NAN:.*]] = arith.cmpf uno
// CHECK: %[[DIV:.*]] = arith.divf %{{.*}}, %[[S]] : f32
// CHECK: math.roundeven %[[DIV]]
// CHECK: arith.sitofp %[[Z]] : i64 to f32
// CHECK: arith.maximumf
// CHECK: arith.minimumf
// CHECK: arith.fptosi %{{.*}} : f32 to i64
// CHECK: arith.trunci %{{.*}} : i64 to i8
func.func @quantize_per_tensor(%x: tensor<4xf32>) -> tensor<4x!quantx.uniform<u8:f32, scale = 0.5, zero_point = 3>> {
  %q = quantx.quantize %x : tensor<4xf32> -> tensor<4x!quantx.uniform<u8:f32, scale = 0.5, zero_point = 3>>
  return %q : tensor<4x!quantx.uniform<u8:f32, scale = 0.5, zero_point = 3>>
}

// -----

// quantx.add: one generic over both storage tensors; each operand is
// dequantized with its own parameters, the f32 sum quantized with the
// result's.
// CHECK-LABEL: func.func @add
// CHECK-SAME: (%[[A:.*]]: tensor<4xi8>, %[[B:.*]]: tensor<4xi8>) -> tensor<4xi8>
// CHECK-DAG: %[[SA:.*]] = arith.constant 5.000000e-01 : f32
// CHECK-DAG: %[[ZA:.*]] = arith.constant 3 : i64
// CHECK-DAG: %[[SB:.*]] = arith.constant 2.500000e-01 : f32
// CHECK-DAG: %[[SR:.*]] = arith.constant 1.000000e+00 : f32
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[A]], %[[B]] : tensor<4xi8>, tensor<4xi8>) outs(%{{.*}} : tensor<4xi8>)
// CHECK: ^bb0(%[[IA:.*]]: i8, %[[IB:.*]]: i8, %{{.*}}: i8):
// CHECK: %[[EA:.*]] = arith.extui %[[IA]] : i8 to i64
// CHECK: %[[DA:.*]] = arith.subi %[[EA]], %[[ZA]] : i64
// CHECK: %[[FA:.*]] = arith.sitofp %[[DA]] : i64 to f32
// CHECK: %[[XA:.*]] = arith.mulf %[[SA]], %[[FA]] : f32
// CHECK: %[[EB:.*]] = arith.extsi %[[IB]] : i8 to i64
// CHECK: %[[FB:.*]] = arith.sitofp %[[EB]] : i64 to f32
// CHECK: %[[XB:.*]] = arith.mulf %[[SB]], %[[FB]] : f32
// CHECK: %[[SUM:.*]] = arith.addf %[[XA]], %[[XB]] : f32
// The sum of dequantized integers (parameters from the types) is never
// NaN: no NaN test, and the clamp is two plain min/max.
// CHECK-NOT: arith.cmpf uno
// CHECK: arith.divf %[[SUM]], %[[SR]] : f32
// CHECK: math.roundeven
// CHECK: arith.maxnumf {{.*}} fastmath<nnan> : f32
// CHECK: arith.minnumf {{.*}} fastmath<nnan> : f32
// CHECK: arith.trunci %{{.*}} : i64 to i8
func.func @add(%a: tensor<4x!quantx.uniform<u8:f32, scale = 0.5, zero_point = 3>>, %b: tensor<4x!quantx.uniform<i8:f32, scale = 0.25>>) -> tensor<4x!quantx.uniform<u8:f32, scale = 1.0, zero_point = 7>> {
  %r = quantx.add %a, %b : tensor<4x!quantx.uniform<u8:f32, scale = 0.5, zero_point = 3>>, tensor<4x!quantx.uniform<i8:f32, scale = 0.25>> -> tensor<4x!quantx.uniform<u8:f32, scale = 1.0, zero_point = 7>>
  return %r : tensor<4x!quantx.uniform<u8:f32, scale = 1.0, zero_point = 7>>
}

// -----

// Per-block dynamic scales are read through a floordiv indexing map.
// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$BLK:.*]] = affine_map<(d0, d1) -> (d0, d1 floordiv 32)>
// CHECK-LABEL: func.func @dequantize_blocks
// CHECK-SAME: (%[[Q:.*]]: tensor<4x64xi4>, %[[S:.*]]: tensor<4x2xf16>) -> tensor<4x64xf32>
// CHECK: linalg.generic {indexing_maps = [#[[$ID]], #[[$BLK]], #[[$ID]]]
// CHECK-SAME: ins(%[[Q]], %[[S]] : tensor<4x64xi4>, tensor<4x2xf16>)
// CHECK: arith.extsi %{{.*}} : i4 to i64
// CHECK: arith.extf %{{.*}} : f16 to f32
// CHECK: arith.mulf
func.func @dequantize_blocks(%q: tensor<4x64x!quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>>, %s: tensor<4x2xf16>) -> tensor<4x64xf32> {
  %x = quantx.dequantize %q scale(%s : tensor<4x2xf16>) : tensor<4x64x!quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>> -> tensor<4x64xf32>
  return %x : tensor<4x64xf32>
}

// -----

// Static per-axis tables become constant tensors read along the axis;
// unsigned storage is zero-extended.
// CHECK-DAG: #[[$AX:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @dequantize_per_axis
// CHECK: arith.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK: arith.constant dense<[3, 4]> : tensor<2xi64>
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[$AX]], #[[$AX]], #{{.*}}]
// CHECK: arith.extui
// CHECK: arith.subi
func.func @dequantize_per_axis(%q: tensor<3x2x!quantx.uniform<u8:f32, axis = 1, scales = dense<[1.0, 2.0]> : tensor<2xf64>, offsets = dense<[3, 4]> : tensor<2xi64>>>) -> tensor<3x2xf32> {
  %x = quantx.dequantize %q : tensor<3x2x!quantx.uniform<u8:f32, axis = 1, scales = dense<[1.0, 2.0]> : tensor<2xf64>, offsets = dense<[3, 4]> : tensor<2xi64>>> -> tensor<3x2xf32>
  return %x : tensor<3x2xf32>
}

// -----

// Rounding modes map to math ops; observation points vanish; storage casts
// are no-ops on the storage type.
// CHECK-LABEL: func.func @rounding_observe_scast
// CHECK-NOT: quantx.
// CHECK: math.round %
// CHECK: math.trunc
// CHECK: math.floor
// CHECK: return
func.func @rounding_observe_scast(%x: tensor<4xf32>) -> (tensor<4xi8>, tensor<4xi8>, tensor<4xi8>) {
  %o = quantx.observe %x {kind = #quantx.observer<min_max>, name = "x"} : tensor<4xf32>
  %a = quantx.quantize %o {rounding = #quantx.rounding<half_away_from_zero>} : tensor<4xf32> -> tensor<4x!quantx.uniform<i8:f32, scale = 1.0>>
  %b = quantx.quantize %o {rounding = #quantx.rounding<toward_zero>} : tensor<4xf32> -> tensor<4x!quantx.uniform<i8:f32, scale = 1.0>>
  %c = quantx.quantize %o {rounding = #quantx.rounding<floor>} : tensor<4xf32> -> tensor<4x!quantx.uniform<i8:f32, scale = 1.0>>
  %ai = quantx.scast %a : tensor<4x!quantx.uniform<i8:f32, scale = 1.0>> -> tensor<4xi8>
  %bi = quantx.scast %b : tensor<4x!quantx.uniform<i8:f32, scale = 1.0>> -> tensor<4xi8>
  %ci = quantx.scast %c : tensor<4x!quantx.uniform<i8:f32, scale = 1.0>> -> tensor<4xi8>
  return %ai, %bi, %ci : tensor<4xi8>, tensor<4xi8>, tensor<4xi8>
}

// -----

// Without saturation the clamp is omitted.
// CHECK-LABEL: func.func @no_saturate
// CHECK-NOT: arith.maximumf
// CHECK: return
func.func @no_saturate(%x: tensor<4xf32>) -> tensor<4x!quantx.uniform<i8:f32, scale = 1.0>> {
  %q = quantx.quantize %x {saturate = false} : tensor<4xf32> -> tensor<4x!quantx.uniform<i8:f32, scale = 1.0>>
  return %q : tensor<4x!quantx.uniform<i8:f32, scale = 1.0>>
}

// -----

// Unpacked constants become storage constants.
// CHECK-LABEL: func.func @constant
// CHECK: arith.constant dense<[1, -2, 3]> : tensor<3xi8>
func.func @constant() -> tensor<3x!quantx.uniform<i8:f32, scale = 1.0>> {
  %c = quantx.constant dense<[1, -2, 3]> : tensor<3xi8> -> tensor<3x!quantx.uniform<i8:f32, scale = 1.0>>
  return %c : tensor<3x!quantx.uniform<i8:f32, scale = 1.0>>
}

// -----

// An int8 matmul: an i32 reduction generic, then the epilogue.
// CHECK-LABEL: func.func @matmul_int8
// CHECK: linalg.fill
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: arith.muli
// CHECK: arith.addi
// CHECK: linalg.generic
// CHECK: arith.sitofp
// CHECK: arith.mulf
func.func @matmul_int8(%x: tensor<2x4x!quantx.uniform<i8:f32, scale = 1.0>>, %w: tensor<4x3x!quantx.uniform<i8:f32, scale = 1.0>>) -> tensor<2x3xf32> {
  %y = quantx.matmul %x, %w : tensor<2x4x!quantx.uniform<i8:f32, scale = 1.0>>, tensor<4x3x!quantx.uniform<i8:f32, scale = 1.0>> -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// An int32 result without bias or ReLU is the accumulator itself: no
// epilogue copies it.
// CHECK-LABEL: func.func @matmul_int8_i32
// CHECK: %[[ACC:.*]] = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-NOT: linalg.generic
// CHECK: return %[[ACC]]
func.func @matmul_int8_i32(%x: tensor<2x4x!quantx.uniform<i8:f32, scale = 1.0>>, %w: tensor<4x3x!quantx.uniform<i8:f32, scale = 1.0>>) -> tensor<2x3xi32> {
  %y = quantx.matmul %x, %w : tensor<2x4x!quantx.uniform<i8:f32, scale = 1.0>>, tensor<4x3x!quantx.uniform<i8:f32, scale = 1.0>> -> tensor<2x3xi32>
  return %y : tensor<2x3xi32>
}

// -----

// With ReLU the int32 epilogue stays.
// CHECK-LABEL: func.func @matmul_int8_i32_relu
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: linalg.generic
// CHECK: arith.maxsi
func.func @matmul_int8_i32_relu(%x: tensor<2x4x!quantx.uniform<i8:f32, scale = 1.0>>, %w: tensor<4x3x!quantx.uniform<i8:f32, scale = 1.0>>) -> tensor<2x3xi32> {
  %y = quantx.matmul %x, %w {relu} : tensor<2x4x!quantx.uniform<i8:f32, scale = 1.0>>, tensor<4x3x!quantx.uniform<i8:f32, scale = 1.0>> -> tensor<2x3xi32>
  return %y : tensor<2x3xi32>
}

// -----

// Quantized activations with weights blocked along K are not lowered yet:
// the conversion reports it.
func.func @negative_matmul_blocked(%x: tensor<2x4x!quantx.uniform<i8:f32, scale = 1.0>>, %w: tensor<4x4x!quantx.uniform<i8:f32, blocks = {1 : 2}, scales = dense<[[1.0, 2.0]]> : tensor<1x2xf32>>>) -> tensor<2x4xf32> {
  // expected-error @+1 {{failed to legalize operation 'quantx.matmul'}}
  %y = quantx.matmul %x, %w {transpose_rhs} : tensor<2x4x!quantx.uniform<i8:f32, scale = 1.0>>, tensor<4x4x!quantx.uniform<i8:f32, blocks = {1 : 2}, scales = dense<[[1.0, 2.0]]> : tensor<1x2xf32>>> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// conv2d pads the input with its zero point, gathers the patches and
// reduces over (f, j, k) (conv2d-im2col.mlir has the details).
// CHECK-LABEL: func.func @conv2d
// CHECK: %[[ZP:.*]] = arith.constant -3 : i8
// CHECK: %[[FILL:.*]] = linalg.fill ins(%[[ZP]] : i8) outs(%{{.*}} : tensor<1x2x5x5xi8>)
// CHECK: tensor.insert_slice %{{.*}} into %[[FILL]][0, 0, 1, 1] [1, 2, 3, 3] [1, 1, 1, 1]
// CHECK: tensor.collapse_shape
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "reduction"]
func.func @conv2d(%x: tensor<1x2x3x3x!quantx.uniform<i8:f32, scale = 1.0, zero_point = -3>>, %w: tensor<2x2x3x3x!quantx.uniform<i8:f32, scale = 1.0>>) -> tensor<1x2x3x3xf32> {
  %y = quantx.conv2d %x, %w {padding = array<i64: 1, 1, 1, 1>} : tensor<1x2x3x3x!quantx.uniform<i8:f32, scale = 1.0, zero_point = -3>>, tensor<2x2x3x3x!quantx.uniform<i8:f32, scale = 1.0>> -> tensor<1x2x3x3xf32>
  return %y : tensor<1x2x3x3xf32>
}
