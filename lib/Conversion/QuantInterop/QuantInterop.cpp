//===- QuantInterop.cpp - Upstream quant <-> quantx conversions -----------===//
//
// Both directions replace types everywhere with an AttrTypeReplacer (results,
// block arguments, function types, type attributes) and then rewrite the
// three upstream cast ops. The mapping is exact in both directions, so a
// round trip reproduces the input.
//
//===----------------------------------------------------------------------===//

#include "quantx/Conversion/Passes.h"
#include "quantx/Dialect/QuantX/IR/QuantX.h"

#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/AttrTypeSubElements.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"

namespace mlir::quantx {
#define GEN_PASS_DEF_CONVERTQUANTTOQUANTX
#define GEN_PASS_DEF_CONVERTQUANTXTOQUANT
#include "quantx/Conversion/Passes.h.inc"
} // namespace mlir::quantx

using namespace mlir;
using namespace mlir::quantx;

//===----------------------------------------------------------------------===//
// Type mapping
//===----------------------------------------------------------------------===//

static bool allZero(ArrayRef<int64_t> values) {
  return llvm::all_of(values, [](int64_t v) { return v == 0; });
}

Type mlir::quantx::convertQuantTypeToQuantX(Type type, std::string &error) {
  auto uniform = dyn_cast<quant::QuantizedType>(type);
  if (!uniform ||
      !isa<quant::UniformQuantizedType, quant::UniformQuantizedPerAxisType,
           quant::UniformQuantizedSubChannelType>(type))
    return type;
  MLIRContext *ctx = type.getContext();
  auto storage = dyn_cast<IntegerType>(uniform.getStorageType());
  if (!storage) {
    error = "float storage types are not supported by quantx yet";
    return {};
  }
  auto expressed = dyn_cast<FloatType>(uniform.getExpressedType());
  if (!expressed) {
    error = "the expressed type must be a float type";
    return {};
  }
  bool isSigned = uniform.isSigned();
  int64_t lo = uniform.getStorageTypeMin(), hi = uniform.getStorageTypeMax();
  Type f32 = Float32Type::get(ctx), i32 = IntegerType::get(ctx, 32);
  Type f64 = Float64Type::get(ctx), i64 = IntegerType::get(ctx, 64);
  auto makeChecked = [&](Granularity granularity, ArrayRef<int64_t> axes,
                         ArrayRef<int64_t> blocks, OffsetKind kind,
                         Attribute scales, Attribute offsets) -> Type {
    Type offsetType = kind == OffsetKind::none ? Type(NoneType::get(ctx)) : i32;
    // Capture the verifier's message as the reason instead of emitting it
    // at an unknown location.
    std::string reason;
    LogicalResult verified = success();
    {
      ScopedDiagnosticHandler capture(ctx, [&](Diagnostic &diag) {
        if (reason.empty())
          reason = diag.str();
        return success();
      });
      verified = UniformType::verify(
          [&]() { return mlir::emitError(UnknownLoc::get(ctx)); }, storage,
          isSigned, lo, hi, expressed, granularity, axes, blocks, kind, f32,
          offsetType, scales, offsets);
    }
    if (failed(verified)) {
      error = reason;
      return {};
    }
    return UniformType::get(storage, isSigned, lo, hi, expressed, granularity,
                            axes, blocks, kind, f32, offsetType, scales,
                            offsets);
  };

  if (auto t = dyn_cast<quant::UniformQuantizedType>(type)) {
    Attribute scale = FloatAttr::get(f64, t.getScale());
    if (t.getZeroPoint() == 0)
      return makeChecked(Granularity::per_tensor, {}, {}, OffsetKind::none,
                         scale, {});
    return makeChecked(Granularity::per_tensor, {}, {}, OffsetKind::zero_point,
                       scale, IntegerAttr::get(i64, t.getZeroPoint()));
  }
  if (auto t = dyn_cast<quant::UniformQuantizedPerAxisType>(type)) {
    int64_t n = t.getScales().size();
    auto tableType = [&](Type e) { return RankedTensorType::get({n}, e); };
    Attribute scales = DenseElementsAttr::get(tableType(f64), t.getScales());
    int64_t axis = t.getQuantizedDimension();
    if (allZero(t.getZeroPoints()))
      return makeChecked(Granularity::per_axis, {axis}, {}, OffsetKind::none,
                         scales, {});
    Attribute zps = DenseElementsAttr::get(tableType(i64), t.getZeroPoints());
    return makeChecked(Granularity::per_axis, {axis}, {},
                       OffsetKind::zero_point, scales, zps);
  }
  auto t = cast<quant::UniformQuantizedSubChannelType>(type);
  SmallVector<int64_t> axes(t.getQuantizedDimensions().begin(),
                            t.getQuantizedDimensions().end());
  // Sub-channel types always carry their zero-point table; keep it as it is
  // so that the way back reproduces it exactly.
  return makeChecked(Granularity::per_block, axes, t.getBlockSizes(),
                     OffsetKind::zero_point, t.getScales(), t.getZeroPoints());
}

