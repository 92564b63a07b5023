// JIT execution of quantx.matmul lowerings against hand-computed results:
// int32 accumulation with zero points and per-channel weights, every
// epilogue, and a weight-only grouped matmul.
// RUN: quantx-opt %s -quantx-cpu-pipeline | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils | FileCheck %s

func.func private @printMemrefI32(memref<*xi32>) attributes {llvm.emit_c_interface}
func.func private @printMemrefF32(memref<*xf32>) attributes {llvm.emit_c_interface}

func.func @pi(%t: tensor<2x2xi32>) {
  %m = bufferization.to_buffer %t : tensor<2x2xi32> to memref<2x2xi32>
  %u = memref.cast %m : memref<2x2xi32> to memref<*xi32>
  call @printMemrefI32(%u) : (memref<*xi32>) -> ()
  return
}
func.func @pf(%t: tensor<2x2xf32>) {
  %m = bufferization.to_buffer %t : tensor<2x2xf32> to memref<2x2xf32>
  %u = memref.cast %m : memref<2x2xf32> to memref<*xf32>
  call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  return
}

!x = !quantx.uniform<u8:f32, scale = 0.5, zero_point = 2>
!w = !quantx.uniform<i8:f32, axis = 0, scales = dense<[0.25, 1.0]> : tensor<2xf64>>
!y = !quantx.uniform<u8:f32, scale = 0.25, zero_point = 10>
!g = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 2}>

func.func @main() {
  %xi = arith.constant dense<[[4, 2, 0], [3, 5, 2]]> : tensor<2x3xi8>
  %x = quantx.scast %xi : tensor<2x3xi8> -> tensor<2x3x!x>
  %wi = arith.constant dense<[[2, -1, 3], [1, 1, -2]]> : tensor<2x3xi8>
  %w = quantx.scast %wi : tensor<2x3xi8> -> tensor<2x3x!w>
  %b = arith.constant dense<[4, -1]> : tensor<2xi32>

  // acc = sum_k (x - 2) * w: [[-2, 6], [-1, 4]].
  %acc = quantx.matmul %x, %w {transpose_rhs} : tensor<2x3x!x>, tensor<2x3x!w> -> tensor<2x2xi32>
  // CHECK: [-2,   6]
  // CHECK: [-1,   4]
  call @pi(%acc) : (tensor<2x2xi32>) -> ()

  // (acc + bias) * 0.5 * [0.125 / 0.5 ...]: scales 0.5*0.25 and 0.5*1.
  %f = quantx.matmul %x, %w bias(%b : tensor<2xi32>) {transpose_rhs} : tensor<2x3x!x>, tensor<2x3x!w> -> tensor<2x2xf32>
  // CHECK: [0.25,   2.5]
  // CHECK: [0.375,   1.5]
  call @pf(%f) : (tensor<2x2xf32>) -> ()

  // ReLU on the scaled sum without bias: [[-0.25, 3], [-0.125, 2]].
  %r = quantx.matmul %x, %w {relu, transpose_rhs} : tensor<2x3x!x>, tensor<2x3x!w> -> tensor<2x2xf32>
  // CHECK: [0,   3]
  // CHECK: [0,   2]
  call @pf(%r) : (tensor<2x2xf32>) -> ()

  // Requantized: roundeven(y / 0.25) + 10 -> [[11, 20], [12, 16]].
  %q = quantx.matmul %x, %w bias(%b : tensor<2xi32>) {relu, transpose_rhs} : tensor<2x3x!x>, tensor<2x3x!w> -> tensor<2x2x!y>
  %qi = quantx.scast %q : tensor<2x2x!y> -> tensor<2x2xi8>
  %qw = arith.extui %qi : tensor<2x2xi8> to tensor<2x2xi32>
  // CHECK: [11,   20]
  // CHECK: [12,   16]
  call @pi(%qw) : (tensor<2x2xi32>) -> ()

  // Weight-only: float activations times grouped 4-bit weights (groups of 2
  // along K) plus a float bias: [[-1.5, 18], [-0.25, 8.5]].
  %a = arith.constant dense<[[1.0, 0.0, -1.0, 2.0], [0.5, 1.5, 0.0, 1.0]]> : tensor<2x4xf32>
  %gi = arith.constant dense<[[1, -2, 3, 0], [2, 2, -1, 4]]> : tensor<2x4xi4>
  %g = quantx.scast %gi : tensor<2x4xi4> -> tensor<2x4x!g>
  %gs = arith.constant dense<[[0.5, 1.0], [0.25, 2.0]]> : tensor<2x2xf32>
  %bf = arith.constant dense<[1.0, -0.5]> : tensor<2xf32>
  %o = quantx.matmul %a, %g bias(%bf : tensor<2xf32>) rhs_scale(%gs : tensor<2x2xf32>) {transpose_rhs} : tensor<2x4xf32>, tensor<2x4x!g> -> tensor<2x2xf32>
  // CHECK: [-1.5,   18]
  // CHECK: [-0.25,   8.5]
  call @pf(%o) : (tensor<2x2xf32>) -> ()
  return
}
