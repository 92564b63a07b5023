// RUN: quantx-opt %s -quantx-insert-observers | FileCheck %s --check-prefix=OBS
// RUN: quantx-opt %s -quantx-insert-observers -quantx-apply-calibration='stats-file=%S/Inputs/avg-pool-stats.json' -quantx-ptq='report=%t.json' -canonicalize -cse | FileCheck %s
// RUN: FileCheck %s --check-prefix=REPORT < %t.json
// RUN: quantx-opt %s -quantx-ptq='mode=dynamic-int8' -canonicalize | FileCheck %s --check-prefix=DYN

// Average pooling as the importer writes it (a sum pooling from zero, then
// a multiplication by 1/4) between a conv + ReLU and a Linear. In static
// int8 the conv requantizes to the pooling's input parameters (zero point
// 0, scale 2/255), the pooling sums the uint8 storage into i32 (extui,
// addi) read as an i32 quantized tensor of scale (2/255) * 0.25 and zero
// point 4 * 0, and requantizes it to the Linear's input parameters
// (scale 1/255): no float between the layers. In @float_reader the pooled
// value goes to a tanh: the pooling stays float.

// OBS-LABEL: func.func @avg
// OBS: name = "conv.input"
// OBS: name = "conv.output"
// OBS: linalg.pooling_nchw_sum
// OBS: name = "fc.input"
// OBS-LABEL: func.func @float_reader
// OBS: name = "pool_f.input"
// OBS: linalg.pooling_nchw_sum

// CHECK-LABEL: func.func @avg
// CHECK: %[[C:.*]] = quantx.conv2d {{.*}} {relu} : {{.*}} -> tensor<1x2x4x4x!quantx.uniform<u8:f32, scale = 0.0078431{{[0-9]*}}, zero_point = 0>>
// CHECK: %[[I:.*]] = quantx.scast %[[C]] : {{.*}} -> tensor<1x2x4x4xi8>
// CHECK: %[[S:.*]] = linalg.generic {{.*}} ins(%[[I]], %{{.*}} : tensor<1x2x4x4xi8>, tensor<2x2xf32>) outs(%{{.*}} : tensor<1x2x2x2xi32>)
// CHECK: arith.extui %{{.*}} : i8 to i32
// CHECK: arith.addi
// CHECK: %[[Q:.*]] = quantx.scast %[[S]] : tensor<1x2x2x2xi32> -> tensor<1x2x2x2x!quantx.uniform<i32:f32, scale = 0.0019607{{[0-9]*}}, zero_point = 0>>
// CHECK: %[[R:.*]] = quantx.requantize %[[Q]] : {{.*}} -> tensor<1x2x2x2x!quantx.uniform<u8:f32, scale = 0.0039215{{[0-9]*}}, zero_point = 0>>
// CHECK-NOT: quantx.dequantize
// CHECK-NOT: linalg.pooling
// CHECK: quantx.matmul {{.*}} -> tensor<1x3xf32>
// CHECK-LABEL: func.func @float_reader
// CHECK: linalg.pooling_nchw_sum
// CHECK: math.tanh

// REPORT: "pools": [
// REPORT: "input_scale": 0.0078431{{[0-9]*}}
// REPORT: "name": "pool"
// REPORT: "output": "requantized to fc"
// REPORT: "status": "quantized"
// REPORT: "name": "pool_f"
// REPORT: "reason": "no reader of its result is quantized"
// REPORT: "status": "float"

// DYN-LABEL: func.func @avg
// DYN: linalg.pooling_nchw_sum

#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#ch4 = affine_map<(d0, d1, d2, d3) -> (d1)>
func.func @avg(%x: tensor<1x1x4x4xf32>) -> tensor<1x3xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<[[[[0.5]]], [[[-0.25]]]]> : tensor<2x1x1x1xf32>
  %e = tensor.empty() : tensor<1x2x4x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %c = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x, %w : tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) outs(%f : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("conv")
  %r = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%c : tensor<1x2x4x4xf32>) outs(%e : tensor<1x2x4x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    %z = arith.constant 0.0 : f32
    %m = arith.maximumf %in, %z : f32
    linalg.yield %m : f32
  } -> tensor<1x2x4x4xf32>
  %k = tensor.empty() : tensor<2x2xf32>
  %pe = tensor.empty() : tensor<1x2x2x2xf32>
  %pf = linalg.fill ins(%zero : f32) outs(%pe : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %sum = linalg.pooling_nchw_sum {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%r, %k : tensor<1x2x4x4xf32>, tensor<2x2xf32>) outs(%pf : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> loc("pool")
  %avg = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%sum : tensor<1x2x2x2xf32>) outs(%pe : tensor<1x2x2x2xf32>) {
  ^bb0(%in: f32, %o: f32):
    %q = arith.constant 0.25 : f32
    %m = arith.mulf %in, %q : f32
    linalg.yield %m : f32
  } -> tensor<1x2x2x2xf32>
  %flat = tensor.collapse_shape %avg [[0], [1, 2, 3]] : tensor<1x2x2x2xf32> into tensor<1x8xf32>
  %w2 = arith.constant dense<0.125> : tensor<8x3xf32>
  %e2 = tensor.empty() : tensor<1x3xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x3xf32>) -> tensor<1x3xf32>
  %o = linalg.matmul ins(%flat, %w2 : tensor<1x8xf32>, tensor<8x3xf32>) outs(%f2 : tensor<1x3xf32>) -> tensor<1x3xf32> loc("fc")
  return %o : tensor<1x3xf32>
}

func.func @float_reader(%x: tensor<1x2x4x4xf32>) -> tensor<1x2x2x2xf32> {
  %zero = arith.constant 0.0 : f32
  %k = tensor.empty() : tensor<2x2xf32>
  %pe = tensor.empty() : tensor<1x2x2x2xf32>
  %pf = linalg.fill ins(%zero : f32) outs(%pe : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %sum = linalg.pooling_nchw_sum {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%x, %k : tensor<1x2x4x4xf32>, tensor<2x2xf32>) outs(%pf : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> loc("pool_f")
  %avg = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%sum : tensor<1x2x2x2xf32>) outs(%pe : tensor<1x2x2x2xf32>) {
  ^bb0(%in: f32, %o: f32):
    %q = arith.constant 0.25 : f32
    %m = arith.mulf %in, %q : f32
    linalg.yield %m : f32
  } -> tensor<1x2x2x2xf32>
  %t = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%avg : tensor<1x2x2x2xf32>) outs(%pe : tensor<1x2x2x2xf32>) {
  ^bb0(%in: f32, %o: f32):
    %v = math.tanh %in : f32
    linalg.yield %v : f32
  } -> tensor<1x2x2x2xf32>
  return %t : tensor<1x2x2x2xf32>
}
