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
// RUN: rm -rf %t.dir && mkdir %t.dir
// RUN: not quantx-run %s -e f --input %t.dir 2>&1 | FileCheck %s --check-prefix=DIR
// RUN: not quantx-run %s -e f --input %t.missing.npy 2>&1 | FileCheck %s --check-prefix=NOFILE
// RUN: not quantx-run %s -e f --inputs %t.dir 2>&1 | FileCheck %s --check-prefix=DIR
// RUN: cat %t.trunc.npy | not quantx-run %s -e f --input /dev/stdin 2>&1 | FileCheck %s --check-prefix=PIPETRUNC
// RUN: not quantx-run %s -e f 2>&1 | FileCheck %s --check-prefix=NOINPUT
// RUN: not quantx-run %s -e dynamic --random-inputs 2>&1 | FileCheck %s --check-prefix=DYNAMIC
// RUN: not quantx-run %s -e conv --random-inputs 2>&1 | FileCheck %s --check-prefix=LOWER

// .npz archives: truncated, not a zip, an unsupported compression method, a
// corrupt member, the wrong number of arrays, a mismatched array, and both
// kinds of inputs at once.
// RUN: %python -c "import numpy as np, zipfile; x = np.zeros((2, 3), np.float32); np.savez('%t.ok.npz', x); b = open('%t.ok.npz', 'rb').read(); open('%t.trunc.npz', 'wb').write(b[:len(b) // 2]); open('%t.junk.npz', 'wb').write(b'PK' + bytes(40)); zipfile.ZipFile('%t.bz2.npz', 'w', zipfile.ZIP_BZIP2).writestr('arg0.npy', b'x' * 200); c = bytearray(b); c[200] ^= 1; open('%t.crc.npz', 'wb').write(bytes(c)); np.savez('%t.two.npz', x, x); np.savez_compressed('%t.shape.npz', arg0=np.zeros((3, 2), np.float32))"
// RUN: not quantx-run %s -e f --inputs %t.trunc.npz --outputs %t.out.npz 2>&1 | FileCheck %s --check-prefix=ZTRUNC
// RUN: not test -e %t.out.npz
// RUN: not quantx-run %s -e f --inputs %t.junk.npz 2>&1 | FileCheck %s --check-prefix=ZJUNK
// RUN: not quantx-run %s -e f --inputs %t.bz2.npz 2>&1 | FileCheck %s --check-prefix=ZMETHOD
// RUN: not quantx-run %s -e f --inputs %t.crc.npz 2>&1 | FileCheck %s --check-prefix=ZCRC
// RUN: not quantx-run %s -e f --inputs %t.two.npz 2>&1 | FileCheck %s --check-prefix=ZCOUNT
// RUN: not quantx-run %s -e f --inputs %t.shape.npz --outputs %t.out.npz 2>&1 | FileCheck %s --check-prefix=ZSHAPE
// RUN: not test -e %t.out.npz
// RUN: not quantx-run %s -e f --inputs %t.ok.npz --input %t.x.npy 2>&1 | FileCheck %s --check-prefix=ZBOTH

// Ahead of time: a failed lowering leaves no object, library or header.
// RUN: not quantx-run %s --emit-object %t.o --emit-shared %t.so --emit-header %t.h 2>&1 | FileCheck %s --check-prefix=LOWER
// RUN: not test -e %t.o
// RUN: not test -e %t.so
// RUN: not test -e %t.h

// MISSING: quantx-run: error: no function 'nope' with a body in
// SHAPE: quantx-run: error: {{.*}}shape.npy: shape does not match argument #0
// DTYPE: quantx-run: error: {{.*}}int.npy: dtype <i4 does not match argument #0 (<f4)
// TRUNC: quantx-run: error: {{.*}}trunc.npy: truncated .npy data
// JUNK: quantx-run: error: {{.*}}junk.npy: not a .npy file (bad magic)
// DIR: quantx-run: error: cannot read '{{.*}}.dir': it is a directory
// PIPETRUNC: quantx-run: error: /dev/stdin: truncated .npy data: shape (2, 3) of <f4 needs 24 bytes, file has 19
// NOFILE: quantx-run: error: cannot open '{{.*}}missing.npy': No such file or directory
// COUNT: quantx-run: error: function 'f' takes 1 arguments, 2 --input given
// NOINPUT: quantx-run: error: give one --input per argument, an --inputs archive, or --random-inputs
// DYNAMIC: quantx-run: error: argument #0 has type tensor<?xf32>: only ranked tensors of static shape are supported
// LOWER: failed to legalize operation 'quantx.matmul'
// LOWER: quantx-run: error: lowering failed

// ZTRUNC: quantx-run: error: {{.*}}trunc.npz: truncated .npz file
// ZJUNK: quantx-run: error: {{.*}}junk.npz: not a .npz file (no zip signature)
// ZMETHOD: quantx-run: error: {{.*}}bz2.npz: member 'arg0.npy': compression method 12 is not supported (only stored and deflate)
// ZCRC: quantx-run: error: {{.*}}crc.npz: member 'arr_0.npy': CRC-32 mismatch
// ZCOUNT: quantx-run: error: {{.*}}two.npz: 2 arrays for a function of 1 arguments
// ZSHAPE: quantx-run: error: {{.*}}shape.npz:arg0: shape does not match argument #0
// ZBOTH: quantx-run: error: give --input files or one --inputs archive, not both

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
