//===- Observers.cpp - Observer insertion and calibration plumbing --------===//
//
// quantx-insert-observers, quantx-expose-observations and
// quantx-apply-calibration.
//
//===----------------------------------------------------------------------===//

#include "JsonFile.h"
#include "Layers.h"

#include "quantx/Dialect/QuantX/IR/QuantX.h"
#include "quantx/Dialect/QuantX/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

namespace mlir::quantx {
#define GEN_PASS_DEF_INSERTOBSERVERS
#define GEN_PASS_DEF_EXPOSEOBSERVATIONS
#define GEN_PASS_DEF_APPLYCALIBRATION
#include "quantx/Dialect/QuantX/Transforms/Passes.h.inc"
} // namespace mlir::quantx

using namespace mlir;
using namespace mlir::quantx;

//===----------------------------------------------------------------------===//
// quantx-insert-observers
//===----------------------------------------------------------------------===//

namespace {
struct InsertObserversPass
    : public mlir::quantx::impl::InsertObserversBase<InsertObserversPass> {
  using Base::Base;

  void runOnOperation() override {
    std::optional<ObserverKind> observerKind = symbolizeObserverKind(kind);
    if (!observerKind || *observerKind == ObserverKind::hessian ||
        *observerKind == ObserverKind::mean_abs) {
      emitError(getOperation().getLoc())
          << "quantx-insert-observers: unknown observer kind '" << kind
          << "' (expected min_max, moving_average_min_max, histogram, "
             "percentile, entropy or mse)";
      return signalPassFailure();
    }
    kindValue = *observerKind;
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (failed(runOnFunction(func)))
        return signalPassFailure();
  }

private:
  ObserverKind kindValue = ObserverKind::min_max;

  /// Builds an observe of `value` right after its definition.
  ObserveOp observe(OpBuilder &b, Value value, StringRef name,
                    std::optional<int64_t> axis) {
    MLIRContext *ctx = b.getContext();
    OpBuilder::InsertionGuard guard(b);
    if (Operation *def = value.getDefiningOp())
      b.setInsertionPointAfter(def);
    else
      b.setInsertionPointToStart(cast<BlockArgument>(value).getOwner());
    bool isWeight = axis.has_value();
    ObserverKind k = isWeight ? ObserverKind::min_max : kindValue;
    auto op = ObserveOp::create(
        b, NameLoc::get(b.getStringAttr(name), value.getLoc()), value.getType(),
        value, ObserverKindAttr::get(ctx, k), b.getStringAttr(name),
        axis ? b.getI64IntegerAttr(*axis) : IntegerAttr(),
        (!isWeight && numBins > 0) ? b.getI64IntegerAttr(numBins)
                                   : IntegerAttr(),
        (!isWeight && k == ObserverKind::percentile && percentile > 0)
            ? b.getF64FloatAttr(percentile)
            : FloatAttr(),
        (!isWeight && k == ObserverKind::moving_average_min_max && momentum > 0)
            ? b.getF64FloatAttr(momentum)
            : FloatAttr(),
        DictionaryAttr());
    value.replaceAllUsesExcept(op.getResult(), op);
    return op;
  }

  LogicalResult runOnFunction(func::FuncOp func) {
    if (percentile != 0.0 && !(percentile > 0.0 && percentile <= 100.0))
      return func.emitError()
             << "percentile must be in (0, 100], got " << percentile;
    if (momentum != 0.0 && !(momentum > 0.0 && momentum <= 1.0))
      return func.emitError() << "momentum must be in (0, 1], got " << momentum;
    OpBuilder b(func.getContext());
    for (Layer &layer : findLayers(func)) {
      if (layer.kind == LayerKind::Unsupported || !layer.hasConstantInput)
        continue; // quantx-ptq reports it or keeps it float.
      Value act = layer.activation();
      if (!act.getDefiningOp<ObserveOp>())
        observe(b, act, layer.name + ".input", std::nullopt);
      Value weight = layer.weightOperand->get();
      if (!getConstantElements(weight) && !weight.getDefiningOp<ObserveOp>())
        observe(b, weight, layer.name + ".weight",
                layer.kind == LayerKind::Conv2D || layer.transposeRhs ? 0 : 1);
      if (observeOutputs)
        observe(b, layer.output, layer.name + ".output", std::nullopt);
    }
    // Residual additions: both operands and the result (after its ReLU),
    // unless a layer's observation already covers them.
    for (ResidualAdd &add : findResidualAdds(func)) {
      for (auto [operand, role] :
           {std::pair(add.lhs(), ".lhs"), std::pair(add.rhs(), ".rhs")})
        if (!operand.getDefiningOp<ObserveOp>())
          observe(b, operand, add.name + role, std::nullopt);
      if (!getObserver(add.output))
        observe(b, add.output, add.name + ".output", std::nullopt);
    }
    // Average pooling reads uint8 at its input's parameters.
    for (AveragePool &pool : findAveragePools(func))
      if (!pool.input().getDefiningOp<ObserveOp>())
        observe(b, pool.input(), pool.name + ".input", std::nullopt);
    return success();
  }
};
} // namespace

