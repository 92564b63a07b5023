// RUN: quantx-opt %s -split-input-file -pass-pipeline='builtin.module(quantx-cpu-gemm{target-features=+avx2,+fma})' | FileCheck %s
// RUN: quantx-opt %s -split-input-file -pass-pipeline='builtin.module(quantx-cpu-gemm{vector-bits=512 target-features=+avx512f})' | FileCheck %s

// 255 rows (a language model's window): no multiple of the 6- or 8-row
// tile, but of 5, so the kernel uses 5-row tiles and accumulates in the
// output itself; only the packed operands are allocated.
// CHECK-LABEL: func.func @rows255
// CHECK-COUNT-2: memref.alloc({{.*}}) {alignment = 64 : i64} : memref<?xf32>
// CHECK-NOT: memref<?x?xf32>
func.func @rows255(%a: memref<255x16xf32>, %b: memref<16x32xf32>, %c: memref<255x32xf32>) {
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<255x16xf32>, memref<16x32xf32>) outs(%c : memref<255x32xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// 251 rows (a prime): no tile of 3 or more rows divides it, so the
// accumulator is a zero-padded copy of the output.
// CHECK-LABEL: func.func @rows251
// CHECK: memref.alloc({{.*}}) {alignment = 64 : i64} : memref<?x?xf32>
func.func @rows251(%a: memref<251x16xf32>, %b: memref<16x32xf32>, %c: memref<251x32xf32>) {
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<251x16xf32>, memref<16x32xf32>) outs(%c : memref<251x32xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}
