//===- Passes.h - QuantX conversion pass entry points -----------*- C++ -*-===//

#ifndef QUANTX_CONVERSION_PASSES_H
#define QUANTX_CONVERSION_PASSES_H

#include "quantx/Conversion/QuantInterop/QuantInterop.h"
#include "quantx/Conversion/QuantXToLinalg/QuantXToLinalg.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include "mlir/Pass/Pass.h"

namespace mlir::quantx {

#define GEN_PASS_DECL
#include "quantx/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "quantx/Conversion/Passes.h.inc"

} // namespace mlir::quantx

#endif // QUANTX_CONVERSION_PASSES_H
