//===- WeightOnlyGEMV.cpp - Packed weight-only GEMV kernels ---------------===//
//
// quantx-pack-weight-only: chooses the packed layout for the weights of
// weight-only matmuls (4/8-bit, grouped along K), packs constant weights at
// compile time, optionally turns weight arguments into packed arguments, and
// replaces each matmul by a call of a GEMV / small-batch kernel generated
// per shape in the vector dialect: with f32 activations over "n8" (widen,
// convert, FMA over 8-row tiles), or with `activations=int8` over "n8k8"
// (activations quantized per group on each call, vpmaddubsw/vpmaddwd
// integer dot products, a per-group f32 rescale); scf.parallel over tiles
// lowered to OpenMP for large weights.
//
//===----------------------------------------------------------------------===//

#include "quantx/Codegen/TargetFeatures.h"
#include "quantx/Conversion/Passes.h"
#include "quantx/Dialect/QuantX/IR/QuantX.h"
#include "quantx/Quant/WeightOnlyPacking.h"

#include "mlir/Conversion/SCFToOpenMP/SCFToOpenMP.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/StringExtras.h"

namespace mlir::quantx {
#define GEN_PASS_DEF_QUANTXPACKWEIGHTONLY
#include "quantx/Conversion/Passes.h.inc"
} // namespace mlir::quantx

using namespace mlir;
using namespace mlir::quantx;

namespace {

constexpr int64_t kTile = ::quantx::WeightOnlyLayout::kTile;
constexpr int64_t kMaxRows = 8;
/// Blocks of rows run on threads when together they read at least this
/// many bytes of packed weights (and the kernel is not threaded itself).
constexpr int64_t kRowParallelMinBytes = 64 * 1024;
/// Rows of one int8 kernel call on weights of at least kInt8PanelMinBytes
/// (more than a core's L2 cache holds): it runs its blocks of kMaxRows rows
/// inside each tile of weights, so that the tile is read from memory once
/// for all of them, while their quantized activations stay in cache.
/// Smaller weights stay in cache between blocks of rows anyway; there one
/// call per block, on threads over the blocks, measured faster.
constexpr int64_t kInt8PanelRows = 64;
constexpr int64_t kInt8PanelMinBytes = 1 << 20;
/// Default software-prefetch distance of the int8-activation kernels: on
/// weights streamed from DRAM, 2-8 KiB ahead measured 10-30% faster than
/// the hardware prefetchers alone on the reference AVX2 machine.
constexpr int64_t kInt8Prefetch = 4096;
/// Kernels this pass generates are named after this prefix and the shape.
constexpr llvm::StringLiteral kKernelPrefix = "__quantx_wo_gemv";

/// Where the weights and their parameters come from.
enum class Source { Constant, Argument };

/// Everything the rewrite of one matmul needs.
struct Plan {
  ::quantx::WeightOnlyLayout layout;
  int64_t m = 0;      // rows of the kernel: all rows, or blocks of kMaxRows
  int64_t rows = 0;   // rows of the activations
  bool nMajor = true; // rhs is [N, K] (transpose_rhs).
  Source source = Source::Constant;
  Type scaleElement; // f32 or f16
  Value weights;     // the quantized rhs
  Value scales, offsets;
  DenseElementsAttr staticScales; // scales in the weight type (or null)
  Value bias; // f32 or f16 [N], added after the product (or null)
  bool relu = false;
  /// int8 kernel: dot products with vpdpbusd (AVX-VNNI / AVX512-VNNI).
  bool vnni = false;
};

/// The layout's offset kind for a uniform type.
::quantx::WeightOffsetKind offsetKindOf(UniformType q) {
  switch (q.getOffsetKind()) {
  case OffsetKind::none:
    return ::quantx::WeightOffsetKind::None;
  case OffsetKind::zero_point:
    return ::quantx::WeightOffsetKind::ZeroPoint;
  case OffsetKind::add_min:
    return ::quantx::WeightOffsetKind::AddMin;
  case OffsetKind::sub_min:
    return ::quantx::WeightOffsetKind::SubMin;
  }
  return ::quantx::WeightOffsetKind::None;
}

/// The function argument `v` is, or null.
BlockArgument asFuncArgument(Value v) {
  auto arg = dyn_cast<BlockArgument>(v);
  if (!arg || !isa<func::FuncOp>(arg.getOwner()->getParentOp()) ||
      !arg.getOwner()->isEntryBlock())
    return nullptr;
  return arg;
}

/// Checks the shape and scheme of a weight-only matmul; on failure `why`
/// says what is not supported.
FailureOr<Plan> planMatmul(MatmulOp op, bool int8Activations, bool vnni,
                           bool mustFollow, int64_t f32MaxRows,
                           std::string &why) {
  auto fail = [&](const Twine &reason) -> FailureOr<Plan> {
    why = reason.str();
    return failure();
  };
  auto lhsType = dyn_cast<RankedTensorType>(op.getLhs().getType());
  auto rhsType = cast<RankedTensorType>(op.getRhs().getType());
  auto resultType = dyn_cast<RankedTensorType>(op.getType());
  if (!lhsType || !lhsType.getElementType().isF32())
    return fail("activations must be an f32 tensor");
  if (lhsType.getRank() != 2 || !lhsType.hasStaticShape() ||
      !rhsType.hasStaticShape())
    return fail("activations must be a static [M, K] matrix");
  if (!resultType || !resultType.getElementType().isF32())
    return fail("the result must be f32");
  if (op.getResultScale() || op.getResultOffset())
    return fail("a requantizing epilogue");
  if (Value bias = op.getBias()) {
    auto biasType = dyn_cast<RankedTensorType>(bias.getType());
    if (!biasType || biasType.getRank() != 1 ||
        !(biasType.getElementType().isF32() ||
          biasType.getElementType().isF16()))
      return fail("a bias that is not an f32 or f16 vector");
  }
  auto q = cast<UniformType>(rhsType.getElementType());
  unsigned bits = q.getStorageWidth();
  if (bits != 4 && bits != 8)
    return fail("weights of " + Twine(bits) + " bits (4 and 8 are packed)");
  if (q.getOffsets())
    return fail("static offsets in the weight type");
  auto staticScales = dyn_cast_or_null<DenseElementsAttr>(q.getScales());
  if (q.hasStaticParams() && !staticScales)
    return fail("static scales that are not a dense elements attribute");
  if (q.hasQuantizedScales() || q.hasQuantizedOffsets())
    return fail("quantized scales or offsets");
  bool nMajor = op.getTransposeRhs();
  int64_t kAxis = nMajor ? 1 : 0, nAxis = 1 - kAxis;
  int64_t group = 0;
  if (q.isPerAxis() && q.getAxes().size() == 1 && q.getAxes()[0] == nAxis) {
    // One scale per output feature: a single group of all of K (the
    // parameters have the same values in the same order as [N, 1]).
    group = lhsType.getDimSize(1);
  } else {
    if (!q.isPerBlock())
      return fail("weights neither grouped along K nor per output feature");
    for (auto [axis, size] : llvm::zip(q.getAxes(), q.getBlockSizes())) {
      if (axis == kAxis)
        group = size;
      else if (axis == nAxis && size != 1)
        return fail("groups spanning several output features");
    }
    if (group == 0 || !llvm::is_contained(q.getAxes(), nAxis))
      return fail("weights not grouped along K per output feature");
  }
  if (!staticScales && !op.getRhsScale())
    return fail("no rhs_scale operand");
  // Scales in the type (PTQ's weight-only modes) are packed from the
  // attribute, in the scale type.
  Type se =
      staticScales
          ? q.getScaleType()
          : cast<RankedTensorType>(op.getRhsScale().getType()).getElementType();
  if (!se.isF32() && !se.isF16())
    return fail("scales must be f32 or f16");
  if (!q.isSymmetric() && !op.getRhsOffset())
    return fail("no rhs_offset operand");

  if (lhsType.getDimSize(0) == 0)
    return fail("no rows (an empty product)");

  Plan p;
  p.bias = op.getBias();
  p.relu = op.getRelu();
  p.rows = lhsType.getDimSize(0);
  p.m = std::min(p.rows, kMaxRows);
  p.nMajor = nMajor;
  p.layout.bits = bits;
  p.layout.isSigned = q.getIsSigned();
  p.layout.k = lhsType.getDimSize(1);
  p.layout.n = rhsType.getDimSize(nAxis);
  p.layout.group = group;
  p.layout.scaleF16 = se.isF16();
  p.layout.offset = offsetKindOf(q);
  if (std::string reason = p.layout.check(); !reason.empty())
    return fail(reason);
  if (int8Activations) {
    // The int8-activation kernel where its layout applies, else the f32
    // one; a caller packing arguments must get the layout it asked for.
    // 8-bit weights only with vpdpbusd, and only as constants: whether the
    // target has it must not change the layout a caller packs.
    ::quantx::WeightOnlyLayout n8k8 = p.layout;
    n8k8.kind = ::quantx::WeightLayoutKind::N8K8;
    std::string reason = n8k8.check();
    if (reason.empty() && bits == 8 && (mustFollow || !vnni))
      reason = "the int8-activation kernels take 8-bit weights only as "
               "constants, on targets with vpdpbusd (AVX-VNNI or "
               "AVX512-VNNI)";
    if (reason.empty())
      p.layout = n8k8;
    else if (mustFollow)
      return fail(reason);
  }
  if (!mustFollow && p.layout.kind != ::quantx::WeightLayoutKind::N8K8 &&
      f32MaxRows >= 0 && p.rows > f32MaxRows)
    return fail("more rows than f32-max-rows: the GEMM, which dequantizes "
                "the weights once per call, is faster there");
  p.scaleElement = se;
  p.weights = op.getRhs();
  p.scales = op.getRhsScale();
  p.staticScales = staticScales;
  p.offsets = q.isSymmetric() ? Value() : op.getRhsOffset();
  return p;
}

/// Reads an integer or float elements attribute as floats.
FailureOr<SmallVector<float>> floatsOf(DenseElementsAttr attr) {
  SmallVector<float> out;
  if (auto f = dyn_cast<DenseFPElementsAttr>(attr)) {
    for (APFloat x : f.getValues<APFloat>()) {
      bool lost;
      x.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &lost);
      out.push_back(x.convertToFloat());
    }
    return out;
  }
  if (auto i = dyn_cast<DenseIntElementsAttr>(attr)) {
    for (const APInt &x : i.getValues<APInt>())
      out.push_back(float(x.getSExtValue()));
    return out;
  }
  return failure();
}

