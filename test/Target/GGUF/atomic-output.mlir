// A failed translation leaves neither a partial output nor a temporary file,
// and an existing output file is kept as it was.
// RUN: rm -rf %t && mkdir -p %t
// RUN: echo previous > %t/out.gguf
// RUN: not quantx-translate --quantx-to-gguf %s -o %t/out.gguf 2>&1 | FileCheck %s
// RUN: ls -a %t | FileCheck %s --check-prefix=LS
// RUN: cat %t/out.gguf | FileCheck %s --check-prefix=OLD
// A new output that fails is not created at all.
// RUN: not quantx-translate --quantx-to-gguf %s -o %t/new.gguf
// RUN: not ls %t/new.gguf
// An unknown default type is refused before anything is written.
// RUN: not quantx-translate --quantx-to-gguf --gguf-type=q9_9 %s -o %t/new.gguf 2>&1 | FileCheck %s --check-prefix=TYPE
// TYPE: error: unknown or unsupported target type 'q9_9'

// CHECK: error: tensor 'b': duplicate tensor name 'b'
// LS:      .
// LS-NEXT: ..
// LS-NEXT: out.gguf
// LS-NOT:  {{.}}
// OLD: previous

module {
  %0 = arith.constant {quantx.gguf.name = "a"} dense<1.0> : tensor<4xf32>
  %1 = arith.constant {quantx.gguf.name = "b"} dense<1.0> : tensor<4xf32>
  %2 = arith.constant {quantx.gguf.name = "b"} dense<1.0> : tensor<4xf32>
}