//===----------------------------------------------------------------------===//
// quantx-expose-observations
//===----------------------------------------------------------------------===//

/// The channel axis of each observation that a layer reads as its
/// activation: axis 1 of a convolution's NCHW input, the last axis of a
/// matmul's. Calibration records per-channel means along it (bias
/// correction).
static llvm::DenseMap<Operation *, int64_t>
activationMeanAxes(func::FuncOp func) {
  llvm::DenseMap<Operation *, int64_t> axes;
  for (Layer &layer : findLayers(func)) {
    if (layer.kind == LayerKind::Unsupported || !layer.hasConstantInput)
      continue;
    auto observe = layer.activation().getDefiningOp<ObserveOp>();
    if (!observe || observe.getAxis())
      continue;
    int64_t rank = cast<RankedTensorType>(observe.getType()).getRank();
    axes.try_emplace(observe, layer.kind == LayerKind::Conv2D ? 1 : rank - 1);
  }
  return axes;
}

/// The observer parameters of `op` as a dictionary (for the function
/// attribute) and a JSON object (for the manifest).
static void describe(ObserveOp op, std::optional<unsigned> resultIndex,
                     std::optional<int64_t> meanAxis, Builder &b,
                     SmallVectorImpl<NamedAttribute> &attrs,
                     llvm::json::Object &json) {
  auto add = [&](StringRef key, Attribute attr, llvm::json::Value value) {
    attrs.push_back(b.getNamedAttr(key, attr));
    json[key] = std::move(value);
  };
  add("name", op.getNameAttr(), op.getName());
  add("kind", b.getStringAttr(stringifyObserverKind(op.getKind())),
      stringifyObserverKind(op.getKind()));
  if (resultIndex)
    add("result", b.getI64IntegerAttr(*resultIndex), int64_t(*resultIndex));
  if (auto axis = op.getAxis())
    add("axis", b.getI64IntegerAttr(*axis), *axis);
  if (auto bins = op.getNumBins())
    add("num_bins", b.getI64IntegerAttr(*bins), *bins);
  if (auto p = op.getPercentile())
    add("percentile", b.getF64FloatAttr(p->convertToDouble()),
        p->convertToDouble());
  if (auto m = op.getMomentum())
    add("momentum", b.getF64FloatAttr(m->convertToDouble()),
        m->convertToDouble());
  if (meanAxis)
    add("mean_axis", b.getI64IntegerAttr(*meanAxis), *meanAxis);
  auto type = cast<RankedTensorType>(op.getInput().getType());
  llvm::json::Array shape;
  for (int64_t d : type.getShape())
    shape.push_back(d);
  json["shape"] = std::move(shape);
}

