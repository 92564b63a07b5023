//===- QuantXToLinalg.h - Lowering quantx to linalg -------------*- C++ -*-===//
//
// Patterns and the type converter of the convert-quantx-to-linalg pass (the
// CPU pipeline built on it lives in quantx/Codegen/CPUPipeline.h).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_CONVERSION_QUANTXTOLINALG_QUANTXTOLINALG_H
#define QUANTX_CONVERSION_QUANTXTOLINALG_QUANTXTOLINALG_H

#include "mlir/Transforms/DialectConversion.h"

namespace mlir {
namespace quantx {

/// Converts tensors of `!quantx.uniform` (and the scalar type) to tensors of
/// the signless storage integer type; other types are left unchanged.
class QuantXStorageTypeConverter : public TypeConverter {
public:
  QuantXStorageTypeConverter();
};

/// Adds the patterns lowering quantx element-wise ops to linalg/arith/math.
/// `convIm2col` lowers ungrouped `quantx.conv2d` as im2col and a matrix
/// product (false: one contraction over the filter window).
void populateQuantXToLinalgPatterns(const TypeConverter &converter,
                                    RewritePatternSet &patterns,
                                    bool convIm2col = true);

} // namespace quantx
} // namespace mlir

#endif // QUANTX_CONVERSION_QUANTXTOLINALG_QUANTXTOLINALG_H
