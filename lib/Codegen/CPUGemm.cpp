//===- CPUGemm.cpp - Packed, vectorized, threaded GEMM code generation ----===//
//
// The quantx-cpu-gemm pass: recognises matrix products among bufferized
// linalg.generic ops and replaces each by generated code in the style of
// BLIS: the operands are packed once per call into zero-padded, register-
// tile friendly layouts (evaluating the per-operand part of the generic's
// body, zero points included, while packing), then a parallel loop over
// output tiles runs cache-blocked slices of a register-tile microkernel
// written with vector ops and, for integer products, the target's exact
// int8/int16 dot-product instruction.
//
//===----------------------------------------------------------------------===//

#include "quantx/Codegen/CPUPipeline.h"
#include "quantx/Codegen/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringSet.h"

#include <algorithm>
#include <optional>
#include <unistd.h>

namespace mlir::quantx {
#define GEN_PASS_DEF_CPUGEMM
#include "quantx/Codegen/Passes.h.inc"
} // namespace mlir::quantx

using namespace mlir;
using namespace mlir::quantx;

namespace {

/// The instruction form of the microkernel.
enum class GemmKind {
  /// f32 `vector.fma`.
  F32,
  /// i16 pairs, `vpmaddwd` (AVX2).
  PMaddWD,
  /// i16 pairs, portable vector ops (no AVX2).
  I16Generic,
  /// u8 quadruples times s8 quadruples, `vpdpbusd` (AVX-VNNI/AVX512-VNNI).
  VNNI,
};

/// An inclusive range of integer values.
struct IntRange {
  int64_t lo, hi;
};

/// A conservative range of the integer value `v` (up to 32 bits), or none.
static std::optional<IntRange> valueRange(Value v, int depth = 0) {
  if (depth > 16)
    return std::nullopt;
  APInt c;
  if (matchPattern(v, m_ConstantInt(&c)) && c.getBitWidth() <= 64)
    return IntRange{c.getSExtValue(), c.getSExtValue()};
  Operation *def = v.getDefiningOp();
  if (!def)
    return std::nullopt;
  auto srcWidth = [](Value s) -> unsigned {
    return getElementTypeOrSelf(s.getType()).getIntOrFloatBitWidth();
  };
  if (auto ext = dyn_cast<arith::ExtSIOp>(def)) {
    unsigned w = srcWidth(ext.getIn());
    if (w > 32)
      return std::nullopt;
    return IntRange{-(int64_t(1) << (w - 1)), (int64_t(1) << (w - 1)) - 1};
  }
  if (auto ext = dyn_cast<arith::ExtUIOp>(def)) {
    unsigned w = srcWidth(ext.getIn());
    if (w > 32)
      return std::nullopt;
    return IntRange{0, (int64_t(1) << w) - 1};
  }
  if (auto trunc = dyn_cast<arith::TruncIOp>(def)) {
    unsigned w = getElementTypeOrSelf(trunc.getType()).getIntOrFloatBitWidth();
    std::optional<IntRange> r = valueRange(trunc.getIn(), depth + 1);
    if (!r || w > 63 || r->lo < -(int64_t(1) << (w - 1)) ||
        r->hi >= (int64_t(1) << (w - 1)))
      return std::nullopt;
    return r; // The value survives the truncation.
  }
  auto binary = [&](Value a,
                    Value b) -> std::optional<std::pair<IntRange, IntRange>> {
    auto ra = valueRange(a, depth + 1), rb = valueRange(b, depth + 1);
    if (!ra || !rb)
      return std::nullopt;
    return std::make_pair(*ra, *rb);
  };
  if (auto sub = dyn_cast<arith::SubIOp>(def)) {
    if (auto r = binary(sub.getLhs(), sub.getRhs()))
      return IntRange{r->first.lo - r->second.hi, r->first.hi - r->second.lo};
    return std::nullopt;
  }
  if (auto add = dyn_cast<arith::AddIOp>(def)) {
    if (auto r = binary(add.getLhs(), add.getRhs()))
      return IntRange{r->first.lo + r->second.lo, r->first.hi + r->second.hi};
    return std::nullopt;
  }
  return std::nullopt;
}

/// A recognised matrix product.
struct GemmMatch {
  linalg::GenericOp op;
  /// The two factors inside the body: X indexed by (m, k), Y by (k, n).
  Value x, y;
  /// Body ops computing X and Y, in body order.
  SmallVector<Operation *> xOps, yOps;
  /// Block arguments (input operands) X and Y read.
  SmallVector<BlockArgument> xArgs, yArgs;
  /// A loop-invariant value subtracted from X (`X = a - z`, a dynamic zero
  /// point of unknown range): then `a` is packed and `z * sum_k Y[k, n]` is
  /// subtracted from the accumulator, which is exact in modular i32.
  Value xShift;
  SmallVector<Operation *> zOps;
  SmallVector<BlockArgument> zArgs;
  /// The same for Y (`Y = a - z`): then `z * sum_k X[m, k]` is subtracted.
  Value yShift;
  SmallVector<Operation *> yzOps;
  SmallVector<BlockArgument> yzArgs;
  bool isFloat;
  IntRange xRange{0, 0}, yRange{0, 0};
};

/// Collects the body ops and block arguments `v` depends on; fails on
/// ops with side effects or regions and on the output block argument.
static LogicalResult collectSlice(Value v, Block *body, unsigned numInputs,
                                  llvm::SetVector<Operation *> &ops,
                                  llvm::SetVector<BlockArgument> &args) {
  SmallVector<Value> work{v};
  while (!work.empty()) {
    Value cur = work.pop_back_val();
    if (auto arg = dyn_cast<BlockArgument>(cur)) {
      if (arg.getOwner() != body)
        continue; // Defined above the generic.
      if (arg.getArgNumber() >= numInputs)
        return failure(); // The accumulator.
      args.insert(arg);
      continue;
    }
    Operation *def = cur.getDefiningOp();
    if (def->getBlock() != body)
      continue; // Captured from above.
    if (def->getNumRegions() != 0 || !isPure(def))
      return failure();
    if (ops.insert(def))
      llvm::append_range(work, def->getOperands());
  }
  return success();
}

/// Whether vpdpbusd takes X of this range: unsigned bytes, or signed bytes
/// shifted by +128 while packing.
static bool fitsVNNI(IntRange r) {
  return r.lo >= -128 && r.hi <= 255 && (r.lo >= 0 || r.hi <= 127);
}

/// Recognises `op` as a matrix product; see the pass description.
/// `unsignedX`: the target multiplies with vpdpbusd, so where Y fits its
/// signed byte operand, X = a - z with a constant z (a static zero point,
/// whose range [-z, 255 - z] vpdpbusd cannot take) is split as a run-time
/// one is: `a` is packed and z times Y's column sums is subtracted.
static std::optional<GemmMatch> matchGemm(linalg::GenericOp op,
                                          bool unsignedX) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumLoops() != 3)
    return std::nullopt;
  auto iters = op.getIteratorTypesArray();
  if (iters[0] != utils::IteratorType::parallel ||
      iters[1] != utils::IteratorType::parallel ||
      iters[2] != utils::IteratorType::reduction)
    return std::nullopt;
  MLIRContext *ctx = op.getContext();
  OpOperand *out = op.getDpsInitOperand(0);
  AffineMap outMap = op.getMatchingIndexingMap(out);
  if (outMap != AffineMap::getMultiDimIdentityMap(3, ctx).getMajorSubMap(2))
    return std::nullopt;
  auto outType = dyn_cast<MemRefType>(out->get().getType());
  if (!outType || outType.getRank() != 2)
    return std::nullopt;

  Block *body = op.getBody();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  if (yield.getNumOperands() != 1)
    return std::nullopt;
  Operation *add = yield.getOperand(0).getDefiningOp();
  if (!add || add->getBlock() != body ||
      !isa<arith::AddIOp, arith::AddFOp>(add))
    return std::nullopt;
  BlockArgument acc = body->getArgument(op.getNumDpsInputs());
  Value prod;
  if (add->getOperand(0) == acc)
    prod = add->getOperand(1);
  else if (add->getOperand(1) == acc)
    prod = add->getOperand(0);
  else
    return std::nullopt;
  Operation *mul = prod.getDefiningOp();
  if (!mul || mul->getBlock() != body || !prod.hasOneUse() ||
      !isa<arith::MulIOp, arith::MulFOp>(mul) ||
      isa<arith::AddIOp>(add) != isa<arith::MulIOp>(mul))
    return std::nullopt;
  if (!acc.hasOneUse())
    return std::nullopt;

  GemmMatch m;
  m.op = op;
  m.isFloat = isa<arith::AddFOp>(add);
  Type elem = outType.getElementType();
  if (m.isFloat ? !elem.isF32() : !elem.isInteger(32))
    return std::nullopt;
  // Every body op must belong to X's or Y's slice (or be mul/add/yield).
  unsigned numInputs = op.getNumDpsInputs();
  auto dependsOn = [&](const llvm::SetVector<BlockArgument> &args,
                       unsigned dim) {
    for (BlockArgument a : args)
      if (op.getMatchingIndexingMap(op.getDpsInputOperand(a.getArgNumber()))
              .isFunctionOfDim(dim))
        return true;
    return false;
  };
  for (int order = 0; order < 2; ++order) {
    Value x = mul->getOperand(order), y = mul->getOperand(1 - order);
    llvm::SetVector<Operation *> xs, ys;
    llvm::SetVector<BlockArgument> xa, ya;
    if (failed(collectSlice(x, body, numInputs, xs, xa)) ||
        failed(collectSlice(y, body, numInputs, ys, ya)))
      return std::nullopt;
    // X must not vary with n, Y not with m.
    if (dependsOn(xa, 1) || dependsOn(ya, 0))
      continue;
    // Shared body ops are fine (they are cloned twice).
    llvm::SmallPtrSet<Operation *, 16> known(xs.begin(), xs.end());
    known.insert(ys.begin(), ys.end());
    known.insert(mul);
    known.insert(add);
    known.insert(yield);
    bool complete = true;
    for (Operation &o : *body)
      complete &= known.contains(&o);
    if (!complete)
      return std::nullopt;
    m.x = x;
    m.y = y;
    for (Operation &o : *body) {
      if (xs.contains(&o))
        m.xOps.push_back(&o);
      if (ys.contains(&o))
        m.yOps.push_back(&o);
    }
    m.xArgs.assign(xa.begin(), xa.end());
    m.yArgs.assign(ya.begin(), ya.end());
    if (!m.isFloat) {
      auto xr = valueRange(x), yr = valueRange(y);
      auto fitsI16 = [](IntRange r) { return r.lo >= -32767 && r.hi <= 32767; };
      // X = a - z with a bounded and z invariant in the loops (read through
      // indexing maps without dimensions, or captured): pack a, correct by z.
      // The same for Y.
      auto splitShift = [&](Value v, std::optional<IntRange> &range,
                            Value &base, Value &shift,
                            SmallVector<Operation *> &baseOps,
                            SmallVector<BlockArgument> &baseArgs,
                            SmallVector<Operation *> &shiftOps,
                            SmallVector<BlockArgument> &shiftArgs,
                            bool forVNNI) {
        auto sub = v.getDefiningOp<arith::SubIOp>();
        bool vnniSplit = forVNNI && range && !fitsVNNI(*range);
        if ((range && fitsI16(*range) && !vnniSplit) || !sub ||
            sub->getBlock() != body)
          return;
        auto ar = valueRange(sub.getLhs());
        if (vnniSplit && (!ar || !fitsVNNI(*ar)))
          return; // The split would not help vpdpbusd either.
        llvm::SetVector<Operation *> as, zs;
        llvm::SetVector<BlockArgument> aa, za;
        bool invariant =
            succeeded(collectSlice(sub.getLhs(), body, numInputs, as, aa)) &&
            succeeded(collectSlice(sub.getRhs(), body, numInputs, zs, za));
        for (BlockArgument a : za)
          invariant &=
              op.getMatchingIndexingMap(op.getDpsInputOperand(a.getArgNumber()))
                      .getNumDims() == 3 &&
              llvm::all_of(
                  op.getMatchingIndexingMap(
                        op.getDpsInputOperand(a.getArgNumber()))
                      .getResults(),
                  [](AffineExpr e) { return isa<AffineConstantExpr>(e); });
        if (!ar || !fitsI16(*ar) || !invariant)
          return;
        range = ar;
        base = sub.getLhs();
        shift = sub.getRhs();
        baseOps.clear();
        shiftOps.clear();
        for (Operation &o : *body) {
          if (as.contains(&o))
            baseOps.push_back(&o);
          if (zs.contains(&o))
            shiftOps.push_back(&o);
        }
        baseArgs.assign(aa.begin(), aa.end());
        shiftArgs.assign(za.begin(), za.end());
      };
      // Only where Y already fits vpdpbusd: splitting X rules out splitting
      // Y (below), which a Y of unknown range needs.
      bool yIsSignedByte = yr && yr->lo >= -128 && yr->hi <= 127;
      splitShift(x, xr, m.x, m.xShift, m.xOps, m.xArgs, m.zOps, m.zArgs,
                 unsignedX && yIsSignedByte);
      // Not both: (a - z)(b - w) would also need + K z w.
      if (!m.xShift)
        splitShift(y, yr, m.y, m.yShift, m.yOps, m.yArgs, m.yzOps, m.yzArgs,
                   /*forVNNI=*/false);
      if (!xr || !yr)
        return std::nullopt;
      m.xRange = *xr;
      m.yRange = *yr;
      if (!fitsI16(m.xRange) || !fitsI16(m.yRange))
        return std::nullopt;
    } else if (!x.getType().isF32() || !y.getType().isF32()) {
      return std::nullopt;
    }
    return m;
  }
  return std::nullopt;
}