Type mlir::quantx::convertQuantXTypeToQuant(Type type, std::string &error) {
  auto q = dyn_cast<UniformType>(type);
  if (!q)
    return type;
  if (!q.hasStaticParams()) {
    error = "it has dynamic parameters; !quant.uniform keeps them in the type";
    return {};
  }
  if (q.getOffsetKind() == OffsetKind::add_min ||
      q.getOffsetKind() == OffsetKind::sub_min) {
    error = "!quant.uniform has no min offsets";
    return {};
  }
  if (!q.getScaleType().isF32() ||
      (q.getOffsetKind() == OffsetKind::zero_point &&
       !q.getOffsetType().isSignlessInteger(32))) {
    error = "!quant.uniform has no scale or zero-point element types";
    return {};
  }
  unsigned flags = q.getIsSigned() ? quant::QuantizationFlags::Signed : 0;
  MLIRContext *ctx = type.getContext();
  auto emitError = [&]() { return mlir::emitError(UnknownLoc::get(ctx)); };
  Type storage = q.getStorageType(), expressed = q.getExpressedType();
  int64_t lo = q.getStorageMin(), hi = q.getStorageMax();

  if (q.isPerTensor()) {
    double scale = cast<FloatAttr>(q.getScales()).getValueAsDouble();
    int64_t zp = 0;
    if (auto z = dyn_cast_or_null<IntegerAttr>(q.getOffsets()))
      zp = z.getInt();
    return quant::UniformQuantizedType::getChecked(
        emitError, flags, storage, expressed, scale, zp, lo, hi);
  }
  auto scalesAttr = dyn_cast<DenseElementsAttr>(q.getScales());
  auto zpsAttr = dyn_cast_or_null<DenseElementsAttr>(q.getOffsets());
  if (!scalesAttr || (q.getOffsets() && !zpsAttr)) {
    error = "its parameter tables are not dense literals";
    return {};
  }
  if (q.isPerAxis()) {
    SmallVector<double> scales;
    for (APFloat v : scalesAttr.getValues<APFloat>())
      scales.push_back(v.convertToDouble());
    SmallVector<int64_t> zps(scales.size(), 0);
    if (zpsAttr) {
      size_t i = 0;
      for (const APInt &v : zpsAttr.getValues<APInt>())
        zps[i++] = v.getSExtValue();
    }
    return quant::UniformQuantizedPerAxisType::getChecked(
        emitError, flags, storage, expressed, scales, zps,
        int32_t(q.getAxes().front()), lo, hi);
  }
  if (!zpsAttr) {
    // A symmetric sub-channel type: upstream always has a zero-point table.
    zpsAttr = DenseElementsAttr::get(
        RankedTensorType::get(scalesAttr.getType().getShape(), storage),
        APInt(cast<IntegerType>(storage).getWidth(), 0));
  }
  SmallVector<int32_t> axes(q.getAxes().begin(), q.getAxes().end());
  return quant::UniformQuantizedSubChannelType::getChecked(
      emitError, flags, storage, expressed, scalesAttr, zpsAttr, axes,
      q.getBlockSizes(), lo, hi);
}

//===----------------------------------------------------------------------===//
// Driver shared by both passes
//===----------------------------------------------------------------------===//

