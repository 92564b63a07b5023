//===- Layers.cpp - Quantizable layers of float linalg IR -----------------===//
//
// Matching of matmul/convolution layers with their bias and ReLU epilogue.
//
//===----------------------------------------------------------------------===//

#include "Layers.h"

#include "quantx/Dialect/QuantX/IR/QuantX.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"

#include <cmath>
#include <optional>

using namespace mlir;
using namespace mlir::quantx;

int64_t Layer::channelAxis() const {
  auto type = cast<RankedTensorType>(op->getResult(0).getType());
  return kind == LayerKind::Conv2D ? 1 : type.getRank() - 1;
}

/// The elements of a `dense_resource` blob as a DenseElementsAttr (null when
/// the blob is absent or its size does not match the type).
static DenseElementsAttr fromResource(DenseResourceElementsAttr attr) {
  AsmResourceBlob *blob = attr.getRawHandle().getBlob();
  if (!blob)
    return {};
  ArrayRef<char> data = blob->getData();
  auto type = cast<ShapedType>(attr.getType());
  Type elem = type.getElementType();
  if (!elem.isIntOrFloat())
    return {};
  int64_t bits = elem.getIntOrFloatBitWidth();
  if (bits % 8 != 0 ||
      static_cast<int64_t>(data.size()) != type.getNumElements() * (bits / 8))
    return {};
  return DenseElementsAttr::getFromRawBuffer(type, data);
}

DenseElementsAttr mlir::quantx::getConstantElements(Value v) {
  if (!v)
    return {};
  // Constants reshaped by the importer (e.g. a [C,1,1] bias collapsed to
  // [C] for broadcasting) are the same elements in another shape.
  if (auto collapse = v.getDefiningOp<tensor::CollapseShapeOp>()) {
    if (DenseElementsAttr src = getConstantElements(collapse.getSrc()))
      return src.reshape(collapse.getResultType());
    return {};
  }
  if (auto expand = v.getDefiningOp<tensor::ExpandShapeOp>()) {
    if (DenseElementsAttr src = getConstantElements(expand.getSrc()))
      return src.reshape(expand.getResultType());
    return {};
  }
  Attribute attr;
  if (!matchPattern(v, m_Constant(&attr)))
    return {};
  if (auto dense = dyn_cast<DenseElementsAttr>(attr))
    return dense;
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr))
    return fromResource(resource);
  return {};
}

ObserveOp mlir::quantx::getObserver(Value v) {
  return v.hasOneUse() ? dyn_cast<ObserveOp>(*v.getUsers().begin())
                       : ObserveOp();
}

/// A name from a location: a NameLoc's name, or the file name of a
/// FileLineColLoc at line 0 column 0 (the importer's module path).
static std::string nameFromLoc(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    if (file.getLine() == 0 && file.getColumn() == 0 &&
        !file.getFilename().empty())
      return file.getFilename().str();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations()) {
      std::string name = nameFromLoc(inner);
      if (!name.empty())
        return name;
    }
  return {};
}

/// The name of the op at `loc` (nameFromLoc), else `<prefix>_<counter>`;
/// counts the op either way, so that numbers follow walk order.
static std::string nameOrNumbered(Location loc, StringRef prefix,
                                  unsigned &counter) {
  std::string name = nameFromLoc(loc);
  if (name.empty())
    name = (prefix + "_" + Twine(counter)).str();
  ++counter;
  return name;
}

/// True when `v` is the float constant 0 (through arith.constant).
static bool isZeroFloat(Value v) { return matchPattern(v, m_AnyZeroFloat()); }

/// True when `op` is an element-wise generic whose loops cover its result.
static bool isElementwiseGeneric(Operation *op, unsigned numInputs) {
  auto generic = dyn_cast_or_null<linalg::GenericOp>(op);
  if (!generic || generic.getNumDpsInputs() != numInputs ||
      generic.getNumDpsInits() != 1 || generic->getNumResults() != 1)
    return false;
  if (generic.getNumLoops() != generic.getNumParallelLoops())
    return false;
  return generic.getMatchingIndexingMap(generic.getDpsInitOperand(0))
      .isIdentity();
}

