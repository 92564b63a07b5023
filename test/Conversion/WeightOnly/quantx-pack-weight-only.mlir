// RUN: quantx-opt %s -split-input-file -quantx-pack-weight-only=pack-arguments=1 | FileCheck %s --enable-var-scope

// A weight argument becomes a packed byte tensor and its scales a
// tile-interleaved vector (tiles of 8 rows: N = 16 -> 2 tiles, K = 64 with
// groups of 32 -> 2 groups, 16 * 64 / 2 = 512 bytes, 2 * 2 * 8 scales);
// the matmul becomes a call of a kernel generated for the shape.
!q = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>
// CHECK-LABEL: func.func @gemv
// CHECK-SAME: (%[[X:.+]]: tensor<1x64xf32>, %[[W:.+]]: tensor<512xi8>, %[[S:.+]]: tensor<32xf16>) -> tensor<1x16xf32>
// CHECK-SAME: attributes {quantx.packed_arguments = array<i64: 1, 2>}
// CHECK-DAG: %[[XB:.+]] = bufferization.to_buffer %[[X]] read_only
// CHECK-DAG: %[[WB:.+]] = bufferization.to_buffer %[[W]] read_only
// CHECK-DAG: %[[SB:.+]] = bufferization.to_buffer %[[S]] read_only
// CHECK: %[[OUT:.+]] = memref.alloc() : memref<1x16xf32>
// CHECK: %[[OV:.+]] = memref.cast %[[OUT]] : memref<1x16xf32> to memref<1x16xf32, strided<[?, ?], offset: ?>>
// CHECK: call @__quantx_wo_gemv_m1_n16_k64_g32_i4_f16(%[[XB]], %[[WB]], %[[SB]], %[[OV]])
// CHECK: %[[R:.+]] = bufferization.to_tensor %[[OUT]] restrict writable
// CHECK: return %[[R]]
func.func @gemv(%x: tensor<1x64xf32>, %w: tensor<16x64x!q>, %s: tensor<16x2xf16>) -> tensor<1x16xf32> {
  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<16x2xf16>) {transpose_rhs} : tensor<1x64xf32>, tensor<16x64x!q> -> tensor<1x16xf32>
  return %y : tensor<1x16xf32>
}

// The kernel: per tile of 8 rows and per group, the scales (f16 widened to
// f32) and the offset term s * -8 of signed storage; per pair of k one
// 8-byte load, widened, the low and high nibbles converted and multiplied
// with broadcast activations in FMAs; then s * acc + c * sum(x).
// CHECK-LABEL: func.func private @__quantx_wo_gemv_m1_n16_k64_g32_i4_f16
// CHECK-SAME: (%{{.+}}: memref<1x64xf32, strided<[?, ?], offset: ?>>, %{{.+}}: memref<512xi8, strided<[?], offset: ?>>, %{{.+}}: memref<32xf16, strided<[?], offset: ?>>, %[[OA:.+]]: memref<1x16xf32, strided<[?, ?], offset: ?>>)
// CHECK: %[[OB:.+]], %[[OO:.+]], %{{.+}}:2, %{{.+}}:2 = memref.extract_strided_metadata %[[OA]]
// CHECK: %[[O:.+]] = memref.reinterpret_cast %[[OB]] to offset: [%[[OO]]], sizes: [1, 16], strides: [16, 1]
// CHECK: scf.for %[[T:.+]] = %{{.+}} to %{{.+}} step
// CHECK: scf.for %[[G:.+]] = {{.+}} iter_args
// CHECK: %[[SV:.+]] = vector.load %{{.+}} : memref<32xf16, strided<[1], offset: ?>>, vector<8xf16>
// CHECK: %[[SF:.+]] = arith.extf %[[SV]] : vector<8xf16> to vector<8xf32>
// CHECK: %[[C:.+]] = arith.mulf %[[SF]], %{{.+}} : vector<8xf32>
// CHECK: scf.for {{.+}} iter_args
// CHECK: %[[RAW:.+]] = vector.load %{{.+}} : memref<512xi8, strided<[1], offset: ?>>, vector<8xi8>
// CHECK: %[[WIDE:.+]] = arith.extui %[[RAW]] : vector<8xi8> to vector<8xi32>
// CHECK: %[[LO:.+]] = arith.andi %[[WIDE]]
// CHECK: arith.sitofp %[[LO]] : vector<8xi32> to vector<8xf32>
// CHECK: %[[HI:.+]] = arith.shrui %[[WIDE]]
// CHECK: arith.sitofp %[[HI]] : vector<8xi32> to vector<8xf32>
// CHECK: vector.broadcast
// CHECK: vector.fma
// CHECK: vector.fma %{{.+}}, %[[SF]], %{{.+}} : vector<8xf32>
// CHECK: vector.fma %{{.+}}, %[[C]], %{{.+}} : vector<8xf32>
// CHECK: vector.store %{{.+}}, %[[O]]