/// A compile-time constant memref: `memref.get_global` of a constant global
/// with a dense initial value, or none.
static DenseElementsAttr constantMemref(Value v) {
  auto get = v.getDefiningOp<memref::GetGlobalOp>();
  if (!get)
    return {};
  auto global = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
      get, get.getNameAttr());
  if (!global || !global.getConstant() || !global.getInitialValue())
    return {};
  return dyn_cast<DenseElementsAttr>(*global.getInitialValue());
}

/// `v` of an integer of `width` bits, sign-extended to 64 bits.
static int64_t signExtend(uint64_t v, unsigned width) {
  if (width >= 64)
    return int64_t(v);
  unsigned shift = 64 - width;
  return int64_t(v << shift) >> shift;
}

/// Y of a matched product evaluated at compile time, when every input Y
/// reads is a constant and its body slice only uses integer arithmetic
/// this evaluator knows (or is the f32 input itself).
class ConstantRhs {
public:
  /// Prepares the evaluation; false if Y is not a known constant.
  bool init(GemmMatch &m);
  /// Y at (k, n), an i32 (sign-extended) or the bits of an f32.
  int64_t intAt(int64_t k, int64_t n);
  float floatAt(int64_t k, int64_t n);

private:
  struct Input {
    /// Integer values sign-extended to 64 bits (as every value of the
    /// evaluation is kept), or floats.
    SmallVector<int64_t> ints;
    SmallVector<float> floats;
    /// Row-major strides of the source and, per source dimension, the
    /// loop dimension (1: n, 2: k) or -1 with a constant index.
    SmallVector<int64_t> strides, dims, consts;
    unsigned slot;
  };
  struct Step {
    Operation *op;
    unsigned result;
    SmallVector<unsigned> operands;
    unsigned width;
    unsigned srcWidth;
  };
  unsigned slotOf(Value v);
  int64_t flat(const Input &in, int64_t k, int64_t n) const;

  bool isFloat = false;
  DenseMap<Value, unsigned> slots;
  SmallVector<int64_t> values;
  std::vector<Input> inputs;
  std::vector<Step> steps;
  unsigned target = 0;
};

unsigned ConstantRhs::slotOf(Value v) {
  auto [it, inserted] = slots.try_emplace(v, values.size());
  if (inserted)
    values.push_back(0);
  return it->second;
}

int64_t ConstantRhs::flat(const Input &in, int64_t k, int64_t n) const {
  int64_t off = 0;
  for (size_t d = 0; d < in.strides.size(); ++d) {
    int64_t i = in.dims[d] == 1 ? n : in.dims[d] == 2 ? k : in.consts[d];
    off += i * in.strides[d];
  }
  return off;
}

bool ConstantRhs::init(GemmMatch &m) {
  isFloat = m.isFloat;
  if (isFloat && !m.yOps.empty())
    return false; // Only the f32 weights themselves.
  for (BlockArgument arg : m.yArgs) {
    OpOperand *operand = m.op.getDpsInputOperand(arg.getArgNumber());
    DenseElementsAttr attr = constantMemref(operand->get());
    auto type = dyn_cast<MemRefType>(operand->get().getType());
    if (!attr || !type || !type.hasStaticShape() ||
        !type.getLayout().isIdentity())
      return false;
    Input in;
    in.slot = slotOf(arg);
    Type elem = attr.getElementType();
    if (auto it = dyn_cast<IntegerType>(elem)) {
      if (isFloat || it.getWidth() > 32)
        return false;
      for (const APInt &v : attr.getValues<APInt>())
        in.ints.push_back(v.getSExtValue());
    } else if (elem.isF32() && isFloat) {
      for (float v : attr.getValues<float>())
        in.floats.push_back(v);
    } else {
      return false;
    }
    if (attr.isSplat()) {
      // Expand a splat to the whole shape.
      int64_t count = type.getNumElements();
      if (!in.ints.empty())
        in.ints.assign(count, in.ints.front());
      if (!in.floats.empty())
        in.floats.assign(count, in.floats.front());
    }
    AffineMap am = m.op.getMatchingIndexingMap(operand);
    int64_t stride = 1;
    in.strides.assign(type.getRank(), 0);
    for (int64_t d = type.getRank() - 1; d >= 0; --d) {
      in.strides[d] = stride;
      stride *= type.getDimSize(d);
    }
    for (AffineExpr e : am.getResults()) {
      if (auto dim = dyn_cast<AffineDimExpr>(e)) {
        if (dim.getPosition() == 0)
          return false;
        in.dims.push_back(dim.getPosition());
        in.consts.push_back(0);
      } else if (auto c = dyn_cast<AffineConstantExpr>(e)) {
        in.dims.push_back(-1);
        in.consts.push_back(c.getValue());
      } else {
        return false;
      }
    }
    inputs.push_back(std::move(in));
  }
  for (Operation *op : m.yOps) {
    Step st;
    st.op = op;
    if (op->getNumResults() != 1)
      return false;
    Type rt = op->getResult(0).getType();
    if (!rt.isSignlessInteger() || rt.getIntOrFloatBitWidth() > 64)
      return false;
    st.width = rt.getIntOrFloatBitWidth();
    st.srcWidth = st.width;
    APInt c;
    if (matchPattern(op->getResult(0), m_ConstantInt(&c))) {
      values[slotOf(op->getResult(0))] = signExtend(c.getZExtValue(), st.width);
      continue;
    }
    if (!isa<arith::ExtSIOp, arith::ExtUIOp, arith::TruncIOp, arith::AddIOp,
             arith::SubIOp, arith::MulIOp>(op))
      return false;
    for (Value v : op->getOperands()) {
      if (!v.getType().isSignlessInteger())
        return false;
      bool inside = slots.count(v);
      if (!inside) {
        // Captured from outside the body: an integer constant.
        if (!matchPattern(v, m_ConstantInt(&c)))
          return false;
        values[slotOf(v)] =
            signExtend(c.getZExtValue(), v.getType().getIntOrFloatBitWidth());
      }
      st.operands.push_back(slotOf(v));
    }
    st.srcWidth = op->getOperand(0).getType().getIntOrFloatBitWidth();
    st.result = slotOf(op->getResult(0));
    steps.push_back(std::move(st));
  }
  if (!slots.count(m.y))
    return false;
  target = slotOf(m.y);
  return true;
}

int64_t ConstantRhs::intAt(int64_t k, int64_t n) {
  for (const Input &in : inputs)
    values[in.slot] = in.ints[flat(in, k, n)];
  for (const Step &st : steps) {
    uint64_t a = values[st.operands[0]];
    uint64_t r;
    if (isa<arith::ExtSIOp>(st.op))
      r = a; // Values are kept sign-extended.
    else if (isa<arith::ExtUIOp>(st.op))
      r = st.srcWidth >= 64 ? a : a & ((uint64_t(1) << st.srcWidth) - 1);
    else if (isa<arith::TruncIOp>(st.op))
      r = a;
    else if (isa<arith::AddIOp>(st.op))
      r = a + uint64_t(values[st.operands[1]]);
    else if (isa<arith::SubIOp>(st.op))
      r = a - uint64_t(values[st.operands[1]]);
    else
      r = a * uint64_t(values[st.operands[1]]);
    values[st.result] = signExtend(r, st.width);
  }
  return values[target];
}

float ConstantRhs::floatAt(int64_t k, int64_t n) {
  const Input &in = inputs.front();
  return in.floats[flat(in, k, n)];
}

/// Tile sizes of one generated kernel.
struct Tiling {
  int64_t mr, nr, mc, nc, kc;
  /// Vector lanes of the accumulator (i32/f32) and k values per lane.
  int64_t vl, ku;
  /// k steps (of ku) per iteration of the inner loop.
  int64_t unroll;
};

