// emit -> import -> emit is byte-identical, and the import is the MLIR form
// with explicit integer widths, dense arrays and dense_resource tensors.
// RUN: quantx-translate --quantx-to-gguf %s -o %t.a.gguf
// RUN: quantx-translate --gguf-to-quantx %t.a.gguf -o %t.mlir
// RUN: FileCheck %s --input-file=%t.mlir
// RUN: quantx-translate --quantx-to-gguf %t.mlir -o %t.b.gguf
// RUN: cmp %t.a.gguf %t.b.gguf
// The imported text itself is a fixed point of import -> emit -> import.
// RUN: quantx-translate --gguf-to-quantx %t.b.gguf -o %t.again.mlir
// RUN: cmp %t.mlir %t.again.mlir
// The bytecode import re-emits the same bytes too.
// RUN: quantx-translate --gguf-to-quantx-bytecode %t.a.gguf -o %t.mlirbc
// RUN: quantx-translate --quantx-to-gguf %t.mlirbc -o %t.c.gguf
// RUN: cmp %t.a.gguf %t.c.gguf

module attributes {quantx.gguf.metadata = {
    general.alignment = 16 : ui32,
    a.u8 = 7 : ui8, a.i16 = -2 : i16, a.u64 = 1 : ui64,
    a.f32nan = 0x7FA12345 : f32, a.negzero = -0.0 : f64, a.true = true,
    a.nested = [[["deep"]], dense<[1.5]> : tensor<1xf64>],
    a.bools = dense<[false, true, true]> : tensor<3xi1>,
    a.i8s = dense<[-1, 2]> : tensor<2xi8>}} {
  %0 = arith.constant {quantx.gguf.name = "token_embd.weight", quantx.gguf.type = #quantx.gguf<q6_k>, quantx.gguf.shape = array<i64: 1, 256>} dense<3> : tensor<210xi8>
  %1 = arith.constant {quantx.gguf.name = "output_norm.weight"} dense<[0.5, -0.0, 0x7FC00001, 0xFF800000]> : tensor<4xf32>
  %2 = arith.constant {quantx.gguf.name = "b"} dense<[1.0, 2.0]> : tensor<2xbf16>
}

// CHECK:      module attributes {quantx.gguf.metadata = {
// CHECK-SAME: a.bools = dense<[false, true, true]> : tensor<3xi1>
// CHECK-SAME: a.f32nan = 0x7FA12345 : f32
// CHECK-SAME: a.i16 = -2 : i16
// CHECK-SAME: a.i8s = dense<[-1, 2]> : tensor<2xi8>
// CHECK-SAME: a.negzero = -0.000000e+00 : f64
// CHECK-SAME: a.nested = {{\[}}{{\[}}["deep"]], dense<1.500000e+00> : tensor<1xf64>]
// CHECK-SAME: a.true = true
// CHECK-SAME: a.u64 = 1 : ui64
// CHECK-SAME: a.u8 = 7 : ui8
// CHECK-SAME: general.alignment = 16 : ui32
// CHECK-SAME: general.quantization_version = 2 : ui32}}
// CHECK:      arith.constant {quantx.gguf.name = "token_embd.weight", quantx.gguf.shape = array<i64: 1, 256>, quantx.gguf.type = #quantx.gguf<q6_k>} dense_resource<token_embd.weight> : tensor<210xi8>
// CHECK-NEXT: arith.constant {quantx.gguf.name = "output_norm.weight", quantx.gguf.type = #quantx.gguf<f32>} dense_resource<output_norm.weight> : tensor<4xf32>
// CHECK-NEXT: arith.constant {quantx.gguf.name = "b", quantx.gguf.type = #quantx.gguf<bf16>} dense_resource<b> : tensor<2xbf16>
// Blobs keep the element alignment; the f32 bytes include the NaN payload.
// CHECK:      output_norm.weight: "0x040000000000003F000000800100C07F000080FF"
// CHECK-NEXT: b: "0x02000000803F0040"