// -----

// Zero points: a third packed argument of f32 offset terms; N = 12 is
// padded to 16 rows, the result sliced back; K = 40 is one full group and
// a partial one.
!q = !quantx.uniform<u4:f32, blocks = {0 : 1, 1 : 32}, offset = zero_point>
// CHECK-LABEL: func.func @zero_points
// CHECK-SAME: tensor<2x40xf32>, %{{.+}}: tensor<512xi8>, %{{.+}}: tensor<32xf32>, %{{.+}}: tensor<32xf32>) -> tensor<2x12xf32>
// CHECK-SAME: quantx.packed_arguments = array<i64: 1, 2, 3>
// CHECK: call @__quantx_wo_gemv_m2_n12_k40_g32_u4_f32_zp(
// CHECK: tensor.extract_slice %{{.+}}[0, 0] [2, 12] [1, 1] : tensor<2x16xf32> to tensor<2x12xf32>
// CHECK-LABEL: func.func private @__quantx_wo_gemv_m2_n12_k40_g32_u4_f32_zp
// CHECK-SAME: memref<32xf32, strided<[?], offset: ?>>, %{{.+}}: memref<2x16xf32, strided<[?, ?], offset: ?>>)
func.func @zero_points(%x: tensor<2x40xf32>, %w: tensor<12x40x!q>, %s: tensor<12x2xf32>, %z: tensor<12x2xi32>) -> tensor<2x12xf32> {
  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<12x2xf32>) rhs_offset(%z : tensor<12x2xi32>) {transpose_rhs} : tensor<2x40xf32>, tensor<12x40x!q> -> tensor<2x12xf32>
  return %y : tensor<2x12xf32>
}

// -----

// Large weights: the tile loop is threaded with OpenMP.
!q = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 128}, scale_type = f16>
// CHECK-LABEL: func.func private @__quantx_wo_gemv_m1_n2048_k1024_g128_i4_f16_par
// CHECK: omp.parallel
// CHECK: omp.wsloop
// CHECK-NOT: memref.alloca_scope
func.func @large(%x: tensor<1x1024xf32>, %w: tensor<2048x1024x!q>, %s: tensor<2048x8xf16>) -> tensor<1x2048xf32> {
  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<2048x8xf16>) {transpose_rhs} : tensor<1x1024xf32>, tensor<2048x1024x!q> -> tensor<1x2048xf32>
  return %y : tensor<1x2048xf32>
}

// -----

// Two matmuls of the same shape share one kernel.
!q = !quantx.uniform<i8:f32, blocks = {0 : 1, 1 : 16}>
// CHECK-LABEL: func.func @shared
// CHECK: call @[[K:__quantx_wo_gemv_m1_n8_k16_g16_i8_f32]](
// CHECK: call @[[K]](
// CHECK-COUNT-1: func.func private @__quantx_wo_gemv
func.func @shared(%x: tensor<1x16xf32>, %w0: tensor<8x16x!q>, %s0: tensor<8x1xf32>, %w1: tensor<8x16x!q>, %s1: tensor<8x1xf32>) -> (tensor<1x8xf32>, tensor<1x8xf32>) {
  %y0 = quantx.matmul %x, %w0 rhs_scale(%s0 : tensor<8x1xf32>) {transpose_rhs} : tensor<1x16xf32>, tensor<8x16x!q> -> tensor<1x8xf32>
  %y1 = quantx.matmul %x, %w1 rhs_scale(%s1 : tensor<8x1xf32>) {transpose_rhs} : tensor<1x16xf32>, tensor<8x16x!q> -> tensor<1x8xf32>
  return %y0, %y1 : tensor<1x8xf32>, tensor<1x8xf32>
}