/// Emits the code replacing one matched generic.
class GemmEmitter {
public:
  GemmEmitter(GemmMatch match, GemmKind kind, const Tiling &t,
              SymbolTable &symbols, bool parallel)
      : m(std::move(match)), kind(kind), t(t), b(m.op), loc(m.op.getLoc()),
        symbols(symbols), parallel(parallel) {}
  void emit();

private:
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  /// An `scf.parallel` loop (OpenMP threads, later) when the product is
  /// large enough, else a sequential `scf.for` nest.
  void parallelFor(OpBuilder &ob, Location l, ValueRange lbs, ValueRange ubs,
                   ValueRange steps,
                   function_ref<void(OpBuilder &, Location, ValueRange)> body) {
    if (parallel)
      scf::ParallelOp::create(ob, l, lbs, ubs, steps, body);
    else
      scf::buildLoopNest(ob, l, lbs, ubs, steps, body);
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value min(Value x, Value y) { return arith::MinSIOp::create(b, loc, x, y); }
  Value roundUp(Value v, int64_t to) {
    Value q = arith::CeilDivSIOp::create(b, loc, v, idx(to));
    return mul(q, idx(to));
  }
  /// Evaluates X (or Y) of the body at loop indices (mi, ni, ki).
  Value evaluate(OpBuilder &ob, bool isX, Value mi, Value ni, Value ki);
  /// Evaluates `target`, computed by `ops` from `args`, at (mi, ni, ki).
  Value evaluate(OpBuilder &ob, ArrayRef<BlockArgument> args,
                 ArrayRef<Operation *> ops, Value target, Value mi, Value ni,
                 Value ki);
  /// The element type of the packed operands.
  Type packedType(bool isX);
  /// Converts an i32/f32 factor to its packed element.
  Value toPacked(OpBuilder &ob, Value v, bool isX);
  /// Offset in a packed operand of element k of the panel `panel` (row or
  /// column tile) at position `lane` inside it: k blocks outermost, so that
  /// the panels one cache block reads are contiguous:
  /// [Kp / KC][tiles][min(KC, Kp - pc) / KU][tile size][KU].
  Value packedOffset(OpBuilder &ob, Location l, Value k, Value panel,
                     Value lane, bool isX);
  /// Packs a constant Y at compile time into a new constant global (and its
  /// column sums, when `withSums`); false if Y is not a known constant.
  bool packConstantY(bool withSums, Value &packed, Value &sums);
  /// A new private constant global holding `value`, read where `b` is.
  Value constantGlobal(StringRef name, DenseElementsAttr value);
  /// The fill with zero of the output just before the product, if any
  /// (looked for before anything is emitted).
  Operation *findZeroFill();
  /// The indices of an input operand at loop point (mi, ni, ki).
  SmallVector<Value> operandIndices(OpBuilder &ob, Location l,
                                    OpOperand *operand, Value mi, Value ni,
                                    Value ki);
  /// X at row `mi` for the `lanes` values of k from `ki` (isX), or Y at k
  /// `ki` for the `lanes` columns from `ni`, as one vector.
  Value evaluateVector(OpBuilder &ob, Location l, bool isX, Value mi, Value ni,
                       Value ki, int64_t lanes);
  /// Whether evaluateVector applies: the operand's ops are element-wise and
  /// its memrefs are read contiguously along k (X) or n (Y) and do not
  /// depend on n (X) or m (Y).
  bool canVectorize(bool isX);
  /// Packs the full row panel `panel` of X for k in [0, kVecEnd) with
  /// vector loads, shuffles and stores (kVecEnd a multiple of the chunk),
  /// adding each row's sum to `rowSumAccs` when given.
  void packXPanelVector(OpBuilder &ob, Location l, Value panel, Value kVecEnd,
                        SmallVectorImpl<Value> *rowSumAccs);
  /// k values per vector chunk of packXPanelVector (32 bytes of packed X).
  int64_t xChunk() const;
  /// Packs the k groups [kqBegin, kqEnd) (of KU values) of the full column
  /// tile `tile` of Y with vector loads, shuffles and stores, zeros past K,
  /// adding their column sums to `colSums` when given.
  void packYTileVector(OpBuilder &ob, Location l, Value tile, Value kSize,
                       Value colSums, Value kqBegin, Value kqEnd);
  /// One k step of the microkernel.
  void emitKernel(Value aBuf, Value bBuf, Value cBuf, Value kp, Value tile,
                  Value ir, Value jr, Value kBegin, Value kEnd);

  GemmMatch m;
  GemmKind kind;
  Tiling t;
  OpBuilder b;
  Location loc;
  SymbolTable &symbols;
  bool parallel;
  /// +128 added to X for vpdpbusd when X is signed.
  bool biasX = false;
  /// The output was zero before the product (its fill is dropped): the
  /// first k block starts from zero accumulators instead of reading it,
  /// or from `colInit` when set.
  bool zeroInit = false;
  /// Per padded column, the initial accumulator of a zero output with a
  /// column-sum correction: -(128 + z) * sum_k Y[k, n].
  Value colInit;
  /// Padded sizes.
  Value mp, np, kp;
  /// The packed X and Y being written by packXPanelVector and
  /// packYTileVector.
  Value aBufForPacking, bBufForPacking;
};

Type GemmEmitter::packedType(bool isX) {
  switch (kind) {
  case GemmKind::F32:
    return b.getF32Type();
  case GemmKind::PMaddWD:
  case GemmKind::I16Generic:
    return b.getI16Type();
  case GemmKind::VNNI:
    return b.getI8Type();
  }
  llvm_unreachable("kind");
}

Value GemmEmitter::toPacked(OpBuilder &ob, Value v, bool isX) {
  if (kind == GemmKind::F32)
    return v;
  if (isX && biasX)
    v = arith::AddIOp::create(
        ob, loc, v,
        arith::ConstantOp::create(ob, loc, ob.getI32IntegerAttr(128)));
  return arith::TruncIOp::create(ob, loc, packedType(isX), v);
}

Value GemmEmitter::packedOffset(OpBuilder &ob, Location l, Value k, Value panel,
                                Value lane, bool isX) {
  auto cst = [&](int64_t v) {
    return arith::ConstantIndexOp::create(ob, l, v);
  };
  int64_t tileSize = isX ? t.mr : t.nr;
  Value pc = arith::MulIOp::create(
      ob, l, arith::DivSIOp::create(ob, l, k, cst(t.kc)), cst(t.kc));
  Value kcLen = arith::MinSIOp::create(ob, l, cst(t.kc),
                                       arith::SubIOp::create(ob, l, kp, pc));
  Value kl = arith::SubIOp::create(ob, l, k, pc);
  // pc * (Mp or Np) + panel * kcLen * tileSize
  Value off = arith::MulIOp::create(ob, l, pc, isX ? mp : np);
  off = arith::AddIOp::create(
      ob, l, off,
      arith::MulIOp::create(ob, l, arith::MulIOp::create(ob, l, panel, kcLen),
                            cst(tileSize)));
  // + ((kl / KU) * tileSize + lane) * KU + kl % KU
  Value in = arith::MulIOp::create(
      ob, l, arith::DivSIOp::create(ob, l, kl, cst(t.ku)), cst(tileSize));
  in = arith::AddIOp::create(ob, l, in, lane);
  in = arith::MulIOp::create(ob, l, in, cst(t.ku));
  in = arith::AddIOp::create(ob, l, in,
                             arith::RemSIOp::create(ob, l, kl, cst(t.ku)));
  return arith::AddIOp::create(ob, l, off, in);
}

Value GemmEmitter::evaluate(OpBuilder &ob, bool isX, Value mi, Value ni,
                            Value ki) {
  return isX ? evaluate(ob, m.xArgs, m.xOps, m.x, mi, ni, ki)
             : evaluate(ob, m.yArgs, m.yOps, m.y, mi, ni, ki);
}

SmallVector<Value> GemmEmitter::operandIndices(OpBuilder &ob, Location l,
                                               OpOperand *operand, Value mi,
                                               Value ni, Value ki) {
  SmallVector<Value> indices;
  for (AffineExpr e : m.op.getMatchingIndexingMap(operand).getResults())
    indices.push_back(affine::AffineApplyOp::create(
        ob, l, AffineMap::get(3, 0, e), ValueRange{mi, ni, ki}));
  return indices;
}

Value GemmEmitter::evaluate(OpBuilder &ob, ArrayRef<BlockArgument> args,
                            ArrayRef<Operation *> ops, Value target, Value mi,
                            Value ni, Value ki) {
  IRMapping map;
  for (BlockArgument arg : args) {
    OpOperand *operand = m.op.getDpsInputOperand(arg.getArgNumber());
    Value source = operand->get();
    if (!isa<MemRefType>(source.getType())) {
      map.map(arg, source); // A scalar input.
      continue;
    }
    map.map(arg, memref::LoadOp::create(
                     ob, loc, source, operandIndices(ob, loc, operand, mi, ni, ki)));
  }
  for (Operation *o : ops)
    ob.clone(*o, map);
  return map.lookupOrDefault(target);
}

Operation *GemmEmitter::findZeroFill() {
  Value c = m.op.getDpsInitOperand(0)->get();
  auto isZero = [](Value v) {
    return matchPattern(v, m_Zero()) || matchPattern(v, m_PosZeroFloat());
  };
  for (Operation *prev = m.op->getPrevNode(); prev;
       prev = prev->getPrevNode()) {
    if (auto fill = dyn_cast<linalg::FillOp>(prev)) {
      if (fill.getDpsInitOperand(0)->get() != c ||
          !isZero(fill.getDpsInputOperand(0)->get()))
        return nullptr;
      return fill;
    }
    if (auto fill = dyn_cast<linalg::GenericOp>(prev)) {
      if (fill.getNumDpsInits() != 1 || fill.getNumDpsInputs() != 1 ||
          fill.getDpsInitOperand(0)->get() != c)
        return nullptr;
      Value in = fill.getDpsInputOperand(0)->get();
      Block *body = fill.getBody();
      if (isa<ShapedType>(in.getType()) || !isZero(in) ||
          body->getOperations().size() != 1 ||
          body->getTerminator()->getOperand(0) != body->getArgument(0) ||
          !fill.getMatchingIndexingMap(fill.getDpsInitOperand(0))
               .isIdentity() ||
          fill.getNumParallelLoops() != fill.getNumLoops())
        return nullptr;
      return fill;
    }
    // Only ops without memory effects (constants) may lie in between.
    if (!isPure(prev))
      return nullptr;
  }
  return nullptr;
}

bool GemmEmitter::canVectorize(bool isX) {
  // The vector dimension (k for X, n for Y) and the one the operand must
  // not depend on (n for X, m for Y).
  unsigned vecDim = isX ? 2 : 1, otherDim = isX ? 1 : 0;
  for (Operation *o : isX ? m.xOps : m.yOps) {
    if (!isPure(o) ||
        !(o->hasTrait<OpTrait::Elementwise>() || isa<arith::ConstantOp>(o)))
      return false;
    for (Type ty : o->getResultTypes())
      if (!ty.isIntOrFloat())
        return false;
  }
  for (BlockArgument arg : isX ? m.xArgs : m.yArgs) {
    OpOperand *operand = m.op.getDpsInputOperand(arg.getArgNumber());
    auto type = dyn_cast<MemRefType>(operand->get().getType());
    if (!type)
      continue; // A scalar, broadcast.
    // Unit innermost stride (a batch element's view qualifies), and whole
    // bytes only: a vector of sub-byte integers is loaded packed, while a
    // memref stores one per byte.
    if (!type.isLastDimUnitStride() || !arg.getType().isIntOrFloat() ||
        arg.getType().getIntOrFloatBitWidth() % 8 != 0)
      return false;
    AffineMap am = m.op.getMatchingIndexingMap(operand);
    for (auto [r, e] : llvm::enumerate(am.getResults())) {
      bool last = r + 1 == am.getNumResults();
      if (e.isFunctionOfDim(otherDim))
        return false;
      if (e.isFunctionOfDim(vecDim) &&
          !(last && isa<AffineDimExpr>(e) &&
            cast<AffineDimExpr>(e).getPosition() == vecDim))
        return false;
    }
  }
  return true;
}

Value GemmEmitter::evaluateVector(OpBuilder &ob, Location l, bool isX,
                                  Value mi, Value ni, Value ki,
                                  int64_t lanes) {
  unsigned vecDim = isX ? 2 : 1;
  auto vecType = [&](Type ty) { return VectorType::get({lanes}, ty); };
  IRMapping map;
  for (BlockArgument arg : isX ? m.xArgs : m.yArgs) {
    OpOperand *operand = m.op.getDpsInputOperand(arg.getArgNumber());
    Value source = operand->get();
    if (!isa<MemRefType>(source.getType())) {
      map.map(arg, source);
      continue;
    }
    SmallVector<Value> indices = operandIndices(ob, l, operand, mi, ni, ki);
    if (m.op.getMatchingIndexingMap(operand).isFunctionOfDim(vecDim))
      map.map(arg, vector::LoadOp::create(ob, l, vecType(arg.getType()),
                                          source, indices));
    else
      map.map(arg, memref::LoadOp::create(ob, l, source, indices));
  }
  auto asVector = [&](Value v) -> Value {
    Value mv = map.lookupOrDefault(v);
    if (isa<VectorType>(mv.getType()))
      return mv;
    return vector::BroadcastOp::create(ob, l, vecType(mv.getType()), mv);
  };
  for (Operation *o : isX ? m.xOps : m.yOps) {
    if (isa<arith::ConstantOp>(o)) {
      ob.clone(*o, map);
      continue;
    }
    OperationState st(l, o->getName());
    for (Value v : o->getOperands())
      st.addOperands(asVector(v));
    for (Type ty : o->getResultTypes())
      st.addTypes(vecType(ty));
    st.addAttributes(o->getAttrs());
    Operation *nv = ob.create(st);
    map.map(o->getResults(), nv->getResults());
  }
  return asVector(isX ? m.x : m.y);
}

/// The vectors `parts` (same element type) concatenated in order.
static Value concatVectors(OpBuilder &ob, Location l,
                           SmallVector<Value> parts) {
  while (parts.size() > 1) {
    SmallVector<Value> next;
    for (size_t i = 0; i + 1 < parts.size(); i += 2) {
      int64_t a = cast<VectorType>(parts[i].getType()).getNumElements();
      int64_t b = cast<VectorType>(parts[i + 1].getType()).getNumElements();
      SmallVector<int64_t> cat;
      for (int64_t j = 0; j < a + b; ++j)
        cat.push_back(j);
      next.push_back(
          vector::ShuffleOp::create(ob, l, parts[i], parts[i + 1], cat));
    }
    if (parts.size() % 2)
      next.push_back(parts.back());
    parts = std::move(next);
  }
  return parts.front();
}

int64_t GemmEmitter::xChunk() const {
  // 32 bytes of packed elements: i16 (vpmaddwd), i8 (VNNI), f32.
  int64_t bytes = kind == GemmKind::VNNI ? 1
                  : kind == GemmKind::F32 ? 4
                                          : 2;
  return 32 / bytes;
}

void GemmEmitter::packXPanelVector(OpBuilder &ob, Location l, Value panel,
                                   Value kVecEnd,
                                   SmallVectorImpl<Value> *rowSumAccs) {
  auto cst = [&](OpBuilder &bb, int64_t v) {
    return arith::ConstantIndexOp::create(bb, l, v);
  };
  const int64_t v = xChunk();
  Type pElem = packedType(true);
  Value rowBase = arith::MulIOp::create(ob, l, panel, cst(ob, t.mr));
  SmallVector<Value> init;
  if (rowSumAccs)
    init.assign(rowSumAccs->begin(), rowSumAccs->end());
  Value zero = cst(ob, 0);
  auto loop = scf::ForOp::create(
      ob, l, zero, kVecEnd, cst(ob, v), init,
      [&](OpBuilder &fb, Location fl, Value k0, ValueRange iter) {
        SmallVector<Value> rows, sums;
        for (int64_t i = 0; i < t.mr; ++i) {
          Value row = arith::AddIOp::create(fb, fl, rowBase, cst(fb, i));
          Value x = evaluateVector(fb, fl, /*isX=*/true, row, zero, k0, v);
          if (rowSumAccs)
            sums.push_back(arith::AddIOp::create(fb, fl, iter[i], x));
          if (kind != GemmKind::F32) {
            if (biasX)
              x = arith::AddIOp::create(
                  fb, fl, x,
                  arith::ConstantOp::create(
                      fb, fl,
                      DenseElementsAttr::get(
                          cast<ShapedType>(x.getType()),
                          ArrayRef<Attribute>{fb.getI32IntegerAttr(128)})));
            x = arith::TruncIOp::create(fb, fl, VectorType::get({v}, pElem),
                                        x);
          }
          rows.push_back(x);
        }
        // Element (q, i, u) of the block ([KC/KU][MR][KU] order) is element
        // q * KU + u of row i.
        Value all = concatVectors(fb, fl, rows);
        SmallVector<int64_t> mask;
        for (int64_t q = 0; q < v / t.ku; ++q)
          for (int64_t i = 0; i < t.mr; ++i)
            for (int64_t u = 0; u < t.ku; ++u)
              mask.push_back(i * v + q * t.ku + u);
        Value block = vector::ShuffleOp::create(fb, fl, all, all, mask);
        Value off = packedOffset(fb, fl, k0, panel, cst(fb, 0), /*isX=*/true);
        vector::StoreOp::create(fb, fl, block, aBufForPacking,
                                ValueRange{off});
        scf::YieldOp::create(fb, fl, sums);
      });
  if (rowSumAccs)
    rowSumAccs->assign(loop.getResults().begin(), loop.getResults().end());
}

void GemmEmitter::packYTileVector(OpBuilder &ob, Location l, Value tile,
                                  Value kSize, Value colSums, Value kqBegin,
                                  Value kqEnd) {
  auto cst = [&](int64_t v) { return arith::ConstantIndexOp::create(ob, l, v); };
  Type yElem = m.y.getType();
  auto yVec = VectorType::get({t.nr}, yElem);
  Type pElem = packedType(false);
  Value nBase = arith::MulIOp::create(ob, l, tile, cst(t.nr));
  SmallVector<Value> init;
  if (colSums)
    init.push_back(arith::ConstantOp::create(ob, l, yVec, ob.getZeroAttr(yVec)));
  auto loop = scf::ForOp::create(
      ob, l, kqBegin, kqEnd, cst(1), init,
      [&](OpBuilder &fb, Location fl, Value kq, ValueRange iter) {
        SmallVector<Value> parts;
        Value sum = colSums ? iter[0] : Value();
        Value k0 = arith::MulIOp::create(fb, fl, kq,
                                         arith::ConstantIndexOp::create(fb, fl, t.ku));
        for (int64_t u = 0; u < t.ku; ++u) {
          Value k = arith::AddIOp::create(
              fb, fl, k0, arith::ConstantIndexOp::create(fb, fl, u));
          Value valid = arith::CmpIOp::create(fb, fl, arith::CmpIPredicate::slt,
                                              k, kSize);
          // k past K is padding: zeros.
          Value y = scf::IfOp::create(
                        fb, fl, valid,
                        [&](OpBuilder &tb, Location tl) {
                          scf::YieldOp::create(
                              tb, tl, evaluateVector(tb, tl, /*isX=*/false,
                                             arith::ConstantIndexOp::create(tb, tl, 0),
                                             nBase, k, t.nr));
                        },
                        [&](OpBuilder &eb, Location el) {
                          scf::YieldOp::create(
                              eb, el,
                              Value(arith::ConstantOp::create(
                                  eb, el, yVec, eb.getZeroAttr(yVec))));
                        })
                        .getResult(0);
          if (sum)
            sum = arith::AddIOp::create(fb, fl, sum, y);
          if (kind != GemmKind::F32)
            y = arith::TruncIOp::create(fb, fl, VectorType::get({t.nr}, pElem),
                                        y);
          parts.push_back(y);
        }
        // Lane j * KU + u of the block is element j of part u.
        while (parts.size() > 2) {
          SmallVector<Value> next;
          for (size_t i = 0; i + 1 < parts.size(); i += 2) {
            int64_t w = cast<VectorType>(parts[i].getType()).getNumElements();
            SmallVector<int64_t> cat;
            for (int64_t j = 0; j < 2 * w; ++j)
              cat.push_back(j);
            next.push_back(vector::ShuffleOp::create(fb, fl, parts[i],
                                                     parts[i + 1], cat));
          }
          parts = next;
        }
        Value block = parts[0];
        if (t.ku > 1) {
          SmallVector<int64_t> mask;
          for (int64_t j = 0; j < t.nr; ++j)
            for (int64_t u = 0; u < t.ku; ++u)
              mask.push_back(u * t.nr + j);
          block = vector::ShuffleOp::create(fb, fl, parts[0],
                                            parts.size() > 1 ? parts[1]
                                                             : parts[0],
                                            mask);
        }
        Value off = packedOffset(fb, fl, k0, tile,
                                 arith::ConstantIndexOp::create(fb, fl, 0),
                                 /*isX=*/false);
        vector::StoreOp::create(fb, fl, block, bBufForPacking,
                                ValueRange{off});
        if (sum)
          scf::YieldOp::create(fb, fl, sum);
        else
          scf::YieldOp::create(fb, fl);
      });
  if (colSums) {
    Value before =
        vector::LoadOp::create(ob, l, yVec, colSums, ValueRange{nBase});
    vector::StoreOp::create(
        ob, l, arith::AddIOp::create(ob, l, before, loop.getResult(0)), colSums,
        ValueRange{nBase});
  }
}

void GemmEmitter::emitKernel(Value aBuf, Value bBuf, Value cBuf, Value kp,
                             Value tile, Value ir, Value jr, Value kBegin,
                             Value kEnd) {
  Type accElem = m.isFloat ? Type(b.getF32Type()) : Type(b.getI32Type());
  auto accType = VectorType::get({t.vl}, accElem);
  Type pElem = packedType(true);
  auto bType = VectorType::get({t.vl * t.ku}, pElem);
  int64_t nv = t.nr / t.vl;
  // Accumulators from the output (zeros for the first k block of an
  // output that was zero).
  auto loadAccs = [&](OpBuilder &ob, Location l) {
    SmallVector<Value> accs;
    for (int64_t i = 0; i < t.mr; ++i)
      for (int64_t v = 0; v < nv; ++v)
        accs.push_back(vector::LoadOp::create(
            ob, l, accType, cBuf,
            ValueRange{arith::AddIOp::create(ob, l, ir,
                                             arith::ConstantIndexOp::create(ob, l, i)),
                       arith::AddIOp::create(
                           ob, l, jr,
                           arith::ConstantIndexOp::create(ob, l, v * t.vl))}));
    return accs;
  };
  SmallVector<Value> accs;
  if (zeroInit) {
    Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                        kBegin, idx(0));
    auto init = scf::IfOp::create(
        b, loc, first,
        [&](OpBuilder &ob, Location l) {
          SmallVector<Value> first;
          if (colInit) {
            // Every row starts from the per-column correction.
            SmallVector<Value> row;
            for (int64_t v = 0; v < nv; ++v)
              row.push_back(vector::LoadOp::create(
                  ob, l, accType, colInit,
                  ValueRange{arith::AddIOp::create(
                      ob, l, jr,
                      arith::ConstantIndexOp::create(ob, l, v * t.vl))}));
            for (int64_t i = 0; i < t.mr; ++i)
              first.append(row);
          } else {
            first.assign(t.mr * nv,
                         arith::ConstantOp::create(ob, l, accType,
                                                   ob.getZeroAttr(accType)));
          }
          scf::YieldOp::create(ob, l, first);
        },
        [&](OpBuilder &ob, Location l) {
          scf::YieldOp::create(ob, l, loadAccs(ob, l));
        });
    accs.assign(init.getResults().begin(), init.getResults().end());
  } else {
    accs = loadAccs(b, loc);
  }
  // k loop over groups of ku, unrolled.
  Value kqBegin = arith::DivSIOp::create(b, loc, kBegin, idx(t.ku));
  Value kqEnd = arith::DivSIOp::create(b, loc, kEnd, idx(t.ku));
  // Offsets of the column panel in the packed Y and of the row panel in
  // the packed X for this k block (see packedOffset).
  Value kcLen = arith::SubIOp::create(b, loc, kEnd, kBegin);
  Value panel = add(mul(kBegin, np), mul(mul(tile, kcLen), idx(t.nr)));
  Value aPanel =
      add(mul(kBegin, mp),
          mul(mul(arith::DivSIOp::create(b, loc, ir, idx(t.mr)), kcLen),
              idx(t.mr)));
  auto loop = scf::ForOp::create(
      b, loc, kqBegin, kqEnd, idx(t.unroll), accs,
      [&](OpBuilder &lb, Location l, Value q, ValueRange iter) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(lb.getInsertionBlock(), lb.getInsertionPoint());
        SmallVector<Value> cur(iter);
        for (int64_t u = 0; u < t.unroll; ++u) {
          Value qu = add(arith::SubIOp::create(b, l, q, kqBegin), idx(u));
          SmallVector<Value> bv;
          Value bOff = add(panel, mul(qu, idx(t.nr * t.ku)));
          for (int64_t v = 0; v < nv; ++v)
            bv.push_back(vector::LoadOp::create(
                b, l, bType, bBuf,
                ValueRange{add(bOff, idx(v * t.vl * t.ku))}));
          for (int64_t i = 0; i < t.mr; ++i) {
            // Row i of the row panel ir / MR at k group qu.
            Value aOff =
                add(add(aPanel, mul(qu, idx(t.mr * t.ku))), idx(i * t.ku));
            Value a;
            if (kind == GemmKind::F32) {
              Value s = memref::LoadOp::create(b, l, aBuf, ValueRange{aOff});
              a = vector::BroadcastOp::create(b, l, accType, s);
            } else {
              Value g = vector::LoadOp::create(
                  b, l, VectorType::get({t.ku}, pElem), aBuf, ValueRange{aOff});
              SmallVector<int64_t> mask;
              for (int64_t j = 0; j < t.vl * t.ku; ++j)
                mask.push_back(j % t.ku);
              a = vector::ShuffleOp::create(b, l, g, g, mask);
            }
            for (int64_t v = 0; v < nv; ++v) {
              Value &c = cur[i * nv + v];
              switch (kind) {
              case GemmKind::F32:
                c = vector::FMAOp::create(b, l, a, bv[v], c);
                break;
              case GemmKind::PMaddWD: {
                Value d = LLVM::CallIntrinsicOp::create(
                              b, l, accType,
                              b.getStringAttr("llvm.x86.avx2.pmadd.wd"),
                              ValueRange{a, bv[v]})
                              .getResult(0);
                c = arith::AddIOp::create(b, l, c, d);
                break;
              }
              case GemmKind::I16Generic: {
                auto wide = VectorType::get({t.vl * 2}, b.getI32Type());
                Value p = arith::MulIOp::create(
                    b, l, arith::ExtSIOp::create(b, l, wide, a),
                    arith::ExtSIOp::create(b, l, wide, bv[v]));
                SmallVector<int64_t> even, odd;
                for (int64_t j = 0; j < t.vl; ++j) {
                  even.push_back(2 * j);
                  odd.push_back(2 * j + 1);
                }
                Value s = arith::AddIOp::create(
                    b, l, vector::ShuffleOp::create(b, l, p, p, even),
                    vector::ShuffleOp::create(b, l, p, p, odd));
                c = arith::AddIOp::create(b, l, c, s);
                break;
              }
              case GemmKind::VNNI:
                c = LLVM::CallIntrinsicOp::create(
                        b, l, accType,
                        b.getStringAttr(t.vl == 16
                                            ? "llvm.x86.avx512.vpdpbusd.512"
                                            : "llvm.x86.avx512.vpdpbusd.256"),
                        ValueRange{c, a, bv[v]})
                        .getResult(0);
                break;
              }
            }
          }
        }
        scf::YieldOp::create(b, l, cur);
      });
  for (int64_t i = 0; i < t.mr; ++i)
    for (int64_t v = 0; v < nv; ++v)
      vector::StoreOp::create(
          b, loc, loop.getResult(i * nv + v), cBuf,
          ValueRange{add(ir, idx(i)), add(jr, idx(v * t.vl))});
}

