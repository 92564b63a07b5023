// Tiny and empty contractions through the generated GEMM kernels (row
// threshold lowered to 0), on this machine's instructions, on the portable
// vector form a CPU without AVX2 gets, and through the scalar lowering:
// the same printed results.
// REQUIRES: openmp
// RUN: quantx-opt %s -quantx-cpu-pipeline="gemm-min-rows=0" | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils,%openmp_lib | FileCheck %s
// RUN: quantx-opt %s -quantx-cpu-pipeline="gemm-min-rows=0 target-features=+sse4.2" | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils,%openmp_lib | FileCheck %s
// RUN: quantx-opt %s -quantx-cpu-pipeline="gemm=false" | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils | FileCheck %s

func.func private @printMemrefI32(memref<*xi32>) attributes {llvm.emit_c_interface}
func.func private @printMemrefF32(memref<*xf32>) attributes {llvm.emit_c_interface}

func.func @pi(%t: tensor<?x?xi32>) {
  %m = bufferization.to_buffer %t : tensor<?x?xi32> to memref<?x?xi32>
  %u = memref.cast %m : memref<?x?xi32> to memref<*xi32>
  call @printMemrefI32(%u) : (memref<*xi32>) -> ()
  return
}

!x = !quantx.uniform<u8:f32, scale = 0.5, zero_point = 2>
!w = !quantx.uniform<i8:f32, axis = 0, scales = dense<[0.25, 1.0]> : tensor<2xf64>>
!s = !quantx.uniform<i8:f32, scale = 1.0>

func.func @main() {
  // 1x1x1: (7 - 0) * (-3) = -21.
  %a1 = arith.constant dense<[[7]]> : tensor<1x1xi8>
  %b1 = arith.constant dense<[[-3]]> : tensor<1x1xi8>
  %x1 = quantx.scast %a1 : tensor<1x1xi8> -> tensor<1x1x!s>
  %w1 = quantx.scast %b1 : tensor<1x1xi8> -> tensor<1x1x!s>
  %r1 = quantx.matmul %x1, %w1 : tensor<1x1x!s>, tensor<1x1x!s> -> tensor<1x1xi32>
  %c1 = tensor.cast %r1 : tensor<1x1xi32> to tensor<?x?xi32>
  // CHECK: sizes = [1, 1]
  // CHECK-NEXT: [-21]
  call @pi(%c1) : (tensor<?x?xi32>) -> ()

  // 2x3x2 with a zero point on the lhs: sum_k (x - 2) * w.
  %xi = arith.constant dense<[[4, 2, 0], [3, 5, 2]]> : tensor<2x3xi8>
  %x = quantx.scast %xi : tensor<2x3xi8> -> tensor<2x3x!x>
  %wi = arith.constant dense<[[2, -1, 3], [1, 1, -2]]> : tensor<2x3xi8>
  %w = quantx.scast %wi : tensor<2x3xi8> -> tensor<2x3x!w>
  %acc = quantx.matmul %x, %w {transpose_rhs} : tensor<2x3x!x>, tensor<2x3x!w> -> tensor<2x2xi32>
  %c2 = tensor.cast %acc : tensor<2x2xi32> to tensor<?x?xi32>
  // CHECK: sizes = [2, 2]
  // CHECK-NEXT: [-2,   6]
  // CHECK-NEXT: [-1,   4]
  call @pi(%c2) : (tensor<?x?xi32>) -> ()

  // K = 0: the empty sum plus the bias.
  %a0 = arith.constant dense<> : tensor<2x0xi8>
  %b0 = arith.constant dense<> : tensor<0x3xi8>
  %bias = arith.constant dense<[5, -6, 7]> : tensor<3xi32>
  %x0 = quantx.scast %a0 : tensor<2x0xi8> -> tensor<2x0x!s>
  %w0 = quantx.scast %b0 : tensor<0x3xi8> -> tensor<0x3x!s>
  %r0 = quantx.matmul %x0, %w0 bias(%bias : tensor<3xi32>) : tensor<2x0x!s>, tensor<0x3x!s> -> tensor<2x3xi32>
  %c0 = tensor.cast %r0 : tensor<2x3xi32> to tensor<?x?xi32>
  // CHECK: sizes = [2, 3]
  // CHECK-NEXT: [5,   -6,   7]
  // CHECK-NEXT: [5,   -6,   7]
  call @pi(%c0) : (tensor<?x?xi32>) -> ()

  // M = 0: an empty result.
  %am = arith.constant dense<> : tensor<0x4xi8>
  %bm = arith.constant dense<1> : tensor<4x3xi8>
  %xm = quantx.scast %am : tensor<0x4xi8> -> tensor<0x4x!s>
  %wm = quantx.scast %bm : tensor<4x3xi8> -> tensor<4x3x!s>
  %rm = quantx.matmul %xm, %wm : tensor<0x4x!s>, tensor<4x3x!s> -> tensor<0x3xi32>
  %cm = tensor.cast %rm : tensor<0x3xi32> to tensor<?x?xi32>
  // CHECK: sizes = [0, 3]
  call @pi(%cm) : (tensor<?x?xi32>) -> ()

  // f32 3x2x2.
  %fa = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [-1.0, 0.5]]> : tensor<3x2xf32>
  %fb = arith.constant dense<[[0.5, -1.0], [2.0, 0.25]]> : tensor<2x2xf32>
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %fc = linalg.fill ins(%z : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %fr = linalg.matmul ins(%fa, %fb : tensor<3x2xf32>, tensor<2x2xf32>) outs(%fc : tensor<3x2xf32>) -> tensor<3x2xf32>
  %fm = bufferization.to_buffer %fr : tensor<3x2xf32> to memref<3x2xf32>
  %fu = memref.cast %fm : memref<3x2xf32> to memref<*xf32>
  // CHECK: sizes = [3, 2]
  // CHECK-NEXT: [4.5,   -0.5]
  // CHECK-NEXT: [9.5,   -2]
  // CHECK-NEXT: [0.5,   1.125]
  call @printMemrefF32(%fu) : (memref<*xf32>) -> ()
  return
}
