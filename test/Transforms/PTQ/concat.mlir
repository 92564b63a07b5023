// RUN: quantx-opt %s -quantx-insert-observers -quantx-apply-calibration='stats-file=%S/Inputs/concat-stats.json' -quantx-ptq='report=%t.json' -canonicalize -cse | FileCheck %s
// RUN: FileCheck %s --check-prefix=REPORT < %t.json

// Two layers whose outputs are concatenated (torch.cat as the importer
// emits it: insert_slice into an empty tensor) and read by a third layer.
// Both requantize to the third layer's input parameters ([0, 3]: scale
// 3/255, zero point 0), and the reshapes, the concatenation and the
// flatten run on the uint8 storage: no float tensor is left between the
// layers.

// CHECK-LABEL: func.func @main
// CHECK: %[[X:.*]] = quantx.quantize %{{.*}} : tensor<2x4xf32> -> tensor<2x4x!quantx.uniform<u8:f32, scale = 0.00784313{{[0-9]*}}, zero_point = 127>>
// CHECK: %[[A:.*]] = quantx.matmul %[[X]], %{{.*}} bias(%{{.*}}) {relu} : {{.*}} -> tensor<2x3x!quantx.uniform<u8:f32, scale = 0.0117647{{[0-9]*}}, zero_point = 0>>
// CHECK: %[[B:.*]] = quantx.matmul %[[X]], %{{.*}} bias(%{{.*}}) {relu} : {{.*}} -> tensor<2x3x!quantx.uniform<u8:f32, scale = 0.0117647{{[0-9]*}}, zero_point = 0>>
// CHECK-NOT: quantx.dequantize
// CHECK: %[[E:.*]] = tensor.empty() : tensor<2x3x2xi8>
// CHECK: %[[AS:.*]] = quantx.scast %[[A]] : {{.*}} -> tensor<2x3xi8>
// CHECK: %[[AE:.*]] = tensor.expand_shape %[[AS]] {{.*}} into tensor<2x3x1xi8>
// CHECK: %[[C0:.*]] = tensor.insert_slice %[[AE]] into %[[E]][0, 0, 0] [2, 3, 1] [1, 1, 1] : tensor<2x3x1xi8> into tensor<2x3x2xi8>
// CHECK: %[[BS:.*]] = quantx.scast %[[B]] : {{.*}} -> tensor<2x3xi8>
// CHECK: %[[BE:.*]] = tensor.expand_shape %[[BS]] {{.*}} into tensor<2x3x1xi8>
// CHECK: %[[C1:.*]] = tensor.insert_slice %[[BE]] into %[[C0]][0, 0, 1] [2, 3, 1] [1, 1, 1] : tensor<2x3x1xi8> into tensor<2x3x2xi8>
// CHECK: %[[F:.*]] = tensor.collapse_shape %[[C1]] {{.*}} : tensor<2x3x2xi8> into tensor<2x6xi8>
// CHECK: %[[Q:.*]] = quantx.scast %[[F]] : tensor<2x6xi8> -> tensor<2x6x!quantx.uniform<u8:f32, scale = 0.0117647{{[0-9]*}}, zero_point = 0>>
// CHECK-NOT: quantx.quantize
// CHECK: quantx.matmul %[[Q]], %{{.*}} bias(%{{.*}}) : {{.*}} -> tensor<2x2xf32>

// REPORT: "name": "matmul_0"
// REPORT: "output": "requantized to matmul_2"
// REPORT: "name": "matmul_1"
// REPORT: "output": "requantized to matmul_2"
// REPORT: "name": "matmul_2"
// REPORT: "output": "f32"