/// The single non-terminator op of a generic's body, if it is of type OpTy
/// and the yield returns it.
template <typename OpTy>
static OpTy getSingleBodyOp(linalg::GenericOp generic) {
  Block &body = generic.getRegion().front();
  OpTy found;
  for (Operation &op : body.without_terminator()) {
    if (isa<arith::ConstantOp>(op))
      continue;
    if (found || !isa<OpTy>(op))
      return {};
    found = cast<OpTy>(op);
  }
  if (!found || body.getTerminator()->getNumOperands() != 1 ||
      body.getTerminator()->getOperand(0) != found->getResult(0))
    return {};
  return found;
}

/// The map of a bias operand: the output channel dimension only.
static bool isChannelMap(AffineMap map, int64_t channel) {
  return map.getNumResults() == 1 &&
         map.getResult(0) == getAffineDimExpr(channel, map.getContext());
}

/// `bias` as a 1-D constant over `channel` when `map` reads it along the
/// channel dimension and, for its other dimensions (all of size 1), only
/// output dimensions of size 1 (the [C, 1] bias of a Conv1d the importer
/// runs as a 2-D convolution on [N, C, 1, L]); else null.
static DenseElementsAttr asChannelBias(DenseElementsAttr bias, AffineMap map,
                                       int64_t channel,
                                       ArrayRef<int64_t> outShape) {
  if (!bias || map.getNumResults() != bias.getType().getRank() ||
      map.getNumResults() == 0 ||
      map.getResult(0) != getAffineDimExpr(channel, map.getContext()))
    return {};
  for (unsigned i = 1; i < map.getNumResults(); ++i) {
    auto dim = dyn_cast<AffineDimExpr>(map.getResult(i));
    if (!dim || bias.getType().getDimSize(i) != 1 ||
        outShape[dim.getPosition()] != 1)
      return {};
  }
  return bias.reshape(RankedTensorType::get({bias.getType().getDimSize(0)},
                                            bias.getElementType()));
}

/// A 1-D constant broadcast along `channel` of an output of rank `rank`,
/// through linalg.broadcast or an element-wise generic copy.
static DenseElementsAttr matchBiasBroadcast(Value v, int64_t channel) {
  Operation *def = v.getDefiningOp();
  if (auto bcast = dyn_cast_or_null<linalg::BroadcastOp>(def)) {
    DenseElementsAttr attr = getConstantElements(bcast.getInput());
    auto dims = bcast.getDimensions();
    if (!attr || attr.getType().getRank() != 1)
      return {};
    if (llvm::is_contained(dims, channel) ||
        int64_t(dims.size()) !=
            cast<RankedTensorType>(v.getType()).getRank() - 1)
      return {};
    return attr;
  }
  auto generic = dyn_cast_or_null<linalg::GenericOp>(def);
  if (!generic || !isElementwiseGeneric(generic, 1))
    return {};
  Block &body = generic.getRegion().front();
  if (!body.without_terminator().empty() ||
      body.getTerminator()->getOperand(0) != body.getArgument(0))
    return {};
  OpOperand *in = generic.getDpsInputOperand(0);
  DenseElementsAttr attr = getConstantElements(in->get());
  if (!attr || attr.getType().getRank() != 1 ||
      !isChannelMap(generic.getMatchingIndexingMap(in), channel))
    return {};
  return attr;
}

/// Matches the accumulator init of a layer: zero or a bias broadcast.
static LogicalResult matchInit(Layer &layer) {
  Value init = layer.op.getDpsInitOperand(0)->get();
  if (auto fill = init.getDefiningOp<linalg::FillOp>())
    if (isZeroFloat(fill.getInputs()[0]))
      return success();
  if (isZeroFloat(init))
    return success();
  if (layer.groups > 1)
    return failure(); // A bias there would be [G, F/G]: not matched.
  if (DenseElementsAttr bias = matchBiasBroadcast(init, layer.channelAxis())) {
    layer.bias = bias;
    layer.biasInit = true;
    return success();
  }
  return failure();
}

