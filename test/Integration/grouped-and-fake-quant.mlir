// JIT execution of grouped (dynamic, per-block) quantization, requantize
// and fake_quant against hand-computed results.
// RUN: quantx-opt %s -quantx-cpu-pipeline | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils | FileCheck %s

func.func private @printMemrefI32(memref<*xi32>) attributes {llvm.emit_c_interface}
func.func private @printMemrefF32(memref<*xf32>) attributes {llvm.emit_c_interface}

!g = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 2}, scale_type = f16>
!asym = !quantx.uniform<u4:f32, axis = 0, offset = zero_point>

func.func @main() {
  // 2x4 data, blocks of 2 along rows: scales [[1, 0.5], [2, 4]] (fp16).
  // Row 0: 3/1 = 3, -9/1 -> -8 (saturated), 1.25/0.5 = 2.5 -> 2, 0.25/0.5
  // = 0.5 -> 0. Row 1: 5/2 = 2.5 -> 2, -5/2 -> -2, 100/4 -> 7 (saturated),
  // -2/4 = -0.5 -> -0.
  %x = arith.constant dense<[[3.0, -9.0, 1.25, 0.25], [5.0, -5.0, 100.0, -2.0]]> : tensor<2x4xf32>
  %s = arith.constant dense<[[1.0, 0.5], [2.0, 4.0]]> : tensor<2x2xf16>
  %q = quantx.quantize %x scale(%s : tensor<2x2xf16>) : tensor<2x4xf32> -> tensor<2x4x!g>
  %qi = quantx.scast %q : tensor<2x4x!g> -> tensor<2x4xi4>
  %qw = arith.extsi %qi : tensor<2x4xi4> to tensor<2x4xi32>
  %m = bufferization.to_buffer %qw : tensor<2x4xi32> to memref<2x4xi32>
  %u = memref.cast %m : memref<2x4xi32> to memref<*xi32>
  // CHECK: [3,   -8,   2,   0]
  // CHECK: [2,   -2,   7,   0]
  call @printMemrefI32(%u) : (memref<*xi32>) -> ()

  // Dequantized: s * q.
  %d = quantx.dequantize %q scale(%s : tensor<2x2xf16>) : tensor<2x4x!g> -> tensor<2x4xf32>
  %dm = bufferization.to_buffer %d : tensor<2x4xf32> to memref<2x4xf32>
  %du = memref.cast %dm : memref<2x4xf32> to memref<*xf32>
  // CHECK: [3,   -8,   1,   0]
  // CHECK: [4,   -4,   28,   0]
  call @printMemrefF32(%du) : (memref<*xf32>) -> ()

  // Requantize to per-row asymmetric u4 with scales [2, 8] and zero points
  // [8, 3]: row 0: round(3/2)+8 = 10, round(-8/2)+8 = 4, round(1/2)+8 = 8,
  // 8; row 1: round(4/8)+3 = 3, round(-4/8)+3 = 3, round(28/8)+3 = 7, 3.
  %rs = arith.constant dense<[2.0, 8.0]> : tensor<2xf32>
  %rz = arith.constant dense<[8, 3]> : tensor<2xi32>
  %r = quantx.requantize %q input_scale(%s : tensor<2x2xf16>) scale(%rs : tensor<2xf32>) offset(%rz : tensor<2xi32>) : tensor<2x4x!g> -> tensor<2x4x!asym>
  %ri = quantx.scast %r : tensor<2x4x!asym> -> tensor<2x4xi4>
  %rw = arith.extui %ri : tensor<2x4xi4> to tensor<2x4xi32>
  %rm = bufferization.to_buffer %rw : tensor<2x4xi32> to memref<2x4xi32>
  %ru = memref.cast %rm : memref<2x4xi32> to memref<*xi32>
  // CHECK: [10,   4,   8,   8]
  // CHECK: [3,   3,   7,   3]
  call @printMemrefI32(%ru) : (memref<*xi32>) -> ()

  // fake_quant with a learnable scale 0.5 and zero point 2.6 (rounded to 3)
  // on u4 [0, 15]: x = 1.3 -> round(2.6)+3 = 6 -> (6-3)*0.5 = 1.5;
  // x = -5 -> clamp(-10+3) = 0 -> -1.5; x = 10 -> clamp(23) = 15 -> 6.
  %fx = arith.constant dense<[1.3, -5.0, 10.0]> : tensor<3xf32>
  %fs = arith.constant dense<0.5> : tensor<f32>
  %fz = arith.constant dense<2.6> : tensor<f32>
  %f = quantx.fake_quant %fx scale(%fs : tensor<f32>) offset(%fz : tensor<f32>) {qtype = !quantx.uniform<u4:f32, offset = zero_point>} : tensor<3xf32>
  %fm = bufferization.to_buffer %f : tensor<3xf32> to memref<3xf32>
  %fu = memref.cast %fm : memref<3xf32> to memref<*xf32>
  // CHECK: [1.5,  -1.5,  6]
  call @printMemrefF32(%fu) : (memref<*xf32>) -> ()
  return
}