/// Replaces types everywhere under `root` with `convert`; emits an error on
/// the first op holding a type that cannot be converted.
static LogicalResult
replaceAllTypes(Operation *root,
                function_ref<Type(Type, std::string &)> convert) {
  std::string error;
  Type failedType;
  AttrTypeReplacer replacer;
  replacer.addReplacement([&](Type type) -> std::optional<Type> {
    std::string reason;
    Type result = convert(type, reason);
    if (!result) {
      if (error.empty()) {
        error = reason;
        failedType = type;
      }
      return std::nullopt; // Leave it; the pass fails below.
    }
    if (result == type)
      return std::nullopt;
    return result;
  });
  WalkResult walk = root->walk([&](Operation *op) {
    replacer.replaceElementsIn(op, /*replaceAttrs=*/true, /*replaceLocs=*/false,
                               /*replaceTypes=*/true);
    if (!error.empty()) {
      op->emitError() << "cannot convert type " << failedType << ": " << error;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return failure(walk.wasInterrupted());
}

/// Replaces every op of the kinds `CastOps` under `root` by the value
/// `build` creates in its place.
template <typename... CastOps>
static void rewriteCasts(Operation *root,
                         function_ref<Value(OpBuilder &, Operation *)> build) {
  SmallVector<Operation *> casts;
  root->walk([&](Operation *op) {
    if (isa<CastOps...>(op))
      casts.push_back(op);
  });
  for (Operation *op : casts) {
    OpBuilder b(op);
    op->getResult(0).replaceAllUsesWith(build(b, op));
    op->erase();
  }
}

namespace {

struct ConvertQuantToQuantXPass
    : public mlir::quantx::impl::ConvertQuantToQuantXBase<
          ConvertQuantToQuantXPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(replaceAllTypes(module, convertQuantTypeToQuantX)))
      return signalPassFailure();

    rewriteCasts<quant::QuantizeCastOp, quant::DequantizeCastOp,
                 quant::StorageCastOp>(module, [](OpBuilder &b, Operation *op) {
      Location loc = op->getLoc();
      Value in = op->getOperand(0);
      Type type = op->getResult(0).getType();
      if (isa<quant::QuantizeCastOp>(op))
        return QuantizeOp::create(b, loc, type, in, Value(), Value())
            .getResult();
      if (isa<quant::DequantizeCastOp>(op))
        return DequantizeOp::create(b, loc, type, in, Value(), Value())
            .getResult();
      return StorageCastOp::create(b, loc, type, in).getResult();
    });
  }
};

struct ConvertQuantXToQuantPass
    : public mlir::quantx::impl::ConvertQuantXToQuantBase<
          ConvertQuantXToQuantPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    WalkResult check = module.walk([&](Operation *op) {
      if (auto q = dyn_cast<QuantizeOp>(op)) {
        if (q.getRounding() != RoundingMode::half_to_even || !q.getSaturate()) {
          op->emitError("quant.qcast rounds half to even and saturates; this "
                        "quantize op does not");
          return WalkResult::interrupt();
        }
      }
      if (isa<QuantizeOp, DequantizeOp>(op) && op->getNumOperands() > 1) {
        op->emitError("cannot convert a cast with dynamic parameters to quant");
        return WalkResult::interrupt();
      }
      if (isa<QuantXDialect>(op->getDialect()) &&
          !isa<QuantizeOp, DequantizeOp, StorageCastOp>(op)) {
        op->emitError() << "'" << op->getName() << "' has no quant equivalent";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (check.wasInterrupted() ||
        failed(replaceAllTypes(module, convertQuantXTypeToQuant)))
      return signalPassFailure();

    rewriteCasts<QuantizeOp, DequantizeOp, StorageCastOp>(
        module, [](OpBuilder &b, Operation *op) {
          Location loc = op->getLoc();
          Value in = op->getOperand(0);
          Type type = op->getResult(0).getType();
          if (isa<QuantizeOp>(op))
            return quant::QuantizeCastOp::create(b, loc, type, in).getResult();
          if (isa<DequantizeOp>(op))
            return quant::DequantizeCastOp::create(b, loc, type, in)
                .getResult();
          return quant::StorageCastOp::create(b, loc, type, in).getResult();
        });
  }
};

} // namespace
