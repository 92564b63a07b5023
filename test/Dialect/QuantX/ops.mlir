// Every op form round-trips through the custom, the generic and the
// bytecode form.
// RUN: quantx-opt %s | quantx-opt | FileCheck %s
// RUN: quantx-opt %s --mlir-print-op-generic | quantx-opt | FileCheck %s
// RUN: quantx-opt %s -emit-bytecode | quantx-opt | FileCheck %s
// RUN: quantx-opt %s > %t.text && quantx-opt %s -emit-bytecode | quantx-opt > %t.bc && diff %t.text %t.bc

!s8 = !quantx.uniform<i8:f32, scale = 5.000000e-01>
!u8 = !quantx.uniform<u8:f32, scale = 2.000000e-02, zero_point = 128>
!w8 = !quantx.uniform<i8<-127:127>:f32, axis = 0, scales = dense<[1.0e-2, 2.0e-2, 3.0e-2, 4.0e-2]> : tensor<4xf64>>
!q4_0 = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>
!gptq = !quantx.uniform<u4:f32, blocks = {0 : 1, 1 : 32}, offset = zero_point>

// CHECK-LABEL: func @quantize_static
// CHECK: %[[Q:.*]] = quantx.quantize %{{.*}} : tensor<4x8xf32> -> tensor<4x8x!quantx.uniform<i8:f32, scale = 5.000000e-01>>
// CHECK: quantx.dequantize %[[Q]] : tensor<4x8x!quantx.uniform<i8:f32, scale = 5.000000e-01>> -> tensor<4x8xf32>
func.func @quantize_static(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %q = quantx.quantize %x : tensor<4x8xf32> -> tensor<4x8x!s8>
  %d = quantx.dequantize %q : tensor<4x8x!s8> -> tensor<4x8xf32>
  return %d : tensor<4x8xf32>
}

