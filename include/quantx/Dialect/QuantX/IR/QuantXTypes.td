//===- QuantXTypes.td - QuantX type definitions ------------*- tablegen -*-===//
//
// The one quantized element type of the dialect, `!quantx.uniform`.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_DIALECT_QUANTX_IR_QUANTXTYPES_TD
#define QUANTX_DIALECT_QUANTX_IR_QUANTXTYPES_TD

include "quantx/Dialect/QuantX/IR/QuantXBase.td"
include "mlir/IR/AttrTypeBase.td"

class QuantX_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<QuantX_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def QuantX_UniformType : QuantX_Type<"Uniform", "uniform"> {
  let summary = "Uniformly quantized element type";
  let description = [{
    The element type of a quantized tensor: integer storage of 2 to 32 bits
    (compute ops accept 2 to 8) standing for values of a float *expressed*
    type (`f16`, `bf16`, `f32`, `f64`) through an affine map whose parameters
    are shared by a tensor, a slice along one axis, or a block.

    Syntax:

    ```
    uniform-type ::= `!quantx.uniform` `<` storage (`<` min `:` max `>`)?
                     `:` expressed (`,` field)* `>`
    storage      ::= `i`N | `u`N | `si`N | `ui`N      (N in 2..32)
    field        ::= `axis` `=` N                      (per-axis)
                   | `blocks` `=` `{` (axis `:` size),* `}` (per-block)
                   | `offset` `=` (`zero_point`|`add_min`|`sub_min`)
                   | `scale_type` `=` type  | `offset_type` `=` type
                   | `scale` `=` float  | `zero_point` `=` int | `min` = float
                   | `scales` `=` elements-attr | `offsets` `=` elements-attr
    ```

    `iN`/`uN` are signed/unsigned values stored in a signless `iN`; `siN`/
    `uiN` use the signed/unsigned integer type itself (as upstream `quant`).
    A storage range `<min:max>` narrows the values, e.g. `i8<-127:127>` is
    the symmetric "narrow range" int8.

    Granularity: per tensor (default), `axis = A` (one parameter set per
    slice along axis A; parameter tensors are 1-D), or `blocks = {A:B, ...}`
    (blocks of B elements along each listed axis A; unlisted axes form one
    block; parameter tensors have the data's rank and `ceil(D/B)` entries
    along a blocked axis of size D, 1 along unlisted axes). A last, partial
    block is allowed.

    Offset: `none` (symmetric, the default without static zero points),
    `zero_point` (integer zero point), `add_min` (`x = s*q + m`) or `sub_min`
    (`x = s*q - m`).

    Parameters are static when `scale`/`scales` are present and dynamic
    (SSA operands of the ops) otherwise. `scale_type` is the element type of
    dynamic scale tensors: a float type (`f32` by default; `f16` for ggml)
    or itself a `!quantx.uniform` type, which expresses double quantization
    (the scales are quantized tensors, as in ggml's K-quants).
    `offset_type` likewise for offsets (default `i32` for zero points and
    the scale type for mins).

    Examples:

    ```mlir
    // Static per-tensor asymmetric uint8 (an activation after calibration).
    !quantx.uniform<u8:f32, scale = 0.0235, zero_point = 128>
    // Per-output-channel symmetric narrow int8 weights, scales in the type.
    !quantx.uniform<i8<-127:127>:f32, axis = 0, scales = dense<[0.5, 0.25]> : tensor<2xf64>>
    // GPTQ-style 4-bit weights, groups of 128 along the input dimension,
    // scales and zero points as SSA tensors.
    !quantx.uniform<u4:f16, blocks = {0 : 1, 1 : 128}, offset = zero_point>
    // ggml Q4_0: signed 4-bit, 32-element blocks along rows, fp16 scales.
    !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, scale_type = f16>
    ```
  }];
  let parameters = (ins
    "::mlir::IntegerType":$storageType,
    "bool":$isSigned,
    "int64_t":$storageMin,
    "int64_t":$storageMax,
    "::mlir::FloatType":$expressedType,
    "::mlir::quantx::Granularity":$granularity,
    ArrayRefParameter<"int64_t", "quantized axes">:$axes,
    ArrayRefParameter<"int64_t", "block size per quantized axis">:$blockSizes,
    "::mlir::quantx::OffsetKind":$offsetKind,
    "::mlir::Type":$scaleType,
    "::mlir::Type":$offsetType,
    OptionalParameter<"::mlir::Attribute", "static scales">:$scales,
    OptionalParameter<"::mlir::Attribute", "static offsets">:$offsets
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Storage width in bits.
    unsigned getStorageWidth() const { return getStorageType().getWidth(); }
    /// The full range of the storage integer, ignoring a narrowed range.
    int64_t getStorageTypeFullMin() const;
    int64_t getStorageTypeFullMax() const;
    /// True when the storage range is [-(2^(n-1)-1), 2^(n-1)-1].
    bool isNarrowRange() const;
    /// True when there is no offset (x = scale * q).
    bool isSymmetric() const {
      return getOffsetKind() == ::mlir::quantx::OffsetKind::none;
    }
    /// True when scales live in the type.
    bool hasStaticParams() const { return bool(getScales()); }
    bool isPerTensor() const {
      return getGranularity() == ::mlir::quantx::Granularity::per_tensor;
    }
    bool isPerAxis() const {
      return getGranularity() == ::mlir::quantx::Granularity::per_axis;
    }
    bool isPerBlock() const {
      return getGranularity() == ::mlir::quantx::Granularity::per_block;
    }
    /// True when scales (or offsets) are themselves quantized.
    bool hasQuantizedScales() const;
    bool hasQuantizedOffsets() const;

    /// Shape of the parameter tensors (scales, offsets) for data of `shape`.
    /// Fails when the granularity does not fit the shape (axis out of range);
    /// dynamic dimensions stay dynamic.
    ::mlir::FailureOr<::llvm::SmallVector<int64_t>>
    getParamShape(::llvm::ArrayRef<int64_t> shape) const;

    /// Returns the same scheme with dynamic parameters (scales/offsets
    /// dropped from the type).
    UniformType withoutStaticParams() const;
    /// Returns the same type with another expressed type.
    UniformType withExpressedType(::mlir::FloatType type) const;

    /// Returns the storage type a storage cast produces: the integer type
    /// itself (signless `iN` for `iN`/`uN` storage).
    ::mlir::IntegerType getStorageIntegerType() const {
      return getStorageType();
    }
  }];
  let skipDefaultBuilders = 1;
  let builders = [
    TypeBuilderWithInferredContext<(ins
      "::mlir::IntegerType":$storageType, "bool":$isSigned,
      "int64_t":$storageMin, "int64_t":$storageMax,
      "::mlir::FloatType":$expressedType,
      "::mlir::quantx::Granularity":$granularity,
      "::llvm::ArrayRef<int64_t>":$axes,
      "::llvm::ArrayRef<int64_t>":$blockSizes,
      "::mlir::quantx::OffsetKind":$offsetKind,
      "::mlir::Type":$scaleType, "::mlir::Type":$offsetType,
      "::mlir::Attribute":$scales, "::mlir::Attribute":$offsets), [{
      return $_get(storageType.getContext(), storageType, isSigned,
                   storageMin, storageMax, expressedType, granularity, axes,
                   blockSizes, offsetKind, scaleType, offsetType, scales,
                   offsets);
    }]>
  ];
}

#endif // QUANTX_DIALECT_QUANTX_IR_QUANTXTYPES_TD
