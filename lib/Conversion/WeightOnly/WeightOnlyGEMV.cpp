//===- WeightOnlyGEMV.cpp - Packed weight-only GEMV kernels ---------------===//
//
// quantx-pack-weight-only: chooses the packed "n8" layout for the weights of
// weight-only matmuls (4/8-bit, grouped along K), packs constant weights at
// compile time, optionally turns weight arguments into packed arguments, and
// replaces each matmul by a call of a GEMV / small-batch kernel generated
// per shape in the vector dialect (widen, convert, FMA over 8-row tiles;
// scf.parallel over tiles lowered to OpenMP for large weights).
//
//===----------------------------------------------------------------------===//

#include "quantx/Conversion/Passes.h"
#include "quantx/Dialect/QuantX/IR/QuantX.h"
#include "quantx/Quant/WeightOnlyPacking.h"

#include "mlir/Conversion/SCFToOpenMP/SCFToOpenMP.h"
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
/// Kernels this pass generates are named after this prefix and the shape.
constexpr llvm::StringLiteral kKernelPrefix = "__quantx_wo_gemv";

/// Where the weights and their parameters come from.
enum class Source { Constant, Argument };

/// Everything the rewrite of one matmul needs.
struct Plan {
  ::quantx::WeightOnlyLayout layout;
  int64_t m = 0;
  bool nMajor = true; // rhs is [N, K] (transpose_rhs).
  Source source = Source::Constant;
  Type scaleElement; // f32 or f16
  Value weights;     // the quantized rhs
  Value scales, offsets;
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
FailureOr<Plan> planMatmul(MatmulOp op, bool int8Activations, bool mustFollow,
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
  if (lhsType.getDimSize(0) > kMaxRows)
    return fail("more than " + Twine(kMaxRows) + " rows of activations");
  if (!resultType || !resultType.getElementType().isF32())
    return fail("the result must be f32");
  if (op.getBias() || op.getRelu() || op.getResultScale() ||
      op.getResultOffset())
    return fail("epilogues (bias, relu, requantization) are not fused");
  auto q = cast<UniformType>(rhsType.getElementType());
  unsigned bits = q.getStorageWidth();
  if (bits != 4 && bits != 8)
    return fail("weights of " + Twine(bits) + " bits (4 and 8 are packed)");
  if (q.hasStaticParams() || q.getOffsets())
    return fail("static parameters in the weight type");
  if (q.hasQuantizedScales() || q.hasQuantizedOffsets())
    return fail("quantized scales or offsets");
  bool nMajor = op.getTransposeRhs();
  int64_t kAxis = nMajor ? 1 : 0, nAxis = 1 - kAxis;
  if (!q.isPerBlock())
    return fail("weights not grouped along K");
  int64_t group = 0;
  for (auto [axis, size] : llvm::zip(q.getAxes(), q.getBlockSizes())) {
    if (axis == kAxis)
      group = size;
    else if (axis == nAxis && size != 1)
      return fail("groups spanning several output features");
  }
  if (group == 0 || !llvm::is_contained(q.getAxes(), nAxis))
    return fail("weights not grouped along K per output feature");
  if (!op.getRhsScale())
    return fail("no rhs_scale operand");
  auto scaleType = cast<RankedTensorType>(op.getRhsScale().getType());
  Type se = scaleType.getElementType();
  if (!se.isF32() && !se.isF16())
    return fail("scales must be f32 or f16");
  if (!q.isSymmetric() && !op.getRhsOffset())
    return fail("no rhs_offset operand");

  Plan p;
  p.m = lhsType.getDimSize(0);
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
    ::quantx::WeightOnlyLayout k32 = p.layout;
    k32.kind = ::quantx::WeightLayoutKind::K32;
    if (std::string reason = k32.check(); reason.empty())
      p.layout = k32;
    else if (mustFollow)
      return fail(reason);
  }
  p.scaleElement = se;
  p.weights = op.getRhs();
  p.scales = op.getRhsScale();
  p.offsets = q.isSymmetric() ? Value() : op.getRhsOffset();
  return p;
}

/// Reads an integer or float elements attribute as floats.
FailureOr<SmallVector<float>> floatsOf(Value v) {
  DenseElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)))
    return failure();
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