/// Classifies a matmul: 2-D [M, K] x [K, N] or [N, K] -> [M, N].
static void classifyMatmul(Layer &layer) {
  linalg::LinalgOp op = layer.op;
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  layer.kind = LayerKind::Unsupported;
  if (failed(dims) || !dims->batch.empty() || dims->m.size() != 1 ||
      dims->n.size() != 1 || dims->k.size() != 1 || op.getNumDpsInputs() != 2) {
    layer.unsupportedReason =
        "only 2-D matmuls (one M, N and K dimension, no batch) are supported";
    return;
  }
  MLIRContext *ctx = op->getContext();
  AffineExpr m = getAffineDimExpr(dims->m[0], ctx);
  AffineExpr n = getAffineDimExpr(dims->n[0], ctx);
  AffineExpr k = getAffineDimExpr(dims->k[0], ctx);
  auto results = [](AffineMap map) {
    return SmallVector<AffineExpr>(map.getResults());
  };
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (results(maps[0]) != SmallVector<AffineExpr>{m, k} ||
      results(maps[2]) != SmallVector<AffineExpr>{m, n}) {
    layer.unsupportedReason = "the lhs must be [M, K] and the result [M, N]";
    return;
  }
  if (results(maps[1]) == SmallVector<AffineExpr>{k, n})
    layer.transposeRhs = false;
  else if (results(maps[1]) == SmallVector<AffineExpr>{n, k})
    layer.transposeRhs = true;
  else {
    layer.unsupportedReason = "the weight must be [K, N] or [N, K]";
    return;
  }
  layer.activationOperand = op.getDpsInputOperand(0);
  layer.weightOperand = op.getDpsInputOperand(1);
  layer.kind = LayerKind::Matmul;
}

/// Whether `indices` splits (or merges) dimension 1 of a 4-D NCHW tensor
/// into two: [[0], [1, 2], [3], [4]].
static bool isGroupReassociation(ArrayRef<ReassociationIndices> indices) {
  return indices.size() == 4 && indices[0] == ReassociationIndices{0} &&
         indices[1] == ReassociationIndices{1, 2} &&
         indices[2] == ReassociationIndices{3} &&
         indices[3] == ReassociationIndices{4};
}

/// Matches a grouped convolution: linalg.conv_2d_ngchw_gfchw whose input
/// is an NCHW tensor split into groups by a tensor.expand_shape, whose
/// result is read only as NCHW through a tensor.collapse_shape, and whose
/// filter is a constant. Returns the reason when it is not one.
static std::optional<std::string> matchGroupedConv(Layer &layer) {
  auto conv = dyn_cast<linalg::Conv2DNgchwGfchwOp>(layer.op.getOperation());
  if (!conv)
    return std::string("only linalg.conv_2d_nchw_fchw convolutions and "
                       "grouped linalg.conv_2d_ngchw_gfchw ones are "
                       "supported");
  auto expand =
      conv.getDpsInputOperand(0)->get().getDefiningOp<tensor::ExpandShapeOp>();
  Value result = conv->getResult(0);
  auto collapse =
      result.hasOneUse()
          ? dyn_cast<tensor::CollapseShapeOp>(*result.getUsers().begin())
          : tensor::CollapseShapeOp();
  if (!expand || !isGroupReassociation(expand.getReassociationIndices()) ||
      !collapse || !isGroupReassociation(collapse.getReassociationIndices()))
    return std::string(
        "a grouped convolution must read an NCHW input split by "
        "tensor.expand_shape [[0], [1, 2], [3], [4]] and be read only "
        "through the matching tensor.collapse_shape");
  if (!getConstantElements(conv.getDpsInputOperand(1)->get()))
    return std::string("a grouped convolution's filter must be a constant");
  layer.groups = cast<RankedTensorType>(result.getType()).getDimSize(1);
  layer.groupExpand = expand;
  layer.groupCollapse = collapse;
  return std::nullopt;
}

