//===- PTQ.cpp - Post-training quantization of linalg layers --------------===//
//
// quantx-ptq: rewrites float matmul/conv layers into quantx.matmul /
// quantx.conv2d with int8 (or int4 weight-only) weights quantized at
// compile time by the numeric core, activation parameters from calibration
// statistics, int32 bias, fused ReLU and requantizing epilogues.
//
//===----------------------------------------------------------------------===//

#include "JsonFile.h"
#include "Layers.h"

#include "quantx/Dialect/QuantX/IR/QuantX.h"
#include "quantx/Dialect/QuantX/Transforms/Passes.h"
#include "quantx/Quant/Scheme.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <limits>

namespace mlir::quantx {
#define GEN_PASS_DEF_POSTTRAININGQUANTIZE
#include "quantx/Dialect/QuantX/Transforms/Passes.h.inc"
} // namespace mlir::quantx

using namespace mlir;
using namespace mlir::quantx;

namespace {

enum class Mode { StaticInt8, DynamicInt8, WeightInt8, WeightInt4 };

/// Per-tensor activation parameters.
struct ActParams {
  float scale = 1.0f;
  int32_t zeroPoint = 0;
};

/// A float layer with everything the rewrite needs, computed up front so
/// that an error leaves the module untouched.
struct Plan {
  Layer layer;
  bool keepFloat = false;
  /// Why the layer stays float (the report's "reason").
  std::string floatReason;
  /// The layer's clamp to [0, clampMax] is done by the saturation of its
  /// requantized uint8 output (see the consumer search).
  bool fuseClamp = false;
  ActParams input;
  /// The observation the input parameters come from (static int8).
  std::string inputObservation;
  /// The parameters the output is requantized to: those observed on the
  /// value its readers (quantized layers and additions) all read, named in
  /// `readers`.
  std::optional<ActParams> output;
  std::string readers;
  UniformType weightType;
  DenseElementsAttr weightCodes;
  ::quantx::QuantParams weightParams;
  int64_t weightElements = 0;
  unsigned weightBits = 8;
  /// weight-int4 mode: a keep-int8 pattern names the layer, whose weights
  /// are quantized to 8 bits instead.
  bool keepInt8 = false;
  /// Weight elements per scale along the reduction (K, or a convolution's
  /// C/groups * KH * KW, when there is one scale per output channel).
  int64_t weightGroup = 0;
  /// Why the weights are not grouped as asked (the report's "weight_note").
  std::string weightNote;
  /// With bias-correction: the float bias less the expected error of the
  /// quantized weights, one value per output channel, and the largest
  /// shift.
  std::optional<std::vector<float>> correctedBias;
  double biasShift = 0.0;
};

/// A residual addition and how static int8 rewrites it.
struct AddPlan {
  ResidualAdd add;
  /// Becomes a quantx.add (else it stays a float op, for `floatReason`).
  bool quantized = false;
  std::string floatReason;
  ActParams lhs, rhs, output;
  ObserveOp outputObserve;
  /// The quantized readers of the result.
  std::string readers;
};

/// An average pooling and how static int8 rewrites it.
struct PoolPlan {
  AveragePool pool;
  /// Pools the uint8 storage (else it stays a float op, for `floatReason`).
  bool quantized = false;
  std::string floatReason;
  ActParams input, output;
  /// The quantized readers of the result.
  std::string readers;
};

/// The stats {min, max} of an observe op as a Range, or failure.
static FailureOr<::quantx::Range> getStatsRange(ObserveOp op) {
  DictionaryAttr stats = op.getStatsAttr();
  if (!stats)
    return failure();
  auto mn = dyn_cast_or_null<FloatAttr>(stats.get("min"));
  auto mx = dyn_cast_or_null<FloatAttr>(stats.get("max"));
  if (!mn || !mx)
    return failure();
  ::quantx::Range r;
  r.min = float(mn.getValueAsDouble());
  r.max = float(mx.getValueAsDouble());
  if (!std::isfinite(r.min) || !std::isfinite(r.max) || r.min > r.max)
    return failure();
  return r;
}

/// The uint8 asymmetric per-tensor scheme of activations.
static ::quantx::QuantScheme activationScheme() {
  ::quantx::QuantScheme s;
  s.bits = 8;
  s.isSigned = false;
  return s;
}

/// The activation parameters of the observation `op` from its statistics.
static FailureOr<ActParams> getObservedParams(ObserveOp op) {
  if (!op)
    return failure();
  FailureOr<::quantx::Range> range = getStatsRange(op);
  if (failed(range))
    return failure();
  ActParams p;
  ::quantx::computeScaleZeroPoint(*range, activationScheme(), p.scale,
                                  p.zeroPoint);
  return p;
}

/// A static per-tensor f32 type with a zero point, over the full range of
/// `bits`-bit storage.
static UniformType perTensorType(MLIRContext *ctx, unsigned bits, bool isSigned,
                                 double scale, int64_t zeroPoint) {
  Builder b(ctx);
  int64_t min = isSigned ? -(int64_t(1) << (bits - 1)) : 0;
  int64_t max =
      isSigned ? (int64_t(1) << (bits - 1)) - 1 : (int64_t(1) << bits) - 1;
  return UniformType::get(IntegerType::get(ctx, bits), isSigned, min, max,
                          Float32Type::get(ctx), Granularity::per_tensor, {},
                          {}, OffsetKind::zero_point, Float32Type::get(ctx),
                          IntegerType::get(ctx, 32), b.getF64FloatAttr(scale),
                          b.getI64IntegerAttr(zeroPoint));
}

static UniformType activationType(MLIRContext *ctx, ActParams p) {
  return perTensorType(ctx, 8, /*isSigned=*/false, p.scale, p.zeroPoint);
}

/// Values following `v` through ops that keep quantization parameters
/// valid (observe, shape ops, max pooling, concatenation), one use at a
/// time.
static Value followParamPreserving(Value v, DenseSet<Value> &stops) {
  while (v.hasOneUse() && !stops.contains(v)) {
    Operation *user = *v.getUsers().begin();
    if (isa<ObserveOp, tensor::CollapseShapeOp, tensor::ExpandShapeOp,
            linalg::TransposeOp>(user) ||
        (isa<tensor::ReshapeOp>(user) && user->getOperand(0) == v) ||
        (isa<linalg::PoolingNchwMaxOp, linalg::PoolingNhwcMaxOp>(user) &&
         user->getOperand(0) == v) ||
        // A concatenation (torch.cat as the importer emits it): a piece, or
        // the pieces before it, inserted into the result.
        isa<tensor::InsertSliceOp>(user)) {
      v = user->getResult(0);
      continue;
    }
    break;
  }
  return v;
}

/// Follows `v` up through single-use collapse/expand reshapes (a flatten),
/// appending them to `reshapes` (last applied first); returns the value
/// before them.
static Value peelReshapes(Value v, SmallVectorImpl<Operation *> &reshapes) {
  while (Operation *def = v.getDefiningOp()) {
    if (!isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(def) ||
        !v.hasOneUse())
      break;
    reshapes.push_back(def);
    v = def->getOperand(0);
  }
  return v;
}

/// Applies `reshapes` (as peelReshapes collected them) to `v`, a tensor of
/// `storage` elements.
static Value reapplyReshapes(OpBuilder &b, Location loc, Value v,
                             ArrayRef<Operation *> reshapes, Type storage) {
  for (Operation *reshape : llvm::reverse(reshapes)) {
    auto type = cast<RankedTensorType>(reshape->getResult(0).getType());
    if (auto c = dyn_cast<tensor::CollapseShapeOp>(reshape))
      v = tensor::CollapseShapeOp::create(b, loc, type.clone(storage), v,
                                          c.getReassociationIndices());
    else
      v = tensor::ExpandShapeOp::create(
          b, loc, type.clone(storage), v,
          cast<tensor::ExpandShapeOp>(reshape).getReassociationIndices());
  }
  return v;
}

/// The strides and dilations of a pooling or convolution op (the accessors
/// give the defaults of absent attributes).
template <typename PoolOp>
static std::pair<SmallVector<int64_t>, SmallVector<int64_t>>
getStridesAndDilations(PoolOp pool) {
  return {
      SmallVector<int64_t>(pool.getStrides().template getValues<int64_t>()),
      SmallVector<int64_t>(pool.getDilations().template getValues<int64_t>())};
}

/// A pooling of the storage integers `x` over the windows of `pool` (a
/// linalg.pooling_nchw_max or _sum: its kernel, strides and dilations)
/// into a tensor of `init`'s type filled with `init`: one generic whose
/// body folds each element into the accumulator with `combine(in, acc)`.
template <typename PoolOp>
static Value buildStoragePooling(
    OpBuilder &b, Location loc, PoolOp pool, Value x, Value init,
    function_ref<Value(OpBuilder &, Location, Value, Value)> combine) {
  MLIRContext *ctx = b.getContext();
  auto poolType = cast<RankedTensorType>(pool->getResult(0).getType());
  Value empty =
      tensor::EmptyOp::create(b, loc, poolType.getShape(), init.getType());
  Value filled = linalg::FillOp::create(b, loc, init, empty).getResult(0);
  auto [strides, dilations] = getStridesAndDilations(pool);
  auto d = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
  // Loops (n, c, oh, ow, kh, kw), as the named op's.
  SmallVector<AffineMap> maps = {
      AffineMap::get(6, 0,
                     {d(0), d(1), d(2) * strides[0] + d(4) * dilations[0],
                      d(3) * strides[1] + d(5) * dilations[1]},
                     ctx),
      AffineMap::get(6, 0, {d(4), d(5)}, ctx),
      AffineMap::get(6, 0, {d(0), d(1), d(2), d(3)}, ctx)};
  SmallVector<utils::IteratorType> iters(4, utils::IteratorType::parallel);
  iters.append(2, utils::IteratorType::reduction);
  return linalg::GenericOp::create(
             b, loc, TypeRange{filled.getType()},
             ValueRange{x, pool.getInputs()[1]}, ValueRange{filled}, maps,
             iters,
             [&](OpBuilder &nb, Location l, ValueRange args) {
               linalg::YieldOp::create(nb, l, combine(nb, l, args[0], args[2]));
             })
      .getResult(0);
}

/// Rewrites `quantize(pooling_nchw_max(dequantize(q)))` whose quantize and
/// dequantize share one static per-tensor type (what `rewrite` leaves
/// between a requantizing layer and the next layer's input) into max
/// pooling of the storage integers. This is exact: dequantization with a
/// positive scale is monotone, so the maximum of the dequantized window is
/// the dequantization of the maximum storage value, and quantizing
/// `s * (q - z)` (f32) with the same parameters gives back `q`. The pool's
/// init must be -inf (every window is non-empty), else nothing changes.
static void foldQuantizedMaxPool(QuantizeOp op) {
  if (op.getScale() || op.getOffset())
    return;
  // Reshapes between the pooling and the quantize (a flatten) move to the
  // storage tensor.
  SmallVector<Operation *> reshapes;
  Value v = peelReshapes(op.getInput(), reshapes);
  auto pool = v.getDefiningOp<linalg::PoolingNchwMaxOp>();
  if (!pool || !pool->hasOneUse())
    return;
  // So do reshapes between the dequantize and the pooling (a 1-D pooling's
  // [N, C, L] -> [N, C, 1, L]).
  SmallVector<Operation *> inReshapes;
  auto deq = peelReshapes(pool.getInputs()[0], inReshapes)
                 .getDefiningOp<DequantizeOp>();
  if (!deq || deq.getScale() || deq.getOffset())
    return;
  auto inType = cast<RankedTensorType>(deq.getInput().getType());
  auto outType = dyn_cast<RankedTensorType>(op.getType());
  auto poolType = cast<RankedTensorType>(pool->getResult(0).getType());
  if (!outType || inType.getElementType() != outType.getElementType() ||
      !inType.hasStaticShape() || !poolType.hasStaticShape())
    return;
  auto q = cast<UniformType>(inType.getElementType());
  auto scale = dyn_cast_or_null<FloatAttr>(q.getScales());
  if (!q.isPerTensor() || !scale || !(scale.getValueAsDouble() > 0) ||
      (!q.isSymmetric() && q.getOffsetKind() != OffsetKind::zero_point))
    return;
  auto fill = pool.getOutputs()[0].getDefiningOp<linalg::FillOp>();
  if (!fill)
    return;
  FloatAttr init;
  if (!matchPattern(fill.getInputs()[0], m_Constant(&init)) ||
      !init.getValue().isInfinity() || !init.getValue().isNegative())
    return;

  OpBuilder b(op);
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  auto storage = IntegerType::get(ctx, q.getStorageWidth());
  Value x =
      StorageCastOp::create(b, loc, inType.clone(storage), deq.getInput());
  x = reapplyReshapes(b, loc, x, inReshapes, storage);
  Value minimum = arith::ConstantOp::create(
      b, loc, storage, b.getIntegerAttr(storage, q.getStorageMin()));
  bool isSigned = q.getIsSigned();
  Value pooled = buildStoragePooling(
      b, loc, pool, x, minimum,
      [&](OpBuilder &nb, Location l, Value in, Value acc) -> Value {
        if (isSigned)
          return arith::MaxSIOp::create(nb, l, in, acc);
        return arith::MaxUIOp::create(nb, l, in, acc);
      });
  pooled = reapplyReshapes(b, loc, pooled, reshapes, storage);
  Value result = StorageCastOp::create(b, loc, outType, pooled);
  op.getResult().replaceAllUsesWith(result);
  op.erase();
  for (Operation *reshape : reshapes)
    reshape->erase();
  pool->erase();
  if (fill->use_empty())
    fill->erase();
  for (Operation *reshape : inReshapes)
    reshape->erase();
  if (deq->use_empty())
    deq->erase();
}

/// Rewrites `quantize(concat(dequantize(q1), dequantize(q2), ...))`, the
/// concatenation as `tensor.insert_slice`s into a `tensor.empty`, whose
/// quantize and dequantizes all have one static per-tensor type (what
/// `rewrite` leaves when several layers requantize to the input of the
/// layer that reads their concatenation) into a concatenation of the
/// storage integers. Exact: quantizing a dequantized value with its own
/// parameters gives it back. Reshapes after the concatenation move to the
/// storage tensor, as for max pooling.
static void foldQuantizedConcat(QuantizeOp op) {
  if (op.getScale() || op.getOffset())
    return;
  auto outType = dyn_cast<RankedTensorType>(op.getType());
  if (!outType || !outType.hasStaticShape())
    return;
  SmallVector<Operation *> reshapes;
  Value v = peelReshapes(op.getInput(), reshapes);
  // The chain, last insertion first.
  SmallVector<tensor::InsertSliceOp> chain;
  while (auto ins = v.getDefiningOp<tensor::InsertSliceOp>()) {
    if (!v.hasOneUse())
      return;
    chain.push_back(ins);
    v = ins.getDest();
  }
  auto empty = v.getDefiningOp<tensor::EmptyOp>();
  if (chain.empty() || !empty || !v.hasOneUse() ||
      !empty.getType().hasStaticShape())
    return;
  // Each piece is a dequantize, maybe reshaped (unsqueezed) before its
  // insertion.
  SmallVector<DequantizeOp> pieces;
  SmallVector<SmallVector<Operation *>> pieceReshapes(chain.size());
  for (auto [ins, reshaped] : llvm::zip(chain, pieceReshapes)) {
    auto deq =
        peelReshapes(ins.getSource(), reshaped).getDefiningOp<DequantizeOp>();
    if (!deq || deq.getScale() || deq.getOffset() ||
        cast<RankedTensorType>(deq.getInput().getType()).getElementType() !=
            outType.getElementType())
      return;
    pieces.push_back(deq);
  }
  auto q = cast<UniformType>(outType.getElementType());
  if (!q.isPerTensor())
    return;

  OpBuilder b(op);
  Location loc = op.getLoc();
  auto storage = IntegerType::get(b.getContext(), q.getStorageWidth());
  Value dest =
      tensor::EmptyOp::create(b, loc, empty.getType().getShape(), storage);
  for (auto [ins, deq, reshaped] :
       llvm::reverse(llvm::zip(chain, pieces, pieceReshapes))) {
    auto pieceType = cast<RankedTensorType>(deq.getInput().getType());
    Value piece =
        StorageCastOp::create(b, loc, pieceType.clone(storage), deq.getInput());
    piece = reapplyReshapes(b, loc, piece, reshaped, storage);
    dest = tensor::InsertSliceOp::create(
        b, loc, piece, dest, ins.getMixedOffsets(), ins.getMixedSizes(),
        ins.getMixedStrides());
  }
  dest = reapplyReshapes(b, loc, dest, reshapes, storage);
  op.getResult().replaceAllUsesWith(
      StorageCastOp::create(b, loc, outType, dest));
  op.erase();
  for (Operation *reshape : reshapes)
    reshape->erase();
  for (auto [ins, reshaped] : llvm::zip(chain, pieceReshapes)) {
    ins->erase();
    for (Operation *reshape : reshaped)
      reshape->erase();
  }
  empty->erase();
  for (DequantizeOp deq : pieces)
    if (deq->use_empty())
      deq->erase();
}

/// Rewrites `quantize(reshape(dequantize(q)))` (collapse/expand reshapes, a
/// flatten between a requantizing layer and the next) with one static
/// per-tensor type into the reshape of the storage integers. Exact, as
/// the other folds.
static void foldQuantizedReshape(QuantizeOp op) {
  if (op.getScale() || op.getOffset())
    return;
  SmallVector<Operation *> reshapes;
  auto deq =
      peelReshapes(op.getInput(), reshapes).getDefiningOp<DequantizeOp>();
  if (reshapes.empty() || !deq || deq.getScale() || deq.getOffset())
    return;
  auto inType = cast<RankedTensorType>(deq.getInput().getType());
  auto outType = dyn_cast<RankedTensorType>(op.getType());
  if (!outType || inType.getElementType() != outType.getElementType() ||
      !cast<UniformType>(inType.getElementType()).isPerTensor())
    return;
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto storage = IntegerType::get(
      b.getContext(),
      cast<UniformType>(inType.getElementType()).getStorageWidth());
  Value x =
      StorageCastOp::create(b, loc, inType.clone(storage), deq.getInput());
  x = reapplyReshapes(b, loc, x, reshapes, storage);
  op.getResult().replaceAllUsesWith(StorageCastOp::create(b, loc, outType, x));
  op.erase();
  for (Operation *reshape : reshapes)
    reshape->erase();
  if (deq->use_empty())
    deq->erase();
}

struct PTQPass : public mlir::quantx::impl::PostTrainingQuantizeBase<PTQPass> {
  using Base::Base;

