// RUN: quantx-opt %s -quantx-insert-observers -quantx-apply-calibration='stats-file=%S/Inputs/conv1d-stats.json' -quantx-ptq='report=%t.json' -canonicalize -cse | FileCheck %s
// RUN: FileCheck %s --check-prefix=REPORT < %t.json

// Conv1d + bias + ReLU, MaxPool1d and a second Conv1d as the importer
// writes them: the 2-D ops on [N, C, 1, L] between expand_shape and
// collapse_shape, the bias a [C, 1] constant read through (d1, d2), the
// ReLU on the collapsed [N, C, L] tensor. The bias and the ReLU are fused
// into the first quantx.conv2d, which requantizes to the second one's
// input; the max pooling and the reshapes around it run on the uint8
// storage: nothing between the two convolutions is float.

// CHECK-LABEL: func.func @conv1d
// CHECK: %[[C1:.*]] = quantx.conv2d %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<3xi32>) {relu} : {{.*}} -> tensor<1x3x1x6x!quantx.uniform<u8:f32, scale = 0.0078431{{[0-9]*}}, zero_point = 0>>
// CHECK: %[[S:.*]] = quantx.scast %[[C1]] : {{.*}} -> tensor<1x3x1x6xi8>
// CHECK: %[[P:.*]] = linalg.generic {{.*}} ins(%[[S]], %{{.*}} : tensor<1x3x1x6xi8>, tensor<1x2xf32>) outs(%{{.*}} : tensor<1x3x1x3xi8>)
// CHECK: arith.maxui
// CHECK: %[[Q:.*]] = quantx.scast %[[P]] : tensor<1x3x1x3xi8> -> tensor<1x3x1x3x!quantx.uniform<u8:f32, scale = 0.0078431{{[0-9]*}}, zero_point = 0>>
// CHECK: %[[C2:.*]] = quantx.conv2d %[[Q]], %{{.*}} : {{.*}} -> tensor<1x2x1x3xf32>
// CHECK-NOT: quantx.dequantize
// CHECK-NOT: arith.addf
// CHECK-NOT: arith.maximumf
// CHECK: tensor.collapse_shape %[[C2]] {{\[}}[0], [1], [2, 3]] : tensor<1x2x1x3xf32> into tensor<1x2x3xf32>

// REPORT: "bias": true
// REPORT: "name": "c1"
// REPORT: "output": "requantized to c2"
// REPORT: "relu_fused": true

#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#b4 = affine_map<(d0, d1, d2, d3) -> (d1, d2)>
func.func @conv1d(%x: tensor<1x2x6xf32>) -> tensor<1x2x3xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %x4 = tensor.expand_shape %x [[0], [1], [2, 3]] output_shape [1, 2, 1, 6] : tensor<1x2x6xf32> into tensor<1x2x1x6xf32>
  %w1 = arith.constant dense<[[[[0.5]], [[-0.25]]], [[[0.25]], [[0.5]]], [[[-0.5]], [[0.125]]]]> : tensor<3x2x1x1xf32>
  %e1 = tensor.empty() : tensor<1x3x1x6xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<1x3x1x6xf32>) -> tensor<1x3x1x6xf32>
  %c1 = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x4, %w1 : tensor<1x2x1x6xf32>, tensor<3x2x1x1xf32>) outs(%f1 : tensor<1x3x1x6xf32>) -> tensor<1x3x1x6xf32> loc("c1")
  %b1 = arith.constant dense<[[0.1], [-0.1], [0.2]]> : tensor<3x1xf32>
  %a1 = linalg.generic {indexing_maps = [#id4, #b4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%c1, %b1 : tensor<1x3x1x6xf32>, tensor<3x1xf32>) outs(%e1 : tensor<1x3x1x6xf32>) {
  ^bb0(%in: f32, %b: f32, %o: f32):
    %s = arith.addf %in, %b : f32
    linalg.yield %s : f32
  } -> tensor<1x3x1x6xf32>
  %a3 = tensor.collapse_shape %a1 [[0], [1], [2, 3]] : tensor<1x3x1x6xf32> into tensor<1x3x6xf32>
  %e3 = tensor.empty() : tensor<1x3x6xf32>
  %r = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%a3 : tensor<1x3x6xf32>) outs(%e3 : tensor<1x3x6xf32>) {
  ^bb0(%in: f32, %o: f32):
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<1x3x6xf32>
  %r4 = tensor.expand_shape %r [[0], [1], [2, 3]] output_shape [1, 3, 1, 6] : tensor<1x3x6xf32> into tensor<1x3x1x6xf32>
  %k = tensor.empty() : tensor<1x2xf32>
  %pe = tensor.empty() : tensor<1x3x1x3xf32>
  %pf = linalg.fill ins(%ninf : f32) outs(%pe : tensor<1x3x1x3xf32>) -> tensor<1x3x1x3xf32>
  %p = linalg.pooling_nchw_max {dilations = dense<1> : tensor<2xi64>, strides = dense<[1, 2]> : tensor<2xi64>} ins(%r4, %k : tensor<1x3x1x6xf32>, tensor<1x2xf32>) outs(%pf : tensor<1x3x1x3xf32>) -> tensor<1x3x1x3xf32>
  %p3 = tensor.collapse_shape %p [[0], [1], [2, 3]] : tensor<1x3x1x3xf32> into tensor<1x3x3xf32>
  %p4 = tensor.expand_shape %p3 [[0], [1], [2, 3]] output_shape [1, 3, 1, 3] : tensor<1x3x3xf32> into tensor<1x3x1x3xf32>
  %w2 = arith.constant dense<[[[[0.5]], [[-0.25]], [[0.125]]], [[[0.25]], [[0.5]], [[-0.5]]]]> : tensor<2x3x1x1xf32>
  %e2 = tensor.empty() : tensor<1x2x1x3xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x2x1x3xf32>) -> tensor<1x2x1x3xf32>
  %c2 = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%p4, %w2 : tensor<1x3x1x3xf32>, tensor<2x3x1x1xf32>) outs(%f2 : tensor<1x2x1x3xf32>) -> tensor<1x2x1x3xf32> loc("c2")
  %o = tensor.collapse_shape %c2 [[0], [1], [2, 3]] : tensor<1x2x1x3xf32> into tensor<1x2x3xf32>
  return %o : tensor<1x2x3xf32>
}
