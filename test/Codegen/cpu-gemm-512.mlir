// 512-bit register tiles on AVX-512 targets: 4 x 64 tiles of four zmm
// accumulators per row for vpdpbusd on zmm (avx512vnni + avx512bw; 8 x 32
// where 64 would pad the width by more than half), 8 x 32 for f32, and
// vector-bits to choose the width.
// RUN: quantx-opt %s -split-input-file -pass-pipeline='builtin.module(quantx-cpu-gemm{min-parallel-work=0 target-features=+avx512f,+avx512vl,+avx512bw,+avx512vnni})' | FileCheck %s --check-prefixes=CHECK,W512
// RUN: quantx-opt %s -split-input-file -pass-pipeline='builtin.module(quantx-cpu-gemm{min-parallel-work=0 target-features=+avx512f,+avx512vl,+avx512bw,+avx512vnni vector-bits=256})' | FileCheck %s --check-prefixes=CHECK,W256
// Without avx512bw the f32 tiles are wide and vpdpbusd stays on ymm.
// RUN: quantx-opt %s -split-input-file -pass-pipeline='builtin.module(quantx-cpu-gemm{min-parallel-work=0 target-features=+avx512f,+avx512vl,+avx512vnni})' | FileCheck %s --check-prefixes=CHECK,NOBW
// AVX-VNNI alone (no AVX-512): 256 bits.
// RUN: quantx-opt %s -split-input-file -pass-pipeline='builtin.module(quantx-cpu-gemm{min-parallel-work=0 target-features=+avx2,+fma,+avxvnni})' | FileCheck %s --check-prefixes=CHECK,W256
// RUN: not quantx-opt %s -split-input-file -pass-pipeline='builtin.module(quantx-cpu-gemm{target-features=+avx2,+fma vector-bits=512})' 2>&1 | FileCheck %s --check-prefix=NO512
// RUN: not quantx-opt %s -split-input-file -pass-pipeline='builtin.module(quantx-cpu-gemm{target-features=+avx512f vector-bits=128})' 2>&1 | FileCheck %s --check-prefix=BADBITS

// NO512: error: quantx-cpu-gemm: vector-bits=512 needs a target with avx512f
// BADBITS: error: quantx-cpu-gemm: vector-bits must be 0, 256 or 512, not 128

#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs = affine_map<(m, n, k) -> (k, n)>
#out = affine_map<(m, n, k) -> (m, n)>

// CHECK-LABEL: func.func @int8
// W512: vector.load %arg1[{{.*}}] : memref<256x64xi8>, vector<64xi8>
// W512: vector.load {{.*}} : memref<?xi8>, vector<64xi8>
// W512: vector.shuffle {{.*}} [0, 1, 2, 3, 0, 1, 2, 3,
// A 4 x 64 tile: 16 accumulators, k unrolled twice.
// W512-COUNT-32: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"({{.*}}) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// W512-NOT: vpdpbusd
// W512: vector.store {{.*}}, %arg2[{{.*}}] : memref<96x64xi32>, vector<16xi32>
// W256: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"({{.*}}) : (vector<8xi32>, vector<32xi8>, vector<32xi8>) -> vector<8xi32>
// W256-NOT: vpdpbusd.512
// W256: vector.store {{.*}}, %arg2[{{.*}}] : memref<96x64xi32>, vector<8xi32>
// NOBW: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"
// NOBW-NOT: vpdpbusd.512
// CHECK-NOT: linalg.generic
func.func @int8(%a: memref<96x256xi8>, %b: memref<256x64xi8>, %c: memref<96x64xi32>) {
  linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<96x256xi8>, memref<256x64xi8>) outs(%c : memref<96x64xi32>) {
  ^bb0(%x: i8, %w: i8, %acc: i32):
    %0 = arith.extui %x : i8 to i32
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

// CHECK-LABEL: func.func @f32
// W512: vector.broadcast {{.*}} : f32 to vector<16xf32>
// W512: vector.fma {{.*}} : vector<16xf32>
// NOBW: vector.fma {{.*}} : vector<16xf32>
// W256: vector.fma {{.*}} : vector<8xf32>
// W256-NOT: vector<16xf32>
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

// Signed int8 into a zero output: vpdpbusd on x + 128 needs -128 * (column
// sums of Y) in the accumulators. The fill is dropped and the first k block
// starts from that correction, one vector per column panel (no pass over
// the output).
// CHECK-LABEL: func.func @int8_signed_zero_output
// W512-NOT: linalg.fill ins(%{{.*}}) outs(%arg2
// W512: %[[P:.*]] = arith.muli %{{.*}}, %c128_i32 : i32
// W512-NEXT: %[[NEG:.*]] = arith.subi %c0_i32{{.*}}, %[[P]] : i32
// W512-NEXT: memref.store %[[NEG]], %[[INIT:.*]][%{{.*}}] : memref<?xi32>
// W512-NOT: memref.load %arg2
// W512: scf.parallel
// W512: scf.if
// W512: %[[V0:.*]] = vector.load %[[INIT]][{{.*}}] : memref<?xi32>, vector<16xi32>
// W512: %[[V1:.*]] = vector.load %[[INIT]][{{.*}}] : memref<?xi32>, vector<16xi32>
// W512: %[[V2:.*]] = vector.load %[[INIT]][{{.*}}] : memref<?xi32>, vector<16xi32>
// W512: %[[V3:.*]] = vector.load %[[INIT]][{{.*}}] : memref<?xi32>, vector<16xi32>
// W512-NEXT: scf.yield %[[V0]], %[[V1]], %[[V2]], %[[V3]], %[[V0]], %[[V1]], %[[V2]], %[[V3]],
// W512: else
// W512: vector.load %arg2
// W512: vpdpbusd.512
// W512: memref.dealloc %[[INIT]]
func.func @int8_signed_zero_output(%a: memref<96x256xi8>, %b: memref<256x64xi8>, %c: memref<96x64xi32>) {
  %z = arith.constant 0 : i32
  linalg.fill ins(%z : i32) outs(%c : memref<96x64xi32>)
  linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<96x256xi8>, memref<256x64xi8>) outs(%c : memref<96x64xi32>) {
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

// 96 columns: 64-wide tiles would pad them to 128, 32-wide ones fit; so
// 8 x 32 tiles (two accumulators per row, eight rows).
// CHECK-LABEL: func.func @int8_narrow
// W512-NOT: memref<256x96xi8>, vector<64xi8>
// W512: vector.load %arg1[{{.*}}] : memref<256x96xi8>, vector<32xi8>
// W512-NOT: memref<256x96xi8>, vector<64xi8>
// W512: vpdpbusd.512
func.func @int8_narrow(%a: memref<96x256xi8>, %b: memref<256x96xi8>, %c: memref<96x96xi32>) {
  linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<96x256xi8>, memref<256x96xi8>) outs(%c : memref<96x96xi32>) {
  ^bb0(%x: i8, %w: i8, %acc: i32):
    %0 = arith.extui %x : i8 to i32
    %1 = arith.extsi %w : i8 to i32
    %2 = arith.muli %0, %1 : i32
    %3 = arith.addi %acc, %2 : i32
    linalg.yield %3 : i32
  }
  return
}