/// The integer constant behind quantized weights (through quantx.scast).
FailureOr<SmallVector<int32_t>> storageOf(Value weights, bool isSigned) {
  auto cast = weights.getDefiningOp<StorageCastOp>();
  if (!cast)
    return failure();
  DenseIntElementsAttr attr;
  if (!matchPattern(cast.getInput(), m_Constant(&attr)))
    return failure();
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
  if (L.isK32())
    name += "_a8";
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
                P = L.paddedGroup(), Kp = L.paddedK(), T = L.tiles(),
                Np = L.paddedN(), numParams = L.paramCount();
  Type f32 = Float32Type::get(ctx), i8 = IntegerType::get(ctx, 8),
       i32 = IntegerType::get(ctx, 32);
  auto vf = VectorType::get({kTile}, f32);
  auto vi32 = VectorType::get({kTile}, i32);

  SmallVector<Type> inputs = {anyLayout({M, K}, f32),
                              anyLayout({L.weightBytes()}, i8),
                              anyLayout({numParams}, p.scaleElement)};
  if (L.hasOffsetTerms())
    inputs.push_back(anyLayout({numParams}, f32));
  inputs.push_back(MemRefType::get({M, Np}, f32));

  OpBuilder mb = OpBuilder::atBlockEnd(module.getBody());
  auto func =
      func::FuncOp::create(mb, loc, name, FunctionType::get(ctx, inputs, {}));
  func.setPrivate();
  Block *entry = func.addEntryBlock();
  ImplicitLocOpBuilder b(loc, ctx);
  b.setInsertionPointToStart(entry);

  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, v);
  };
  Value x = contiguous(b, entry->getArgument(0));
  Value w = contiguous(b, entry->getArgument(1));
  Value s = contiguous(b, entry->getArgument(2));
  Value c = L.hasOffsetTerms() ? contiguous(b, entry->getArgument(3)) : Value();
  Value out = entry->getArguments().back();
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

  if (parallel) {
    scf::ParallelOp::create(b, ValueRange{c0}, ValueRange{idx(T)},
                            ValueRange{c1},
                            [&](OpBuilder &ob, Location l, ValueRange ivs) {
                              tileBody(ob, l, ivs[0]);
                            });
  } else {
    scf::ForOp::create(b, c0, idx(T), c1, ValueRange{},
                       [&](OpBuilder &ob, Location l, Value t, ValueRange) {
                         tileBody(ob, l, t);
                         scf::YieldOp::create(ob, l);
                       });
  }
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

