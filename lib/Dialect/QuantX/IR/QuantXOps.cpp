//===- QuantXOps.cpp - QuantX op verifiers and folders --------------------===//
//
// Verifiers check every operand against the scheme of the quantized types
// involved (parameter operands present exactly when the parameters are
// dynamic, with the parameter shape of the data). Folders only remove work
// that is provably exact: a lossy round trip is never folded.
//
//===----------------------------------------------------------------------===//

#include "quantx/Dialect/QuantX/IR/QuantX.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/APFloat.h"

using namespace mlir;
using namespace mlir::quantx;

//===----------------------------------------------------------------------===//
// Shared checks
//===----------------------------------------------------------------------===//

static std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << '[';
  llvm::interleaveComma(shape, os, [&](int64_t d) {
    if (ShapedType::isDynamic(d))
      os << '?';
    else
      os << d;
  });
  os << ']';
  return s;
}

/// Checks a scale or offset operand: present iff needed, with the expected
/// element type and the parameter shape of `dataType`.
static LogicalResult verifyParamOperand(Operation *op, StringRef role,
                                        StringRef what, Value operand,
                                        bool needed, Type expectedElement,
                                        ArrayRef<int64_t> paramShape) {
  if (!needed) {
    if (operand)
      return op->emitOpError() << "has an unexpected " << role << " " << what
                               << " operand: the parameters are static or "
                               << "the scheme has no " << what;
    return success();
  }
  if (!operand)
    return op->emitOpError() << "is missing the " << role << " " << what
                             << " operand: the parameters are dynamic";
  auto type = cast<RankedTensorType>(operand.getType());
  Type element = type.getElementType();
  bool elementOk = element == expectedElement;
  // Double quantization: the scales may be passed already dequantized.
  if (auto nested = dyn_cast<UniformType>(expectedElement))
    elementOk |= element == nested.getExpressedType();
  if (!elementOk)
    return op->emitOpError()
           << role << " " << what << " must have element type "
           << expectedElement << ", got " << element;
  if (failed(verifyCompatibleShape(type.getShape(), paramShape)))
    return op->emitOpError() << role << " " << what << " has shape "
                             << shapeString(type.getShape())
                             << " but the parameter shape of the data is "
                             << shapeString(paramShape);
  return success();
}

/// Checks the static tables of `qtype` or the dynamic operands against the
/// data shape.
static LogicalResult verifyParams(Operation *op, StringRef role,
                                  UniformType qtype, Type dataType, Value scale,
                                  Value offset) {
  // Scalars have the empty shape; unranked tensors an unknown one, for which
  // only the presence and element types of parameters are checked.
  ArrayRef<int64_t> dataShape;
  auto shaped = dyn_cast<ShapedType>(dataType);
  if (shaped && !shaped.hasRank()) {
    bool dynamic = !qtype.hasStaticParams();
    for (auto [operand, what, needed, element] :
         {std::tuple(scale, "scale", dynamic, qtype.getScaleType()),
          std::tuple(offset, "offset", dynamic && !qtype.isSymmetric(),
                     qtype.getOffsetType())}) {
      if (bool(operand) != needed)
        return op->emitOpError()
               << (needed ? "is missing the " : "has an unexpected ") << role
               << " " << what << " operand";
      if (operand &&
          cast<ShapedType>(operand.getType()).getElementType() != element)
        return op->emitOpError()
               << role << " " << what << " must have element type " << element;
    }
    return success();
  }
  if (shaped)
    dataShape = shaped.getShape();
  FailureOr<SmallVector<int64_t>> paramShape = qtype.getParamShape(dataShape);
  if (failed(paramShape))
    return op->emitOpError()
           << role << " type " << qtype
           << " quantizes an axis out of range for rank " << dataShape.size();
  bool dynamic = !qtype.hasStaticParams();
  if (!dynamic) {
    if (auto table = dyn_cast<ElementsAttr>(qtype.getScales())) {
      ArrayRef<int64_t> tableShape = table.getShapedType().getShape();
      if (failed(verifyCompatibleShape(tableShape, *paramShape)))
        return op->emitOpError() << role << " static scales have shape "
                                 << shapeString(tableShape)
                                 << " but the parameter shape of the data is "
                                 << shapeString(*paramShape);
    }
  }
  if (failed(verifyParamOperand(op, role, "scale", scale, dynamic,
                                qtype.getScaleType(), *paramShape)))
    return failure();
  return verifyParamOperand(op, role, "offset", offset,
                            dynamic && !qtype.isSymmetric(),
                            qtype.getOffsetType(), *paramShape);
}

