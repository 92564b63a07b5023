// Every form of !quantx.uniform round-trips through the custom, the generic
// and the bytecode form.
// RUN: quantx-opt %s | quantx-opt | FileCheck %s
// RUN: quantx-opt %s --mlir-print-op-generic | quantx-opt | FileCheck %s
// RUN: quantx-opt %s -emit-bytecode | quantx-opt | FileCheck %s
// RUN: quantx-opt %s > %t.text && quantx-opt %s -emit-bytecode | quantx-opt > %t.bc && diff %t.text %t.bc

// Storage spellings: signed/unsigned in signless storage, and the explicitly
// signed/unsigned integer types, 2 to 32 bits.
// CHECK-LABEL: @storage
// CHECK-SAME: !quantx.uniform<i2:f32>
// CHECK-SAME: !quantx.uniform<u3:f32>
// CHECK-SAME: !quantx.uniform<i4:f16>
// CHECK-SAME: !quantx.uniform<u5:bf16>
// CHECK-SAME: !quantx.uniform<i6:f64>
// CHECK-SAME: !quantx.uniform<u7:f32>
// CHECK-SAME: !quantx.uniform<si8:f32>
// CHECK-SAME: !quantx.uniform<ui8:f32>
// CHECK-SAME: !quantx.uniform<i16:f32>
// CHECK-SAME: !quantx.uniform<u32:f32>
func.func private @storage(!quantx.uniform<i2:f32>, !quantx.uniform<u3:f32>,
                           !quantx.uniform<i4:f16>, !quantx.uniform<u5:bf16>,
                           !quantx.uniform<i6:f64>, !quantx.uniform<u7:f32>,
                           !quantx.uniform<si8:f32>, !quantx.uniform<ui8:f32>,
                           !quantx.uniform<i16:f32>, !quantx.uniform<u32:f32>)

// Narrow and custom storage ranges; a full range is not printed.
// CHECK-LABEL: @ranges
// CHECK-SAME: !quantx.uniform<i8<-127:127>:f32>
// CHECK-SAME: !quantx.uniform<u4<1:15>:f32>
// CHECK-SAME: !quantx.uniform<i8:f32>
func.func private @ranges(!quantx.uniform<i8<-127:127>:f32>,
                          !quantx.uniform<u4<1:15>:f32>,
                          !quantx.uniform<i8<-128:127>:f32>)

// Granularity: per axis, per block (any axes, any block sizes, empty list).
// CHECK-LABEL: @granularity
// CHECK-SAME: !quantx.uniform<i8:f32, axis = 0>
// CHECK-SAME: !quantx.uniform<i8:f32, axis = 3>
// CHECK-SAME: !quantx.uniform<i4:f32, blocks = {1 : 128}>
// CHECK-SAME: !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}>
// CHECK-SAME: !quantx.uniform<i4:f32, blocks = {2 : 7, 0 : 3}>
// CHECK-SAME: !quantx.uniform<i4:f32, blocks = {}>
func.func private @granularity(!quantx.uniform<i8:f32, axis = 0>,
                               !quantx.uniform<i8:f32, axis = 3>,
                               !quantx.uniform<i4:f32, blocks = {1 : 128}>,
                               !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}>,
                               !quantx.uniform<i4:f32, blocks = {2 : 7, 0 : 3}>,
                               !quantx.uniform<i4:f32, blocks = {}>)

// Offsets of dynamic schemes and their element types.
// CHECK-LABEL: @offsets
// CHECK-SAME: !quantx.uniform<u8:f32, offset = zero_point>
// CHECK-SAME: !quantx.uniform<u8:f32, axis = 1, offset = zero_point, offset_type = i8>
// CHECK-SAME: !quantx.uniform<u4:f32, blocks = {0 : 1, 1 : 32}, offset = add_min, scale_type = f16>
// CHECK-SAME: !quantx.uniform<u4:f32, blocks = {1 : 32}, offset = sub_min, offset_type = bf16>
func.func private @offsets(
    !quantx.uniform<u8:f32, offset = zero_point>,
    !quantx.uniform<u8:f32, axis = 1, offset = zero_point, offset_type = i8>,
    !quantx.uniform<u4:f32, blocks = {0 : 1, 1 : 32}, offset = add_min, scale_type = f16, offset_type = f16>,
    !quantx.uniform<u4:f32, blocks = {1 : 32}, offset = sub_min, offset_type = bf16>)

