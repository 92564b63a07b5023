// Ahead of time for another CPU: --target-cpu picks the kernels (the GEMM's
// instruction form follows the CPU's features, not the host's) and the
// instructions of the object file. The VNNI forms are checked, not run.
// RUN: quantx-run %s --emit-object %t.spr.o --target-cpu sapphirerapids
// RUN: llvm-objdump -d %t.spr.o | FileCheck %s --check-prefix=SPR
// RUN: quantx-run %s --emit-object %t.v3.o --target-cpu x86-64-v3
// RUN: llvm-objdump -d %t.v3.o | FileCheck %s --check-prefix=AVX2
// Features on top of the CPU's: AVX-512 without VNNI keeps vpmaddwd.
// RUN: quantx-run %s --emit-object %t.v4.o --target-cpu x86-64-v4
// RUN: llvm-objdump -d %t.v4.o | FileCheck %s --check-prefix=V4
// RUN: quantx-run %s --emit-object %t.v4vnni.o --target-cpu x86-64-v4 --target-features=+avx512vnni
// RUN: llvm-objdump -d %t.v4vnni.o | FileCheck %s --check-prefix=SPR
// RUN: quantx-run %s --emit-object %t.novnni.o --target-cpu sapphirerapids --target-features=-avx512vnni,-avxvnni
// RUN: llvm-objdump -d %t.novnni.o | FileCheck %s --check-prefix=V4

// Errors: an unknown CPU, features without a CPU, a CPU for the JIT.
// RUN: not quantx-run %s --emit-object %t.bad.o --target-cpu pentium9 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// RUN: not test -e %t.bad.o
// RUN: not quantx-run %s --emit-object %t.bad.o --target-features=+avx512f 2>&1 | FileCheck %s --check-prefix=NOCPU
// RUN: not quantx-run %s -e gemm --random-inputs --target-cpu znver4 2>&1 | FileCheck %s --check-prefix=JIT

// SPR: vpdpbusd {{.*}}%zmm
// SPR: vfmadd{{...}}ps {{.*}}%zmm
// AVX2-NOT: zmm
// AVX2: vpmaddwd
// AVX2-NOT: vpdpbusd
// AVX2: vfmadd{{...}}ps {{.*}}%ymm
// V4-NOT: vpdpbusd
// V4: vpmaddwd
// V4: vfmadd{{...}}ps {{.*}}%zmm
// UNKNOWN: quantx-run: error: unknown x86-64 CPU 'pentium9' (known: {{.*}}sapphirerapids
// NOCPU: quantx-run: error: --target-features needs --target-cpu
// JIT: quantx-run: error: --target-cpu and --target-features apply to --emit-object and --emit-shared

!x = !quantx.uniform<i8:f32, scale = 0.5>
!w = !quantx.uniform<i8:f32, scale = 0.25>
func.func @gemm(%a: tensor<64x256xi8>, %b: tensor<256x96xi8>) -> tensor<64x96xi32> {
  %x = quantx.scast %a : tensor<64x256xi8> -> tensor<64x256x!x>
  %w = quantx.scast %b : tensor<256x96xi8> -> tensor<256x96x!w>
  %r = quantx.matmul %x, %w : tensor<64x256x!x>, tensor<256x96x!w> -> tensor<64x96xi32>
  return %r : tensor<64x96xi32>
}
func.func @sgemm(%a: tensor<64x256xf32>, %b: tensor<256x96xf32>) -> tensor<64x96xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<64x96xf32>
  %c = linalg.fill ins(%z : f32) outs(%e : tensor<64x96xf32>) -> tensor<64x96xf32>
  %r = linalg.matmul ins(%a, %b : tensor<64x256xf32>, tensor<256x96xf32>) outs(%c : tensor<64x96xf32>) -> tensor<64x96xf32>
  return %r : tensor<64x96xf32>
}