namespace {
struct ExposeObservationsPass
    : public mlir::quantx::impl::ExposeObservationsBase<
          ExposeObservationsPass> {
  using Base::Base;

  void runOnOperation() override {
    llvm::json::Array functions;
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      SmallVector<ObserveOp> observes;
      func.walk([&](ObserveOp op) { observes.push_back(op); });
      if (observes.empty())
        continue;
      if (!func.getBody().hasOneBlock()) {
        func.emitError() << "quantx-expose-observations: function '"
                         << func.getSymName()
                         << "' has observe ops but more than one block";
        return signalPassFailure();
      }
      auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
      for (ObserveOp op : observes)
        if (op->getBlock() != ret->getBlock()) {
          op.emitError() << "observation '" << op.getName()
                         << "' is not in the function's body block";
          return signalPassFailure();
        }
      Builder b(func.getContext());
      int64_t numOriginal = func.getNumResults();
      SmallVector<Value> results;
      for (Value v : ret.getOperands()) {
        while (auto observe = v.getDefiningOp<ObserveOp>())
          v = observe.getInput();
        results.push_back(v);
      }
      SmallVector<Type> resultTypes(func.getResultTypes());
      llvm::DenseMap<Operation *, int64_t> meanAxes = activationMeanAxes(func);
      auto meanAxis = [&](ObserveOp op) -> std::optional<int64_t> {
        auto it = meanAxes.find(op);
        if (it == meanAxes.end())
          return std::nullopt;
        return it->second;
      };
      SmallVector<Attribute> descriptions;
      llvm::json::Array observations;
      for (ObserveOp op : observes) {
        // A function argument is read from the inputs; a value returned
        // already is not returned twice (a runtime would see one buffer
        // under two results).
        Value v = op.getInput();
        SmallVector<NamedAttribute> attrs;
        llvm::json::Object json;
        if (auto arg = dyn_cast<BlockArgument>(v);
            arg && arg.getOwner() == &func.getBody().front()) {
          describe(op, std::nullopt, meanAxis(op), b, attrs, json);
          attrs.push_back(b.getNamedAttr(
              "argument", b.getI64IntegerAttr(arg.getArgNumber())));
          json["argument"] = int64_t(arg.getArgNumber());
          descriptions.push_back(b.getDictionaryAttr(attrs));
          observations.push_back(std::move(json));
          continue;
        }
        auto *it = llvm::find(results, v);
        unsigned index = it - results.begin();
        if (it == results.end()) {
          results.push_back(v);
          resultTypes.push_back(v.getType());
        }
        describe(op, index, meanAxis(op), b, attrs, json);
        descriptions.push_back(b.getDictionaryAttr(attrs));
        observations.push_back(std::move(json));
      }
      ret->setOperands(results);
      for (ObserveOp op : observes) {
        op.getResult().replaceAllUsesWith(op.getInput());
        op.erase();
      }
      func.setType(FunctionType::get(func.getContext(), func.getArgumentTypes(),
                                     resultTypes));
      func->setAttr("quantx.observations", b.getArrayAttr(descriptions));
      llvm::json::Object fjson;
      fjson["function"] = func.getSymName();
      fjson["num_results"] = numOriginal;
      fjson["num_all_results"] = int64_t(results.size());
      llvm::json::Array arguments;
      for (Type t : func.getArgumentTypes()) {
        llvm::json::Object arg;
        llvm::json::Array shape;
        if (auto ranked = dyn_cast<RankedTensorType>(t)) {
          for (int64_t d : ranked.getShape())
            shape.push_back(d);
          std::string elem;
          llvm::raw_string_ostream es(elem);
          es << ranked.getElementType();
          arg["element_type"] = elem;
        }
        arg["shape"] = std::move(shape);
        arguments.push_back(std::move(arg));
      }
      fjson["arguments"] = std::move(arguments);
      fjson["observations"] = std::move(observations);
      functions.push_back(std::move(fjson));
    }
    if (manifest.empty())
      return;
    llvm::json::Object root;
    root["format"] = "quantx-observations";
    root["version"] = 1;
    root["functions"] = std::move(functions);
    if (failed(writeJsonFile(getOperation(), manifest, std::move(root),
                             "manifest")))
      return signalPassFailure();
  }
};
} // namespace

//===----------------------------------------------------------------------===//
// quantx-apply-calibration
//===----------------------------------------------------------------------===//

/// A number or an array of numbers from `obj[key]` as an attribute: f64
/// scalar, or a dense f64 (or i64 for `asInt`) tensor.
static FailureOr<Attribute> jsonNumbers(const llvm::json::Object &obj,
                                        StringRef key, Builder &b, bool asInt,
                                        std::string &error) {
  const llvm::json::Value *v = obj.get(key);
  if (!v)
    return Attribute();
  // Finite (1e400 reads as infinity), and integers in the int32 range where
  // integers are asked for (a zero point).
  auto valid = [&](double d) {
    if (!std::isfinite(d))
      error = ("'" + key + "' has a value that is not a finite number").str();
    else if (asInt && (d != std::floor(d) || std::abs(d) > 2147483647.0))
      error = ("'" + key + "' must hold integers in the int32 range").str();
    return error.empty();
  };
  if (std::optional<double> d = v->getAsNumber()) {
    if (!valid(*d))
      return failure();
    if (asInt)
      return Attribute(b.getI64IntegerAttr(int64_t(*d)));
    return Attribute(b.getF64FloatAttr(*d));
  }
  const llvm::json::Array *arr = v->getAsArray();
  if (!arr || arr->empty()) {
    error = ("'" + key + "' must be a number or a non-empty array").str();
    return failure();
  }
  SmallVector<double> values;
  for (const llvm::json::Value &e : *arr) {
    std::optional<double> d = e.getAsNumber();
    if (!d) {
      error = ("'" + key + "' has a non-number element").str();
      return failure();
    }
    if (!valid(*d))
      return failure();
    values.push_back(*d);
  }
  int64_t n = values.size();
  if (asInt) {
    SmallVector<int64_t> ints(values.begin(), values.end());
    return Attribute(DenseElementsAttr::get(
        RankedTensorType::get({n}, b.getI64Type()), ArrayRef(ints)));
  }
  return Attribute(DenseElementsAttr::get(
      RankedTensorType::get({n}, b.getF64Type()), ArrayRef(values)));
}

