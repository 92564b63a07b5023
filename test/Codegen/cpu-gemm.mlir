// RUN: quantx-opt %s -split-input-file -pass-pipeline='builtin.module(quantx-cpu-gemm{min-parallel-work=0 target-features=+avx2,+fma})' | FileCheck %s --check-prefixes=CHECK,AVX2,I16
// RUN: quantx-opt %s -split-input-file -pass-pipeline='builtin.module(quantx-cpu-gemm{min-parallel-work=0 target-features=+avx2,+fma,+avxvnni})' | FileCheck %s --check-prefixes=CHECK,VNNI
// RUN: quantx-opt %s -split-input-file -pass-pipeline='builtin.module(quantx-cpu-gemm{min-parallel-work=0 vector-bits=256 target-features=+avx512f,+avx512vl,+avx512vnni})' | FileCheck %s --check-prefixes=CHECK,VNNI
// RUN: quantx-opt %s -split-input-file -pass-pipeline='builtin.module(quantx-cpu-gemm{min-parallel-work=0 target-features=+sse4.2})' | FileCheck %s --check-prefixes=CHECK,SSE,I16

#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs = affine_map<(m, n, k) -> (k, n)>
#rhsT = affine_map<(m, n, k) -> (n, k)>
#out = affine_map<(m, n, k) -> (m, n)>

// Signed int8 times signed int8 with a zero point on the lhs: X = a - 3 is
// in [-131, 124], too wide for the u8 operand of vpdpbusd. Without VNNI the
// int16-pair form packs a - 3. VNNI targets pack a + 128 (as for signed
// int8) and subtract (128 + 3) times Y's column sums, as for a zero point
// known only at run time.
// CHECK-LABEL: func.func @int8_zero_point
// I16: memref.alloc({{.*}}) {alignment = 64 : i64} : memref<?xi16>
// I16: scf.parallel
// I16: arith.subi
// I16: arith.trunci {{.*}} : i32 to i16
// I16: scf.parallel
// I16: scf.parallel {{.*}} step (%{{.*}}, %{{.*}})
// I16: scf.for
// I16: vector.load {{.*}} : memref<?xi16>, vector<16xi16>
// I16: vector.shuffle {{.*}} [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1] : vector<2xi16>, vector<2xi16>
// VNNI: %[[ZP:.*]] = arith.constant 3 : i32
// VNNI: memref.alloc({{.*}}) {alignment = 64 : i64} : memref<?xi8>
// VNNI-NOT: memref<?xi16>
// VNNI: arith.addi %{{.*}}, %[[ZP]] : i32
// VNNI: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.{{256|512}}"
// AVX2: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"({{.*}}) : (vector<16xi16>, vector<16xi16>) -> vector<8xi32>
// VNNI-NOT: llvm.x86.avx2.pmadd.wd
// SSE-NOT: llvm.call_intrinsic
// SSE: arith.muli {{.*}} : vector<16xi32>
// SSE: vector.shuffle {{.*}} [0, 2, 4, 6, 8, 10, 12, 14]
// CHECK: vector.store {{.*}} : memref<?x?xi32>, vector<8xi32>
// CHECK: memref.dealloc
// CHECK-NOT: linalg.generic
func.func @int8_zero_point(%a: memref<13x37xi8>, %b: memref<37x21xi8>, %c: memref<13x21xi32>) {
  %zp = arith.constant 3 : i32
  linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<13x37xi8>, memref<37x21xi8>) outs(%c : memref<13x21xi32>) {
  ^bb0(%x: i8, %w: i8, %acc: i32):
    %0 = arith.extsi %x : i8 to i32
    %1 = arith.subi %0, %zp : i32
    %2 = arith.extsi %w : i8 to i32
    %3 = arith.muli %1, %2 : i32
    %4 = arith.addi %acc, %3 : i32
    linalg.yield %4 : i32
  }
  return
}

// -----

#lhs = affine_map<(m, n, k) -> (m, k)>
#rhsT = affine_map<(m, n, k) -> (n, k)>
#out = affine_map<(m, n, k) -> (m, n)>

