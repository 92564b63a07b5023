// RUN: quantx-opt %s -split-input-file -verify-diagnostics -quantx-pack-weight-only="pack-arguments=1 activations=int8 target-features=+avx2,+fma"
// RUN: not quantx-opt %s -split-input-file -quantx-pack-weight-only="activations=bf16" 2>&1 | FileCheck %s --check-prefix=OPTION
// OPTION: activations must be f32 or int8, got 'bf16'
// RUN: not quantx-opt %s -split-input-file -quantx-pack-weight-only="activations=int8 target-features=+avx,+fma" 2>&1 | FileCheck %s --check-prefix=NOAVX2
// NOAVX2: activations=int8 needs a target with AVX2 (vpmaddubsw, vpmaddwd); this one has none: use activations=f32

// With packed arguments, int8 activations need weights the n8k8 layout
// holds: the caller would otherwise not know which layout to produce.
!q = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 12}>
func.func @group_not_multiple_of_8(%x: tensor<1x24xf32>, %w: tensor<8x24x!q>, %s: tensor<8x2xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{cannot pack weight argument #1: the n8k8 layout (int8 activations) needs a group size that is a multiple of 8, got 12}}
  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<8x2xf32>) {transpose_rhs} : tensor<1x24xf32>, tensor<8x24x!q> -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

!q = !quantx.uniform<i8:f32, blocks = {0 : 1, 1 : 8}>
func.func @eight_bit_weights(%x: tensor<1x16xf32>, %w: tensor<8x16x!q>, %s: tensor<8x2xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{cannot pack weight argument #1: the int8-activation kernels take 8-bit weights only as constants, on targets with vpdpbusd (AVX-VNNI or AVX512-VNNI)}}
  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<8x2xf32>) {transpose_rhs} : tensor<1x16xf32>, tensor<8x16x!q> -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}
