// RUN: quantx-opt %s -quantx-apply-calibration='stats-file=%S/Inputs/stats.json' -verify-diagnostics

// An observation without statistics in the file is an error naming it.
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @below {{no calibration statistics for observation 'b.input'}}
  %0 = quantx.observe %x {kind = #quantx.observer<min_max>, name = "b.input"} : tensor<4xf32>
  return %0 : tensor<4xf32>
}
