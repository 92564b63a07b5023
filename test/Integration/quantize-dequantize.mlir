// JIT execution of the lowered element-wise ops against hand-computed
// results (every value below is worked out from the dialect's numerics).
// RUN: quantx-opt %s -quantx-cpu-pipeline | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils | FileCheck %s

func.func private @printMemrefI32(memref<*xi32>) attributes {llvm.emit_c_interface}
func.func private @printMemrefF32(memref<*xf32>) attributes {llvm.emit_c_interface}

func.func @print_i8(%t: tensor<?xi8>) {
  %w = arith.extsi %t : tensor<?xi8> to tensor<?xi32>
  %m = bufferization.to_buffer %w : tensor<?xi32> to memref<?xi32>
  %u = memref.cast %m : memref<?xi32> to memref<*xi32>
  call @printMemrefI32(%u) : (memref<*xi32>) -> ()
  return
}

func.func @print_u8(%t: tensor<?xi8>) {
  %w = arith.extui %t : tensor<?xi8> to tensor<?xi32>
  %m = bufferization.to_buffer %w : tensor<?xi32> to memref<?xi32>
  %u = memref.cast %m : memref<?xi32> to memref<*xi32>
  call @printMemrefI32(%u) : (memref<*xi32>) -> ()
  return
}

func.func @print_f32(%t: tensor<?xf32>) {
  %m = bufferization.to_buffer %t : tensor<?xf32> to memref<?xf32>
  %u = memref.cast %m : memref<?xf32> to memref<*xf32>
  call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  return
}

!s8 = !quantx.uniform<i8:f32, scale = 5.000000e-01>
!u8 = !quantx.uniform<u8:f32, scale = 5.000000e-01, zero_point = 128>

func.func @main() {
  // Ties: 0.25/0.5 = 0.5 -> 0 (even), 0.75/0.5 = 1.5 -> 2, -1.25/0.5 = -2.5
  // -> -2; 1000 saturates to 127, -1000 to -128, NaN -> 0.
  %nan = arith.constant 0x7FC00000 : f32
  %x0 = arith.constant dense<[0.25, 0.75, -1.25, 1000.0, -1000.0, 3.0]> : tensor<6xf32>
  %c5 = arith.constant 5 : index
  %x = tensor.insert %nan into %x0[%c5] : tensor<6xf32>
  %q = quantx.quantize %x : tensor<6xf32> -> tensor<6x!s8>
  %qi = quantx.scast %q : tensor<6x!s8> -> tensor<6xi8>
  %qd = tensor.cast %qi : tensor<6xi8> to tensor<?xi8>
  // CHECK: [0,  2,  -2,  127,  -128,  0]
  call @print_i8(%qd) : (tensor<?xi8>) -> ()

  // Half away from zero (ggml): 0.5 -> 1, 1.5 -> 2, -2.5 -> -3.
  %a = quantx.quantize %x {rounding = #quantx.rounding<half_away_from_zero>} : tensor<6xf32> -> tensor<6x!s8>
  %ai = quantx.scast %a : tensor<6x!s8> -> tensor<6xi8>
  %ad = tensor.cast %ai : tensor<6xi8> to tensor<?xi8>
  // CHECK: [1,  2,  -3,  127,  -128,  0]
  call @print_i8(%ad) : (tensor<?xi8>) -> ()

  // Unsigned with a zero point: storage 128 + round(x / 0.5), printed as
  // signed bytes (128 -> -128): 128, 130, 126, 255 -> -1, 0, 128 (NaN).
  %u = quantx.quantize %x : tensor<6xf32> -> tensor<6x!u8>
  %ui = quantx.scast %u : tensor<6x!u8> -> tensor<6xi8>
  %ud = tensor.cast %ui : tensor<6xi8> to tensor<?xi8>
  // CHECK: [-128,  -126,  126,  -1,  0,  -128]
  call @print_i8(%ud) : (tensor<?xi8>) -> ()

  // Dequantize the unsigned values back: 0.5 * (q - 128).
  %d = quantx.dequantize %u : tensor<6x!u8> -> tensor<6xf32>
  %dd = tensor.cast %d : tensor<6xf32> to tensor<?xf32>
  // CHECK: [0,  1,  -1,  63.5,  -64,  0]
  call @print_f32(%dd) : (tensor<?xf32>) -> ()

  // quantx.add: a = 0.5 * (qa - 128) = [1, 0, 36, 63.5, -64, 1],
  // b = 0.25 * (qb - 10) = [0, 0.5, 1, 61.25, -2.5, 0.25]; the sum
  // [1, 0.5, 37, 124.75, -66.5, 1.25] / 0.5 = [2, 1, 74, 249.5, -133, 2.5]
  // rounds half to even to [2, 1, 74, 250, -133, 2]; + 120 and saturated:
  // [122, 121, 194, 255, 0, 122].
  %qa0 = arith.constant dense<[130, 128, 200, 255, 0, 130]> : tensor<6xi8>
  %qb0 = arith.constant dense<[10, 12, 14, 255, 0, 11]> : tensor<6xi8>
  %qa = quantx.scast %qa0 : tensor<6xi8> -> tensor<6x!u8>
  %qb = quantx.scast %qb0 : tensor<6xi8> -> tensor<6x!quantx.uniform<u8:f32, scale = 0.25, zero_point = 10>>
  %sum = quantx.add %qa, %qb : tensor<6x!u8>, tensor<6x!quantx.uniform<u8:f32, scale = 0.25, zero_point = 10>>
      -> tensor<6x!quantx.uniform<u8:f32, scale = 0.5, zero_point = 120>>
  %si = quantx.scast %sum : tensor<6x!quantx.uniform<u8:f32, scale = 0.5, zero_point = 120>> -> tensor<6xi8>
  %sd = tensor.cast %si : tensor<6xi8> to tensor<?xi8>
  // CHECK: [122,  121,  194,  255,  0,  122]
  call @print_u8(%sd) : (tensor<?xi8>) -> ()
  return
}
