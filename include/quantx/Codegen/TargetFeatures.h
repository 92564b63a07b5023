//===- TargetFeatures.h - The target features code generation uses --------===//
//
// Part of QuantX.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_CODEGEN_TARGETFEATURES_H
#define QUANTX_CODEGEN_TARGETFEATURES_H

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <string>

namespace mlir::quantx {

/// The target features the code generation uses for `override`: the host
/// CPU's features when it is empty or "host", else exactly the features
/// `override` enables ("+avx2,+fma"; "-f" entries are dropped) and those
/// they imply on x86, so that results do not depend on the machine.
/// Sorted, without signs.
llvm::SmallVector<std::string> resolveTargetFeatures(llvm::StringRef override);

} // namespace mlir::quantx

#endif // QUANTX_CODEGEN_TARGETFEATURES_H
