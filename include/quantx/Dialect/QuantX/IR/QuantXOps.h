//===- QuantXOps.h - QuantX op declarations ---------------------*- C++ -*-===//

#ifndef QUANTX_DIALECT_QUANTX_IR_QUANTXOPS_H
#define QUANTX_DIALECT_QUANTX_IR_QUANTXOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "quantx/Dialect/QuantX/IR/QuantXDialect.h"
#include "quantx/Dialect/QuantX/IR/QuantXTypes.h"

#define GET_OP_CLASSES
#include "quantx/Dialect/QuantX/IR/QuantXOps.h.inc"

#endif // QUANTX_DIALECT_QUANTX_IR_QUANTXOPS_H
