//===- QuantXToLinalg.cpp - Lowering quantx element-wise ops to linalg ----===//
//
// Every element-wise quantx op becomes one linalg.generic over the integer
// storage. Parameters enter the body either as values captured from outside
// (static per-tensor parameters, as constants) or as extra inputs whose
// indexing maps encode the granularity: () for per tensor, (d_axis) for per
// axis, (d_i floordiv B_i, 0, ...) for per block. The body follows the
// dialect's numerics literally (see docs/Dialects/QuantX.md).
//
//===----------------------------------------------------------------------===//

#include "quantx/Conversion/Passes.h"
#include "quantx/Dialect/QuantX/IR/QuantX.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

namespace mlir::quantx {
#define GEN_PASS_DEF_CONVERTQUANTXTOLINALG
#include "quantx/Conversion/Passes.h.inc"
} // namespace mlir::quantx

using namespace mlir;
using namespace mlir::quantx;

//===----------------------------------------------------------------------===//
// Type conversion
//===----------------------------------------------------------------------===//

static IntegerType getSignlessStorage(UniformType q) {
  return IntegerType::get(q.getContext(), q.getStorageWidth());
}

QuantXStorageTypeConverter::QuantXStorageTypeConverter() {
  addConversion([](Type type) { return type; });
  addConversion([](UniformType q) -> Type { return getSignlessStorage(q); });
  addConversion([](RankedTensorType t) -> Type {
    if (auto q = dyn_cast<UniformType>(t.getElementType()))
      return t.clone(getSignlessStorage(q));
    return t;
  });
}

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

namespace {
/// Where a scale or offset comes from inside the generic body.
struct ParamRef {
  /// A value defined outside the generic (static per-tensor constant).
  Value captured;
  /// Or the position of the generic input that carries it.
  int inputIndex = -1;
  explicit operator bool() const { return captured || inputIndex >= 0; }
  Value get(ValueRange blockArgs) const {
    return captured ? captured : blockArgs[inputIndex];
  }
};

/// Inputs and maps of the generic being built.
struct GenericInputs {
  SmallVector<Value> values;
  SmallVector<AffineMap> maps;
  int add(Value v, AffineMap map) {
    values.push_back(v);
    maps.push_back(map);
    return int(values.size()) - 1;
  }
};
} // namespace

/// The map from the loop dimensions of data of `rank` to the parameter
/// tensor of `qtype`.
static AffineMap getParamMap(UniformType qtype, int64_t rank,
                             MLIRContext *ctx) {
  switch (qtype.getGranularity()) {
  case Granularity::per_tensor:
    return AffineMap::get(rank, 0, {}, ctx);
  case Granularity::per_axis:
    return AffineMap::get(rank, 0, getAffineDimExpr(qtype.getAxes()[0], ctx));
  case Granularity::per_block: {
    SmallVector<AffineExpr> exprs(rank, getAffineConstantExpr(0, ctx));
    for (auto [axis, block] : llvm::zip(qtype.getAxes(), qtype.getBlockSizes()))
      exprs[axis] = getAffineDimExpr(axis, ctx).floorDiv(block);
    return AffineMap::get(rank, 0, exprs, ctx);
  }
  }
  llvm_unreachable("unknown granularity");
}

/// Converts a static table (f64/f32 floats or integers) to a constant
/// tensor with elements of `elementType`.
static FailureOr<Value> materializeTable(OpBuilder &b, Location loc,
                                         Attribute table, Type elementType) {
  auto dense = dyn_cast<DenseElementsAttr>(table);
  if (!dense)
    return failure(); // Resource blobs are not read here yet.
  auto type = RankedTensorType::get(dense.getType().getShape(), elementType);
  if (auto f = dyn_cast<FloatType>(elementType)) {
    SmallVector<APFloat> values;
    for (APFloat v : dense.getValues<APFloat>()) {
      bool lost;
      v.convert(f.getFloatSemantics(), APFloat::rmNearestTiesToEven, &lost);
      values.push_back(v);
    }
    return arith::ConstantOp::create(b, loc, type,
                                     DenseElementsAttr::get(type, values))
        .getResult();
  }
  SmallVector<APInt> values;
  for (const APInt &v : dense.getValues<APInt>())
    values.push_back(v.sextOrTrunc(elementType.getIntOrFloatBitWidth()));
  return arith::ConstantOp::create(b, loc, type,
                                   DenseElementsAttr::get(type, values))
      .getResult();
}

