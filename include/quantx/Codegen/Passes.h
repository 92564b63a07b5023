//===- Passes.h - QuantX code generation pass entry points ------*- C++ -*-===//
//
// Declarations of the passes of the CPU code generation layer.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_CODEGEN_PASSES_H
#define QUANTX_CODEGEN_PASSES_H

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::quantx {

#define GEN_PASS_DECL
#include "quantx/Codegen/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "quantx/Codegen/Passes.h.inc"

} // namespace mlir::quantx

#endif // QUANTX_CODEGEN_PASSES_H
