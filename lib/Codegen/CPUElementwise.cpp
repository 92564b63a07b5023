//===- CPUElementwise.cpp - Vector loops for element-wise linalg ops ------===//
//
// The quantx-cpu-vectorize-elementwise pass: bufferized, static-shaped
// linalg.generic ops whose iterators are all parallel (quantize,
// dequantize, requantize, bias, ReLU epilogues) become loops over the
// innermost dimension in steps of 8 lanes, with the body cloned on vectors,
// then a scalar loop for the remainder; whole-buffer min/max reductions
// (dynamic quantization's range) keep a vector of partial results. Every
// lane computes exactly what the scalar loop computes, in the same
// operations, so the results are identical.
//
//===----------------------------------------------------------------------===//

#include "quantx/Codegen/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::quantx {
#define GEN_PASS_DEF_CPUVECTORIZEELEMENTWISE
#include "quantx/Codegen/Passes.h.inc"
} // namespace mlir::quantx

using namespace mlir;
using namespace mlir::quantx;

namespace {

constexpr int64_t kLanes = 8;

/// How an operand is read along the innermost loop dimension.
enum class Access { Contiguous, Uniform };

/// A static, identity-layout memref operand.
static bool isPlainMemref(Value v) {
  auto t = dyn_cast<MemRefType>(v.getType());
  // Whole bytes only: a vector of sub-byte integers is stored packed, a
  // scalar one byte per element.
  return t && t.hasStaticShape() && t.getLayout().isIdentity() &&
         t.getElementType().isIntOrFloat() &&
         t.getElementType().getIntOrFloatBitWidth() % 8 == 0;
}

/// True if `v` (an f32 or f64) is clamped by constants inside the i32 range
/// (`minimumf`/`maximumf` with constant operands), so converting it to i32
/// gives the same value as converting it to a wider integer.
static bool clampedToI32(Value v) {
  bool lo = false, hi = false;
  for (int i = 0; i < 4 && !(lo && hi); ++i) {
    Operation *def = v.getDefiningOp();
    if (!def || !isa<arith::MinimumFOp, arith::MaximumFOp>(def))
      break;
    Value other;
    APFloat c(0.0);
    if (matchPattern(def->getOperand(1), m_ConstantFloat(&c)))
      other = def->getOperand(0);
    else if (matchPattern(def->getOperand(0), m_ConstantFloat(&c)))
      other = def->getOperand(1);
    else
      break;
    double d = c.convertToDouble();
    if (!(d > -2147483648.0 && d < 2147483647.0))
      break;
    if (isa<arith::MinimumFOp>(def))
      hi = true;
    else
      lo = true;
    v = other;
  }
  return lo && hi;
}

/// Vectorizes one all-parallel generic; false (nothing changed) if it does
/// not qualify.
static bool vectorizeParallel(linalg::GenericOp op) {
  unsigned rank = op.getNumLoops();
  if (rank == 0 || !op.hasPureBufferSemantics())
    return false;
  for (utils::IteratorType it : op.getIteratorTypesArray())
    if (it != utils::IteratorType::parallel)
      return false;
  SmallVector<int64_t, 4> ranges = op.getStaticLoopRanges();
  for (int64_t r : ranges)
    if (ShapedType::isDynamic(r))
      return false;
  int64_t inner = ranges.back();
  if (inner < kLanes)
    return false;
  unsigned innerDim = rank - 1;
  Block *body = op.getBody();
  // Operands: contiguous along the inner dimension or uniform along it.
  SmallVector<Access> access;
  for (OpOperand &operand : op->getOpOperands()) {
    Value v = operand.get();
    AffineMap map = op.getMatchingIndexingMap(&operand);
    if (!isa<MemRefType>(v.getType())) {
      if (op.isDpsInit(&operand))
        return false;
      access.push_back(Access::Uniform); // A scalar input.
      continue;
    }
    if (!isPlainMemref(v) || !map.isProjectedPermutation())
      return false;
    bool usesInner = map.isFunctionOfDim(innerDim);
    if (op.isDpsInit(&operand) &&
        (!usesInner ||
         map != AffineMap::getMultiDimIdentityMap(rank, op.getContext())))
      return false;
    if (usesInner) {
      auto last = dyn_cast<AffineDimExpr>(map.getResults().back());
      if (!last || last.getPosition() != innerDim)
        return false;
      access.push_back(Access::Contiguous);
    } else {
      access.push_back(Access::Uniform);
    }
  }
  // Body ops: pure, element-wise, scalar.
  for (Operation &o : body->without_terminator()) {
    if (o.getNumRegions() != 0 || !isPure(&o) ||
        !(o.hasTrait<OpTrait::Elementwise>() || isa<arith::ConstantOp>(&o)))
      return false;
    for (Type t : o.getResultTypes())
      if (!t.isIntOrFloat())
        return false;
  }
  for (BlockArgument arg : body->getArguments())
    if (!arg.getType().isIntOrFloat())
      return false;

  // Varying values: block arguments read contiguously and what uses them.
  llvm::DenseSet<Value> varying;
  for (BlockArgument arg : body->getArguments())
    if (access[arg.getArgNumber()] == Access::Contiguous)
      varying.insert(arg);
  for (Operation &o : body->without_terminator())
    if (llvm::any_of(o.getOperands(),
                     [&](Value v) { return varying.contains(v); }))
      for (Value r : o.getResults())
        varying.insert(r);

  OpBuilder b(op);
  Location loc = op.getLoc();
  auto idx = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  int64_t mainEnd = inner / kLanes * kLanes;
  SmallVector<Value> lbs, ubs, steps;
  for (unsigned d = 0; d + 1 < rank; ++d) {
    lbs.push_back(idx(0));
    ubs.push_back(idx(ranges[d]));
    steps.push_back(idx(1));
  }
  Value zero = idx(0), one = idx(1), lanes = idx(kLanes), mainUb = idx(mainEnd),
        innerUb = idx(inner);
  auto yield = cast<linalg::YieldOp>(body->getTerminator());

  // Indices of an operand at the loop indices `ivs`.
  auto indicesOf = [&](OpBuilder &ob, OpOperand &operand, ValueRange ivs) {
    SmallVector<Value> indices;
    for (AffineExpr e : op.getMatchingIndexingMap(&operand).getResults())
      indices.push_back(ivs[cast<AffineDimExpr>(e).getPosition()]);
    return indices;
  };

  scf::buildLoopNest(
      b, loc, lbs, ubs, steps,
      [&](OpBuilder &ob, Location l, ValueRange outer) {
        // Vector loop.
        scf::ForOp::create(
            ob, l, zero, mainUb, lanes, {},
            [&](OpBuilder &fb, Location l2, Value j, ValueRange) {
              SmallVector<Value> ivs(outer);
              ivs.push_back(j);
              IRMapping map;
              auto vecType = [](Type t) {
                return VectorType::get({kLanes}, t);
              };
              for (OpOperand &operand : op->getOpOperands()) {
                BlockArgument arg = op.getMatchingBlockArgument(&operand);
                if (arg.use_empty())
                  continue;
                Value v = operand.get();
                if (!isa<MemRefType>(v.getType())) {
                  map.map(arg, v);
                  continue;
                }
                SmallVector<Value> indices = indicesOf(fb, operand, ivs);
                if (access[operand.getOperandNumber()] == Access::Contiguous)
                  map.map(arg, vector::LoadOp::create(
                                   fb, l2, vecType(arg.getType()), v, indices));
                else
                  map.map(arg, memref::LoadOp::create(fb, l2, v, indices));
              }
              // A vector operand for a varying op.
              auto asVector = [&](Value scalar) -> Value {
                Value m = map.lookupOrDefault(scalar);
                if (isa<VectorType>(m.getType()))
                  return m;
                return vector::BroadcastOp::create(fb, l2, vecType(m.getType()),
                                                   m);
              };
              for (Operation &o : body->without_terminator()) {
                if (!varying.contains(o.getResult(0))) {
                  fb.clone(o, map); // Uniform: stays scalar.
                  continue;
                }
                if (auto conv = dyn_cast<arith::FPToSIOp>(&o)) {
                  // f -> i64 (no vector form on AVX2) of a value clamped to
                  // the i32 range: convert to i32 and sign-extend, the same
                  // value.
                  auto it = cast<IntegerType>(conv.getType());
                  if (it.getWidth() > 32 && clampedToI32(conv.getIn())) {
                    Value n = arith::FPToSIOp::create(fb, l2,
                                                      vecType(fb.getI32Type()),
                                                      asVector(conv.getIn()));
                    map.map(conv.getResult(),
                            arith::ExtSIOp::create(fb, l2, vecType(it), n));
                    continue;
                  }
                }
                OperationState st(l2, o.getName());
                for (Value v : o.getOperands())
                  st.addOperands(asVector(v));
                for (Type t : o.getResultTypes())
                  st.addTypes(vecType(t));
                st.addAttributes(o.getAttrs());
                Operation *nv = fb.create(st);
                map.map(o.getResults(), nv->getResults());
              }
              for (auto [i, v] : llvm::enumerate(yield.getOperands())) {
                OpOperand *out = op.getDpsInitOperand(i);
                Value r = asVector(v);
                vector::StoreOp::create(fb, l2, r, out->get(),
                                        indicesOf(fb, *out, ivs));
              }
              scf::YieldOp::create(fb, l2);
            });
        if (mainEnd == inner)
          return;
        // Scalar remainder.
        scf::ForOp::create(
            ob, l, mainUb, innerUb, one, {},
            [&](OpBuilder &fb, Location l2, Value j, ValueRange) {
              SmallVector<Value> ivs(outer);
              ivs.push_back(j);
              IRMapping map;
              for (OpOperand &operand : op->getOpOperands()) {
                BlockArgument arg = op.getMatchingBlockArgument(&operand);
                Value v = operand.get();
                if (arg.use_empty())
                  continue;
                if (!isa<MemRefType>(v.getType()))
                  map.map(arg, v);
                else
                  map.map(arg, memref::LoadOp::create(
                                   fb, l2, v, indicesOf(fb, operand, ivs)));
              }
              for (Operation &o : body->without_terminator())
                fb.clone(o, map);
              for (auto [i, v] : llvm::enumerate(yield.getOperands())) {
                OpOperand *out = op.getDpsInitOperand(i);
                memref::StoreOp::create(fb, l2, map.lookupOrDefault(v),
                                        out->get(), indicesOf(fb, *out, ivs));
              }
              scf::YieldOp::create(fb, l2);
            });
      });
  op.erase();
  return true;
}

/// Vectorizes a whole-buffer `minimumf`/`maximumf` reduction into a 0-d
/// output; false if `op` is not one. The order of a min/max does not change
/// its result (NaN propagates, -0 < +0), so partial results per lane are
/// exact.
static bool vectorizeMinMax(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 1 ||
      op.getNumDpsInits() != 1)
    return false;
  for (utils::IteratorType it : op.getIteratorTypesArray())
    if (it != utils::IteratorType::reduction)
      return false;
  OpOperand *in = op.getDpsInputOperand(0), *out = op.getDpsInitOperand(0);
  auto inType = dyn_cast<MemRefType>(in->get().getType());
  auto outType = dyn_cast<MemRefType>(out->get().getType());
  if (!isPlainMemref(in->get()) || !outType || outType.getRank() != 0 ||
      op.getMatchingIndexingMap(in) !=
          AffineMap::getMultiDimIdentityMap(op.getNumLoops(), op.getContext()))
    return false;
  Block *body = op.getBody();
  if (body->getOperations().size() != 2)
    return false;
  Operation *combine = &body->front();
  if (!isa<arith::MinimumFOp, arith::MaximumFOp>(combine) ||
      body->getTerminator()->getOperand(0) != combine->getResult(0))
    return false;
  Value a = combine->getOperand(0), c = combine->getOperand(1);
  if (!((a == body->getArgument(0) && c == body->getArgument(1)) ||
        (a == body->getArgument(1) && c == body->getArgument(0))))
    return false;
  int64_t total = inType.getNumElements();
  if (total < 2 * kLanes)
    return false;
  bool isMin = isa<arith::MinimumFOp>(combine);
  Type elem = inType.getElementType();
  auto vt = VectorType::get({kLanes}, elem);

