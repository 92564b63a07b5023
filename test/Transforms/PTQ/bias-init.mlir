// RUN: quantx-opt %s -quantx-ptq -canonicalize | FileCheck %s

// A Linear layer whose accumulator starts at the broadcast bias (another
// form of nn.Linear) with a [K, N] weight: per-channel scales on axis 1,
// the bias becomes int32 at s_in * s_w[n] (input [-1, 1]: s_in = 2/255;
// weights 0.5 and 0.25 per column: s_w = 0.5/127, 0.25/127; bias 1 and
// -2 give round(1 / (2/255 * 0.5/127)) = 32385 and
// round(-2 / (2/255 * 0.25/127)) = -129540; the zero point is
// 0 - round(-1 / s_in) = 127, -1 / s_in being -127.49999 in f32).
// CHECK-LABEL: func.func @linear_bias_init
// CHECK-DAG: %[[B:.*]] = arith.constant dense<[32385, -129540]> : tensor<2xi32>
// CHECK-DAG: %[[W:.*]] = quantx.constant dense<127> : tensor<4x2xi8> -> tensor<4x2x!quantx.uniform<i8<-127:127>:f32, axis = 1, scales = dense<[0.0039370078{{[0-9]*}}, 0.0019685039{{[0-9]*}}]> : tensor<2xf64>>>
// CHECK: %[[Q:.*]] = quantx.quantize %{{.*}} -> tensor<3x4x!quantx.uniform<u8:f32, scale = 0.0078431377{{[0-9]*}}, zero_point = 127>>
// CHECK: quantx.matmul %[[Q]], %[[W]] bias(%[[B]] : tensor<2xi32>) :
// CHECK-SAME: -> tensor<3x2xf32>
// CHECK-NOT: linalg.matmul
func.func @linear_bias_init(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[0.5, 0.25], [0.5, 0.25], [0.5, 0.25], [0.5, 0.25]]> : tensor<4x2xf32>
  %b = arith.constant dense<[1.0, -2.0]> : tensor<2xf32>
  %e = tensor.empty() : tensor<3x2xf32>
  %init = linalg.broadcast ins(%b : tensor<2xf32>) outs(%e : tensor<3x2xf32>) dimensions = [0]
  %0 = quantx.observe %x {kind = #quantx.observer<min_max>, name = "matmul_0.input", stats = {min = -1.0 : f64, max = 1.0 : f64}} : tensor<3x4xf32>
  %y = linalg.matmul ins(%0, %w : tensor<3x4xf32>, tensor<4x2xf32>) outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}
