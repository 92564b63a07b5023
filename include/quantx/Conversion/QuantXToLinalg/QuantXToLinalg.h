//===- QuantXToLinalg.h - Lowering quantx to linalg -------------*- C++ -*-===//
//
// Patterns and the type converter of the convert-quantx-to-linalg pass, and
// the CPU lowering pipeline built on it.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_CONVERSION_QUANTXTOLINALG_QUANTXTOLINALG_H
#define QUANTX_CONVERSION_QUANTXTOLINALG_QUANTXTOLINALG_H

#include "mlir/Transforms/DialectConversion.h"

namespace mlir {
class OpPassManager;
namespace quantx {

/// Converts tensors of `!quantx.uniform` (and the scalar type) to tensors of
/// the signless storage integer type; other types are left unchanged.
class QuantXStorageTypeConverter : public TypeConverter {
public:
  QuantXStorageTypeConverter();
};

/// Adds the patterns lowering quantx element-wise ops to linalg/arith/math.
void populateQuantXToLinalgPatterns(const TypeConverter &converter,
                                    RewritePatternSet &patterns);

/// Adds the passes that take a module from quantx to the LLVM dialect on the
/// CPU: quantx to linalg, bufferization, loops, LLVM. (The first version of
/// the CPU pipeline: scalar loops, no tiling or vectorization yet.)
void buildQuantXCPUPipeline(OpPassManager &pm);

/// Registers `quantx-cpu-pipeline` with the textual pass pipeline parser.
void registerQuantXPipelines();

} // namespace quantx
} // namespace mlir

#endif // QUANTX_CONVERSION_QUANTXTOLINALG_QUANTXTOLINALG_H
