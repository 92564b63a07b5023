//===- QuantXOps.td - QuantX op definitions ----------------*- tablegen -*-===//
//
// Ops of the quantx dialect: conversions between float and quantized tensors,
// QAT fake quantization, calibration observation points, quantized compute
// and packed-weight constants.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_DIALECT_QUANTX_IR_QUANTXOPS_TD
#define QUANTX_DIALECT_QUANTX_IR_QUANTXOPS_TD

include "quantx/Dialect/QuantX/IR/QuantXBase.td"
include "quantx/Dialect/QuantX/IR/QuantXEnums.td"
include "quantx/Dialect/QuantX/IR/QuantXTypes.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/CommonAttrConstraints.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def QuantX_QuantizedTensor : RankedTensorOf<[QuantX_UniformType]>;
def QuantX_FloatTensor : RankedTensorOf<[AnyFloat]>;
// The casts also take scalars and unranked tensors, as upstream `quant` does.
def QuantX_FloatLike : AnyTypeOf<[AnyFloat, TensorOf<[AnyFloat]>]>;
def QuantX_QuantizedLike : AnyTypeOf<[QuantX_UniformType, TensorOf<[QuantX_UniformType]>]>;
def QuantX_StorageLike : AnyTypeOf<[AnyInteger, QuantX_UniformType,
                                    TensorOf<[AnyInteger, QuantX_UniformType]>]>;
def QuantX_FloatOrQuantizedTensor : RankedTensorOf<[AnyFloat, QuantX_UniformType]>;
def QuantX_ParamTensor : RankedTensorOf<[AnyFloat, AnySignlessInteger, QuantX_UniformType]>;
def QuantX_AnyComputeTensor : RankedTensorOf<[AnyFloat, AnySignlessInteger, QuantX_UniformType]>;

def QuantX_DefaultRounding : DefaultValuedAttr<QuantX_RoundingModeAttr,
    "::mlir::quantx::RoundingMode::half_to_even">;
def QuantX_DefaultSaturate : DefaultValuedAttr<BoolAttr, "true">;

//===----------------------------------------------------------------------===//
// quantize / dequantize / requantize / scast
//===----------------------------------------------------------------------===//

