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
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::quantx {
#define GEN_PASS_DEF_CPUVECTORIZEELEMENTWISE
#include "quantx/Codegen/Passes.h.inc"
} // namespace mlir::quantx

using namespace mlir;
using namespace mlir::quantx;

namespace {

constexpr int64_t kLanes = 8;

/// A whole-byte, static memref with static strides: its elements are
/// addressed by one linear offset from the aligned pointer.
static bool isPlainMemref(Value v) {
  auto t = dyn_cast<MemRefType>(v.getType());
  // Whole bytes only: a vector of sub-byte integers is stored packed, a
  // scalar one byte per element.
  if (!t || !t.hasStaticShape() || !t.getElementType().isIntOrFloat() ||
      t.getElementType().getIntOrFloatBitWidth() % 8 != 0)
    return false;
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(t.getStridesAndOffset(strides, offset)))
    return false;
  return !ShapedType::isDynamic(offset) &&
         llvm::none_of(strides, ShapedType::isDynamic);
}

/// True if `v` (an f32 or f64) is clamped by constants inside the i32 range
/// (`minimumf`/`maximumf`, or `minnumf`/`maxnumf`, with constant operands),
/// so converting it to i32 gives the same value as converting it to a
/// wider integer.
static bool clampedToI32(Value v) {
  bool lo = false, hi = false;
  for (int i = 0; i < 4 && !(lo && hi); ++i) {
    Operation *def = v.getDefiningOp();
    if (!def || !isa<arith::MinimumFOp, arith::MaximumFOp, arith::MinNumFOp,
                     arith::MaxNumFOp>(def))
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
    if (isa<arith::MinimumFOp, arith::MinNumFOp>(def))
      hi = true;
    else
      lo = true;
    v = other;
  }
  return lo && hi;
}

/// Adds `scale` times the linear affine expression `e` to `coef` (one
/// coefficient per loop dimension) and `constant`; false if `e` is not a
/// linear combination of dimensions and constants.
static bool linearize(AffineExpr e, int64_t scale, SmallVectorImpl<int64_t> &coef,
                      int64_t &constant) {
  if (auto d = dyn_cast<AffineDimExpr>(e)) {
    coef[d.getPosition()] += scale;
    return true;
  }
  if (auto c = dyn_cast<AffineConstantExpr>(e)) {
    constant += scale * c.getValue();
    return true;
  }
  auto bin = dyn_cast<AffineBinaryOpExpr>(e);
  if (!bin)
    return false;
  if (e.getKind() == AffineExprKind::Add)
    return linearize(bin.getLHS(), scale, coef, constant) &&
           linearize(bin.getRHS(), scale, coef, constant);
  if (e.getKind() == AffineExprKind::Mul) {
    if (auto c = dyn_cast<AffineConstantExpr>(bin.getRHS()))
      return linearize(bin.getLHS(), scale * c.getValue(), coef, constant);
    if (auto c = dyn_cast<AffineConstantExpr>(bin.getLHS()))
      return linearize(bin.getRHS(), scale * c.getValue(), coef, constant);
  }
  return false;
}

/// Where a memref operand's element for a loop point lies: at
/// `offset + sum_d coef[d] * i_d` elements from the aligned pointer.
struct LinearAccess {
  int64_t offset = 0;
  SmallVector<int64_t> coef;
  /// Elements addressable from the aligned pointer (the last one + 1).
  int64_t span = 0;
};

static std::optional<LinearAccess> linearAccess(Value v, AffineMap map) {
  auto t = cast<MemRefType>(v.getType());
  SmallVector<int64_t> strides;
  int64_t layoutOffset;
  if (failed(t.getStridesAndOffset(strides, layoutOffset)))
    return std::nullopt;
  LinearAccess a;
  a.coef.assign(map.getNumDims(), 0);
  a.offset = layoutOffset;
  a.span = layoutOffset + 1;
  for (auto [r, e] : llvm::enumerate(map.getResults())) {
    if (strides[r] < 0 || !linearize(e, strides[r], a.coef, a.offset))
      return std::nullopt;
    a.span += (t.getShape()[r] - 1) * strides[r];
  }
  if (t.getNumElements() == 0)
    return std::nullopt;
  return a;
}

/// How an operand is read along the innermost (vector) loop dimension.
enum class Access { Scalar, Uniform, Contiguous, Strided };

