// RUN: quantx-opt %s -quantx-ptq='mode=weight-int8' -quantx-cpu-pipeline | FileCheck %s
// RUN: quantx-opt %s -quantx-ptq='mode=weight-int4 group-size=4' -quantx-cpu-pipeline | FileCheck %s

// A weight-only product with no rows is not given a GEMV kernel (whose
// accumulator chains were 8 / M: a division by zero); it lowers as any
// other empty product.
// CHECK: llvm.func @main
func.func @main(%x: tensor<0x8xf32>) -> tensor<0x4xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<0.5> : tensor<8x4xf32>
  %e = tensor.empty() : tensor<0x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<0x4xf32>) -> tensor<0x4xf32>
  %mm = linalg.matmul ins(%x, %w : tensor<0x8xf32>, tensor<8x4xf32>) outs(%f : tensor<0x4xf32>) -> tensor<0x4xf32> loc("fc")
  return %mm : tensor<0x4xf32>
}
