//===- QuantXDialect.cpp - QuantX dialect registration --------------------===//

#include "quantx/Dialect/QuantX/IR/QuantX.h"

#include "mlir/IR/DialectImplementation.h"

using namespace mlir;
using namespace mlir::quantx;

#include "quantx/Dialect/QuantX/IR/QuantXOpsDialect.cpp.inc"

void QuantXDialect::initialize() {
  registerTypes();
  registerAttributes();
  registerBytecodeInterface();
  addOperations<
#define GET_OP_LIST
#include "quantx/Dialect/QuantX/IR/QuantXOps.cpp.inc"
      >();
}