/// Builds the int8-activation kernel for a "k32" plan:
///   (x: memref<MxK>, w: memref<Bxi8>, s: memref<N*Gp x f16|f32>,
///    [c: memref<N*Gp x f32>], out: memref<MxN>) -> ()
/// Per call, each activation row is quantized per weight group g:
///   d[m,g] = max_k |x[m,k]| / 127, a[m,k] = clamp(roundeven(x[m,k] / d), 127)
/// (multiplying by the f32 reciprocal of d; a = 0 when d = 0), and
///   out[m,n] = sum_g s[n,g]*d[m,g] * dot(u[n, g], a[m, g])
///            + sum_g c[n,g] * d[m,g]*sum_{k in g} a[m,k],
/// with c = s*storage_min without offsets. The dot products are exact
/// integers (vpmaddubsw of u8 levels <= 15 and int8 activations cannot
/// saturate: 2*15*127 < 2^15, and at most 8 such i16 sums are added before
/// vpmaddwd widens them to i32).
func::FuncOp buildKernelInt8(ModuleOp module, Location loc, const Plan &p,
                             bool parallel, StringRef name) {
  MLIRContext *ctx = module.getContext();
  const auto &L = p.layout;
  const int64_t M = p.m, K = L.k, N = L.n, gs = L.group, Gp = L.paddedGroups(),
                Kp = L.paddedK(), U = L.groupUnroll(), bpg = gs / 32,
                numParams = L.paramCount();
  Type f32 = Float32Type::get(ctx), i8 = IntegerType::get(ctx, 8),
       i16 = IntegerType::get(ctx, 16), i32 = IntegerType::get(ctx, 32);
  auto vf = VectorType::get({8}, f32);
  auto vu = VectorType::get({U}, f32);
  auto vb = VectorType::get({32}, i8);
  auto vw = VectorType::get({16}, i16);
  auto vi = VectorType::get({8}, i32);

  SmallVector<Type> inputs = {anyLayout({M, K}, f32),
                              anyLayout({L.weightBytes()}, i8),
                              anyLayout({numParams}, p.scaleElement)};
  if (L.hasOffsetTerms())
    inputs.push_back(anyLayout({numParams}, f32));
  inputs.push_back(MemRefType::get({M, N}, f32));

  OpBuilder mb = OpBuilder::atBlockEnd(module.getBody());
  auto func =
      func::FuncOp::create(mb, loc, name, FunctionType::get(ctx, inputs, {}));
  func.setPrivate();
  Block *entry = func.addEntryBlock();
  ImplicitLocOpBuilder b(loc, ctx);
  b.setInsertionPointToStart(entry);

  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, v);
  };
  Value x = contiguous(b, entry->getArgument(0));
  Value w = contiguous(b, entry->getArgument(1));
  Value s = contiguous(b, entry->getArgument(2));
  Value c = L.hasOffsetTerms() ? contiguous(b, entry->getArgument(3)) : Value();
  Value out = entry->getArguments().back();
  Value c0 = idx(0), c1 = idx(1);

  // Quantized activations (zero past K), their scales d and d * sum(a) per
  // group (zero in padding groups).
  Value xq = memref::AllocOp::create(b, MemRefType::get({M, Kp}, i8));
  Value xd = memref::AllocOp::create(b, MemRefType::get({M, Gp}, f32));
  Value xc = memref::AllocOp::create(b, MemRefType::get({M, Gp}, f32));
  scf::ForOp::create(
      b, c0, idx(M), c1, ValueRange{},
      [&](OpBuilder &ob0, Location l, Value row, ValueRange) {
        ImplicitLocOpBuilder ob(l, ob0);
        scf::ForOp::create(
            ob, arith::ConstantIndexOp::create(ob, 0),
            arith::ConstantIndexOp::create(ob, Gp),
            arith::ConstantIndexOp::create(ob, 1), ValueRange{},
            [&](OpBuilder &gb0, Location gl, Value g, ValueRange) {
              ImplicitLocOpBuilder gb(gl, gb0);
              auto cst = [&](int64_t v) -> Value {
                return arith::ConstantIndexOp::create(gb, v);
              };
              auto fc = [&](float v) -> Value {
                return arith::ConstantOp::create(gb, gb.getF32FloatAttr(v));
              };
              Value start = arith::MulIOp::create(gb, g, cst(gs));
              // x[m, k], or 0 past K.
              auto xAt = [&](ImplicitLocOpBuilder &ib, Value j) -> Value {
                Value k = arith::AddIOp::create(ib, start, j);
                Value in = arith::CmpIOp::create(
                    ib, arith::CmpIPredicate::ult, k,
                    arith::ConstantIndexOp::create(ib, K));
                Value kc = arith::MinUIOp::create(
                    ib, k, arith::ConstantIndexOp::create(ib, K - 1));
                Value v = memref::LoadOp::create(ib, x, ValueRange{row, kc});
                return arith::SelectOp::create(
                    ib, in, v,
                    arith::ConstantOp::create(ib, ib.getF32FloatAttr(0.0f)));
              };
              auto amax = scf::ForOp::create(
                  gb, cst(0), cst(gs), cst(1), ValueRange{fc(0.0f)},
                  [&](OpBuilder &ib0, Location il, Value j, ValueRange acc) {
                    ImplicitLocOpBuilder ib(il, ib0);
                    Value v = xAt(ib, j);
                    Value a = arith::MaximumFOp::create(
                        ib, v, arith::NegFOp::create(ib, v));
                    scf::YieldOp::create(
                        ib,
                        ValueRange{arith::MaximumFOp::create(ib, acc[0], a)});
                  });
              Value d =
                  arith::DivFOp::create(gb, amax.getResult(0), fc(127.0f));
              Value isZero = arith::CmpFOp::create(
                  gb, arith::CmpFPredicate::OEQ, d, fc(0.0f));
              Value inv = arith::SelectOp::create(
                  gb, isZero, fc(0.0f), arith::DivFOp::create(gb, fc(1.0f), d));
              auto sum = scf::ForOp::create(
                  gb, cst(0), cst(gs), cst(1),
                  ValueRange{arith::ConstantIntOp::create(gb, i32, 0)},
                  [&](OpBuilder &ib0, Location il, Value j, ValueRange acc) {
                    ImplicitLocOpBuilder ib(il, ib0);
                    Value v = arith::MulFOp::create(ib, xAt(ib, j), inv);
                    Value r = math::RoundEvenOp::create(ib, v);
                    r = arith::MinimumFOp::create(
                        ib,
                        arith::MaximumFOp::create(
                            ib, r,
                            arith::ConstantOp::create(
                                ib, ib.getF32FloatAttr(-127.0f))),
                        arith::ConstantOp::create(ib,
                                                  ib.getF32FloatAttr(127.0f)));
                    Value q = arith::FPToSIOp::create(ib, i32, r);
                    memref::StoreOp::create(
                        ib, arith::TruncIOp::create(ib, i8, q), xq,
                        ValueRange{row, arith::AddIOp::create(ib, start, j)});
                    scf::YieldOp::create(
                        ib, ValueRange{arith::AddIOp::create(ib, acc[0], q)});
                  });
              memref::StoreOp::create(gb, d, xd, ValueRange{row, g});
              Value corr = arith::MulFOp::create(
                  gb, d, arith::SIToFPOp::create(gb, f32, sum.getResult(0)));
              memref::StoreOp::create(gb, corr, xc, ValueRange{row, g});
              scf::YieldOp::create(gb);
            });
        scf::YieldOp::create(ob);
      });

  // Independent accumulators per activation row: about eight FMA chains in
  // flight hide the FMA latency.
  const int64_t chains =
      std::max<int64_t>(1, std::min<int64_t>(U, 8 / std::max<int64_t>(M, 1)));
  const int64_t chunkBytes = 32, stepBytes = U * gs / 2, rowBytes = Kp / 2;
  auto rowBody = [&](OpBuilder &ob, Location l, Value n) {
    ImplicitLocOpBuilder rb(l, ob);
    auto cst = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(rb, v);
    };
    Value zero8 =
        arith::ConstantOp::create(rb, vf, DenseElementsAttr::get(vf, 0.0f));
    Value zeroU =
        arith::ConstantOp::create(rb, vu, DenseElementsAttr::get(vu, 0.0f));
    SmallVector<Value> init(M * chains, zero8);
    init.append(M, zeroU);
    Value wRow = arith::MulIOp::create(rb, n, cst(rowBytes));
    Value pRow = arith::MulIOp::create(rb, n, cst(Gp));
    auto loop = scf::ForOp::create(
        rb, cst(0), cst(Gp / U), cst(1), init,
        [&](OpBuilder &sb0, Location sl, Value step, ValueRange acc) {
          ImplicitLocOpBuilder sb(sl, sb0);
          auto sc = [&](int64_t v) -> Value {
            return arith::ConstantIndexOp::create(sb, v);
          };
          SmallVector<Value> next(acc.begin(), acc.end());
          Value g0 = arith::MulIOp::create(sb, step, sc(U));
          Value pIdx = arith::AddIOp::create(sb, pRow, g0);
          Value sv = vector::LoadOp::create(
              sb, VectorType::get({U}, p.scaleElement), s, pIdx);
          if (!p.scaleElement.isF32())
            sv = arith::ExtFOp::create(sb, vu, sv);
          Value cv = c ? vector::LoadOp::create(sb, vu, c, pIdx) : sv;
          // Scales of the products (s * d) per row, and the offset terms.
          SmallVector<Value> prod;
          for (int64_t m = 0; m < M; ++m) {
            Value dm =
                vector::LoadOp::create(sb, vu, xd, ValueRange{sc(m), g0});
            prod.push_back(arith::MulFOp::create(sb, sv, dm));
            Value cm =
                vector::LoadOp::create(sb, vu, xc, ValueRange{sc(m), g0});
            Value &a = next[M * chains + m];
            a = vector::FMAOp::create(sb, cv, cm, a);
          }
          // The step's weights: U groups of gs/32 blocks of 32 levels.
          Value wStep = arith::AddIOp::create(
              sb, wRow, arith::MulIOp::create(sb, step, sc(stepBytes)));
          Value mask = arith::ConstantOp::create(
              sb, vb, DenseElementsAttr::get(vb, int8_t(15)));
          Value four = arith::ConstantOp::create(
              sb, vb, DenseElementsAttr::get(vb, int8_t(4)));
          Value ones = arith::ConstantOp::create(
              sb, vw, DenseElementsAttr::get(vw, int16_t(1)));
          SmallVector<Value> blocks;
          for (int64_t ch = 0; ch < stepBytes / chunkBytes; ++ch) {
            Value raw =
                vector::LoadOp::create(sb, vb, w,
                                       ValueRange{arith::AddIOp::create(
                                           sb, wStep, sc(ch * chunkBytes))});
            blocks.push_back(arith::AndIOp::create(sb, raw, mask));
            blocks.push_back(arith::AndIOp::create(
                sb, arith::ShRUIOp::create(sb, raw, four), mask));
          }
          Value kStep = arith::MulIOp::create(sb, g0, sc(gs));
          for (int64_t gi = 0; gi < U; ++gi) {
            for (int64_t m = 0; m < M; ++m) {
              Value dot;
              // At most 8 i16 pair sums per vpmaddwd: 8*2*15*127 < 2^15.
              for (int64_t b0 = 0; b0 < bpg; b0 += 8) {
                Value pairs;
                for (int64_t bi = b0; bi < std::min(bpg, b0 + 8); ++bi) {
                  Value a = vector::LoadOp::create(
                      sb, vb, xq,
                      ValueRange{sc(m),
                                 arith::AddIOp::create(
                                     sb, kStep, sc((gi * bpg + bi) * 32))});
                  Value pr = intrinsic(sb, vw, "llvm.x86.avx2.pmadd.ub.sw",
                                       {blocks[gi * bpg + bi], a});
                  pairs = pairs ? arith::AddIOp::create(sb, pairs, pr) : pr;
                }
                Value wide =
                    intrinsic(sb, vi, "llvm.x86.avx2.pmadd.wd", {pairs, ones});
                dot = dot ? arith::AddIOp::create(sb, dot, wide) : wide;
              }
              Value df = arith::SIToFPOp::create(sb, vf, dot);
              Value scale = vector::BroadcastOp::create(
                  sb, vf, vector::ExtractOp::create(sb, prod[m], gi));
              Value &a = next[m * chains + gi % chains];
              a = vector::FMAOp::create(sb, df, scale, a);
            }
          }
          scf::YieldOp::create(sb, next);
        });
    auto reassoc = arith::FastMathFlags::reassoc;
    for (int64_t m = 0; m < M; ++m) {
      SmallVector<Value> part(loop.getResults().begin() + m * chains,
                              loop.getResults().begin() + (m + 1) * chains);
      while (part.size() > 1) {
        SmallVector<Value> half;
        for (size_t i = 0; i + 1 < part.size(); i += 2)
          half.push_back(arith::AddFOp::create(rb, part[i], part[i + 1]));
        if (part.size() % 2)
          half.push_back(part.back());
        part = std::move(half);
      }
      Value dotSum = vector::ReductionOp::create(rb, rb.getLoc(),
                                                 vector::CombiningKind::ADD,
                                                 part[0], Value(), reassoc);
      Value corr = vector::ReductionOp::create(
          rb, rb.getLoc(), vector::CombiningKind::ADD,
          loop.getResult(M * chains + m), Value(), reassoc);
      if (!c)
        corr = arith::MulFOp::create(
            rb, corr,
            arith::ConstantOp::create(
                rb, rb.getF32FloatAttr(float(L.storageMin()))));
      Value y = arith::AddFOp::create(rb, dotSum, corr);
      memref::StoreOp::create(rb, y, out, ValueRange{cst(m), n});
    }
  };

  if (parallel) {
    scf::ParallelOp::create(b, ValueRange{c0}, ValueRange{idx(N)},
                            ValueRange{c1},
                            [&](OpBuilder &ob, Location l, ValueRange ivs) {
                              rowBody(ob, l, ivs[0]);
                            });
  } else {
    scf::ForOp::create(b, c0, idx(N), c1, ValueRange{},
                       [&](OpBuilder &ob, Location l, Value n, ValueRange) {
                         rowBody(ob, l, n);
                         scf::YieldOp::create(ob, l);
                       });
  }
  memref::DeallocOp::create(b, xq);
  memref::DeallocOp::create(b, xd);
  memref::DeallocOp::create(b, xc);
  func::ReturnOp::create(b);
  return func;
}

