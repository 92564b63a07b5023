// RUN: quantx-opt %s -quantx-apply-calibration='stats-file=%S/Inputs/stats.json' | FileCheck %s
// RUN: not quantx-opt %s -quantx-apply-calibration 2>&1 | FileCheck %s --check-prefix=NOFILE
// RUN: not quantx-opt %s -quantx-apply-calibration='stats-file=%S/Inputs/does-not-exist.json' 2>&1 | FileCheck %s --check-prefix=MISSINGFILE
// RUN: not quantx-opt %s -quantx-apply-calibration='stats-file=%S/Inputs/stats-truncated.json' 2>&1 | FileCheck %s --check-prefix=BADJSON
// RUN: not quantx-opt %s -quantx-apply-calibration='stats-file=%S/Inputs/stats-format.json' 2>&1 | FileCheck %s --check-prefix=FORMAT
// RUN: not quantx-opt %s -quantx-apply-calibration='stats-file=%S/Inputs/stats-kind.json' 2>&1 | FileCheck %s --check-prefix=KIND
// RUN: not quantx-opt %s -quantx-apply-calibration='stats-file=%S/Inputs/stats-version.json' 2>&1 | FileCheck %s --check-prefix=VERSION
// RUN: not quantx-opt %s -quantx-apply-calibration='stats-file=%S/Inputs/stats-nomax.json' 2>&1 | FileCheck %s --check-prefix=NOMAX
// RUN: not quantx-opt %s -quantx-apply-calibration='stats-file=%S/Inputs/stats-channels.json' 2>&1 | FileCheck %s --check-prefix=CHANNELS

// CHECK-LABEL: func.func @f
// CHECK: quantx.observe %{{.*}} {kind = #quantx.observer<min_max>, name = "a.input", stats = {max = 2.000000e+00 : f64, min = -1.500000e+00 : f64, scale = 0.01372549{{[0-9]*}} : f64, zero_point = 109 : i64}}
// CHECK: quantx.observe %{{.*}} {axis = 0 : i64, kind = #quantx.observer<min_max>, name = "w.weight", stats = {max = dense<[1.000000e+00, 5.000000e-01]> : tensor<2xf64>, min = dense<[-1.000000e+00, -2.000000e+00]> : tensor<2xf64>}}

// Errors about the options or the file name the module's location but do
// not print the whole module after them.
// NOFILE: quantx-apply-calibration needs stats-file=<path>
// NOFILE-NOT: see current operation
// MISSINGFILE: cannot read statistics file '{{.*}}does-not-exist.json'
// MISSINGFILE-NOT: see current operation
// BADJSON: is not valid JSON
// BADJSON-NOT: see current operation
// FORMAT: is not a quantx-calibration file
// FORMAT-NOT: see current operation
// VERSION: statistics file '{{.*}}stats-version.json' has format version 2; this quantx reads version 1
// KIND: statistics of 'a.input' were collected with observer 'entropy', but the op asks for 'min_max'
// NOMAX: bad statistics for 'a.input': missing 'max'
// CHANNELS: statistics of 'w.weight' are per channel with 3 channels, which does not match the op
func.func @f(%x: tensor<4xf32>, %w: tensor<2x4xf32>) -> (tensor<4xf32>, tensor<2x4xf32>) {
  %0 = quantx.observe %x {kind = #quantx.observer<min_max>, name = "a.input"} : tensor<4xf32>
  %1 = quantx.observe %w {kind = #quantx.observer<min_max>, name = "w.weight", axis = 0 : i64} : tensor<2x4xf32>
  return %0, %1 : tensor<4xf32>, tensor<2x4xf32>
}