/// Reads a constant integer or float tensor as floats.
FailureOr<SmallVector<float>> floatsOf(Value v) {
  DenseElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)))
    return failure();
  return floatsOf(attr);
}

/// The integer constant behind quantized weights: a `quantx.scast` of an
/// integer constant, or a `quantx.constant` with one integer per element.
FailureOr<SmallVector<int32_t>> storageOf(Value weights, bool isSigned) {
  DenseIntElementsAttr attr;
  if (auto cast = weights.getDefiningOp<StorageCastOp>()) {
    if (!matchPattern(cast.getInput(), m_Constant(&attr)))
      return failure();
  } else if (auto cst = weights.getDefiningOp<ConstantOp>()) {
    attr = dyn_cast<DenseIntElementsAttr>(cst.getValue());
    if (!attr || cst.isPacked())
      return failure();
  } else {
    return failure();
  }
  SmallVector<int32_t> out;
  for (const APInt &x : attr.getValues<APInt>())
    out.push_back(isSigned ? int32_t(x.getSExtValue())
                           : int32_t(x.getZExtValue()));
  return out;
}

/// A `dense_resource` constant holding `bytes` as a tensor of `count`
/// elements of `element`.
Value resourceConstant(OpBuilder &b, Location loc, StringRef name, Type element,
                       int64_t count, ArrayRef<char> bytes, size_t align) {
  auto type = RankedTensorType::get({count}, element);
  AsmResourceBlob blob =
      HeapAsmResourceBlob::allocateAndCopyWithAlign(bytes, align);
  auto attr = DenseResourceElementsAttr::get(type, name, std::move(blob));
  return arith::ConstantOp::create(b, loc, type, attr);
}

/// A 1-D or 2-D memref type with a fully dynamic strided layout, the type
/// bufferization gives to function arguments.
MemRefType anyLayout(ArrayRef<int64_t> shape, Type element) {
  SmallVector<int64_t> strides(shape.size(), ShapedType::kDynamic);
  return MemRefType::get(shape, element,
                         StridedLayoutAttr::get(element.getContext(),
                                                ShapedType::kDynamic, strides));
}

/// Name of the kernel for a plan.
std::string kernelName(const Plan &p, bool parallel) {
  const auto &L = p.layout;
  std::string name = kKernelPrefix.str() + "_m" + std::to_string(p.m) + "_n" +
                     std::to_string(L.n) + "_k" + std::to_string(L.k) + "_g" +
                     std::to_string(L.group) + (L.isSigned ? "_i" : "_u") +
                     std::to_string(L.bits) + (L.scaleF16 ? "_f16" : "_f32");
  switch (L.offset) {
  case ::quantx::WeightOffsetKind::None:
    break;
  case ::quantx::WeightOffsetKind::ZeroPoint:
    name += "_zp";
    break;
  case ::quantx::WeightOffsetKind::AddMin:
    name += "_addmin";
    break;
  case ::quantx::WeightOffsetKind::SubMin:
    name += "_submin";
    break;
  }
  if (L.isN8K8())
    name += "_a8";
  if (p.vnni)
    name += "_vnni";
  if (parallel)
    name += "_par";
  return name;
}

/// A view of `m` with static unit-stride row-major strides and the same
/// (dynamic) offset: the kernel's buffers are contiguous.
Value contiguous(ImplicitLocOpBuilder &b, Value m) {
  auto type = cast<MemRefType>(m.getType());
  ArrayRef<int64_t> shape = type.getShape();
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t i = int64_t(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  auto md = memref::ExtractStridedMetadataOp::create(b, m);
  auto resultType = MemRefType::get(
      shape, type.getElementType(),
      StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides));
  SmallVector<OpFoldResult> sizes, strideValues;
  for (auto [size, stride] : llvm::zip(shape, strides)) {
    sizes.push_back(b.getIndexAttr(size));
    strideValues.push_back(b.getIndexAttr(stride));
  }
  return memref::ReinterpretCastOp::create(b, resultType, md.getBaseBuffer(),
                                           OpFoldResult(md.getOffset()), sizes,
                                           strideValues);
}

/// Runs `body` for each tile t in [lb, ub): an `scf.parallel` (OpenMP
/// threads, later) when `parallel`, else an `scf.for`.
static void
forEachTile(ImplicitLocOpBuilder &b, bool parallel, Value lb, Value ub,
            Value step,
            function_ref<void(OpBuilder &, Location, Value)> body) {
  if (parallel) {
    scf::ParallelOp::create(b, ValueRange{lb}, ValueRange{ub},
                            ValueRange{step},
                            [&](OpBuilder &ob, Location l, ValueRange ivs) {
                              body(ob, l, ivs[0]);
                            });
    return;
  }
  scf::ForOp::create(b, lb, ub, step, ValueRange{},
                     [&](OpBuilder &ob, Location l, Value t, ValueRange) {
                       body(ob, l, t);
                       scf::YieldOp::create(ob, l);
                     });
}

/// The kernel function of `p` (signature as documented at buildKernel),
/// private, with `b` at the start of its body, and its arguments: the
/// inputs as contiguous views, `c` null without offset terms.
struct KernelArgs {
  func::FuncOp func;
  Value x, w, s, c, out;
};

static KernelArgs createKernel(ModuleOp module, Location loc, const Plan &p,
                               StringRef name, ImplicitLocOpBuilder &b) {
  MLIRContext *ctx = module.getContext();
  const auto &L = p.layout;
  Type f32 = Float32Type::get(ctx), i8 = IntegerType::get(ctx, 8);
  SmallVector<Type> inputs = {anyLayout({p.m, L.k}, f32),
                              anyLayout({L.weightBytes()}, i8),
                              anyLayout({L.paramCount()}, p.scaleElement)};
  if (L.hasOffsetTerms())
    inputs.push_back(anyLayout({L.paramCount()}, f32));
  inputs.push_back(anyLayout({p.m, L.paddedN()}, f32));

  OpBuilder mb = OpBuilder::atBlockEnd(module.getBody());
  KernelArgs a;
  a.func =
      func::FuncOp::create(mb, loc, name, FunctionType::get(ctx, inputs, {}));
  a.func.setPrivate();
  Block *entry = a.func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  a.x = contiguous(b, entry->getArgument(0));
  a.w = contiguous(b, entry->getArgument(1));
  a.s = contiguous(b, entry->getArgument(2));
  if (L.hasOffsetTerms())
    a.c = contiguous(b, entry->getArgument(3));
  a.out = contiguous(b, entry->getArguments().back());
  return a;
}

