// Truncated, corrupted and oversized-count GGUF files are rejected with a
// clear error by the dump, the report and the importer, and the importer
// writes no output for them.
// RUN: rm -rf %t && mkdir -p %t
// RUN: quantx-translate --quantx-to-gguf %s -o %t/good.gguf
// RUN: quantx-translate --gguf-dump %t/good.gguf | FileCheck %s --check-prefix=GOOD
// GOOD: data offset 128
// GOOD: 0: w f32 [8] offset 0 size 32

// Cut inside the header: the counts are checked against the bytes left
// before anything is read.
// RUN: head -c 40 %t/good.gguf > %t/cut-head.gguf
// RUN: not quantx-translate --gguf-dump %t/cut-head.gguf 2>&1 | FileCheck %s --check-prefix=CUT-HEAD
// CUT-HEAD: cut-head.gguf:0:0: error: GGUF: truncated or corrupt file: tensor count 1 is larger than the file can hold (at offset 24)

// Cut inside the metadata.
// RUN: head -c 60 %t/good.gguf > %t/cut-meta.gguf
// RUN: not quantx-translate --gguf-dump %t/cut-meta.gguf 2>&1 | FileCheck %s --check-prefix=CUT-META
// CUT-META: cut-meta.gguf:0:0: error: GGUF: truncated file: array element type needs 4 bytes, 2 left (at offset 58)

// Cut inside the tensor data.
// RUN: head -c 150 %t/good.gguf > %t/cut-data.gguf
// RUN: not quantx-translate --gguf-to-quantx %t/cut-data.gguf -o %t/cut-data.mlir 2>&1 | FileCheck %s --check-prefix=CUT-DATA
// RUN: not ls %t/cut-data.mlir
// CUT-DATA: error: GGUF: truncated file: tensor 'w' needs bytes 0..32 of the data section, which has 22 bytes

// Shorter than the magic, and not a GGUF file at all.
// RUN: head -c 3 %t/good.gguf > %t/tiny.gguf
// RUN: not quantx-translate --gguf-report %t/tiny.gguf 2>&1 | FileCheck %s --check-prefix=TINY
// TINY: error: GGUF: truncated file: 3 bytes is too short for the GGUF magic
// RUN: not quantx-translate --gguf-dump %s 2>&1 | FileCheck %s --check-prefix=MAGIC
// MAGIC: error: GGUF: not a GGUF file (bad magic) (at offset 4)

// A huge tensor count (bytes 8..15).
// RUN: cp %t/good.gguf %t/count.gguf
// RUN: printf '\377\377\377\377\377\377\377\017' | dd of=%t/count.gguf bs=1 seek=8 conv=notrunc status=none
// RUN: not quantx-translate --gguf-dump %t/count.gguf 2>&1 | FileCheck %s --check-prefix=COUNT
// COUNT: error: GGUF: truncated or corrupt file: tensor count 1152921504606846975 is larger than the file can hold (at offset 24)

// A huge array length in the metadata (the u32 array's length field).
// RUN: cp %t/good.gguf %t/array.gguf
// RUN: printf '\000\000\000\000\000\000\000\200' | dd of=%t/array.gguf bs=1 seek=62 conv=notrunc status=none
// RUN: not quantx-translate --gguf-to-quantx %t/array.gguf 2>&1 | FileCheck %s --check-prefix=ARRAY
// ARRAY: error: GGUF: truncated or corrupt file: key 'general.architecture.x': array of 9223372036854775808 u32 elements needs at least 9223372036854775808 x 4 bytes

// A bit flip in the tensor's type id makes it an unknown type.
// RUN: cp %t/good.gguf %t/type.gguf
// RUN: printf '\004' | dd of=%t/type.gguf bs=1 seek=99 conv=notrunc status=none
// RUN: not quantx-translate --gguf-dump %t/type.gguf 2>&1 | FileCheck %s --check-prefix=TYPE
// TYPE: error: GGUF: tensor 'w' has unknown type id 4

// A missing file.
// RUN: not quantx-translate --gguf-dump %t/missing.gguf 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: missing.gguf

module attributes {quantx.gguf.metadata = {general.architecture.x = dense<[1, 2]> : tensor<2xui32>}} {
  %0 = arith.constant {quantx.gguf.name = "w"} dense<1.0> : tensor<8xf32>
}
