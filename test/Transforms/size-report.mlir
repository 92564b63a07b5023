// RUN: quantx-opt %s -quantx-size-report -o /dev/null | FileCheck %s
// RUN: quantx-opt %s -quantx-size-report=output=%t.json | FileCheck %s --check-prefix=IR
// RUN: FileCheck %s < %t.json
// RUN: not quantx-opt %s -quantx-size-report=output=%t.missing/dir/r.json -o %t.out 2>&1 | FileCheck %s --check-prefix=NODIR
// RUN: not ls %t.missing

// Bytes at the storage width: 4x3 f32 (48) + 3 i32 (12) + 2x8 packed int4
// (8, plus 2 f32 scales per axis 0) + 2x2 uint4 with a zero point (2, plus
// one f32 scale and one i32 offset) + 4x6 int8 in blocks of 3 (24, plus
// 4x2 f32 scales) + 3 index (24) + a constant 16-element f16 global (32).
// The splat zero tensor (64x64 f32) and the scalar constant are not
// weights; the splat is counted apart. An int8 weight with dynamic
// parameters is an i8 constant (6) beside its scales (2 f32); it becomes
// quantized through quantx.scast.
// CHECK: "by_element_type": {
// CHECK-NEXT:   "!quantx.uniform<i4>": {
// CHECK-NEXT:     "bytes": 16,
// CHECK-NEXT:     "constants": 1
// CHECK:        "!quantx.uniform<i8>": {
// CHECK-NEXT:     "bytes": 56,
// CHECK-NEXT:     "constants": 1
// CHECK:        "!quantx.uniform<u4>": {
// CHECK-NEXT:     "bytes": 10,
// CHECK-NEXT:     "constants": 1
// CHECK:        "f16": {
// CHECK-NEXT:     "bytes": 32,
// CHECK-NEXT:     "constants": 1
// CHECK:        "f32": {
// CHECK-NEXT:     "bytes": 56,
// CHECK-NEXT:     "constants": 2
// CHECK:        "i32": {
// CHECK-NEXT:     "bytes": 12,
// CHECK-NEXT:     "constants": 1
// CHECK:        "i8": {
// CHECK-NEXT:     "bytes": 6,
// CHECK-NEXT:     "constants": 1
// CHECK:        "index": {
// CHECK-NEXT:     "bytes": 24,
// CHECK-NEXT:     "constants": 1
// CHECK:      "constants": 9,
// CHECK-NEXT: "data_bytes": 164,
// CHECK-NEXT: "format": "quantx-size-report",
// CHECK-NEXT: "parameter_bytes": 48,
// CHECK-NEXT: "splat_bytes": 16384,
// CHECK-NEXT: "splat_constants": 1,
// CHECK-NEXT: "total_bytes": 212,
// CHECK-NEXT: "version": 1

// With an output file the IR passes through unchanged.
// IR: memref.global "private" constant @table
// IR: func.func @weights

// NODIR: error: cannot write size report '{{.*}}r.json'

memref.global "private" constant @table : memref<16xf16> = dense<[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0]>

func.func @weights() -> (tensor<4x3xf32>, tensor<3xi32>,
    tensor<2x8x!quantx.uniform<i4:f32, axis = 0, scales = dense<[0.5, 0.25]> : tensor<2xf64>>>,
    tensor<2x2x!quantx.uniform<u4:f32, scale = 1.0, zero_point = 8>>,
    tensor<4x6x!quantx.uniform<i8:f32, blocks = {0 : 1, 1 : 3}, scales = dense<[[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]> : tensor<4x2xf32>>>,
    tensor<3xindex>, tensor<64x64xf32>, f32,
    tensor<2x3xi8>, tensor<2xf32>) {
  %w = arith.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0], [1.0, 2.0, 3.0]]> : tensor<4x3xf32>
  %b = arith.constant dense<[1, 2, 3]> : tensor<3xi32>
  %q4 = quantx.constant dense<[1, 2, 3, 4, 5, 6, 7, 8]> : tensor<8xi8> -> tensor<2x8x!quantx.uniform<i4:f32, axis = 0, scales = dense<[0.5, 0.25]> : tensor<2xf64>>>
  %u4 = quantx.constant dense<[[1, 2], [3, 4]]> : tensor<2x2xi4> -> tensor<2x2x!quantx.uniform<u4:f32, scale = 1.0, zero_point = 8>>
  %q8 = quantx.constant dense<[[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]]> : tensor<4x6xi8> -> tensor<4x6x!quantx.uniform<i8:f32, blocks = {0 : 1, 1 : 3}, scales = dense<[[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]> : tensor<4x2xf32>>>
  %idx = arith.constant dense<[0, 1, 2]> : tensor<3xindex>
  %zero = arith.constant dense<0.0> : tensor<64x64xf32>
  %s = arith.constant 1.0 : f32
  %qd = arith.constant dense<[[1, 2, 3], [4, 5, 6]]> : tensor<2x3xi8>
  %qs = arith.constant dense<[0.5, 0.25]> : tensor<2xf32>
  return %w, %b, %q4, %u4, %q8, %idx, %zero, %s, %qd, %qs : tensor<4x3xf32>, tensor<3xi32>,
    tensor<2x8x!quantx.uniform<i4:f32, axis = 0, scales = dense<[0.5, 0.25]> : tensor<2xf64>>>,
    tensor<2x2x!quantx.uniform<u4:f32, scale = 1.0, zero_point = 8>>,
    tensor<4x6x!quantx.uniform<i8:f32, blocks = {0 : 1, 1 : 3}, scales = dense<[[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]> : tensor<4x2xf32>>>,
    tensor<3xindex>, tensor<64x64xf32>, f32,
    tensor<2x3xi8>, tensor<2xf32>
}