#id2 = affine_map<(d0, d1) -> (d0, d1)>
#ch2 = affine_map<(d0, d1) -> (d1)>
func.func @main(%x: tensor<2x4xf32>) -> tensor<2x2xf32> {
  %zero = arith.constant 0.0 : f32
  %wa = arith.constant dense<[[0.5, -0.25, 0.125], [0.25, 0.5, -0.5], [-0.125, 0.25, 0.5], [0.5, 0.5, 0.25]]> : tensor<4x3xf32>
  %wb = arith.constant dense<[[-0.5, 0.25, 0.5], [0.125, -0.25, 0.5], [0.5, 0.5, -0.125], [0.25, -0.5, 0.25]]> : tensor<4x3xf32>
  %ba = arith.constant dense<[0.1, -0.1, 0.2]> : tensor<3xf32>
  %bb = arith.constant dense<[-0.2, 0.1, 0.05]> : tensor<3xf32>
  %wc = arith.constant dense<[[0.5, -0.5], [0.25, 0.25], [-0.25, 0.5], [0.125, -0.125], [0.5, 0.25], [-0.5, 0.5]]> : tensor<6x2xf32>
  %bc = arith.constant dense<[0.05, -0.05]> : tensor<2xf32>
  %e = tensor.empty() : tensor<2x3xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  %ma = linalg.matmul ins(%x, %wa : tensor<2x4xf32>, tensor<4x3xf32>) outs(%f : tensor<2x3xf32>) -> tensor<2x3xf32>
  %aa = linalg.generic {indexing_maps = [#id2, #ch2, #id2], iterator_types = ["parallel", "parallel"]} ins(%ma, %ba : tensor<2x3xf32>, tensor<3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%in: f32, %b: f32, %o: f32):
    %s = arith.addf %in, %b : f32
    linalg.yield %s : f32
  } -> tensor<2x3xf32>
  %ra = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%aa : tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%in: f32, %o: f32):
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<2x3xf32>
  %mb = linalg.matmul ins(%x, %wb : tensor<2x4xf32>, tensor<4x3xf32>) outs(%f : tensor<2x3xf32>) -> tensor<2x3xf32>
  %ab = linalg.generic {indexing_maps = [#id2, #ch2, #id2], iterator_types = ["parallel", "parallel"]} ins(%mb, %bb : tensor<2x3xf32>, tensor<3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%in: f32, %b: f32, %o: f32):
    %s = arith.addf %in, %b : f32
    linalg.yield %s : f32
  } -> tensor<2x3xf32>
  %rb = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%ab : tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%in: f32, %o: f32):
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<2x3xf32>
  // Concatenate along a new last axis, then flatten: [2, 3, 2] -> [2, 6].
  %ea = tensor.expand_shape %ra [[0], [1, 2]] output_shape [2, 3, 1] : tensor<2x3xf32> into tensor<2x3x1xf32>
  %eb = tensor.expand_shape %rb [[0], [1, 2]] output_shape [2, 3, 1] : tensor<2x3xf32> into tensor<2x3x1xf32>
  %cat0 = tensor.empty() : tensor<2x3x2xf32>
  %cat1 = tensor.insert_slice %ea into %cat0[0, 0, 0] [2, 3, 1] [1, 1, 1] : tensor<2x3x1xf32> into tensor<2x3x2xf32>
  %cat2 = tensor.insert_slice %eb into %cat1[0, 0, 1] [2, 3, 1] [1, 1, 1] : tensor<2x3x1xf32> into tensor<2x3x2xf32>
  %flat = tensor.collapse_shape %cat2 [[0], [1, 2]] : tensor<2x3x2xf32> into tensor<2x6xf32>
  %e2 = tensor.empty() : tensor<2x2xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<2x2xf32>) -> tensor<2x2xf32>
  %mc = linalg.matmul ins(%flat, %wc : tensor<2x6xf32>, tensor<6x2xf32>) outs(%f2 : tensor<2x2xf32>) -> tensor<2x2xf32>
  %ac = linalg.generic {indexing_maps = [#id2, #ch2, #id2], iterator_types = ["parallel", "parallel"]} ins(%mc, %bc : tensor<2x2xf32>, tensor<2xf32>) outs(%e2 : tensor<2x2xf32>) {
  ^bb0(%in: f32, %b: f32, %o: f32):
    %s = arith.addf %in, %b : f32
    linalg.yield %s : f32
  } -> tensor<2x2xf32>
  return %ac : tensor<2x2xf32>
}