  OpBuilder b(op);
  Location loc = op.getLoc();
  auto idx = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  // A 1-d view of the (identity-layout, static) input.
  Value flat = in->get();
  if (inType.getRank() != 1) {
    ReassociationIndices all;
    for (int64_t d = 0; d < inType.getRank(); ++d)
      all.push_back(d);
    flat = memref::CollapseShapeOp::create(b, loc, flat,
                                           ArrayRef<ReassociationIndices>{all});
  }
  auto combineOp = [&](OpBuilder &ob, Location l, Value x, Value y) -> Value {
    if (isMin)
      return arith::MinimumFOp::create(ob, l, x, y);
    return arith::MaximumFOp::create(ob, l, x, y);
  };
  Value init = memref::LoadOp::create(b, loc, out->get(), ValueRange{});
  Value acc0 = vector::BroadcastOp::create(b, loc, vt, init);
  int64_t mainEnd = total / kLanes * kLanes;
  auto loop = scf::ForOp::create(
      b, loc, idx(0), idx(mainEnd), idx(kLanes), ValueRange{acc0},
      [&](OpBuilder &fb, Location l, Value j, ValueRange iter) {
        Value v = vector::LoadOp::create(fb, l, vt, flat, ValueRange{j});
        scf::YieldOp::create(fb, l, combineOp(fb, l, iter[0], v));
      });
  Value r = vector::ReductionOp::create(b, loc,
                                        isMin ? vector::CombiningKind::MINIMUMF
                                              : vector::CombiningKind::MAXIMUMF,
                                        loop.getResult(0));
  auto tail = scf::ForOp::create(
      b, loc, idx(mainEnd), idx(total), idx(1), ValueRange{r},
      [&](OpBuilder &fb, Location l, Value j, ValueRange iter) {
        Value v = memref::LoadOp::create(fb, l, flat, ValueRange{j});
        scf::YieldOp::create(fb, l, combineOp(fb, l, iter[0], v));
      });
  memref::StoreOp::create(b, loc, tail.getResult(0), out->get(), ValueRange{});
  op.erase();
  return true;
}

struct CPUVectorizeElementwisePass
    : public quantx::impl::CPUVectorizeElementwiseBase<
          CPUVectorizeElementwisePass> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> ops;
    getOperation().walk([&](linalg::GenericOp op) { ops.push_back(op); });
    for (linalg::GenericOp op : ops)
      if (!vectorizeParallel(op))
        vectorizeMinMax(op);
  }
};

} // namespace