Value GemmEmitter::constantGlobal(StringRef name, DenseElementsAttr value) {
  auto type = MemRefType::get(value.getType().getShape(),
                              value.getType().getElementType());
  auto fn = m.op->getParentOfType<FunctionOpInterface>();
  OpBuilder gb(fn);
  auto global = memref::GlobalOp::create(
      gb, loc, name, gb.getStringAttr("private"), type, value,
      /*constant=*/true, gb.getI64IntegerAttr(64));
  symbols.insert(global); // Renames on a clash.
  return memref::GetGlobalOp::create(b, loc, type, global.getSymName());
}

bool GemmEmitter::packConstantY(bool withSums, Value &packed, Value &sums) {
  SmallVector<int64_t, 4> ranges = m.op.getStaticLoopRanges();
  int64_t nSize = ranges[1], kSize = ranges[2];
  if (ShapedType::isDynamic(nSize) || ShapedType::isDynamic(kSize))
    return false;
  ConstantRhs rhs;
  if (!rhs.init(m))
    return false;
  int64_t kStep = t.ku * t.unroll;
  int64_t npv = llvm::divideCeil(nSize, t.nr) * t.nr;
  int64_t kpv = llvm::divideCeil(kSize, kStep) * kStep;
  // The offsets of packedOffset, in C++.
  auto offset = [&](int64_t k, int64_t n) {
    int64_t pc = k / t.kc * t.kc, kcLen = std::min(t.kc, kpv - pc), kl = k - pc;
    return pc * npv + n / t.nr * kcLen * t.nr +
           ((kl / t.ku) * t.nr + n % t.nr) * t.ku + kl % t.ku;
  };
  auto tensor = [&](Type elem, int64_t size) {
    return RankedTensorType::get({size}, elem);
  };
  DenseElementsAttr value, sumValue;
  if (kind == GemmKind::F32) {
    std::vector<float> data(npv * kpv, 0.0f);
    for (int64_t k = 0; k < kSize; ++k)
      for (int64_t n = 0; n < nSize; ++n)
        data[offset(k, n)] = rhs.floatAt(k, n);
    value = DenseElementsAttr::get(tensor(b.getF32Type(), data.size()),
                                   llvm::ArrayRef(data));
  } else {
    std::vector<int16_t> wide(kind == GemmKind::VNNI ? 0 : npv * kpv, 0);
    std::vector<int8_t> narrow(kind == GemmKind::VNNI ? npv * kpv : 0, 0);
    std::vector<int32_t> colSums(npv, 0);
    for (int64_t k = 0; k < kSize; ++k)
      for (int64_t n = 0; n < nSize; ++n) {
        int64_t y = rhs.intAt(k, n);
        // The range analysis bounds y to i16 (i8 for VNNI).
        if (kind == GemmKind::VNNI)
          narrow[offset(k, n)] = int8_t(y);
        else
          wide[offset(k, n)] = int16_t(y);
        colSums[n] = int32_t(uint32_t(colSums[n]) + uint32_t(y));
      }
    if (kind == GemmKind::VNNI)
      value = DenseElementsAttr::get(tensor(b.getI8Type(), narrow.size()),
                                     llvm::ArrayRef(narrow));
    else
      value = DenseElementsAttr::get(tensor(b.getI16Type(), wide.size()),
                                     llvm::ArrayRef(wide));
    if (withSums)
      sumValue = DenseElementsAttr::get(tensor(b.getI32Type(), npv),
                                        llvm::ArrayRef(colSums));
  }
  packed = constantGlobal("__quantx_packed_rhs", value);
  if (sumValue)
    sums = constantGlobal("__quantx_packed_rhs_sums", sumValue);
  return true;
}