/// One operand of a generic being vectorized.
struct Operand {
  Access access = Access::Scalar;
  LinearAccess linear;
  /// Element step along the vector dimension (1: contiguous).
  int64_t step = 0;
  /// The operand as a 1-d memref from the aligned pointer.
  Value flat;
};

/// The largest element width (bits) among the body's values, 64-bit
/// integers left aside (their vector form is avoided, see below).
static unsigned widestElement(Block *body) {
  unsigned bits = 8;
  auto note = [&](Type t) {
    if (t.isIntOrFloat() && !t.isInteger(64))
      bits = std::max(bits, t.getIntOrFloatBitWidth());
  };
  for (BlockArgument a : body->getArguments())
    note(a.getType());
  for (Operation &o : body->without_terminator())
    for (Type t : o.getResultTypes())
      note(t);
  return bits;
}

/// Vectorizes one generic whose iterators are `np` parallel dimensions
/// followed by `nr` reduction dimensions (a pooling window, say, or none),
/// with static shapes, linear affine maps and a body of pure element-wise
/// scalar ops. False (nothing changed) if it does not qualify.
class LinearVectorizer {
public:
  LinearVectorizer(linalg::GenericOp op, bool parallel, int64_t minParallel)
      : op(op), parallel(parallel), minParallel(minParallel) {}

  bool run();

private:
  bool analyze();
  Value linearIndex(OpBuilder &b, Location loc, unsigned operand,
                    ValueRange outer, Value inner,
                    ArrayRef<int64_t> window) const;
  /// Emits the points [lo, lo + width) of the vector dimension (width 1:
  /// one scalar point).
  void emitPoints(OpBuilder &b, Location loc, ValueRange outer, Value j,
                  int64_t width);
  /// Emits [lo, hi) of the vector dimension: vector loops of `lanes`, then
  /// halves of it down to 4, then scalars.
  void emitRange(OpBuilder &b, Location loc, ValueRange outer, Value lo,
                 Value hi);
  /// Emits the whole vector dimension as full vectors, the last one
  /// overlapping the one before when the extent is not a multiple of the
  /// lanes (for ops whose points may be computed twice).
  void emitOverlapping(OpBuilder &b, Location loc, ValueRange outer);
  /// Whether computing a point twice is harmless: no window, no output
  /// read, no strided read (which needs its bounds check).
  bool mayOverlap();

  linalg::GenericOp op;
  bool parallel;
  int64_t minParallel;
  unsigned np = 0, nr = 0;
  /// Loops after merging: outer parallel dims, then one vector dim.
  SmallVector<int64_t> outerExtent;
  SmallVector<unsigned> outerDims;
  int64_t vecExtent = 1;
  /// The original dimension whose coefficient is the vector step.
  unsigned vecDim = 0;
  SmallVector<int64_t> windowExtent;
  SmallVector<Operand> operands;
  llvm::DenseSet<Value> varying;
  int64_t lanes = kLanes;
};

