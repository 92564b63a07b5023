// RUN: quantx-opt %s -split-input-file -convert-quantx-to-linalg | FileCheck %s
// RUN: quantx-opt %s -split-input-file -convert-quantx-to-linalg=conv-im2col=false | FileCheck %s --check-prefix=REF

// Padded, strided, dilated conv: the patches [C*KH*KW, N*OH*OW] gathered
// from the padded input, the filter collapsed to [F, C*KH*KW], a (f, j, k)
// reduction and an epilogue writing NCHW from the [F, N*OH*OW] accumulator.
// CHECK-DAG: #[[$GATHER:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d3, d0, d4 * 2 + d1, d5 + d2 * 2)>
// CHECK-DAG: #[[$ID6:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3, d4, d5)>
// CHECK-DAG: #[[$LHS:.*]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// CHECK-DAG: #[[$RHS:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[$OUT:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[$RSCALE:.*]] = affine_map<(d0, d1, d2) -> (d0)>
// CHECK-DAG: #[[$ACC:.*]] = affine_map<(d0, d1, d2, d3) -> (d1, d0 * 20 + d2 * 5 + d3)>
// CHECK-DAG: #[[$CH:.*]] = affine_map<(d0, d1, d2, d3) -> (d1)>
// CHECK-LABEL: func.func @conv2d
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x7x5xi8>, %[[W:.*]]: tensor<4x3x2x2xi8>, %[[B:.*]]: tensor<4xi32>)
// CHECK: %[[ZP:.*]] = arith.constant -3 : i8
// The padding: the zero point everywhere, then the input copied into the
// interior (top 1, left 0).
// CHECK: %[[FILL:.*]] = linalg.fill ins(%[[ZP]] : i8) outs(%{{.*}} : tensor<2x3x8x7xi8>)
// CHECK: %[[IN:.*]] = tensor.extract_slice %[[FILL]][0, 0, 1, 0] [2, 3, 7, 5] [1, 1, 1, 1]
// CHECK: %[[COPY:.*]] = linalg.generic {{.*}} ins(%[[X]] : tensor<2x3x7x5xi8>) outs(%[[IN]] : tensor<2x3x7x5xi8>)
// CHECK-NEXT: ^bb0(%[[A:.*]]: i8, %{{.*}}: i8):
// CHECK-NEXT: linalg.yield %[[A]] : i8
// CHECK: %[[PAD:.*]] = tensor.insert_slice %[[COPY]] into %[[FILL]][0, 0, 1, 0] [2, 3, 7, 5] [1, 1, 1, 1]
// CHECK: %[[PE:.*]] = tensor.empty() : tensor<3x2x2x2x4x5xi8>
// CHECK: %[[P:.*]] = linalg.generic {indexing_maps = [#[[$GATHER]], #[[$ID6]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%[[PAD]] : tensor<2x3x8x7xi8>) outs(%[[PE]] : tensor<3x2x2x2x4x5xi8>)
// CHECK: %[[P2:.*]] = tensor.collapse_shape %[[P]] {{\[}}[0, 1, 2], [3, 4, 5]] : tensor<3x2x2x2x4x5xi8> into tensor<12x40xi8>
// CHECK: %[[W2:.*]] = tensor.collapse_shape %[[W]] {{\[}}[0], [1, 2, 3]] : tensor<4x3x2x2xi8> into tensor<4x12xi8>
// CHECK: %[[ACCV:.*]] = linalg.generic {indexing_maps = [#[[$LHS]], #[[$RHS]], #[[$RSCALE]], #[[$OUT]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[P2]], %[[W2]], %{{.*}} : tensor<12x40xi8>, tensor<4x12xi8>, tensor<4xf32>) outs(%{{.*}} : tensor<4x40xi32>)
// CHECK: arith.extsi
// CHECK: arith.subi
// CHECK: arith.muli
// CHECK: arith.addi
// CHECK: linalg.generic {indexing_maps = [#[[$ACC]], #[[$CH]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[ACCV]], %[[B]], {{.*}} : tensor<4x40xi32>, tensor<4xi32>, {{.*}}) outs(%{{.*}} : tensor<2x4x4x5xi8>)
// CHECK: arith.maxnumf {{.*}} fastmath<nnan>
// CHECK: math.roundeven
// REF-LABEL: func.func @conv2d
// REF-NOT: collapse_shape
// REF: iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]
!x = !quantx.uniform<i8:f32, scale = 0.5, zero_point = -3>
!w = !quantx.uniform<i8<-127:127>:f32, axis = 0, scales = dense<[0.1, 0.2, 0.3, 0.4]> : tensor<4xf64>>
!y = !quantx.uniform<i8:f32, scale = 0.25, zero_point = 1>
func.func @conv2d(%x: tensor<2x3x7x5x!x>, %w: tensor<4x3x2x2x!w>, %b: tensor<4xi32>) -> tensor<2x4x4x5x!y> {
  %y = quantx.conv2d %x, %w bias(%b : tensor<4xi32>) {padding = array<i64: 1, 0, 0, 2>, strides = array<i64: 2, 1>, dilations = array<i64: 1, 2>, relu} : tensor<2x3x7x5x!x>, tensor<4x3x2x2x!w> -> tensor<2x4x4x5x!y>
  return %y : tensor<2x4x4x5x!y>
}

