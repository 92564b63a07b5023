// Already-quantized tensors that cannot be exported without requantization,
// and malformed forms, get a clear error at the quantx.dequantize.
// RUN: quantx-translate --quantx-to-gguf %s -split-input-file -verify-diagnostics -o %t.gguf

// f32 scales: not a GGUF type (GPTQ/AWQ results must be requantized).
!t = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f32>
module {
  %s = arith.constant dense<0.5> : tensor<1x1xf32>
  %i = arith.constant dense<1> : tensor<1x32xi4>
  %q = quantx.scast %i : tensor<1x32xi4> -> tensor<1x32x!t>
  // expected-error @+1 {{is not exactly a GGUF type, so it cannot be exported without requantization}}
  %w = quantx.dequantize %q scale(%s : tensor<1x1xf32>) {quantx.gguf.name = "w"} : tensor<1x32x!t> -> tensor<1x32xf32>
}

// -----

// Groups of 64: not Q4_0's blocks of 32.
!t = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 64}, scale_type = f16>
module {
  %s = arith.constant dense<0.5> : tensor<1x1xf16>
  %i = arith.constant dense<1> : tensor<1x64xi4>
  %q = quantx.scast %i : tensor<1x64xi4> -> tensor<1x64x!t>
  // expected-error @+1 {{is not exactly a GGUF type}}
  %w = quantx.dequantize %q scale(%s : tensor<1x1xf16>) {quantx.gguf.name = "w"} : tensor<1x64x!t> -> tensor<1x64xf32>
}

// -----

// The stored type is Q4_0; asking for another type is an error, not a
// silent requantization.
!t = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>
module {
  %s = arith.constant dense<0.5> : tensor<1x1xf16>
  %i = arith.constant dense<1> : tensor<1x32xi4>
  %q = quantx.scast %i : tensor<1x32xi4> -> tensor<1x32x!t>
  // expected-error @+1 {{tensor 'w' is exactly q4_0, not q8_0}}
  %w = quantx.dequantize %q scale(%s : tensor<1x1xf16>) {quantx.gguf.name = "w", quantx.gguf.type = #quantx.gguf<q8_0>} : tensor<1x32x!t> -> tensor<1x32xf32>
}

// -----

!t = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>
module {
  %s = arith.constant dense<0.5> : tensor<1x1xf16>
  %i = arith.constant dense<1> : tensor<1x32xi4>
  %q = quantx.scast %i : tensor<1x32xi4> -> tensor<1x32x!t>
  // expected-error @+1 {{quantx.dequantize has no 'quantx.gguf.name' string attribute}}
  %w = quantx.dequantize %q scale(%s : tensor<1x1xf16>) : tensor<1x32x!t> -> tensor<1x32xf32>
}