bool LinearVectorizer::analyze() {
  unsigned rank = op.getNumLoops();
  if (rank == 0 || !op.hasPureBufferSemantics() || op.getNumDpsInits() == 0)
    return false;
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  while (np < rank && iters[np] == utils::IteratorType::parallel)
    ++np;
  nr = rank - np;
  if (np == 0)
    return false;
  for (unsigned d = np; d < rank; ++d)
    if (iters[d] != utils::IteratorType::reduction)
      return false;
  SmallVector<int64_t, 4> ranges = op.getStaticLoopRanges();
  if (llvm::any_of(ranges, ShapedType::isDynamic))
    return false;
  int64_t windowPoints = 1;
  for (unsigned d = np; d < rank; ++d) {
    windowExtent.push_back(ranges[d]);
    windowPoints *= ranges[d];
  }
  if (windowPoints > 64 || windowPoints == 0)
    return false;

  Block *body = op.getBody();
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

  // Linear accesses; outputs: identity over the parallel dims.
  MLIRContext *ctx = op.getContext();
  for (OpOperand &operand : op->getOpOperands()) {
    Operand o;
    Value v = operand.get();
    if (!isa<MemRefType>(v.getType())) {
      if (op.isDpsInit(&operand))
        return false;
      operands.push_back(o); // A scalar input.
      continue;
    }
    AffineMap map = op.getMatchingIndexingMap(&operand);
    if (!isPlainMemref(v))
      return false;
    if (op.isDpsInit(&operand)) {
      AffineMap expected = AffineMap::getMultiDimIdentityMap(np, ctx);
      if (map.getNumResults() != np ||
          map != AffineMap::get(rank, 0, expected.getResults(), ctx))
        return false;
    }
    std::optional<LinearAccess> linear = linearAccess(v, map);
    if (!linear)
      return false;
    o.linear = std::move(*linear);
    operands.push_back(std::move(o));
  }

  // Merge trailing parallel dims that every operand walks row-major.
  unsigned first = np - 1;
  while (first > 0) {
    bool ok = true;
    for (Operand &o : operands)
      if (!o.linear.coef.empty() &&
          o.linear.coef[first - 1] != o.linear.coef[first] * ranges[first])
        ok = false;
    if (!ok)
      break;
    --first;
  }
  vecDim = np - 1;
  for (unsigned d = first; d < np; ++d)
    vecExtent *= ranges[d];
  for (unsigned d = 0; d < first; ++d) {
    outerDims.push_back(d);
    outerExtent.push_back(ranges[d]);
  }

  // Access kinds along the vector dimension.
  for (auto [i, o] : llvm::enumerate(operands)) {
    if (o.linear.coef.empty())
      continue;
    o.step = o.linear.coef[vecDim];
    bool init = op.isDpsInit(&op->getOpOperand(i));
    if (o.step == 0)
      o.access = Access::Uniform;
    else if (o.step == 1)
      o.access = Access::Contiguous;
    else if (o.step > 1 && o.step <= 4 && !init)
      o.access = Access::Strided;
    else
      return false;
    if (init && o.access != Access::Contiguous)
      return false;
    for (unsigned d = np; d < rank; ++d)
      if (o.linear.coef[d] < 0)
        return false;
  }

  // Values that vary along the vector dimension.
  for (BlockArgument arg : body->getArguments()) {
    Access a = operands[arg.getArgNumber()].access;
    if (a == Access::Contiguous || a == Access::Strided)
      varying.insert(arg);
  }
  for (Operation &o : body->without_terminator())
    if (llvm::any_of(o.getOperands(),
                     [&](Value v) { return varying.contains(v); }))
      for (Value r : o.getResults())
        varying.insert(r);

  // 256-bit vectors of the widest element (i8 data: 32 lanes), fewer for
  // short rows.
  lanes = std::min<int64_t>(32, 256 / widestElement(body));
  while (lanes > 4 && lanes > vecExtent)
    lanes /= 2;
  return vecExtent >= lanes;
}

Value LinearVectorizer::linearIndex(OpBuilder &b, Location loc,
                                    unsigned operand, ValueRange outer,
                                    Value inner,
                                    ArrayRef<int64_t> window) const {
  const LinearAccess &a = operands[operand].linear;
  int64_t constant = a.offset;
  for (auto [k, w] : llvm::enumerate(window))
    constant += a.coef[np + k] * w;
  Value idx = arith::ConstantIndexOp::create(b, loc, constant);
  auto addTerm = [&](Value iv, int64_t c) {
    if (c == 0)
      return;
    Value t = c == 1 ? iv
                     : Value(arith::MulIOp::create(
                           b, loc, iv, arith::ConstantIndexOp::create(b, loc, c)));
    idx = arith::AddIOp::create(b, loc, idx, t);
  };
  for (auto [k, d] : llvm::enumerate(outerDims))
    addTerm(outer[k], a.coef[d]);
  addTerm(inner, a.coef[vecDim]);
  return idx;
}

