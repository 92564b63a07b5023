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

/// The features of the x86-64 CPU named `cpu` (LLVM's names: "skylake-avx512",
/// "sapphirerapids", "znver4", "x86-64-v4", ...) with `extra` ("+f,-g")
/// applied, as one "+a,+b,..." string for resolveTargetFeatures and for
/// LLVM's target machine. False with `error` set for an unknown CPU.
bool getTargetFeaturesForCPU(llvm::StringRef cpu, llvm::StringRef extra,
                             std::string &features, std::string &error);

} // namespace mlir::quantx

#endif // QUANTX_CODEGEN_TARGETFEATURES_H