void GemmEmitter::emit() {
  linalg::GenericOp op = m.op;
  Operation *zeroFill = findZeroFill();
  Value c = op.getDpsInitOperand(0)->get();
  auto cType = cast<MemRefType>(c.getType());
  Type accElem = cType.getElementType();
  // Loop sizes: m and n from the output, k from the loop ranges.
  SmallVector<Range> ranges =
      cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
  Value mSize = getValueOrCreateConstantIndexOp(b, loc, ranges[0].size);
  Value nSize = getValueOrCreateConstantIndexOp(b, loc, ranges[1].size);
  Value kSize = getValueOrCreateConstantIndexOp(b, loc, ranges[2].size);
  Value zero = idx(0), one = idx(1);

  biasX = kind == GemmKind::VNNI && m.xRange.lo < 0;
  int64_t kStep = t.ku * t.unroll;
  mp = roundUp(mSize, t.mr);
  np = roundUp(nSize, t.nr);
  kp = roundUp(kSize, kStep);
  Value tiles = arith::DivSIOp::create(b, loc, np, idx(t.nr));

  auto alloc = [&](Type elem, ValueRange sizes) -> Value {
    SmallVector<int64_t> shape(sizes.size(), ShapedType::kDynamic);
    return memref::AllocOp::create(b, loc, MemRefType::get(shape, elem), sizes,
                                   b.getI64IntegerAttr(64));
  };
  auto fillZero = [&](Value buf, Type elem) {
    linalg::FillOp::create(b, loc,
                           ValueRange{arith::ConstantOp::create(
                               b, loc, elem, b.getZeroAttr(elem))},
                           ValueRange{buf});
  };

  // Pack X into row panels, k blocks outermost
  // ([Kp / KC][Mp / MR][KC / KU][MR][KU]): the microkernel reads one
  // contiguous stream and a thread's block is contiguous (no cache-set
  // conflicts between rows or panels).
  // Padding must be zero; there is none when the sizes are static
  // multiples of the tile and of the k step, and every element is written.
  SmallVector<int64_t, 4> staticRanges = op.getStaticLoopRanges();
  auto divides = [](int64_t size, int64_t by) {
    return !ShapedType::isDynamic(size) && size % by == 0;
  };
  bool kWhole = divides(staticRanges[2], kStep);
  Type xElem = packedType(true);
  Value aBuf = alloc(xElem, {mul(mp, kp)});
  if (!kWhole || !divides(staticRanges[0], t.mr))
    fillZero(aBuf, xElem);
  // With a shifted Y (Y = a - z), the row sums of X for the correction.
  Value rowSums;
  if (m.yShift)
    rowSums = alloc(b.getI32Type(), {mp});
  // Full row panels of an X read contiguously along k are packed with
  // vectors, 32 bytes of k at a time; the rows of a partial last panel and
  // the last k values (fewer than a chunk) are packed element by element.
  const int64_t chunk = xChunk();
  bool vectorX = canVectorize(/*isX=*/true) && t.kc % chunk == 0;
  aBufForPacking = aBuf;
  // Packs X[row, k] for k in [kBegin, kSize), adding to `sum` (rowSums).
  auto packXRowScalar = [&](OpBuilder &ob, Location l, Value row, Value kBegin,
                            Value sum) -> Value {
    Value rowPanel = arith::DivSIOp::create(
        ob, l, row, arith::ConstantIndexOp::create(ob, l, t.mr));
    Value rowLane = arith::RemSIOp::create(
        ob, l, row, arith::ConstantIndexOp::create(ob, l, t.mr));
    SmallVector<Value> init;
    if (sum)
      init.push_back(sum);
    auto loop = scf::ForOp::create(
        ob, l, kBegin, kSize, one, init,
        [&](OpBuilder &fb, Location l2, Value k, ValueRange iter) {
          Value xv = evaluate(fb, true, row, zero, k);
          Value off = packedOffset(fb, l2, k, rowPanel, rowLane, true);
          memref::StoreOp::create(fb, l2, toPacked(fb, xv, true), aBuf,
                                  ValueRange{off});
          if (sum)
            scf::YieldOp::create(
                fb, l2, Value(arith::AddIOp::create(fb, l2, iter[0], xv)));
          else
            scf::YieldOp::create(fb, l2);
        });
    return sum ? loop.getResult(0) : Value();
  };
  auto zeroI32 = [](OpBuilder &ob, Location l) -> Value {
    return arith::ConstantOp::create(ob, l, ob.getI32IntegerAttr(0));
  };
  Value rowPanels = arith::CeilDivSIOp::create(b, loc, mSize, idx(t.mr));
  parallelFor(
      b, loc, ValueRange{zero}, ValueRange{rowPanels}, ValueRange{one},
      [&](OpBuilder &pb, Location l, ValueRange ivs) {
        Value panel = ivs[0];
        Value rowBase = arith::MulIOp::create(
            pb, l, panel, arith::ConstantIndexOp::create(pb, l, t.mr));
        Value rowEnd = arith::MinSIOp::create(
            pb, l,
            arith::AddIOp::create(pb, l, rowBase,
                                  arith::ConstantIndexOp::create(pb, l, t.mr)),
            mSize);
        auto packRows = [&](OpBuilder &ob, Location l2) {
          scf::ForOp::create(
              ob, l2, rowBase, rowEnd, arith::ConstantIndexOp::create(ob, l2, 1),
              {}, [&](OpBuilder &rb, Location l3, Value row, ValueRange) {
                Value sum = packXRowScalar(
                    rb, l3, row, arith::ConstantIndexOp::create(rb, l3, 0),
                    rowSums ? zeroI32(rb, l3) : Value());
                if (rowSums)
                  memref::StoreOp::create(rb, l3, sum, rowSums,
                                          ValueRange{row});
                scf::YieldOp::create(rb, l3);
              });
        };
        if (!vectorX) {
          packRows(pb, l);
          return;
        }
        Value full = arith::CmpIOp::create(
            pb, l, arith::CmpIPredicate::eq,
            arith::SubIOp::create(pb, l, rowEnd, rowBase),
            arith::ConstantIndexOp::create(pb, l, t.mr));
        auto ifOp = scf::IfOp::create(pb, l, full, /*withElse=*/true);
        OpBuilder tb = ifOp.getThenBodyBuilder();
        Value kVecEnd = arith::MulIOp::create(
            tb, l,
            arith::DivSIOp::create(tb, l, kSize,
                                   arith::ConstantIndexOp::create(tb, l, chunk)),
            arith::ConstantIndexOp::create(tb, l, chunk));
        SmallVector<Value> accs;
        auto accType = VectorType::get({chunk}, tb.getI32Type());
        if (rowSums)
          for (int64_t i = 0; i < t.mr; ++i)
            accs.push_back(arith::ConstantOp::create(tb, l, accType,
                                                     tb.getZeroAttr(accType)));
        packXPanelVector(tb, l, panel, kVecEnd, rowSums ? &accs : nullptr);
        for (int64_t i = 0; i < t.mr; ++i) {
          Value row = arith::AddIOp::create(
              tb, l, rowBase, arith::ConstantIndexOp::create(tb, l, i));
          Value sum;
          if (rowSums)
            sum = vector::ReductionOp::create(tb, l, vector::CombiningKind::ADD,
                                              accs[i]);
          sum = packXRowScalar(tb, l, row, kVecEnd, sum);
          if (rowSums)
            memref::StoreOp::create(tb, l, sum, rowSums, ValueRange{row});
        }
        OpBuilder eb = ifOp.getElseBodyBuilder();
        packRows(eb, l);
      });

  // Pack Y into column panels the same way ([Kp / KC][Np / NR][KC / KU][NR]
  // [KU]), with column sums for the bias.
  // A constant Y (weights) is packed once, at compile time.
  Type yElem = packedType(false);
  bool withSums = biasX || m.xShift;
  Value bBuf, colSums;
  bool constantY = packConstantY(withSums, bBuf, colSums);
  // Full column tiles of a Y read contiguously along n are packed with
  // vectors, padding past K included; the scalar loop packs a partial
  // last tile into a zeroed buffer.
  bool vectorY = !constantY && canVectorize(/*isX=*/false);
  bool wholeTiles = divides(staticRanges[1], t.nr);
  if (!constantY) {
    bBuf = alloc(yElem, {mul(np, kp)});
    if (vectorY ? !wholeTiles : (!kWhole || !wholeTiles))
      fillZero(bBuf, yElem);
    if (withSums) {
      colSums = alloc(b.getI32Type(), {np});
      fillZero(colSums, b.getI32Type());
    }
  }
  bBufForPacking = bBuf;
  auto packYTileScalar = [&](OpBuilder &ob, Location l, Value tile) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ob.getInsertionBlock(), ob.getInsertionPoint());
    Value nBase = mul(tile, idx(t.nr));
    Value count = min(idx(t.nr), arith::SubIOp::create(b, l, nSize, nBase));
    scf::ForOp::create(
        b, l, zero, kSize, one, {},
        [&](OpBuilder &kb, Location l2, Value k, ValueRange) {
          scf::ForOp::create(
              kb, l2, zero, count, one, {},
              [&](OpBuilder &jb, Location l3, Value j, ValueRange) {
                Value n = arith::AddIOp::create(jb, l3, nBase, j);
                Value y = evaluate(jb, false, zero, n, k);
                Value off = packedOffset(jb, l3, k, tile, j, false);
                memref::StoreOp::create(jb, l3, toPacked(jb, y, false), bBuf,
                                        ValueRange{off});
                if (colSums) {
                  Value s =
                      memref::LoadOp::create(jb, l3, colSums, ValueRange{n});
                  s = arith::AddIOp::create(jb, l3, s, y);
                  memref::StoreOp::create(jb, l3, s, colSums, ValueRange{n});
                }
                scf::YieldOp::create(jb, l3);
              });
          scf::YieldOp::create(kb, l2);
        });
  };
  if (!constantY && !vectorY)
    parallelFor(b, loc, ValueRange{zero}, ValueRange{tiles}, ValueRange{one},
                [&](OpBuilder &pb, Location l, ValueRange ivs) {
                  packYTileScalar(pb, l, ivs[0]);
                });
  if (!constantY && vectorY) {
    // Groups of column tiles in parallel; in each, blocks of kYBlockRows
    // values of k, each tile of the group in turn. A row of Y is then read
    // a group's width at a time, and a block's rows stay in the TLB and the
    // caches while its tiles are packed: read one tile's NR elements per
    // row at a time, down all of K, a 4096-wide i8 Y touched a new page on
    // every load and packed at 2.8 GB/s. A group is up to 32 tiles, with
    // at least 4 groups (for the threads) when the width is static.
    int64_t groupTiles = 8;
    if (!ShapedType::isDynamic(staticRanges[1]))
      groupTiles = std::clamp<int64_t>(
          llvm::divideCeil(llvm::divideCeil(staticRanges[1], t.nr), 4), 1, 32);
    constexpr int64_t kYBlockRows = 16;
    Value fullTiles = arith::DivSIOp::create(b, loc, nSize, idx(t.nr));
    Value groups = arith::CeilDivSIOp::create(b, loc, tiles, idx(groupTiles));
    Value kqEnd = arith::DivSIOp::create(b, loc, kp, idx(t.ku));
    int64_t kqBlock = std::max<int64_t>(kYBlockRows / t.ku, 1);
    parallelFor(
        b, loc, ValueRange{zero}, ValueRange{groups}, ValueRange{one},
        [&](OpBuilder &pb, Location l, ValueRange ivs) {
          auto cst = [&](OpBuilder &ob, int64_t v) {
            return arith::ConstantIndexOp::create(ob, l, v);
          };
          Value first =
              arith::MulIOp::create(pb, l, ivs[0], cst(pb, groupTiles));
          Value end = arith::MinSIOp::create(
              pb, l, arith::AddIOp::create(pb, l, first, cst(pb, groupTiles)),
              fullTiles);
          scf::ForOp::create(
              pb, l, cst(pb, 0), kqEnd, cst(pb, kqBlock), {},
              [&](OpBuilder &kb, Location, Value kq, ValueRange) {
                Value kqStop = arith::MinSIOp::create(
                    kb, l, arith::AddIOp::create(kb, l, kq, cst(kb, kqBlock)),
                    kqEnd);
                scf::ForOp::create(
                    kb, l, first, end, cst(kb, 1), {},
                    [&](OpBuilder &tb, Location, Value tile, ValueRange) {
                      packYTileVector(tb, l, tile, kSize, colSums, kq, kqStop);
                      scf::YieldOp::create(tb, l);
                    });
                scf::YieldOp::create(kb, l);
              });
          if (wholeTiles)
            return;
          // The partial last tile, in the group holding it.
          Value last = arith::CmpIOp::create(
              pb, l, arith::CmpIPredicate::eq,
              arith::AddIOp::create(pb, l, ivs[0], cst(pb, 1)), groups);
          Value partial = arith::CmpIOp::create(
              pb, l, arith::CmpIPredicate::slt, fullTiles, tiles);
          auto ifOp = scf::IfOp::create(
              pb, l, arith::AndIOp::create(pb, l, last, partial),
              /*withElse=*/false);
          OpBuilder tb = ifOp.getThenBodyBuilder();
          packYTileScalar(tb, l, fullTiles);
        });
  }

  // The accumulator: the output itself when it is tile-aligned and
  // contiguous, else a zero-padded copy.
  std::optional<int64_t> sm = getConstantIntValue(ranges[0].size),
                         sn = getConstantIntValue(ranges[1].size);
  bool inPlace = cType.getLayout().isIdentity() && sm && sn &&
                 *sm % t.mr == 0 && *sn % t.nr == 0;
  Value cBuf = c;
  // sum (x + 128) y = sum x y + 128 sum y, sum (a - z) y = sum a y -
  // z sum y: start from acc - (128 + z) sum y (modular i32, exact).
  Value colShift;
  if (colSums) {
    colShift =
        arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(biasX ? 128 : 0));
    if (m.xShift)
      colShift = arith::AddIOp::create(
          b, loc, colShift,
          evaluate(b, m.zArgs, m.zOps, m.xShift, zero, zero, zero));
  }
  if (inPlace && !rowSums && zeroFill) {
    zeroFill->erase();
    zeroInit = true;
    if (colSums) {
      // The correction becomes the first k block's initial accumulators
      // (one vector per column panel) instead of a pass over the output.
      colInit = alloc(b.getI32Type(), {np});
      scf::ForOp::create(
          b, loc, zero, np, one, {},
          [&](OpBuilder &fb, Location l, Value n, ValueRange) {
            Value s = memref::LoadOp::create(fb, l, colSums, ValueRange{n});
            s = arith::SubIOp::create(
                fb, l, arith::ConstantOp::create(fb, l, fb.getI32IntegerAttr(0)),
                arith::MulIOp::create(fb, l, s, colShift));
            memref::StoreOp::create(fb, l, s, colInit, ValueRange{n});
            scf::YieldOp::create(fb, l);
          });
    }
  }
  auto forEachOutput =
      [&](function_ref<void(OpBuilder &, Location, Value, Value)> fn) {
        parallelFor(b, loc, ValueRange{zero}, ValueRange{mSize},
                    ValueRange{one},
                    [&](OpBuilder &pb, Location l, ValueRange ivs) {
                      scf::ForOp::create(
                          pb, l, zero, nSize, one, {},
                          [&](OpBuilder &fb, Location l2, Value n, ValueRange) {
                            fn(fb, l2, ivs[0], n);
                            scf::YieldOp::create(fb, l2);
                          });
                    });
      };
  if (!inPlace) {
    // The padding of the copy needs no clearing: it only ever flows into
    // padding elements, which are dropped.
    cBuf = memref::AllocOp::create(
        b, loc,
        MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic}, accElem),
        ValueRange{mp, np}, b.getI64IntegerAttr(64));
    forEachOutput([&](OpBuilder &fb, Location l, Value mi, Value ni) {
      Value v = memref::LoadOp::create(fb, l, c, ValueRange{mi, ni});
      memref::StoreOp::create(fb, l, v, cBuf, ValueRange{mi, ni});
    });
  }
  // acc[m, n] -= shift * sums[m] (byRow) or shift * sums[n].
  auto subtractScaledSums = [&](Value sums, Value shift, bool byRow) {
    forEachOutput([&](OpBuilder &fb, Location l, Value mi, Value ni) {
      Value v = memref::LoadOp::create(fb, l, cBuf, ValueRange{mi, ni});
      Value s = memref::LoadOp::create(fb, l, sums,
                                       ValueRange{byRow ? mi : ni});
      s = arith::MulIOp::create(fb, l, s, shift);
      v = arith::SubIOp::create(fb, l, v, s);
      memref::StoreOp::create(fb, l, v, cBuf, ValueRange{mi, ni});
    });
  };
  if (colSums && !colInit)
    subtractScaledSums(colSums, colShift, /*byRow=*/false);

  if (rowSums) {
    // sum x (a - z) = sum x a - z sum x: start from acc - z * (row sums).
    Value shift = evaluate(b, m.yzArgs, m.yzOps, m.yShift, zero, zero, zero);
    subtractScaledSums(rowSums, shift, /*byRow=*/true);
  }

  // Output tiles in parallel; in each: k blocks, register-tile columns,
  // register-tile rows.
  parallelFor(
      b, loc, ValueRange{zero, zero}, ValueRange{mp, np},
      ValueRange{idx(t.mc), idx(t.nc)},
      [&](OpBuilder &pb, Location l, ValueRange ivs) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(pb.getInsertionBlock(), pb.getInsertionPoint());
        Value ic = ivs[0], jc = ivs[1];
        Value mEnd = min(add(ic, idx(t.mc)), mp);
        Value nEnd = min(add(jc, idx(t.nc)), np);
        scf::ForOp::create(
            b, l, zero, kp, idx(t.kc), {},
            [&](OpBuilder &kb, Location, Value pc, ValueRange) {
              b.setInsertionPoint(kb.getInsertionBlock(),
                                  kb.getInsertionPoint());
              Value kEnd = min(add(pc, idx(t.kc)), kp);
              scf::ForOp::create(
                  b, l, jc, nEnd, idx(t.nr), {},
                  [&](OpBuilder &jb, Location, Value jr, ValueRange) {
                    b.setInsertionPoint(jb.getInsertionBlock(),
                                        jb.getInsertionPoint());
                    Value tile = arith::DivSIOp::create(b, l, jr, idx(t.nr));
                    scf::ForOp::create(
                        b, l, ic, mEnd, idx(t.mr), {},
                        [&](OpBuilder &ib, Location, Value ir, ValueRange) {
                          b.setInsertionPoint(ib.getInsertionBlock(),
                                              ib.getInsertionPoint());
                          emitKernel(aBuf, bBuf, cBuf, kp, tile, ir, jr, pc,
                                     kEnd);
                          scf::YieldOp::create(b, l);
                        });
                    scf::YieldOp::create(b, l);
                  });
              scf::YieldOp::create(b, l);
            });
      });

  if (!inPlace) {
    forEachOutput([&](OpBuilder &fb, Location l, Value mi, Value ni) {
      Value v = memref::LoadOp::create(fb, l, cBuf, ValueRange{mi, ni});
      memref::StoreOp::create(fb, l, v, c, ValueRange{mi, ni});
    });
    memref::DeallocOp::create(b, loc, cBuf);
  }
  memref::DeallocOp::create(b, loc, aBuf);
  if (colInit)
    memref::DeallocOp::create(b, loc, colInit);
  if (rowSums)
    memref::DeallocOp::create(b, loc, rowSums);
  if (!constantY) {
    memref::DeallocOp::create(b, loc, bBuf);
    if (colSums)
      memref::DeallocOp::create(b, loc, colSums);
  }
  op.erase();
}

