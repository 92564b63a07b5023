//===- QuantXEnums.td - QuantX enums and enum attributes ---*- tablegen -*-===//
//
// Enumerations used by quantx types and ops: rounding modes, quantization
// granularity, the kind of offset a scheme uses, observer kinds and the GGUF
// tensor types the dialect can express exactly.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_DIALECT_QUANTX_IR_QUANTXENUMS_TD
#define QUANTX_DIALECT_QUANTX_IR_QUANTXENUMS_TD

include "quantx/Dialect/QuantX/IR/QuantXBase.td"
include "mlir/IR/EnumAttr.td"

def QuantX_RoundingMode : I32EnumAttr<"RoundingMode",
    "rounding mode of a float-to-integer step", [
      I32EnumAttrCase<"half_to_even", 0>,
      I32EnumAttrCase<"half_away_from_zero", 1>,
      I32EnumAttrCase<"toward_zero", 2>,
      I32EnumAttrCase<"floor", 3>
    ]> {
  let cppNamespace = "::mlir::quantx";
  let genSpecializedAttr = 0;
}

def QuantX_RoundingModeAttr : EnumAttr<QuantX_Dialect, QuantX_RoundingMode,
                                       "rounding"> {
  let summary = "Rounding mode of quantization";
  let description = [{
    How `x / scale` is rounded to an integer: `half_to_even` (IEEE
    roundTiesToEven, the default and what PyTorch does), `half_away_from_zero`
    (C `roundf`, what ggml's quantizers use), `toward_zero` (C truncation)
    or `floor`.

    ```mlir
    #quantx.rounding<half_away_from_zero>
    ```
  }];
  let assemblyFormat = "`<` $value `>`";
}

def QuantX_Granularity : I32EnumAttr<"Granularity",
    "which elements share quantization parameters", [
      I32EnumAttrCase<"per_tensor", 0>,
      I32EnumAttrCase<"per_axis", 1>,
      I32EnumAttrCase<"per_block", 2>
    ]> {
  let cppNamespace = "::mlir::quantx";
  let genSpecializedAttr = 0;
}

def QuantX_OffsetKind : I32EnumAttr<"OffsetKind",
    "how the offset of a quantization scheme enters the affine map", [
      I32EnumAttrCase<"none", 0>,
      I32EnumAttrCase<"zero_point", 1>,
      I32EnumAttrCase<"add_min", 2>,
      I32EnumAttrCase<"sub_min", 3>
    ]> {
  let cppNamespace = "::mlir::quantx";
  let genSpecializedAttr = 0;
}

def QuantX_ObserverKind : I32EnumAttr<"ObserverKind",
    "statistic an observation point collects during calibration", [
      I32EnumAttrCase<"min_max", 0>,
      I32EnumAttrCase<"moving_average_min_max", 1>,
      I32EnumAttrCase<"histogram", 2>,
      I32EnumAttrCase<"percentile", 3>,
      I32EnumAttrCase<"entropy", 4>,
      I32EnumAttrCase<"mse", 5>,
      I32EnumAttrCase<"hessian", 6>,
      I32EnumAttrCase<"mean_abs", 7>
    ]> {
  let cppNamespace = "::mlir::quantx";
  let genSpecializedAttr = 0;
}

def QuantX_ObserverKindAttr : EnumAttr<QuantX_Dialect, QuantX_ObserverKind,
                                       "observer"> {
  let summary = "Kind of statistic collected by `quantx.observe`";
  let description = [{
    `min_max`, `moving_average_min_max`, `histogram`, `percentile`,
    `entropy` (KL-divergence threshold search over a histogram), `mse`
    (MSE-optimal clipping search over a histogram) give the range of the
    observed tensor; `hessian` accumulates `2 X^T X` over the last dimension
    (GPTQ); `mean_abs` accumulates the mean absolute value per channel of the
    last dimension (AWQ).

    ```mlir
    #quantx.observer<entropy>
    ```
  }];
  let assemblyFormat = "`<` $value `>`";
}

// Numeric values are ggml's `enum ggml_type` ids, so they can be written to a
// GGUF file as they are.
def QuantX_GGUFType : I32EnumAttr<"GGUFType",
    "GGUF tensor type with an exact quantx encoding", [
      I32EnumAttrCase<"f32", 0>,
      I32EnumAttrCase<"f16", 1>,
      I32EnumAttrCase<"q4_0", 2>,
      I32EnumAttrCase<"q4_1", 3>,
      I32EnumAttrCase<"q5_0", 6>,
      I32EnumAttrCase<"q5_1", 7>,
      I32EnumAttrCase<"q8_0", 8>,
      I32EnumAttrCase<"q2_k", 10>,
      I32EnumAttrCase<"q3_k", 11>,
      I32EnumAttrCase<"q4_k", 12>,
      I32EnumAttrCase<"q5_k", 13>,
      I32EnumAttrCase<"q6_k", 14>,
      I32EnumAttrCase<"bf16", 30>
    ]> {
  let cppNamespace = "::mlir::quantx";
  let genSpecializedAttr = 0;
}

def QuantX_GGUFTypeAttr : EnumAttr<QuantX_Dialect, QuantX_GGUFType, "gguf"> {
  let summary = "A GGUF tensor type";
  let description = [{
    Names a ggml tensor type. Each quantized GGUF type is exactly one
    `!quantx.uniform` scheme (see `mlir::quantx::getGGUFUniformType`):

    ```mlir
    #quantx.gguf<q4_k>
    ```
  }];
  let assemblyFormat = "`<` $value `>`";
}

#endif // QUANTX_DIALECT_QUANTX_IR_QUANTXENUMS_TD