//===----------------------------------------------------------------------===//
// Exact round trips
//===----------------------------------------------------------------------===//

static APFloat roundToIntegral(APFloat value, RoundingMode mode) {
  switch (mode) {
  case RoundingMode::half_to_even:
    value.roundToIntegral(APFloat::rmNearestTiesToEven);
    break;
  case RoundingMode::half_away_from_zero:
    value.roundToIntegral(APFloat::rmNearestTiesToAway);
    break;
  case RoundingMode::toward_zero:
    value.roundToIntegral(APFloat::rmTowardZero);
    break;
  case RoundingMode::floor:
    value.roundToIntegral(APFloat::rmTowardNegative);
    break;
  }
  return value;
}

/// True when quantize(dequantize(q)) == q for every storage value q of a type
/// with static parameters, evaluated in the expressed type's arithmetic. Only
/// decided for storage of at most 16 bits (an exhaustive check).
static bool isExactRoundTrip(UniformType type, RoundingMode mode) {
  if (!type.hasStaticParams() || type.getStorageWidth() > 16)
    return false;
  const llvm::fltSemantics &sem = type.getExpressedType().getFloatSemantics();
  SmallVector<double> scales, offsets;
  if (auto s = dyn_cast<FloatAttr>(type.getScales())) {
    scales.push_back(s.getValueAsDouble());
  } else if (auto dense = dyn_cast<DenseFPElementsAttr>(type.getScales())) {
    for (APFloat v : dense.getValues<APFloat>())
      scales.push_back(v.convertToDouble());
  } else {
    return false; // e.g. a resource blob: not inspected.
  }
  offsets.assign(scales.size(), 0.0);
  if (Attribute o = type.getOffsets()) {
    if (auto i = dyn_cast<IntegerAttr>(o)) {
      offsets[0] = double(i.getInt());
    } else if (auto f = dyn_cast<FloatAttr>(o)) {
      offsets[0] = f.getValueAsDouble();
    } else if (auto di = dyn_cast<DenseIntElementsAttr>(o)) {
      size_t k = 0;
      for (const APInt &v : di.getValues<APInt>())
        offsets[k++] = double(v.getSExtValue());
    } else if (auto df = dyn_cast<DenseFPElementsAttr>(o)) {
      size_t k = 0;
      for (APFloat v : df.getValues<APFloat>())
        offsets[k++] = v.convertToDouble();
    } else {
      return false;
    }
  }
  OffsetKind kind = type.getOffsetKind();
  auto toSem = [&](double d) {
    bool lost;
    APFloat v(d);
    v.convert(sem, APFloat::rmNearestTiesToEven, &lost);
    return v;
  };
  for (size_t p = 0; p < scales.size(); ++p) {
    APFloat scale = toSem(scales[p]);
    double off = offsets[p];
    for (int64_t q = type.getStorageMin(); q <= type.getStorageMax(); ++q) {
      // Dequantize exactly as the dequantize op specifies.
      APFloat x =
          toSem(double(kind == OffsetKind::zero_point ? q - int64_t(off) : q));
      x.multiply(scale, APFloat::rmNearestTiesToEven);
      APFloat m = toSem(off);
      if (kind == OffsetKind::add_min)
        x.add(m, APFloat::rmNearestTiesToEven);
      else if (kind == OffsetKind::sub_min)
        x.subtract(m, APFloat::rmNearestTiesToEven);
      // Quantize.
      if (kind == OffsetKind::add_min)
        x.subtract(m, APFloat::rmNearestTiesToEven);
      else if (kind == OffsetKind::sub_min)
        x.add(m, APFloat::rmNearestTiesToEven);
      x.divide(scale, APFloat::rmNearestTiesToEven);
      APFloat r = roundToIntegral(x, mode);
      if (!r.isFinite())
        return false;
      double back =
          r.convertToDouble() + (kind == OffsetKind::zero_point ? off : 0.0);
      back = std::min<double>(std::max<double>(back, type.getStorageMin()),
                              type.getStorageMax());
      if (back != double(q))
        return false;
    }
  }
  return true;
}

//===----------------------------------------------------------------------===//
// QuantizeOp / DequantizeOp / RequantizeOp
//===----------------------------------------------------------------------===//

