//===- Passes.h - QuantX conversion pass entry points -----------*- C++ -*-===//

#ifndef QUANTX_CONVERSION_PASSES_H
#define QUANTX_CONVERSION_PASSES_H

#include "quantx/Conversion/QuantInterop/QuantInterop.h"

#include "mlir/Pass/Pass.h"

namespace mlir::quantx {

#define GEN_PASS_DECL
#include "quantx/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "quantx/Conversion/Passes.h.inc"

} // namespace mlir::quantx

#endif // QUANTX_CONVERSION_PASSES_H
