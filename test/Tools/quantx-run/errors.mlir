// quantx-run rejects bad input with a clear error and a non-zero exit, and
// leaves no output file behind.
// RUN: %python -c "import numpy as np; np.save('%t.x.npy', np.zeros((2, 3), np.float32)); np.save('%t.shape.npy', np.zeros((3, 2), np.float32)); np.save('%t.int.npy', np.zeros((2, 3), np.int32)); open('%t.trunc.npy', 'wb').write(open('%t.x.npy', 'rb').read()[:-5]); open('%t.junk.npy', 'wb').write(b'hello')"
// RUN: not quantx-run %s -e nope --random-inputs 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not quantx-run %s -e f --input %t.shape.npy --output %t.out.npy 2>&1 | FileCheck %s --check-prefix=SHAPE
// RUN: not test -e %t.out.npy
// RUN: not quantx-run %s -e f --input %t.int.npy 2>&1 | FileCheck %s --check-prefix=DTYPE
// RUN: not quantx-run %s -e f --input %t.trunc.npy 2>&1 | FileCheck %s --check-prefix=TRUNC
// RUN: not quantx-run %s -e f --input %t.junk.npy 2>&1 | FileCheck %s --check-prefix=JUNK
// RUN: not quantx-run %s -e f --input %t.x.npy --input %t.x.npy 2>&1 | FileCheck %s --check-prefix=COUNT
// RUN: not quantx-run %s -e f 2>&1 | FileCheck %s --check-prefix=NOINPUT
// RUN: not quantx-run %s -e dynamic --random-inputs 2>&1 | FileCheck %s --check-prefix=DYNAMIC
// RUN: not quantx-run %s -e conv --random-inputs 2>&1 | FileCheck %s --check-prefix=LOWER

// MISSING: quantx-run: error: no function 'nope' with a body in
// SHAPE: quantx-run: error: {{.*}}shape.npy: shape does not match argument #0
// DTYPE: quantx-run: error: {{.*}}int.npy: dtype <i4 does not match argument #0 (<f4)
// TRUNC: quantx-run: error: {{.*}}trunc.npy: truncated .npy data
// JUNK: quantx-run: error: {{.*}}junk.npy: not a .npy file (bad magic)
// COUNT: quantx-run: error: function 'f' takes 1 arguments, 2 --input given
// NOINPUT: quantx-run: error: give one --input per argument, or --random-inputs
// DYNAMIC: quantx-run: error: argument #0 has type tensor<?xf32>: quantx-run supports ranked tensors of static shape
// LOWER: failed to legalize operation 'quantx.matmul'
// LOWER: quantx-run: error: lowering failed

func.func @f(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  return %x : tensor<2x3xf32>
}

func.func @dynamic(%x: tensor<?xf32>) -> tensor<?xf32> {
  return %x : tensor<?xf32>
}

// Quantized activations with weights blocked along K: not lowered yet.
func.func @conv(%x: tensor<2x4xi8>, %w: tensor<4x4xi8>) -> tensor<2x4xf32> {
  %a = quantx.scast %x : tensor<2x4xi8> -> tensor<2x4x!quantx.uniform<i8:f32, scale = 1.0>>
  %q = quantx.scast %w : tensor<4x4xi8> -> tensor<4x4x!quantx.uniform<i8:f32, blocks = {1 : 2}, scales = dense<[[1.0, 2.0]]> : tensor<1x2xf32>>>
  %y = quantx.matmul %a, %q {transpose_rhs} : tensor<2x4x!quantx.uniform<i8:f32, scale = 1.0>>, tensor<4x4x!quantx.uniform<i8:f32, blocks = {1 : 2}, scales = dense<[[1.0, 2.0]]> : tensor<1x2xf32>>> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}
