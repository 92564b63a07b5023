// RUN: quantx-opt %s -quantx-insert-observers -quantx-expose-observations='manifest=%t.manifest.json' | FileCheck %s --check-prefix=EXPOSE
// RUN: quantx-opt %s -quantx-insert-observers -quantx-apply-calibration='stats-file=%S/Inputs/bias-correction-stats.json' -quantx-ptq='bias-correction=true report=%t.json' -canonicalize | FileCheck %s
// RUN: FileCheck %s --check-prefix=REPORT < %t.json
// RUN: quantx-opt %s -quantx-insert-observers -quantx-apply-calibration='stats-file=%S/Inputs/bias-correction-stats.json' -quantx-ptq -canonicalize | FileCheck %s --check-prefix=PLAIN
// RUN: quantx-opt %s -quantx-insert-observers -quantx-apply-calibration='stats-file=%S/Inputs/bias-correction-stats.json' -quantx-ptq='mode=weight-int8 bias-correction=true' -canonicalize | FileCheck %s --check-prefix=WEIGHT
// RUN: not quantx-opt %s -quantx-insert-observers -quantx-apply-calibration='stats-file=%S/Inputs/bias-correction-nomean.json' -quantx-ptq='bias-correction=true' 2>&1 | FileCheck %s --check-prefix=NOMEAN
// RUN: not quantx-opt %s -quantx-insert-observers -quantx-ptq='mode=dynamic-int8 bias-correction=true' 2>&1 | FileCheck %s --check-prefix=NOSTATS
// RUN: not quantx-opt %s -quantx-insert-observers -quantx-apply-calibration='stats-file=%S/Inputs/bias-correction-badmean.json' 2>&1 | FileCheck %s --check-prefix=BADMEAN
// RUN: not quantx-opt %s -quantx-insert-observers -quantx-apply-calibration='stats-file=%S/Inputs/bias-correction-noaxis.json' 2>&1 | FileCheck %s --check-prefix=NOAXIS

// Observations that a layer reads as its activation carry the axis along
// which calibration records per-channel means: the last axis of a matmul's
// input, the channel axis of a convolution's; layer outputs have none.
// EXPOSE: quantx.observations = [{argument = 1 : i64, kind = "min_max", mean_axis = 1 : i64, name = "conv.input"}, {argument = 0 : i64, kind = "min_max", mean_axis = 1 : i64, name = "fc.input"}, {kind = "min_max", name = "fc.output", result = 0 : i64}, {kind = "min_max", name = "conv.output", result = 1 : i64}]

// Matmul, weight [K = 3, N = 2], per-column scales 1.27 / 127 = 0.01 and
// 2.54 / 127 = 0.02. Column 0: 0.004 -> 0 (error -0.004), 0.017 -> 0.02
// (+0.003); column 1: 0.026 -> 0.02 (-0.006). With the input means
// [1, 2, 3] the expected errors are -0.004 * 2 + 0.003 * 3 = 0.001 and
// -0.006 * 3 = -0.018, so the bias [0.5, -0.25] becomes [0.499, -0.232]:
// int32 at s_in * s_w = 0.01 * 0.01 and 0.01 * 0.02, [4990, -1160]
// (uncorrected [5000, -1250]).
// CHECK-LABEL: func.func @main
// CHECK-DAG: arith.constant dense<[4990, -1160]> : tensor<2xi32>
// Conv 3x3 with padding 1 on a 3x3 input and no bias: only the corner tap
// (0, 0) has an error (0.004 -> 0 at scale 0.01). It reads the input at 2
// of 3 output rows and 2 of 3 output columns, so its column mean is
// 3 * 4/9 and the bias the layer gets is 0.004 * 3 * 4/9 = 0.00533,
// round(53.3) = 53 at 0.01 * 0.01.
// CHECK-DAG: %[[CB:.*]] = arith.constant dense<53> : tensor<1xi32>
// CHECK: quantx.matmul
// CHECK: quantx.conv2d %{{.*}}, %{{.*}} bias(%[[CB]] : tensor<1xi32>) {padding = array<i64: 1, 1, 1, 1>}