/// The element type a scale or offset has inside the body: the expressed
/// type for scales and mins, i64 for zero points.
static Type getBodyParamType(UniformType q, bool isOffset) {
  if (isOffset && q.getOffsetKind() == OffsetKind::zero_point)
    return IntegerType::get(q.getContext(), 64);
  return q.getExpressedType();
}

/// Registers the scale and offset of `q` for data of `rank`: static
/// parameters as constants, dynamic ones (`scale`, `offset`, already
/// converted) as generic inputs.
static LogicalResult collectParams(OpBuilder &b, Location loc, UniformType q,
                                   int64_t rank, Value scale, Value offset,
                                   GenericInputs &inputs, ParamRef &scaleRef,
                                   ParamRef &offsetRef,
                                   AffineMap operandMap = {}) {
  MLIRContext *ctx = b.getContext();
  // Maps from the generic's loops: the parameter map of the operand composed
  // with the operand's own indexing map (identity for element-wise ops).
  auto paramMap = [&]() {
    AffineMap map = getParamMap(q, rank, ctx);
    return operandMap ? map.compose(operandMap) : map;
  };
  if (!q.hasStaticParams()) {
    auto floatElement = [](Value v) {
      return isa<FloatType>(cast<ShapedType>(v.getType()).getElementType());
    };
    if (!scale || !floatElement(scale))
      return failure(); // Quantized (double-quantized) scales: not yet.
    scaleRef.inputIndex = inputs.add(scale, paramMap());
    if (offset) {
      if (q.getOffsetKind() != OffsetKind::zero_point && !floatElement(offset))
        return failure();
      offsetRef.inputIndex = inputs.add(offset, paramMap());
    }
    return success();
  }
  for (auto [table, ref, isOffset] :
       {std::tuple(q.getScales(), &scaleRef, false),
        std::tuple(q.getOffsets(), &offsetRef, true)}) {
    if (!table)
      continue;
    Type element = getBodyParamType(q, isOffset);
    if (auto f = dyn_cast<FloatAttr>(table)) {
      bool lost;
      APFloat v = f.getValue();
      v.convert(cast<FloatType>(element).getFloatSemantics(),
                APFloat::rmNearestTiesToEven, &lost);
      ref->captured = arith::ConstantOp::create(b, loc, element,
                                                b.getFloatAttr(element, v));
    } else if (auto i = dyn_cast<IntegerAttr>(table)) {
      ref->captured = arith::ConstantOp::create(
          b, loc, element, b.getIntegerAttr(element, i.getInt()));
    } else {
      FailureOr<Value> constant = materializeTable(b, loc, table, element);
      if (failed(constant))
        return failure();
      ref->inputIndex = inputs.add(*constant, paramMap());
    }
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Scalar numerics
//===----------------------------------------------------------------------===//

static Value castFloat(OpBuilder &b, Location loc, Value v, FloatType to) {
  auto from = cast<FloatType>(v.getType());
  if (from == to)
    return v;
  if (from.getWidth() < to.getWidth())
    return arith::ExtFOp::create(b, loc, to, v);
  return arith::TruncFOp::create(b, loc, to, v);
}

static Value toI64(OpBuilder &b, Location loc, Value v, bool isSigned) {
  auto type = cast<IntegerType>(v.getType());
  Type i64 = b.getI64Type();
  if (type.getWidth() == 64)
    return v;
  if (isSigned)
    return arith::ExtSIOp::create(b, loc, i64, v);
  return arith::ExtUIOp::create(b, loc, i64, v);
}

static Value floatConst(OpBuilder &b, Location loc, FloatType type, double v) {
  return arith::ConstantOp::create(b, loc, type, b.getFloatAttr(type, v));
}

static Value roundWith(OpBuilder &b, Location loc, Value v, RoundingMode mode) {
  switch (mode) {
  case RoundingMode::half_to_even:
    return math::RoundEvenOp::create(b, loc, v);
  case RoundingMode::half_away_from_zero:
    return math::RoundOp::create(b, loc, v);
  case RoundingMode::toward_zero:
    return math::TruncOp::create(b, loc, v);
  case RoundingMode::floor:
    return math::FloorOp::create(b, loc, v);
  }
  llvm_unreachable("unknown rounding mode");
}

/// The offset as a value of the expressed type (zero points converted).
static Value offsetAsFloat(OpBuilder &b, Location loc, Value offset,
                           FloatType f) {
  if (isa<IntegerType>(offset.getType()))
    return arith::SIToFPOp::create(b, loc, f,
                                   toI64(b, loc, offset, /*isSigned=*/true));
  return castFloat(b, loc, offset, f);
}

/// quantize: clamp(round(x / s) + z, qmin, qmax) as a float of type `f`
/// (before the integer conversion). NaN inputs are treated as 0.
static Value emitQuantizeFloat(OpBuilder &b, Location loc, UniformType q,
                               Value x, Value scale, Value offset,
                               RoundingMode rounding, bool saturate) {
  auto f = cast<FloatType>(x.getType());
  Value isNan = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, x, x);
  x = arith::SelectOp::create(b, loc, isNan, floatConst(b, loc, f, 0.0), x);
  Value s = castFloat(b, loc, scale, f);
  Value num = x;
  OffsetKind kind = q.getOffsetKind();
  if (kind == OffsetKind::add_min)
    num = arith::SubFOp::create(b, loc, x, castFloat(b, loc, offset, f));
  else if (kind == OffsetKind::sub_min)
    num = arith::AddFOp::create(b, loc, x, castFloat(b, loc, offset, f));
  Value r = roundWith(b, loc, arith::DivFOp::create(b, loc, num, s), rounding);
  if (kind == OffsetKind::zero_point)
    r = arith::AddFOp::create(b, loc, r, offsetAsFloat(b, loc, offset, f));
  if (saturate) {
    r = arith::MaximumFOp::create(
        b, loc, r, floatConst(b, loc, f, double(q.getStorageMin())));
    r = arith::MinimumFOp::create(
        b, loc, r, floatConst(b, loc, f, double(q.getStorageMax())));
  }
  return r;
}

/// Converts the rounded, clamped float to the signless storage integer.
static Value floatToStorage(OpBuilder &b, Location loc, UniformType q,
                            Value r) {
  Value wide = arith::FPToSIOp::create(b, loc, b.getI64Type(), r);
  IntegerType storage = getSignlessStorage(q);
  if (storage.getWidth() == 64)
    return wide;
  return arith::TruncIOp::create(b, loc, storage, wide);
}

/// dequantize: s * float(q - z), s * q + m or s * q - m.
static Value emitDequantize(OpBuilder &b, Location loc, UniformType q,
                            Value stored, Value scale, Value offset) {
  FloatType f = q.getExpressedType();
  Value qi = toI64(b, loc, stored, q.getIsSigned());
  OffsetKind kind = q.getOffsetKind();
  if (kind == OffsetKind::zero_point)
    qi = arith::SubIOp::create(b, loc, qi, toI64(b, loc, offset, true));
  Value qf = arith::SIToFPOp::create(b, loc, f, qi);
  Value y = arith::MulFOp::create(b, loc, castFloat(b, loc, scale, f), qf);
  if (kind == OffsetKind::add_min)
    y = arith::AddFOp::create(b, loc, y, castFloat(b, loc, offset, f));
  else if (kind == OffsetKind::sub_min)
    y = arith::SubFOp::create(b, loc, y, castFloat(b, loc, offset, f));
  return y;
}

/// Builds `tensor.empty` shaped like `like` with `elementType`.
static Value emptyLike(OpBuilder &b, Location loc, Value like,
                       Type elementType) {
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, like);
  return tensor::EmptyOp::create(b, loc, sizes, elementType);
}