/// Bytes of L2 cache per core: `option` when positive, else the host's
/// (sysconf), else 512 KiB.
static int64_t l2CacheBytes(int64_t option) {
  if (option > 0)
    return option;
#ifdef _SC_LEVEL2_CACHE_SIZE
  long host = sysconf(_SC_LEVEL2_CACHE_SIZE);
  if (host > 0)
    return host;
#endif
  return 512 * 1024;
}

/// A batched matrix product: a bufferized generic with iterators
/// [parallel, parallel, parallel, reduction], output map (b, m, n), a body
/// that adds a product to the accumulator, and every memref operand
/// indexed by the batch dimension b in its first dimension only
/// (linalg.batch_matmul generalized, attention's Q K^T and P V). matchGemm
/// checks the body in full on each batch element's product.
static bool isBatchedProduct(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumLoops() != 4)
    return false;
  Block *body = op.getBody();
  Operation *add = body->getTerminator()->getNumOperands() == 1
                       ? body->getTerminator()->getOperand(0).getDefiningOp()
                       : nullptr;
  if (!add || !isa<arith::AddFOp, arith::AddIOp>(add) ||
      !llvm::any_of(add->getOperands(), [](Value v) {
        return isa_and_nonnull<arith::MulFOp, arith::MulIOp>(v.getDefiningOp());
      }))
    return false;
  auto iters = op.getIteratorTypesArray();
  if (iters[0] != utils::IteratorType::parallel ||
      iters[1] != utils::IteratorType::parallel ||
      iters[2] != utils::IteratorType::parallel ||
      iters[3] != utils::IteratorType::reduction)
    return false;
  MLIRContext *ctx = op.getContext();
  OpOperand *out = op.getDpsInitOperand(0);
  if (op.getMatchingIndexingMap(out) !=
      AffineMap::getMultiDimIdentityMap(4, ctx).getMajorSubMap(3))
    return false;
  for (OpOperand &operand : op->getOpOperands()) {
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    if (!type)
      continue; // A scalar input.
    AffineMap map = op.getMatchingIndexingMap(&operand);
    if (type.getRank() < 2 || map.getNumResults() == 0 ||
        map.getResult(0) != getAffineDimExpr(0, ctx))
      return false;
    for (AffineExpr e : map.getResults().drop_front())
      if (e.isFunctionOfDim(0))
        return false;
  }
  return true;
}

