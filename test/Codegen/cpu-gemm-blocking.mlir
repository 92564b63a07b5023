// RUN: quantx-opt %s -pass-pipeline='builtin.module(quantx-cpu-gemm{target-features=+avx2,+fma l2-cache-bytes=65536})' | FileCheck %s --check-prefix=L2-64K
// RUN: quantx-opt %s -pass-pipeline='builtin.module(quantx-cpu-gemm{target-features=+avx2,+fma l2-cache-bytes=524288})' | FileCheck %s --check-prefix=L2-512K
// RUN: quantx-opt %s -pass-pipeline='builtin.module(quantx-cpu-gemm{target-features=+avx2,+fma l2-cache-bytes=524288 mc=96})' | FileCheck %s --check-prefix=FIXED

// The rows of a thread's output tile (MC) fill half of the L2 cache with
// packed lhs values: KC = 256 i16 values per row, so 64 rows for 64 KiB and
// 512 rows for 512 KiB (multiples of the 4-row register tile); the mc
// option overrides it.
// L2-64K: %[[MC:.*]] = arith.constant 64 : index
// L2-64K-NEXT: %[[NC:.*]] = arith.constant 256 : index
// L2-64K-NEXT: scf.parallel ({{.*}}) = ({{.*}}) to ({{.*}}) step (%[[MC]], %[[NC]])
// L2-512K: %[[MC:.*]] = arith.constant 512 : index
// L2-512K-NEXT: %[[NC:.*]] = arith.constant 256 : index
// L2-512K-NEXT: scf.parallel ({{.*}}) = ({{.*}}) to ({{.*}}) step (%[[MC]], %[[NC]])
// FIXED: %[[MC:.*]] = arith.constant 96 : index
// FIXED-NEXT: %[[NC:.*]] = arith.constant 256 : index
// FIXED-NEXT: scf.parallel ({{.*}}) = ({{.*}}) to ({{.*}}) step (%[[MC]], %[[NC]])
#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs = affine_map<(m, n, k) -> (k, n)>
#out = affine_map<(m, n, k) -> (m, n)>
func.func @blocks(%a: memref<1024x1024xi8>, %b: memref<1024x1024xi8>, %c: memref<1024x1024xi32>) {
  linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<1024x1024xi8>, memref<1024x1024xi8>) outs(%c : memref<1024x1024xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  }
  return
}