/// Classifies a convolution: linalg.conv_2d_nchw_fchw, or a grouped one
/// (see matchGroupedConv), with an optional zero tensor.pad of the spatial
/// dimensions of its NCHW input.
static void classifyConv(Layer &layer) {
  if (!isa<linalg::Conv2DNchwFchwOp>(layer.op.getOperation())) {
    if (std::optional<std::string> reason = matchGroupedConv(layer)) {
      layer.kind = LayerKind::Unsupported;
      layer.unsupportedReason = *reason;
      return;
    }
  }
  layer.kind = LayerKind::Conv2D;
  layer.activationOperand = layer.op.getDpsInputOperand(0);
  layer.weightOperand = layer.op.getDpsInputOperand(1);
  Value nchw = layer.groupExpand ? layer.groupExpand.getSrc()
                                 : layer.activationOperand->get();
  auto pad = nchw.getDefiningOp<tensor::PadOp>();
  if (!pad)
    return;
  Value padValue = pad.getConstantPaddingValue();
  SmallVector<int64_t> low(pad.getStaticLow()), high(pad.getStaticHigh());
  if (!padValue || !isZeroFloat(padValue) || low.size() != 4 || low[0] != 0 ||
      low[1] != 0 || high[0] != 0 || high[1] != 0 ||
      ShapedType::isDynamic(low[2]) || ShapedType::isDynamic(low[3]) ||
      ShapedType::isDynamic(high[2]) || ShapedType::isDynamic(high[3]) ||
      !pad.getResult().hasOneUse())
    return; // Not foldable: the padded tensor is the activation.
  layer.pad = pad;
  layer.padding = {low[2], high[2], low[3], high[3]};
}

/// The upper bound of an element-wise generic computing min(max(x, 0), hi)
/// for a constant hi > 0 (ReLU6, clamp(x, 0, hi)), with its operand as x.
static std::optional<double> matchClampFromZero(linalg::GenericOp generic) {
  if (!generic.getMatchingIndexingMap(generic.getDpsInputOperand(0))
           .isIdentity())
    return std::nullopt;
  Block &body = generic.getRegion().front();
  SmallVector<Operation *> ops;
  for (Operation &op : body.without_terminator())
    if (!isa<arith::ConstantOp>(op))
      ops.push_back(&op);
  if (ops.size() != 2 || body.getTerminator()->getNumOperands() != 1 ||
      body.getTerminator()->getOperand(0) != ops[1]->getResult(0))
    return std::nullopt;
  auto max = dyn_cast<arith::MaximumFOp>(ops[0]);
  auto min = dyn_cast<arith::MinimumFOp>(ops[1]);
  if (!max || !min)
    return std::nullopt;
  Value x = body.getArgument(0);
  if (!((max.getLhs() == x && isZeroFloat(max.getRhs())) ||
        (max.getRhs() == x && isZeroFloat(max.getLhs()))))
    return std::nullopt;
  Value bound = min.getLhs() == max.getResult() ? min.getRhs() : min.getLhs();
  if (min.getLhs() != max.getResult() && min.getRhs() != max.getResult())
    return std::nullopt;
  APFloat hi(0.0);
  if (!matchPattern(bound, m_ConstantFloat(&hi)))
    return std::nullopt;
  double value = hi.convertToDouble();
  if (!(value > 0.0) || !std::isfinite(value))
    return std::nullopt;
  return value;
}

/// The ReLU generic (out = max(v, 0)) that is the only reader of `v`, if
/// any.
static Operation *matchRelu(Value v) {
  if (!v.hasOneUse())
    return nullptr;
  Operation *user = *v.getUsers().begin();
  if (!isElementwiseGeneric(user, 1))
    return nullptr;
  auto generic = cast<linalg::GenericOp>(user);
  Block &body = generic.getRegion().front();
  Operation *max = getSingleBodyOp<arith::MaximumFOp>(generic);
  if (!max)
    max = getSingleBodyOp<arith::MaxNumFOp>(generic);
  if (!max || !generic.getMatchingIndexingMap(generic.getDpsInputOperand(0))
                   .isIdentity())
    return nullptr;
  Value a = max->getOperand(0), b = max->getOperand(1);
  if ((a == body.getArgument(0) && isZeroFloat(b)) ||
      (b == body.getArgument(0) && isZeroFloat(a)))
    return generic;
  return nullptr;
}