/// Builds the element-wise generic: `data` first, then the parameter inputs,
/// one output of `resultElement`.
static Value
buildGeneric(OpBuilder &b, Location loc, Value data, GenericInputs &params,
             Type resultElement,
             function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  auto type = cast<RankedTensorType>(data.getType());
  int64_t rank = type.getRank();
  MLIRContext *ctx = b.getContext();
  SmallVector<Value> ins = {data};
  ins.append(params.values);
  SmallVector<AffineMap> maps = {AffineMap::getMultiDimIdentityMap(rank, ctx)};
  maps.append(params.maps);
  maps.push_back(AffineMap::getMultiDimIdentityMap(rank, ctx));
  Value init = emptyLike(b, loc, data, resultElement);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ins, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        // args: data, params..., output. Param refs index into `params`,
        // which start at argument 1.
        Value result = body(nb, nloc, args.drop_front().drop_back());
        linalg::YieldOp::create(nb, nloc, result);
        (void)args;
      });
  return generic.getResult(0);
}

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

namespace {

bool isRankedTensor(Value v) { return isa<RankedTensorType>(v.getType()); }

struct QuantizeLowering : OpConversionPattern<QuantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(QuantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isRankedTensor(op.getInput()))
      return rewriter.notifyMatchFailure(op, "only ranked tensors");
    auto q = cast<UniformType>(
        cast<RankedTensorType>(op.getType()).getElementType());
    Location loc = op.getLoc();
    int64_t rank = cast<RankedTensorType>(op.getInput().getType()).getRank();
    GenericInputs params;
    ParamRef s, o;
    if (failed(collectParams(rewriter, loc, q, rank, adaptor.getScale(),
                             adaptor.getOffset(), params, s, o)))
      return rewriter.notifyMatchFailure(op, "unsupported parameters");
    RoundingMode rounding = op.getRounding();
    bool saturate = op.getSaturate();
    Value data = adaptor.getInput();
    Value result =
        buildGeneric(rewriter, loc, data, params, getSignlessStorage(q),
                     [&](OpBuilder &b, Location l, ValueRange p) {
                       Value x = b.getInsertionBlock()->getArgument(0);
                       Value r = emitQuantizeFloat(b, l, q, x, s.get(p),
                                                   o ? o.get(p) : Value(),
                                                   rounding, saturate);
                       return floatToStorage(b, l, q, r);
                     });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct DequantizeLowering : OpConversionPattern<DequantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(DequantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isRankedTensor(op.getInput()))
      return rewriter.notifyMatchFailure(op, "only ranked tensors");
    auto q = cast<UniformType>(
        cast<RankedTensorType>(op.getInput().getType()).getElementType());
    Location loc = op.getLoc();
    int64_t rank = cast<RankedTensorType>(op.getInput().getType()).getRank();
    GenericInputs params;
    ParamRef s, o;
    if (failed(collectParams(rewriter, loc, q, rank, adaptor.getScale(),
                             adaptor.getOffset(), params, s, o)))
      return rewriter.notifyMatchFailure(op, "unsupported parameters");
    Value result = buildGeneric(
        rewriter, loc, adaptor.getInput(), params, q.getExpressedType(),
        [&](OpBuilder &b, Location l, ValueRange p) {
          Value stored = b.getInsertionBlock()->getArgument(0);
          return emitDequantize(b, l, q, stored, s.get(p),
                                o ? o.get(p) : Value());
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct RequantizeLowering : OpConversionPattern<RequantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RequantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto inType = cast<RankedTensorType>(op.getInput().getType());
    auto in = cast<UniformType>(inType.getElementType());
    auto out = cast<UniformType>(
        cast<RankedTensorType>(op.getType()).getElementType());
    Location loc = op.getLoc();
    GenericInputs params;
    ParamRef si, oi, so, oo;
    if (failed(collectParams(rewriter, loc, in, inType.getRank(),
                             adaptor.getInputScale(), adaptor.getInputOffset(),
                             params, si, oi)) ||
        failed(collectParams(rewriter, loc, out, inType.getRank(),
                             adaptor.getScale(), adaptor.getOffset(), params,
                             so, oo)))
      return rewriter.notifyMatchFailure(op, "unsupported parameters");
    RoundingMode rounding = op.getRounding();
    bool saturate = op.getSaturate();
    Value result = buildGeneric(
        rewriter, loc, adaptor.getInput(), params, getSignlessStorage(out),
        [&](OpBuilder &b, Location l, ValueRange p) {
          Value stored = b.getInsertionBlock()->getArgument(0);
          Value x = emitDequantize(b, l, in, stored, si.get(p),
                                   oi ? oi.get(p) : Value());
          Value r =
              emitQuantizeFloat(b, l, out, x, so.get(p),
                                oo ? oo.get(p) : Value(), rounding, saturate);
          return floatToStorage(b, l, out, r);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct FakeQuantLowering : OpConversionPattern<FakeQuantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(FakeQuantOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op.getType());
    UniformType q = op.getQuantizedType();
    Location loc = op.getLoc();
    GenericInputs params;
    ParamRef s, o;
    if (q.hasStaticParams()) {
      if (failed(collectParams(rewriter, loc, q, type.getRank(), Value(),
                               Value(), params, s, o)))
        return rewriter.notifyMatchFailure(op, "unsupported parameters");
    } else {
      // Learnable parameters are float tensors of the input's type.
      s.inputIndex = params.add(adaptor.getScale(),
                                getParamMap(q, type.getRank(), getContext()));
      if (adaptor.getOffset())
        o.inputIndex = params.add(adaptor.getOffset(),
                                  getParamMap(q, type.getRank(), getContext()));
    }
    RoundingMode rounding = op.getRounding();
    auto f = cast<FloatType>(type.getElementType());
    Value result = buildGeneric(
        rewriter, loc, adaptor.getInput(), params, f,
        [&](OpBuilder &b, Location l, ValueRange p) {
          Value x = b.getInsertionBlock()->getArgument(0);
          Value scale = castFloat(b, l, s.get(p), f);
          Value offset = o ? offsetAsFloat(b, l, o.get(p), f) : Value();
          OffsetKind kind = q.getOffsetKind();
          if (kind == OffsetKind::zero_point) {
            // A learnable zero point is rounded and clamped before use.
            offset = roundWith(b, l, offset, rounding);
            offset = arith::MaximumFOp::create(
                b, l, offset, floatConst(b, l, f, double(q.getStorageMin())));
            offset = arith::MinimumFOp::create(
                b, l, offset, floatConst(b, l, f, double(q.getStorageMax())));
          }
          Value r = emitQuantizeFloat(b, l, q, x, scale, offset, rounding,
                                      /*saturate=*/true);
          if (kind == OffsetKind::zero_point)
            r = arith::SubFOp::create(b, l, r, offset);
          Value y = arith::MulFOp::create(b, l, scale, r);
          if (kind == OffsetKind::add_min)
            y = arith::AddFOp::create(b, l, y, offset);
          else if (kind == OffsetKind::sub_min)
            y = arith::SubFOp::create(b, l, y, offset);
          return y;
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct StorageCastLowering : OpConversionPattern<StorageCastOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(StorageCastOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Type resultType = getTypeConverter()->convertType(op.getType());
    if (adaptor.getInput().getType() != resultType)
      return rewriter.notifyMatchFailure(
          op, "storage cast between signed/unsigned integer types");
    rewriter.replaceOp(op, adaptor.getInput());
    return success();
  }
};

struct ObserveLowering : OpConversionPattern<ObserveOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ObserveOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, adaptor.getInput());
    return success();
  }
};

struct ConstantLowering : OpConversionPattern<ConstantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConstantOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto dense = dyn_cast<DenseElementsAttr>(op.getValue());
    if (op.isPacked() || !dense)
      return rewriter.notifyMatchFailure(op, "packed constants: not yet");
    auto type =
        cast<RankedTensorType>(getTypeConverter()->convertType(op.getType()));
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(
        op, type, dense.bitcast(type.getElementType()));
    return success();
  }
};

/// Extends a storage or zero-point integer to i32 (the accumulator type).
static Value toI32(OpBuilder &b, Location loc, Value v, bool isSigned) {
  auto type = cast<IntegerType>(v.getType());
  Type i32 = b.getI32Type();
  if (type.getWidth() == 32)
    return v;
  if (type.getWidth() > 32)
    return arith::TruncIOp::create(b, loc, i32, v);
  if (isSigned)
    return arith::ExtSIOp::create(b, loc, i32, v);
  return arith::ExtUIOp::create(b, loc, i32, v);
}

/// A zero-filled tensor of `shape`-like sizes for accumulation.
static Value zeroFilled(OpBuilder &b, Location loc,
                        ArrayRef<OpFoldResult> sizes, Type element) {
  Value empty = tensor::EmptyOp::create(b, loc, sizes, element);
  Value zero =
      arith::ConstantOp::create(b, loc, element, b.getZeroAttr(element));
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

/// Lowers quantx.matmul: an int32 (or f32, weight-only) reduction generic
/// followed by an element-wise epilogue generic.
struct MatmulLowering : OpConversionPattern<MatmulOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MatmulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    auto lhsType = cast<RankedTensorType>(op.getLhs().getType());
    auto rhsType = cast<RankedTensorType>(op.getRhs().getType());
    auto resultType = cast<RankedTensorType>(op.getType());
    auto lhsQ = dyn_cast<UniformType>(lhsType.getElementType());
    auto rhsQ = cast<UniformType>(rhsType.getElementType());
    auto resultQ = dyn_cast<UniformType>(resultType.getElementType());
    bool transposed = op.getTransposeRhs();
    int64_t kAxis = transposed ? 1 : 0;
    bool rhsBlockedK =
        rhsQ.isPerBlock() && llvm::is_contained(rhsQ.getAxes(), kAxis);
    if (lhsQ && rhsBlockedK)
      return rewriter.notifyMatchFailure(
          op, "quantized lhs with K-blocked weights: not yet");
    if (lhsQ &&
        (!lhsQ.isSymmetric() && lhsQ.getOffsetKind() != OffsetKind::zero_point))
      return rewriter.notifyMatchFailure(op, "min offsets: not yet");
    if (!rhsQ.isSymmetric() && rhsQ.getOffsetKind() != OffsetKind::zero_point)
      return rewriter.notifyMatchFailure(op, "min offsets: not yet");

    // Loops: batch..., m, n, k.
    int64_t nb = lhsType.getRank() - 2, loops = nb + 3;
    auto dim = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
    SmallVector<AffineExpr> lhsExprs, outExprs;
    for (int64_t i = 0; i < nb; ++i) {
      lhsExprs.push_back(dim(i));
      outExprs.push_back(dim(i));
    }
    AffineExpr m = dim(nb), n = dim(nb + 1), k = dim(nb + 2);
    lhsExprs.append({m, k});
    outExprs.append({m, n});
    AffineMap lhsMap = AffineMap::get(loops, 0, lhsExprs, ctx);
    AffineMap rhsMap =
        AffineMap::get(loops, 0,
                       transposed ? SmallVector<AffineExpr>{n, k}
                                  : SmallVector<AffineExpr>{k, n},
                       ctx);
    AffineMap outMap = AffineMap::get(loops, 0, outExprs, ctx);

    // Result sizes: batch and M from lhs, N from rhs.
    SmallVector<OpFoldResult> sizes;
    SmallVector<OpFoldResult> lhsSizes =
        tensor::getMixedSizes(rewriter, loc, adaptor.getLhs());
    SmallVector<OpFoldResult> rhsSizes =
        tensor::getMixedSizes(rewriter, loc, adaptor.getRhs());
    sizes.append(lhsSizes.begin(), lhsSizes.end() - 1);
    sizes.push_back(rhsSizes[transposed ? 0 : 1]);

    // Reduction generic.
    GenericInputs red;
    red.add(adaptor.getLhs(), lhsMap);
    red.add(adaptor.getRhs(), rhsMap);
    ParamRef ls, lo, rs, ro;
    if (lhsQ &&
        failed(collectParams(rewriter, loc, lhsQ, lhsType.getRank(),
                             adaptor.getLhsScale(), adaptor.getLhsOffset(), red,
                             ls, lo, lhsMap)))
      return rewriter.notifyMatchFailure(op, "unsupported lhs parameters");
    if (failed(collectParams(rewriter, loc, rhsQ, 2, adaptor.getRhsScale(),
                             adaptor.getRhsOffset(), red, rs, ro, rhsMap)))
      return rewriter.notifyMatchFailure(op, "unsupported rhs parameters");
    Type accType =
        lhsQ ? Type(rewriter.getI32Type()) : Type(rhsQ.getExpressedType());
    Value init = zeroFilled(rewriter, loc, sizes, accType);
    SmallVector<AffineMap> maps(red.maps);
    maps.push_back(outMap);
    SmallVector<utils::IteratorType> iters(loops,
                                           utils::IteratorType::parallel);
    iters.back() = utils::IteratorType::reduction;
    Value acc =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{init.getType()}, red.values,
            ValueRange{init}, maps, iters,
            [&](OpBuilder &b, Location l, ValueRange args) {
              ValueRange params = args.drop_front(2).drop_back();
              // ParamRef indices count from the first generic input.
              auto get = [&](const ParamRef &p) {
                return p.captured ? p.captured : args[p.inputIndex];
              };
              Value a = args[0], w = args[1], sum = args.back();
              (void)params;
              Value prod;
              if (lhsQ) {
                Value ai = toI32(b, l, a, lhsQ.getIsSigned());
                if (lo)
                  ai = arith::SubIOp::create(b, l, ai,
                                             toI32(b, l, get(lo), true));
                Value wi = toI32(b, l, w, rhsQ.getIsSigned());
                if (ro)
                  wi = arith::SubIOp::create(b, l, wi,
                                             toI32(b, l, get(ro), true));
                prod = arith::MulIOp::create(b, l, ai, wi);
                linalg::YieldOp::create(
                    b, l, Value(arith::AddIOp::create(b, l, sum, prod)));
                return;
              }
              Value wf = emitDequantize(b, l, rhsQ, w, get(rs),
                                        ro ? get(ro) : Value());
              prod = arith::MulFOp::create(b, l, a, wf);
              linalg::YieldOp::create(
                  b, l, Value(arith::AddFOp::create(b, l, sum, prod)));
            })
            .getResult(0);

