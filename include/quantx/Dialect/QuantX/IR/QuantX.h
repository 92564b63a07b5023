//===- QuantX.h - Everything of the QuantX dialect --------------*- C++ -*-===//

#ifndef QUANTX_DIALECT_QUANTX_IR_QUANTX_H
#define QUANTX_DIALECT_QUANTX_IR_QUANTX_H

#include "quantx/Dialect/QuantX/IR/QuantXDialect.h"
#include "quantx/Dialect/QuantX/IR/QuantXOps.h"
#include "quantx/Dialect/QuantX/IR/QuantXTypes.h"

#endif // QUANTX_DIALECT_QUANTX_IR_QUANTX_H
