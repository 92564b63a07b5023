//===- Passes.td - QuantX code generation passes -----------*- tablegen -*-===//
//
// The passes of the CPU code generation layer.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_CODEGEN_PASSES_TD
#define QUANTX_CODEGEN_PASSES_TD

include "mlir/Pass/PassBase.td"

def CPUGemm : Pass<"quantx-cpu-gemm", "ModuleOp"> {
  let summary = "Generate packed, register-tiled, vectorized and "
                "multi-threaded GEMM code for matmul-like linalg.generic ops";
  let description = [{
    Rewrites every bufferized `linalg.generic` that is a matrix product
    (iterators `[parallel, parallel, reduction]`, output map `(m, n)`, first
    input read at `(m, k)`, second at `(k, n)` or `(n, k)`, body
    `acc + X * Y`) where `X` depends only on values indexed by `(m, k)` and
    `Y` only on values indexed by `(k, n)`. Two kinds are recognised:

    - integer: `i32` accumulation where a simple bound analysis proves
      `|X|, |Y| <= 32767` (int8/uint8 storage with zero points subtracted
      qualifies). `X` and `Y` are evaluated once per element while packing,
      so zero points, extensions and any other per-operand preprocessing
      of the body are folded into the packed operands, and the kernel is a
      pure `i16 x i16 -> i32` dot product: `vpmaddwd` (`llvm.x86.avx2.pmadd.wd`)
      on AVX2, or, when the target has `avxvnni` or `avx512vnni`+`avx512vl`
      and the operands fit (`X` in [-128, 255], `Y` in [-128, 127]), the
      `u8 x s8` form `vpdpbusd` with a bias of +128 on `X` when it is signed,
      corrected exactly by `-128 * sum_k Y[k, n]` in the accumulator's
      initial value. Without AVX2 a portable vector form is emitted.
      Results are exact (modular i32 arithmetic, like the reference).
    - float: `f32` accumulation (`arith.mulf` + `arith.addf`), computed with
      `vector.fma`.

    The generated code packs `X` into row panels
    `[Kp / KC][Mp / MR][KC / KU][MR][KU]` (rows padded to the register tile,
    k blocks outermost) and `Y` into column panels
    `[Kp / KC][Np / NR][KC / KU][NR][KU]` (KU = 1 for f32, 2 for vpmaddwd,
    4 for vpdpbusd), all padding zero; then a
    `scf.parallel` over `MC x NC` output tiles (lowered to OpenMP by the
    pipeline) runs `KC`-deep slices of an `MR x NR` register-tile
    microkernel whose accumulators stay in vector registers. Ragged edges
    go through a zero-padded copy of the accumulator.

    A `Y` that is a compile-time constant (a constant `memref.global`,
    as bufferized weights are, read through an integer-only body slice) is
    packed by the pass itself into a new constant global (and its column
    sums, when needed), so calls pack only `X`. An `X = a - z` with `z`
    invariant in the loops and of unknown range (a dynamic zero point read
    from a 0-d buffer) packs `a` and starts the accumulator from
    `acc - z * sum_k Y[k, n]`, exact in modular i32.

    Products with static shapes and fewer than `min-parallel-work`
    multiply-adds are emitted as sequential loops (no OpenMP region); the
    others get at least two output tiles when the shape allows.

    A batched product (iterators `[parallel, parallel, parallel,
    reduction]`, output map `(b, m, n)`, every memref operand indexed by
    `b` in its first dimension and nowhere else: `linalg.batch_matmul`)
    first becomes a loop over `b` of the 2-D product on rank-reduced
    `memref.subview`s of each batch element, generated as above: an
    `scf.parallel` over the batch when each product is below
    `min-parallel-work` (so runs sequentially), else an `scf.for`.

    On targets with AVX-512 the f32 tiles are 8 x 32 of 512-bit vectors and
    the vpdpbusd tiles (with `avx512vnni` and `avx512bw`) 4 x 64 (8 x 32 when
    64 would pad a static width by more than half): 16 accumulators of the
    32 registers, instead of 6 x 16 of 256-bit ones (`vector-bits` chooses). The instruction form
    follows the target features: `target-features`
    (LLVM syntax, `+avx2,+fma,...`; exactly these features, whatever the
    host) when given, else the host CPU's.
  }];
  let options = [
    Option<"targetFeatures", "target-features", "std::string", "\"\"",
           "Target features in LLVM syntax (e.g. +avx2,+avxvnni); empty: "
           "the host CPU's">,
    Option<"mr", "mr", "int64_t", "0", "Rows of the register tile (0: per target)">,
    Option<"nr", "nr", "int64_t", "0",
           "Columns of the register tile, a multiple of the vector width "
           "(0: per target)">,
    Option<"mc", "mc", "int64_t", "0",
           "Rows of a thread's output tile (0: as many as fill half of the "
           "L2 cache with packed lhs values, see l2-cache-bytes)">,
    Option<"l2Cache", "l2-cache-bytes", "int64_t", "0",
           "L2 cache bytes per core for the default mc (0: the host's, "
           "512 KiB when unknown)">,
    Option<"nc", "nc", "int64_t", "0", "Columns of a thread's output tile (0: per target)">,
    Option<"kc", "kc", "int64_t", "0", "Depth of a cache block (0: per target)">,
    Option<"minRows", "min-rows", "int64_t", "1",
           "Leave contractions with a static row count below this to other "
           "lowerings (matrix-vector shapes)">,
    Option<"minParallelWork", "min-parallel-work", "int64_t", "4194304",
           "Products with static shapes and fewer multiply-adds (M * N * K) "
           "run sequentially, without parallel loops">,
    Option<"useVNNI", "vnni", "bool", "true",
           "Use vpdpbusd where the target has it and the operands fit">,
    Option<"vectorBits", "vector-bits", "int64_t", "0",
           "Vector width of the f32 and vpdpbusd tiles: 256, 512 (needs "
           "avx512f; vpdpbusd also avx512vnni and avx512bw) or 0 (512 "
           "where the target has AVX-512)">,
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::affine::AffineDialect",
                           "::mlir::LLVM::LLVMDialect"];
}