// -----

// A 1x1 filter of stride 1 on one image: the input is already the patch
// matrix, collapsed without a copy.
// CHECK-LABEL: func.func @conv2d_1x1
// CHECK-SAME: (%[[X:.*]]: tensor<1x8x5x6xi8>, %[[W:.*]]: tensor<16x8x1x1xi8>)
// CHECK-NOT: linalg.generic
// CHECK: %[[P:.*]] = tensor.collapse_shape %[[X]] {{\[}}[0, 1], [2, 3]] : tensor<1x8x5x6xi8> into tensor<8x30xi8>
// CHECK: %[[W2:.*]] = tensor.collapse_shape %[[W]] {{\[}}[0], [1, 2, 3]] : tensor<16x8x1x1xi8> into tensor<16x8xi8>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[P]], %[[W2]] : tensor<8x30xi8>, tensor<16x8xi8>) outs(%{{.*}} : tensor<16x30xi32>)
// CHECK: arith.extui
// CHECK: outs(%{{.*}} : tensor<1x16x5x6xi32>)
!x = !quantx.uniform<u8:f32, scale = 0.5, zero_point = 128>
!w = !quantx.uniform<i8:f32, scale = 0.25>
func.func @conv2d_1x1(%x: tensor<1x8x5x6x!x>, %w: tensor<16x8x1x1x!w>) -> tensor<1x16x5x6xi32> {
  %y = quantx.conv2d %x, %w : tensor<1x8x5x6x!x>, tensor<16x8x1x1x!w> -> tensor<1x16x5x6xi32>
  return %y : tensor<1x16x5x6xi32>
}

// -----

// Float activations with int8 filters (weight-only): the same im2col form,
// an f32 reduction of x * dequantize(w), padded with 0.0.
// CHECK-LABEL: func.func @conv2d_weight_only
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[FILL:.*]] = linalg.fill ins(%[[ZERO]] : f32) outs(%{{.*}} : tensor<1x2x6x6xf32>)
// CHECK: tensor.insert_slice %{{.*}} into %[[FILL]][0, 0, 1, 1] [1, 2, 4, 4] [1, 1, 1, 1]
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0, 1, 2], [3, 4, 5]] : tensor<2x3x3x1x4x4xf32> into tensor<18x16xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins({{.*}} : tensor<18x16xf32>, tensor<5x18xi8>) outs(%{{.*}} : tensor<5x16xf32>)
// CHECK: arith.sitofp
// CHECK: arith.mulf
// CHECK: arith.mulf
// CHECK: arith.addf
// REF-LABEL: func.func @conv2d_weight_only
// REF: iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]
!w = !quantx.uniform<i8:f32, scale = 0.25>
func.func @conv2d_weight_only(%x: tensor<1x2x4x4xf32>, %w: tensor<5x2x3x3x!w>) -> tensor<1x5x4x4xf32> {
  %y = quantx.conv2d %x, %w {padding = array<i64: 1, 1, 1, 1>} : tensor<1x2x4x4xf32>, tensor<5x2x3x3x!w> -> tensor<1x5x4x4xf32>
  return %y : tensor<1x5x4x4xf32>
}

// -----