// REPORT: "bias": true
// REPORT: "bias_correction": 0.01800
// REPORT: "input_observation": "fc.input"
// REPORT: "name": "fc"
// REPORT: "weight_bits": 8
// REPORT: "weight_granularity": "per_channel"
// REPORT: "weight_group": 3
// REPORT: "bias": false
// REPORT: "bias_correction": 0.00533

// PLAIN-LABEL: func.func @main
// PLAIN-DAG: arith.constant dense<[5000, -1250]> : tensor<2xi32>
// PLAIN: quantx.conv2d %{{.*}}, %{{.*}} {padding = array<i64: 1, 1, 1, 1>}

// Weight-only: the corrected float biases (the convolution's is the
// 0.00533 above, unrounded).
// WEIGHT-LABEL: func.func @main
// WEIGHT-DAG: %[[WCB:.*]] = arith.constant dense<0.00533333374> : tensor<1xf32>
// WEIGHT-DAG: arith.constant dense<[4.990000e-01, -2.320000e-01]> : tensor<2xf32>
// WEIGHT: quantx.matmul
// WEIGHT: quantx.conv2d %{{.*}}, %{{.*}} bias(%[[WCB]] : tensor<1xf32>) {padding = array<i64: 1, 1, 1, 1>} : tensor<1x1x3x3xf32>,

// NOMEAN: cannot quantize layer 'fc' (linalg.matmul): bias-correction needs the per-channel means of its input observation 'fc.input' along axis 1 (calibrate with this version's quantx.ptq.calibrate)
// NOSTATS: cannot quantize layer 'fc' (linalg.matmul): bias-correction needs the per-channel means of its input observation 'fc.input' along axis 1
// BADMEAN: bad statistics for 'fc.input': 'channel_mean' has 2 values, dimension 1 of the observed tensor has 3
// NOAXIS: bad statistics for 'fc.input': 'channel_mean' needs its 'mean_axis'

func.func @main(%x: tensor<2x3xf32>, %img: tensor<1x1x3x3xf32>) -> (tensor<2x2xf32>, tensor<1x1x3x3xf32>) {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<[[1.27, -2.54], [0.004, 0.0], [0.017, 0.026]]> : tensor<3x2xf32>
  %b = arith.constant dense<[0.5, -0.25]> : tensor<2xf32>
  %e = tensor.empty() : tensor<2x2xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<2x2xf32>) -> tensor<2x2xf32>
  %mm = linalg.matmul ins(%x, %w : tensor<2x3xf32>, tensor<3x2xf32>) outs(%f : tensor<2x2xf32>) -> tensor<2x2xf32> loc("fc")
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%mm, %b : tensor<2x2xf32>, tensor<2xf32>) outs(%e : tensor<2x2xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<2x2xf32>
  %cw = arith.constant dense<[[[[0.004, 0.0, 0.0], [0.0, 1.27, 0.0], [0.0, 0.0, 0.0]]]]> : tensor<1x1x3x3xf32>
  %p = tensor.pad %img low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i0: index, %i1: index, %i2: index, %i3: index):
    tensor.yield %zero : f32
  } : tensor<1x1x3x3xf32> to tensor<1x1x5x5xf32>
  %ce = tensor.empty() : tensor<1x1x3x3xf32>
  %cf = linalg.fill ins(%zero : f32) outs(%ce : tensor<1x1x3x3xf32>) -> tensor<1x1x3x3xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%p, %cw : tensor<1x1x5x5xf32>, tensor<1x1x3x3xf32>) outs(%cf : tensor<1x1x3x3xf32>) -> tensor<1x1x3x3xf32> loc("conv")
  return %y, %conv : tensor<2x2xf32>, tensor<1x1x3x3xf32>
}
