//===- QuantXBase.td - QuantX dialect definition -----------*- tablegen -*-===//
//
// The quantx dialect: quantized types, attributes and ops. This file holds the
// dialect definition and its long-form documentation; types, attributes, enums
// and ops live in the sibling QuantX*.td files.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_DIALECT_QUANTX_IR_QUANTXBASE_TD
#define QUANTX_DIALECT_QUANTX_IR_QUANTXBASE_TD

include "mlir/IR/OpBase.td"

def QuantX_Dialect : Dialect {
  let name = "quantx";
  let cppNamespace = "::mlir::quantx";
  let summary = "Quantized types and ops with exactly specified numerics";
  let description = [{
    The `quantx` dialect describes how tensors are quantized and computes with
    quantized tensors. It is the IR that QuantX's quantization passes (PTQ,
    QAT, GPTQ, AWQ, RTN) produce and that its code generators and the GGUF
    emitter consume.

    ### Numerics

    A quantized value `q` of a `!quantx.uniform` type stands for the real
    value

    ```
    x = scale * (q - zero_point)      (offset = zero_point, the default
                                       for asymmetric types)
    x = scale * q                     (symmetric: no offset)
    x = scale * q + min               (offset = add_min, ggml Q4_1 style)
    x = scale * q - min               (offset = sub_min, ggml K-quant style)
    ```

    where `scale`, `zero_point` and `min` are the parameters of the block the
    element belongs to. Quantization is

    ```
    q = clamp(round(x / scale) + zero_point, storage_min, storage_max)
    q = clamp(round((x - min) / scale), ...)       (add_min)
    q = clamp(round((x + min) / scale), ...)       (sub_min)
    ```

    with the rounding mode and the saturation carried by the op as explicit
    attributes (`#quantx.rounding<half_to_even>` by default). The division is
    an IEEE division in the expressed type. NaN inputs quantize to the offset
    (the storage value that stands for 0); +-Inf saturate.

    Unlike upstream `quant`, nothing in this dialect folds away a lossy round
    trip: `dequantize(quantize(x))` is never replaced by `x`.

    ### Parameters: static or dynamic

    Parameters are either *static*, stored in the type (small tables: the
    per-tensor parameters of activations after calibration, the per-channel
    scales imported from upstream `!quant.uniform`), or *dynamic*: the type
    only describes the scheme and the ops take the scale/offset tensors as
    SSA operands (dynamic quantization, learnable QAT parameters, the large
    scale tables of grouped weights).
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let extraClassDeclaration = [{
    /// Registers the types and attributes (defined with their storage in
    /// QuantXTypes.cpp).
    void registerTypes();
    void registerAttributes();
    void registerBytecodeInterface();
  }];
}

class QuantX_Op<string mnemonic, list<Trait> traits = []>
    : Op<QuantX_Dialect, mnemonic, traits>;

#endif // QUANTX_DIALECT_QUANTX_IR_QUANTXBASE_TD
