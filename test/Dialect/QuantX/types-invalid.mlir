// Every diagnostic of the !quantx.uniform parser and verifier.
// RUN: quantx-opt %s -split-input-file -verify-diagnostics

// Storage spelled with an unknown prefix.
// expected-error @+1 {{expected storage type like i8, u4, si8 or ui8}}
func.func private @f(!quantx.uniform<f8:f32>)

// -----

// Storage width that is not a number.
// expected-error @+1 {{expected storage type like i8, u4, si8 or ui8}}
func.func private @f(!quantx.uniform<ix:f32>)

// -----

// Storage narrower than 2 bits.
// expected-error @+1 {{storage width must be in [2, 32], got 1}}
func.func private @f(!quantx.uniform<i1:f32>)

// -----

// Storage wider than 32 bits.
// expected-error @+1 {{storage width must be in [2, 32], got 33}}
func.func private @f(!quantx.uniform<u33:f32>)

// -----

// Storage range beyond the storage type.
// expected-error @+1 {{storage range [-129, 127] exceeds the range of signed 8-bit storage [-128, 127]}}
func.func private @f(!quantx.uniform<i8<-129:127>:f32>)

// -----

// Unsigned range below zero.
// expected-error @+1 {{storage range [-1, 15] exceeds the range of unsigned 4-bit storage [0, 15]}}
func.func private @f(!quantx.uniform<u4<-1:15>:f32>)

// -----

// Empty storage range.
// expected-error @+1 {{storage range [3, 3] is empty or a single value}}
func.func private @f(!quantx.uniform<i8<3:3>:f32>)

// -----

// Non-float expressed type.
// expected-error @+1 {{expressed type must be a float type}}
func.func private @f(!quantx.uniform<i8:i32>)

// -----

// Unsupported float expressed type.
// expected-error @+1 {{expressed type must be f16, bf16, f32 or f64, got 'f8E4M3FN'}}
func.func private @f(!quantx.uniform<i8:f8E4M3FN>)

// -----

// A field given twice.
// expected-error @+1 {{field 'axis' given twice}}
func.func private @f(!quantx.uniform<i8:f32, axis = 0, axis = 1>)

// -----

// An unknown field.
// expected-error @+1 {{unknown field 'group'}}
func.func private @f(!quantx.uniform<i8:f32, group = 32>)

// -----

// An unknown offset kind.
// expected-error @+1 {{unknown offset kind 'affine', expected none, zero_point, add_min or sub_min}}
func.func private @f(!quantx.uniform<i8:f32, offset = affine>)

// -----

// Negative axis.
// expected-error @+1 {{axis must be non-negative, got -1}}
func.func private @f(!quantx.uniform<i8:f32, axis = -1>)

// -----

// Negative blocked axis.
// expected-error @+1 {{axis must be non-negative, got -1}}
func.func private @f(!quantx.uniform<i8:f32, blocks = {-1 : 2}>)

// -----

// An axis blocked twice.
// expected-error @+1 {{axis 1 is blocked twice}}
func.func private @f(!quantx.uniform<i8:f32, blocks = {1 : 2, 1 : 4}>)

// -----

// Zero block size.
// expected-error @+1 {{block size must be positive, got 0}}
func.func private @f(!quantx.uniform<i8:f32, blocks = {1 : 0}>)

// -----

// A quantized scale type with static parameters.
// expected-error @+1 {{a quantized scale type must have dynamic parameters}}
func.func private @f(!quantx.uniform<u4:f32, blocks = {1 : 32}, scale_type = !quantx.uniform<u6:f32, scale = 1.0>>)

// -----

// Quantized scales need blocks or axes.
// expected-error @+1 {{a per-tensor type cannot have quantized scales}}
func.func private @f(!quantx.uniform<u4:f32, scale_type = !quantx.uniform<u6:f32, blocks = {0 : 8}>>)

// -----

// Integer scale type.
// expected-error @+1 {{scale type must be f16, bf16, f32, f64 or a !quantx.uniform type, got 'i8'}}
func.func private @f(!quantx.uniform<u4:f32, axis = 0, scale_type = i8>)

// -----

