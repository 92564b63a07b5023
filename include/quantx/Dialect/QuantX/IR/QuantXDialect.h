//===- QuantXDialect.h - QuantX dialect declaration -------------*- C++ -*-===//
//
// Declares the quantx dialect class. Include QuantX.h for types and ops too.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_DIALECT_QUANTX_IR_QUANTXDIALECT_H
#define QUANTX_DIALECT_QUANTX_IR_QUANTXDIALECT_H

#include "mlir/IR/Dialect.h"

#include "quantx/Dialect/QuantX/IR/QuantXOpsDialect.h.inc"

#endif // QUANTX_DIALECT_QUANTX_IR_QUANTXDIALECT_H
