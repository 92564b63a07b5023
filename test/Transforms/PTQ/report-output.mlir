// Side outputs written through a symbolic link replace the file it names
// and keep the link (a rename over the link would turn it into a file).
// RUN: rm -rf %t && mkdir %t && echo old > %t/real.json && ln -s real.json %t/link.json
// RUN: quantx-opt %S/Inputs/cnn.mlir -quantx-ptq='mode=weight-int8 report=%t/link.json' -o %t/out.mlir
// RUN: test -L %t/link.json
// RUN: FileCheck %s --input-file=%t/real.json
// RUN: not test -e %t/real.json.tmp
// The same for quantx-run's .npy outputs.
// RUN: %python -c "import numpy as np; np.save('%t/x.npy', np.arange(6, dtype=np.float32).reshape(2, 3))"
// RUN: echo old > %t/real.npy && ln -s real.npy %t/link.npy
// RUN: quantx-run %s -e f --input %t/x.npy --output %t/link.npy
// RUN: test -L %t/link.npy
// RUN: %python -c "import numpy as np; assert np.load('%t/real.npy').tolist() == [[0, 2, 4], [6, 8, 10]]"

// CHECK: "layers"
// CHECK: "name": "features.0"

func.func @f(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %y = arith.addf %x, %x : tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