/// Follows the element-wise bias addition and ReLU after the layer.
static void matchEpilogue(Layer &layer) {
  Value v = layer.product();
  int64_t channel = layer.channelAxis();
  auto singleUser = [](Value v) -> Operation * {
    return v.hasOneUse() ? *v.getUsers().begin() : nullptr;
  };
  // Bias addition: out = v + bias[c].
  if (!layer.bias) {
    Operation *user = singleUser(v);
    if (isElementwiseGeneric(user, 2)) {
      auto generic = cast<linalg::GenericOp>(user);
      if (auto add = getSingleBodyOp<arith::AddFOp>(generic)) {
        Block &body = generic.getRegion().front();
        for (unsigned i = 0; i < 2; ++i) {
          OpOperand *self = generic.getDpsInputOperand(i);
          OpOperand *other = generic.getDpsInputOperand(1 - i);
          if (self->get() != v ||
              !generic.getMatchingIndexingMap(self).isIdentity())
            continue;
          DenseElementsAttr bias =
              asChannelBias(getConstantElements(other->get()),
                            generic.getMatchingIndexingMap(other), channel,
                            cast<RankedTensorType>(v.getType()).getShape());
          bool argsOk = (add.getLhs() == body.getArgument(0) &&
                         add.getRhs() == body.getArgument(1)) ||
                        (add.getLhs() == body.getArgument(1) &&
                         add.getRhs() == body.getArgument(0));
          if (bias && argsOk) {
            layer.bias = bias;
            layer.biasOp = generic;
            v = generic->getResult(0);
          }
          break;
        }
      }
    }
  }
  // Clamp to [0, hi], hi > 0 (ReLU6): out = min(max(v, 0), hi).
  auto matchClamp = [&](Value v) -> linalg::GenericOp {
    auto generic = dyn_cast_or_null<linalg::GenericOp>(singleUser(v));
    if (generic && isElementwiseGeneric(generic, 1))
      if (std::optional<double> hi = matchClampFromZero(generic)) {
        layer.clampMax = *hi;
        return generic;
      }
    return {};
  };
  // A 1-D convolution (a 2-D one on [N, C, 1, L]) is read back as
  // [N, C, L]: its ReLU or clamp follows that collapse.
  if (auto collapse =
          dyn_cast_or_null<tensor::CollapseShapeOp>(singleUser(v))) {
    auto type = cast<RankedTensorType>(v.getType());
    SmallVector<ReassociationIndices> oneD = {{0}, {1}, {2, 3}};
    Value c = collapse.getResult();
    if (layer.kind == LayerKind::Conv2D && type.getRank() == 4 &&
        type.getDimSize(2) == 1 && collapse.getReassociationIndices() == oneD &&
        (matchRelu(c) || matchClamp(c))) {
      layer.collapse1d = collapse;
      v = c;
    }
  }
  if ((layer.reluOp = matchRelu(v)))
    v = layer.reluOp->getResult(0);
  else if ((layer.clampOp = matchClamp(v)))
    v = layer.clampOp->getResult(0);
  layer.output = v;
}

