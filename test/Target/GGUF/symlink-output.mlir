// An output written through a symbolic link replaces the file it names;
// the link stays a link.
// RUN: rm -rf %t && mkdir -p %t && echo previous > %t/real.gguf && ln -s real.gguf %t/link.gguf
// RUN: quantx-translate --quantx-to-gguf %s -o %t/link.gguf
// RUN: test -L %t/link.gguf
// RUN: quantx-translate --gguf-dump %t/real.gguf | FileCheck %s
// RUN: ls -a %t | FileCheck %s --check-prefix=LS

// CHECK: a
// LS:      .
// LS-NEXT: ..
// LS-NEXT: link.gguf
// LS-NEXT: real.gguf
// LS-NOT:  {{.}}

module {
  %0 = arith.constant {quantx.gguf.name = "a"} dense<1.0> : tensor<4xf32>
}