static UniformType getQuantElement(Value v) {
  return cast<UniformType>(getElementTypeOrSelf(v.getType()));
}

/// Scalars match scalars; tensors match tensors of compatible shape.
static bool haveCompatibleShapes(Type a, Type b) {
  auto sa = dyn_cast<ShapedType>(a), sb = dyn_cast<ShapedType>(b);
  if (!sa || !sb)
    return !sa && !sb;
  return succeeded(verifyCompatibleShape(sa, sb));
}

LogicalResult QuantizeOp::verify() {
  Type inputType = getInput().getType(), resultType = getResult().getType();
  UniformType qtype = getQuantElement(getResult());
  if (!haveCompatibleShapes(inputType, resultType))
    return emitOpError("input and result shapes differ");
  if (getElementTypeOrSelf(inputType) != qtype.getExpressedType())
    return emitOpError() << "input element type "
                         << getElementTypeOrSelf(inputType)
                         << " is not the expressed type "
                         << qtype.getExpressedType() << " of the result";
  return verifyParams(*this, "result", qtype, resultType, getScale(),
                      getOffset());
}

OpFoldResult QuantizeOp::fold(FoldAdaptor) {
  // quantize(dequantize(q)) -> q, only when exact for every storage value.
  auto dequant = getInput().getDefiningOp<DequantizeOp>();
  if (!dequant || dequant.getInput().getType() != getType() || getScale() ||
      dequant.getScale())
    return {};
  if (!getSaturate() ||
      !isExactRoundTrip(getQuantElement(getResult()), getRounding()))
    return {};
  return dequant.getInput();
}

LogicalResult DequantizeOp::verify() {
  Type inputType = getInput().getType(), resultType = getResult().getType();
  UniformType qtype = getQuantElement(getInput());
  if (!haveCompatibleShapes(inputType, resultType))
    return emitOpError("input and result shapes differ");
  if (getElementTypeOrSelf(resultType) != qtype.getExpressedType())
    return emitOpError() << "result element type "
                         << getElementTypeOrSelf(resultType)
                         << " is not the expressed type "
                         << qtype.getExpressedType() << " of the input";
  return verifyParams(*this, "input", qtype, inputType, getScale(),
                      getOffset());
}

LogicalResult RequantizeOp::verify() {
  auto inputType = cast<RankedTensorType>(getInput().getType());
  auto resultType = cast<RankedTensorType>(getResult().getType());
  if (failed(
          verifyCompatibleShape(inputType.getShape(), resultType.getShape())))
    return emitOpError("input and result shapes differ");
  UniformType in = getQuantElement(getInput());
  UniformType out = getQuantElement(getResult());
  if (in.getExpressedType() != out.getExpressedType())
    return emitOpError() << "input and result expressed types differ ("
                         << in.getExpressedType() << " vs "
                         << out.getExpressedType() << ")";
  if (failed(verifyParams(*this, "input", in, inputType, getInputScale(),
                          getInputOffset())))
    return failure();
  return verifyParams(*this, "result", out, resultType, getScale(),
                      getOffset());
}

OpFoldResult RequantizeOp::fold(FoldAdaptor) {
  // Same static type on both sides: identity when the round trip is exact.
  if (getInput().getType() != getType() || getScale() || getInputScale() ||
      !getSaturate())
    return {};
  if (!isExactRoundTrip(getQuantElement(getResult()), getRounding()))
    return {};
  return getInput();
}

//===----------------------------------------------------------------------===//
// AddOp
//===----------------------------------------------------------------------===//