struct PackWeightOnlyPass
    : public mlir::quantx::impl::QuantXPackWeightOnlyBase<PackWeightOnlyPass> {
  using QuantXPackWeightOnlyBase::QuantXPackWeightOnlyBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (activations != "f32" && activations != "int8") {
      module.emitError("quantx-pack-weight-only: activations must be f32 or "
                       "int8, got '")
          << activations << "'";
      return signalPassFailure();
    }
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
        if (!func || !func.getSymName().starts_with(kKernelPrefix))
          return;
        OpBuilder b(loop);
        // Rows of int8-activation ("k32") kernels: 64 rows, as many bytes
        // as 8 tiles of "n8".
        int64_t rows = func.getSymName().contains("_a8_") ? 64 : 8;
        Value chunk = arith::ConstantIndexOp::create(b, loop.getLoc(), rows);
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
  FailureOr<bool> rewrite(MatmulOp op) {
    std::string why;
    BlockArgument weightArg = asFuncArgument(op.getRhs());
    bool wantArgument = packArguments && weightArg;
    FailureOr<Plan> plan =
        planMatmul(op, activations == "int8", wantArgument, why);
    if (failed(plan)) {
      if (wantArgument)
        return op.emitOpError("cannot pack weight argument #")
               << weightArg.getArgNumber() << ": " << why;
      return false; // Left to convert-quantx-to-linalg.
    }
    Plan &p = *plan;
    const auto &L = p.layout;
    OpBuilder b(op);
    Location loc = op.getLoc();
    Value packedW, packedS, packedC;

    if (wantArgument) {
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
      FailureOr<SmallVector<float>> s = floatsOf(p.scales);
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

    // The kernel, generated once per shape.
    bool parallel = parallelMinBytes >= 0 &&
                    L.weightBytes() >= parallelMinBytes &&
                    (L.isK32() ? L.n > 1 : L.tiles() > 1);
    auto module = getOperation();
    std::string name = kernelName(p, parallel);
    auto kernel = module.lookupSymbol<func::FuncOp>(name);
    if (!kernel)
      kernel = L.isK32()
                   ? buildKernelInt8(module, module.getLoc(), p, parallel, name)
                   : buildKernel(module, module.getLoc(), p, parallel,
                                 prefetchDistance, name);

    // The call, between tensors and buffers.
    FunctionType ktype = kernel.getFunctionType();
    SmallVector<Value> args;
    SmallVector<Value> tensors = {op.getLhs(), packedW, packedS};
    if (packedC)
      tensors.push_back(packedC);
    for (auto [t, type] : llvm::zip(tensors, ktype.getInputs())) {
      auto toBuffer = bufferization::ToBufferOp::create(b, loc, type, t);
      toBuffer.setReadOnly(true);
      args.push_back(toBuffer);
    }
    auto outType = cast<MemRefType>(ktype.getInputs().back());
    Value out = memref::AllocOp::create(b, loc, outType);
    args.push_back(out);
    func::CallOp::create(b, loc, kernel, args);
    Value result = bufferization::ToTensorOp::create(
        b, loc, RankedTensorType::get(outType.getShape(), b.getF32Type()), out,
        /*restrict=*/true, /*writable=*/true);
    if (L.paddedN() != L.n) {
      SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0),
                                           b.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes = {b.getIndexAttr(p.m),
                                         b.getIndexAttr(L.n)};
      SmallVector<OpFoldResult> strides = {b.getIndexAttr(1),
                                           b.getIndexAttr(1)};
      result = tensor::ExtractSliceOp::create(
          b, loc, cast<RankedTensorType>(op.getType()), result, offsets, sizes,
          strides);
    }
    op.replaceAllUsesWith(result);
    Operation *weightsDef = p.weights.getDefiningOp();
    op.erase();
    // Drop the unpacked constant weights when nothing else uses them.
    if (weightsDef && weightsDef->use_empty()) {
      Operation *cst = weightsDef->getOperand(0).getDefiningOp();
      weightsDef->erase();
      if (cst && cst->use_empty())
        cst->erase();
    }
    for (Value v : {p.scales, p.offsets})
      if (Operation *d = v ? v.getDefiningOp() : nullptr)
        if (d->use_empty() && isa<arith::ConstantOp>(d))
          d->erase();
    return parallel;
  }
};

} // namespace
