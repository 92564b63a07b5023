// RUN: quantx-opt %s -pass-pipeline='builtin.module(quantx-cpu-gemm{mr=4 mc=10})' -verify-diagnostics

#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs = affine_map<(m, n, k) -> (k, n)>
#out = affine_map<(m, n, k) -> (m, n)>

// A cache block that is not a whole number of register tiles.
func.func @bad_tiles(%a: memref<16x30xf32>, %b: memref<30x50xf32>, %c: memref<16x50xf32>) {
  // expected-error @+1 {{quantx-cpu-gemm: tile sizes must satisfy}}
  linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<16x30xf32>, memref<30x50xf32>) outs(%c : memref<16x50xf32>) {
  ^bb0(%x: f32, %w: f32, %acc: f32):
    %0 = arith.mulf %x, %w : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}
