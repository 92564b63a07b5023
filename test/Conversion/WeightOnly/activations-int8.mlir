// RUN: quantx-opt %s -split-input-file -quantx-pack-weight-only="pack-arguments=1 activations=int8 target-features=+avx2,+fma" | FileCheck %s --enable-var-scope
// The instructions the kernel is built for reach the assembly.
// RUN: quantx-opt %s -quantx-pack-weight-only="pack-arguments=1 activations=int8 target-features=+avx2,+fma" | quantx-opt -quantx-cpu-pipeline="target-features=+avx2,+fma" | mlir-translate --mlir-to-llvmir | llc -O2 -mtriple=x86_64 -mattr=+avx2,+fma,+f16c | FileCheck %s --check-prefix=ASM
// Software prefetch of the packed weights, one per 64-byte line: 4096
// bytes ahead by default, none with prefetch-distance=0.
// RUN: quantx-opt %s -split-input-file -quantx-pack-weight-only="pack-arguments=1 activations=int8 target-features=+avx2,+fma" | FileCheck %s --check-prefix=PFDEFAULT
// PFDEFAULT-LABEL: func.func private @__quantx_wo_gemv_m1_n16_k64_g32_i4_f16_a8
// PFDEFAULT: %[[D:.+]] = arith.constant 4096 : index
// PFDEFAULT: arith.addi %{{.+}}, %[[D]] : index
// PFDEFAULT: memref.prefetch
// RUN: quantx-opt %s -split-input-file -quantx-pack-weight-only="pack-arguments=1 activations=int8 prefetch-distance=0 target-features=+avx2,+fma" | FileCheck %s --check-prefix=NOPF
// NOPF-NOT: memref.prefetch
// RUN: quantx-opt %s -split-input-file -quantx-pack-weight-only="pack-arguments=1 activations=int8 prefetch-distance=512 target-features=+avx2,+fma" | FileCheck %s --check-prefix=PF
// PF-LABEL: func.func private @__quantx_wo_gemv_m1_n16_k64_g32_i4_f16_a8
// PF-COUNT-2: memref.prefetch %{{.+}}[%{{.+}}], read, locality<0>, data : memref<512xi8
// PF-NOT: memref.prefetch
// PF: return
// ASM-LABEL: {{^}}__quantx_wo_gemv_m1_n16_k64_g32_i4_f16_a8:
// ASM: vroundps $8
// ASM: vpmaddubsw
// ASM: vpmaddwd
// ASM: vcvtdq2ps
// ASM: vfmadd

// int8 activations: the same packed argument sizes as "n8" (N = 16, K = 64,
// groups of 32: 512 bytes, 2 tiles * 2 groups * 8 scales), a kernel named
// _a8 that quantizes the activations per group (round half to even, 4 k
// per i32 word) and takes u8 x s8 dot products with vpmaddubsw/vpmaddwd;
// without offsets the storage_min term is added in i32 (-8 * sum(a)).
!q = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>
// CHECK-LABEL: func.func @gemv
// CHECK-SAME: (%[[X:.+]]: tensor<1x64xf32>, %[[W:.+]]: tensor<512xi8>, %[[S:.+]]: tensor<32xf16>) -> tensor<1x16xf32>
// CHECK-SAME: attributes {quantx.packed_arguments = array<i64: 1, 2>}
// CHECK: call @__quantx_wo_gemv_m1_n16_k64_g32_i4_f16_a8(
// CHECK-LABEL: func.func private @__quantx_wo_gemv_m1_n16_k64_g32_i4_f16_a8
// CHECK-SAME: memref<1x16xf32, strided<[?, ?], offset: ?>>)
// CHECK: %[[XQ:.+]] = memref.alloc() : memref<1x16xi32>
// CHECK: vector.reduction <maximumf>
// CHECK: math.roundeven %{{.+}} : vector<8xf32>
// CHECK: arith.trunci %{{.+}} : vector<8xi32> to vector<8xi8>
// CHECK: vector.bitcast %{{.+}} : vector<8xi8> to vector<2xi32>
// CHECK: arith.constant -8 : i32
// CHECK: vector.load %{{.+}} : memref<32xf16, {{.+}}>, vector<8xf16>
// CHECK: vector.load %{{.+}} : memref<512xi8, {{.+}}>, vector<32xi8>
// CHECK: arith.shrui
// CHECK: %[[WORD:.+]] = memref.load %[[XQ]]
// CHECK: %[[BC:.+]] = vector.broadcast %[[WORD]] : i32 to vector<8xi32>
// CHECK: %[[A:.+]] = vector.bitcast %[[BC]] : vector<8xi32> to vector<32xi8>
// CHECK: llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"(%{{.+}}, %[[A]]) : (vector<32xi8>, vector<32xi8>) -> vector<16xi16>
// CHECK: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"(%{{.+}}, %{{.+}}) : (vector<16xi16>, vector<16xi16>) -> vector<8xi32>
// CHECK: arith.sitofp %{{.+}} : vector<8xi32> to vector<8xf32>
// CHECK: vector.fma
func.func @gemv(%x: tensor<1x64xf32>, %w: tensor<16x64x!q>, %s: tensor<16x2xf16>) -> tensor<1x16xf32> {
  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<16x2xf16>) {transpose_rhs} : tensor<1x64xf32>, tensor<16x64x!q> -> tensor<1x16xf32>
  return %y : tensor<1x16xf32>
}

// -----

// With offsets the correction is f32 (d * sum(a)) times the packed offset
// terms; groups of 8 (one octet) are allowed.
!z = !quantx.uniform<u4:f32, blocks = {0 : 1, 1 : 8}, offset = zero_point>
// CHECK-LABEL: func.func @zero_points
// CHECK-SAME: tensor<64xi8>, %{{.+}}: tensor<16xf32>, %{{.+}}: tensor<16xf32>)
// CHECK: call @__quantx_wo_gemv_m2_n8_k16_g8_u4_f32_zp_a8(
// CHECK-LABEL: func.func private @__quantx_wo_gemv_m2_n8_k16_g8_u4_f32_zp_a8
// CHECK: memref.alloc() : memref<2x2xf32>
// CHECK: memref.alloc() : memref<2x2xf32>
// CHECK-NOT: arith.constant 0 : i32
// CHECK: llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"
// CHECK-COUNT-2: vector.fma
func.func @zero_points(%x: tensor<2x16xf32>, %w: tensor<8x16x!z>, %s: tensor<8x2xf32>, %o: tensor<8x2xi32>) -> tensor<2x8xf32> {
  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<8x2xf32>) rhs_offset(%o : tensor<8x2xi32>) {transpose_rhs} : tensor<2x16xf32>, tensor<8x16x!z> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}