void LinearVectorizer::emitPoints(OpBuilder &b, Location loc, ValueRange outer,
                                  Value j, int64_t width) {
  Block *body = op.getBody();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  bool vec = width > 1;
  auto vecType = [&](Type t) -> Type {
    return vec ? Type(VectorType::get({width}, t)) : t;
  };
  auto loadOperand = [&](unsigned i, ArrayRef<int64_t> window) -> Value {
    BlockArgument arg = body->getArgument(i);
    Operand &o = operands[i];
    Value v = op->getOperand(i);
    if (o.access == Access::Scalar)
      return v;
    Value idx = linearIndex(b, loc, i, outer, j, window);
    if (!vec || o.access == Access::Uniform)
      return memref::LoadOp::create(b, loc, o.flat, idx);
    if (o.access == Access::Contiguous)
      return vector::LoadOp::create(b, loc, vecType(arg.getType()), o.flat,
                                    idx);
    // Strided: `width * step` contiguous elements, every step-th kept.
    Value wide = vector::LoadOp::create(
        b, loc, VectorType::get({width * o.step}, arg.getType()), o.flat, idx);
    SmallVector<int64_t> mask;
    for (int64_t l = 0; l < width; ++l)
      mask.push_back(l * o.step);
    return vector::ShuffleOp::create(b, loc, wide, wide, mask);
  };

  // Accumulators: the outputs' current values.
  unsigned numIns = op.getNumDpsInputs();
  SmallVector<Value> acc;
  for (unsigned i = 0; i < op.getNumDpsInits(); ++i) {
    BlockArgument arg = body->getArgument(numIns + i);
    acc.push_back(arg.use_empty() && nr == 0
                      ? Value()
                      : loadOperand(numIns + i, {}));
  }

  // The window points in the scalar loops' order (last dimension fastest).
  SmallVector<int64_t> window(nr, 0);
  while (true) {
    IRMapping map;
    for (unsigned i = 0; i < numIns; ++i)
      if (!body->getArgument(i).use_empty())
        map.map(body->getArgument(i), loadOperand(i, window));
    for (unsigned i = 0; i < acc.size(); ++i)
      if (acc[i])
        map.map(body->getArgument(numIns + i), acc[i]);
    auto asVector = [&](Value scalar) -> Value {
      Value m = map.lookupOrDefault(scalar);
      if (!vec || isa<VectorType>(m.getType()))
        return m;
      return vector::BroadcastOp::create(b, loc, vecType(m.getType()), m);
    };
    for (Operation &o : body->without_terminator()) {
      if (!vec || !varying.contains(o.getResult(0))) {
        b.clone(o, map); // Scalar, or uniform: stays scalar.
        continue;
      }
      if (auto conv = dyn_cast<arith::FPToSIOp>(&o)) {
        // f -> i64 (no vector form on AVX2) of a value clamped to the i32
        // range: convert to i32 and sign-extend, the same value.
        auto it = cast<IntegerType>(conv.getType());
        if (it.getWidth() > 32 && clampedToI32(conv.getIn())) {
          Value n = arith::FPToSIOp::create(b, loc, vecType(b.getI32Type()),
                                            asVector(conv.getIn()));
          map.map(conv.getResult(),
                  arith::ExtSIOp::create(b, loc, vecType(it), n));
          continue;
        }
      }
      OperationState st(loc, o.getName());
      for (Value v : o.getOperands())
        st.addOperands(asVector(v));
      for (Type t : o.getResultTypes())
        st.addTypes(vecType(t));
      st.addAttributes(o.getAttrs());
      Operation *nv = b.create(st);
      map.map(o.getResults(), nv->getResults());
    }
    for (auto [i, v] : llvm::enumerate(yield.getOperands()))
      acc[i] = asVector(v);
    // Next window point.
    int64_t k = nr;
    while (k > 0 && ++window[k - 1] == windowExtent[k - 1])
      window[--k] = 0;
    if (k == 0)
      break;
  }
  for (auto [i, v] : llvm::enumerate(acc)) {
    Value idx = linearIndex(b, loc, numIns + i, outer, j, {});
    if (vec)
      vector::StoreOp::create(b, loc, v, operands[numIns + i].flat, idx);
    else
      memref::StoreOp::create(b, loc, v, operands[numIns + i].flat, idx);
  }
}

/// The buffer `v` is a view of (through view-like ops).
static Value rootBuffer(Value v) {
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}

bool LinearVectorizer::mayOverlap() {
  if (nr != 0 || vecExtent % lanes == 0)
    return false;
  Block *body = op.getBody();
  for (unsigned i = 0; i < op.getNumDpsInits(); ++i)
    if (!body->getArgument(op.getNumDpsInputs() + i).use_empty())
      return false;
  if (llvm::any_of(operands,
                   [](const Operand &o) { return o.access == Access::Strided; }))
    return false;
  // A point computed twice must read the inputs it read the first time: no
  // output may be (a view of) an input's buffer, as when bufferization
  // writes an element-wise result in place. Outputs must be buffers of
  // their own (allocations), not arguments a caller might alias.
  for (OpOperand &init : op.getDpsInitsMutable()) {
    Value root = rootBuffer(init.get());
    if (!root.getDefiningOp<memref::AllocOp>())
      return false;
    for (OpOperand *in : op.getDpsInputOperands())
      if (isa<MemRefType>(in->get().getType()) &&
          rootBuffer(in->get()) == root)
        return false;
  }
  return true;
}