  void runOnOperation() override;

private:
  Mode modeValue = Mode::StaticInt8;

  LogicalResult planLayer(Plan &plan);
  void rewrite(Plan &plan);
  void rewriteAdd(AddPlan &plan);
  void rewritePool(PoolPlan &plan);
  Value buildDynamicQuantize(OpBuilder &b, Location loc, Value x, Value &scale,
                             Value &offset);
};

} // namespace

/// The strides and dilations of a convolution layer.
static std::pair<SmallVector<int64_t>, SmallVector<int64_t>>
getConvWindows(Layer &layer) {
  if (auto conv = dyn_cast<linalg::Conv2DNchwFchwOp>(layer.op.getOperation()))
    return getStridesAndDilations(conv);
  return getStridesAndDilations(
      cast<linalg::Conv2DNgchwGfchwOp>(layer.op.getOperation()));
}

/// The share of the `outSize` output positions at which filter tap `k`
/// reads the input of size `inSize` rather than its zero padding.
static double tapCoverage(int64_t k, int64_t inSize, int64_t outSize,
                          int64_t stride, int64_t dilation, int64_t padLow) {
  int64_t inside = 0;
  for (int64_t o = 0; o < outSize; ++o) {
    int64_t i = o * stride + k * dilation - padLow;
    inside += i >= 0 && i < inSize;
  }
  return outSize ? double(inside) / double(outSize) : 0.0;
}