// -----

// negative_: zero points in the weight type (not packed from the type) on a
// constant weight are left to convert-quantx-to-linalg.
!q = !quantx.uniform<u4:f32, axis = 0, scales = dense<[0.5, 0.25]> : tensor<2xf64>, offsets = dense<[8, 7]> : tensor<2xi64>>
// CHECK-LABEL: func.func @negative_static_offsets
// CHECK: quantx.matmul
// CHECK-NOT: __quantx_wo_gemv
func.func @negative_static_offsets(%x: tensor<9x4xf32>) -> tensor<9x2xf32> {
  %w = quantx.constant dense<[[1, 2, 3, 0], [2, 2, 1, 4]]> : tensor<2x4xi4> -> tensor<2x4x!q>
  %y = quantx.matmul %x, %w {transpose_rhs} : tensor<9x4xf32>, tensor<2x4x!q> -> tensor<9x2xf32>
  return %y : tensor<9x2xf32>
}

// -----

// prefetch-distance: one prefetch per 64-byte line of packed weights read
// by an inner iteration (8 loads of 8 bytes), clamped to the buffer.
// RUN: quantx-opt %s -split-input-file -quantx-pack-weight-only="pack-arguments=1 prefetch-distance=1024" | FileCheck %s --check-prefix=PREFETCH
!q = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}>
// CHECK-LABEL: func.func @prefetch
// CHECK-NOT: memref.prefetch
// PREFETCH-LABEL: func.func private @__quantx_wo_gemv_m1_n8_k32_g32_i4_f32
// PREFETCH: %[[I:.+]] = arith.minui %{{.+}}, %{{.+}} : index
// PREFETCH: memref.prefetch %{{.+}}[%[[I]]], read, locality<0>, data
// PREFETCH-NOT: memref.prefetch
// PREFETCH: vector.load
func.func @prefetch(%x: tensor<1x32xf32>, %w: tensor<8x32x!q>, %s: tensor<8x1xf32>) -> tensor<1x8xf32> {
  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<8x1xf32>) {transpose_rhs} : tensor<1x32xf32>, tensor<8x32x!q> -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

// A bias and ReLU are applied to the kernel's result, element-wise.
!q = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>
// CHECK-LABEL: func.func @gemv_bias_relu
// CHECK-SAME: (%{{.+}}: tensor<2x64xf32>, %{{.+}}: tensor<512xi8>, %{{.+}}: tensor<32xf16>, %[[B:.+]]: tensor<16xf32>)
// CHECK: call @__quantx_wo_gemv_m2_n16_k64_g32_i4_f16
// CHECK: %[[R:.+]] = bufferization.to_tensor
// CHECK: %[[E:.+]] = linalg.generic {{.+}} ins(%[[R]], %[[B]] : tensor<2x16xf32>, tensor<16xf32>)
// CHECK: %[[S:.+]] = arith.addf
// CHECK: arith.maximumf %[[S]], %{{.+}} : f32
// CHECK: return %[[E]]
func.func @gemv_bias_relu(%x: tensor<2x64xf32>, %w: tensor<16x64x!q>, %s: tensor<16x2xf16>, %b: tensor<16xf32>) -> tensor<2x16xf32> {
  %y = quantx.matmul %x, %w bias(%b : tensor<16xf32>) rhs_scale(%s : tensor<16x2xf16>) {relu, transpose_rhs} : tensor<2x64xf32>, tensor<16x64x!q> -> tensor<2x16xf32>
  return %y : tensor<2x16xf32>
}