// Rounding and saturation are explicit attributes; defaults are elided.
// CHECK-LABEL: func @quantize_attrs
// CHECK: quantx.quantize %{{.*}} {rounding = #quantx.rounding<half_away_from_zero>, saturate = false}
// CHECK: quantx.quantize %{{.*}} {rounding = #quantx.rounding<toward_zero>}
// CHECK: quantx.quantize %{{.*}} {rounding = #quantx.rounding<floor>}
// CHECK: quantx.quantize %{{.*}} : tensor<8xf32>
func.func @quantize_attrs(%x: tensor<8xf32>) -> (tensor<8x!u8>, tensor<8x!u8>, tensor<8x!u8>, tensor<8x!u8>) {
  %0 = quantx.quantize %x {rounding = #quantx.rounding<half_away_from_zero>, saturate = false} : tensor<8xf32> -> tensor<8x!u8>
  %1 = quantx.quantize %x {rounding = #quantx.rounding<toward_zero>} : tensor<8xf32> -> tensor<8x!u8>
  %2 = quantx.quantize %x {rounding = #quantx.rounding<floor>} : tensor<8xf32> -> tensor<8x!u8>
  %3 = quantx.quantize %x {rounding = #quantx.rounding<half_to_even>, saturate = true} : tensor<8xf32> -> tensor<8x!u8>
  return %0, %1, %2, %3 : tensor<8x!u8>, tensor<8x!u8>, tensor<8x!u8>, tensor<8x!u8>
}

// Dynamic parameters: grouped weights with fp16 scales (ggml Q4_0) and
// GPTQ-style zero points, per-token dynamic activations.
// CHECK-LABEL: func @quantize_dynamic
// CHECK: quantx.quantize %{{.*}} scale(%{{.*}} : tensor<4x2xf16>) : tensor<4x64xf32> -> tensor<4x64x!quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>>
// CHECK: quantx.dequantize %{{.*}} scale(%{{.*}} : tensor<4x2xf32>) offset(%{{.*}} : tensor<4x2xi32>)
// CHECK: quantx.quantize %{{.*}} scale(%{{.*}} : tensor<4xf32>) offset(%{{.*}} : tensor<4xi32>) : tensor<4x64xf32> -> tensor<4x64x!quantx.uniform<u8:f32, axis = 0, offset = zero_point>>
func.func @quantize_dynamic(%x: tensor<4x64xf32>, %s16: tensor<4x2xf16>, %s: tensor<4x2xf32>, %z: tensor<4x2xi32>,
                            %ts: tensor<4xf32>, %tz: tensor<4xi32>) -> (tensor<4x64x!q4_0>, tensor<4x64xf32>, tensor<4x64x!quantx.uniform<u8:f32, axis = 0, offset = zero_point>>) {
  %q = quantx.quantize %x scale(%s16 : tensor<4x2xf16>) : tensor<4x64xf32> -> tensor<4x64x!q4_0>
  %g = quantx.quantize %x scale(%s : tensor<4x2xf32>) offset(%z : tensor<4x2xi32>) : tensor<4x64xf32> -> tensor<4x64x!gptq>
  %d = quantx.dequantize %g scale(%s : tensor<4x2xf32>) offset(%z : tensor<4x2xi32>) : tensor<4x64x!gptq> -> tensor<4x64xf32>
  %t = quantx.quantize %x scale(%ts : tensor<4xf32>) offset(%tz : tensor<4xi32>) : tensor<4x64xf32> -> tensor<4x64x!quantx.uniform<u8:f32, axis = 0, offset = zero_point>>
  return %q, %d, %t : tensor<4x64x!q4_0>, tensor<4x64xf32>, tensor<4x64x!quantx.uniform<u8:f32, axis = 0, offset = zero_point>>
}

// Double quantization (ggml Q4_K): the sub-block scales and mins are
// dequantized first, then passed as float parameters.
// CHECK-LABEL: func @kquant
// CHECK: %[[SC:.*]] = quantx.dequantize %{{.*}} scale(%{{.*}} : tensor<2x1xf16>)
// CHECK: %[[M:.*]] = quantx.dequantize %{{.*}} scale(%{{.*}} : tensor<2x1xf16>)
// CHECK: quantx.dequantize %{{.*}} scale(%[[SC]] : tensor<2x8xf32>) offset(%[[M]] : tensor<2x8xf32>)
!u6 = !quantx.uniform<u6:f32, blocks = {0 : 1, 1 : 8}, scale_type = f16>
!q4_k = !quantx.uniform<u4:f32, blocks = {0 : 1, 1 : 32}, offset = sub_min, scale_type = !u6>
func.func @kquant(%q: tensor<2x256x!q4_k>, %sc: tensor<2x8x!u6>, %m: tensor<2x8x!u6>, %d: tensor<2x1xf16>, %dmin: tensor<2x1xf16>) -> tensor<2x256xf32> {
  %scf = quantx.dequantize %sc scale(%d : tensor<2x1xf16>) : tensor<2x8x!u6> -> tensor<2x8xf32>
  %mf = quantx.dequantize %m scale(%dmin : tensor<2x1xf16>) : tensor<2x8x!u6> -> tensor<2x8xf32>
  %x = quantx.dequantize %q scale(%scf : tensor<2x8xf32>) offset(%mf : tensor<2x8xf32>) : tensor<2x256x!q4_k> -> tensor<2x256xf32>
  return %x : tensor<2x256xf32>
}

// CHECK-LABEL: func @requantize
// CHECK: quantx.requantize %{{.*}} : tensor<16x!quantx.uniform<i32:f32, scale = 1.000000e-03>> -> tensor<16x!quantx.uniform<i8:f32, scale = 5.000000e-01>>
// CHECK: quantx.requantize %{{.*}} input_scale(%{{.*}} : tensor<f32>) scale(%{{.*}} : tensor<f32>) {rounding = #quantx.rounding<half_away_from_zero>}
func.func @requantize(%a: tensor<16x!quantx.uniform<i32:f32, scale = 1.0e-3>>, %b: tensor<16x!quantx.uniform<i8:f32>>,
                      %s0: tensor<f32>, %s1: tensor<f32>) -> (tensor<16x!s8>, tensor<16x!quantx.uniform<i4:f32>>) {
  %0 = quantx.requantize %a : tensor<16x!quantx.uniform<i32:f32, scale = 1.0e-3>> -> tensor<16x!s8>
  %1 = quantx.requantize %b input_scale(%s0 : tensor<f32>) scale(%s1 : tensor<f32>) {rounding = #quantx.rounding<half_away_from_zero>} : tensor<16x!quantx.uniform<i8:f32>> -> tensor<16x!quantx.uniform<i4:f32>>
  return %0, %1 : tensor<16x!s8>, tensor<16x!quantx.uniform<i4:f32>>
}

// CHECK-LABEL: func @add
// CHECK: quantx.add %{{.*}}, %{{.*}} : tensor<2x8x!quantx.uniform<u8:f32, scale = 2.000000e-02, zero_point = 3>>, tensor<2x8x!quantx.uniform<i8:f32, axis = 1, scales = {{.*}}>> -> tensor<2x8x!quantx.uniform<u8:f32, scale = 3.000000e-02, zero_point = 2>>
// CHECK: quantx.add %{{.*}}, %{{.*}} {rounding = #quantx.rounding<half_away_from_zero>} : tensor<?x!quantx.uniform<u8:f32, scale = 2.000000e-02, zero_point = 3>>
func.func @add(%a: tensor<2x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 3>>,
               %b: tensor<2x8x!quantx.uniform<i8:f32, axis = 1, scales = dense<[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]> : tensor<8xf64>>>,
               %c: tensor<?x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 3>>)
    -> (tensor<2x8x!quantx.uniform<u8:f32, scale = 0.03, zero_point = 2>>, tensor<?x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 3>>) {
  %0 = quantx.add %a, %b : tensor<2x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 3>>,
                           tensor<2x8x!quantx.uniform<i8:f32, axis = 1, scales = dense<[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]> : tensor<8xf64>>>
                        -> tensor<2x8x!quantx.uniform<u8:f32, scale = 0.03, zero_point = 2>>
  %1 = quantx.add %c, %c {rounding = #quantx.rounding<half_away_from_zero>}
      : tensor<?x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 3>>, tensor<?x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 3>>
     -> tensor<?x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 3>>
  return %0, %1 : tensor<2x8x!quantx.uniform<u8:f32, scale = 0.03, zero_point = 2>>, tensor<?x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 3>>
}

// CHECK-LABEL: func @scast
// CHECK: quantx.scast %{{.*}} : tensor<8x!quantx.uniform<u4:f32, scale = 1.000000e+00>> -> tensor<8xi4>
// CHECK: quantx.scast %{{.*}} : tensor<8xui8> -> tensor<8x!quantx.uniform<ui8:f32>>
func.func @scast(%q: tensor<8x!quantx.uniform<u4:f32, scale = 1.0>>, %i: tensor<8xui8>) -> (tensor<8xi4>, tensor<8x!quantx.uniform<ui8:f32>>) {
  %0 = quantx.scast %q : tensor<8x!quantx.uniform<u4:f32, scale = 1.0>> -> tensor<8xi4>
  %1 = quantx.scast %i : tensor<8xui8> -> tensor<8x!quantx.uniform<ui8:f32>>
  return %0, %1 : tensor<8xi4>, tensor<8x!quantx.uniform<ui8:f32>>
}

// CHECK-LABEL: func @fake_quant
// CHECK: quantx.fake_quant %{{.*}} {qtype = !quantx.uniform<u8:f32, scale = 2.000000e-02, zero_point = 128>} : tensor<4x8xf32>
// CHECK: quantx.fake_quant %{{.*}} scale(%{{.*}} : tensor<f32>) offset(%{{.*}} : tensor<f32>) {qtype = !quantx.uniform<u8:f32, offset = zero_point>} : tensor<4x8xf32>
// CHECK: quantx.fake_quant %{{.*}} scale(%{{.*}} : tensor<4xf32>) {qtype = !quantx.uniform<i8<-127:127>:f32, axis = 0>, rounding = #quantx.rounding<half_away_from_zero>} : tensor<4x8xf32>
func.func @fake_quant(%x: tensor<4x8xf32>, %s: tensor<f32>, %z: tensor<f32>, %c: tensor<4xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) {
  %0 = quantx.fake_quant %x {qtype = !u8} : tensor<4x8xf32>
  %1 = quantx.fake_quant %x scale(%s : tensor<f32>) offset(%z : tensor<f32>) {qtype = !quantx.uniform<u8:f32, offset = zero_point>} : tensor<4x8xf32>
  %2 = quantx.fake_quant %x scale(%c : tensor<4xf32>) {qtype = !quantx.uniform<i8<-127:127>:f32, axis = 0>, rounding = #quantx.rounding<half_away_from_zero>} : tensor<4x8xf32>
  return %0, %1, %2 : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
}

// Every observer kind.
// CHECK-LABEL: func @observe
// CHECK: quantx.observe %{{.*}} {kind = #quantx.observer<min_max>, name = "a"}
// CHECK: quantx.observe %{{.*}} {kind = #quantx.observer<moving_average_min_max>, momentum = 1.000000e-02 : f64, name = "b"}
// CHECK: quantx.observe %{{.*}} {axis = 1 : i64, kind = #quantx.observer<min_max>, name = "c"}
// CHECK: quantx.observe %{{.*}} {kind = #quantx.observer<histogram>, name = "d", num_bins = 2048 : i64}
// CHECK: quantx.observe %{{.*}} {kind = #quantx.observer<percentile>, name = "e", percentile = 99.989999999999994 : f64}
// CHECK: quantx.observe %{{.*}} {kind = #quantx.observer<entropy>, name = "f"}
// CHECK: quantx.observe %{{.*}} {kind = #quantx.observer<mse>, name = "g"}
// CHECK: quantx.observe %{{.*}} {kind = #quantx.observer<hessian>, name = "h"}
// CHECK: quantx.observe %{{.*}} {kind = #quantx.observer<mean_abs>, name = "i", stats = {max = 2.000000e+00 : f64, min = -1.500000e+00 : f64}}
func.func @observe(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = quantx.observe %x {kind = #quantx.observer<min_max>, name = "a"} : tensor<4x8xf32>
  %1 = quantx.observe %0 {kind = #quantx.observer<moving_average_min_max>, name = "b", momentum = 0.01 : f64} : tensor<4x8xf32>
  %2 = quantx.observe %1 {kind = #quantx.observer<min_max>, name = "c", axis = 1 : i64} : tensor<4x8xf32>
  %3 = quantx.observe %2 {kind = #quantx.observer<histogram>, name = "d", num_bins = 2048 : i64} : tensor<4x8xf32>
  %4 = quantx.observe %3 {kind = #quantx.observer<percentile>, name = "e", percentile = 99.99 : f64} : tensor<4x8xf32>
  %5 = quantx.observe %4 {kind = #quantx.observer<entropy>, name = "f"} : tensor<4x8xf32>
  %6 = quantx.observe %5 {kind = #quantx.observer<mse>, name = "g"} : tensor<4x8xf32>
  %7 = quantx.observe %6 {kind = #quantx.observer<hessian>, name = "h"} : tensor<4x8xf32>
  %8 = quantx.observe %7 {kind = #quantx.observer<mean_abs>, name = "i", stats = {min = -1.5 : f64, max = 2.0 : f64}} : tensor<4x8xf32>
  return %8 : tensor<4x8xf32>
}

// Quantized linear with every epilogue: requantize with ReLU, dequantize,
// raw int32 accumulator; weight-only with float activations and groups.
// CHECK-LABEL: func @matmul
// CHECK: quantx.matmul %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<4xi32>) {relu, transpose_rhs} : tensor<2x16x!quantx.uniform<u8:f32, scale = 2.000000e-02, zero_point = 128>>, tensor<4x16x!quantx.uniform<i8<-127:127>:f32, axis = 0, scales = dense<[1.000000e-02, 2.000000e-02, 3.000000e-02, 4.000000e-02]> : tensor<4xf64>>> -> tensor<2x4x!quantx.uniform<u8:f32, scale = 2.000000e-02, zero_point = 128>>
// CHECK: quantx.matmul %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<4xf32>) {transpose_rhs} : {{.*}} -> tensor<2x4xf32>
// CHECK: quantx.matmul %{{.*}}, %{{.*}} {transpose_rhs} : {{.*}} -> tensor<2x4xi32>
// CHECK: quantx.matmul %{{.*}}, %{{.*}} rhs_scale(%{{.*}} : tensor<4x1xf32>) rhs_offset(%{{.*}} : tensor<4x1xi32>) {transpose_rhs} : tensor<3x2x32xf32>, tensor<4x32x!quantx.uniform<u4:f32, blocks = {0 : 1, 1 : 32}, offset = zero_point>> -> tensor<3x2x4xf32>
// CHECK: quantx.matmul %{{.*}}, %{{.*}} lhs_scale(%{{.*}} : tensor<2xf32>) rhs_scale(%{{.*}} : tensor<4xf32>) : tensor<2x16x!quantx.uniform<i8:f32, axis = 0>>, tensor<16x4x!quantx.uniform<i8:f32, axis = 1>> -> tensor<2x4xf32>
func.func @matmul(%x: tensor<2x16x!u8>, %w: tensor<4x16x!w8>, %b: tensor<4xi32>, %bf: tensor<4xf32>,
                  %xf: tensor<3x2x32xf32>, %wg: tensor<4x32x!gptq>, %s: tensor<4x1xf32>, %z: tensor<4x1xi32>,
                  %xd: tensor<2x16x!quantx.uniform<i8:f32, axis = 0>>, %xs: tensor<2xf32>,
                  %wd: tensor<16x4x!quantx.uniform<i8:f32, axis = 1>>, %ws: tensor<4xf32>)
    -> (tensor<2x4x!u8>, tensor<2x4xf32>, tensor<2x4xi32>, tensor<3x2x4xf32>, tensor<2x4xf32>) {
  %0 = quantx.matmul %x, %w bias(%b : tensor<4xi32>) {relu, transpose_rhs} : tensor<2x16x!u8>, tensor<4x16x!w8> -> tensor<2x4x!u8>
  %1 = quantx.matmul %x, %w bias(%bf : tensor<4xf32>) {transpose_rhs} : tensor<2x16x!u8>, tensor<4x16x!w8> -> tensor<2x4xf32>
  %2 = quantx.matmul %x, %w {transpose_rhs} : tensor<2x16x!u8>, tensor<4x16x!w8> -> tensor<2x4xi32>
  %3 = quantx.matmul %xf, %wg rhs_scale(%s : tensor<4x1xf32>) rhs_offset(%z : tensor<4x1xi32>) {transpose_rhs} : tensor<3x2x32xf32>, tensor<4x32x!gptq> -> tensor<3x2x4xf32>
  %4 = quantx.matmul %xd, %wd lhs_scale(%xs : tensor<2xf32>) rhs_scale(%ws : tensor<4xf32>) : tensor<2x16x!quantx.uniform<i8:f32, axis = 0>>, tensor<16x4x!quantx.uniform<i8:f32, axis = 1>> -> tensor<2x4xf32>
  return %0, %1, %2, %3, %4 : tensor<2x4x!u8>, tensor<2x4xf32>, tensor<2x4xi32>, tensor<3x2x4xf32>, tensor<2x4xf32>
}

// CHECK-LABEL: func @conv2d
// CHECK: quantx.conv2d %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<4xi32>) {padding = array<i64: 1, 1, 1, 1>, relu} : {{.*}} -> tensor<1x4x8x8x!quantx.uniform<u8:f32, scale = 2.000000e-02, zero_point = 128>>
// CHECK: quantx.conv2d %{{.*}}, %{{.*}} {dilations = array<i64: 2, 2>, groups = 2 : i64, strides = array<i64: 2, 2>} : tensor<1x4x9x9xf32>, tensor<4x2x3x3x!quantx.uniform<i8:f32, scale = 5.000000e-01>> -> tensor<1x4x3x3xf32>
func.func @conv2d(%x: tensor<1x3x8x8x!u8>, %w: tensor<4x3x3x3x!w8>, %b: tensor<4xi32>, %xf: tensor<1x4x9x9xf32>, %wg: tensor<4x2x3x3x!s8>)
    -> (tensor<1x4x8x8x!u8>, tensor<1x4x3x3xf32>) {
  %0 = quantx.conv2d %x, %w bias(%b : tensor<4xi32>) {padding = array<i64: 1, 1, 1, 1>, relu} : tensor<1x3x8x8x!u8>, tensor<4x3x3x3x!w8> -> tensor<1x4x8x8x!u8>
  %1 = quantx.conv2d %xf, %wg {strides = array<i64: 2, 2>, dilations = array<i64: 2, 2>, groups = 2 : i64} : tensor<1x4x9x9xf32>, tensor<4x2x3x3x!s8> -> tensor<1x4x3x3xf32>
  return %0, %1 : tensor<1x4x8x8x!u8>, tensor<1x4x3x3xf32>
}

// Packed sub-byte weights in a dense_resource blob, and unpacked integers.
// CHECK-LABEL: func @constant
// CHECK: quantx.constant dense_resource<w4> : tensor<4xi8> -> tensor<2x4x!quantx.uniform<i4:f32, scale = 1.000000e-01>>
// CHECK: quantx.constant dense<[1, -2, 3]> : tensor<3xi8> -> tensor<3x!quantx.uniform<i8:f32, scale = 5.000000e-01>>
// CHECK: quantx.constant dense<{{\[\[}}1, 2], [3, 4]]> : tensor<2x2xi4> -> tensor<2x2x!quantx.uniform<u4:f32, scale = 1.000000e+00, zero_point = 8>>
func.func @constant() -> (tensor<2x4x!quantx.uniform<i4:f32, scale = 0.1>>, tensor<3x!s8>, tensor<2x2x!quantx.uniform<u4:f32, scale = 1.0, zero_point = 8>>) {
  %0 = quantx.constant dense_resource<w4> : tensor<4xi8> -> tensor<2x4x!quantx.uniform<i4:f32, scale = 0.1>>
  %1 = quantx.constant dense<[1, -2, 3]> : tensor<3xi8> -> tensor<3x!s8>
  %2 = quantx.constant dense<[[1, 2], [3, 4]]> : tensor<2x2xi4> -> tensor<2x2x!quantx.uniform<u4:f32, scale = 1.0, zero_point = 8>>
  return %0, %1, %2 : tensor<2x4x!quantx.uniform<i4:f32, scale = 0.1>>, tensor<3x!s8>, tensor<2x2x!quantx.uniform<u4:f32, scale = 1.0, zero_point = 8>>
}

{-#
  dialect_resources: {
    builtin: {
      w4: "0x0100000021436587"
    }
  }
#-}
