// RUN: quantx-opt %S/Inputs/cnn.mlir -quantx-insert-observers -quantx-apply-calibration='stats-file=%S/Inputs/cnn-stats.json' -quantx-ptq='report=%t.json' -canonicalize | FileCheck %s
// RUN: FileCheck %s --check-prefix=REPORT < %t.json
// RUN: quantx-opt %S/Inputs/cnn.mlir -quantx-insert-observers -quantx-apply-calibration='stats-file=%S/Inputs/cnn-stats.json' -quantx-ptq='keep-float=^class.*,nomatch' -canonicalize | FileCheck %s --check-prefix=KEEP
// RUN: quantx-opt %S/Inputs/cnn.mlir -quantx-insert-observers -quantx-apply-calibration='stats-file=%S/Inputs/cnn-stats.json' -quantx-ptq -convert-quantx-to-linalg | FileCheck %s --check-prefix=LOWER
// RUN: quantx-opt %S/Inputs/cnn.mlir -quantx-insert-observers -quantx-apply-calibration='stats-file=%S/Inputs/cnn-stats.json' -quantx-ptq='keep-output-observers=true' | FileCheck %s --check-prefix=OBS

// Activation parameters come from the statistics: [-2, 2.5] gives
// scale 4.5/255 and zero point 113; [0, 2.75] (the classifier's input,
// after max pooling and the flatten) gives 2.75/255 and 0. Weights are
// per-channel symmetric int8 constants, bias int32, the ReLU is fused and
// the conv requantizes to the classifier's input parameters through the
// pooling and the reshape.
// CHECK-LABEL: func.func @main
// CHECK-SAME: (%[[X:.*]]: tensor<2x1x6x6xf32>)
// CHECK-DAG: %[[B2:.*]] = arith.constant dense<[{{.*}}]> : tensor<4xi32>
// CHECK-DAG: %[[W2:.*]] = quantx.constant dense<{{.*}}> : tensor<4x18xi8> -> tensor<4x18x!quantx.uniform<i8<-127:127>:f32, axis = 0, scales = dense<{{.*}}> : tensor<4xf64>>>
// CHECK-DAG: %[[B1:.*]] = arith.constant dense<[{{.*}}]> : tensor<2xi32>
// CHECK-DAG: %[[W1:.*]] = quantx.constant dense<{{.*}}> : tensor<2x1x3x3xi8> -> tensor<2x1x3x3x!quantx.uniform<i8<-127:127>:f32, axis = 0, scales = dense<{{.*}}> : tensor<2xf64>>>
// CHECK: %[[Q:.*]] = quantx.quantize %[[X]] : tensor<2x1x6x6xf32> -> tensor<2x1x6x6x!quantx.uniform<u8:f32, scale = 0.0176470{{[0-9]*}}, zero_point = 113>>
// CHECK: %[[C:.*]] = quantx.conv2d %[[Q]], %[[W1]] bias(%[[B1]] : tensor<2xi32>) {padding = array<i64: 1, 1, 1, 1>, relu}
// CHECK-SAME: -> tensor<2x2x6x6x!quantx.uniform<u8:f32, scale = 0.0107843{{[0-9]*}}, zero_point = 0>>
// The dequantize, max pooling, flatten and quantize between the layers
// become max pooling of the uint8 storage (exact: see PTQ.md).
// CHECK: %[[S:.*]] = quantx.scast %[[C]] : {{.*}} -> tensor<2x2x6x6xi8>
// CHECK: %[[INIT:.*]] = linalg.fill ins(%{{.*}} : i8) outs(%{{.*}} : tensor<2x2x3x3xi8>)
// CHECK: %[[P:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%[[S]], %{{.*}} : tensor<2x2x6x6xi8>, tensor<2x2xf32>) outs(%[[INIT]] : tensor<2x2x3x3xi8>)
// CHECK: arith.maxui
// CHECK: %[[F:.*]] = tensor.collapse_shape %[[P]] {{\[}}[0], [1, 2, 3]] : tensor<2x2x3x3xi8> into tensor<2x18xi8>
// CHECK: %[[Q2:.*]] = quantx.scast %[[F]] : tensor<2x18xi8> -> tensor<2x18x!quantx.uniform<u8:f32, scale = 0.0107843{{[0-9]*}}, zero_point = 0>>
// CHECK: %[[Y:.*]] = quantx.matmul %[[Q2]], %[[W2]] bias(%[[B2]] : tensor<4xi32>) {transpose_rhs}
// CHECK-SAME: -> tensor<2x4xf32>
// CHECK: return %[[Y]]
// CHECK-NOT: linalg.conv_2d
// CHECK-NOT: linalg.matmul
// CHECK-NOT: linalg.pooling_nchw_max
// CHECK-NOT: quantx.observe

// REPORT: "format": "quantx-ptq-report"
// REPORT: "bytes_after": 26
// REPORT: "bytes_before": 72
// REPORT: "input_zero_point": 113
// REPORT: "name": "features.0"
// REPORT: "output": "requantized to classifier"
// REPORT: "relu_fused": true
// REPORT: "status": "quantized"
// REPORT: "bytes_after": 88
// REPORT: "bytes_before": 288
// REPORT: "name": "classifier"
// REPORT: "output": "f32"

// With the classifier kept in float, the conv dequantizes its result.
// KEEP-LABEL: func.func @main
// KEEP: quantx.conv2d
// KEEP-SAME: -> tensor<2x2x6x6xf32>
// KEEP: linalg.matmul
// KEEP-NOT: quantx.matmul

// The result lowers with convert-quantx-to-linalg.
// LOWER-LABEL: func.func @main
// LOWER-NOT: quantx.

// keep-output-observers leaves the layer-output observations (without
// stats) on the dequantized or float outputs, for per-layer SQNR.
// OBS-LABEL: func.func @main
// OBS: %[[D:.*]] = quantx.dequantize
// OBS: quantx.observe %[[D]] {kind = #quantx.observer<min_max>, name = "features.0.output"}
// OBS: %[[Y:.*]] = quantx.matmul
// OBS: quantx.observe %[[Y]] {kind = #quantx.observer<min_max>, name = "classifier.output"}
// OBS-NOT: quantx.observe