// An offset type without an offset.
// expected-error @+1 {{a symmetric type cannot have an offset type}}
func.func private @f(!quantx.uniform<i8:f32, offset_type = i8>)

// -----

// Offsets on a symmetric type.
// expected-error @+1 {{a symmetric type cannot have offsets}}
func.func private @f(!quantx.uniform<i8:f32, offset = none, scale = 1.0, zero_point = 3>)

// -----

// Float zero points.
// expected-error @+1 {{zero point type must be a signless integer type, got 'f32'}}
func.func private @f(!quantx.uniform<u8:f32, offset = zero_point, offset_type = f32>)

// -----

// A quantized min type with static parameters.
// expected-error @+1 {{a quantized offset type must have dynamic parameters}}
func.func private @f(!quantx.uniform<u4:f32, blocks = {0 : 32}, offset = sub_min, offset_type = !quantx.uniform<u6:f32, scale = 1.0>>)

// -----

// Integer mins.
// expected-error @+1 {{min type must be a float or !quantx.uniform type, got 'i8'}}
func.func private @f(!quantx.uniform<u4:f32, offset = add_min, offset_type = i8>)

// -----

// Static zero point without a scale.
// expected-error @+1 {{static offsets need static scales}}
func.func private @f(!quantx.uniform<u8:f32, zero_point = 3>)

// -----

// Static scales that are quantized.
// expected-error @+1 {{static scales cannot be quantized}}
func.func private @f(!quantx.uniform<u4:f32, axis = 0, scale_type = !quantx.uniform<u6:f32, axis = 0>, scales = dense<[1.0]> : tensor<1xf32>>)

// -----

// Static scales of an asymmetric type without offsets.
// expected-error @+1 {{static scales need static offsets for offset kind 'zero_point'}}
func.func private @f(!quantx.uniform<u8:f32, offset = zero_point, scale = 1.0>)

// -----

// Integer per-tensor scale.
// expected-error @+1 {{per-tensor scales must be a float}}
func.func private @f(!quantx.uniform<i8:f32, scales = 2 : i32>)

// -----

// Negative scale.
// expected-error @+1 {{scales must be positive and finite, got -1}}
func.func private @f(!quantx.uniform<i8:f32, scale = -1.0>)

// -----

// Zero scale.
// expected-error @+1 {{scales must be positive and finite, got 0}}
func.func private @f(!quantx.uniform<i8:f32, scale = 0.0>)

// -----

// Float per-tensor zero point.
// expected-error @+1 {{per-tensor offsets must be an integer}}
func.func private @f(!quantx.uniform<u8:f32, scale = 1.0, offsets = 1.5 : f32>)

// -----

// Scalar scales of a per-axis type.
// expected-error @+1 {{scales of a per-axis or per-block type must be an elements attribute}}
func.func private @f(!quantx.uniform<i8:f32, axis = 0, scales = 1.0 : f64>)

// -----

// Integer scale tables.
// expected-error @+1 {{scales must have float elements}}
func.func private @f(!quantx.uniform<i8:f32, axis = 0, scales = dense<[1, 2]> : tensor<2xi32>>)

// -----

// 2-D scale table of a per-axis type.
// expected-error @+1 {{per-axis scales must be 1-D}}
func.func private @f(!quantx.uniform<i8:f32, axis = 0, scales = dense<[[1.0, 2.0]]> : tensor<1x2xf32>>)

// -----

// A non-positive entry of a scale table.
// expected-error @+1 {{scales must be positive and finite, got 0}}
func.func private @f(!quantx.uniform<i8:f32, axis = 0, scales = dense<[1.0, 0.0]> : tensor<2xf32>>)

// -----

// Scale and zero point tables of different shapes.
// expected-error @+1 {{scales and offsets must have the same shape}}
func.func private @f(!quantx.uniform<u8:f32, axis = 0, scales = dense<[1.0, 2.0]> : tensor<2xf32>, offsets = dense<[1, 2, 3]> : tensor<3xi64>>)

// -----

// Float zero point table.
// expected-error @+1 {{offsets must have integer elements}}
func.func private @f(!quantx.uniform<u8:f32, axis = 0, scales = dense<[1.0]> : tensor<1xf32>, offsets = dense<[1.0]> : tensor<1xf32>>)