/// Builds the kernel for `p`:
///   (x: memref<MxK>, w: memref<Bxi8>, s: memref<Pxf16|f32>,
///    [c: memref<Pxf32>], out: memref<MxNp>) -> ()
/// computing out[m, n] = sum_g s[n,g] * sum_{k in g} x[m,k] * u[n,k]
///                       + c[n,g] * sum_{k in g} x[m,k].
func::FuncOp buildKernel(ModuleOp module, Location loc, const Plan &p,
                         bool parallel, int64_t prefetchBytes, StringRef name) {
  MLIRContext *ctx = module.getContext();
  const auto &L = p.layout;
  const int64_t M = p.m, K = L.k, G = L.groups(), gs = L.group,
                P = L.paddedGroup(), Kp = L.paddedK(), T = L.tiles();
  Type f32 = Float32Type::get(ctx), i8 = IntegerType::get(ctx, 8),
       i32 = IntegerType::get(ctx, 32);
  auto vf = VectorType::get({kTile}, f32);
  auto vi32 = VectorType::get({kTile}, i32);

  ImplicitLocOpBuilder b(loc, ctx);
  KernelArgs args = createKernel(module, loc, p, name, b);
  func::FuncOp func = args.func;
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, v);
  };
  Value x = args.x, w = args.w, s = args.s, c = args.c, out = args.out;
  Value c0 = idx(0), c1 = idx(1);
  Value zeroF = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));

  // Activations padded with zeros to whole groups, and their group sums.
  Value xp = memref::AllocOp::create(b, MemRefType::get({M, Kp}, f32));
  Value xs = memref::AllocOp::create(b, MemRefType::get({M, G}, f32));
  for (int64_t m = 0; m < M; ++m) {
    Value row = idx(m);
    if (Kp > K)
      scf::ForOp::create(
          b, c0, idx(Kp), c1, ValueRange{},
          [&](OpBuilder &ob, Location l, Value k, ValueRange) {
            memref::StoreOp::create(ob, l, zeroF, xp, ValueRange{row, k});
            scf::YieldOp::create(ob, l);
          });
    scf::ForOp::create(
        b, c0, idx(K), c1, ValueRange{},
        [&](OpBuilder &ob0, Location l, Value k, ValueRange) {
          ImplicitLocOpBuilder ob(l, ob0);
          Value v = memref::LoadOp::create(ob, x, ValueRange{row, k});
          Value dst = k;
          if (P != gs) {
            // Element k % group of group k / group, in padded groups.
            Value gsV = arith::ConstantIndexOp::create(ob, gs);
            dst = arith::AddIOp::create(
                ob,
                arith::MulIOp::create(ob, arith::DivUIOp::create(ob, k, gsV),
                                      arith::ConstantIndexOp::create(ob, P)),
                arith::RemUIOp::create(ob, k, gsV));
          }
          memref::StoreOp::create(ob, v, xp, ValueRange{row, dst});
          scf::YieldOp::create(ob);
        });
    scf::ForOp::create(
        b, c0, idx(G), c1, ValueRange{},
        [&](OpBuilder &ob, Location l, Value g, ValueRange) {
          Value start = arith::MulIOp::create(
              ob, l, g, arith::ConstantIndexOp::create(ob, l, P));
          auto sum = scf::ForOp::create(
              ob, l, arith::ConstantIndexOp::create(ob, l, 0),
              arith::ConstantIndexOp::create(ob, l, P),
              arith::ConstantIndexOp::create(ob, l, 1), ValueRange{zeroF},
              [&](OpBuilder &ib, Location il, Value j, ValueRange acc) {
                Value k = arith::AddIOp::create(ib, il, start, j);
                Value v =
                    memref::LoadOp::create(ib, il, xp, ValueRange{row, k});
                Value a = arith::AddFOp::create(ib, il, acc[0], v);
                scf::YieldOp::create(ib, il, a);
              });
          memref::StoreOp::create(ob, l, sum.getResult(0), xs,
                                  ValueRange{row, g});
          scf::YieldOp::create(ob, l);
        });
  }

  // The tile loop body: accumulators of 8 output rows per activation row.
  const int64_t steps = L.bits == 4 ? P / 2 : P;
  const int64_t perStep = L.bits == 4 ? 2 : 1;
  // Packed loads per inner iteration, and accumulator chains per row: about
  // eight FMAs in flight hide the FMA latency at two FMAs per cycle.
  int64_t unroll = 1;
  for (int64_t f : {8, 4, 2})
    if (steps % f == 0) {
      unroll = f;
      break;
    }
  const int64_t chains =
      std::max<int64_t>(1, std::min<int64_t>(unroll * perStep, 8 / M));
  auto tileBody = [&](OpBuilder &ob, Location l, Value t) {
    ImplicitLocOpBuilder tb(l, ob);
    auto cst = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(tb, v);
    };
    Value zeroV =
        arith::ConstantOp::create(tb, vf, DenseElementsAttr::get(vf, 0.0f));
    SmallVector<Value> zeros(M, zeroV);
    Value tG = arith::MulIOp::create(tb, t, cst(G));
    auto groupLoop = scf::ForOp::create(
        tb, cst(0), cst(G), cst(1), zeros,
        [&](OpBuilder &gb0, Location gl, Value g, ValueRange acc) {
          ImplicitLocOpBuilder gb(gl, gb0);
          auto gc = [&](int64_t v) -> Value {
            return arith::ConstantIndexOp::create(gb, v);
          };
          Value base = arith::AddIOp::create(gb, tG, g);
          Value pidx = arith::MulIOp::create(gb, base, gc(kTile));
          Value sv = vector::LoadOp::create(
              gb, VectorType::get({kTile}, p.scaleElement), s, pidx);
          if (!p.scaleElement.isF32())
            sv = arith::ExtFOp::create(gb, vf, sv);
          Value cv;
          if (c) {
            cv = vector::LoadOp::create(gb, vf, c, pidx);
          } else {
            Value qmin = arith::ConstantOp::create(
                gb, vf, DenseElementsAttr::get(vf, float(L.storageMin())));
            cv = arith::MulFOp::create(gb, sv, qmin);
          }
          Value kBase = arith::MulIOp::create(gb, g, gc(P));
          Value wBase = arith::MulIOp::create(gb, base, gc(steps));
          // Independent accumulator chains per activation row, so that
          // the FMA latency is hidden: `chains` partial sums per row.
          SmallVector<Value> gz(M * chains, zeroV);
          auto inner = scf::ForOp::create(
              gb, gc(0), gc(steps), gc(unroll), gz,
              [&](OpBuilder &ib0, Location il, Value j0, ValueRange gacc) {
                ImplicitLocOpBuilder ib(il, ib0);
                auto ic = [&](int64_t v) -> Value {
                  return arith::ConstantIndexOp::create(ib, v);
                };
                SmallVector<Value> next(gacc.begin(), gacc.end());
                int64_t chain = 0;
                for (int64_t u = 0; u < unroll; ++u) {
                  Value j = u ? arith::AddIOp::create(ib, j0, ic(u)) : j0;
                  Value widx = arith::MulIOp::create(
                      ib, arith::AddIOp::create(ib, wBase, j), ic(kTile));
                  if (u == 0 && prefetchBytes > 0) {
                    // One prefetch per 64-byte line read in this iteration
                    // (unroll * 8 bytes), prefetchBytes ahead.
                    for (int64_t off = 0; off < unroll * kTile; off += 64) {
                      Value pidx = arith::MinUIOp::create(
                          ib,
                          arith::AddIOp::create(ib, widx,
                                                ic(prefetchBytes + off)),
                          ic(L.weightBytes() - 1));
                      memref::PrefetchOp::create(ib, w, ValueRange{pidx},
                                                 /*isWrite=*/false,
                                                 /*localityHint=*/0,
                                                 /*isDataCache=*/true);
                    }
                  }
                  Value raw = vector::LoadOp::create(
                      ib, VectorType::get({kTile}, i8), w, widx);
                  Value wide = arith::ExtUIOp::create(ib, vi32, raw);
                  SmallVector<Value> vals;
                  if (L.bits == 4) {
                    Value mask = arith::ConstantOp::create(
                        ib, vi32, DenseElementsAttr::get(vi32, int32_t(15)));
                    Value four = arith::ConstantOp::create(
                        ib, vi32, DenseElementsAttr::get(vi32, int32_t(4)));
                    vals.push_back(arith::SIToFPOp::create(
                        ib, vf, arith::AndIOp::create(ib, wide, mask)));
                    vals.push_back(arith::SIToFPOp::create(
                        ib, vf, arith::ShRUIOp::create(ib, wide, four)));
                  } else {
                    vals.push_back(arith::SIToFPOp::create(ib, vf, wide));
                  }
                  Value k0 = arith::AddIOp::create(
                      ib, kBase, arith::MulIOp::create(ib, j, ic(perStep)));
                  for (auto [e, val] : llvm::enumerate(vals)) {
                    Value k = e ? arith::AddIOp::create(ib, k0, ic(e)) : k0;
                    for (int64_t m = 0; m < M; ++m) {
                      Value xv =
                          memref::LoadOp::create(ib, xp, ValueRange{ic(m), k});
                      Value xb = vector::BroadcastOp::create(ib, vf, xv);
                      Value &a = next[m * chains + chain];
                      a = vector::FMAOp::create(ib, xb, val, a);
                    }
                    chain = (chain + 1) % chains;
                  }
                }
                scf::YieldOp::create(ib, next);
              });
          // Sum the chains of each row pairwise.
          SmallVector<Value> sums;
          for (int64_t m = 0; m < M; ++m) {
            SmallVector<Value> part(inner.getResults().begin() + m * chains,
                                    inner.getResults().begin() +
                                        (m + 1) * chains);
            while (part.size() > 1) {
              SmallVector<Value> half;
              for (size_t i = 0; i + 1 < part.size(); i += 2)
                half.push_back(arith::AddFOp::create(gb, part[i], part[i + 1]));
              if (part.size() % 2)
                half.push_back(part.back());
              part = std::move(half);
            }
            sums.push_back(part[0]);
          }
          SmallVector<Value> next;
          for (int64_t m = 0; m < M; ++m) {
            Value a = vector::FMAOp::create(gb, sums[m], sv, acc[m]);
            Value xsum = memref::LoadOp::create(gb, xs, ValueRange{gc(m), g});
            Value xb = vector::BroadcastOp::create(gb, vf, xsum);
            next.push_back(vector::FMAOp::create(gb, xb, cv, a));
          }
          scf::YieldOp::create(gb, next);
        });
    Value col = arith::MulIOp::create(tb, t, cst(kTile));
    for (int64_t m = 0; m < M; ++m)
      vector::StoreOp::create(tb, groupLoop.getResult(m), out,
                              ValueRange{cst(m), col});
  };

  forEachTile(b, parallel, c0, idx(T), c1, tileBody);
  memref::DeallocOp::create(b, xp);
  memref::DeallocOp::create(b, xs);
  func::ReturnOp::create(b);

  return func;
}