// Symmetric int8 with a transposed rhs, tile-aligned: accumulates in place.
// VNNI targets use vpdpbusd on u8 quadruples: X + 128, corrected by
// -128 * (column sums of Y) in the accumulator before the product.
// CHECK-LABEL: func.func @int8_symmetric
// AVX2: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"
// VNNI: memref.alloc({{.*}}) {alignment = 64 : i64} : memref<?xi8>
// VNNI: arith.constant 128 : i32
// VNNI: arith.muli
// VNNI: arith.subi
// VNNI: vector.load {{.*}} : memref<?xi8>, vector<32xi8>
// VNNI: vector.shuffle {{.*}} [0, 1, 2, 3, 0, 1, 2, 3,
// VNNI: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"({{.*}}) : (vector<8xi32>, vector<32xi8>, vector<32xi8>) -> vector<8xi32>
// CHECK: vector.store {{.*}}, %arg2[{{.*}}] : memref<96x64xi32>, vector<8xi32>
// CHECK-NOT: linalg.generic
func.func @int8_symmetric(%a: memref<96x256xi8>, %b: memref<64x256xi8>, %c: memref<96x64xi32>) {
  linalg.generic {indexing_maps = [#lhs, #rhsT, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<96x256xi8>, memref<64x256xi8>) outs(%c : memref<96x64xi32>) {
  ^bb0(%x: i8, %w: i8, %acc: i32):
    %0 = arith.extsi %x : i8 to i32
    %1 = arith.extsi %w : i8 to i32
    %2 = arith.muli %0, %1 : i32
    %3 = arith.addi %acc, %2 : i32
    linalg.yield %3 : i32
  }
  return
}

// -----

#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs = affine_map<(m, n, k) -> (k, n)>
#out = affine_map<(m, n, k) -> (m, n)>
#col = affine_map<(m, n, k) -> (n)>

// Unsigned activations (X in [0, 255]) and per-column rhs zero points read
// from a third input while packing Y: vpdpbusd needs no bias, but Y = w - z
// is in [-255, 255], so only the int16 form applies.
// CHECK-LABEL: func.func @uint8_per_column_zero_points
// CHECK: memref.load %arg2
// VNNI-NOT: vpdpbusd
// VNNI: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"
// AVX2: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"
func.func @uint8_per_column_zero_points(%a: memref<?x?xi8>, %b: memref<?x?xi8>, %z: memref<?xi8>, %c: memref<?x?xi32>) {
  linalg.generic {indexing_maps = [#lhs, #rhs, #col, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b, %z : memref<?x?xi8>, memref<?x?xi8>, memref<?xi8>) outs(%c : memref<?x?xi32>) {
  ^bb0(%x: i8, %w: i8, %zw: i8, %acc: i32):
    %0 = arith.extui %x : i8 to i32
    %1 = arith.extsi %w : i8 to i32
    %2 = arith.extsi %zw : i8 to i32
    %3 = arith.subi %1, %2 : i32
    %4 = arith.muli %0, %3 : i32
    %5 = arith.addi %acc, %4 : i32
    linalg.yield %5 : i32
  }
  return
}

// -----

#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs = affine_map<(m, n, k) -> (k, n)>
#out = affine_map<(m, n, k) -> (m, n)>

// f32: broadcast lhs scalars times rhs vectors with vector.fma, on every
// target.
// CHECK-LABEL: func.func @f32
// CHECK: memref.alloc({{.*}}) {alignment = 64 : i64} : memref<?xf32>
// CHECK: memref.load {{.*}} : memref<?xf32>
// CHECK: vector.broadcast {{.*}} : f32 to vector<8xf32>
// CHECK: vector.fma {{.*}} : vector<8xf32>
// CHECK-NOT: llvm.call_intrinsic
// CHECK-NOT: linalg.generic
func.func @f32(%a: memref<100x30xf32>, %b: memref<30x50xf32>, %c: memref<100x50xf32>) {
  linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<100x30xf32>, memref<30x50xf32>) outs(%c : memref<100x50xf32>) {
  ^bb0(%x: f32, %w: f32, %acc: f32):
    %0 = arith.mulf %x, %w : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs = affine_map<(m, n, k) -> (k, n)>
#out = affine_map<(m, n, k) -> (m, n)>

// Fewer static rows than min-rows (1 by default: no rows at all): left
// alone.
// CHECK-LABEL: func.func @negative_few_rows
// CHECK: linalg.generic
func.func @negative_few_rows(%a: memref<0x30xf32>, %b: memref<30x50xf32>, %c: memref<0x50xf32>) {
  linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<0x30xf32>, memref<30x50xf32>) outs(%c : memref<0x50xf32>) {
  ^bb0(%x: f32, %w: f32, %acc: f32):
    %0 = arith.mulf %x, %w : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs = affine_map<(m, n, k) -> (k, n)>
#out = affine_map<(m, n, k) -> (m, n)>

// i32 operands: no bound proves the int16 products exact: left alone.
// CHECK-LABEL: func.func @negative_wide_integers
// CHECK: linalg.generic
func.func @negative_wide_integers(%a: memref<16x30xi32>, %b: memref<30x50xi32>, %c: memref<16x50xi32>) {
  linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<16x30xi32>, memref<30x50xi32>) outs(%c : memref<16x50xi32>) {
  ^bb0(%x: i32, %w: i32, %acc: i32):
    %0 = arith.muli %x, %w : i32
    %1 = arith.addi %acc, %0 : i32
    linalg.yield %1 : i32
  }
  return
}

// -----

#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs = affine_map<(m, n, k) -> (k, n)>
#out = affine_map<(m, n, k) -> (m, n)>

// A factor that depends on both m and n is not a matrix product.
// CHECK-LABEL: func.func @negative_not_separable
// CHECK: linalg.generic
func.func @negative_not_separable(%a: memref<16x30xf32>, %b: memref<30x50xf32>, %c: memref<16x50xf32>) {
  linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<16x30xf32>, memref<30x50xf32>) outs(%c : memref<16x50xf32>) {
  ^bb0(%x: f32, %w: f32, %acc: f32):
    %0 = arith.addf %x, %w : f32
    %1 = arith.mulf %0, %w : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  }
  return
}

// -----

#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs = affine_map<(m, n, k) -> (k, n)>
#out = affine_map<(m, n, k) -> (m, n)>

// A max reduction is not a sum of products.
// CHECK-LABEL: func.func @negative_max_reduction
// CHECK: linalg.generic
func.func @negative_max_reduction(%a: memref<16x30xf32>, %b: memref<30x50xf32>, %c: memref<16x50xf32>) {
  linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<16x30xf32>, memref<30x50xf32>) outs(%c : memref<16x50xf32>) {
  ^bb0(%x: f32, %w: f32, %acc: f32):
    %0 = arith.mulf %x, %w : f32
    %1 = arith.maximumf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs = affine_map<(m, n, k) -> (k, n)>
#out = affine_map<(m, n, k) -> (m, n)>

// Constant weights are packed at compile time into a new constant global
// (i16 pairs [k / 2][n][k % 2] for vpmaddwd and the portable form; for
// vpdpbusd, bytes [k / 4][n][k % 4] with k padded to 8 by zeros, and the
// column sums 96 + 4 n for the +128 bias of the signed lhs); calls pack only
// the lhs, and the dead read of the original weights is erased (the
// pipeline's symbol-dce then drops them).
// CHECK-DAG: memref.global "private" constant @w : memref<4x16xi8>
// AVX2-DAG: memref.global "private" constant @__quantx_packed_rhs : memref<64xi16> = dense<[0, 16, 1, 17, 2, 18, {{.*}}, 47, 63]> {alignment = 64 : i64}
// SSE-DAG: memref.global "private" constant @__quantx_packed_rhs : memref<64xi16> = dense<[0, 16, 1, 17, 2, 18,
// VNNI-DAG: memref.global "private" constant @__quantx_packed_rhs : memref<128xi8> = dense<"0x00102030011121310212223203132333{{.*}}0F1F2F3F00000000{{(00000000)+}}"> {alignment = 64 : i64}
// VNNI-DAG: memref.global "private" constant @__quantx_packed_rhs_sums : memref<16xi32> = dense<[96, 100, 104, 108,
// AVX2-NOT: @__quantx_packed_rhs_sums
// CHECK-LABEL: func.func @constant_weights
// CHECK-NOT: memref.get_global @w :
// CHECK: memref.get_global @__quantx_packed_rhs :
// CHECK: scf.parallel
// CHECK-NOT: memref.dealloc %{{.*}} : memref<64xi16>
// CHECK-NOT: linalg.generic
memref.global "private" constant @w : memref<4x16xi8> = dense<[[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], [16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31], [32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47], [48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63]]>
func.func @constant_weights(%a: memref<8x4xi8>, %c: memref<8x16xi32>) {
  %w = memref.get_global @w : memref<4x16xi8>
  linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w : memref<8x4xi8>, memref<4x16xi8>) outs(%c : memref<8x16xi32>) {
  ^bb0(%x: i8, %v: i8, %acc: i32):
    %0 = arith.extsi %x : i8 to i32
    %1 = arith.extsi %v : i8 to i32
    %2 = arith.muli %0, %1 : i32
    %3 = arith.addi %acc, %2 : i32
    linalg.yield %3 : i32
  }
  return
}

// -----

#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs = affine_map<(m, n, k) -> (k, n)>
#out = affine_map<(m, n, k) -> (m, n)>
#scalar = affine_map<(m, n, k) -> ()>

// A dynamic lhs zero point (0-d input, range unknown): X = a - z is packed
// as a (u8, so VNNI applies without bias) and the accumulator starts from
// acc - z * (column sums of Y), the sums computed at compile time here.
// CHECK-DAG: memref.global "private" constant @__quantx_packed_rhs_sums : memref<16xi32> = dense<[96, 100, 104, 108,
// CHECK-LABEL: func.func @dynamic_zero_point
// CHECK: scf.parallel
// CHECK: arith.extui
// CHECK-NOT: arith.subi {{.*}} : i32
// CHECK: %[[Z:.*]] = memref.load %arg1[] : memref<i32>
// CHECK: %[[S:.*]] = arith.addi %{{.*}}, %[[Z]] : i32
// CHECK: scf.parallel
// CHECK: memref.load %{{.*}} : memref<16xi32>
// CHECK: arith.muli %{{.*}}, %[[S]] : i32
// CHECK: arith.subi
// AVX2: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"
// VNNI: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"
// CHECK-NOT: linalg.generic
memref.global "private" constant @w : memref<4x16xi8> = dense<[[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], [16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31], [32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47], [48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63]]>
func.func @dynamic_zero_point(%a: memref<8x4xi8>, %z: memref<i32>, %c: memref<8x16xi32>) {
  %w = memref.get_global @w : memref<4x16xi8>
  linalg.generic {indexing_maps = [#lhs, #rhs, #scalar, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w, %z : memref<8x4xi8>, memref<4x16xi8>, memref<i32>) outs(%c : memref<8x16xi32>) {
  ^bb0(%x: i8, %v: i8, %zp: i32, %acc: i32):
    %0 = arith.extui %x : i8 to i32
    %1 = arith.subi %0, %zp : i32
    %2 = arith.extsi %v : i8 to i32
    %3 = arith.muli %1, %2 : i32
    %4 = arith.addi %acc, %3 : i32
    linalg.yield %4 : i32
  }
  return
}

// -----

#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs = affine_map<(m, n, k) -> (k, n)>
#out = affine_map<(m, n, k) -> (m, n)>
#fill = affine_map<(m, n) -> ()>
#id = affine_map<(m, n) -> (m, n)>

// A run-time rhs read contiguously along n, whole column tiles (32 = 2 x
// 16): each k pair of a tile is two vector loads, evaluated on vectors,
// interleaved by one shuffle and stored (zeros past K = 9, no zero fill of
// the packed buffer). The output's fill with zero is dropped: the first k
// block starts from zero accumulators.
// (VNNI targets correct the accumulator with column sums first: the fill
// stays.)
// CHECK-LABEL: func.func @runtime_rhs_zero_output
// AVX2-NOT: linalg.generic
// AVX2: vector.load %arg1[{{.*}}] : memref<9x32xi8>, vector<16xi8>
// AVX2: arith.extsi {{.*}} : vector<16xi8> to vector<16xi32>
// AVX2: arith.trunci {{.*}} : vector<16xi32> to vector<16xi16>
// AVX2: vector.shuffle {{.*}} [0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31] : vector<16xi16>, vector<16xi16>
// AVX2: vector.store {{.*}} : memref<?xi16>, vector<32xi16>
// AVX2: %[[FIRST:.*]] = arith.cmpi eq, %{{.*}}, %c0{{.*}} : index
// AVX2: scf.if %[[FIRST]] -> (vector<8xi32>
// AVX2: arith.constant dense<0> : vector<8xi32>
// AVX2: } else {
// AVX2: vector.load %arg2
func.func @runtime_rhs_zero_output(%a: memref<16x9xi8>, %b: memref<9x32xi8>, %c: memref<16x32xi32>) {
  %z = arith.constant 0 : i32
  linalg.generic {indexing_maps = [#fill, #id], iterator_types = ["parallel", "parallel"]}
      ins(%z : i32) outs(%c : memref<16x32xi32>) {
  ^bb0(%in: i32, %o: i32):
    linalg.yield %in : i32
  }
  linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<16x9xi8>, memref<9x32xi8>) outs(%c : memref<16x32xi32>) {
  ^bb0(%x: i8, %w: i8, %acc: i32):
    %0 = arith.extsi %x : i8 to i32
    %1 = arith.extsi %w : i8 to i32
    %2 = arith.muli %0, %1 : i32
    %3 = arith.addi %acc, %2 : i32
    linalg.yield %3 : i32
  }
  return
}

// -----

#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs = affine_map<(m, n, k) -> (k, n)>
#scalar = affine_map<(m, n, k) -> ()>
#out = affine_map<(m, n, k) -> (m, n)>

// Y = b - z with z known only at run time (dynamic quantization's zero
// point, u8 b): b is packed, X's row sums are taken while packing X, and
// the accumulator starts from -z * (row sums).
// CHECK-LABEL: func.func @rhs_dynamic_zero_point
// AVX2: %[[SUMS:.*]] = memref.alloc({{.*}}) {alignment = 64 : i64} : memref<?xi32>
// AVX2: scf.for {{.*}} iter_args(%[[S:.*]] = %{{.*}}) -> (i32)
// AVX2: arith.addi %[[S]]
// AVX2: memref.store {{.*}}, %[[SUMS]]
// AVX2: %[[Z:.*]] = memref.load %arg2[] : memref<i32>
// AVX2: %[[R:.*]] = memref.load %[[SUMS]]
// AVX2: %[[ZR:.*]] = arith.muli %[[R]], %[[Z]] : i32
// AVX2: arith.subi %{{.*}}, %[[ZR]] : i32
// AVX2: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"
// AVX2: memref.dealloc %[[SUMS]]
func.func @rhs_dynamic_zero_point(%a: memref<16x9xi8>, %b: memref<9x32xi8>, %z: memref<i32>, %c: memref<16x32xi32>) {
  linalg.generic {indexing_maps = [#lhs, #rhs, #scalar, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b, %z : memref<16x9xi8>, memref<9x32xi8>, memref<i32>) outs(%c : memref<16x32xi32>) {
  ^bb0(%x: i8, %w: i8, %zp: i32, %acc: i32):
    %0 = arith.extsi %x : i8 to i32
    %1 = arith.extui %w : i8 to i32
    %2 = arith.subi %1, %zp : i32
    %3 = arith.muli %0, %2 : i32
    %4 = arith.addi %acc, %3 : i32
    linalg.yield %4 : i32
  }
  return
}

// -----

#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs = affine_map<(m, n, k) -> (k, n)>
#scalar = affine_map<(m, n, k) -> ()>
#out = affine_map<(m, n, k) -> (m, n)>

// A static lhs zero point with a run-time rhs zero point: Y = b - w has no
// known range, so Y is the one split off (its zero point times X's row
// sums) and X = a - 3 is packed as int16, on VNNI targets too: splitting X
// for vpdpbusd would leave Y unsplit and the product without a GEMM.
// CHECK-LABEL: func.func @int8_static_x_dynamic_y_zero_points
// CHECK: memref.alloc({{.*}}) {alignment = 64 : i64} : memref<?xi16>
// AVX2: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"
// VNNI-NOT: vpdpbusd
// VNNI: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @int8_static_x_dynamic_y_zero_points(%a: memref<13x37xi8>, %b: memref<37x21xi8>, %zw: memref<i32>, %c: memref<13x21xi32>) {
  %zp = arith.constant 3 : i32
  linalg.generic {indexing_maps = [#lhs, #rhs, #scalar, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b, %zw : memref<13x37xi8>, memref<37x21xi8>, memref<i32>) outs(%c : memref<13x21xi32>) {
  ^bb0(%x: i8, %w: i8, %z: i32, %acc: i32):
    %0 = arith.extsi %x : i8 to i32
    %1 = arith.subi %0, %zp : i32
    %2 = arith.extsi %w : i8 to i32
    %3 = arith.subi %2, %z : i32
    %4 = arith.muli %1, %3 : i32
    %5 = arith.addi %acc, %4 : i32
    linalg.yield %5 : i32
  }
  return
}