// Fields may come in any order; printing is canonical.
// CHECK-LABEL: @field_order
// CHECK-SAME: !quantx.uniform<u8:f32, axis = 1, offset = zero_point, scale_type = f16>
func.func private @field_order(!quantx.uniform<u8:f32, scale_type = f16, offset = zero_point, axis = 1>)

// Static parameters: per tensor (the zero point and min imply the offset
// kind), per axis and per block tables, dense_resource tables.
// CHECK-LABEL: @static
// CHECK-SAME: !quantx.uniform<i8:f32, scale = 5.000000e-01>
// CHECK-SAME: !quantx.uniform<u8:f32, scale = 2.350000e-02, zero_point = 128>
// CHECK-SAME: !quantx.uniform<u4:f32, scale = 1.250000e-01, min = -1.000000e+00>
// CHECK-SAME: !quantx.uniform<u4:f32, offset = sub_min, scale = 1.250000e-01, min = 1.000000e+00>
// CHECK-SAME: !quantx.uniform<i8<-127:127>:f32, axis = 0, scales = dense<[5.000000e-01, 2.500000e-01]> : tensor<2xf64>>
// CHECK-SAME: !quantx.uniform<u8:f32, axis = 1, offset = zero_point, scales = dense<[2.000000e+00, 1.000000e+00]> : tensor<2xf64>, offsets = dense<[3, -4]> : tensor<2xi64>>
// CHECK-SAME: !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 2}, scales = dense<{{\[\[}}1.000000e+00, 2.000000e+00]]> : tensor<1x2xf32>>
// CHECK-SAME: !quantx.uniform<i8:f32, axis = 0, scales = dense_resource<scales> : tensor<4xf32>>
func.func private @static(
    !quantx.uniform<i8:f32, scale = 0.5>,
    !quantx.uniform<u8:f32, scale = 0.0235, zero_point = 128>,
    !quantx.uniform<u4:f32, scale = 0.125, min = -1.0>,
    !quantx.uniform<u4:f32, offset = sub_min, scale = 0.125, min = 1.0>,
    !quantx.uniform<i8<-127:127>:f32, axis = 0, scales = dense<[0.5, 0.25]> : tensor<2xf64>>,
    !quantx.uniform<u8:f32, axis = 1, scales = dense<[2.0, 1.0]> : tensor<2xf64>, offsets = dense<[3, -4]> : tensor<2xi64>>,
    !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 2}, scales = dense<[[1.0, 2.0]]> : tensor<1x2xf32>>,
    !quantx.uniform<i8:f32, axis = 0, scales = dense_resource<scales> : tensor<4xf32>>)

// Double quantization: the exact encodings of the GGUF K-quants.
// CHECK-LABEL: @kquants
// The min type defaults to the scale type, so it is not printed.
// CHECK-SAME: !quantx.uniform<u4:f32, blocks = {0 : 1, 1 : 32}, offset = sub_min, scale_type = !quantx.uniform<u6:f32, blocks = {0 : 1, 1 : 8}, scale_type = f16>>
// CHECK-SAME: !quantx.uniform<i6:f32, blocks = {0 : 1, 1 : 16}, scale_type = !quantx.uniform<i8:f32, blocks = {0 : 1, 1 : 16}, scale_type = f16>>
func.func private @kquants(
    !quantx.uniform<u4:f32, blocks = {0 : 1, 1 : 32}, offset = sub_min,
        scale_type = !quantx.uniform<u6:f32, blocks = {0 : 1, 1 : 8}, scale_type = f16>,
        offset_type = !quantx.uniform<u6:f32, blocks = {0 : 1, 1 : 8}, scale_type = f16>>,
    !quantx.uniform<i6:f32, blocks = {0 : 1, 1 : 16},
        scale_type = !quantx.uniform<i8:f32, blocks = {0 : 1, 1 : 16}, scale_type = f16>>)

// Quantized tensors of every rank, including empty and dynamic shapes.
// CHECK-LABEL: @tensors
// CHECK-SAME: tensor<!quantx.uniform<i8:f32>>
// CHECK-SAME: tensor<0x4x!quantx.uniform<i8:f32>>
// CHECK-SAME: tensor<?x4096x!quantx.uniform<u4:f32, blocks = {1 : 128}, offset = zero_point>>
func.func private @tensors(tensor<!quantx.uniform<i8:f32>>,
                           tensor<0x4x!quantx.uniform<i8:f32>>,
                           tensor<?x4096x!quantx.uniform<u4:f32, blocks = {1 : 128}, offset = zero_point>>)

{-#
  dialect_resources: {
    builtin: {
      scales: "0x040000000000803F000000400000404000008040"
    }
  }
#-}
