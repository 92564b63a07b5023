// RUN: quantx-opt %s -quantx-ptq='mode=dynamic-int8' -verify-diagnostics

// W @ x with W a constant: the layer's weight operand (its right one) is
// computed at run time, and cannot be quantized when compiling. (Without
// any constant operand the product would stay float:
// activation-products.mlir.)
func.func @weight_on_the_left(%x: tensor<8x3xf32>) -> tensor<4x3xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<0.5> : tensor<4x8xf32>
  %e = tensor.empty() : tensor<4x3xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x3xf32>) -> tensor<4x3xf32>
  // expected-error @below {{cannot quantize layer 'matmul_0' (linalg.matmul): its weight is not a constant}}
  %y = linalg.matmul ins(%w, %x : tensor<4x8xf32>, tensor<8x3xf32>) outs(%f : tensor<4x3xf32>) -> tensor<4x3xf32>
  return %y : tensor<4x3xf32>
}
