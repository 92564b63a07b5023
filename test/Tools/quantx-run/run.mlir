// quantx-run: inputs from .npy, outputs to .npy and printed, benchmarks.
// RUN: %python -c "import numpy as np; np.save('%t.x.npy', np.array([[0.25, 0.75, -1.25], [1000, -1000, 3.1]], np.float32))"
// RUN: quantx-run %s -e roundtrip --input %t.x.npy --output %t.q.npy --output %t.d.npy --print | FileCheck %s
// A pipe has no size to read up front: it is streamed, to the same result.
// RUN: cat %t.x.npy | quantx-run %s -e roundtrip --input /dev/stdin --print | FileCheck %s
// RUN: %python -c "import numpy as np; q = np.load('%t.q.npy'); d = np.load('%t.d.npy'); assert q.dtype == np.uint8 and q.tolist() == [[128, 130, 126], [255, 0, 134]], q; assert d.tolist() == [[0, 1, -1], [63.5, -64, 3]], d"
// .npz in and out: named, positional and compressed archives.
// RUN: %python -c "import numpy as np; x = np.load('%t.x.npy'); np.savez('%t.named.npz', arg0=x); np.savez('%t.pos.npz', x); np.savez_compressed('%t.z.npz', x)"
// RUN: quantx-run %s -e roundtrip --inputs %t.named.npz --outputs %t.out1.npz
// RUN: quantx-run %s -e roundtrip --inputs %t.pos.npz --outputs %t.out2.npz
// RUN: quantx-run %s -e roundtrip --inputs %t.z.npz --outputs %t.out3.npz
// RUN: %python -c "import numpy as np; q = np.load('%t.q.npy'); d = np.load('%t.d.npy'); outs = [np.load('%t.out%%d.npz' %% i) for i in (1, 2, 3)]; assert all(sorted(o.files) == ['result0', 'result1'] for o in outs); assert all((o['result0'] == q).all() and o['result0'].dtype == q.dtype and (o['result1'] == d).all() for o in outs)"
// RUN: quantx-run %s -e roundtrip --random-inputs --seed 3 --bench --repetitions 5 --bytes 24 | FileCheck %s --check-prefix=BENCH

// CHECK: result #0: |u1 [2, 3]
// CHECK-NEXT: 128 130 126
// CHECK-NEXT: 255 0 134
// CHECK: result #1: <f4 [2, 3]
// CHECK-NEXT: 0.000000e+00 1.000000e+00 -1.000000e+00
// CHECK-NEXT: 6.350000e+01 -6.400000e+01 3.000000e+00

// BENCH: roundtrip: 5 runs, median {{[0-9.]+}} ms, min {{[0-9.]+}} ms, max {{[0-9.]+}} ms, spread {{[0-9.]+}}%, {{[0-9.]+}} GB/s

!u8 = !quantx.uniform<u8:f32, scale = 0.5, zero_point = 128>
func.func @roundtrip(%x: tensor<2x3xf32>) -> (tensor<2x3x!u8>, tensor<2x3xf32>) {
  %q = quantx.quantize %x : tensor<2x3xf32> -> tensor<2x3x!u8>
  %d = quantx.dequantize %q : tensor<2x3x!u8> -> tensor<2x3xf32>
  return %q, %d : tensor<2x3x!u8>, tensor<2x3xf32>
}

func.func @dynamic(%x: tensor<?xf32>) -> tensor<?xf32> {
  return %x : tensor<?xf32>
}
