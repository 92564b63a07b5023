//===- Passes.h - QuantX transformation pass entry points -------*- C++ -*-===//
//
// Declares the observer insertion, calibration and post-training
// quantization passes (see Passes.td and docs/PTQ.md).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_DIALECT_QUANTX_TRANSFORMS_PASSES_H
#define QUANTX_DIALECT_QUANTX_TRANSFORMS_PASSES_H

#include "quantx/Dialect/QuantX/IR/QuantXDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"

namespace mlir::quantx {

#define GEN_PASS_DECL
#include "quantx/Dialect/QuantX/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "quantx/Dialect/QuantX/Transforms/Passes.h.inc"

} // namespace mlir::quantx

#endif // QUANTX_DIALECT_QUANTX_TRANSFORMS_PASSES_H