/// A call of the LLVM intrinsic `name` (an x86 instruction the kernel needs
/// exactly, which vector ops would not reliably select).
Value intrinsic(ImplicitLocOpBuilder &b, Type result, StringRef name,
                ValueRange args) {
  return LLVM::CallIntrinsicOp::create(b, result, b.getStringAttr(name), args)
      .getResult(0);
}

/// Builds the int8-activation kernel for an "n8k8" plan:
///   (x: memref<MxK>, w: memref<Bxi8>, s: memref<T*G*8 x f16|f32>,
///    [c: memref<T*G*8 x f32>], out: memref<MxNp>) -> ()
/// Per call, each activation row is quantized per weight group g:
///   d[m,g] = max_k |x[m,k]| / 127,
///   a[m,k] = clamp(roundeven(x[m,k] * (1/d[m,g])), -127, 127)
/// (a = 0 when d = 0), and with A[m,g] = sum_{k in g} a[m,k]
///   out[m,n] = sum_g s[n,g]*d[m,g] * (dot(u[n, g], a[m, g])
///                                     + storage_min * A[m,g])   (no offset)
///   out[m,n] = sum_g s[n,g]*d[m,g] * dot(u[n, g], a[m, g])
///            + c[n,g] * d[m,g]*A[m,g]                          (offsets).
/// The dot products are exact integers: vpmaddubsw of u8 levels <= 15 by
/// int8 activations gives i16 pair sums of at most 2*15*127 = 3810, at most
/// 8 of them (64 k) are added in i16 (30480 < 2^15) before vpmaddwd widens
/// them to i32. The lanes of every vector are the 8 rows of a tile, so
/// nothing is reduced horizontally.
func::FuncOp buildKernelInt8(ModuleOp module, Location loc, const Plan &p,
                             bool parallel, int64_t prefetchBytes,
                             StringRef name) {
  MLIRContext *ctx = module.getContext();
  const auto &L = p.layout;
  const int64_t M = p.m, K = L.k, G = L.groups(), gs = L.group,
                Kp = L.paddedK(), T = L.tiles(), octets = gs / 8,
                octetBytes = 8 * L.bits; // packed bytes of 8 k of a tile
  // vpmaddubsw would saturate its i16 pair sums on 8-bit levels.
  assert((L.bits == 4 || p.vnni) && "8-bit weights need vpdpbusd");
  Type f32 = Float32Type::get(ctx), i8 = IntegerType::get(ctx, 8),
       i16 = IntegerType::get(ctx, 16), i32 = IntegerType::get(ctx, 32);
  auto vf = VectorType::get({8}, f32);
  auto vb = VectorType::get({32}, i8);
  auto vw = VectorType::get({16}, i16);
  auto vi = VectorType::get({8}, i32);

  ImplicitLocOpBuilder b(loc, ctx);
  KernelArgs args = createKernel(module, loc, p, name, b);
  func::FuncOp func = args.func;
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, v);
  };
  Value x = args.x, w = args.w, s = args.s, c = args.c, out = args.out;
  Value c0 = idx(0), c1 = idx(1);
  Value zeroF = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));

  // Activations padded with zeros to whole groups; their int8 form, four
  // consecutive k per i32 (the operand of a vpbroadcastd); per group the
  // scale d and the correction (storage_min * A in i32 without offsets,
  // d * A in f32 with offsets).
  Value xp = memref::AllocOp::create(b, MemRefType::get({M, Kp}, f32));
  Value xq = memref::AllocOp::create(b, MemRefType::get({M, Kp / 4}, i32));
  Value xd = memref::AllocOp::create(b, MemRefType::get({M, G}, f32));
  Value xa = memref::AllocOp::create(
      b, MemRefType::get({M, G}, c ? Type(f32) : Type(i32)));
  auto vx = VectorType::get({8}, f32);
  // Up to kMaxRows rows unrolled, more in a loop over rows (on threads
  // when the kernel is threaded).
  Operation *rowLoop = nullptr;
  Value rowIv;
  if (M > kMaxRows) {
    if (parallel) {
      auto loop = scf::ParallelOp::create(b, ValueRange{c0}, ValueRange{idx(M)},
                                          ValueRange{c1});
      rowLoop = loop;
      rowIv = loop.getInductionVars()[0];
    } else {
      auto loop = scf::ForOp::create(b, c0, idx(M), c1);
      rowLoop = loop;
      rowIv = loop.getInductionVar();
    }
    b.setInsertionPoint(rowLoop->getRegion(0).front().getTerminator());
  }
  for (int64_t m = 0; m < (rowLoop ? 1 : M); ++m) {
    Value row = rowLoop ? rowIv : idx(m);
    if (Kp > K)
      scf::ForOp::create(
          b, idx(K), idx(Kp), c1, ValueRange{},
          [&](OpBuilder &ob, Location l, Value k, ValueRange) {
            memref::StoreOp::create(ob, l, zeroF, xp, ValueRange{row, k});
            scf::YieldOp::create(ob, l);
          });
    scf::ForOp::create(
        b, c0, idx(K), c1, ValueRange{},
        [&](OpBuilder &ob, Location l, Value k, ValueRange) {
          Value v = memref::LoadOp::create(ob, l, x, ValueRange{row, k});
          memref::StoreOp::create(ob, l, v, xp, ValueRange{row, k});
          scf::YieldOp::create(ob, l);
        });
    scf::ForOp::create(
        b, c0, idx(G), c1, ValueRange{},
        [&](OpBuilder &gb0, Location gl, Value g, ValueRange) {
          ImplicitLocOpBuilder gb(gl, gb0);
          auto cst = [&](int64_t v) -> Value {
            return arith::ConstantIndexOp::create(gb, v);
          };
          auto splat = [&](float v) -> Value {
            return arith::ConstantOp::create(gb, vx,
                                             DenseElementsAttr::get(vx, v));
          };
          Value start = arith::MulIOp::create(gb, g, cst(gs));
          auto amax = scf::ForOp::create(
              gb, cst(0), cst(gs), cst(8), ValueRange{splat(0.0f)},
              [&](OpBuilder &ib0, Location il, Value j, ValueRange acc) {
                ImplicitLocOpBuilder ib(il, ib0);
                Value v = vector::LoadOp::create(
                    ib, vx, xp,
                    ValueRange{row, arith::AddIOp::create(ib, start, j)});
                Value a = math::AbsFOp::create(ib, v);
                scf::YieldOp::create(
                    ib, ValueRange{arith::MaximumFOp::create(ib, acc[0], a)});
              });
          Value mx = vector::ReductionOp::create(
              gb, gb.getLoc(), vector::CombiningKind::MAXIMUMF,
              amax.getResult(0), Value(), arith::FastMathFlags::none);
          auto fc = [&](float v) -> Value {
            return arith::ConstantOp::create(gb, gb.getF32FloatAttr(v));
          };
          Value d = arith::DivFOp::create(gb, mx, fc(127.0f));
          Value isZero =
              arith::CmpFOp::create(gb, arith::CmpFPredicate::OEQ, d, fc(0.0f));
          Value inv = arith::SelectOp::create(
              gb, isZero, fc(0.0f), arith::DivFOp::create(gb, fc(1.0f), d));
          Value invV = vector::BroadcastOp::create(gb, vx, inv);
          Value lo = splat(-127.0f), hi = splat(127.0f);
          Value zi = arith::ConstantOp::create(
              gb, vi, DenseElementsAttr::get(vi, int32_t(0)));
          auto sum = scf::ForOp::create(
              gb, cst(0), cst(gs), cst(8), ValueRange{zi},
              [&](OpBuilder &ib0, Location il, Value j, ValueRange acc) {
                ImplicitLocOpBuilder ib(il, ib0);
                Value k = arith::AddIOp::create(ib, start, j);
                Value v =
                    vector::LoadOp::create(ib, vx, xp, ValueRange{row, k});
                Value r = math::RoundEvenOp::create(
                    ib, arith::MulFOp::create(ib, v, invV));
                r = arith::MinimumFOp::create(
                    ib, arith::MaximumFOp::create(ib, r, lo), hi);
                Value qv = arith::FPToSIOp::create(ib, vi, r);
                Value bytes =
                    arith::TruncIOp::create(ib, VectorType::get({8}, i8), qv);
                Value words = vector::BitCastOp::create(
                    ib, VectorType::get({2}, i32), bytes);
                Value k4 = arith::DivUIOp::create(
                    ib, k, arith::ConstantIndexOp::create(ib, 4));
                vector::StoreOp::create(ib, words, xq, ValueRange{row, k4});
                scf::YieldOp::create(
                    ib, ValueRange{arith::AddIOp::create(ib, acc[0], qv)});
              });
          Value total = vector::ReductionOp::create(
              gb, gb.getLoc(), vector::CombiningKind::ADD, sum.getResult(0),
              Value(), arith::FastMathFlags::none);
          memref::StoreOp::create(gb, d, xd, ValueRange{row, g});
          Value corr;
          if (c)
            corr = arith::MulFOp::create(
                gb, d, arith::SIToFPOp::create(gb, f32, total));
          else
            corr = arith::MulIOp::create(
                gb, total,
                arith::ConstantIntOp::create(gb, i32, L.storageMin()));
          memref::StoreOp::create(gb, corr, xa, ValueRange{row, g});
          scf::YieldOp::create(gb);
        });
  }
  if (rowLoop)
    b.setInsertionPointAfter(rowLoop);

  // Octets of k per inner step (one i16 sum of at most 8 vpmaddubsw).
  int64_t sub = 1;
  for (int64_t f : {4, 2})
    if (octets % f == 0) {
      sub = f;
      break;
    }
  // Inner steps unrolled per iteration of the loop over a group: all of a
  // group up to 16 octets (128 k).
  int64_t steps = octets / sub, unroll = 1;
  for (int64_t f = std::min<int64_t>(steps, 16 / sub); f >= 1; --f)
    if (steps % f == 0) {
      unroll = f;
      break;
    }
  // The rows [r0, r0 + R) of tile t, R <= kMaxRows: one accumulator
  // vector per row.
  auto blockBody = [&](ImplicitLocOpBuilder &tb, Value t, Value r0, int64_t R) {
    auto cst = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(tb, v);
    };
    // Row r0 + m (r0 null: row m).
    auto rowOf = [&](ImplicitLocOpBuilder &rb, int64_t m) -> Value {
      Value mv = arith::ConstantIndexOp::create(rb, m);
      return r0 ? arith::AddIOp::create(rb, r0, mv).getResult() : mv;
    };
    Value zeroV =
        arith::ConstantOp::create(tb, vf, DenseElementsAttr::get(vf, 0.0f));
    Value zeroI =
        arith::ConstantOp::create(tb, vi, DenseElementsAttr::get(vi, 0));
    Value mask = arith::ConstantOp::create(
        tb, vb, DenseElementsAttr::get(vb, int8_t(15)));
    Value four = arith::ConstantOp::create(
        tb, vb, DenseElementsAttr::get(vb, int8_t(4)));
    Value ones = arith::ConstantOp::create(
        tb, vw, DenseElementsAttr::get(vw, int16_t(1)));
    SmallVector<Value> zeros(R, zeroV);
    Value tG = arith::MulIOp::create(tb, t, cst(G));
    auto groupLoop = scf::ForOp::create(
        tb, cst(0), cst(G), cst(1), zeros,
        [&](OpBuilder &gb0, Location gl, Value g, ValueRange acc) {
          ImplicitLocOpBuilder gb(gl, gb0);
          auto gc = [&](int64_t v) -> Value {
            return arith::ConstantIndexOp::create(gb, v);
          };
          Value base = arith::AddIOp::create(gb, tG, g);
          Value pidx = arith::MulIOp::create(gb, base, gc(kTile));
          Value sv = vector::LoadOp::create(
              gb, VectorType::get({kTile}, p.scaleElement), s, pidx);
          if (!p.scaleElement.isF32())
            sv = arith::ExtFOp::create(gb, vf, sv);
          // Bytes of this group of the tile, and its first k in quads.
          Value wBase =
              arith::MulIOp::create(gb, base, gc(octets * octetBytes));
          Value qBase = arith::MulIOp::create(gb, g, gc(gs / 4));
          // With vpdpbusd, two sums per row (low and high nibbles): two
          // dependency chains of its 5-cycle latency instead of one.
          SmallVector<Value> zi(p.vnni ? 2 * R : R, zeroI);
          auto inner = scf::ForOp::create(
              gb, gc(0), gc(steps), gc(unroll), zi,
              [&](OpBuilder &ib0, Location il, Value st0, ValueRange dacc) {
                ImplicitLocOpBuilder ib(il, ib0);
                auto ic = [&](int64_t v) -> Value {
                  return arith::ConstantIndexOp::create(ib, v);
                };
                SmallVector<Value> dots(dacc.begin(), dacc.end());
                for (int64_t u = 0; u < unroll; ++u) {
                  Value st = u ? arith::AddIOp::create(ib, st0, ic(u)) : st0;
                  Value oct0 = arith::MulIOp::create(ib, st, ic(sub));
                  SmallVector<Value> lows, highs;
                  for (int64_t o = 0; o < sub; ++o) {
                    Value oct = arith::AddIOp::create(ib, oct0, ic(o));
                    Value widx = arith::AddIOp::create(
                        ib, wBase,
                        arith::MulIOp::create(ib, oct, ic(octetBytes)));
                    if (prefetchBytes > 0 && (octetBytes == 64 || o % 2 == 0)) {
                      // One prefetch per 64-byte line, prefetchBytes ahead.
                      Value pidx = arith::MinUIOp::create(
                          ib,
                          arith::AddIOp::create(ib, widx, ic(prefetchBytes)),
                          ic(L.weightBytes() - 1));
                      memref::PrefetchOp::create(ib, w, ValueRange{pidx},
                                                 /*isWrite=*/false,
                                                 /*localityHint=*/0,
                                                 /*isDataCache=*/true);
                    }
                    Value raw = vector::LoadOp::create(ib, vb, w, widx);
                    if (octetBytes == 64) {
                      // 8-bit: k 8*oct..+3 and 8*oct+4..+7, one load each.
                      lows.push_back(raw);
                      Value hidx = arith::AddIOp::create(ib, widx, ic(32));
                      highs.push_back(vector::LoadOp::create(ib, vb, w, hidx));
                      continue;
                    }
                    lows.push_back(arith::AndIOp::create(ib, raw, mask));
                    highs.push_back(arith::AndIOp::create(
                        ib, arith::ShRUIOp::create(ib, raw, four), mask));
                  }
                  // The 4 int8 activations of row m at quad h (0: k
                  // 8*oct..+3, the low nibbles; 1: 8*oct+4..+7, the high
                  // ones) of octet oct0 + o, broadcast to every lane.
                  auto activations = [&](int64_t m, int64_t o,
                                         int64_t h) -> Value {
                    Value quad = arith::AddIOp::create(
                        ib, qBase,
                        arith::MulIOp::create(
                            ib, arith::AddIOp::create(ib, oct0, ic(o)), ic(2)));
                    if (h)
                      quad = arith::AddIOp::create(ib, quad, ic(1));
                    Value word = memref::LoadOp::create(
                        ib, xq, ValueRange{rowOf(ib, m), quad});
                    return vector::BitCastOp::create(
                        ib, vb, vector::BroadcastOp::create(ib, vi, word));
                  };
                  for (int64_t m = 0; m < R; ++m) {
                    if (p.vnni) {
                      // Exact i32 sums of 4 products per lane and step.
                      for (int64_t o = 0; o < sub; ++o)
                        for (int64_t h = 0; h < 2; ++h) {
                          Value &sum = dots[h * R + m];
                          sum =
                              intrinsic(ib, vi, "llvm.x86.avx512.vpdpbusd.256",
                                        {sum, h ? highs[o] : lows[o],
                                         activations(m, o, h)});
                        }
                      continue;
                    }
                    Value pairs;
                    for (int64_t o = 0; o < sub; ++o)
                      for (int64_t h = 0; h < 2; ++h) {
                        Value pr = intrinsic(
                            ib, vw, "llvm.x86.avx2.pmadd.ub.sw",
                            {h ? highs[o] : lows[o], activations(m, o, h)});
                        pairs =
                            pairs ? arith::AddIOp::create(ib, pairs, pr) : pr;
                      }
                    Value wide = intrinsic(ib, vi, "llvm.x86.avx2.pmadd.wd",
                                           {pairs, ones});
                    dots[m] = arith::AddIOp::create(ib, dots[m], wide);
                  }
                }
                scf::YieldOp::create(ib, dots);
              });
          SmallVector<Value> next;
          for (int64_t m = 0; m < R; ++m) {
            Value dot = inner.getResult(m);
            if (p.vnni)
              dot = arith::AddIOp::create(gb, dot, inner.getResult(R + m));
            Value corr =
                memref::LoadOp::create(gb, xa, ValueRange{rowOf(gb, m), g});
            if (!c)
              dot = arith::AddIOp::create(
                  gb, dot, vector::BroadcastOp::create(gb, vi, corr));
            Value dm = vector::BroadcastOp::create(
                gb, vf,
                memref::LoadOp::create(gb, xd, ValueRange{rowOf(gb, m), g}));
            Value scale = arith::MulFOp::create(gb, sv, dm);
            Value a = vector::FMAOp::create(
                gb, arith::SIToFPOp::create(gb, vf, dot), scale, acc[m]);
            if (c) {
              Value cv = vector::LoadOp::create(gb, vf, c, pidx);
              a = vector::FMAOp::create(
                  gb, cv, vector::BroadcastOp::create(gb, vf, corr), a);
            }
            next.push_back(a);
          }
          scf::YieldOp::create(gb, next);
        });
    Value col = arith::MulIOp::create(tb, t, cst(kTile));
    for (int64_t m = 0; m < R; ++m)
      vector::StoreOp::create(tb, groupLoop.getResult(m), out,
                              ValueRange{rowOf(tb, m), col});
  };
  // A tile: all rows, in blocks of kMaxRows rows while the tile's weights
  // stay in cache, so that many rows read the weights from memory once.
  const int64_t fullBlocks = M / kMaxRows, tailRows = M % kMaxRows;
  auto tileBody = [&](OpBuilder &ob, Location l, Value t) {
    ImplicitLocOpBuilder tb(l, ob);
    if (M <= kMaxRows) {
      blockBody(tb, t, Value(), M);
      return;
    }
    scf::ForOp::create(
        tb, arith::ConstantIndexOp::create(tb, 0),
        arith::ConstantIndexOp::create(tb, fullBlocks * kMaxRows),
        arith::ConstantIndexOp::create(tb, kMaxRows), ValueRange{},
        [&](OpBuilder &rb0, Location rl, Value r0, ValueRange) {
          ImplicitLocOpBuilder rb(rl, rb0);
          blockBody(rb, t, r0, kMaxRows);
          scf::YieldOp::create(rb);
        });
    if (tailRows)
      blockBody(tb, t,
                arith::ConstantIndexOp::create(tb, fullBlocks * kMaxRows),
                tailRows);
  };

  forEachTile(b, parallel, c0, idx(T), c1, tileBody);
  for (Value buf : {xp, xq, xd, xa})
    memref::DeallocOp::create(b, buf);
  func::ReturnOp::create(b);
  return func;
}

