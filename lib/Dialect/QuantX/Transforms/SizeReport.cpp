//===- SizeReport.cpp - Bytes of a module's constant tensors --------------===//
//
// quantx-size-report: what a model's weights take at their storage width,
// the figure behind "N times smaller" (docs/PTQ.md, "Comparing models").
//
//===----------------------------------------------------------------------===//

#include "JsonFile.h"

#include "quantx/Dialect/QuantX/IR/QuantX.h"
#include "quantx/Dialect/QuantX/Transforms/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <map>

namespace mlir::quantx {
#define GEN_PASS_DEF_SIZEREPORT
#include "quantx/Dialect/QuantX/Transforms/Passes.h.inc"
} // namespace mlir::quantx

using namespace mlir;
using namespace mlir::quantx;

namespace {

/// Bits one value of `type` takes in memory: integers and floats at their
/// width, `index` as 64 bits, quantized values at their storage width,
/// complex numbers twice their element. 0 for anything else.
int64_t storageBits(Type type) {
  if (auto uniform = dyn_cast<UniformType>(type))
    return uniform.getStorageWidth();
  if (isa<IndexType>(type))
    return 64;
  if (auto complex = dyn_cast<ComplexType>(type))
    return 2 * storageBits(complex.getElementType());
  if (type.isIntOrFloat())
    return type.getIntOrFloatBitWidth();
  return 0;
}

int64_t bytesOf(int64_t elements, int64_t bits) {
  return (elements * bits + 7) / 8;
}

/// The name a report groups an element type under.
std::string elementKey(Type type) {
  if (auto uniform = dyn_cast<UniformType>(type))
    return ("!quantx.uniform<" + Twine(uniform.getIsSigned() ? "i" : "u") +
            Twine(uniform.getStorageWidth()) + ">")
        .str();
  std::string key;
  llvm::raw_string_ostream os(key);
  type.print(os);
  return key;
}

/// Bytes of the static scales and offsets a quantized type of `shape`
/// carries (0 for other types and for dynamic parameters, which are
/// values of their own).
int64_t staticParameterBytes(Type elementType, ArrayRef<int64_t> shape) {
  auto uniform = dyn_cast<UniformType>(elementType);
  if (!uniform || !uniform.hasStaticParams())
    return 0;
  FailureOr<SmallVector<int64_t>> paramShape = uniform.getParamShape(shape);
  if (failed(paramShape))
    return 0;
  int64_t count = ShapedType::getNumElements(*paramShape);
  int64_t bytes = bytesOf(count, storageBits(uniform.getScaleType()));
  if (uniform.getOffsets())
    bytes += bytesOf(count, storageBits(uniform.getOffsetType()));
  return bytes;
}

struct Totals {
  int64_t constants = 0, dataBytes = 0, parameterBytes = 0;
  int64_t splats = 0, splatBytes = 0;
  std::map<std::string, std::pair<int64_t, int64_t>> byType;

  /// Counts one constant of `type` whose value is `value` (null when not
  /// an attribute, as for a packed global).
  void add(ShapedType type, Attribute value) {
    if (!type.hasStaticShape())
      return;
    int64_t data =
        bytesOf(type.getNumElements(), storageBits(type.getElementType()));
    auto dense = dyn_cast_or_null<DenseElementsAttr>(value);
    if (dense && dense.isSplat()) {
      ++splats;
      splatBytes += data;
      return;
    }
    int64_t params =
        staticParameterBytes(type.getElementType(), type.getShape());
    ++constants;
    dataBytes += data;
    parameterBytes += params;
    auto &entry = byType[elementKey(type.getElementType())];
    ++entry.first;
    entry.second += data + params;
  }

  llvm::json::Object toJson() const {
    llvm::json::Object types;
    for (const auto &[key, counts] : byType)
      types[key] = llvm::json::Object{{"constants", counts.first},
                                      {"bytes", counts.second}};
    return llvm::json::Object{{"format", "quantx-size-report"},
                              {"version", 1},
                              {"total_bytes", dataBytes + parameterBytes},
                              {"data_bytes", dataBytes},
                              {"parameter_bytes", parameterBytes},
                              {"constants", constants},
                              {"splat_constants", splats},
                              {"splat_bytes", splatBytes},
                              {"by_element_type", std::move(types)}};
  }
};

struct SizeReportPass
    : public mlir::quantx::impl::SizeReportBase<SizeReportPass> {
  using Base::Base;

  void runOnOperation() override {
    Totals totals;
    getOperation()->walk([&](Operation *op) {
      if (auto global = dyn_cast<memref::GlobalOp>(op)) {
        if (global.getConstant())
          totals.add(global.getType(), global.getInitialValueAttr());
        return;
      }
      Attribute value;
      if (op->getNumResults() != 1 || !matchPattern(op, m_Constant(&value)))
        return;
      if (auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType()))
        totals.add(type, value);
    });
    if (failed(writeJsonFile(getOperation(), output, totals.toJson(),
                             "size report")))
      return signalPassFailure();
    markAllAnalysesPreserved();
  }
};

} // namespace