/// Bias correction: per output channel, the float bias (0 without one)
/// less E[(w_q - w) . x], the mean error the quantized weights `deq` (of
/// the float weights `w`, laid out as `dims`) add on the calibration data.
/// E[x] comes from the `channel_mean` statistics of the layer's input
/// observation; for a convolution, the mean of column (c, kh, kw) is the
/// channel's mean times the share of output positions at which that tap
/// reads the input (exact when each channel's mean is the same at every
/// position). Sets `plan.correctedBias` and `plan.biasShift`.
static LogicalResult planBiasCorrection(Plan &plan, ArrayRef<float> w,
                                        ArrayRef<float> deq,
                                        ArrayRef<int64_t> dims,
                                        std::string &error) {
  Layer &layer = plan.layer;
  auto observe = layer.activation().getDefiningOp<ObserveOp>();
  auto actType = cast<RankedTensorType>(layer.activation().getType());
  int64_t axis = layer.kind == LayerKind::Conv2D ? 1 : actType.getRank() - 1;
  DictionaryAttr stats = observe ? observe.getStatsAttr() : DictionaryAttr();
  auto means =
      stats ? dyn_cast_or_null<DenseElementsAttr>(stats.get("channel_mean"))
            : DenseElementsAttr();
  auto meanAxis =
      stats ? dyn_cast_or_null<IntegerAttr>(stats.get("mean_axis")) : nullptr;
  if (!means || !meanAxis || meanAxis.getInt() != axis ||
      means.getNumElements() != actType.getDimSize(axis)) {
    error = "bias-correction needs the per-channel means of its input " +
            (observe ? "observation '" + observe.getName().str() + "'"
                     : std::string("(it has no quantx.observe)")) +
            " along axis " + std::to_string(axis) +
            " (calibrate with this version's quantx.ptq.calibrate)";
    return failure();
  }
  SmallVector<double> mean(means.getValues<double>());

  // E[x] of every column a weight element multiplies, and the output
  // channel and column of each weight element: [N, K] / [K, N] matmul
  // weights (columns k), or a convolution's [F, C/G, KH, KW] (columns
  // (g, c, kh, kw), one set per group).
  bool kMajor = layer.kind == LayerKind::Matmul && !layer.transposeRhs;
  int64_t channels = kMajor ? dims[1] : dims[0];
  int64_t perChannel = kMajor ? dims[0] : int64_t(w.size()) / channels;
  int64_t filtersPerGroup = channels / layer.groups;
  SmallVector<double> columnMean;
  if (layer.kind == LayerKind::Matmul) {
    columnMean = mean;
  } else {
    auto outType = cast<RankedTensorType>(layer.product().getType());
    auto [strides, dilations] = getConvWindows(layer);
    int64_t groupChannels = dims[1], kh = dims[2], kw = dims[3];
    for (int64_t g = 0; g < layer.groups; ++g)
      for (int64_t c = 0; c < groupChannels; ++c)
        for (int64_t i = 0; i < kh; ++i)
          for (int64_t j = 0; j < kw; ++j)
            columnMean.push_back(
                mean[g * groupChannels + c] *
                tapCoverage(i, actType.getDimSize(2), outType.getDimSize(2),
                            strides[0], dilations[0], layer.padding[0]) *
                tapCoverage(j, actType.getDimSize(3), outType.getDimSize(3),
                            strides[1], dilations[1], layer.padding[2]));
  }
  std::vector<double> shift(channels, 0.0);
  for (int64_t i = 0, e = w.size(); i < e; ++i) {
    int64_t c = kMajor ? i % channels : i / perChannel;
    int64_t column = kMajor
                         ? i / channels
                         : i % perChannel + (c / filtersPerGroup) * perChannel;
    shift[c] += (double(deq[i]) - double(w[i])) * columnMean[column];
  }
  std::vector<float> bias(channels, 0.0f);
  if (layer.bias) {
    if (layer.bias.getNumElements() != channels) {
      error = "bias-correction: its bias has " +
              std::to_string(layer.bias.getNumElements()) + " values for " +
              std::to_string(channels) + " output channels";
      return failure();
    }
    bias.assign(layer.bias.getValues<float>().begin(),
                layer.bias.getValues<float>().end());
  }
  plan.biasShift = 0.0;
  for (int64_t c = 0; c < channels; ++c) {
    bias[c] = float(double(bias[c]) - shift[c]);
    plan.biasShift = std::max(plan.biasShift, std::abs(shift[c]));
  }
  plan.correctedBias = std::move(bias);
  return success();
}