void LinearVectorizer::emitOverlapping(OpBuilder &b, Location loc,
                                       ValueRange outer) {
  auto idx = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); };
  int64_t mainEnd = vecExtent / lanes * lanes;
  scf::ForOp::create(b, loc, idx(0), idx(mainEnd), idx(lanes), {},
                     [&](OpBuilder &fb, Location l, Value j, ValueRange) {
                       emitPoints(fb, l, outer, j, lanes);
                       scf::YieldOp::create(fb, l);
                     });
  emitPoints(b, loc, outer, idx(vecExtent - lanes), lanes);
}

void LinearVectorizer::emitRange(OpBuilder &b, Location loc, ValueRange outer,
                                 Value lo, Value hi) {
  auto idx = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); };
  // Strided reads load `width * step` elements: the last `step - 1` lie
  // past the last element used, so a vector step runs only where they are
  // addressable; elsewhere the same points run as scalars.
  auto stridedSafe = [&](OpBuilder &ob, Location l, Value j,
                         int64_t width) -> Value {
    Value ok;
    SmallVector<int64_t> last(windowExtent);
    for (int64_t &w : last)
      w -= 1;
    for (auto [i, o] : llvm::enumerate(operands)) {
      if (o.access != Access::Strided)
        continue;
      Value first = linearIndex(ob, l, i, outer, j, last);
      Value end = arith::AddIOp::create(
          ob, l, first,
          arith::ConstantIndexOp::create(ob, l, width * o.step));
      Value c = arith::CmpIOp::create(
          ob, l, arith::CmpIPredicate::sle, end,
          arith::ConstantIndexOp::create(ob, l, o.linear.span));
      ok = ok ? Value(arith::AndIOp::create(ob, l, ok, c)) : c;
    }
    return ok;
  };
  for (int64_t width = lanes; width >= 4; width /= 2) {
    // [lo, lo + (hi - lo) / width * width) in steps of width.
    Value n = arith::DivUIOp::create(
        b, loc, arith::SubIOp::create(b, loc, hi, lo), idx(width));
    Value end = arith::AddIOp::create(
        b, loc, lo, arith::MulIOp::create(b, loc, n, idx(width)));
    scf::ForOp::create(
        b, loc, lo, end, idx(width), {},
        [&](OpBuilder &fb, Location l, Value j, ValueRange) {
          OpBuilder::InsertionGuard g(fb);
          if (Value safe = stridedSafe(fb, l, j, width)) {
            auto ifOp = scf::IfOp::create(fb, l, safe, /*withElse=*/true);
            fb.setInsertionPointToStart(ifOp.thenBlock());
            emitPoints(fb, l, outer, j, width);
            fb.setInsertionPointToStart(ifOp.elseBlock());
            scf::ForOp::create(
                fb, l, j,
                arith::AddIOp::create(fb, l, j,
                                      arith::ConstantIndexOp::create(fb, l, width)),
                arith::ConstantIndexOp::create(fb, l, 1), {},
                [&](OpBuilder &sb, Location sl, Value k, ValueRange) {
                  emitPoints(sb, sl, outer, k, 1);
                  scf::YieldOp::create(sb, sl);
                });
            fb.setInsertionPointAfter(ifOp);
          } else {
            emitPoints(fb, l, outer, j, width);
          }
          scf::YieldOp::create(fb, l);
        });
    lo = end;
  }
  scf::ForOp::create(b, loc, lo, hi, idx(1), {},
                     [&](OpBuilder &fb, Location l, Value j, ValueRange) {
                       emitPoints(fb, l, outer, j, 1);
                       scf::YieldOp::create(fb, l);
                     });
}

