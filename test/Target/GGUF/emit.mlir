// Emits a module with every metadata value type and every float tensor form,
// then checks the file with the dump and the size report.
// RUN: quantx-translate --quantx-to-gguf %s -o %t.gguf
// RUN: quantx-translate --gguf-dump %t.gguf | FileCheck %s --check-prefix=DUMP
// RUN: quantx-translate --gguf-report %t.gguf | FileCheck %s --check-prefix=REPORT
// RUN: od -A d -t x1 -j 1024 -N 96 %t.gguf | FileCheck %s --check-prefix=BYTES

module attributes {quantx.gguf.metadata = {
    general.architecture = "llama",
    general.alignment = 64 : ui32,
    u8 = 255 : ui8, i8 = -128 : i8, u16 = 65535 : ui16, i16 = -32768 : i16,
    u32 = 4294967295 : ui32, i32 = -2147483648 : i32,
    u64 = 18446744073709551615 : ui64, i64 = -9223372036854775808 : i64,
    f32 = 1.0e-05 : f32, f64 = 0.1 : f64, b = false,
    s = "quote \" and \\ and tab\t",
    tokens = ["<s>", "a b"],
    scores = dense<[0.0, -1.5]> : tensor<2xf32>,
    flags = dense<[true, false]> : tensor<2xi1>,
    u8s = dense<[1, 255]> : tensor<2xui8>,
    nested = [dense<[7]> : tensor<1xui32>, ["x"], [unit]],
    empty.strings = [], empty.arrays = [unit],
    empty.i64 = dense<> : tensor<0xi64>}} {
  // Innermost dimension first in the file: MLIR 2x4 is GGUF [4, 2].
  %0 = arith.constant {quantx.gguf.name = "f32.weight"} dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]> : tensor<2x4xf32>
  %1 = arith.constant {quantx.gguf.name = "f16.weight"} dense<[1.0, -2.0, 0.5]> : tensor<3xf16>
  %2 = arith.constant {quantx.gguf.name = "bf16.weight"} dense<1.0> : tensor<1x1x2x3xbf16>
  // Raw Q4_0 blocks: 2 rows of 32 elements, 18 bytes each.
  %3 = arith.constant {quantx.gguf.name = "q4.weight", quantx.gguf.type = #quantx.gguf<q4_0>, quantx.gguf.shape = array<i64: 2, 32>} dense<17> : tensor<36xi8>
  // A ggml type the dialect does not name, by id (iq4_nl = 20).
  %4 = arith.constant {quantx.gguf.name = "iq4nl.weight", quantx.gguf.type = 20 : ui32, quantx.gguf.shape = array<i64: 32>} dense<0> : tensor<18xi8>
}

// DUMP:      GGUF version 3
// DUMP-NEXT: alignment 64
// DUMP-NEXT: data offset [[DATA:[0-9]+]]
// DUMP-NEXT: file size
// DUMP-NEXT: metadata 23
// Keys are written in sorted order; the quantization version is added because
// quantized tensors are present.
// DUMP-NEXT:   b: bool = false
// DUMP-NEXT:   empty.arrays: arr[arr,0] = []
// DUMP-NEXT:   empty.i64: arr[i64,0] = []
// DUMP-NEXT:   empty.strings: arr[str,0] = []
// DUMP-NEXT:   f32: f32 = 9.99999975e-06
// DUMP-NEXT:   f64: f64 = 0.10000000000000001
// DUMP-NEXT:   flags: arr[bool,2] = [true, false]
// DUMP-NEXT:   general.alignment: u32 = 64
// DUMP-NEXT:   general.architecture: str = "llama"
// DUMP-NEXT:   general.quantization_version: u32 = 2
// DUMP-NEXT:   i16: i16 = -32768
// DUMP-NEXT:   i32: i32 = -2147483648
// DUMP-NEXT:   i64: i64 = -9223372036854775808
// DUMP-NEXT:   i8: i8 = -128
// DUMP-NEXT:   nested: arr[arr,3] = {{\[}}[7], ["x"], []]
// DUMP-NEXT:   s: str = "quote \" and \\ and tab\x09"
// DUMP-NEXT:   scores: arr[f32,2] = [0, -1.5]
// DUMP-NEXT:   tokens: arr[str,2] = ["<s>", "a b"]
// DUMP-NEXT:   u16: u16 = 65535
// DUMP-NEXT:   u32: u32 = 4294967295
// DUMP-NEXT:   u64: u64 = 18446744073709551615
// DUMP-NEXT:   u8: u8 = 255
// DUMP-NEXT:   u8s: arr[u8,2] = [1, 255]
// DUMP-NEXT: tensors 5
// Offsets are relative to the data section and padded to the alignment.
// DUMP-NEXT:   0: f32.weight f32 [4, 2] offset 0 size 32
// DUMP-NEXT:   1: f16.weight f16 [3] offset 64 size 6
// DUMP-NEXT:   2: bf16.weight bf16 [3, 2, 1, 1] offset 128 size 12
// DUMP-NEXT:   3: q4.weight q4_0 [32, 2] offset 192 size 36
// DUMP-NEXT:   4: iq4nl.weight iq4_nl [32] offset 256 size 18
// DUMP-NOT: {{.}}

// REPORT:      tensor type shape elements bytes bits/w vs f32
// REPORT-NEXT: f32.weight f32 [4, 2] 8 32 32.0000 1.000x
// REPORT-NEXT: f16.weight f16 [3] 3 6 16.0000 2.000x
// REPORT-NEXT: bf16.weight bf16 [3, 2, 1, 1] 6 12 16.0000 2.000x
// REPORT-NEXT: q4.weight q4_0 [32, 2] 64 36 4.5000 7.111x
// REPORT-NEXT: iq4nl.weight iq4_nl [32] 32 18 4.5000 7.111x
// REPORT-NEXT: total 113 104 7.3628 4.346x
// REPORT-NEXT: file size [[SIZE:[0-9]+]] bytes (tensor data 104, header and padding

// The f32 tensor at the data offset, row-major, little-endian; then zero
// padding to 64 and the f16 values 1.0, -2.0, 0.5.
// BYTES:      0001024 00 00 80 3f 00 00 00 40 00 00 40 40 00 00 80 40
// BYTES-NEXT: 0001040 00 00 a0 40 00 00 c0 40 00 00 e0 40 00 00 00 41
// BYTES-NEXT: 0001056 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
// BYTES-NEXT: *
// BYTES-NEXT: 0001088 00 3c 00 c0 00 38 00 00 00 00 00 00 00 00 00 00