LogicalResult PTQPass::planLayer(Plan &plan) {
  Layer &layer = plan.layer;
  MLIRContext *ctx = layer.op->getContext();
  Builder b(ctx);
  auto fail = [&](const Twine &why) -> LogicalResult {
    return layer.op->emitError()
           << "quantx-ptq: cannot quantize layer '" << layer.name << "' ("
           << layer.op->getName() << "): " << why
           << "; keep it in float with keep-float";
  };
  if (layer.kind == LayerKind::Unsupported)
    return fail(layer.unsupportedReason);
  bool weightOnly =
      modeValue == Mode::WeightInt8 || modeValue == Mode::WeightInt4;
  auto elemType = [](Value v) { return getElementTypeOrSelf(v.getType()); };
  if (!elemType(layer.activation()).isF32() || !elemType(layer.output).isF32())
    return fail("only f32 layers are supported");
  if (layer.kind == LayerKind::Conv2D) {
    // linalg's verifier lets these through; quantx.conv2d's does not.
    auto [strides, dilations] = getConvWindows(layer);
    auto positive = [](ArrayRef<int64_t> v) {
      return v.size() == 2 && llvm::all_of(v, [](int64_t x) { return x > 0; });
    };
    if (!positive(strides) || !positive(dilations))
      return fail("its strides and dilations must be positive");
    auto outType = cast<RankedTensorType>(layer.output.getType());
    if (outType.hasStaticShape() && outType.getNumElements() == 0)
      return fail("its output is empty (is the dilated filter larger than "
                  "the padded input?)");
  }

  // Input parameters from the statistics.
  if (modeValue == Mode::StaticInt8) {
    auto observe = layer.activation().getDefiningOp<ObserveOp>();
    if (!observe)
      return fail("its input has no quantx.observe (run "
                  "quantx-insert-observers and calibrate first)");
    FailureOr<::quantx::Range> range = getStatsRange(observe);
    if (failed(range))
      return fail("observation '" + observe.getName() +
                  "' has no valid {min, max} statistics (run "
                  "quantx-apply-calibration first)");
    ::quantx::computeScaleZeroPoint(*range, activationScheme(),
                                    plan.input.scale, plan.input.zeroPoint);
    plan.inputObservation = observe.getName().str();
  }

  // Weights, quantized now from the constant.
  DenseElementsAttr weight = getConstantElements(layer.weightOperand->get());
  if (!weight)
    return fail("its weight is not a constant");
  if (!weight.getElementType().isF32())
    return fail("its weight is not f32");
  auto wType = cast<RankedTensorType>(weight.getType());
  std::vector<int64_t> dims(wType.getShape().begin(), wType.getShape().end());
  if (layer.groups > 1) {
    // [G, F/G, C/G, KH, KW] -> quantx.conv2d's [F, C/G, KH, KW]: the same
    // elements in the same order.
    dims.erase(dims.begin());
    dims[0] *= layer.groups;
    wType = wType.clone(dims);
  }
  std::vector<float> values(weight.getValues<float>().begin(),
                            weight.getValues<float>().end());
  for (float v : values)
    if (!std::isfinite(v))
      return fail("its weight has a NaN or infinite value");
  plan.weightElements = values.size();

  ::quantx::QuantScheme scheme;
  scheme.bits = modeValue == Mode::WeightInt4 && !plan.keepInt8 ? 4 : 8;
  scheme.isSigned = true;
  scheme.narrowRange = true;
  scheme.symmetric = true;
  int64_t outAxis =
      layer.kind == LayerKind::Conv2D || layer.transposeRhs ? 0 : 1;
  int64_t kAxis = 1 - outAxis;
  bool isConv = layer.kind == LayerKind::Conv2D;
  // A filter [F, C/G, KH, KW] is grouped along its flattened reduction
  // (C/G * KH * KW elements per output channel, in memory order) in groups
  // of whole input channels: group-size must be a multiple of KH * KW.
  // Otherwise a convolution gets one scale per output channel.
  int64_t taps = isConv ? dims[2] * dims[3] : 1;
  if (taps == 0)
    return fail("its filter window is empty");
  int64_t reduction = isConv ? dims[1] * taps : dims[kAxis];
  bool grouped = weightOnly && groupSize > 0;
  if (grouped && isConv &&
      (groupSize % taps != 0 || reduction % groupSize != 0)) {
    grouped = false;
    plan.weightNote = llvm::formatv(
        "group-size {0} is not a whole number of the filter's input "
        "channels ({1} taps each, {2} per output channel): one scale per "
        "output channel",
        int64_t(groupSize), taps, reduction);
  }
  if (grouped && isConv && groupSize == reduction)
    grouped = false; // One group per output channel: per channel.
  if (grouped && reduction % groupSize != 0)
    return fail(llvm::formatv("group-size {0} does not divide K = {1}",
                              int64_t(groupSize), reduction)
                    .str());
  plan.weightGroup = grouped ? int64_t(groupSize) : reduction;
  // Quantized as the [F, K] matrix of a convolution (the same elements in
  // the same order), so that a group spans its channels' taps.
  std::vector<int64_t> qdims = dims;
  if (isConv)
    qdims = {dims[0], reduction};
  if (grouped) {
    scheme.granularity = ::quantx::Granularity::PerGroup;
    scheme.axis = kAxis;
    scheme.groupSize = groupSize;
  } else {
    scheme.granularity = ::quantx::Granularity::PerAxis;
    scheme.axis = outAxis;
  }
  plan.weightBits = scheme.bits;
  plan.weightParams =
      ::quantx::computeParamsFromData(values.data(), qdims, scheme);
  std::vector<int32_t> codes(values.size());
  ::quantx::quantize(values.data(), qdims, scheme, plan.weightParams,
                     codes.data());

  IntegerType storage = IntegerType::get(ctx, scheme.bits);
  SmallVector<APInt> codeInts;
  codeInts.reserve(codes.size());
  for (int32_t c : codes)
    codeInts.push_back(APInt(scheme.bits, int64_t(c), /*isSigned=*/true));
  plan.weightCodes =
      DenseElementsAttr::get(wType.clone(storage), ArrayRef(codeInts));
  if (biasCorrection) {
    std::vector<float> deq(values.size());
    ::quantx::dequantize(codes.data(), qdims, scheme, plan.weightParams,
                         deq.data());
    std::string error;
    if (failed(planBiasCorrection(plan, values, deq, dims, error)))
      return fail(error);
  }
  std::vector<double> scales(plan.weightParams.scales.begin(),
                             plan.weightParams.scales.end());
  SmallVector<int64_t> pshape(plan.weightParams.shape.begin(),
                              plan.weightParams.shape.end());
  if (isConv && grouped)
    pshape = {dims[0], reduction / groupSize, 1, 1}; // Blocks span KH, KW.
  Attribute scaleAttr = DenseElementsAttr::get(
      RankedTensorType::get(pshape, b.getF64Type()), ArrayRef(scales));
  int64_t qmax = scheme.qmax();
  SmallVector<int64_t> axes, blocks;
  Granularity granularity = Granularity::per_axis;
  if (grouped) {
    granularity = Granularity::per_block;
    axes = {0, 1};
    blocks = {1, 1};
    blocks[kAxis] = isConv ? groupSize / taps : int64_t(groupSize);
  } else {
    axes = {outAxis};
  }
  plan.weightType = UniformType::get(
      storage, true, -qmax, qmax, Float32Type::get(ctx), granularity, axes,
      blocks, OffsetKind::none, Float32Type::get(ctx), NoneType::get(ctx),
      scaleAttr, Attribute());
  return success();
}

