//===- QuantInterop.h - Upstream quant <-> quantx type mapping --*- C++ -*-===//
//
// The type mapping behind the convert-quant-to-quantx and
// convert-quantx-to-quant passes, exposed for other passes and tests.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_CONVERSION_QUANTINTEROP_QUANTINTEROP_H
#define QUANTX_CONVERSION_QUANTINTEROP_QUANTINTEROP_H

#include "mlir/IR/Types.h"
#include "mlir/Support/LLVM.h"

#include <string>

namespace mlir::quantx {

/// Converts an upstream `!quant.uniform` type (per tensor, per axis or
/// sub-channel) to the equal `!quantx.uniform` type. Returns a null type and
/// sets `error` when it has no quantx equivalent; returns `type` unchanged
/// when it is not an upstream uniform quantized type.
Type convertQuantTypeToQuantX(Type type, std::string &error);

/// Converts a `!quantx.uniform` type to the equal upstream `!quant.uniform`
/// type, or returns null and sets `error`. Other types come back unchanged.
Type convertQuantXTypeToQuant(Type type, std::string &error);

} // namespace mlir::quantx

#endif // QUANTX_CONVERSION_QUANTINTEROP_QUANTINTEROP_H
