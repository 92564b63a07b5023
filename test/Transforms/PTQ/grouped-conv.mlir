// RUN: quantx-opt %s -split-input-file -quantx-insert-observers | FileCheck %s --check-prefix=OBS
// RUN: quantx-opt %s -split-input-file -quantx-insert-observers -quantx-apply-calibration='stats-file=%S/Inputs/grouped-conv-stats.json' -quantx-ptq -canonicalize -cse | FileCheck %s
// RUN: quantx-opt %s -split-input-file -quantx-ptq='mode=dynamic-int8' -canonicalize | FileCheck %s --check-prefix=DYN

// A depthwise convolution (groups = 4, the importer's form: the padded
// NCHW input split into groups by expand_shape, the grouped result merged
// back by collapse_shape) with bias and ReLU, read by a grouped 1x1
// convolution (groups = 2). Each becomes one quantx.conv2d with its groups
// and the [F, C/G, KH, KW] filter; the reshapes and the pad are folded.

// Observations are of the NCHW tensors: the depthwise conv's input before
// the pad, and its output after the ReLU, which the second conv reads (so
// that observation is its input's too).
// OBS-LABEL: func.func @grouped
// OBS: %[[I:.*]] = quantx.observe %arg0 {kind = #quantx.observer<min_max>, name = "conv2d_0.input"} : tensor<1x4x4x4xf32>
// OBS: tensor.pad %[[I]]
// OBS: %[[O:.*]] = quantx.observe %{{.*}} {kind = #quantx.observer<min_max>, name = "conv2d_0.output"} : tensor<1x4x4x4xf32>
// OBS: tensor.expand_shape %[[O]] {{\[}}[0], [1, 2], [3], [4]]
// OBS: quantx.observe %{{.*}} {kind = #quantx.observer<min_max>, name = "conv2d_1.output"} : tensor<1x4x4x4xf32>

// CHECK-LABEL: func.func @grouped
// CHECK: %[[X:.*]] = quantx.quantize %arg0 : tensor<1x4x4x4xf32> -> tensor<1x4x4x4x!quantx.uniform<u8:f32, scale = 0.00784313{{[0-9]*}}, zero_point = 127>>
// CHECK: %[[D:.*]] = quantx.conv2d %[[X]], %{{.*}} bias(%{{.*}} : tensor<4xi32>) {groups = 4 : i64, padding = array<i64: 1, 1, 1, 1>, relu} : tensor<1x4x4x4x!quantx.uniform<u8:f32, {{.*}}>>, tensor<4x1x3x3x!quantx.uniform<i8<-127:127>:f32, axis = 0, {{.*}}>> -> tensor<1x4x4x4x!quantx.uniform<u8:f32, scale = 0.00784313{{[0-9]*}}, zero_point = 0>>
// CHECK-NOT: quantx.dequantize
// CHECK: quantx.conv2d %[[D]], %{{.*}} {groups = 2 : i64} : {{.*}}, tensor<4x2x1x1x!quantx.uniform<i8<-127:127>:f32, axis = 0, {{.*}}>> -> tensor<1x4x4x4xf32>
// CHECK-NOT: tensor.expand_shape
// CHECK-NOT: linalg.conv

// DYN-LABEL: func.func @grouped
// DYN: quantx.conv2d {{.*}} {groups = 4 : i64, padding = array<i64: 1, 1, 1, 1>, relu}
// DYN: quantx.conv2d {{.*}} {groups = 2 : i64}
// DYN-NOT: linalg.conv

#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#ch4 = affine_map<(d0, d1, d2, d3) -> (d1)>
func.func @grouped(%x: tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32> {
  %zero = arith.constant 0.0 : f32
  %wd = arith.constant dense<[[[[[0.5, -0.25, 0.125], [0.25, 0.5, -0.5], [-0.125, 0.25, 0.5]]]],
                              [[[[0.25, 0.5, -0.5], [0.5, -0.25, 0.125], [0.5, 0.5, 0.25]]]],
                              [[[[-0.5, 0.25, 0.5], [0.125, -0.25, 0.5], [0.5, 0.5, -0.125]]]],
                              [[[[0.25, -0.5, 0.25], [0.5, 0.25, -0.25], [0.125, -0.125, 0.5]]]]]> : tensor<4x1x1x3x3xf32>
  %bd = arith.constant dense<[0.1, -0.1, 0.2, 0.05]> : tensor<4xf32>
  %wp = arith.constant dense<[[[[[0.5]], [[-0.25]]], [[[0.25]], [[0.5]]]],
                              [[[[-0.5]], [[0.125]]], [[[0.5]], [[0.25]]]]]> : tensor<2x2x2x1x1xf32>
  %p = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i0: index, %i1: index, %i2: index, %i3: index):
    tensor.yield %zero : f32
  } : tensor<1x4x4x4xf32> to tensor<1x4x6x6xf32>
  %pg = tensor.expand_shape %p [[0], [1, 2], [3], [4]] output_shape [1, 4, 1, 6, 6] : tensor<1x4x6x6xf32> into tensor<1x4x1x6x6xf32>
  %e5 = tensor.empty() : tensor<1x4x1x4x4xf32>
  %f5 = linalg.fill ins(%zero : f32) outs(%e5 : tensor<1x4x1x4x4xf32>) -> tensor<1x4x1x4x4xf32>
  %cd = linalg.conv_2d_ngchw_gfchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%pg, %wd : tensor<1x4x1x6x6xf32>, tensor<4x1x1x3x3xf32>) outs(%f5 : tensor<1x4x1x4x4xf32>) -> tensor<1x4x1x4x4xf32>
  %cdn = tensor.collapse_shape %cd [[0], [1, 2], [3], [4]] : tensor<1x4x1x4x4xf32> into tensor<1x4x4x4xf32>
  %e = tensor.empty() : tensor<1x4x4x4xf32>
  %ad = linalg.generic {indexing_maps = [#id4, #ch4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%cdn, %bd : tensor<1x4x4x4xf32>, tensor<4xf32>) outs(%e : tensor<1x4x4x4xf32>) {
  ^bb0(%in: f32, %b: f32, %o: f32):
    %s = arith.addf %in, %b : f32
    linalg.yield %s : f32
  } -> tensor<1x4x4x4xf32>
  %rd = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%ad : tensor<1x4x4x4xf32>) outs(%e : tensor<1x4x4x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<1x4x4x4xf32>
  %rg = tensor.expand_shape %rd [[0], [1, 2], [3], [4]] output_shape [1, 2, 2, 4, 4] : tensor<1x4x4x4xf32> into tensor<1x2x2x4x4xf32>
  %e6 = tensor.empty() : tensor<1x2x2x4x4xf32>
  %f6 = linalg.fill ins(%zero : f32) outs(%e6 : tensor<1x2x2x4x4xf32>) -> tensor<1x2x2x4x4xf32>
  %cp = linalg.conv_2d_ngchw_gfchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%rg, %wp : tensor<1x2x2x4x4xf32>, tensor<2x2x2x1x1xf32>) outs(%f6 : tensor<1x2x2x4x4xf32>) -> tensor<1x2x2x4x4xf32>
  %out = tensor.collapse_shape %cp [[0], [1, 2], [3], [4]] : tensor<1x2x2x4x4xf32> into tensor<1x4x4x4xf32>
  return %out : tensor<1x4x4x4xf32>
}
