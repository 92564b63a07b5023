// Already-quantized tensors: a named quantx.dequantize of (a quantx.scast of)
// integer levels whose !quantx.uniform type is exactly a GGUF type is written as GGUF
// blocks by moving its levels and scales (and mins), without requantization.

// RUN: quantx-translate --quantx-to-gguf %s -o %t.gguf
// RUN: quantx-translate --gguf-dump %t.gguf | FileCheck %s
// RUN: quantx-translate --gguf-to-quantx %t.gguf | FileCheck %s --check-prefix=IMPORT

// CHECK: general.quantization_version: u32 = 2
// CHECK: tensors 3
// CHECK-NEXT: 0: w4 q4_0 [32, 2] offset 0 size 36
// CHECK-NEXT: 1: w41 q4_1 [32, 1] offset 64 size 20
// CHECK-NEXT: 2: w8 q8_0 [32, 1] offset 96 size 34

// Q4_0 block: d = 0.5 (0x3800), byte j = level j + 8 | (level j+16 + 8) << 4;
// then d = 2.0 (0x4000) with every level -8 (stored 0).
// IMPORT: w4: "0x01000000003800112233445566778899AABBCCDDEEFF004000000000000000000000000000000000"
// Q4_1: d = 0.25 (0x3400), m = -1.0 (0xBC00), levels 0..15 twice.
// IMPORT: w41: "0x01000000003400BC00112233445566778899AABBCCDDEEFF"
// Q8_0: d = 1.0 (0x3C00), levels -16..15.
// IMPORT: w8: "0x01000000003CF0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF000102030405060708090A0B0C0D0E0F"

!q4_0 = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>
!q4_1 = !quantx.uniform<u4:f32, blocks = {0 : 1, 1 : 32}, offset = add_min, scale_type = f16, offset_type = f16>
!q8_0 = !quantx.uniform<i8:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>
module attributes {quantx.gguf.metadata = {general.architecture = "llama"}} {
  %s4 = arith.constant dense<[[0.5], [2.0]]> : tensor<2x1xf16>
  %i4 = arith.constant dense<[[-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7], [-8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8, -8]]> : tensor<2x32xi4>
  %q4 = quantx.scast %i4 : tensor<2x32xi4> -> tensor<2x32x!q4_0>
  %w4 = quantx.dequantize %q4 scale(%s4 : tensor<2x1xf16>) {quantx.gguf.name = "w4"} : tensor<2x32x!q4_0> -> tensor<2x32xf32>

  %s41 = arith.constant dense<0.25> : tensor<1x1xf16>
  %m41 = arith.constant dense<-1.0> : tensor<1x1xf16>
  %i41 = arith.constant dense<[[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]]> : tensor<1x32xi4>
  %q41 = quantx.scast %i41 : tensor<1x32xi4> -> tensor<1x32x!q4_1>
  %w41 = quantx.dequantize %q41 scale(%s41 : tensor<1x1xf16>) offset(%m41 : tensor<1x1xf16>) {quantx.gguf.name = "w41"} : tensor<1x32x!q4_1> -> tensor<1x32xf32>

  %s8 = arith.constant dense<1.0> : tensor<1x1xf16>
  %i8 = arith.constant dense<[[-16, -15, -14, -13, -12, -11, -10, -9, -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]]> : tensor<1x32xi8>
  %q8 = quantx.scast %i8 : tensor<1x32xi8> -> tensor<1x32x!q8_0>
  %w8 = quantx.dequantize %q8 scale(%s8 : tensor<1x1xf16>) {quantx.gguf.name = "w8"} : tensor<1x32x!q8_0> -> tensor<1x32xf32>
}
