// RUN: quantx-opt %s -quantx-insert-observers -quantx-apply-calibration='stats-file=%S/Inputs/relu6-stats.json' -quantx-ptq='report=%t.json' -canonicalize -cse | FileCheck %s
// RUN: FileCheck %s --check-prefix=REPORT < %t.json
// RUN: quantx-opt %s -quantx-insert-observers -quantx-apply-calibration='stats-file=%S/Inputs/relu6-wide-stats.json' -quantx-ptq -canonicalize -cse | FileCheck %s --check-prefix=WIDE
// RUN: quantx-opt %s -quantx-ptq='mode=dynamic-int8' -canonicalize | FileCheck %s --check-prefix=DYN

// Two Linear layers with bias and ReLU6 (a clamp to [0, 6], as the
// importer writes it). The first one's output, read by the second, is
// observed after the clamp: its real range [0, 5.1] lies within [0, 6], so
// the requantized uint8 output (zero point 0) saturates exactly where the
// clamp would, and the clamp is fused as a ReLU. The second one's output is
// f32, so its clamp stays a float op after it. With statistics that do not
// fit in [0, 6] (WIDE) or without statistics (dynamic), the clamp stays.

// CHECK-LABEL: func.func @relu6
// CHECK: %[[X:.*]] = quantx.quantize %arg0
// CHECK: %[[H:.*]] = quantx.matmul %[[X]], %{{.*}} bias(%{{.*}}) {relu} : {{.*}} -> tensor<2x3x!quantx.uniform<u8:f32, scale = 0.01999{{[0-9]*}}, zero_point = 0>>
// CHECK-NOT: quantx.dequantize
// CHECK: %[[Y:.*]] = quantx.matmul %[[H]], %{{.*}} bias(%{{.*}}) : {{.*}} -> tensor<2x2xf32>
// CHECK: %[[C:.*]] = linalg.generic {{.*}} ins(%[[Y]] : tensor<2x2xf32>)
// CHECK: arith.maximumf
// CHECK: arith.minimumf
// CHECK: return %[[C]]

// REPORT: "clamp_fused": true
// REPORT: "name": "fc1"
// REPORT: "output": "requantized to fc2"
// REPORT: "relu_fused": false
// REPORT: "clamp_fused": false
// REPORT: "name": "fc2"
// REPORT: "output": "f32"

// WIDE-LABEL: func.func @relu6
// WIDE: %[[H:.*]] = quantx.matmul {{.*}} -> tensor<2x3xf32>
// WIDE: %[[C:.*]] = linalg.generic {{.*}} ins(%[[H]] : tensor<2x3xf32>)
// WIDE: %[[Q:.*]] = quantx.quantize %[[C]]
// WIDE: quantx.matmul %[[Q]]

// DYN-LABEL: func.func @relu6
// DYN: %[[H:.*]] = quantx.matmul {{.*}} -> tensor<2x3xf32>
// DYN: linalg.generic {{.*}} ins(%[[H]] : tensor<2x3xf32>)

#id2 = affine_map<(d0, d1) -> (d0, d1)>
#ch2 = affine_map<(d0, d1) -> (d1)>
func.func @relu6(%x: tensor<2x4xf32>) -> tensor<2x2xf32> {
  %zero = arith.constant 0.0 : f32
  %w1 = arith.constant dense<[[0.5, -0.25, 0.125], [0.25, 0.5, -0.5], [-0.125, 0.25, 0.5], [0.5, 0.5, 0.25]]> : tensor<4x3xf32>
  %b1 = arith.constant dense<[0.1, -0.1, 0.2]> : tensor<3xf32>
  %w2 = arith.constant dense<[[0.5, -0.5], [0.25, 0.25], [-0.25, 0.5]]> : tensor<3x2xf32>
  %b2 = arith.constant dense<[0.05, -0.05]> : tensor<2xf32>
  %e1 = tensor.empty() : tensor<2x3xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<2x3xf32>) -> tensor<2x3xf32>
  %m1 = linalg.matmul ins(%x, %w1 : tensor<2x4xf32>, tensor<4x3xf32>) outs(%f1 : tensor<2x3xf32>) -> tensor<2x3xf32> loc("fc1")
  %a1 = linalg.generic {indexing_maps = [#id2, #ch2, #id2], iterator_types = ["parallel", "parallel"]} ins(%m1, %b1 : tensor<2x3xf32>, tensor<3xf32>) outs(%e1 : tensor<2x3xf32>) {
  ^bb0(%in: f32, %b: f32, %o: f32):
    %s = arith.addf %in, %b : f32
    linalg.yield %s : f32
  } -> tensor<2x3xf32>
  %r1 = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%a1 : tensor<2x3xf32>) outs(%e1 : tensor<2x3xf32>) {
  ^bb0(%in: f32, %o: f32):
    %lo = arith.constant 0.0 : f32
    %hi = arith.constant 6.0 : f32
    %m = arith.maximumf %in, %lo : f32
    %c = arith.minimumf %m, %hi : f32
    linalg.yield %c : f32
  } -> tensor<2x3xf32>
  %e2 = tensor.empty() : tensor<2x2xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<2x2xf32>) -> tensor<2x2xf32>
  %m2 = linalg.matmul ins(%r1, %w2 : tensor<2x3xf32>, tensor<3x2xf32>) outs(%f2 : tensor<2x2xf32>) -> tensor<2x2xf32> loc("fc2")
  %a2 = linalg.generic {indexing_maps = [#id2, #ch2, #id2], iterator_types = ["parallel", "parallel"]} ins(%m2, %b2 : tensor<2x2xf32>, tensor<2xf32>) outs(%e2 : tensor<2x2xf32>) {
  ^bb0(%in: f32, %b: f32, %o: f32):
    %s = arith.addf %in, %b : f32
    linalg.yield %s : f32
  } -> tensor<2x2xf32>
  %r2 = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%a2 : tensor<2x2xf32>) outs(%e2 : tensor<2x2xf32>) {
  ^bb0(%in: f32, %o: f32):
    %lo = arith.constant 0.0 : f32
    %hi = arith.constant 6.0 : f32
    %m = arith.maximumf %in, %lo : f32
    %c = arith.minimumf %m, %hi : f32
    linalg.yield %c : f32
  } -> tensor<2x2xf32>
  return %r2 : tensor<2x2xf32>
}
