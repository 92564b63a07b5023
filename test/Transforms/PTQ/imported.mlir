// RUN: quantx-opt %S/Inputs/imported.mlir -quantx-insert-observers -quantx-apply-calibration='stats-file=%S/Inputs/imported-stats.json' -quantx-ptq -canonicalize | FileCheck %s

// The form the PyTorch importer emits (python -m quantx.importer; the input
// was made by importing Conv2d(1,2,3,padding=1) + ReLU + flatten +
// Linear(32,3) and calibrating it with quantx.ptq.calibrate on two seeded
// batches): weights are dense_resource blobs, the Linear weight is stored
// transposed ([in, out]) and the conv bias is a [C,1,1] constant collapsed
// to [C]. Every layer is quantized from those constants.
// CHECK-LABEL: func.func @forward
// CHECK-DAG: quantx.constant dense<{{.*}}> : tensor<32x3xi8> -> tensor<32x3x!quantx.uniform<i8<-127:127>:f32, axis = 1,
// CHECK-DAG: quantx.constant dense<{{.*}}> : tensor<2x1x3x3xi8> -> tensor<2x1x3x3x!quantx.uniform<i8<-127:127>:f32, axis = 0,
// CHECK: quantx.conv2d {{.*}} bias({{.*}} : tensor<2xi32>) {padding = array<i64: 1, 1, 1, 1>, relu}
// CHECK: quantx.matmul {{.*}} bias({{.*}} : tensor<3xi32>)
// CHECK-NOT: linalg.conv_2d
// CHECK-NOT: linalg.matmul
