// RUN: quantx-opt %s -pass-pipeline='builtin.module(quantx-cpu-gemm{target-features=+avx2,+fma})' | FileCheck %s --check-prefix=SMALL
// RUN: quantx-opt %s -pass-pipeline='builtin.module(quantx-cpu-gemm{min-parallel-work=0 target-features=+avx2,+fma})' | FileCheck %s --check-prefix=LARGE

// A batched product (linalg.batch_matmul generalized; here attention's
// Q K^T, whose rhs is read as (b, n, k)) becomes a loop over the batch of
// 2-D products on rank-reduced views of each batch element, which are
// then generated as GEMMs. Each product of 13 x 21 x 37 is too small to
// run in parallel (default min-parallel-work), so the batch loop is the
// parallel one; with min-parallel-work=0 the products are parallel and the
// batch loop sequential.
// SMALL-LABEL: func.func @attention_scores
// SMALL: scf.parallel (%[[B:.*]]) = (%{{.*}}) to (%{{.*}}) step (%{{.*}}) {
// SMALL: memref.subview %{{.*}}[%[[B]], 0, 0] [1, 13, 37] [1, 1, 1] : memref<4x13x37xf32> to memref<13x37xf32, strided<[37, 1], offset: ?>>
// SMALL: memref.subview %{{.*}}[%[[B]], 0, 0] [1, 21, 37] [1, 1, 1] : memref<4x21x37xf32> to memref<21x37xf32, strided<[37, 1], offset: ?>>
// SMALL: memref.subview %{{.*}}[%[[B]], 0, 0] [1, 13, 21] [1, 1, 1] : memref<4x13x21xf32> to memref<13x21xf32, strided<[21, 1], offset: ?>>
// SMALL-NOT: scf.parallel
// SMALL: vector.fma
// SMALL-NOT: linalg.generic
// LARGE-LABEL: func.func @attention_scores
// LARGE: scf.for %[[B:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// LARGE: memref.subview %{{.*}}[%[[B]], 0, 0] [1, 13, 37]
// LARGE: scf.parallel
// LARGE: vector.fma
// LARGE-NOT: linalg.generic
func.func @attention_scores(%q: memref<4x13x37xf32>, %k: memref<4x21x37xf32>, %s: memref<4x13x21xf32>) {
  linalg.generic {indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, n, k)>, affine_map<(b, m, n, k) -> (b, m, n)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : memref<4x13x37xf32>, memref<4x21x37xf32>) outs(%s : memref<4x13x21xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %a = arith.addf %acc, %p : f32
    linalg.yield %a : f32
  }
  return
}

// A 4-loop generic whose output is not indexed (b, m, n), or whose operand
// reads the batch dimension elsewhere than first, is not a batched product.
// SMALL-LABEL: func.func @not_batched
// SMALL: linalg.generic
// LARGE-LABEL: func.func @not_batched
// SMALL-NOT: memref.subview
func.func @not_batched(%q: memref<4x13x37xf32>, %k: memref<21x4x37xf32>, %s: memref<4x13x21xf32>) {
  linalg.generic {indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (n, b, k)>, affine_map<(b, m, n, k) -> (b, m, n)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : memref<4x13x37xf32>, memref<21x4x37xf32>) outs(%s : memref<4x13x21xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %a = arith.addf %acc, %p : f32
    linalg.yield %a : f32
  }
  return
}

// A batched reduction that is not a product (softmax's row maximum) is
// left alone.
// SMALL-LABEL: func.func @row_maximum
// SMALL: linalg.generic
// SMALL-NOT: memref.subview
// LARGE-LABEL: func.func @row_maximum
func.func @row_maximum(%x: memref<2x4x13x21xf32>, %m: memref<2x4x13xf32>) {
  linalg.generic {indexing_maps = [affine_map<(b, h, r, k) -> (b, h, r, k)>, affine_map<(b, h, r, k) -> (b, h, r)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x : memref<2x4x13x21xf32>) outs(%m : memref<2x4x13xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %a = arith.maximumf %acc, %v : f32
    linalg.yield %a : f32
  }
  return
}