def QuantX_QuantizeOp : QuantX_Op<"quantize", [Pure, AttrSizedOperandSegments]> {
  let summary = "Quantizes a float tensor";
  let description = [{
    Maps each element `x` of `input` to
    `clamp(round(x / scale) + zero_point, storage_min, storage_max)` (or the
    `add_min`/`sub_min` form, see the dialect documentation) with the
    parameters of its block. Parameters come from the result type when it has
    static parameters, else from the `scale`/`offset` operands, whose shape
    is the type's parameter shape for the input's shape
    (`UniformType::getParamShape`).

    `rounding` chooses how `x / scale` is rounded (half to even by default).
    With `saturate = true` (the default) out-of-range values clamp to the
    storage range; with `saturate = false` they are poison and a lowering
    may omit the clamp (only for producers that proved the range). NaN maps
    to the storage value of 0 (the zero point, or 0). The division is done in
    the expressed type.

    ```mlir
    %q = quantx.quantize %x : tensor<4x8xf32> -> tensor<4x8x!quantx.uniform<i8:f32, scale = 0.5>>
    %w = quantx.quantize %x scale(%s : tensor<4x1xf16>)
        : tensor<4x64xf32> -> tensor<4x64x!quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 64}, scale_type = f16>>
    ```
  }];
  let arguments = (ins QuantX_FloatLike:$input,
                       Optional<QuantX_ParamTensor>:$scale,
                       Optional<QuantX_ParamTensor>:$offset,
                       QuantX_DefaultRounding:$rounding,
                       QuantX_DefaultSaturate:$saturate);
  let results = (outs QuantX_QuantizedLike:$result);
  let assemblyFormat = [{
    $input (`scale` `(` $scale^ `:` type($scale) `)`)?
    (`offset` `(` $offset^ `:` type($offset) `)`)? attr-dict
    `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def QuantX_DequantizeOp : QuantX_Op<"dequantize", [Pure, AttrSizedOperandSegments]> {
  let summary = "Dequantizes a quantized tensor";
  let description = [{
    Maps each element `q` to `scale * (q - zero_point)` (or the `add_min`/
    `sub_min` form) in the expressed type of the input's element type, which
    must be the result's element type. The multiplication is exact in f32
    for storage of up to 24 bits; the result is the single IEEE product
    `scale * float(q - zero_point)` (and one addition for the min forms).

    ```mlir
    %x = quantx.dequantize %q : tensor<4x8x!quantx.uniform<i8:f32, scale = 0.5>> -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins QuantX_QuantizedLike:$input,
                       Optional<QuantX_ParamTensor>:$scale,
                       Optional<QuantX_ParamTensor>:$offset);
  let results = (outs QuantX_FloatLike:$result);
  let assemblyFormat = [{
    $input (`scale` `(` $scale^ `:` type($scale) `)`)?
    (`offset` `(` $offset^ `:` type($offset) `)`)? attr-dict
    `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def QuantX_RequantizeOp : QuantX_Op<"requantize", [Pure, AttrSizedOperandSegments]> {
  let summary = "Changes the quantization parameters of a tensor";
  let description = [{
    Equivalent, bit for bit, to `quantize(dequantize(input))` with the input
    parameters (`input_scale`/`input_offset` when dynamic) and the result
    parameters (`scale`/`offset` when dynamic), rounding and saturating as
    the attributes say. Lowerings may use a fixed-point multiplier only
    where it gives identical results.

    ```mlir
    %r = quantx.requantize %q : tensor<16x!quantx.uniform<i32:f32, scale = 1.0e-3>>
                              -> tensor<16x!quantx.uniform<i8:f32, scale = 0.05>>
    ```
  }];
  let arguments = (ins QuantX_QuantizedTensor:$input,
                       Optional<QuantX_ParamTensor>:$input_scale,
                       Optional<QuantX_ParamTensor>:$input_offset,
                       Optional<QuantX_ParamTensor>:$scale,
                       Optional<QuantX_ParamTensor>:$offset,
                       QuantX_DefaultRounding:$rounding,
                       QuantX_DefaultSaturate:$saturate);
  let results = (outs QuantX_QuantizedTensor:$result);
  let assemblyFormat = [{
    $input (`input_scale` `(` $input_scale^ `:` type($input_scale) `)`)?
    (`input_offset` `(` $input_offset^ `:` type($input_offset) `)`)?
    (`scale` `(` $scale^ `:` type($scale) `)`)?
    (`offset` `(` $offset^ `:` type($offset) `)`)? attr-dict
    `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def QuantX_StorageCastOp : QuantX_Op<"scast", [Pure]> {
  let summary = "Reinterprets a quantized tensor as its integer storage or back";
  let description = [{
    A bit-preserving cast between a tensor of `!quantx.uniform` and a tensor
    of its storage integer type (signless `iN` for `iN`/`uN`, else the
    `siN`/`uiN` type itself), in either direction. Lossless: a pair of
    casts folds away.

    ```mlir
    %i = quantx.scast %q : tensor<8x!quantx.uniform<u4:f32, scale = 1.0>> -> tensor<8xi4>
    ```
  }];
  let arguments = (ins QuantX_StorageLike:$input);
  let results = (outs QuantX_StorageLike:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// add
//===----------------------------------------------------------------------===//

def QuantX_AddOp : QuantX_Op<"add", [Pure]> {
  let summary = "Element-wise sum of two quantized tensors, requantized";
  let description = [{
    Equivalent, bit for bit, to
    `quantize(dequantize(lhs) + dequantize(rhs))` with the result type's
    parameters: each operand is dequantized with its own parameters, the
    sum is one addition in the expressed type, and it is quantized with the
    result's `rounding`, saturating to the storage range. The operands and
    the result have one shape (no broadcasting), static parameters (any
    granularity) and one expressed type.

    This is the residual connection of a quantized network (ResNet's
    `x + f(x)`): post-training quantization emits it so that a skip
    connection stays in 8-bit storage between quantized layers. A ReLU
    after the sum is the saturation of a result with zero point 0.

    ```mlir
    %s = quantx.add %a, %b : tensor<2x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 3>>,
                             tensor<2x8x!quantx.uniform<u8:f32, scale = 0.01, zero_point = 0>>
                          -> tensor<2x8x!quantx.uniform<u8:f32, scale = 0.03, zero_point = 2>>
    ```
  }];
  let arguments = (ins QuantX_QuantizedTensor:$lhs,
                       QuantX_QuantizedTensor:$rhs,
                       QuantX_DefaultRounding:$rounding);
  let results = (outs QuantX_QuantizedTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// fake_quant
//===----------------------------------------------------------------------===//

def QuantX_FakeQuantOp : QuantX_Op<"fake_quant", [Pure, AttrSizedOperandSegments,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "Quantize-dequantize in float, for quantization-aware training";
  let description = [{
    Forward: `dequantize(quantize(input))` with the scheme of `qtype`, all in
    the float type of `input`: `scale * (clamp(round(x/scale) + zp, qmin,
    qmax) - zp)`. Scale and offset come from `qtype` when it has static
    parameters, else from the `scale`/`offset` operands, which are the
    learnable parameters of QAT (float tensors of the parameter shape; a
    learnable zero point is a float tensor, rounded with the same rounding
    mode and clamped to the storage range before use, as PyTorch's
    `fake_quantize_per_tensor_affine` does).

    Gradients (straight-through estimator, the semantics QAT lowering
    implements; LSQ for the scale):
    * d out / d input = 1 where `qmin <= round(x/scale) + zp <= qmax`,
      else 0;
    * d out / d scale = `(q - zp) - x/scale` inside the range, `qmin - zp`
      below it and `qmax - zp` above it;
    * d out / d zero_point = 0 inside the range, `-scale` outside it.

    The op is never folded: a lossy round trip is part of the model.

    ```mlir
    %y = quantx.fake_quant %x scale(%s : tensor<f32>) offset(%z : tensor<f32>)
           {qtype = !quantx.uniform<u8:f32, offset = zero_point>} : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins QuantX_FloatTensor:$input,
                       Optional<QuantX_FloatTensor>:$scale,
                       Optional<QuantX_FloatTensor>:$offset,
                       TypeAttrOf<QuantX_UniformType>:$qtype,
                       QuantX_DefaultRounding:$rounding);
  let results = (outs QuantX_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`scale` `(` $scale^ `:` type($scale) `)`)?
    (`offset` `(` $offset^ `:` type($offset) `)`)? attr-dict
    `:` type($input)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::quantx::UniformType getQuantizedType() {
      return ::llvm::cast<::mlir::quantx::UniformType>(getQtype());
    }
  }];
}

//===----------------------------------------------------------------------===//
// observe
//===----------------------------------------------------------------------===//

def QuantX_ObserveOp : QuantX_Op<"observe", [
    AllTypesMatch<["input", "result"]>,
    MemoryEffects<[MemWrite]>]> {
  let summary = "Calibration observation point";
  let description = [{
    Returns `input` unchanged and, when the module runs for calibration,
    feeds it to the observer of kind `kind` registered under `name`. The op
    has a write effect so that it survives canonicalization and CSE until
    the calibration statistics have been collected; the PTQ rewriting passes
    remove it.

    `axis` makes range observers per-channel along that axis. `num_bins`
    (histogram-based kinds), `percentile` (in (0, 100]) and `momentum`
    (moving average) tune the observer. After calibration the collected
    statistics may be attached as `stats` (a dictionary, e.g.
    `{min = -1.5 : f64, max = 2.0 : f64}`) so that calibration and rewriting
    are separable.

    ```mlir
    %y = quantx.observe %x {kind = #quantx.observer<min_max>, name = "conv1.input"} : tensor<1x3x28x28xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input,
                       QuantX_ObserverKindAttr:$kind,
                       StrAttr:$name,
                       OptionalAttr<I64Attr>:$axis,
                       OptionalAttr<I64Attr>:$num_bins,
                       OptionalAttr<F64Attr>:$percentile,
                       OptionalAttr<F64Attr>:$momentum,
                       OptionalAttr<DictionaryAttr>:$stats);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Quantized compute
//===----------------------------------------------------------------------===//

def QuantX_MatmulOp : QuantX_Op<"matmul", [Pure, AttrSizedOperandSegments]> {
  let summary = "Quantized matmul / linear with int32 accumulation and a fused epilogue";
  let description = [{
    `result[..., m, n] = epilogue(sum_k lhs[..., m, k] * rhs[k, n] + bias[n])`
    where `rhs` is `[K, N]`, or `[N, K]` with `transpose_rhs` (the layout of
    a PyTorch `Linear` weight). `lhs` may have leading batch dimensions.

    Quantized operands contribute their integer values minus zero point.
    When `lhs` and `rhs` are quantized with per-tensor or per-axis
    parameters (`lhs` per tensor or per row, `rhs` per tensor or per output
    channel), the sum is exact int32 arithmetic and is scaled once by
    `scale_lhs * scale_rhs[n]` in f32. When `rhs` has blocks along K, the
    int32 sums of each K block are scaled by their block's scales and added
    in f32 in increasing K order. A float `lhs` makes the op a weight-only
    matmul: `rhs` is dequantized (conceptually; lowerings must not
    materialise it) and the sum is f32.

    Bias: `i32` with scale `scale_lhs * scale_rhs` added to the int32 sum, or
    float added after scaling. Epilogue, chosen by the result type: an `i32`
    result is the raw accumulator (per-tensor/per-axis only); a float result
    is the scaled sum; a quantized result requantizes the scaled sum with its
    parameters (`rounding`, saturation). `relu` applies max(0, .) before the
    requantization.

    Dynamic parameters are passed as operands: `lhs_scale`/`lhs_offset`,
    `rhs_scale`/`rhs_offset`, `result_scale`/`result_offset`.

    ```mlir
    %y = quantx.matmul %x, %w bias(%b : tensor<16xi32>) {relu, transpose_rhs}
        : tensor<8x32x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>,
          tensor<16x32x!quantx.uniform<i8<-127:127>:f32, scale = 0.01>>
        -> tensor<8x16x!quantx.uniform<u8:f32, scale = 0.05, zero_point = 0>>
    ```
  }];
  let arguments = (ins QuantX_FloatOrQuantizedTensor:$lhs,
                       QuantX_QuantizedTensor:$rhs,
                       Optional<RankedTensorOf<[AnyFloat, I32]>>:$bias,
                       Optional<QuantX_ParamTensor>:$lhs_scale,
                       Optional<QuantX_ParamTensor>:$lhs_offset,
                       Optional<QuantX_ParamTensor>:$rhs_scale,
                       Optional<QuantX_ParamTensor>:$rhs_offset,
                       Optional<QuantX_ParamTensor>:$result_scale,
                       Optional<QuantX_ParamTensor>:$result_offset,
                       UnitAttr:$transpose_rhs,
                       UnitAttr:$relu,
                       QuantX_DefaultRounding:$rounding);
  let results = (outs QuantX_AnyComputeTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs (`bias` `(` $bias^ `:` type($bias) `)`)?
    (`lhs_scale` `(` $lhs_scale^ `:` type($lhs_scale) `)`)?
    (`lhs_offset` `(` $lhs_offset^ `:` type($lhs_offset) `)`)?
    (`rhs_scale` `(` $rhs_scale^ `:` type($rhs_scale) `)`)?
    (`rhs_offset` `(` $rhs_offset^ `:` type($rhs_offset) `)`)?
    (`result_scale` `(` $result_scale^ `:` type($result_scale) `)`)?
    (`result_offset` `(` $result_offset^ `:` type($result_offset) `)`)?
    attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let hasVerifier = 1;
}

def QuantX_Conv2DOp : QuantX_Op<"conv2d", [Pure, AttrSizedOperandSegments]> {
  let summary = "Quantized 2-D convolution (NCHW input, FCHW filter)";
  let description = [{
    A grouped, strided, dilated, zero-padded 2-D convolution in PyTorch's
    layout: `input` is `[N, C, H, W]`, `filter` is `[F, C/groups, KH, KW]`,
    the result `[N, F, OH, OW]` with
    `OH = (H + pad_top + pad_bottom - dil_h*(KH-1) - 1) / stride_h + 1`.
    Padding pads the *real* value 0, i.e. the input's zero point. The
    accumulation, bias, epilogue, `relu` and dynamic parameter operands are
    as for `quantx.matmul`, with the filter's per-axis parameters on axis 0
    (output channels). With a float input (weight-only) the filter may also
    be quantized in blocks of one output channel and whole input channels
    (`blocks = {0 : 1, 1 : B}`): B * KH * KW consecutive elements of the
    filter's flattened reduction share a scale.

    ```mlir
    %y = quantx.conv2d %x, %w {strides = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>}
        : tensor<1x3x8x8x!quantx.uniform<u8:f32, scale = 0.02, zero_point = 128>>,
          tensor<4x3x3x3x!quantx.uniform<i8<-127:127>:f32, scale = 0.01>>
        -> tensor<1x4x8x8xf32>
    ```
  }];
  let arguments = (ins QuantX_FloatOrQuantizedTensor:$input,
                       QuantX_QuantizedTensor:$filter,
                       Optional<RankedTensorOf<[AnyFloat, I32]>>:$bias,
                       Optional<QuantX_ParamTensor>:$input_scale,
                       Optional<QuantX_ParamTensor>:$input_offset,
                       Optional<QuantX_ParamTensor>:$filter_scale,
                       Optional<QuantX_ParamTensor>:$filter_offset,
                       Optional<QuantX_ParamTensor>:$result_scale,
                       Optional<QuantX_ParamTensor>:$result_offset,
                       DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$strides,
                       DefaultValuedAttr<DenseI64ArrayAttr, "{0, 0, 0, 0}">:$padding,
                       DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$dilations,
                       DefaultValuedAttr<I64Attr, "1">:$groups,
                       UnitAttr:$relu,
                       QuantX_DefaultRounding:$rounding);
  let results = (outs QuantX_AnyComputeTensor:$result);
  let assemblyFormat = [{
    $input `,` $filter (`bias` `(` $bias^ `:` type($bias) `)`)?
    (`input_scale` `(` $input_scale^ `:` type($input_scale) `)`)?
    (`input_offset` `(` $input_offset^ `:` type($input_offset) `)`)?
    (`filter_scale` `(` $filter_scale^ `:` type($filter_scale) `)`)?
    (`filter_offset` `(` $filter_offset^ `:` type($filter_offset) `)`)?
    (`result_scale` `(` $result_scale^ `:` type($result_scale) `)`)?
    (`result_offset` `(` $result_offset^ `:` type($result_offset) `)`)?
    attr-dict `:` type($input) `,` type($filter) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Packed-weight constants
//===----------------------------------------------------------------------===//

def QuantX_ConstantOp : QuantX_Op<"constant", [ConstantLike, Pure]> {
  let summary = "A quantized constant, sub-byte values packed into bytes";
  let description = [{
    Materialises a quantized tensor from `value`, which is either
    * an integer elements attribute of the storage type with the result's
      shape (one integer per element, small constants), or
    * a 1-D `i8`/`ui8` elements attribute, typically a `dense_resource`
      blob, holding the values *packed*: row-major element order,
      `ceil(numel * bits / 8)` bytes, element `i` occupying bits
      `[i*bits, (i+1)*bits)` of the little-endian bit stream (for 4-bit
      values: element `2j` in the low nibble of byte `j`), each value in
      two's complement for signed storage.

    ```mlir
    %w = quantx.constant dense_resource<w0> : tensor<32xi8>
           -> tensor<8x8x!quantx.uniform<i4:f32, scale = 0.1>>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs QuantX_QuantizedTensor:$result);
  let assemblyFormat = "$value attr-dict `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let extraClassDeclaration = [{
    /// True when `value` holds packed bytes rather than one integer per
    /// element.
    bool isPacked();
  }];
}

#endif // QUANTX_DIALECT_QUANTX_IR_QUANTXOPS_TD