/// The matmul's epilogue on the kernel's f32 [M, N] result: `+ bias[n]`
/// (f16 widened), then `max(., 0)` for ReLU, as `convert-quantx-to-linalg`
/// computes it. Element-wise over M * N values, a small fraction of the
/// product's work.
static Value applyEpilogue(OpBuilder &b, Location loc, Value acc, Value bias,
                           bool relu) {
  auto type = cast<RankedTensorType>(acc.getType());
  MLIRContext *ctx = b.getContext();
  AffineMap id = AffineMap::getMultiDimIdentityMap(2, ctx);
  SmallVector<AffineMap> maps = {id};
  SmallVector<Value> inputs = {acc};
  if (bias) {
    maps.push_back(AffineMap::get(2, 0, getAffineDimExpr(1, ctx)));
    inputs.push_back(bias);
  }
  maps.push_back(id);
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(), b.getF32Type());
  SmallVector<utils::IteratorType> iters(2, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, inputs, ValueRange{init}, maps, iters,
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value y = args[0];
               if (bias) {
                 Value v = args[1];
                 if (!v.getType().isF32())
                   v = arith::ExtFOp::create(nb, l, nb.getF32Type(), v);
                 y = arith::AddFOp::create(nb, l, y, v);
               }
               if (relu)
                 y = arith::MaximumFOp::create(
                     nb, l, y,
                     arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(0)));
               linalg::YieldOp::create(nb, l, y);
             })
      .getResult(0);
}