/// The deepest nesting of arrays and objects in the JSON text `text`
/// (brackets inside strings not counted). llvm::json::parse recurses once
/// per level: a hostile file tens of thousands of levels deep would
/// overflow the stack.
static int64_t jsonNestingDepth(StringRef text) {
  int64_t depth = 0, deepest = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i; // The escaped character.
      else if (c == '"')
        inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

namespace {
struct ApplyCalibrationPass
    : public mlir::quantx::impl::ApplyCalibrationBase<ApplyCalibrationPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (statsFile.empty()) {
      emitError(module.getLoc(),
                "quantx-apply-calibration needs stats-file=<path>");
      return signalPassFailure();
    }
    auto buffer = llvm::MemoryBuffer::getFile(statsFile);
    if (!buffer) {
      emitError(module.getLoc()) << "cannot read statistics file '" << statsFile
                                 << "': " << buffer.getError().message();
      return signalPassFailure();
    }
    // A statistics file is 4 levels deep; nothing sensible needs 64.
    constexpr int64_t kMaxDepth = 64;
    if (jsonNestingDepth((*buffer)->getBuffer()) > kMaxDepth) {
      emitError(module.getLoc())
          << "statistics file '" << statsFile
          << "' nests arrays or objects more than " << kMaxDepth
          << " levels deep: not a quantx-calibration file";
      return signalPassFailure();
    }
    llvm::Expected<llvm::json::Value> root =
        llvm::json::parse((*buffer)->getBuffer());
    if (!root) {
      emitError(module.getLoc())
          << "statistics file '" << statsFile
          << "' is not valid JSON: " << llvm::toString(root.takeError());
      return signalPassFailure();
    }
    const llvm::json::Object *obj = root->getAsObject();
    const llvm::json::Object *observations =
        obj ? obj->getObject("observations") : nullptr;
    if (!obj || obj->getString("format") != "quantx-calibration" ||
        !observations) {
      emitError(module.getLoc()) << "statistics file '" << statsFile
                                 << "' is not a quantx-calibration file (needs "
                                    "\"format\": \"quantx-calibration\" and an "
                                    "\"observations\" object)";
      return signalPassFailure();
    }
    if (const llvm::json::Value *version = obj->get("version")) {
      std::optional<int64_t> v = version->getAsInteger();
      if (!v || *v != 1) {
        std::string text;
        llvm::raw_string_ostream os(text);
        os << *version;
        emitError(module.getLoc())
            << "statistics file '" << statsFile << "' has format version "
            << text << "; this quantx reads version 1";
        return signalPassFailure();
      }
    }
    // Compute every attribute first; change the module only if all succeed.
    Builder b(module.getContext());
    SmallVector<std::pair<ObserveOp, DictionaryAttr>> updates;
    WalkResult walk = module.walk([&](ObserveOp op) -> WalkResult {
      const llvm::json::Object *entry = observations->getObject(op.getName());
      if (!entry) {
        op.emitError() << "no calibration statistics for observation '"
                       << op.getName() << "' in '" << statsFile << "'";
        return WalkResult::interrupt();
      }
      std::optional<StringRef> kind = entry->getString("kind");
      if (kind && *kind != stringifyObserverKind(op.getKind())) {
        op.emitError() << "statistics of '" << op.getName()
                       << "' were collected with observer '" << *kind
                       << "', but the op asks for '"
                       << stringifyObserverKind(op.getKind()) << "'";
        return WalkResult::interrupt();
      }
      SmallVector<NamedAttribute> attrs;
      for (auto [key, asInt, required] :
           {std::tuple{"min", false, true}, std::tuple{"max", false, true},
            std::tuple{"scale", false, false},
            std::tuple{"zero_point", true, false}}) {
        std::string error;
        FailureOr<Attribute> attr = jsonNumbers(*entry, key, b, asInt, error);
        if (failed(attr) || (required && !*attr)) {
          op.emitError() << "bad statistics for '" << op.getName() << "': "
                         << (error.empty()
                                 ? std::string("missing '") + key + "'"
                                 : error);
          return WalkResult::interrupt();
        }
        if (*attr)
          attrs.push_back(b.getNamedAttr(key, *attr));
      }
      // min <= max, both per tensor or both per channel alike.
      auto values = [](Attribute a) {
        if (auto f = dyn_cast<FloatAttr>(a))
          return SmallVector<double>{f.getValueAsDouble()};
        auto d = cast<DenseElementsAttr>(a).getValues<double>();
        return SmallVector<double>(d.begin(), d.end());
      };
      SmallVector<double> lo = values(attrs[0].getValue()),
                          hi = values(attrs[1].getValue());
      if (isa<FloatAttr>(attrs[0].getValue()) !=
              isa<FloatAttr>(attrs[1].getValue()) ||
          lo.size() != hi.size()) {
        op.emitError() << "bad statistics for '" << op.getName()
                       << "': 'min' and 'max' must both be numbers or both "
                          "arrays of the same length";
        return WalkResult::interrupt();
      }
      for (auto [l, h] : llvm::zip(lo, hi))
        if (l > h) {
          op.emitError() << "bad statistics for '" << op.getName() << "': min "
                         << l << " is above max " << h;
          return WalkResult::interrupt();
        }
      // Per-channel statistics must match the observed axis.
      auto minAttr = dyn_cast<DenseElementsAttr>(attrs[0].getValue());
      if (minAttr) {
        auto type = cast<RankedTensorType>(op.getInput().getType());
        std::optional<int64_t> axis = op.getAxis();
        if (!axis || minAttr.getNumElements() != type.getDimSize(*axis)) {
          op.emitError() << "statistics of '" << op.getName()
                         << "' are per channel with "
                         << minAttr.getNumElements()
                         << " channels, which does not match the op";
          return WalkResult::interrupt();
        }
      }
      // Per-channel means of an activation (for bias correction): an
      // array along `mean_axis`, as long as that dimension.
      const llvm::json::Value *meanAxisJson = entry->get("mean_axis");
      const llvm::json::Value *meanJson = entry->get("channel_mean");
      if (meanAxisJson || meanJson) {
        auto type = cast<RankedTensorType>(op.getInput().getType());
        std::optional<int64_t> meanAxis =
            meanAxisJson ? meanAxisJson->getAsInteger() : std::nullopt;
        std::string error;
        FailureOr<Attribute> mean =
            jsonNumbers(*entry, "channel_mean", b, /*asInt=*/false, error);
        auto meanArray = succeeded(mean)
                             ? dyn_cast_or_null<DenseElementsAttr>(*mean)
                             : DenseElementsAttr();
        if (!meanAxisJson)
          error = "'channel_mean' needs its 'mean_axis'";
        else if (!meanAxis || *meanAxis < 0 || *meanAxis >= type.getRank())
          error = "'mean_axis' must be an axis of the observed tensor";
        else if (!meanArray)
          error = error.empty() ? "'channel_mean' must be an array" : error;
        else if (meanArray.getNumElements() != type.getDimSize(*meanAxis))
          error = llvm::formatv("'channel_mean' has {0} values, dimension "
                                "{1} of the observed tensor has {2}",
                                meanArray.getNumElements(), *meanAxis,
                                type.getDimSize(*meanAxis))
                      .str();
        else if (llvm::any_of(meanArray.getValues<double>(),
                              [](double v) { return !std::isfinite(v); }))
          error = "'channel_mean' has a NaN or infinite value";
        if (!error.empty()) {
          op.emitError() << "bad statistics for '" << op.getName()
                         << "': " << error;
          return WalkResult::interrupt();
        }
        attrs.push_back(b.getNamedAttr("channel_mean", meanArray));
        attrs.push_back(
            b.getNamedAttr("mean_axis", b.getI64IntegerAttr(*meanAxis)));
      }
      updates.push_back({op, b.getDictionaryAttr(attrs)});
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    for (auto &[op, stats] : updates)
      op.setStatsAttr(stats);
  }
};
} // namespace