/// Quantizes `x` per tensor to uint8 with parameters computed at run time
/// from its min and max (PyTorch's formulas, as computeScaleZeroPoint):
/// returns the quantized tensor and sets the scalar scale/offset tensors.
Value PTQPass::buildDynamicQuantize(OpBuilder &b, Location loc, Value x,
                                    Value &scale, Value &offset) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  Type f32 = b.getF32Type();
  auto scalar = RankedTensorType::get({}, f32);
  auto reduce = [&](bool isMax) -> Value {
    // Starting at 0 gives min(min, 0) and max(max, 0), the range the
    // parameters must cover.
    Value initV = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    Value empty = tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{}, f32);
    Value filled = linalg::FillOp::create(b, loc, initV, empty).getResult(0);
    SmallVector<AffineMap> maps = {
        AffineMap::getMultiDimIdentityMap(type.getRank(), ctx),
        AffineMap::get(type.getRank(), 0, {}, ctx)};
    SmallVector<utils::IteratorType> iters(type.getRank(),
                                           utils::IteratorType::reduction);
    auto generic = linalg::GenericOp::create(
        b, loc, TypeRange{scalar}, ValueRange{x}, ValueRange{filled}, maps,
        iters, [&](OpBuilder &nb, Location nl, ValueRange args) {
          Value r = isMax ? arith::MaximumFOp::create(nb, nl, args[0], args[1])
                                .getResult()
                          : arith::MinimumFOp::create(nb, nl, args[0], args[1])
                                .getResult();
          linalg::YieldOp::create(nb, nl, r);
        });
    return generic.getResult(0);
  };
  Value mn = reduce(false), mx = reduce(true);
  // scale = (max - min) / 255, 1 when the range is empty, else at least
  // FLT_EPSILON; zp = clamp(0 - round(min / scale), 0, 255).
  SmallVector<AffineMap> maps(4, AffineMap::get(0, 0, {}, ctx));
  Value emptyS = tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{}, f32);
  Value emptyZ =
      tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{}, b.getI32Type());
  auto params = linalg::GenericOp::create(
      b, loc, TypeRange{scalar, RankedTensorType::get({}, b.getI32Type())},
      ValueRange{mn, mx}, ValueRange{emptyS, emptyZ}, maps,
      ArrayRef<utils::IteratorType>{},
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        auto cst = [&](float v) -> Value {
          return arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(v));
        };
        Value range = arith::SubFOp::create(nb, nl, a[1], a[0]);
        Value s = arith::DivFOp::create(nb, nl, range, cst(255.0f));
        Value eps = cst(std::numeric_limits<float>::epsilon());
        s = arith::MaximumFOp::create(nb, nl, s, eps);
        Value empty = arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OEQ,
                                            a[1], a[0]);
        s = arith::SelectOp::create(nb, nl, empty, cst(1.0f), s);
        Value q = arith::DivFOp::create(nb, nl, a[0], s);
        q = math::RoundEvenOp::create(nb, nl, q);
        Value z = arith::SubFOp::create(nb, nl, cst(0.0f), q);
        z = arith::MaximumFOp::create(nb, nl, z, cst(0.0f));
        z = arith::MinimumFOp::create(nb, nl, z, cst(255.0f));
        Value zi = arith::FPToSIOp::create(nb, nl, nb.getI32Type(), z);
        linalg::YieldOp::create(nb, nl, ValueRange{s, zi});
      });
  scale = params.getResult(0);
  offset = params.getResult(1);
  UniformType qtype =
      getUniformType(ctx, 8, /*isSigned=*/false, Float32Type::get(ctx),
                     OffsetKind::zero_point);
  return QuantizeOp::create(b, loc, type.clone(qtype), x, scale, offset,
                            RoundingMode::half_to_even, true);
}