// A grouped convolution with 3 or more input channels per group: one
// im2col product per group, on its slices of the input, filter, per-channel
// scales and bias, inserted into its channels of the result.
// CHECK-LABEL: func.func @conv2d_grouped_im2col
// CHECK-SAME: (%[[X:.*]]: tensor<1x6x5x5xi8>, %[[W:.*]]: tensor<4x3x3x3xi8>, %[[B:.*]]: tensor<4xi32>)
// CHECK: %[[B0:.*]] = tensor.extract_slice %[[B]][0] [2] [1]
// CHECK: %[[X0:.*]] = tensor.extract_slice %[[X]][0, 0, 0, 0] [1, 3, 5, 5] [1, 1, 1, 1]
// CHECK: %[[W0:.*]] = tensor.extract_slice %[[W]][0, 0, 0, 0] [2, 3, 3, 3] [1, 1, 1, 1]
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0, 1, 2], [3, 4, 5]] : tensor<3x3x3x1x3x3xi8> into tensor<27x9xi8>
// CHECK: tensor.collapse_shape %[[W0]] {{\[}}[0], [1, 2, 3]] : tensor<2x3x3x3xi8> into tensor<2x27xi8>
// CHECK: arith.constant dense<[1.000000e-01, 2.000000e-01]> : tensor<2xf32>
// CHECK: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: %[[Y0:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %[[B0]], %{{.*}} : tensor<2x9xi32>, tensor<2xi32>, tensor<2xf32>)
// CHECK: %[[O0:.*]] = tensor.insert_slice %[[Y0]] into %{{.*}}[0, 0, 0, 0] [1, 2, 3, 3]
// CHECK: tensor.extract_slice %[[X]][0, 3, 0, 0] [1, 3, 5, 5]
// CHECK: tensor.extract_slice %[[W]][2, 0, 0, 0] [2, 3, 3, 3]
// CHECK: arith.constant dense<[3.000000e-01, 4.000000e-01]> : tensor<2xf32>
// CHECK: %[[O1:.*]] = tensor.insert_slice %{{.*}} into %[[O0]][0, 2, 0, 0] [1, 2, 3, 3]
// CHECK: return %[[O1]]
!x = !quantx.uniform<u8:f32, scale = 0.5, zero_point = 3>
!w = !quantx.uniform<i8<-127:127>:f32, axis = 0, scales = dense<[0.1, 0.2, 0.3, 0.4]> : tensor<4xf64>>
func.func @conv2d_grouped_im2col(%x: tensor<1x6x5x5x!x>, %w: tensor<4x3x3x3x!w>, %b: tensor<4xi32>) -> tensor<1x4x3x3xf32> {
  %y = quantx.conv2d %x, %w bias(%b : tensor<4xi32>) {groups = 2 : i64} : tensor<1x6x5x5x!x>, tensor<4x3x3x3x!w> -> tensor<1x4x3x3xf32>
  return %y : tensor<1x4x3x3xf32>
}

// -----

// Grouped convolutions with 1 or 2 channels per group keep the direct
// contraction over (c, kh, kw).
// CHECK-LABEL: func.func @negative_conv2d_grouped
// CHECK-NOT: tensor.collapse_shape
// CHECK: iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]
!x = !quantx.uniform<i8:f32, scale = 0.5>
!w = !quantx.uniform<i8:f32, scale = 0.25>
func.func @negative_conv2d_grouped(%x: tensor<1x4x5x5x!x>, %w: tensor<4x2x3x3x!w>) -> tensor<1x4x3x3xi32> {
  %y = quantx.conv2d %x, %w {groups = 2 : i64} : tensor<1x4x5x5x!x>, tensor<4x2x3x3x!w> -> tensor<1x4x3x3xi32>
  return %y : tensor<1x4x3x3xi32>
}

// -----

