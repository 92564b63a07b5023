// Ahead of time: an object file (or a shared library) and a C header, called from a C program
// and compared with the JIT's results (run.mlir) for the same input.
// RUN: quantx-run %s --emit-object %t.o --emit-header %t.h
// RUN: FileCheck %s --check-prefix=HEADER < %t.h
// RUN: %clang -std=c11 -Wall -Werror -include %t.h %S/Inputs/aot_main.c %t.o %quantx_cpu_runtime %mlir_c_runner_utils -Wl,-rpath,%quantx_lib_dir -Wl,-rpath,%llvm_lib_dir -lm -o %t.exe
// RUN: %t.exe | FileCheck %s --check-prefix=EXEC
// The same as a shared library.
// RUN: quantx-run %s --emit-shared %t.so
// RUN: %clang -std=c11 -Wall -Werror -include %t.h %S/Inputs/aot_main.c %t.so -lm -o %t.shared.exe
// RUN: %t.shared.exe | FileCheck %s --check-prefix=EXEC

// HEADER: #ifndef QUANTX_GENERATED_AOT_MLIR_TMP_H
// HEADER: typedef struct quantx_memref_f32_2d {
// HEADER-NEXT: float *allocated;
// HEADER-NEXT: float *aligned;
// HEADER-NEXT: int64_t offset;
// HEADER-NEXT: int64_t sizes[2];
// HEADER-NEXT: int64_t strides[2];
// HEADER-NEXT: } quantx_memref_f32_2d;
// HEADER: typedef struct quantx_memref_u8_2d {
// HEADER: /* roundtrip: (tensor<2x3xf32>) -> (tensor<2x3x!quantx.uniform<u8:f32, scale = 5.000000e-01, zero_point = 128>>, tensor<2x3xf32>) */
// HEADER-NEXT: typedef struct roundtrip_results {
// HEADER-NEXT:   quantx_memref_u8_2d result0;
// HEADER-NEXT:   quantx_memref_f32_2d result1;
// HEADER-NEXT: } roundtrip_results;
// HEADER-NEXT: void _mlir_ciface_roundtrip(roundtrip_results *results, quantx_memref_f32_2d *arg0);
// HEADER: void _mlir_ciface_add(quantx_memref_i32_1d *result, quantx_memref_i32_1d *arg0, quantx_memref_i32_1d *arg1);
// HEADER: /* dynamic: not declared: argument #0 has type tensor<?xf32>: only ranked tensors of static shape are supported */
// HEADER-NOT: internal

// EXEC: 128 130 126
// EXEC-NEXT: 255 0 134
// EXEC-NEXT: 0 1 -1
// EXEC-NEXT: 63.5 -64 3
// EXEC-NEXT: 11:1 22:2 33:3 44:4

!u8 = !quantx.uniform<u8:f32, scale = 0.5, zero_point = 128>
func.func @roundtrip(%x: tensor<2x3xf32>) -> (tensor<2x3x!u8>, tensor<2x3xf32>) {
  %q = quantx.quantize %x : tensor<2x3xf32> -> tensor<2x3x!u8>
  %d = quantx.dequantize %q : tensor<2x3x!u8> -> tensor<2x3xf32>
  return %q, %d : tensor<2x3x!u8>, tensor<2x3xf32>
}

// Element-wise ops would write into their first operand without the
// read-only argument marking.
func.func @add(%a: tensor<4xi32>, %b: tensor<4xi32>) -> tensor<4xi32> {
  %s = arith.addi %a, %b : tensor<4xi32>
  return %s : tensor<4xi32>
}

func.func @dynamic(%x: tensor<?xf32>) -> tensor<?xf32> {
  return %x : tensor<?xf32>
}

// Private functions are not entry points.
func.func private @internal(%x: tensor<4xi32>) -> tensor<4xi32> {
  return %x : tensor<4xi32>
}
