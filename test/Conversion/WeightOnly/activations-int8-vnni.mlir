// int8-activation kernels on targets with vpdpbusd, and many rows.
// RUN: quantx-opt %s -split-input-file -quantx-pack-weight-only="pack-arguments=1 activations=int8 target-features=+avx2,+fma,+avxvnni" | FileCheck %s --enable-var-scope
// RUN: quantx-opt %s -split-input-file -quantx-pack-weight-only="pack-arguments=1 activations=int8 target-features=+avx2,+fma,+avx512f,+avx512vl,+avx512vnni" | FileCheck %s --enable-var-scope
// Without VNNI, or with vnni-min-rows=-1: vpmaddubsw, and the same rows.
// RUN: quantx-opt %s -split-input-file -quantx-pack-weight-only="pack-arguments=1 activations=int8 target-features=+avx2,+fma" | FileCheck %s --check-prefix=NOVNNI
// RUN: quantx-opt %s -split-input-file -quantx-pack-weight-only="pack-arguments=1 activations=int8 vnni-min-rows=-1 target-features=+avx2,+fma,+avxvnni" | FileCheck %s --check-prefix=NOVNNI
// The instruction reaches the assembly (AVX-VNNI, VEX-encoded): the two
// rows' case alone.
// RUN: sed -n '/^\/\/ ASM-BEGIN/,/^\/\/ ASM-END/p' %s > %t.mlir
// RUN: quantx-opt %t.mlir -quantx-pack-weight-only="pack-arguments=1 activations=int8 target-features=+avx2,+fma,+avxvnni" | quantx-opt -quantx-cpu-pipeline="target-features=+avx2,+fma,+avxvnni" | mlir-translate --mlir-to-llvmir | llc -O2 -mtriple=x86_64 -mattr=+avx2,+fma,+f16c,+avxvnni | FileCheck %s --check-prefix=ASM

// One row (decoding, weights streamed from memory) keeps vpmaddubsw: no
// faster with vpdpbusd there (docs/design/WeightOnlyGEMV.md).
!q = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>
// CHECK-LABEL: func.func private @__quantx_wo_gemv_m1_n16_k64_g32_i4_f16_a8(
// CHECK-NOT: vpdpbusd
// CHECK: llvm.x86.avx2.pmadd.ub.sw
// NOVNNI-LABEL: func.func private @__quantx_wo_gemv_m1_n16_k64_g32_i4_f16_a8(
func.func @one_row(%x: tensor<1x64xf32>, %w: tensor<16x64x!q>, %s: tensor<16x2xf16>) -> tensor<1x16xf32> {
  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<16x2xf16>) {transpose_rhs} : tensor<1x64xf32>, tensor<16x64x!q> -> tensor<1x16xf32>
  return %y : tensor<1x16xf32>
}

// -----

// Two rows: per row two i32 sums (low and high nibbles), each step one
// vpdpbusd of 8 rows of weights by 4 activations broadcast, added after
// the group; no vpmaddubsw.
// ASM-BEGIN
!q = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>
// CHECK-LABEL: func.func private @__quantx_wo_gemv_m2_n16_k64_g32_i4_f16_a8_vnni(
// CHECK-NOT: pmadd
// CHECK: %[[BC:.+]] = vector.broadcast %{{.+}} : i32 to vector<8xi32>
// CHECK: %[[A:.+]] = vector.bitcast %[[BC]] : vector<8xi32> to vector<32xi8>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"(%{{.+}}, %{{.+}}, %[[A]]) : (vector<8xi32>, vector<32xi8>, vector<32xi8>) -> vector<8xi32>
// CHECK-NOT: pmadd
// CHECK: return
// NOVNNI-LABEL: func.func private @__quantx_wo_gemv_m2_n16_k64_g32_i4_f16_a8(
// NOVNNI-NOT: vpdpbusd
// NOVNNI: llvm.x86.avx2.pmadd.ub.sw
// ASM-LABEL: {{^}}__quantx_wo_gemv_m2_n16_k64_g32_i4_f16_a8_vnni:
// ASM-NOT: vpmaddubsw
// ASM: {vex} vpdpbusd
func.func @two_rows(%x: tensor<2x64xf32>, %w: tensor<16x64x!q>, %s: tensor<16x2xf16>) -> tensor<2x16xf32> {
  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<16x2xf16>) {transpose_rhs} : tensor<2x64xf32>, tensor<16x64x!q> -> tensor<2x16xf32>
  return %y : tensor<2x16xf32>
}
// ASM-END

// -----