bool LinearVectorizer::run() {
  if (!analyze())
    return false;
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto idx = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); };
  // 1-d views of the memref operands from their aligned pointers.
  for (auto [i, o] : llvm::enumerate(operands)) {
    if (o.access == Access::Scalar)
      continue;
    Value v = op->getOperand(i);
    auto t = cast<MemRefType>(v.getType());
    o.flat = memref::ReinterpretCastOp::create(
        b, loc, MemRefType::get({o.linear.span}, t.getElementType()), v,
        /*offset=*/0, ArrayRef<int64_t>{o.linear.span}, ArrayRef<int64_t>{1});
  }

  int64_t outerPoints = 1;
  for (int64_t e : outerExtent)
    outerPoints *= e;
  int64_t total = outerPoints * vecExtent;
  // Chunks of the vector dimension so that a parallel loop has at least
  // 64 iterations (each at least 8 vectors).
  int64_t chunks = 1;
  bool threads = parallel && total >= minParallel;
  if (threads && outerPoints < 64)
    chunks = std::max<int64_t>(
        1, std::min<int64_t>((64 + outerPoints - 1) / outerPoints,
                             vecExtent / (8 * lanes)));
  int64_t chunkLen = (vecExtent + chunks - 1) / chunks;
  chunkLen = (chunkLen + lanes - 1) / lanes * lanes;
  chunks = (vecExtent + chunkLen - 1) / chunkLen;

  SmallVector<Value> lbs, ubs, steps;
  for (int64_t e : outerExtent) {
    lbs.push_back(idx(0));
    ubs.push_back(idx(e));
    steps.push_back(idx(1));
  }
  if (chunks > 1) {
    lbs.push_back(idx(0));
    ubs.push_back(idx(chunks));
    steps.push_back(idx(1));
  }
  auto bodyFn = [&](OpBuilder &nb, Location l, ValueRange ivs) {
    auto cst = [&](int64_t v) {
      return arith::ConstantIndexOp::create(nb, l, v);
    };
    if (chunks == 1) {
      // The same values written twice by one thread: a vector instead of
      // a scalar tail (a row of 14 bytes is two 8-byte vectors).
      if (mayOverlap())
        emitOverlapping(nb, l, ivs);
      else
        emitRange(nb, l, ivs, cst(0), cst(vecExtent));
      return;
    }
    Value lo = arith::MulIOp::create(nb, l, ivs.back(), cst(chunkLen));
    Value hi = arith::MinUIOp::create(
        nb, l, arith::AddIOp::create(nb, l, lo, cst(chunkLen)), cst(vecExtent));
    emitRange(nb, l, ivs.drop_back(), lo, hi);
  };
  if (threads && outerPoints * chunks > 1) {
    // Parallel over the fewest leading outer dimensions that give 64
    // iterations (the OpenMP loop recovers each index of a collapsed nest
    // with a division), the rest as loops inside.
    size_t numPar = outerExtent.size();
    if (chunks == 1) {
      int64_t points = 1;
      for (size_t d = 0; d < outerExtent.size(); ++d) {
        points *= outerExtent[d];
        if (points >= 64) {
          numPar = d + 1;
          break;
        }
      }
    }
    SmallVector<Value> plbs(lbs.begin(), lbs.begin() + numPar),
        pubs(ubs.begin(), ubs.begin() + numPar),
        psteps(steps.begin(), steps.begin() + numPar);
    if (chunks > 1) {
      plbs.push_back(lbs.back());
      pubs.push_back(ubs.back());
      psteps.push_back(steps.back());
    }
    scf::ParallelOp::create(
        b, loc, plbs, pubs, psteps,
        [&](OpBuilder &nb, Location l, ValueRange pivs) {
          if (numPar == outerExtent.size()) {
            bodyFn(nb, l, pivs);
          } else {
            SmallVector<Value> ilbs, iubs, isteps;
            for (size_t d = numPar; d < outerExtent.size(); ++d) {
              ilbs.push_back(arith::ConstantIndexOp::create(nb, l, 0));
              iubs.push_back(
                  arith::ConstantIndexOp::create(nb, l, outerExtent[d]));
              isteps.push_back(arith::ConstantIndexOp::create(nb, l, 1));
            }
            scf::buildLoopNest(nb, l, ilbs, iubs, isteps,
                               [&](OpBuilder &ib, Location il, ValueRange ivs) {
                                 SmallVector<Value> all(pivs);
                                 all.append(ivs.begin(), ivs.end());
                                 bodyFn(ib, il, all);
                               });
          }
          scf::ReduceOp::create(nb, l);
        });
  } else if (lbs.empty()) {
    bodyFn(b, loc, {});
  } else {
    scf::buildLoopNest(b, loc, lbs, ubs, steps,
                       [&](OpBuilder &nb, Location l, ValueRange ivs) {
                         bodyFn(nb, l, ivs);
                       });
  }
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
  if (!isPlainMemref(in->get()) || !inType.getLayout().isIdentity() ||
      !outType || outType.getRank() != 0 ||
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
  using CPUVectorizeElementwiseBase::CPUVectorizeElementwiseBase;
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> ops;
    getOperation().walk([&](linalg::GenericOp op) { ops.push_back(op); });
    for (linalg::GenericOp op : ops)
      if (!vectorizeMinMax(op))
        LinearVectorizer(op, parallel, minParallelElements).run();
  }
};

} // namespace
