// RUN: quantx-opt %s -quantx-insert-observers | FileCheck %s --check-prefix=OBS
// RUN: quantx-opt %s -quantx-insert-observers -quantx-apply-calibration='stats-file=%S/Inputs/activation-products-stats.json' -quantx-ptq='report=%t.json' | FileCheck %s
// RUN: FileCheck %s --check-prefix=REPORT < %t.json
// RUN: quantx-opt %s -quantx-ptq='mode=dynamic-int8' | FileCheck %s --check-prefix=DYN

// Attention's products of two activations (Q K^T as a batched matmul, and
// a 2-D product of two computed tensors) have no weights: they are not
// observed, stay float and are reported so, while the projection with a
// constant weight (named after its module by its location) is quantized.

// OBS-LABEL: func.func @attention
// OBS: quantx.observe %arg0 {kind = #quantx.observer<min_max>, name = "q_proj.input"}
// OBS: quantx.observe %{{.*}} {kind = #quantx.observer<min_max>, name = "q_proj.output"}
// OBS-NOT: quantx.observe

// CHECK-LABEL: func.func @attention
// CHECK: quantx.matmul
// CHECK: linalg.batch_matmul
// CHECK: linalg.matmul
// CHECK-NOT: quantx.

// DYN-LABEL: func.func @attention
// DYN: quantx.matmul
// DYN: linalg.batch_matmul
// DYN: linalg.matmul

// REPORT: "name": "q_proj"
// REPORT: "status": "quantized"
// REPORT: "name": "matmul_1"
// REPORT: "reason": "no constant operand (both are computed at run time): not quantized"
// REPORT: "status": "float"
// REPORT: "name": "matmul_2"
// REPORT: "reason": "no constant operand (both are computed at run time): not quantized"
// REPORT: "status": "float"

func.func @attention(%x: tensor<4x8xf32>, %k: tensor<2x4x4xf32>, %v: tensor<8x4xf32>) -> (tensor<4x8xf32>, tensor<2x4x4xf32>, tensor<4x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<0.25> : tensor<8x8xf32>
  %e = tensor.empty() : tensor<4x8xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  %q = linalg.matmul ins(%x, %w : tensor<4x8xf32>, tensor<8x8xf32>) outs(%f : tensor<4x8xf32>) -> tensor<4x8xf32> loc("q_proj")
  %q3 = tensor.expand_shape %q [[0, 1], [2]] output_shape [2, 2, 8] : tensor<4x8xf32> into tensor<2x2x8xf32>
  %qh = tensor.collapse_shape %q3 [[0], [1, 2]] : tensor<2x2x8xf32> into tensor<2x16xf32>
  %qh3 = tensor.expand_shape %qh [[0], [1, 2]] output_shape [2, 4, 4] : tensor<2x16xf32> into tensor<2x4x4xf32>
  %e3 = tensor.empty() : tensor<2x4x4xf32>
  %f3 = linalg.fill ins(%zero : f32) outs(%e3 : tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  %s = linalg.batch_matmul ins(%qh3, %k : tensor<2x4x4xf32>, tensor<2x4x4xf32>) outs(%f3 : tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  %e2 = tensor.empty() : tensor<4x4xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<4x4xf32>) -> tensor<4x4xf32>
  %o = linalg.matmul ins(%q, %v : tensor<4x8xf32>, tensor<8x4xf32>) outs(%f2 : tensor<4x4xf32>) -> tensor<4x4xf32>
  return %q, %s, %o : tensor<4x8xf32>, tensor<2x4x4xf32>, tensor<4x4xf32>
}