SmallVector<Layer, 4> mlir::quantx::findLayers(func::FuncOp func) {
  SmallVector<Layer, 4> layers;
  unsigned counter = 0;
  func.walk([&](linalg::LinalgOp op) {
    bool isContraction = linalg::isaContractionOpInterface(op);
    bool isConv = !isContraction && linalg::isaConvolutionOpInterface(op);
    if (!isContraction && !isConv)
      return;
    // Pooling ops are convolutions without a product: not layers.
    bool multiplies = false;
    op->getRegion(0).walk([&](arith::MulFOp) { multiplies = true; });
    if (!multiplies)
      return;
    if (op->getNumResults() != 1 ||
        !isa<FloatType>(getElementTypeOrSelf(op->getResult(0).getType())))
      return;
    Layer layer;
    layer.op = op;
    std::string prefix = isContraction ? "matmul" : "conv2d";
    layer.name = nameOrNumbered(op->getLoc(), prefix, counter);
    layer.hasConstantInput =
        llvm::any_of(op.getDpsInputOperands(), [](OpOperand *in) {
          return bool(getConstantElements(in->get()));
        });
    if (isContraction)
      classifyMatmul(layer);
    else
      classifyConv(layer);
    if (layer.kind != LayerKind::Unsupported) {
      if (failed(matchInit(layer))) {
        layer.kind = LayerKind::Unsupported;
        layer.unsupportedReason = "the accumulator does not start at zero "
                                  "or at a broadcast bias";
      } else {
        matchEpilogue(layer);
      }
    }
    if (!layer.output)
      layer.output = layer.product();
    layers.push_back(std::move(layer));
  });
  return layers;
}

SmallVector<ResidualAdd> mlir::quantx::findResidualAdds(func::FuncOp func) {
  SmallVector<ResidualAdd> adds;
  unsigned counter = 0;
  func.walk([&](linalg::GenericOp generic) {
    if (!isElementwiseGeneric(generic, 2))
      return;
    auto add = getSingleBodyOp<arith::AddFOp>(generic);
    if (!add)
      return;
    Block &body = generic.getRegion().front();
    if (!((add.getLhs() == body.getArgument(0) &&
           add.getRhs() == body.getArgument(1)) ||
          (add.getLhs() == body.getArgument(1) &&
           add.getRhs() == body.getArgument(0))))
      return;
    Type resultType = generic->getResult(0).getType();
    if (!getElementTypeOrSelf(resultType).isF32())
      return;
    for (OpOperand *in : generic.getDpsInputOperands())
      if (in->get().getType() != resultType ||
          !generic.getMatchingIndexingMap(in).isIdentity() ||
          getConstantElements(in->get()))
        return;
    ResidualAdd r;
    r.op = generic;
    r.name = nameOrNumbered(generic->getLoc(), "add", counter);
    r.output = generic->getResult(0);
    if ((r.reluOp = matchRelu(r.output)))
      r.output = r.reluOp->getResult(0);
    adds.push_back(std::move(r));
  });
  return adds;
}

SmallVector<AveragePool> mlir::quantx::findAveragePools(func::FuncOp func) {
  SmallVector<AveragePool> pools;
  unsigned counter = 0;
  func.walk([&](linalg::PoolingNchwSumOp pool) {
    if (!getElementTypeOrSelf(pool.getInputs()[0].getType()).isF32() ||
        !pool->getResult(0).hasOneUse())
      return;
    auto fill = pool.getOutputs()[0].getDefiningOp<linalg::FillOp>();
    if (!fill || !isZeroFloat(fill.getInputs()[0]))
      return;
    Operation *user = *pool->getResult(0).getUsers().begin();
    if (!isElementwiseGeneric(user, 1))
      return;
    auto scale = cast<linalg::GenericOp>(user);
    auto mul = getSingleBodyOp<arith::MulFOp>(scale);
    if (!mul ||
        !scale.getMatchingIndexingMap(scale.getDpsInputOperand(0)).isIdentity())
      return;
    Value arg = scale.getRegion().front().getArgument(0);
    Value other = mul.getLhs() == arg   ? mul.getRhs()
                  : mul.getRhs() == arg ? mul.getLhs()
                                        : Value();
    FloatAttr multiplier;
    if (!other || !matchPattern(other, m_Constant(&multiplier)))
      return;
    // An average: 1 / window, in (0, 1]. Anything else (0, a negative,
    // NaN, infinity) is some other computation, left float.
    double c = multiplier.getValueAsDouble();
    if (!(c > 0.0 && c <= 1.0))
      return;
    AveragePool p;
    p.pool = pool;
    p.scaleOp = scale;
    p.multiplier = multiplier.getValueAsDouble();
    p.name = nameOrNumbered(pool->getLoc(), "avgpool", counter);
    pools.push_back(std::move(p));
  });
  return pools;
}