LogicalResult AddOp::verify() {
  auto resultType = cast<RankedTensorType>(getResult().getType());
  UniformType out = getQuantElement(getResult());
  for (auto [role, value] : {std::pair("lhs", getLhs()), {"rhs", getRhs()}}) {
    auto type = cast<RankedTensorType>(value.getType());
    if (failed(verifyCompatibleShape(type.getShape(), resultType.getShape())))
      return emitOpError() << role << " shape " << shapeString(type.getShape())
                           << " differs from the result shape "
                           << shapeString(resultType.getShape())
                           << " (no broadcasting)";
    UniformType q = getQuantElement(value);
    if (q.getExpressedType() != out.getExpressedType())
      return emitOpError() << role << " and result expressed types differ ("
                           << q.getExpressedType() << " vs "
                           << out.getExpressedType() << ")";
  }
  for (auto [role, value] : {std::pair("lhs", getLhs()),
                             {"rhs", getRhs()},
                             {"result", getResult()}}) {
    UniformType q = getQuantElement(value);
    if (!q.hasStaticParams())
      return emitOpError() << role << " type " << q
                           << " has dynamic parameters; quantx.add takes "
                              "static ones";
    if (failed(verifyParams(*this, role, q, value.getType(), Value(), Value())))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// StorageCastOp
//===----------------------------------------------------------------------===//

LogicalResult StorageCastOp::verify() {
  Type in = getElementTypeOrSelf(getInput().getType());
  Type out = getElementTypeOrSelf(getResult().getType());
  auto qin = dyn_cast<UniformType>(in);
  auto qout = dyn_cast<UniformType>(out);
  if (bool(qin) == bool(qout))
    return emitOpError("casts between a quantized tensor and its storage "
                       "integer tensor: exactly one side must be quantized");
  if (!haveCompatibleShapes(getInput().getType(), getResult().getType()))
    return emitOpError("input and result shapes differ");
  UniformType q = qin ? qin : qout;
  Type other = qin ? out : in;
  if (other != q.getStorageType())
    return emitOpError() << "storage type of " << q << " is "
                         << q.getStorageType() << ", not " << other;
  return success();
}

OpFoldResult StorageCastOp::fold(FoldAdaptor) {
  if (auto inner = getInput().getDefiningOp<StorageCastOp>())
    if (inner.getInput().getType() == getType())
      return inner.getInput();
  return {};
}

//===----------------------------------------------------------------------===//
// FakeQuantOp
//===----------------------------------------------------------------------===//

LogicalResult FakeQuantOp::verify() {
  auto inputType = cast<RankedTensorType>(getInput().getType());
  UniformType qtype = getQuantizedType();
  if (inputType.getElementType() != qtype.getExpressedType())
    return emitOpError() << "input element type " << inputType.getElementType()
                         << " is not the expressed type "
                         << qtype.getExpressedType() << " of qtype";
  FailureOr<SmallVector<int64_t>> paramShape =
      qtype.getParamShape(inputType.getShape());
  if (failed(paramShape))
    return emitOpError() << "qtype quantizes an axis out of range for rank "
                         << inputType.getRank();
  bool dynamic = !qtype.hasStaticParams();
  // Learnable parameters are float tensors of the input's float type.
  Type floatType = inputType.getElementType();
  if (failed(verifyParamOperand(*this, "learnable", "scale", getScale(),
                                dynamic, floatType, *paramShape)))
    return failure();
  return verifyParamOperand(*this, "learnable", "offset", getOffset(),
                            dynamic && !qtype.isSymmetric(), floatType,
                            *paramShape);
}

//===----------------------------------------------------------------------===//
// ObserveOp
//===----------------------------------------------------------------------===//

LogicalResult ObserveOp::verify() {
  auto type = cast<RankedTensorType>(getInput().getType());
  if (!isa<FloatType>(type.getElementType()))
    return emitOpError() << "observes float tensors, got element type "
                         << type.getElementType();
  if (getName().empty())
    return emitOpError("needs a non-empty name");
  if (std::optional<int64_t> axis = getAxis())
    if (*axis < 0 || *axis >= type.getRank())
      return emitOpError() << "axis " << *axis << " is out of range for rank "
                           << type.getRank();
  if (std::optional<int64_t> bins = getNumBins())
    if (*bins < 2)
      return emitOpError() << "num_bins must be at least 2, got " << *bins;
  if (std::optional<APFloat> pf = getPercentile()) {
    double p = pf->convertToDouble();
    if (!(p > 0.0 && p <= 100.0))
      return emitOpError() << "percentile must be in (0, 100], got " << p;
  }
  if (std::optional<APFloat> mf = getMomentum()) {
    double m = mf->convertToDouble();
    if (!(m > 0.0 && m <= 1.0))
      return emitOpError() << "momentum must be in (0, 1], got " << m;
  }
  ObserverKind kind = getKind();
  if ((kind == ObserverKind::hessian || kind == ObserverKind::mean_abs) &&
      type.getRank() < 1)
    return emitOpError() << "observer '" << stringifyObserverKind(kind)
                         << "' needs a tensor of rank >= 1";
  if ((kind == ObserverKind::hessian || kind == ObserverKind::mean_abs) &&
      getAxis())
    return emitOpError() << "observer '" << stringifyObserverKind(kind)
                         << "' always works on the last axis; remove 'axis'";
  if (getPercentile() && kind != ObserverKind::percentile)
    return emitOpError("'percentile' is only meaningful for the percentile "
                       "observer");
  if (getMomentum() && kind != ObserverKind::moving_average_min_max)
    return emitOpError("'momentum' is only meaningful for the "
                       "moving_average_min_max observer");
  return success();
}

//===----------------------------------------------------------------------===//
// MatmulOp / Conv2DOp
//===----------------------------------------------------------------------===//

/// Checks the accumulation-related constraints shared by matmul and conv2d.
static LogicalResult verifyFloatActivation(Operation *op, StringRef name,
                                           RankedTensorType type, Value scale,
                                           Value offset, UniformType weight,
                                           StringRef weightName) {
  if (scale || offset)
    return op->emitOpError()
           << "a float " << name << " takes no quantization parameters";
  if (type.getElementType() != weight.getExpressedType())
    return op->emitOpError()
           << "float " << name << " element type " << type.getElementType()
           << " must be the expressed type of " << weightName;
  return success();
}

static LogicalResult verifyEpilogue(Operation *op, Value lhs, Value bias,
                                    RankedTensorType resultType,
                                    int64_t numOutputChannels, bool rhsBlocked,
                                    Value resultScale, Value resultOffset) {
  if (auto outQ = dyn_cast<UniformType>(resultType.getElementType())) {
    if (failed(verifyParams(op, "result", outQ, resultType, resultScale,
                            resultOffset)))
      return failure();
  } else if (resultScale || resultOffset) {
    return op->emitOpError("a non-quantized result takes no quantization "
                           "parameters");
  }
  bool lhsQuantized = isa<UniformType>(getElementTypeOrSelf(lhs.getType()));
  Type resultElement = resultType.getElementType();
  if (!lhsQuantized) {
    if (!isa<FloatType>(resultElement))
      return op->emitOpError("with a float input (weight-only), the result "
                             "must be float");
  }
  if (resultElement.isInteger()) {
    if (!resultElement.isSignlessInteger(32))
      return op->emitOpError()
             << "raw accumulator result must be i32, got " << resultElement;
    if (rhsBlocked)
      return op->emitOpError("an i32 accumulator result is not defined for "
                             "weights with blocks along the reduction axis");
  }
  if (bias) {
    auto biasType = cast<RankedTensorType>(bias.getType());
    if (biasType.getRank() != 1 ||
        failed(verifyCompatibleShape(biasType.getShape(), {numOutputChannels})))
      return op->emitOpError() << "bias must have shape [" << numOutputChannels
                               << "], got " << shapeString(biasType.getShape());
    if (biasType.getElementType().isInteger() && !lhsQuantized)
      return op->emitOpError("an i32 bias needs a quantized input");
    if (biasType.getElementType().isInteger() && rhsBlocked)
      return op->emitOpError("an i32 bias is not defined for weights with "
                             "blocks along the reduction axis");
  }
  return success();
}

LogicalResult MatmulOp::verify() {
  auto lhsType = cast<RankedTensorType>(getLhs().getType());
  auto rhsType = cast<RankedTensorType>(getRhs().getType());
  auto resultType = cast<RankedTensorType>(getResult().getType());
  if (lhsType.getRank() < 2)
    return emitOpError() << "lhs must have rank >= 2, got "
                         << lhsType.getRank();
  if (rhsType.getRank() != 2)
    return emitOpError() << "rhs must have rank 2, got " << rhsType.getRank();
  bool transposed = getTransposeRhs();
  int64_t kAxis = transposed ? 1 : 0, nAxis = transposed ? 0 : 1;
  int64_t k = lhsType.getShape().back();
  int64_t m = lhsType.getShape()[lhsType.getRank() - 2];
  int64_t n = rhsType.getShape()[nAxis];
  if (failed(verifyCompatibleShape({k}, {rhsType.getShape()[kAxis]})))
    return emitOpError() << "reduction sizes differ: lhs has K = " << k
                         << ", rhs has " << rhsType.getShape()[kAxis];
  SmallVector<int64_t> expected(lhsType.getShape().drop_back(2));
  expected.push_back(m);
  expected.push_back(n);
  if (failed(verifyCompatibleShape(resultType.getShape(), expected)))
    return emitOpError() << "result shape "
                         << shapeString(resultType.getShape())
                         << " does not match " << shapeString(expected);

  UniformType rhsQ = getQuantElement(getRhs());
  bool rhsBlocked = false;
  if (rhsQ.isPerAxis() && rhsQ.getAxes()[0] != nAxis)
    return emitOpError() << "per-axis rhs must be quantized along its output "
                         << "axis " << nAxis;
  if (rhsQ.isPerBlock()) {
    for (auto [axis, block] : llvm::zip(rhsQ.getAxes(), rhsQ.getBlockSizes())) {
      if (axis == kAxis)
        rhsBlocked = true;
      else if (axis == nAxis && block != 1)
        return emitOpError("rhs blocks along the output axis must have size 1");
    }
  }
  if (failed(verifyParams(*this, "rhs", rhsQ, rhsType, getRhsScale(),
                          getRhsOffset())))
    return failure();

  if (auto lhsQ = dyn_cast<UniformType>(lhsType.getElementType())) {
    if (lhsQ.isPerBlock())
      return emitOpError("a quantized lhs must be per tensor or per row");
    if (lhsQ.isPerAxis() && lhsQ.getAxes()[0] != lhsType.getRank() - 2)
      return emitOpError() << "per-axis lhs must be quantized along its row "
                           << "axis " << lhsType.getRank() - 2;
    if (failed(verifyParams(*this, "lhs", lhsQ, lhsType, getLhsScale(),
                            getLhsOffset())))
      return failure();
  } else if (failed(verifyFloatActivation(*this, "lhs", lhsType, getLhsScale(),
                                          getLhsOffset(), rhsQ, "rhs"))) {
    return failure();
  }
  return verifyEpilogue(*this, getLhs(), getBias(), resultType, n, rhsBlocked,
                        getResultScale(), getResultOffset());
}

LogicalResult Conv2DOp::verify() {
  auto inType = cast<RankedTensorType>(getInput().getType());
  auto fType = cast<RankedTensorType>(getFilter().getType());
  auto resultType = cast<RankedTensorType>(getResult().getType());
  if (inType.getRank() != 4 || fType.getRank() != 4 ||
      resultType.getRank() != 4)
    return emitOpError("input, filter and result must have rank 4 "
                       "(NCHW, FCHW, NFHW)");
  ArrayRef<int64_t> strides = getStrides(), padding = getPadding(),
                    dilations = getDilations();
  if (strides.size() != 2 ||
      llvm::any_of(strides, [](int64_t s) { return s < 1; }))
    return emitOpError("strides must be two positive integers");
  if (dilations.size() != 2 ||
      llvm::any_of(dilations, [](int64_t s) { return s < 1; }))
    return emitOpError("dilations must be two positive integers");
  if (padding.size() != 4 ||
      llvm::any_of(padding, [](int64_t s) { return s < 0; }))
    return emitOpError("padding must be four non-negative integers "
                       "(top, bottom, left, right)");
  int64_t groups = getGroups();
  if (groups < 1)
    return emitOpError() << "groups must be positive, got " << groups;
  ArrayRef<int64_t> in = inType.getShape(), f = fType.getShape();
  if (!ShapedType::isDynamic(in[1]) && in[1] % groups != 0)
    return emitOpError() << "input channels " << in[1]
                         << " are not divisible by groups " << groups;
  if (!ShapedType::isDynamic(f[0]) && f[0] % groups != 0)
    return emitOpError() << "filter count " << f[0]
                         << " is not divisible by groups " << groups;
  if (!ShapedType::isDynamic(in[1]) && !ShapedType::isDynamic(f[1]) &&
      in[1] / groups != f[1])
    return emitOpError() << "filter has " << f[1]
                         << " input channels, expected " << in[1] / groups;
  SmallVector<int64_t> expected = {in[0], f[0], ShapedType::kDynamic,
                                   ShapedType::kDynamic};
  for (int i = 0; i < 2; ++i) {
    int64_t size = in[2 + i], k = f[2 + i];
    if (ShapedType::isDynamic(size) || ShapedType::isDynamic(k))
      continue;
    int64_t span =
        size + padding[2 * i] + padding[2 * i + 1] - dilations[i] * (k - 1) - 1;
    if (span < 0)
      return emitOpError("the dilated filter is larger than the padded input");
    expected[2 + i] = span / strides[i] + 1;
  }
  if (failed(verifyCompatibleShape(resultType.getShape(), expected)))
    return emitOpError() << "result shape "
                         << shapeString(resultType.getShape())
                         << " does not match " << shapeString(expected);

  UniformType fQ = getQuantElement(getFilter());
  if (fQ.isPerBlock()) {
    // Weight-only grouping: blocks of whole input channels of one filter,
    // i.e. consecutive elements of the filter's flattened C * KH * KW.
    ArrayRef<int64_t> axes = fQ.getAxes(), blocks = fQ.getBlockSizes();
    bool wholeChannels = true;
    for (auto [axis, size] : llvm::zip(axes, blocks))
      if ((axis == 0 && size != 1) ||
          (axis >= 2 && (ShapedType::isDynamic(f[axis]) || size < f[axis])))
        wholeChannels = false;
    if (isa<UniformType>(inType.getElementType()))
      return emitOpError("a filter quantized in blocks needs a float input "
                         "(weight-only); with a quantized input it must be "
                         "quantized per tensor or per output channel");
    if (!wholeChannels || !llvm::is_contained(axes, 0))
      return emitOpError("a filter quantized in blocks must have blocks of "
                         "one output channel and whole input channels "
                         "(blocks = {0 : 1, 1 : B})");
  }
  if (fQ.isPerAxis() && fQ.getAxes()[0] != 0)
    return emitOpError("per-axis filter must be quantized along axis 0");
  if (failed(verifyParams(*this, "filter", fQ, fType, getFilterScale(),
                          getFilterOffset())))
    return failure();
  if (auto inQ = dyn_cast<UniformType>(inType.getElementType())) {
    if (!inQ.isPerTensor())
      return emitOpError("a quantized input must be quantized per tensor");
    if (failed(verifyParams(*this, "input", inQ, inType, getInputScale(),
                            getInputOffset())))
      return failure();
  } else if (failed(verifyFloatActivation(*this, "input", inType,
                                          getInputScale(), getInputOffset(), fQ,
                                          "the filter"))) {
    return failure();
  }
  return verifyEpilogue(*this, getInput(), getBias(), resultType, f[0],
                        /*rhsBlocked=*/false, getResultScale(),
                        getResultOffset());
}

//===----------------------------------------------------------------------===//
// ConstantOp
//===----------------------------------------------------------------------===//

bool ConstantOp::isPacked() {
  auto resultType = cast<RankedTensorType>(getResult().getType());
  UniformType q = getQuantElement(getResult());
  ShapedType valueType = getValue().getShapedType();
  return !(valueType.getElementType() == q.getStorageType() &&
           valueType.getShape() == resultType.getShape());
}

LogicalResult ConstantOp::verify() {
  auto resultType = cast<RankedTensorType>(getResult().getType());
  if (!resultType.hasStaticShape())
    return emitOpError("result must have a static shape");
  UniformType q = getQuantElement(getResult());
  ShapedType valueType = getValue().getShapedType();
  if (!q.hasStaticParams())
    return emitOpError("a constant needs static quantization parameters; "
                       "for dynamic ones build it with quantx.scast from an "
                       "integer constant");
  if (!isPacked()) {
    if (auto dense = dyn_cast<DenseIntElementsAttr>(getValue())) {
      for (const APInt &v : dense.getValues<APInt>()) {
        int64_t x =
            q.getIsSigned() ? v.getSExtValue() : int64_t(v.getZExtValue());
        if (x < q.getStorageMin() || x > q.getStorageMax())
          return emitOpError() << "value " << x << " is outside the storage "
                               << "range [" << q.getStorageMin() << ", "
                               << q.getStorageMax() << "]";
      }
    }
    return success();
  }
  if (valueType.getRank() != 1 || !valueType.getElementType().isInteger(8))
    return emitOpError() << "value must be an elements attribute of "
                         << q.getStorageType() << " with the result's shape, "
                         << "or a 1-D i8 attribute of packed bytes; got "
                         << valueType;
  int64_t numBits = resultType.getNumElements() * q.getStorageWidth();
  int64_t numBytes = (numBits + 7) / 8;
  if (valueType.getNumElements() != numBytes)
    return emitOpError() << "packed value has " << valueType.getNumElements()
                         << " bytes, but " << resultType.getNumElements()
                         << " values of " << q.getStorageWidth()
                         << " bits need " << numBytes;
  return success();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

#define GET_OP_CLASSES
#include "quantx/Dialect/QuantX/IR/QuantXOps.cpp.inc"