    // Epilogue generic over the result's dimensions.
    int64_t outRank = resultType.getRank();
    AffineMap id = AffineMap::getMultiDimIdentityMap(outRank, ctx);
    SmallVector<AffineExpr> lhsEpi, rhsEpi;
    for (int64_t i = 0; i < outRank - 1; ++i)
      lhsEpi.push_back(getAffineDimExpr(i, ctx));
    lhsEpi.push_back(getAffineConstantExpr(0, ctx));
    AffineExpr en = getAffineDimExpr(outRank - 1, ctx);
    AffineExpr zero = getAffineConstantExpr(0, ctx);
    rhsEpi = transposed ? SmallVector<AffineExpr>{en, zero}
                        : SmallVector<AffineExpr>{zero, en};
    GenericInputs epi;
    ParamRef els, elo, ers, ero, rs2, ro2;
    int biasIndex = -1;
    if (Value bias = adaptor.getBias())
      biasIndex = epi.add(
          bias, AffineMap::get(outRank, 0, getAffineDimExpr(outRank - 1, ctx)));
    if (lhsQ) {
      if (failed(collectParams(rewriter, loc, lhsQ, lhsType.getRank(),
                               adaptor.getLhsScale(), adaptor.getLhsOffset(),
                               epi, els, elo,
                               AffineMap::get(outRank, 0, lhsEpi, ctx))) ||
          failed(collectParams(rewriter, loc, rhsQ, 2, adaptor.getRhsScale(),
                               adaptor.getRhsOffset(), epi, ers, ero,
                               AffineMap::get(outRank, 0, rhsEpi, ctx))))
        return rewriter.notifyMatchFailure(op, "unsupported parameters");
    }
    if (resultQ &&
        failed(collectParams(rewriter, loc, resultQ, outRank,
                             adaptor.getResultScale(),
                             adaptor.getResultOffset(), epi, rs2, ro2)))
      return rewriter.notifyMatchFailure(op, "unsupported result parameters");
    Type resultElement =
        getTypeConverter()->convertType(resultType.getElementType());
    bool relu = op.getRelu();
    RoundingMode rounding = op.getRounding();
    FloatType f = rhsQ.getExpressedType();
    Value result = buildGeneric(
        rewriter, loc, acc, epi, resultElement,
        [&](OpBuilder &b, Location l, ValueRange p) {
          auto get = [&](const ParamRef &r) { return r.get(p); };
          Value a = b.getInsertionBlock()->getArgument(0);
          Value bias = biasIndex >= 0 ? p[biasIndex] : Value();
          if (lhsQ && bias && isa<IntegerType>(bias.getType()))
            a = arith::AddIOp::create(b, l, a, bias);
          if (resultElement.isInteger(32) && !resultQ) {
            if (relu)
              a = arith::MaxSIOp::create(
                  b, l, a,
                  arith::ConstantOp::create(b, l, b.getI32Type(),
                                            b.getI32IntegerAttr(0)));
            return a;
          }
          Value y = a;
          if (lhsQ) {
            Value scale =
                arith::MulFOp::create(b, l, castFloat(b, l, get(els), f),
                                      castFloat(b, l, get(ers), f));
            y = arith::MulFOp::create(b, l, arith::SIToFPOp::create(b, l, f, a),
                                      scale);
          }
          if (bias && isa<FloatType>(bias.getType()))
            y = arith::AddFOp::create(b, l, y, castFloat(b, l, bias, f));
          if (relu)
            y = arith::MaximumFOp::create(b, l, y, floatConst(b, l, f, 0.0));
          if (!resultQ)
            return y;
          Value r = emitQuantizeFloat(b, l, resultQ, y, get(rs2),
                                      ro2 ? get(ro2) : Value(), rounding,
                                      /*saturate=*/true);
          return floatToStorage(b, l, resultQ, r);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct ConvertQuantXToLinalgPass
    : public mlir::quantx::impl::ConvertQuantXToLinalgBase<
          ConvertQuantXToLinalgPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    QuantXStorageTypeConverter converter;
    ConversionTarget target(*ctx);
    target.addIllegalDialect<QuantXDialect>();
    target.addLegalDialect<linalg::LinalgDialect, arith::ArithDialect,
                           math::MathDialect, tensor::TensorDialect>();
    target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp op) {
      return converter.isSignatureLegal(op.getFunctionType()) &&
             converter.isLegal(&op.getBody());
    });
    target.addDynamicallyLegalOp<func::ReturnOp, func::CallOp>(
        [&](Operation *op) { return converter.isLegal(op); });
    target.markUnknownOpDynamicallyLegal(
        [&](Operation *op) { return converter.isLegal(op); });

    RewritePatternSet patterns(ctx);
    populateQuantXToLinalgPatterns(converter, patterns);
    populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(patterns,
                                                                   converter);
    populateReturnOpTypeConversionPattern(patterns, converter);
    populateCallOpTypeConversionPattern(patterns, converter);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::quantx::populateQuantXToLinalgPatterns(
    const TypeConverter &converter, RewritePatternSet &patterns) {
  patterns.add<QuantizeLowering, DequantizeLowering, RequantizeLowering,
               FakeQuantLowering, StorageCastLowering, ObserveLowering,
               ConstantLowering, MatmulLowering>(converter,
                                                 patterns.getContext());
}

void mlir::quantx::buildQuantXCPUPipeline(OpPassManager &pm) {
  pm.addPass(createConvertQuantXToLinalg());
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mlir::quantx::registerQuantXPipelines() {
  PassPipelineRegistration<>(
      "quantx-cpu-pipeline",
      "Lower a quantx module to the LLVM dialect for the host CPU "
      "(scalar loops; tiling, vectorization and threading come later)",
      buildQuantXCPUPipeline);
}