struct PackWeightOnlyPass
    : public mlir::quantx::impl::QuantXPackWeightOnlyBase<PackWeightOnlyPass> {
  using QuantXPackWeightOnlyBase::QuantXPackWeightOnlyBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (activations != "f32" && activations != "int8") {
      emitError(module.getLoc(),
                "quantx-pack-weight-only: activations must be f32 or "
                "int8, got '")
          << activations << "'";
      return signalPassFailure();
    }
    if (activations == "int8" &&
        !llvm::is_contained(resolveTargetFeatures(targetFeatures), "avx2")) {
      emitError(module.getLoc(),
                "quantx-pack-weight-only: activations=int8 needs a "
                "target with AVX2 (vpmaddubsw, vpmaddwd); this one ")
          << (targetFeatures.empty() ? "(the host) " : "") << "has none: "
          << "use activations=f32";
      return signalPassFailure();
    }
    SmallVector<std::string> features = resolveTargetFeatures(targetFeatures);
    vnni = vnniMinRows >= 0 && (llvm::is_contained(features, "avxvnni") ||
                                (llvm::is_contained(features, "avx512vnni") &&
                                 llvm::is_contained(features, "avx512vl")));
    SmallVector<MatmulOp> matmuls;
    module.walk([&](MatmulOp op) {
      if (!isa<FloatType>(getElementTypeOrSelf(op.getLhs().getType())))
        return; // Not weight-only.
      matmuls.push_back(op);
    });
    bool parallelized = false;
    for (MatmulOp op : matmuls) {
      FailureOr<bool> r = rewrite(op);
      if (failed(r))
        return signalPassFailure();
      parallelized |= *r;
    }
    if (parallelized) {
      // scf.parallel over tiles to omp.parallel + omp.wsloop.
      OpPassManager pm(ModuleOp::getOperationName());
      pm.addPass(createConvertSCFToOpenMPPass());
      if (failed(runPipeline(pm, module)))
        return signalPassFailure();
      // The conversion wraps each iteration in a memref.alloca_scope; the
      // kernels allocate nothing on the stack, and the scope would not
      // survive the lowering of the loops inside it to blocks.
      // Tiles are handed out dynamically in chunks of 8 (8 * K * bits / 8
      // contiguous bytes, long enough for the prefetchers): a thread that
      // is descheduled on a busy machine does not hold up the others.
      module.walk([](omp::WsloopOp loop) {
        auto func = loop->getParentOfType<func::FuncOp>();
        if (!func || !func.getSymName().starts_with(kKernelPrefix) ||
            func.getSymName().ends_with("_rowblocks_par"))
          return; // Blocks of rows: equal work, the static schedule.
        OpBuilder b(loop);
        Value chunk = arith::ConstantIndexOp::create(b, loop.getLoc(), 8);
        loop.setScheduleKindAttr(omp::ClauseScheduleKindAttr::get(
            loop.getContext(), omp::ClauseScheduleKind::Dynamic));
        loop.getScheduleChunkMutable().assign(chunk);
      });
      module.walk([](memref::AllocaScopeOp scope) {
        auto func = scope->getParentOfType<func::FuncOp>();
        if (!func || !func.getSymName().starts_with(kKernelPrefix))
          return;
        Block &body = scope.getBodyRegion().front();
        Operation *ret = body.getTerminator();
        scope->replaceAllUsesWith(ret->getOperands());
        ret->erase();
        scope->getBlock()->getOperations().splice(Block::iterator(scope),
                                                  body.getOperations());
        scope->erase();
      });
    }
  }

  /// Rewrites one matmul; returns whether its kernel is threaded, or
  /// failure after an error.
  /// The kernels may use vpdpbusd: the target has it on 256-bit vectors and
  /// vnni-min-rows is not negative.
  bool vnni = false;

  FailureOr<bool> rewrite(MatmulOp op) {
    std::string why;
    BlockArgument weightArg = asFuncArgument(op.getRhs());
    bool wantArgument = packArguments && weightArg;
    FailureOr<Plan> plan = planMatmul(op, activations == "int8", vnni,
                                      wantArgument, f32MaxRows, why);
    if (failed(plan)) {
      if (wantArgument)
        return op.emitOpError("cannot pack weight argument #")
               << weightArg.getArgNumber() << ": " << why;
      return false; // Left to convert-quantx-to-linalg.
    }
    Plan &p = *plan;
    const auto &L = p.layout;
    // On large weights the int8 kernel takes up to kInt8PanelRows rows and
    // blocks them itself, inside each tile of weights (see
    // buildKernelInt8); otherwise a kernel takes up to kMaxRows. A driver
    // calls the kernel on each such panel of rows.
    if (L.isN8K8() && L.weightBytes() >= kInt8PanelMinBytes)
      p.m = std::min(p.rows, kInt8PanelRows);
    auto useVnni = [&](int64_t rows) {
      return L.isN8K8() && vnni && (rows >= vnniMinRows || L.bits == 8);
    };
    p.vnni = useVnni(p.m);
    OpBuilder b(op);
    Location loc = op.getLoc();
    Value packedW, packedS, packedC;

    if (wantArgument) {
      if (p.staticScales)
        return op.emitOpError("cannot pack weight argument #")
               << weightArg.getArgNumber()
               << ": its scales are in its type, not arguments";
      p.source = Source::Argument;
      BlockArgument scaleArg = asFuncArgument(p.scales);
      BlockArgument offsetArg =
          p.offsets ? asFuncArgument(p.offsets) : BlockArgument();
      if (!scaleArg || (p.offsets && !offsetArg))
        return op.emitOpError("cannot pack weight argument #")
               << weightArg.getArgNumber()
               << ": its scales and offsets must be function arguments too";
      for (BlockArgument a : {weightArg, scaleArg, offsetArg})
        if (a && !a.hasOneUse())
          return op.emitOpError("cannot pack argument #")
                 << a.getArgNumber() << ": it has other uses than this matmul";
      auto func = cast<func::FuncOp>(weightArg.getOwner()->getParentOp());
      MLIRContext *ctx = &getContext();
      // The packed arguments are listed on the function (argument
      // attributes of other dialects would not survive the LLVM export).
      auto retype = [&](BlockArgument a, Type t) {
        a.setType(t);
        SmallVector<int64_t> packed;
        if (auto old = func->getAttrOfType<DenseI64ArrayAttr>(
                "quantx.packed_arguments"))
          packed.assign(old.asArrayRef().begin(), old.asArrayRef().end());
        packed.push_back(a.getArgNumber());
        llvm::sort(packed);
        func->setAttr("quantx.packed_arguments",
                      DenseI64ArrayAttr::get(ctx, packed));
      };
      retype(weightArg, RankedTensorType::get({L.weightBytes()},
                                              IntegerType::get(ctx, 8)));
      retype(scaleArg, RankedTensorType::get({L.paramCount()}, p.scaleElement));
      if (offsetArg)
        retype(offsetArg,
               RankedTensorType::get({L.paramCount()}, Float32Type::get(ctx)));
      func.setType(FunctionType::get(ctx,
                                     func.getBody().front().getArgumentTypes(),
                                     func.getFunctionType().getResults()));
      packedW = weightArg;
      packedS = scaleArg;
      packedC = offsetArg;
    } else {
      FailureOr<SmallVector<int32_t>> q = storageOf(p.weights, L.isSigned);
      FailureOr<SmallVector<float>> s =
          p.staticScales ? floatsOf(p.staticScales) : floatsOf(p.scales);
      FailureOr<SmallVector<float>> o =
          p.offsets ? floatsOf(p.offsets) : FailureOr<SmallVector<float>>();
      if (failed(q) || failed(s) || (p.offsets && failed(o)))
        return false; // Not constant: left to convert-quantx-to-linalg.
      std::vector<uint8_t> wBytes(L.weightBytes());
      std::vector<char> sBytes(L.paramCount() * (L.scaleF16 ? 2 : 4));
      std::vector<float> cTerms(L.hasOffsetTerms() ? L.paramCount() : 0);
      std::string err = ::quantx::packWeightOnly(
          L, q->data(), s->data(), p.offsets ? o->data() : nullptr, p.nMajor,
          wBytes.data(), sBytes.data(), cTerms.data());
      if (!err.empty())
        return op.emitOpError("cannot pack the constant weights: ") << err;
      packedW = resourceConstant(
          b, loc, "quantx_wo_weights", b.getI8Type(), L.weightBytes(),
          ArrayRef<char>(reinterpret_cast<char *>(wBytes.data()),
                         wBytes.size()),
          64);
      packedS = resourceConstant(b, loc, "quantx_wo_scales", p.scaleElement,
                                 L.paramCount(), sBytes, 64);
      if (L.hasOffsetTerms())
        packedC = resourceConstant(
            b, loc, "quantx_wo_offsets", b.getF32Type(), L.paramCount(),
            ArrayRef<char>(reinterpret_cast<char *>(cTerms.data()),
                           cTerms.size() * 4),
            64);
    }

    // The kernels, generated once per shape: one of all rows, or one of
    // kMaxRows rows for each full block of rows and one of the rest.
    // Threads split the output features inside a kernel whose weights are
    // large; otherwise, with several blocks, they split the blocks.
    bool parallel = parallelMinBytes >= 0 &&
                    L.weightBytes() >= parallelMinBytes && L.tiles() > 1;
    const int64_t fullBlocks = p.rows / p.m, tailRows = p.rows % p.m;
    bool rowParallel = !parallel && parallelMinBytes >= 0 && fullBlocks > 1 &&
                       L.weightBytes() * fullBlocks >= kRowParallelMinBytes;
    auto module = getOperation();
    auto getKernel = [&](const Plan &kp) {
      std::string name = kernelName(kp, parallel);
      auto kernel = module.lookupSymbol<func::FuncOp>(name);
      if (!kernel)
        kernel =
            L.isN8K8()
                ? buildKernelInt8(module, module.getLoc(), kp, parallel,
                                  prefetchDistance < 0 ? kInt8Prefetch
                                                       : prefetchDistance,
                                  name)
                : buildKernel(module, module.getLoc(), kp, parallel,
                              std::max<int64_t>(prefetchDistance, 0), name);
      return kernel;
    };
    func::FuncOp kernel = getKernel(p);
    func::FuncOp tailKernel;
    if (tailRows) {
      Plan tp = p;
      tp.m = tailRows;
      tp.vnni = useVnni(tailRows);
      tailKernel = getKernel(tp);
    }

    // The calls, between tensors and buffers: each on a view of its rows
    // of the activations and of the output.
    FunctionType ktype = kernel.getFunctionType();
    SmallVector<Value> args;
    SmallVector<Value> tensors = {op.getLhs(), packedW, packedS};
    if (packedC)
      tensors.push_back(packedC);
    for (auto [i, t] : llvm::enumerate(tensors)) {
      Type type = i == 0 ? Type(anyLayout({p.rows, L.k}, b.getF32Type()))
                         : ktype.getInput(i);
      auto toBuffer = bufferization::ToBufferOp::create(b, loc, type, t);
      toBuffer.setReadOnly(true);
      args.push_back(toBuffer);
    }
    auto outType = MemRefType::get({p.rows, L.paddedN()}, b.getF32Type());
    Value out = memref::AllocOp::create(b, loc, outType);
    // A call of kernel `k` on `rows` rows from `row` of the activations
    // `x` and the output `o` (all of them when `rows` is all rows).
    auto callRows = [&](OpBuilder &cb, Location l, Value row, func::FuncOp k,
                        int64_t rows, Value x, ValueRange wsc, Value o) {
      auto view = [&](Value buffer, int64_t cols) -> Value {
        auto type = anyLayout({rows, cols}, cb.getF32Type());
        if (rows == p.rows) // all of it
          return buffer.getType() == type
                     ? buffer
                     : Value(memref::CastOp::create(cb, l, type, buffer));
        SmallVector<OpFoldResult> offsets = {row, cb.getIndexAttr(0)};
        SmallVector<OpFoldResult> sizes = {cb.getIndexAttr(rows),
                                           cb.getIndexAttr(cols)};
        SmallVector<OpFoldResult> strides = {cb.getIndexAttr(1),
                                             cb.getIndexAttr(1)};
        Value sub =
            memref::SubViewOp::create(cb, l, buffer, offsets, sizes, strides);
        return memref::CastOp::create(cb, l, type, sub);
      };
      SmallVector<Value> callArgs = {view(x, L.k)};
      callArgs.append(wsc.begin(), wsc.end());
      callArgs.push_back(view(o, L.paddedN()));
      func::CallOp::create(cb, l, k, callArgs);
    };
    func::FuncOp entry = kernel;
    if (fullBlocks > 1 || tailRows) {
      // More rows than one kernel takes: a private driver, generated once
      // per shape like the kernels, loops over the blocks of rows (on
      // threads when `rowParallel`) and calls the kernels on views.
      Plan all = p;
      all.m = p.rows;
      std::string name = kernelName(all, parallel) +
                         (rowParallel ? "_rowblocks_par" : "_rowblocks");
      entry = module.lookupSymbol<func::FuncOp>(name);
      if (!entry) {
        SmallVector<Type> inputs(kernel.getFunctionType().getInputs());
        inputs.front() = anyLayout({p.rows, L.k}, b.getF32Type());
        inputs.back() = anyLayout({p.rows, L.paddedN()}, b.getF32Type());
        OpBuilder mb = OpBuilder::atBlockEnd(module.getBody());
        entry = func::FuncOp::create(
            mb, loc, name, FunctionType::get(&getContext(), inputs, {}));
        entry.setPrivate();
        Block *body = entry.addEntryBlock();
        ImplicitLocOpBuilder ib(loc, OpBuilder::atBlockBegin(body));
        Value x = body->getArgument(0), o = body->getArguments().back();
        ValueRange wsc = body->getArguments().slice(1, inputs.size() - 2);
        Value c0 = arith::ConstantIndexOp::create(ib, 0);
        Value step = arith::ConstantIndexOp::create(ib, p.m);
        Value end = arith::ConstantIndexOp::create(ib, fullBlocks * p.m);
        if (fullBlocks)
          forEachTile(ib, rowParallel, c0, end, step,
                      [&](OpBuilder &lb, Location l, Value row) {
                        callRows(lb, l, row, kernel, p.m, x, wsc, o);
                      });
        if (tailRows)
          callRows(ib, loc, end, tailKernel, tailRows, x, wsc, o);
        func::ReturnOp::create(ib);
      }
    }
    {
      SmallVector<Value> wsc(args.begin() + 1, args.end());
      Value x = args[0], o = out;
      auto type = [&](int64_t cols) {
        return anyLayout({p.rows, cols}, b.getF32Type());
      };
      SmallVector<Value> callArgs = {
          x.getType() == type(L.k)
              ? x
              : Value(memref::CastOp::create(b, loc, type(L.k), x))};
      callArgs.append(wsc.begin(), wsc.end());
      callArgs.push_back(memref::CastOp::create(b, loc, type(L.paddedN()), o));
      func::CallOp::create(b, loc, entry, callArgs);
    }
    Value result = bufferization::ToTensorOp::create(
        b, loc, RankedTensorType::get(outType.getShape(), b.getF32Type()), out,
        /*restrict=*/true, /*writable=*/true);
    if (L.paddedN() != L.n) {
      SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0),
                                           b.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes = {b.getIndexAttr(p.rows),
                                         b.getIndexAttr(L.n)};
      SmallVector<OpFoldResult> strides = {b.getIndexAttr(1),
                                           b.getIndexAttr(1)};
      result = tensor::ExtractSliceOp::create(
          b, loc, cast<RankedTensorType>(op.getType()), result, offsets, sizes,
          strides);
    }
    if (p.bias || p.relu)
      result = applyEpilogue(b, loc, result, p.bias, p.relu);
    op.replaceAllUsesWith(result);
    Operation *weightsDef = p.weights.getDefiningOp();
    op.erase();
    // Drop the unpacked constant weights when nothing else uses them (a
    // quantx.scast of a constant, or a quantx.constant, which has no
    // operand).
    if (weightsDef && weightsDef->use_empty()) {
      Operation *cst = weightsDef->getNumOperands()
                           ? weightsDef->getOperand(0).getDefiningOp()
                           : nullptr;
      weightsDef->erase();
      if (cst && cst->use_empty())
        cst->erase();
    }
    for (Value v : {p.scales, p.offsets})
      if (Operation *d = v ? v.getDefiningOp() : nullptr)
        if (d->use_empty() && isa<arith::ConstantOp>(d))
          d->erase();
    return parallel || rowParallel;
  }
};

} // namespace