/// Rewrites a batched product into a loop over the batch of the 2-D
/// product on each batch element's rank-reduced views, which matchGemm then
/// recognises. The loop is an scf.parallel (OpenMP) when each product is
/// too small (fewer than `minParallelWork` multiply-adds) to run in
/// parallel itself, else an scf.for around the parallel products. Returns
/// the inner generic.
static linalg::GenericOp unbatchProduct(linalg::GenericOp op,
                                        int64_t minParallelWork) {
  MLIRContext *ctx = op.getContext();
  OpBuilder b(op);
  Location loc = op.getLoc();
  SmallVector<int64_t, 4> ranges = op.getStaticLoopRanges();
  bool innerParallel = llvm::any_of(ranges, ShapedType::isDynamic) ||
                       ranges[1] * ranges[2] * ranges[3] >= minParallelWork;
  SmallVector<Range> loops =
      cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value batch = getValueOrCreateConstantIndexOp(b, loc, loops[0].size);
  linalg::GenericOp inner;
  auto body = [&](OpBuilder &lb, Location l, Value i) {
    SmallVector<Value> views;
    SmallVector<AffineMap> maps;
    for (OpOperand &operand : op->getOpOperands()) {
      Value v = operand.get();
      AffineMap map = op.getMatchingIndexingMap(&operand);
      // The map without the batch dimension: results 1.., dims 1.. -> 0..
      SmallVector<AffineExpr> results;
      for (AffineExpr e :
           map.getResults().drop_front(isa<MemRefType>(v.getType()) ? 1 : 0))
        results.push_back(e.shiftDims(4, -1, 1));
      maps.push_back(AffineMap::get(3, 0, results, ctx));
      auto type = dyn_cast<MemRefType>(v.getType());
      if (!type) {
        views.push_back(v);
        continue;
      }
      int64_t rank = type.getRank();
      SmallVector<OpFoldResult> offsets(rank, lb.getIndexAttr(0));
      offsets[0] = i;
      SmallVector<OpFoldResult> sizes = memref::getMixedSizes(lb, l, v);
      sizes[0] = lb.getIndexAttr(1);
      SmallVector<OpFoldResult> strides(rank, lb.getIndexAttr(1));
      SmallVector<int64_t> shape(type.getShape().drop_front());
      auto viewType = memref::SubViewOp::inferRankReducedResultType(
          shape, type, offsets, sizes, strides);
      views.push_back(memref::SubViewOp::create(
          lb, l, cast<MemRefType>(viewType), v, offsets, sizes, strides));
    }
    unsigned numInputs = op.getNumDpsInputs();
    inner = linalg::GenericOp::create(
        lb, l, TypeRange{}, ArrayRef(views).take_front(numInputs),
        ArrayRef(views).drop_front(numInputs), maps,
        ArrayRef(op.getIteratorTypesArray()).drop_front());
    IRMapping mapping;
    op.getRegion().cloneInto(&inner.getRegion(), mapping);
  };
  if (innerParallel) {
    scf::ForOp::create(b, loc, zero, batch, one, {},
                       [&](OpBuilder &fb, Location l, Value i, ValueRange) {
                         body(fb, l, i);
                         scf::YieldOp::create(fb, l);
                       });
  } else {
    scf::ParallelOp::create(b, loc, ValueRange{zero}, ValueRange{batch},
                            ValueRange{one},
                            [&](OpBuilder &pb, Location l, ValueRange ivs) {
                              body(pb, l, ivs[0]);
                            });
  }
  op->erase();
  return inner;
}

