// JIT execution of weight-only matmuls through the generated GEMV kernels
// (quantx-pack-weight-only inside -quantx-cpu-pipeline) against
// hand-computed results. Every value below is exact in f32.
// RUN: quantx-opt %s -quantx-cpu-pipeline | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils | FileCheck %s
// The generated kernels replace the matmuls (no scalar fallback).
// RUN: quantx-opt %s -quantx-pack-weight-only | FileCheck %s --check-prefix=IR
// IR-NOT: quantx.matmul
// IR-COUNT-3: func.func private @__quantx_wo_gemv

func.func private @printMemrefF32(memref<*xf32>) attributes {llvm.emit_c_interface}

func.func @pf(%t: tensor<2x2xf32>) {
  %m = bufferization.to_buffer %t : tensor<2x2xf32> to memref<2x2xf32>
  %u = memref.cast %m : memref<2x2xf32> to memref<*xf32>
  call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  return
}

!g = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 2}>
!z = !quantx.uniform<u4:f32, blocks = {0 : 1, 1 : 3}, offset = zero_point, scale_type = f16>
!m = !quantx.uniform<u8:f32, blocks = {0 : 1, 1 : 4}, offset = add_min>

func.func @main() {
  %a = arith.constant dense<[[1.0, 0.0, -1.0, 2.0], [0.5, 1.5, 0.0, 1.0]]> : tensor<2x4xf32>

  // Signed 4-bit, groups of 2: row 0 = [0.5, -1, 3, 0], row 1 =
  // [0.5, 0.5, -2, 8]: [[-2.5, 18.5], [-1.25, 9]].
  %gi = arith.constant dense<[[1, -2, 3, 0], [2, 2, -1, 4]]> : tensor<2x4xi4>
  %g = quantx.scast %gi : tensor<2x4xi4> -> tensor<2x4x!g>
  %gs = arith.constant dense<[[0.5, 1.0], [0.25, 2.0]]> : tensor<2x2xf32>
  %o = quantx.matmul %a, %g rhs_scale(%gs : tensor<2x2xf32>) {transpose_rhs} : tensor<2x4xf32>, tensor<2x4x!g> -> tensor<2x2xf32>
  // CHECK: [-2.5,   18.5]
  // CHECK-NEXT: [-1.25,   9]
  call @pf(%o) : (tensor<2x2xf32>) -> ()

  // Unsigned 4-bit with zero points and f16 scales, groups of 3 (a partial
  // last group of 1): row 0 = 0.5 * ([9, 7, 8] - 8), 2 * ([10] - 9)
  // = [0.5, -0.5, 0, 2]; row 1 = 1 * ([0, 15, 3] - 3), 0.25 * ([12] - 4)
  // = [-3, 12, 0, 2]: [[4.5, 1], [1.5, 18.5]].
  %zi = arith.constant dense<[[9, 7, 8, 10], [0, -1, 3, -4]]> : tensor<2x4xi4>
  %z = quantx.scast %zi : tensor<2x4xi4> -> tensor<2x4x!z>
  %zs = arith.constant dense<[[0.5, 2.0], [1.0, 0.25]]> : tensor<2x2xf16>
  %zz = arith.constant dense<[[8, 9], [3, 4]]> : tensor<2x2xi32>
  %zo = quantx.matmul %a, %z rhs_scale(%zs : tensor<2x2xf16>) rhs_offset(%zz : tensor<2x2xi32>) {transpose_rhs} : tensor<2x4xf32>, tensor<2x4x!z> -> tensor<2x2xf32>
  // CHECK: [4.5,   1]
  // CHECK-NEXT: [1.5,   18.5]
  call @pf(%zo) : (tensor<2x2xf32>) -> ()

  // Unsigned 8-bit with an added min, one group of 4: row 0 = 0.5 * [2,
  // 4, 6, 8] - 1 = [0, 1, 2, 3]; row 1 = 0.25 * [200, 0, 4, 8] + 0.5 =
  // [50.5, 0.5, 1.5, 2.5]: [[4, 54], [4.5, 28.5]].
  %mi = arith.constant dense<[[2, 4, 6, 8], [-56, 0, 4, 8]]> : tensor<2x4xi8>
  %mw = quantx.scast %mi : tensor<2x4xi8> -> tensor<2x4x!m>
  %ms = arith.constant dense<[[0.5], [0.25]]> : tensor<2x1xf32>
  %mm = arith.constant dense<[[-1.0], [0.5]]> : tensor<2x1xf32>
  %mo = quantx.matmul %a, %mw rhs_scale(%ms : tensor<2x1xf32>) rhs_offset(%mm : tensor<2x1xf32>) {transpose_rhs} : tensor<2x4xf32>, tensor<2x4x!m> -> tensor<2x2xf32>
  // CHECK: [4,   54]
  // CHECK-NEXT: [4.5,   28.5]
  call @pf(%mo) : (tensor<2x2xf32>) -> ()
  return
}