void PTQPass::rewrite(Plan &plan) {
  Layer &layer = plan.layer;
  MLIRContext *ctx = layer.op->getContext();
  Location loc = layer.op->getLoc();
  // The value the quantized layer replaces: its output, or the input of a
  // clamp that stays a float op after it.
  bool floatClamp = layer.clampOp && !plan.fuseClamp;
  Value replaced = floatClamp ? layer.clampOp->getOperand(0) : layer.output;
  OpBuilder b(layer.op);
  b.setInsertionPointAfter(replaced.getDefiningOp());
  // The quantized op's result, in the product's shape: a 1-D convolution's
  // [N, C, 1, L], collapsed to `replaced`'s [N, C, L] after it.
  auto outType = cast<RankedTensorType>(
      layer.collapse1d ? layer.collapse1d.getSrcType() : replaced.getType());
  int64_t channels = outType.getDimSize(layer.channelAxis());

  Value weight = ConstantOp::create(
      b, loc, plan.weightCodes.getType().clone(plan.weightType),
      plan.weightCodes);

  Value lhs, lhsScale, lhsOffset, bias;
  std::vector<float> floatBias;
  if (plan.correctedBias)
    floatBias = *plan.correctedBias;
  else if (layer.bias)
    floatBias.assign(layer.bias.getValues<float>().begin(),
                     layer.bias.getValues<float>().end());
  Type resultType = outType;
  UniformType consumerType;
  if (modeValue == Mode::StaticInt8) {
    UniformType inType = activationType(ctx, plan.input);
    auto actType = cast<RankedTensorType>(layer.activation().getType());
    lhs =
        QuantizeOp::create(b, loc, actType.clone(inType), layer.activation(),
                           Value(), Value(), RoundingMode::half_to_even, true);
    if (!floatBias.empty()) {
      // int32 bias at scale s_in * s_w[c].
      SmallVector<int32_t> q;
      int64_t i = 0;
      for (float v : floatBias) {
        float s = plan.input.scale * plan.weightParams.scales[i++];
        double r = std::nearbyint(double(v / s));
        r = std::min(std::max(r, -2147483647.0), 2147483647.0);
        q.push_back(int32_t(r));
      }
      bias = arith::ConstantOp::create(
          b, loc,
          DenseElementsAttr::get(
              RankedTensorType::get({channels}, b.getI32Type()), ArrayRef(q)));
    }
    if (plan.output) {
      consumerType = activationType(ctx, *plan.output);
      resultType = outType.clone(consumerType);
    }
  } else {
    if (plan.correctedBias)
      bias = arith::ConstantOp::create(
          b, loc,
          DenseElementsAttr::get(
              RankedTensorType::get({channels}, b.getF32Type()),
              ArrayRef(*plan.correctedBias)));
    else if (layer.bias)
      bias = arith::ConstantOp::create(b, loc, layer.bias);
    if (modeValue == Mode::DynamicInt8)
      lhs =
          buildDynamicQuantize(b, loc, layer.activation(), lhsScale, lhsOffset);
    else
      lhs = layer.activation();
  }
  if (bias && bias.getType() !=
                  RankedTensorType::get({channels},
                                        getElementTypeOrSelf(bias.getType())))
    bias = {};

  // ReLU, or a clamp to [0, hi] whose upper bound the requantized output's
  // saturation applies.
  bool relu = layer.reluOp || plan.fuseClamp;
  Value result;
  if (layer.kind == LayerKind::Matmul) {
    result =
        MatmulOp::create(b, loc, resultType, lhs, weight, bias, lhsScale,
                         lhsOffset, Value(), Value(), Value(), Value(),
                         layer.transposeRhs, relu, RoundingMode::half_to_even);
  } else {
    auto [strides, dilations] = getConvWindows(layer);
    result = Conv2DOp::create(b, loc, resultType, lhs, weight, bias, lhsScale,
                              lhsOffset, Value(), Value(), Value(), Value(),
                              strides, layer.padding, dilations, layer.groups,
                              relu, RoundingMode::half_to_even);
  }
  if (consumerType)
    result = DequantizeOp::create(b, loc, outType, result, Value(), Value());
  if (layer.collapse1d)
    result = tensor::CollapseShapeOp::create(
        b, loc, cast<RankedTensorType>(replaced.getType()), result,
        layer.collapse1d.getReassociationIndices());
  replaced.replaceAllUsesWith(result);
  // The float ops are now dead; erase the chain from its end.
  SmallVector<Operation *> dead;
  if (layer.reluOp)
    dead.push_back(layer.reluOp);
  if (plan.fuseClamp)
    dead.push_back(layer.clampOp);
  if (layer.collapse1d)
    dead.push_back(layer.collapse1d);
  if (layer.biasOp)
    dead.push_back(layer.biasOp);
  if (layer.groupCollapse)
    dead.push_back(layer.groupCollapse);
  dead.push_back(layer.op);
  if (layer.groupExpand)
    dead.push_back(layer.groupExpand);
  if (layer.pad)
    dead.push_back(layer.pad);
  for (Operation *op : dead)
    if (op->use_empty())
      op->erase();
}

/// Replaces the addition by quantize(lhs), quantize(rhs), quantx.add and a
/// dequantize of the sum for its readers (whose quantize folds it away).
/// A ReLU after the sum is the saturation of the result's uint8 storage at
/// its zero point 0.
void PTQPass::rewriteAdd(AddPlan &plan) {
  ResidualAdd &add = plan.add;
  MLIRContext *ctx = add.op->getContext();
  Location loc = add.op->getLoc();
  OpBuilder b(plan.outputObserve);
  auto type = cast<RankedTensorType>(add.output.getType());
  auto quantize = [&](Value v, ActParams p) -> Value {
    return QuantizeOp::create(b, loc, type.clone(activationType(ctx, p)), v,
                              Value(), Value(), RoundingMode::half_to_even,
                              true);
  };
  Value lhs = quantize(add.lhs(), plan.lhs);
  Value rhs = quantize(add.rhs(), plan.rhs);
  Value sum =
      AddOp::create(b, loc, type.clone(activationType(ctx, plan.output)), lhs,
                    rhs, RoundingMode::half_to_even);
  Value result = DequantizeOp::create(b, loc, type, sum, Value(), Value());
  if (keepOutputObservers) {
    // The observation of the result stays (for per-layer SQNR), on the
    // quantized sum.
    plan.outputObserve->setOperand(0, result);
  } else {
    plan.outputObserve.getResult().replaceAllUsesWith(result);
    plan.outputObserve.erase();
  }
  if (add.reluOp)
    add.reluOp->erase();
  add.op->erase();
}

/// Replaces the average pooling by a pooling of the uint8 storage: the
/// window sums of the storage integers in i32 (exact), read as a quantized
/// i32 tensor of scale `s_in * multiplier` and zero point
/// `window * z_in` (the real value of the scaled sum), requantized to the
/// readers' parameters; a dequantize for the readers, whose quantize folds
/// it away.
void PTQPass::rewritePool(PoolPlan &plan) {
  AveragePool &avg = plan.pool;
  MLIRContext *ctx = avg.pool->getContext();
  Location loc = avg.pool->getLoc();
  OpBuilder b(avg.scaleOp);
  auto inType = cast<RankedTensorType>(avg.input().getType());
  auto outType = cast<RankedTensorType>(avg.output().getType());
  Value q = QuantizeOp::create(
      b, loc, inType.clone(activationType(ctx, plan.input)), avg.input(),
      Value(), Value(), RoundingMode::half_to_even, true);
  IntegerType i8 = b.getIntegerType(8), i32 = b.getI32Type();
  Value storage = StorageCastOp::create(b, loc, inType.clone(i8), q);
  Value zero = arith::ConstantOp::create(b, loc, i32, b.getI32IntegerAttr(0));
  Value sums = buildStoragePooling(
      b, loc, avg.pool, storage, zero,
      [&](OpBuilder &nb, Location l, Value in, Value acc) -> Value {
        Value wide = arith::ExtUIOp::create(nb, l, acc.getType(), in);
        return arith::AddIOp::create(nb, l, acc, wide);
      });
  auto kernel = cast<RankedTensorType>(avg.pool.getInputs()[1].getType());
  int64_t window = kernel.getNumElements();
  UniformType sumType = perTensorType(ctx, 32, /*isSigned=*/true,
                                      double(plan.input.scale) * avg.multiplier,
                                      window * plan.input.zeroPoint);
  Value sum = StorageCastOp::create(b, loc, outType.clone(sumType), sums);
  Value pooled = RequantizeOp::create(
      b, loc, outType.clone(activationType(ctx, plan.output)), sum, Value(),
      Value(), Value(), Value(), RoundingMode::half_to_even, true);
  Value result =
      DequantizeOp::create(b, loc, outType, pooled, Value(), Value());
  avg.output().replaceAllUsesWith(result);
  Operation *fill = avg.pool.getOutputs()[0].getDefiningOp();
  avg.scaleOp->erase();
  avg.pool->erase();
  if (fill && fill->use_empty())
    fill->erase();
}

