// Malformed MLIR forms of GGUF files get a clear error at the offending op.
// RUN: quantx-translate --quantx-to-gguf %s -split-input-file -verify-diagnostics -o %t.gguf

module {
  // expected-error @+1 {{a GGUF module holds only arith.constant tensors, found 'arith.addf'}}
  %0 = arith.addf %1, %1 : f32
  %1 = arith.constant 1.0 : f32
}

// -----

module {
  // expected-error @+1 {{tensor constant has no 'quantx.gguf.name' string attribute}}
  %0 = arith.constant dense<1.0> : tensor<4xf32>
}

// -----

module {
  // expected-error @+1 {{tensor 'w': raw bytes need a 'quantx.gguf.type' attribute}}
  %0 = arith.constant {quantx.gguf.name = "w"} dense<1> : tensor<18xi8>
}

// -----

module {
  // expected-error @+1 {{tensor 'w': raw bytes need a 'quantx.gguf.shape' array<i64: ...> attribute}}
  %0 = arith.constant {quantx.gguf.name = "w", quantx.gguf.type = #quantx.gguf<q4_0>} dense<1> : tensor<18xi8>
}

// -----

module {
  // expected-error @+1 {{tensor 'w' has 17 bytes, but a q4_0 tensor of shape [1, 32] takes 18}}
  %0 = arith.constant {quantx.gguf.name = "w", quantx.gguf.type = #quantx.gguf<q4_0>, quantx.gguf.shape = array<i64: 1, 32>} dense<1> : tensor<17xi8>
}

// -----

module {
  // expected-error @+1 {{tensor 'w': innermost dimension 30 of a q4_0 tensor is not a multiple of the block size 32}}
  %0 = arith.constant {quantx.gguf.name = "w", quantx.gguf.type = #quantx.gguf<q4_0>, quantx.gguf.shape = array<i64: 1, 30>} dense<1> : tensor<18xi8>
}

// -----

module {
  // expected-error @+1 {{tensor 'w': the innermost dimension 30 is not a multiple of q4_0's block size 32}}
  %0 = arith.constant {quantx.gguf.name = "w", quantx.gguf.type = #quantx.gguf<q4_0>} dense<1.0> : tensor<2x30xf32>
}

// -----

module {
  // expected-error @+1 {{tensor 'w': quantx cannot quantize to iq2_xxs}}
  %0 = arith.constant {quantx.gguf.name = "w", quantx.gguf.type = 16 : ui32} dense<1.0> : tensor<1x256xf32>
}

// -----

module {
  // expected-error @+1 {{'quantx.gguf.type' 4 : ui32 is not a ggml tensor type id}}
  %0 = arith.constant {quantx.gguf.name = "w", quantx.gguf.type = 4 : ui32} dense<1.0> : tensor<32xf32>
}

// -----

module {
  // expected-error @+1 {{'quantx.gguf.type' must be a #quantx.gguf<...> attribute or a ggml type id, got "q4_0"}}
  %0 = arith.constant {quantx.gguf.name = "w", quantx.gguf.type = "q4_0"} dense<1.0> : tensor<32xf32>
}

// -----

module {
  // expected-error @+1 {{tensor 'w': 'quantx.gguf.shape' is only for raw bytes; a float tensor's shape is its type's}}
  %0 = arith.constant {quantx.gguf.name = "w", quantx.gguf.shape = array<i64: 4>} dense<1.0> : tensor<4xf32>
}

// -----

module {
  // expected-error @+1 {{tensor 'w': expected a float (f32, f16, bf16) constant or raw bytes (tensor<Nxi8>), got 'tensor<4xi32>'}}
  %0 = arith.constant {quantx.gguf.name = "w"} dense<1> : tensor<4xi32>
}

// -----

module {
  // expected-error @+1 {{tensor 'w' has rank 0; GGUF tensors have rank 1 to 4}}
  %0 = arith.constant {quantx.gguf.name = "w"} dense<1.0> : tensor<f32>
}

// -----

module {
  // expected-error @+1 {{tensor 'w' has rank 5; GGUF tensors have rank 1 to 4}}
  %0 = arith.constant {quantx.gguf.name = "w"} dense<1.0> : tensor<1x1x1x1x1xf32>
}

// -----

module {
  %0 = arith.constant {quantx.gguf.name = "w"} dense<1.0> : tensor<4xf32>
  // expected-error @+1 {{tensor 'w': duplicate tensor name 'w'}}
  %1 = arith.constant {quantx.gguf.name = "w"} dense<1.0> : tensor<4xf32>
}

// -----

module {
  // expected-error @+1 {{is longer than 63 bytes}}
  %0 = arith.constant {quantx.gguf.name = "a_name_that_is_much_too_long_for_ggml_which_allows_63_bytes_at_most"} dense<1.0> : tensor<4xf32>
}

// -----

// expected-error @+1 {{metadata 'k': integer type must be i1, i8..i64 or ui8..ui64, got 'i7'}}
module attributes {quantx.gguf.metadata = {k = 1 : i7}} {
}

// -----

// expected-error @+1 {{metadata 'k': float type must be f32 or f64, got 'f16'}}
module attributes {quantx.gguf.metadata = {k = 1.0 : f16}} {
}

// -----

// expected-error @+1 {{metadata 'k': a dense array must be 1-D of i1, i8..i64, ui8..ui64, f32 or f64, got 'tensor<1x2xi32>'}}
module attributes {quantx.gguf.metadata = {k = dense<1> : tensor<1x2xi32>}} {
}

// -----

// expected-error @+1 {{metadata 'k': array elements must all have one GGUF type, found str and u32}}
module attributes {quantx.gguf.metadata = {k = ["a", 1 : ui32]}} {
}

// -----

// expected-error @+1 {{metadata 'k': unsupported attribute unit}}
module attributes {quantx.gguf.metadata = {k}} {
}

// -----

// expected-error @+1 {{general.alignment 48 is not a power of two}}
module attributes {quantx.gguf.metadata = {general.alignment = 48 : ui32}} {
}

// -----

// expected-error @+1 {{general.alignment must be a u32, got u64}}
module attributes {quantx.gguf.metadata = {general.alignment = 32 : ui64}} {
}

// -----

// expected-error @+1 {{'quantx.gguf.metadata' must be a dictionary}}
module attributes {quantx.gguf.metadata = "x"} {
}

// -----

// A dense_resource whose blob is not in the file.
module {
  // expected-error @+1 {{resource 'missing' has no data}}
  %0 = arith.constant {quantx.gguf.name = "w"} dense_resource<missing> : tensor<4xf32>
}

// -----

module {
  // expected-error @+1 {{resource 'missing' has no data}}
  %0 = arith.constant {quantx.gguf.name = "w", quantx.gguf.type = #quantx.gguf<q8_0>} dense_resource<missing> : tensor<1x32xf32>
}

// -----

module {
  // expected-error @+1 {{resource 'missing' has no data}}
  %0 = arith.constant {quantx.gguf.name = "w", quantx.gguf.type = #quantx.gguf<q8_0>, quantx.gguf.shape = array<i64: 1, 32>} dense_resource<missing> : tensor<34xi8>
}