// An input zero point known only at run time (dynamic quantization): the
// same im2col form, the zero point subtracted in the product's body
// (quantx-cpu-gemm packs the raw patches and subtracts z times the
// filter's row sums).
// CHECK-LABEL: func.func @conv2d_dynamic_zero_point
// CHECK: tensor.collapse_shape {{.*}} into tensor<36x9xi8>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins({{.*}}, %arg3 : tensor<36x9xi8>, tensor<4x36xi8>, tensor<f32>, tensor<i32>)
// CHECK-NEXT: ^bb0(%[[A:.*]]: i8, %{{.*}}: i8, %{{.*}}: f32, %[[Z:.*]]: i32, %{{.*}}: i32):
// CHECK-NEXT: %[[E:.*]] = arith.extui %[[A]] : i8 to i32
// CHECK-NEXT: arith.subi %[[E]], %[[Z]] : i32
!x = !quantx.uniform<u8:f32, offset = zero_point>
!w = !quantx.uniform<i8:f32, scale = 0.25>
func.func @conv2d_dynamic_zero_point(%x: tensor<1x4x5x5x!x>, %w: tensor<4x4x3x3x!w>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<1x4x3x3xf32> {
  %y = quantx.conv2d %x, %w input_scale(%s : tensor<f32>) input_offset(%z : tensor<i32>) : tensor<1x4x5x5x!x>, tensor<4x4x3x3x!w> -> tensor<1x4x3x3xf32>
  return %y : tensor<1x4x3x3xf32>
}

// -----

// A float linalg.conv_2d_nchw_fchw (the importer's form for float layers)
// and the tensor.pad of its input take the same route: fill + interior
// copy, patches, an (f, j, k) product, then the original output added
// over NCHW.
// CHECK-LABEL: func.func @float_linalg_conv
// CHECK-NOT: tensor.pad
// CHECK: %[[FILL:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<2x3x7x7xf32>)
// CHECK: tensor.insert_slice %{{.*}} into %[[FILL]][0, 0, 1, 1] [2, 3, 5, 5] [1, 1, 1, 1]
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0, 1, 2], [3, 4, 5]] : tensor<3x3x3x2x5x5xf32> into tensor<27x50xf32>
// CHECK: tensor.collapse_shape %arg1 {{\[}}[0], [1, 2, 3]] : tensor<4x3x3x3xf32> into tensor<4x27xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.*}}, %{{.*}} : tensor<4x27xf32>, tensor<27x50xf32>) outs(%{{.*}} : tensor<4x50xf32>)
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %arg2 : tensor<4x50xf32>, tensor<2x4x5x5xf32>) outs(%{{.*}} : tensor<2x4x5x5xf32>)
// CHECK-NOT: linalg.conv_2d_nchw_fchw
// REF-LABEL: func.func @float_linalg_conv
// REF: tensor.pad
// REF: linalg.conv_2d_nchw_fchw
func.func @float_linalg_conv(%x: tensor<2x3x5x5xf32>, %w: tensor<4x3x3x3xf32>, %init: tensor<2x4x5x5xf32>) -> tensor<2x4x5x5xf32> {
  %zero = arith.constant 0.0 : f32
  %p = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<2x3x5x5xf32> to tensor<2x3x7x7xf32>
  %c = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
         ins(%p, %w : tensor<2x3x7x7xf32>, tensor<4x3x3x3xf32>) outs(%init : tensor<2x4x5x5xf32>) -> tensor<2x4x5x5xf32>
  return %c : tensor<2x4x5x5xf32>
}

// -----

// A weight-only grouped convolution whose filter has a scale per 2 input
// channels: each group's im2col product reads its filters' rows of the
// scales, as blocks of 2 * 9 = 18 consecutive elements of a filter row.
// CHECK-LABEL: func.func @conv2d_weight_only_blocks_grouped
// CHECK: %[[S0:.*]] = arith.constant dense<{{\[}}[1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %[[S0]] : tensor<36x9xf32>, tensor<2x36xi4>, tensor<2x2xf32>) outs(%{{.*}} : tensor<2x9xf32>)
// CHECK: %[[S1:.*]] = arith.constant dense<{{\[}}[5.000000e+00, 6.000000e+00], [7.000000e+00, 8.000000e+00]]> : tensor<2x2xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %[[S1]] : tensor<36x9xf32>, tensor<2x36xi4>, tensor<2x2xf32>) outs(%{{.*}} : tensor<2x9xf32>)
!wb = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 2}, scales = dense<[[[[1.0]], [[2.0]]], [[[3.0]], [[4.0]]], [[[5.0]], [[6.0]]], [[[7.0]], [[8.0]]]]> : tensor<4x2x1x1xf64>>
func.func @conv2d_weight_only_blocks_grouped(%x: tensor<1x8x5x5xf32>, %w: tensor<4x4x3x3x!wb>) -> tensor<1x4x3x3xf32> {
  %y = quantx.conv2d %x, %w {groups = 2} : tensor<1x8x5x5xf32>, tensor<4x4x3x3x!wb> -> tensor<1x4x3x3xf32>
  return %y : tensor<1x4x3x3xf32>
}
