// The whole CPU pipeline on an int8 matmul: LLVM dialect with OpenMP
// threads and the target's dot-product instruction, down to assembly for
// targets this machine may lack (the VNNI forms are checked here, not run).
// RUN: quantx-opt %s -quantx-cpu-pipeline="target-features=+avx2,+fma gemm-min-parallel-work=0" | FileCheck %s --check-prefix=LLVM
// A product below gemm-min-parallel-work (64 * 48 * 128 here) runs on the
// calling thread by default: no OpenMP region at all.
// RUN: quantx-opt %s -quantx-cpu-pipeline="target-features=+avx2,+fma" | FileCheck %s --check-prefix=SERIAL
// RUN: quantx-opt %s -quantx-cpu-pipeline="target-features=+avx2,+fma gemm-min-parallel-work=393217" | FileCheck %s --check-prefix=SERIAL
// RUN: quantx-opt %s -quantx-cpu-pipeline="target-features=+avx2,+fma gemm-min-parallel-work=393216" | FileCheck %s --check-prefix=LLVM
// RUN: quantx-opt %s -quantx-cpu-pipeline="target-features=+avx2,+fma parallel=false" | FileCheck %s --check-prefix=SERIAL
// RUN: quantx-opt %s -quantx-cpu-pipeline="gemm=false" | FileCheck %s --check-prefix=SCALAR
// RUN: quantx-opt %s -quantx-cpu-pipeline="target-features=+avx2,+fma" | mlir-translate --mlir-to-llvmir | llc -O2 -mtriple=x86_64 -mattr=+avx2,+fma | FileCheck %s --check-prefix=ASM-AVX2
// RUN: quantx-opt %s -quantx-cpu-pipeline="target-features=+avx2,+fma,+avxvnni" | mlir-translate --mlir-to-llvmir | llc -O2 -mtriple=x86_64 -mattr=+avx2,+fma,+avxvnni | FileCheck %s --check-prefix=ASM-AVXVNNI
// RUN: quantx-opt %s -quantx-cpu-pipeline="target-features=+avx512f,+avx512vl,+avx512bw,+avx512vnni" | mlir-translate --mlir-to-llvmir | llc -O2 -mtriple=x86_64 -mattr=+avx512f,+avx512vl,+avx512bw,+avx512vnni | FileCheck %s --check-prefix=ASM-AVX512VNNI

!x = !quantx.uniform<i8:f32, scale = 0.5>
!w = !quantx.uniform<i8:f32, scale = 0.25>

// LLVM-LABEL: llvm.func @f
// LLVM: omp.parallel
// LLVM: omp.wsloop
// LLVM: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"
// LLVM-NOT: scf.
// LLVM-NOT: linalg.

// SERIAL-LABEL: llvm.func @f
// SERIAL-NOT: omp.
// SERIAL: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"

// SCALAR-LABEL: llvm.func @f
// SCALAR-NOT: llvm.call_intrinsic
// SCALAR-NOT: omp.
// SCALAR-NOT: vector<

// ASM-AVX2: vpmaddwd
// ASM-AVX2: vpaddd
// ASM-AVX2-NOT: vpdpbusd
// ASM-AVXVNNI: {vex} vpdpbusd {{.*}}%ymm
// ASM-AVX512VNNI: vpdpbusd {{.*}}%zmm
func.func @f(%a: tensor<64x128xi8>, %b: tensor<128x48xi8>) -> tensor<64x48xi32> {
  %x = quantx.scast %a : tensor<64x128xi8> -> tensor<64x128x!x>
  %w = quantx.scast %b : tensor<128x48xi8> -> tensor<128x48x!w>
  %r = quantx.matmul %x, %w : tensor<64x128x!x>, tensor<128x48x!w> -> tensor<64x48xi32>
  return %r : tensor<64x48xi32>
}
