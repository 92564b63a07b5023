// Every integer-storage !quant.uniform form used by upstream MLIR 22's own
// tests of the quant dialect (parse-uniform.mlir, ops.mlir,
// Bytecode/types.mlir, lower-quant-ops.mlir) converts to quantx and back
// without change, in text and through bytecode.
// RUN: quantx-opt %s > %t.orig
// RUN: quantx-opt %s -convert-quant-to-quantx -convert-quantx-to-quant > %t.back
// RUN: diff %t.orig %t.back
// RUN: quantx-opt %s -convert-quant-to-quantx -emit-bytecode | quantx-opt -convert-quantx-to-quant > %t.bc
// RUN: diff %t.orig %t.bc
// RUN: quantx-opt %s -convert-quant-to-quantx | FileCheck %s --implicit-check-not='!quant.uniform' --implicit-check-not='quant.qcast' --implicit-check-not='quant.dcast' --implicit-check-not='quant.scast'

// Types held in attributes convert too; the non-uniform kinds stay.
// CHECK: module attributes
// CHECK-SAME: test.any = !quant.any<i8<-8:7>:f32>
// CHECK-SAME: test.calibrated = !quant.calibrated<f32<-0.998:1.232100e+00>>
// CHECK-SAME: test.per_axis = !quantx.uniform<i8:f32, axis = 1, offset = zero_point, scales = dense<[2.000000e+02, 9.987200e-01]> : tensor<2xf64>, offsets = dense<[0, 120]> : tensor<2xi64>>
// CHECK-SAME: test.per_layer = !quantx.uniform<i8<-8:7>:f32, scale = 9.987200e-01, zero_point = 127>
// CHECK-SAME: test.sub_channel = !quantx.uniform<i8:f32, blocks = {0 : 1, 1 : 2}, offset = zero_point, scales = dense<{{\[\[}}2.000000e+00, 3.000000e+00], [4.000000e+00, 5.000000e+00]]> : tensor<2x2xf32>, offsets = dense<{{\[\[}}10, 20], [30, 40]]> : tensor<2x2xi8>>
module attributes {
  test.any = !quant.any<i8<-8:7>:f32>,
  test.calibrated = !quant.calibrated<f32<-0.998:1.2321>>,
  test.per_layer = !quant.uniform<i8<-8:7>:f32, 9.987200e-01:127>,
  test.per_axis = !quant.uniform<i8:f32:1, {2.0e+2,0.99872:120}>,
  test.sub_channel = !quant.uniform<i8:f32:{0:1, 1:2}, {{2.0:10, 3.0:20}, {4.0:30, 5.0:40}}>
} {

// Per-tensor: storage ranges, widths, explicit signedness, expressed types.
// CHECK-LABEL: func.func private @per_tensor
// CHECK-SAME: !quantx.uniform<i8<-8:7>:f32, scale = 9.987200e-01, zero_point = 127>
// CHECK-SAME: !quantx.uniform<u8:f32, scale = 9.987200e-01>
// CHECK-SAME: !quantx.uniform<u8:f32, scale = 2.000000e-02>
// CHECK-SAME: !quantx.uniform<u8:f32, scale = 2.000000e+02>
// CHECK-SAME: !quantx.uniform<i16:f32, scale = 2.000000e+02>
// CHECK-SAME: !quantx.uniform<u16:f32, scale = 2.000000e+02>
// CHECK-SAME: !quantx.uniform<i32:f32, scale = 2.000000e+02>
// CHECK-SAME: !quantx.uniform<u32:f32, scale = 2.000000e+02>
// CHECK-SAME: !quantx.uniform<u8:f32, scale = 0x41646ABBA0000000, zero_point = 128>
// CHECK-SAME: !quantx.uniform<u8:f16, scale = 2.000000e+02>
// CHECK-SAME: !quantx.uniform<u8:f64, scale = 2.000000e+02>
// CHECK-SAME: !quantx.uniform<u8:bf16, scale = 2.000000e+02>
// CHECK-SAME: !quantx.uniform<ui8:f32, scale = 1.000000e+00>
// CHECK-SAME: !quantx.uniform<si8:f32, scale = 1.000000e+00>
// CHECK-SAME: !quantx.uniform<i8<-127:127>:f32, scale = 5.000000e-01>
// CHECK-SAME: !quantx.uniform<u4<1:15>:f32, scale = 5.000000e-01, zero_point = 8>
func.func private @per_tensor(
  !quant.uniform<i8<-8:7>:f32, 0.99872:127>,
  !quant.uniform<u8:f32, 0.99872>,
  !quant.uniform<u8:f32, 2.0e-2>,
  !quant.uniform<u8:f32, 2.0e+2>,
  !quant.uniform<i16:f32, 2.0e+2>,
  !quant.uniform<u16:f32, 2.0e+2>,
  !quant.uniform<i32:f32, 2.0e+2>,
  !quant.uniform<u32:f32, 2.0e+2>,
  !quant.uniform<u8:f32, 0x41646ABBA0000000:128>,
  !quant.uniform<u8:f16, 2.0e+2>,
  !quant.uniform<u8:f64, 2.0e+2>,
  !quant.uniform<u8:bf16, 2.0e+2>,
  !quant.uniform<ui8:f32, 1.0>,
  !quant.uniform<si8:f32, 1.0>,
  !quant.uniform<i8<-127:127>:f32, 0.5>,
  !quant.uniform<u4<1:15>:f32, 0.5:8>)

// Per-axis: affine, fixed point, mixed, on any axis.
// CHECK-LABEL: func.func private @per_axis
// CHECK-SAME: !quantx.uniform<u8:f32, axis = 1, offset = zero_point, scales = dense<[2.000000e+02, 9.987200e-01]> : tensor<2xf64>, offsets = dense<[-120, 127]> : tensor<2xi64>>
// CHECK-SAME: !quantx.uniform<i8:f32, axis = 1, scales = dense<[2.000000e+02, 9.987200e-01]> : tensor<2xf64>>
// CHECK-SAME: !quantx.uniform<i8:f32, axis = 2, scales = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00]> : tensor<3xf64>>
// CHECK-SAME: !quantx.uniform<i8<-127:127>:f32, axis = 0, scales = dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf64>>
func.func private @per_axis(
  !quant.uniform<u8:f32:1, {2.0e+2:-120,0.99872:127}>,
  !quant.uniform<i8:f32:1, {2.0e+2,0.99872}>,
  !quant.uniform<i8:f32:2, {1.0, 2.0, 3.0}>,
  !quant.uniform<i8<-127:127>:f32:0, {1.0, 2.0}>)

// Sub-channel, including the empty block list.
// CHECK-LABEL: func.func private @sub_channel
// CHECK-SAME: !quantx.uniform<u8:f32, blocks = {0 : 1, 1 : 2}, offset = zero_point
// CHECK-SAME: !quantx.uniform<u8:f32, blocks = {}, offset = zero_point
// CHECK-SAME: !quantx.uniform<i8:f32, blocks = {1 : 2, 0 : 8}, offset = zero_point
func.func private @sub_channel(
  !quant.uniform<u8:f32:{0:1, 1:2}, {{2.0:120,3.0:127}, {4.0,5.0}}>,
  !quant.uniform<u8:f32:{}, {{2.0:120,3.0:127}, {4.0,5.0}}>,
  !quant.uniform<i8:f32:{1:2, 0:8}, {{1.0, 2.0}, {3.0, 4.0}}>)

// The three casts on scalars, ranked, dynamic and unranked tensors.
// CHECK-LABEL: func.func @casts
// CHECK: quantx.dequantize %{{.*}} : !quantx.uniform<i8:f32, scale = 1.000000e+00> -> f32
// CHECK: quantx.dequantize %{{.*}} : tensor<2x?x4x!quantx.uniform<i8:f32, scale = 1.000000e+00>> -> tensor<2x?x4xf32>
// CHECK: quantx.dequantize %{{.*}} : tensor<*x!quantx.uniform<i8:f32, axis = 2
// CHECK: quantx.quantize %{{.*}} : f32 -> !quantx.uniform<i8:f32, scale = 1.000000e+00>
// CHECK: quantx.quantize %{{.*}} : tensor<?x?x?xf32> -> tensor<?x?x?x!quantx.uniform<i8:f32, axis = 2
// CHECK: quantx.scast %{{.*}} : i8 -> !quantx.uniform<i8:f32, scale = 1.000000e+00>
// CHECK: quantx.scast %{{.*}} : tensor<*x!quantx.uniform<i8:f32, scale = 1.000000e+00>> -> tensor<*xi8>
// CHECK: quantx.dequantize %{{.*}} : tensor<2x4x!quantx.uniform<u8:f32, blocks = {0 : 1, 1 : 2}
func.func @casts(%s: !quant.uniform<i8:f32, 1.0>, %t: tensor<2x?x4x!quant.uniform<i8:f32, 1.0>>,
                 %u: tensor<*x!quant.uniform<i8:f32:2, {1.0, 2.0, 3.0}>>, %f: f32, %d: tensor<?x?x?xf32>,
                 %i: i8, %ui: tensor<*x!quant.uniform<i8:f32, 1.0>>,
                 %sc: tensor<2x4x!quant.uniform<u8:f32:{0:1, 1:2}, {{2.0:120,3.0:127}, {4.0,5.0}}>>) {
  %0 = quant.dcast %s : !quant.uniform<i8:f32, 1.0> to f32
  %1 = quant.dcast %t : tensor<2x?x4x!quant.uniform<i8:f32, 1.0>> to tensor<2x?x4xf32>
  %2 = quant.dcast %u : tensor<*x!quant.uniform<i8:f32:2, {1.0, 2.0, 3.0}>> to tensor<*xf32>
  %3 = quant.qcast %f : f32 to !quant.uniform<i8:f32, 1.0>
  %4 = quant.qcast %d : tensor<?x?x?xf32> to tensor<?x?x?x!quant.uniform<i8:f32:2, {1.0, 2.0, 3.0}>>
  %5 = quant.scast %i : i8 to !quant.uniform<i8:f32, 1.0>
  %6 = quant.scast %ui : tensor<*x!quant.uniform<i8:f32, 1.0>> to tensor<*xi8>
  %7 = quant.dcast %sc : tensor<2x4x!quant.uniform<u8:f32:{0:1, 1:2}, {{2.0:120,3.0:127}, {4.0,5.0}}>> to tensor<2x4xf32>
  return
}
}