struct CPUGemmPass : public quantx::impl::CPUGemmBase<CPUGemmPass> {
  using CPUGemmBase::CPUGemmBase;

  void runOnOperation() override {
    SmallVector<std::string> features = resolveTargetFeatures(targetFeatures);
    llvm::StringSet<> has;
    for (const std::string &f : features)
      has.insert(f);
    bool avx2 = has.contains("avx2");
    bool vnni = has.contains("avxvnni") ||
                (has.contains("avx512vnni") && has.contains("avx512vl"));
    // 512-bit tiles where the target has AVX-512 (the foundation for f32,
    // and VNNI for vpdpbusd on zmm), unless `vector-bits` says otherwise.
    if (vectorBits != 0 && vectorBits != 256 && vectorBits != 512) {
      emitError(getOperation().getLoc(),
                "quantx-cpu-gemm: vector-bits must be 0, 256 "
                "or 512, not ")
          << int64_t(vectorBits);
      return signalPassFailure();
    }
    bool avx512f = has.contains("avx512f");
    bool vnni512 = has.contains("avx512vnni") && has.contains("avx512bw");
    if (vectorBits == 512 && !avx512f) {
      emitError(getOperation().getLoc(),
                "quantx-cpu-gemm: vector-bits=512 needs a target with avx512f");
      return signalPassFailure();
    }
    bool wideF32 = vectorBits == 512 || (vectorBits == 0 && avx512f);
    bool wideVNNI = vnni512 && wideF32;

    SymbolTable symbols(getOperation());
    SmallVector<linalg::GenericOp> ops;
    getOperation().walk([&](linalg::GenericOp op) { ops.push_back(op); });
    // Batched products become loops of 2-D products first.
    for (linalg::GenericOp &op : ops)
      if (isBatchedProduct(op))
        op = unbatchProduct(op, minParallelWork);
    for (linalg::GenericOp op : ops) {
      std::optional<GemmMatch> match = matchGemm(op, useVNNI && vnni);
      if (!match)
        continue;
      SmallVector<int64_t, 4> staticRanges = op.getStaticLoopRanges();
      if (!ShapedType::isDynamic(staticRanges[0]) && staticRanges[0] < minRows)
        continue;
      GemmKind kind;
      Tiling tl;
      // The 512-bit tiles have 16 zmm accumulators (8 rows of two, or for
      // vpdpbusd 4 rows of four): 16 independent chains (of the 32 vector
      // registers), enough to cover the latency of two FMA (or vpdpbusd, 5
      // cycles) pipes; the 256-bit tiles 6 rows (12 of the 16 registers).
      if (match->isFloat) {
        kind = GemmKind::F32;
        tl = {/*mr=*/6, /*nr=*/16, /*mc=*/96,   /*nc=*/256, /*kc=*/256,
              /*vl=*/8, /*ku=*/1,  /*unroll=*/4};
        if (wideF32)
          tl.mr = 8, tl.nr = 32, tl.vl = 16;
      } else if (useVNNI && vnni && match->xRange.lo >= -128 &&
                 match->xRange.hi <= 255 &&
                 (match->xRange.lo >= 0 || match->xRange.hi <= 127) &&
                 match->yRange.lo >= -128 && match->yRange.hi <= 127) {
        kind = GemmKind::VNNI;
        tl = {/*mr=*/6, /*nr=*/16, /*mc=*/96,   /*nc=*/256, /*kc=*/512,
              /*vl=*/8, /*ku=*/4,  /*unroll=*/2};
        // On zmm: 4 rows of four accumulators (16 chains) take 8 loads
        // (4 broadcasts of X, 4 vectors of Y) per 16 vpdpbusd, where 8 rows
        // of two take 10; 1024^3 and 512x4096x4096 ran 6-10 % faster. A
        // width that the wider tile would pad by more than a half (N = 10,
        // 96, ...) keeps two accumulators a row.
        if (wideVNNI) {
          tl.mr = 4, tl.nr = 64, tl.vl = 16;
          if (!ShapedType::isDynamic(staticRanges[1]) &&
              staticRanges[1] % 64 != 0 && staticRanges[1] % 64 <= 32)
            tl.mr = 8, tl.nr = 32;
        }
      } else {
        kind = avx2 ? GemmKind::PMaddWD : GemmKind::I16Generic;
        tl = {/*mr=*/6, /*nr=*/16, /*mc=*/96,   /*nc=*/256, /*kc=*/256,
              /*vl=*/8, /*ku=*/2,  /*unroll=*/2};
      }
      // The largest smaller tile, down to 3 rows (fewer chains, still
      // enough to hide most of the multiply latency), that divides a static
      // row count the default does not: the kernel then accumulates in
      // place, without a zero-filled padded copy of the output. (A 255-row
      // product, a language model's window, took 2.2 ms with the padded
      // copy at 6 rows and 1.2 to 1.4 ms in place at 5.)
      if (!ShapedType::isDynamic(staticRanges[0]) &&
          staticRanges[0] % tl.mr != 0) {
        for (int64_t rows = tl.mr - 1; rows >= 3; --rows)
          if (staticRanges[0] % rows == 0) {
            tl.mr = rows;
            break;
          }
      }
      // Fewer static rows than the tile (batch-1 and other matrix-vector
      // shapes): a tile of exactly those rows, accumulated in place.
      if (!ShapedType::isDynamic(staticRanges[0]) && staticRanges[0] > 0 &&
          staticRanges[0] < tl.mr)
        tl.mr = staticRanges[0];
      if (mr > 0)
        tl.mr = mr;
      if (nr > 0)
        tl.nr = nr;
      if (mc > 0) {
        tl.mc = mc;
      } else {
        // The lhs block (MC x KC packed values) reused across a thread's
        // column tiles takes half of the L2 cache: every row of it saves
        // a pass of the rhs over the memory hierarchy (with 96 rows the
        // 512x4096x4096 int8 product streamed its 32 MiB packed rhs from
        // DRAM six times and ran 25 % slower).
        int64_t bytes = kind == GemmKind::F32    ? 4
                        : kind == GemmKind::VNNI ? 1
                                                 : 2;
        int64_t kcNow = kc > 0 ? int64_t(kc) : tl.kc;
        int64_t rows = l2CacheBytes(l2Cache) / 2 / (kcNow * bytes);
        tl.mc = std::max<int64_t>(rows / tl.mr, 1) * tl.mr;
      }
      if (nc > 0)
        tl.nc = nc;
      if (kc > 0)
        tl.kc = kc;
      // At least two output tiles for the threads when the static shape
      // fits in one: halve the column (else row) block.
      if (nc == 0 && mc == 0 && !ShapedType::isDynamic(staticRanges[0]) &&
          !ShapedType::isDynamic(staticRanges[1]) && staticRanges[0] <= tl.mc &&
          staticRanges[1] <= tl.nc) {
        if (staticRanges[1] > tl.nr)
          tl.nc =
              llvm::divideCeil(llvm::divideCeil(staticRanges[1], 2), tl.nr) *
              tl.nr;
        else if (staticRanges[0] > tl.mr)
          tl.mc =
              llvm::divideCeil(llvm::divideCeil(staticRanges[0], 2), tl.mr) *
              tl.mr;
      }
      // Keep the blocks whole multiples of the tiles and k steps.
      int64_t kStep = tl.ku * tl.unroll;
      if (tl.nr % tl.vl != 0 || tl.mc % tl.mr != 0 || tl.nc % tl.nr != 0 ||
          tl.kc % kStep != 0) {
        op.emitError("quantx-cpu-gemm: tile sizes must satisfy nr % ")
            << tl.vl << " == 0, mc % mr == 0, nc % nr == 0, kc % " << kStep
            << " == 0";
        return signalPassFailure();
      }
      // Fork/join costs more than it saves on small products (and far
      // more when the cores are busy): those run on the calling thread.
      bool parallel = true;
      if (!ShapedType::isDynamic(staticRanges[0]) &&
          !ShapedType::isDynamic(staticRanges[1]) &&
          !ShapedType::isDynamic(staticRanges[2]))
        parallel = staticRanges[0] * staticRanges[1] * staticRanges[2] >=
                   minParallelWork;
      GemmEmitter(*match, kind, tl, symbols, parallel).emit();
    }
    // Reads of weights now packed at compile time are dead: erase them so
    // that symbol-dce can drop the original globals.
    getOperation().walk([](memref::GetGlobalOp get) {
      if (get->use_empty())
        get->erase();
    });
  }
};

} // namespace
