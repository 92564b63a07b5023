//===- QuantXTypes.h - QuantX types, attributes and enums -------*- C++ -*-===//
//
// Declares `!quantx.uniform`, the dialect's enums and enum attributes, and
// helpers that relate the type to shapes and to the GGUF block formats.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_DIALECT_QUANTX_IR_QUANTXTYPES_H
#define QUANTX_DIALECT_QUANTX_IR_QUANTXTYPES_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Types.h"

#include "quantx/Dialect/QuantX/IR/QuantXEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "quantx/Dialect/QuantX/IR/QuantXAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "quantx/Dialect/QuantX/IR/QuantXTypes.h.inc"

#include <optional>

namespace mlir::quantx {

/// Builds a `!quantx.uniform` type for the common case of dynamic (or no)
/// parameters: `bits` of storage, signed or not, full storage range (or the
/// narrow one), per tensor when `axes` is empty, per axis when `perAxis`,
/// else per block.
UniformType getUniformType(MLIRContext *ctx, unsigned bits, bool isSigned,
                           FloatType expressedType,
                           OffsetKind offsetKind = OffsetKind::none,
                           Granularity granularity = Granularity::per_tensor,
                           ArrayRef<int64_t> axes = {},
                           ArrayRef<int64_t> blockSizes = {},
                           Type scaleType = {}, Type offsetType = {},
                           bool narrowRange = false);

/// Returns the exact `!quantx.uniform` encoding of a quantized GGUF type for
/// a tensor of rank `rank` (blocks along the last axis, ggml's row), or null
/// for F32/F16/BF16 (plain float tensors). For K-quants the returned type's
/// scale (and min) type is itself a `!quantx.uniform` type (double
/// quantization). See docs/Dialects/QuantXRationale.md.
UniformType getGGUFUniformType(GGUFType type, FloatType expressedType,
                               int64_t rank);

/// Returns the GGUF type whose encoding `type` is exactly, for tensors of
/// rank `rank`, if any.
std::optional<GGUFType> getGGUFTypeFor(UniformType type, int64_t rank);

} // namespace mlir::quantx

#endif // QUANTX_DIALECT_QUANTX_IR_QUANTXTYPES_H
