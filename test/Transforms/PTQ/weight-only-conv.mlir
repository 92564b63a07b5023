// RUN: quantx-opt %s -quantx-ptq='mode=weight-int4 group-size=18 report=%t.json' -canonicalize | FileCheck %s --check-prefix=G18
// RUN: FileCheck %s --check-prefix=G18REPORT < %t.json
// RUN: quantx-opt %s -quantx-ptq='mode=weight-int4 group-size=12 report=%t.12.json' -canonicalize | FileCheck %s --check-prefix=G12
// RUN: FileCheck %s --check-prefix=G12REPORT < %t.12.json
// RUN: quantx-opt %s -quantx-ptq='mode=weight-int4 group-size=36' -canonicalize | FileCheck %s --check-prefix=G36
// RUN: quantx-opt %s -quantx-ptq='mode=weight-int8' -canonicalize | FileCheck %s --check-prefix=W8
// RUN: quantx-opt %s -quantx-ptq='mode=weight-int4 group-size=18' -convert-quantx-to-linalg | FileCheck %s --check-prefix=LOWER

// Weight-only convolutions: the filter [F = 3, C = 4, 3, 3] is quantized
// and the activations stay f32. group-size counts elements of a filter's
// flattened C * KH * KW = 36 and must be a whole number of input channels
// (a multiple of the 9 taps); otherwise each filter gets one scale.

// Groups of 18 = 2 input channels: blocks {0 : 1, 1 : 2}, scales [3, 2, 1, 1].
// Filter 0's first group holds 0.75 (scale 0.75 / 7), the others reach
// 0.375 (scale 0.375 / 7).
// G18-LABEL: func.func @main
// G18: quantx.constant {{.*}} : tensor<3x4x3x3xi4> -> tensor<3x4x3x3x!quantx.uniform<i4<-7:7>:f32, blocks = {0 : 1, 1 : 2}, scales = dense<{{\[\[\[\[}}0.1071428{{[0-9]*}}]], {{\[\[}}0.05357142{{[0-9]*}}]]], {{.*}}> : tensor<3x2x1x1xf64>>>
// G18: quantx.conv2d %arg0, %{{.*}} : tensor<1x4x5x5xf32>, {{.*}} -> tensor<1x3x3x3xf32>
// G18REPORT: "weight_bits": 4
// G18REPORT: "weight_granularity": "per_group"
// G18REPORT: "weight_group": 18

// 12 is not a multiple of 9: one scale per filter, and the report says why.
// G12: quantx.constant {{.*}} -> tensor<3x4x3x3x!quantx.uniform<i4<-7:7>:f32, axis = 0, scales = dense<[0.1071428{{[0-9]*}}, 0.05357142{{[0-9]*}}, 0.05357142{{[0-9]*}}]> : tensor<3xf64>>>
// G12REPORT: "weight_granularity": "per_channel"
// G12REPORT: "weight_group": 36
// G12REPORT: "weight_note": "group-size 12 is not a whole number of the filter's input channels (9 taps each, 36 per output channel): one scale per output channel"

// A group of a whole filter is one scale per filter.
// G36: -> tensor<3x4x3x3x!quantx.uniform<i4<-7:7>:f32, axis = 0, scales = dense<

// W8: quantx.constant {{.*}} -> tensor<3x4x3x3x!quantx.uniform<i8<-127:127>:f32, axis = 0, scales =
// W8: quantx.conv2d %arg0

// Lowered: the im2col product's filter [3, 36] reads its scales [3, 2] at
// (f, k floordiv 18), dequantizing inside the f32 reduction.
// LOWER: #[[SMAP:.*]] = affine_map<(d0, d1, d2) -> (d0, d2 floordiv 18)>
// LOWER: func.func @main
// LOWER: tensor.collapse_shape %{{.*}} {{\[}}[0], [1, 2, 3]] : tensor<3x4x3x3xi4> into tensor<3x36xi4>
// LOWER: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #[[SMAP]], #{{.*}}], iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<36x9xf32>, tensor<3x36xi4>, tensor<3x2xf32>) outs(%{{.*}} : tensor<3x9xf32>)
// LOWER: arith.sitofp
// LOWER: arith.mulf
// LOWER: arith.mulf
// LOWER: arith.addf

func.func @main(%x: tensor<1x4x5x5xf32>) -> tensor<1x3x3x3xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<[[[[0.750, -0.250, -0.125], [0.000, 0.125, 0.250], [0.375, -0.375, -0.250]], [[-0.125, 0.000, 0.125], [0.250, 0.375, -0.375], [-0.250, -0.125, 0.000]], [[0.125, 0.250, 0.375], [-0.375, -0.250, -0.125], [0.000, 0.125, 0.250]], [[0.375, -0.375, -0.250], [-0.125, 0.000, 0.125], [0.250, 0.375, -0.375]]], [[[-0.250, -0.125, 0.000], [0.125, 0.250, 0.375], [-0.375, -0.250, -0.125]], [[0.000, 0.125, 0.250], [0.375, -0.375, -0.250], [-0.125, 0.000, 0.125]], [[0.250, 0.375, -0.375], [-0.250, -0.125, 0.000], [0.125, 0.250, 0.375]], [[-0.375, -0.250, -0.125], [0.000, 0.125, 0.250], [0.375, -0.375, -0.250]]], [[[-0.125, 0.000, 0.125], [0.250, 0.375, -0.375], [-0.250, -0.125, 0.000]], [[0.125, 0.250, 0.375], [-0.375, -0.250, -0.125], [0.000, 0.125, 0.250]], [[0.375, -0.375, -0.250], [-0.125, 0.000, 0.125], [0.250, 0.375, -0.375]], [[-0.250, -0.125, 0.000], [0.125, 0.250, 0.375], [-0.375, -0.250, -0.125]]]]> : tensor<3x4x3x3xf32>
  %e = tensor.empty() : tensor<1x3x3x3xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x3x3x3xf32>) -> tensor<1x3x3x3xf32>
  %c = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
         ins(%x, %w : tensor<1x4x5x5xf32>, tensor<3x4x3x3xf32>) outs(%f : tensor<1x3x3x3xf32>) -> tensor<1x3x3x3xf32> loc("conv")
  return %c : tensor<1x3x3x3xf32>
}