/// The report entry of an addition or pooling: when quantized, its
/// `<role>_scale`/`<role>_zero_point` parameters and quantized readers;
/// else the reason it stays float.
static llvm::json::Object
describeRequantizing(StringRef name, bool quantized, StringRef floatReason,
                     ArrayRef<std::pair<const char *, ActParams>> params,
                     StringRef readers) {
  llvm::json::Object entry;
  entry["name"] = name;
  if (!quantized) {
    entry["status"] = "float";
    entry["reason"] = floatReason;
    return entry;
  }
  entry["status"] = "quantized";
  for (auto [role, p] : params) {
    entry[std::string(role) + "_scale"] = double(p.scale);
    entry[std::string(role) + "_zero_point"] = int64_t(p.zeroPoint);
  }
  entry["output"] = ("requantized to " + readers).str();
  return entry;
}

void PTQPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (mode == "static-int8")
    modeValue = Mode::StaticInt8;
  else if (mode == "dynamic-int8")
    modeValue = Mode::DynamicInt8;
  else if (mode == "weight-int8")
    modeValue = Mode::WeightInt8;
  else if (mode == "weight-int4")
    modeValue = Mode::WeightInt4;
  else {
    emitError(module.getLoc()) << "quantx-ptq: unknown mode '" << mode
                               << "' (expected static-int8, dynamic-int8, "
                                  "weight-int8 or weight-int4)";
    return signalPassFailure();
  }
  if (groupSize < 0 || (groupSize > 0 && modeValue != Mode::WeightInt8 &&
                        modeValue != Mode::WeightInt4)) {
    emitError(module.getLoc(),
              "quantx-ptq: group-size must be >= 0 and is only "
              "meaningful for the weight-only modes");
    return signalPassFailure();
  }
  if (!keepInt8.empty() && modeValue != Mode::WeightInt4) {
    emitError(module.getLoc(),
              "quantx-ptq: keep-int8 is only meaningful in mode weight-int4");
    return signalPassFailure();
  }
  std::vector<llvm::Regex> keepPatterns, int8Patterns;
  for (auto [option, patterns, out] :
       {std::make_tuple("keep-float", &keepFloat, &keepPatterns),
        std::make_tuple("keep-int8", &keepInt8, &int8Patterns)}) {
    for (const std::string &pattern : *patterns) {
      llvm::Regex re(pattern);
      std::string error;
      if (!re.isValid(error)) {
        emitError(module.getLoc()) << "quantx-ptq: bad " << option
                                   << " pattern '" << pattern << "': " << error;
        return signalPassFailure();
      }
      out->emplace_back(pattern);
    }
  }

  // Plan every layer of every function first: errors leave the module as
  // it was.
  struct FuncPlan {
    func::FuncOp func;
    std::vector<Plan> plans;
    std::vector<AddPlan> adds;
    std::vector<PoolPlan> pools;
  };
  std::vector<FuncPlan> funcs;
  bool failedAny = false;
  auto matchesAny = [](std::vector<llvm::Regex> &patterns, StringRef name) {
    return llvm::any_of(patterns,
                        [&](llvm::Regex &re) { return re.match(name); });
  };
  for (auto func : module.getOps<func::FuncOp>()) {
    std::vector<Plan> plans;
    for (Layer &layer : findLayers(func)) {
      Plan plan;
      plan.layer = layer;
      if (matchesAny(keepPatterns, layer.name)) {
        plan.keepFloat = true;
        plan.floatReason = "keep-float";
      }
      plan.keepInt8 = matchesAny(int8Patterns, layer.name);
      if (!plan.keepFloat && !layer.hasConstantInput) {
        // An activation x activation product (attention's Q K^T, P V) has
        // no weights: it stays float, as in PyTorch's PTQ.
        plan.keepFloat = true;
        plan.floatReason = "no constant operand (both are computed at run "
                           "time): not quantized";
      }
      if (!plan.keepFloat && failed(planLayer(plan)))
        failedAny = true;
      plans.push_back(std::move(plan));
    }
    std::vector<AddPlan> adds;
    for (ResidualAdd &add : findResidualAdds(func)) {
      AddPlan plan;
      plan.add = add;
      plan.outputObserve = getObserver(add.output);
      if (modeValue != Mode::StaticInt8) {
        plan.floatReason = "only static int8 quantizes additions";
      } else if (matchesAny(keepPatterns, add.name)) {
        plan.floatReason = "keep-float";
      } else {
        FailureOr<ActParams> lhs =
            getObservedParams(add.lhs().getDefiningOp<ObserveOp>());
        FailureOr<ActParams> rhs =
            getObservedParams(add.rhs().getDefiningOp<ObserveOp>());
        FailureOr<ActParams> out = getObservedParams(plan.outputObserve);
        if (failed(lhs) || failed(rhs) || failed(out)) {
          plan.floatReason = "its operands and result have no {min, max} "
                             "statistics (calibrate with this version's "
                             "quantx-insert-observers)";
        } else if (add.reluOp && out->zeroPoint != 0) {
          plan.floatReason = "the range observed after its ReLU does not "
                             "start at 0";
        } else {
          plan.quantized = true;
          plan.lhs = *lhs;
          plan.rhs = *rhs;
          plan.output = *out;
        }
      }
      adds.push_back(std::move(plan));
    }
    std::vector<PoolPlan> pools;
    for (AveragePool &pool : findAveragePools(func)) {
      PoolPlan plan;
      plan.pool = pool;
      FailureOr<ActParams> in;
      if (modeValue != Mode::StaticInt8)
        plan.floatReason = "only static int8 quantizes pooling";
      else if (matchesAny(keepPatterns, pool.name))
        plan.floatReason = "keep-float";
      else if (failed(in = getObservedParams(
                          pool.input().getDefiningOp<ObserveOp>())))
        plan.floatReason = "its input has no {min, max} statistics";
      else {
        plan.quantized = true;
        plan.input = *in;
      }
      pools.push_back(std::move(plan));
    }
    funcs.push_back(
        {func, std::move(plans), std::move(adds), std::move(pools)});
  }
  if (failedAny)
    return signalPassFailure();

  llvm::json::Array layersJson, addsJson, poolsJson;
  for (auto &[func, plans, adds, pools] : funcs) {
    // Requantizing epilogues: a value is kept in uint8 when every reader is
    // a quantized layer reading it as its activation, a quantized addition
    // or pooling, all of them through one observation.
    DenseMap<Operation *, int> layerEntries, addOps, poolOps;
    DenseSet<Value> stops;
    for (auto [i, plan] : llvm::enumerate(plans))
      if (!plan.keepFloat) {
        Layer &layer = plan.layer;
        Operation *entry = layer.pad ? layer.pad.getOperation()
                           : layer.groupExpand
                               ? layer.groupExpand.getOperation()
                               : layer.op.getOperation();
        layerEntries[entry] = i;
        stops.insert(layer.activation());
      }
    for (auto [i, plan] : llvm::enumerate(adds))
      addOps[plan.add.op] = i;
    for (auto [i, plan] : llvm::enumerate(pools))
      poolOps[plan.pool.pool] = i;
    // The quantized readers of `v` (layers reading it as their activation,
    // quantized additions), named in `names`; sets `all` when every reader
    // is one.
    auto quantizedReaders = [&](Value v, std::string &names, bool &all) {
      names.clear();
      all = !v.use_empty();
      unsigned count = 0;
      // In program order (the use list is in reverse).
      SmallVector<Operation *> users(v.getUsers());
      if (llvm::all_equal(llvm::map_range(
              users, [](Operation *op) { return op->getBlock(); })))
        llvm::sort(users, [](Operation *a, Operation *b) {
          return a->isBeforeInBlock(b);
        });
      for (Operation *user : users) {
        std::string name;
        if (auto it = layerEntries.find(user);
            it != layerEntries.end() &&
            plans[it->second].layer.activation() == v)
          name = plans[it->second].layer.name;
        else if (auto it = addOps.find(user);
                 it != addOps.end() && adds[it->second].quantized)
          name = adds[it->second].add.name;
        else if (auto it = poolOps.find(user);
                 it != poolOps.end() && pools[it->second].quantized &&
                 pools[it->second].pool.input() == v)
          name = pools[it->second].pool.name;
        if (name.empty()) {
          all = false;
          continue;
        }
        ++count;
        if (!llvm::is_contained(llvm::split(names, ", "), name))
          names += (names.empty() ? "" : ", ") + name;
      }
      return count;
    };
    // An addition or pooling none of whose readers is quantized stays
    // float (an int8 result would only add a rounding); that may in turn
    // leave one reading it without a quantized reader. Float readers of a
    // quantized result read its dequantized value, as in PyTorch's PTQ.
    for (bool changed = true; changed;) {
      changed = false;
      for (AddPlan &plan : adds) {
        if (!plan.quantized)
          continue;
        Value end =
            followParamPreserving(plan.outputObserve.getResult(), stops);
        bool all;
        if (!quantizedReaders(end, plan.readers, all)) {
          plan.quantized = false;
          plan.floatReason = "no reader of its result is quantized";
          changed = true;
        }
      }
      for (PoolPlan &plan : pools) {
        if (!plan.quantized)
          continue;
        // The result's parameters are those observed where it is read.
        Value end = followParamPreserving(plan.pool.output(), stops);
        FailureOr<ActParams> out =
            getObservedParams(end.getDefiningOp<ObserveOp>());
        bool all;
        if (failed(out) || !quantizedReaders(end, plan.readers, all)) {
          plan.quantized = false;
          plan.floatReason = "no reader of its result is quantized";
          changed = true;
        } else {
          plan.output = *out;
        }
      }
    }
    if (modeValue == Mode::StaticInt8)
      for (Plan &plan : plans) {
        if (plan.keepFloat)
          continue;
        Value end = followParamPreserving(plan.layer.output, stops);
        FailureOr<ActParams> out =
            getObservedParams(end.getDefiningOp<ObserveOp>());
        bool all;
        if (succeeded(out) && quantizedReaders(end, plan.readers, all) && all)
          plan.output = *out;
        if (plan.layer.clampOp) {
          // A clamp to [0, hi] is the saturation of a uint8 output whose
          // real range is [0, m], m <= hi: the readers' parameters, observed
          // after the clamp, are such a range. Otherwise (an f32 output)
          // the clamp stays a float op after the layer.
          plan.fuseClamp = plan.output && plan.output->zeroPoint == 0 &&
                           double(plan.output->scale) * 255.0 <=
                               plan.layer.clampMax * (1.0 + 1e-6);
          if (!plan.fuseClamp)
            plan.output.reset();
        }
      }
    for (Plan &plan : plans) {
      llvm::json::Object entry;
      entry["name"] = plan.layer.name;
      entry["op"] = plan.layer.op->getName().getStringRef();
      int64_t floatBytes = 0;
      if (DenseElementsAttr w = getConstantElements(
              plan.layer.weightOperand ? plan.layer.weightOperand->get()
                                       : Value()))
        floatBytes = w.getNumElements() * 4;
      entry["bytes_before"] = floatBytes;
      if (plan.keepFloat) {
        entry["status"] = "float";
        entry["reason"] = plan.floatReason;
        entry["bytes_after"] = floatBytes;
        layersJson.push_back(std::move(entry));
        continue;
      }
      entry["status"] = "quantized";
      entry["mode"] = mode;
      entry["weight_bits"] = int64_t(plan.weightBits);
      entry["weight_granularity"] =
          plan.weightType.isPerBlock() ? "per_group" : "per_channel";
      entry["weight_group"] = plan.weightGroup;
      if (!plan.weightNote.empty())
        entry["weight_note"] = plan.weightNote;
      llvm::json::Array scales;
      for (float s : plan.weightParams.scales)
        scales.push_back(double(s));
      entry["weight_scales"] = std::move(scales);
      int64_t after = (plan.weightElements * plan.weightBits + 7) / 8 +
                      int64_t(plan.weightParams.scales.size()) * 4;
      entry["bytes_after"] = after;
      if (modeValue == Mode::StaticInt8) {
        entry["input_scale"] = double(plan.input.scale);
        entry["input_zero_point"] = int64_t(plan.input.zeroPoint);
        entry["input_observation"] = plan.inputObservation;
        entry["output"] =
            plan.output ? "requantized to " + plan.readers : std::string("f32");
      }
      entry["relu_fused"] = plan.layer.reluOp != nullptr;
      if (plan.layer.clampOp)
        entry["clamp_fused"] = plan.fuseClamp;
      entry["bias"] = bool(plan.layer.bias);
      if (plan.correctedBias)
        entry["bias_correction"] = plan.biasShift;
      layersJson.push_back(std::move(entry));
    }
    for (AddPlan &plan : adds) {
      llvm::json::Object entry = describeRequantizing(
          plan.add.name, plan.quantized, plan.floatReason,
          {{"lhs", plan.lhs}, {"rhs", plan.rhs}, {"output", plan.output}},
          plan.readers);
      if (plan.outputObserve)
        entry["observation"] = plan.outputObserve.getName();
      entry["relu_fused"] = plan.quantized && plan.add.reluOp;
      addsJson.push_back(std::move(entry));
    }
    for (PoolPlan &plan : pools)
      poolsJson.push_back(describeRequantizing(
          plan.pool.name, plan.quantized, plan.floatReason,
          {{"input", plan.input}, {"output", plan.output}}, plan.readers));
    for (Plan &plan : plans)
      if (!plan.keepFloat)
        rewrite(plan);
    for (AddPlan &plan : adds)
      if (plan.quantized)
        rewriteAdd(plan);
    for (PoolPlan &plan : pools)
      if (plan.quantized)
        rewritePool(plan);
    // Remove the observation points; a quantize of a dequantize with the
    // same type is the identity. With keep-output-observers, those of layer
    // and addition results stay.
    DenseSet<Operation *> addResults;
    if (keepOutputObservers)
      for (AddPlan &plan : adds)
        if (plan.outputObserve)
          addResults.insert(plan.outputObserve);
    func.walk([&](ObserveOp op) {
      if (keepOutputObservers &&
          (op.getName().ends_with(".output") || addResults.contains(op))) {
        op.removeStatsAttr();
        return;
      }
      op.getResult().replaceAllUsesWith(op.getInput());
      op.erase();
    });
    func.walk([](QuantizeOp op) { foldQuantizedMaxPool(op); });
    func.walk([](QuantizeOp op) { foldQuantizedConcat(op); });
    func.walk([](QuantizeOp op) { foldQuantizedReshape(op); });
    func.walk([](QuantizeOp op) {
      auto deq = op.getInput().getDefiningOp<DequantizeOp>();
      if (deq && !op.getScale() && !deq.getScale() &&
          deq.getInput().getType() == op.getType()) {
        op.getResult().replaceAllUsesWith(deq.getInput());
        op.erase();
        if (deq->use_empty())
          deq.erase();
      }
    });
  }
  if (!report.empty()) {
    llvm::json::Object root;
    root["format"] = "quantx-ptq-report";
    root["version"] = 1;
    root["mode"] = mode;
    root["layers"] = std::move(layersJson);
    root["adds"] = std::move(addsJson);
    root["pools"] = std::move(poolsJson);
    if (failed(writeJsonFile(module, report, std::move(root), "report")))
      return signalPassFailure();
  }
}