def CPUVectorizeElementwise
    : Pass<"quantx-cpu-vectorize-elementwise", "func::FuncOp"> {
  let summary = "Vector loops for static element-wise linalg.generic ops, "
                "pooling windows and min/max reductions";
  let description = [{
    Rewrites bufferized `linalg.generic` ops with static shapes whose
    operands are static memrefs with static strides (identity or strided
    layouts, subviews included), whose indexing maps are linear (sums of
    dimensions times constants: `oh * 2 + kh`, `n * 784 + h * 28 + w`) and
    whose bodies are pure element-wise scalar ops (arith, math):

    - iterators: parallel dimensions, then optionally reduction dimensions
      of at most 64 points in all (a pooling window). Every memref operand
      is read through a 1-d view at a linear offset from its aligned
      pointer. Trailing parallel dimensions that every operand walks
      row-major merge into one vector dimension (an identity element-wise
      op becomes one long loop). Along it an input is contiguous (vector
      loads), uniform (a scalar load, broadcast) or read with a stride of
      2 to 4 (a load of twice to four times the lanes, then a shuffle; the
      load runs only where it stays inside the buffer, elsewhere the same
      points run as scalars). Outputs are contiguous. The vector loop
      takes 256 bits of the widest element (8 lanes for f32/i32, up to 32
      for i8). An op that does not read its outputs ends each row with one
      more full vector overlapping the one before; otherwise the tail
      takes halves of the lanes down to 4, then scalars. A window
      is unrolled in the scalar loops' order on vectors of outputs.
      `fptosi` to a wider-than-32-bit integer of a value clamped by
      `minimumf`/`maximumf` constants inside the i32 range becomes
      `fptosi` to i32 and `extsi` (same value; AVX2 has no vector
      conversion to i64).
    - ops with at least `parallel-min-elements` parallel points run their
      outer dimensions (and, when there are fewer than 64 outer points,
      chunks of whole vectors of the vector dimension) as one
      `scf.parallel`, which the CPU pipeline lowers to OpenMP.
    - a whole-buffer `minimumf`/`maximumf` reduction into a 0-d output: a
      vector of partial results, `vector.reduction`, a scalar remainder.
      Both are order-independent, so the result is identical.

    Each lane computes the same operations in the same order as the scalar
    loop, so results are bit-identical to `convert-linalg-to-loops`.
  }];
  let options = [
    Option<"parallel", "parallel", "bool", "true",
           "Run the outer loops of large ops as scf.parallel loops">,
    Option<"minParallelElements", "parallel-min-elements", "int64_t", "65536",
           "Iteration points from which an op runs in parallel">,
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
}

def CPUApproximateMath : Pass<"quantx-cpu-approximate-math"> {
  let summary = "Polynomial approximations of f32 math.exp, scalar and "
                "vector";
  let description = [{
    Rewrites `math.exp` on f32 and vectors of f32 into upstream's
    polynomial approximation (range reduction by ln 2, a polynomial on the
    reduced range, the exponent put back into the float's bits), which
    vectorizes. LLVM has no vector `exp` on x86 without a vector math
    library: the vector `math.exp` of a softmax or a SiLU became one call
    of libm's `expf` per lane. Scalar and vector ops get the same rewrite,
    so the element-wise vectorizer's results stay identical to the scalar
    loops'. Accuracy (python/tests/test_jit.py, against float64 `exp`
    over 2^20 points of [-87, 88]): at most 1.0006 ulp from the exact
    value, 0.27 ulp on average (glibc's `expf`: at most 0.5015 ulp).
    Results below the smallest normal f32 (x below about -87.3) are 0,
    above the f32 range +inf; NaN stays NaN. The CPU pipeline runs it
    unless `approximate-math=false`. On the example language model
    (softmax and SiLU) the forward pass ran 1.12x (float) to 1.20x
    (static int8, 16 windows) as fast as with `expf`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::vector::VectorDialect"];
}

def CPUBufferDeallocation
    : Pass<"quantx-cpu-buffer-deallocation", "ModuleOp"> {
  let summary = "Free each buffer after its last use (upstream's "
                "ownership-based deallocation, per function)";
  let description = [{
    Runs upstream's buffer deallocation pipeline
    (`ownership-based-buffer-deallocation`, its simplification and the
    lowering of `bufferization.dealloc`) on each function of the module
    that does not manage its buffers itself: functions that already free
    buffers (`memref.dealloc`) or contain OpenMP ops (the weight-only
    kernels, whose loop wrappers upstream's pass does not know) are left
    alone. Results stay owned by the caller: a result that aliases an
    argument or a constant becomes a `bufferization.clone`.
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

#endif // QUANTX_CODEGEN_PASSES_TD
