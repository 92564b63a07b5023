//===- JsonFile.h - Writing the passes' JSON side outputs -------*- C++ -*-===//
//
// Reports, manifests and size reports are written whole or not at all.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_LIB_DIALECT_QUANTX_TRANSFORMS_JSONFILE_H
#define QUANTX_LIB_DIALECT_QUANTX_TRANSFORMS_JSONFILE_H

#include "mlir/IR/Operation.h"
#include "llvm/Support/JSON.h"

namespace mlir::quantx {

/// Writes `value` as indented JSON to `path` ("-": standard output) through
/// a temporary file renamed into place, so that a failure never leaves a
/// partial file. Errors are reported on `anchor`, naming `what`.
LogicalResult writeJsonFile(Operation *anchor, StringRef path,
                            llvm::json::Value value, StringRef what);

} // namespace mlir::quantx

#endif // QUANTX_LIB_DIALECT_QUANTX_TRANSFORMS_JSONFILE_H