// Twenty rows of small weights (4 KiB: they stay in cache): a driver
// calls a kernel of 8 rows on each block of 8 rows and one of the 4 rest.
!q = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>
// CHECK-LABEL: func.func @many_rows_small_weights
// CHECK: call @__quantx_wo_gemv_m20_n64_k128_g32_i4_f16_a8_vnni_rowblocks(
// NOVNNI-LABEL: func.func @many_rows_small_weights
// NOVNNI: call @__quantx_wo_gemv_m20_n64_k128_g32_i4_f16_a8_rowblocks(
func.func @many_rows_small_weights(%x: tensor<20x128xf32>, %w: tensor<64x128x!q>, %s: tensor<64x4xf16>) -> tensor<20x64xf32> {
  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<64x4xf16>) {transpose_rhs} : tensor<20x128xf32>, tensor<64x128x!q> -> tensor<20x64xf32>
  return %y : tensor<20x64xf32>
}

// -----

// Twenty rows of large weights (2 MiB, more than a core's L2 cache): one
// kernel of all of them, called once. On threads (the weights are over
// parallel-min-bytes) it quantizes the activations row by row, then for
// each of the 256 tiles of weights runs two blocks of 8 rows and one of 4 (4 octets of
// k times 2 nibbles: 64 and 32 vpdpbusd per group), so that the tile is
// read from memory once for all rows.
!q = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>
// CHECK-LABEL: func.func @many_rows
// CHECK: call @__quantx_wo_gemv_m20_n2048_k2048_g32_i4_f16_a8_vnni_par(
// CHECK-NOT: _rowblocks
// CHECK-LABEL: func.func private @__quantx_wo_gemv_m20_n2048_k2048_g32_i4_f16_a8_vnni_par(
// CHECK: omp.loop_nest (%{{.+}}) : index = (%{{.+}}) to (%c20) step (%c1)
// CHECK: math.roundeven
// CHECK: omp.loop_nest (%{{.+}}) : index = (%{{.+}}) to (%c256) step (%c1)
// CHECK: scf.for %{{.+}} = %{{.+}} to %c16{{(_[0-9]+)?}} step %c8{{(_[0-9]+)?}} {
// CHECK-COUNT-64: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"
// CHECK-NOT: llvm.call_intrinsic
// CHECK: scf.yield
// CHECK-COUNT-32: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"
// CHECK-NOT: llvm.call_intrinsic
// CHECK: return
// NOVNNI-LABEL: func.func @many_rows
// NOVNNI: call @__quantx_wo_gemv_m20_n2048_k2048_g32_i4_f16_a8_par(
// NOVNNI-NOT: _rowblocks
func.func @many_rows(%x: tensor<20x2048xf32>, %w: tensor<2048x2048x!q>, %s: tensor<2048x64xf16>) -> tensor<20x2048xf32> {
  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<2048x64xf16>) {transpose_rhs} : tensor<20x2048xf32>, tensor<2048x2048x!q> -> tensor<20x2048xf32>
  return %y : tensor<20x2048xf32>
}

// -----

// 8-bit constant weights: with vpdpbusd (levels up to 255, exact i32 sums)
// the int8-activation kernel, even for one row; an octet of k is two
// 32-byte loads, no nibbles to split. Without it, or with
// vnni-min-rows=-1, the f32 kernel (vpmaddubsw's i16 sums would saturate).
!q8 = !quantx.uniform<i8:f32, blocks = {0 : 1, 1 : 8}>
// CHECK-LABEL: func.func private @__quantx_wo_gemv_m1_n8_k16_g8_i8_f32_a8_vnni(
// CHECK-NOT: arith.shrui
// CHECK: vector.load %{{.+}} : memref<128xi8, {{.+}}>, vector<32xi8>
// CHECK: vector.load %{{.+}} : memref<128xi8, {{.+}}>, vector<32xi8>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"
// CHECK: return
// NOVNNI-LABEL: func.func @eight_bit
// NOVNNI: call @__quantx_wo_gemv_m1_n8_k16_g8_i8_f32(
func.func @eight_bit(%x: tensor<1x16xf32>) -> tensor<1x8xf32> {
  %wi = arith.constant dense<[[1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12, 13, -14, 15, -16],
                              [-128, 127, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
                              [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                              [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
                              [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
                              [3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3],
                              [4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4],
                              [5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5]]> : tensor<8x16xi8>
  %w = quantx.scast %wi : tensor<8x16xi8> -> tensor<8x16x!q8>
  %s = arith.constant dense<0.5> : tensor<8x2xf32>
  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<8x2xf32>) {transpose_rhs} : tensor<1x16xf32>, tensor<8x16x!q8> -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}