// -----

// More than 8 rows: a private driver, generated once per shape, runs the
// blocks of 8 rows through the kernel of 8 rows, each on a view of its rows
// of the activations and of the output, then the rest (20 = 2 * 8 + 4)
// through a kernel of 4 rows. The blocks run on threads when together they
// read enough weight bytes (here 8 KiB: in turn).
!q = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}>
// CHECK-LABEL: func.func @rows
// CHECK: %[[X:.+]] = bufferization.to_buffer %{{.+}} read_only : tensor<20x64xf32> to memref<20x64xf32, strided<[?, ?], offset: ?>>
// CHECK: %[[OUT:.+]] = memref.alloc() : memref<20x256xf32>
// CHECK: %[[OV:.+]] = memref.cast %[[OUT]]
// CHECK: call @[[D:__quantx_wo_gemv_m20_n256_k64_g32_i4_f32_rowblocks]](%[[X]], %{{.+}}, %{{.+}}, %[[OV]])
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable : memref<20x256xf32> to tensor<20x256xf32>
// CHECK: func.func private @[[D]](%[[DX:.+]]: memref<20x64xf32, strided<[?, ?], offset: ?>>, %{{.+}}: memref<8192xi8, {{.+}}>, %{{.+}}: memref<512xf32, {{.+}}>, %[[DO:.+]]: memref<20x256xf32, strided<[?, ?], offset: ?>>)
// CHECK: scf.for %[[R:.+]] = %{{.+}} to %{{.+}} step %{{.+}} {
// CHECK: %[[XS:.+]] = memref.subview %[[DX]][%[[R]], 0] [8, 64] [1, 1]
// CHECK: %[[XV:.+]] = memref.cast %[[XS]] {{.+}} to memref<8x64xf32, strided<[?, ?], offset: ?>>
// CHECK: %[[OS:.+]] = memref.subview %[[DO]][%[[R]], 0] [8, 256] [1, 1]
// CHECK: %[[OV2:.+]] = memref.cast %[[OS]] {{.+}} to memref<8x256xf32, strided<[?, ?], offset: ?>>
// CHECK: call @__quantx_wo_gemv_m8_n256_k64_g32_i4_f32(%[[XV]], %{{.+}}, %{{.+}}, %[[OV2]])
// CHECK: }
// CHECK: memref.subview %[[DX]][%{{.+}}, 0] [4, 64] [1, 1]
// CHECK: memref.subview %[[DO]][%{{.+}}, 0] [4, 256] [1, 1]
// CHECK: call @__quantx_wo_gemv_m4_n256_k64_g32_i4_f32(
func.func @rows(%x: tensor<20x64xf32>, %w: tensor<256x64x!q>, %s: tensor<256x2xf32>) -> tensor<20x256xf32> {
  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<256x2xf32>) {transpose_rhs} : tensor<20x64xf32>, tensor<256x64x!q> -> tensor<20x256xf32>
  return %y : tensor<20x256xf32>
}

// -----

// With 64 rows of a 256 x 1024 matrix (128 KiB packed, read 8 times), the
// blocks run on OpenMP threads, inside the driver only (static schedule).
!q = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}>
// CHECK-LABEL: func.func @row_blocks_threaded
// CHECK-NOT: omp.parallel
// CHECK: call @[[D:__quantx_wo_gemv_m64_n256_k1024_g32_i4_f32_rowblocks_par]](
// CHECK: func.func private @[[D]]
// CHECK: omp.parallel
// CHECK: omp.wsloop {
// CHECK: call @__quantx_wo_gemv_m8_n256_k1024_g32_i4_f32(
func.func @row_blocks_threaded(%x: tensor<64x1024xf32>, %w: tensor<256x1024x!q>, %s: tensor<256x32xf32>) -> tensor<64x256xf32> {
  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<256x32xf32>) {transpose_rhs} : tensor<64x1024xf32>, tensor<256x1024x!q> -> tensor<64x256xf32>
  return %y : tensor<64x256xf32>
}
