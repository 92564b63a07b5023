// RUN: quantx-opt %S/Inputs/cnn.mlir -quantx-ptq='mode=dynamic-int8' -canonicalize | FileCheck %s --check-prefix=DYN
// RUN: quantx-opt %S/Inputs/cnn.mlir -quantx-ptq='mode=weight-int8' -canonicalize | FileCheck %s --check-prefix=W8
// RUN: quantx-opt %S/Inputs/cnn.mlir -quantx-ptq='mode=weight-int4 group-size=6' -canonicalize | FileCheck %s --check-prefix=W4
// RUN: not quantx-opt %S/Inputs/cnn.mlir -quantx-ptq='mode=weight-int4 group-size=5' 2>&1 | FileCheck %s --check-prefix=GROUP
// RUN: not quantx-opt %S/Inputs/cnn.mlir -quantx-ptq='mode=static-int8 group-size=4' 2>&1 | FileCheck %s --check-prefix=GROUPSTATIC
// RUN: not quantx-opt %S/Inputs/cnn.mlir -quantx-ptq='mode=int3' 2>&1 | FileCheck %s --check-prefix=MODE
// RUN: not quantx-opt %S/Inputs/cnn.mlir -quantx-ptq='keep-float=(' 2>&1 | FileCheck %s --check-prefix=REGEX
// RUN: quantx-opt %S/Inputs/cnn.mlir -quantx-ptq='mode=weight-int4 group-size=6 keep-int8=^features report=%t.json' -canonicalize | FileCheck %s --check-prefix=MIXED
// RUN: FileCheck %s --check-prefix=MIXEDREPORT < %t.json
// RUN: quantx-opt %S/Inputs/cnn.mlir -quantx-ptq='mode=weight-int4 group-size=6 keep-int8=^features' -quantx-cpu-pipeline -o /dev/null
// RUN: not quantx-opt %S/Inputs/cnn.mlir -quantx-ptq='mode=weight-int8 keep-int8=features' 2>&1 | FileCheck %s --check-prefix=INT8MODE
// RUN: not quantx-opt %S/Inputs/cnn.mlir -quantx-ptq='mode=weight-int4 keep-int8=[' 2>&1 | FileCheck %s --check-prefix=INT8REGEX

// Dynamic int8: the activation range is reduced at run time and the
// parameters passed as operands; no statistics are needed.
// DYN-LABEL: func.func @main
// DYN: linalg.generic {{.*}}iterator_types = ["reduction", "reduction", "reduction", "reduction"]
// DYN: arith.minimumf
// DYN: linalg.generic {{.*}}iterator_types = ["reduction", "reduction", "reduction", "reduction"]
// DYN: arith.maximumf
// DYN: %[[P:.*]]:2 = linalg.generic
// DYN: math.roundeven
// DYN: %[[Q:.*]] = quantx.quantize %{{.*}} scale(%[[P]]#0 : tensor<f32>) offset(%[[P]]#1 : tensor<i32>) : tensor<2x1x6x6xf32> -> tensor<2x1x6x6x!quantx.uniform<u8:f32, offset = zero_point>>
// DYN: quantx.conv2d %[[Q]], %{{.*}} bias(%{{.*}} : tensor<2xf32>) input_scale(%[[P]]#0 : tensor<f32>) input_offset(%[[P]]#1 : tensor<i32>) {padding = array<i64: 1, 1, 1, 1>, relu}
// DYN-SAME: -> tensor<2x2x6x6xf32>
// DYN: quantx.matmul
// DYN-SAME: lhs_scale
// DYN-SAME: -> tensor<2x4xf32>

// Weight-only int8: per-channel weights, float activations, for the
// convolution (its padding, bias and ReLU fused) and the Linear layer.
// W8-LABEL: func.func @main
// W8-NOT: linalg.conv_2d_nchw_fchw
// W8-DAG: quantx.constant {{.*}} -> tensor<4x18x!quantx.uniform<i8<-127:127>:f32, axis = 0, scales =
// W8-DAG: %[[F:.*]] = quantx.constant {{.*}} -> tensor<2x1x3x3x!quantx.uniform<i8<-127:127>:f32, axis = 0, scales =
// W8: quantx.conv2d %arg0, %[[F]] bias(%{{.*}} : tensor<2xf32>) {padding = array<i64: 1, 1, 1, 1>, relu} : tensor<2x1x6x6xf32>,
// W8-SAME: -> tensor<2x2x6x6xf32>
// W8: quantx.matmul %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<4xf32>) {transpose_rhs} : tensor<2x18xf32>,

// Weight-only int4 in groups of 6 along K: 4x3 scales. The convolution's
// 9 taps per filter are not a multiple of 6: one scale per filter.
// W4-LABEL: func.func @main
// W4-DAG: quantx.constant {{.*}} : tensor<2x1x3x3xi4> -> tensor<2x1x3x3x!quantx.uniform<i4<-7:7>:f32, axis = 0, scales =
// W4-DAG: quantx.constant {{.*}} : tensor<4x18xi4> -> tensor<4x18x!quantx.uniform<i4<-7:7>:f32, blocks = {0 : 1, 1 : 6}, scales = dense<{{.*}}> : tensor<4x3xf64>>>
// W4: quantx.matmul {{.*}} {transpose_rhs} : tensor<2x18xf32>

// Weight-int4 with keep-int8: the matching convolution's filter is 8-bit
// (one scale per filter, as in int4), the classifier stays 4-bit in groups
// of 6, and the mixed module compiles.
// MIXED-LABEL: func.func @main
// MIXED-DAG: quantx.constant {{.*}} : tensor<2x1x3x3xi8> -> tensor<2x1x3x3x!quantx.uniform<i8<-127:127>:f32, axis = 0, scales =
// MIXED-DAG: quantx.constant {{.*}} : tensor<4x18xi4> -> tensor<4x18x!quantx.uniform<i4<-7:7>:f32, blocks = {0 : 1, 1 : 6}, scales =
// MIXEDREPORT: "bytes_after": 26,
// MIXEDREPORT: "name": "features.0",
// MIXEDREPORT: "weight_bits": 8,
// MIXEDREPORT: "bytes_after": 84,
// MIXEDREPORT: "name": "classifier",
// MIXEDREPORT: "weight_bits": 4,
// INT8MODE: keep-int8 is only meaningful in mode weight-int4
// INT8REGEX: bad keep-int8 pattern '['

// GROUP: cannot quantize layer 'classifier' (linalg.matmul): group-size 5 does not divide K = 18
// GROUPSTATIC: group-size must be >= 0 and is only meaningful for the weight-only modes
// MODE: unknown mode 'int3'
// REGEX: bad keep-float pattern '('
