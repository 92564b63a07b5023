//===- Passes.td - QuantX conversion passes ----------------*- tablegen -*-===//
//
// Every conversion pass of the project is declared here.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_CONVERSION_PASSES_TD
#define QUANTX_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertQuantToQuantX : Pass<"convert-quant-to-quantx", "ModuleOp"> {
  let summary = "Convert upstream `quant` types and ops to `quantx`";
  let description = [{
    Replaces every `!quant.uniform` type (per tensor, per axis and
    sub-channel, any storage range, signed or unsigned integer storage) by
    the equivalent `!quantx.uniform` type with static parameters, wherever it
    appears (op results, block arguments, function types, attributes), and
    rewrites `quant.qcast`, `quant.dcast` and `quant.scast` (on scalars,
    ranked and unranked tensors) to `quantx.quantize`, `quantx.dequantize` and `quantx.scast`.

    `quant.qcast` becomes `quantx.quantize` with round-half-to-even and
    saturation, which is what the `quant` dialect documents (its upstream
    lowering truncates instead; quantx does not inherit that).

    Types without a quantx equivalent (1-bit storage; float storage such
    as `f8E5M2`, which MLIR 22.1's own parser cannot read yet) are reported
    as errors. The non-uniform quant types
    (`!quant.any`, `!quant.calibrated`, quantile types) are left unchanged.

    ```mlir
    // quantx-opt -convert-quant-to-quantx
    %0 = quant.qcast %arg0 : tensor<4xf32> to tensor<4x!quant.uniform<u8:f32, 0.5:128>>
    // becomes
    %0 = quantx.quantize %arg0 : tensor<4xf32> -> tensor<4x!quantx.uniform<u8:f32, scale = 5.000000e-01, zero_point = 128>>
    ```
  }];
  let dependentDialects = ["::mlir::quantx::QuantXDialect"];
}

def ConvertQuantXToQuant : Pass<"convert-quantx-to-quant", "ModuleOp"> {
  let summary = "Convert `quantx` types and casts back to upstream `quant`";
  let description = [{
    The inverse of `convert-quant-to-quantx`: every `!quantx.uniform` type
    with static parameters, an integer zero point (or none) and the default
    f32 scale type becomes the equal `!quant.uniform` type, and
    `quantx.quantize` (round-half-to-even, saturating), `quantx.dequantize`
    and `quantx.scast` become `quant.qcast`, `quant.dcast` and `quant.scast`.
    `convert-quant-to-quantx` followed by this pass gives back the input
    unchanged.

    Types with dynamic parameters, min offsets or quantized scales, and
    quantize ops with another rounding mode or without saturation, have no
    upstream equivalent and are reported as errors.
  }];
  let dependentDialects = ["::mlir::quant::QuantDialect"];
}

def ConvertQuantXToLinalg : Pass<"convert-quantx-to-linalg", "ModuleOp"> {
  let summary = "Lower quantx element-wise ops to linalg, arith and math";
  let description = [{
    Lowers `quantx.quantize`, `quantx.dequantize`, `quantx.requantize`,
    `quantx.add`, `quantx.fake_quant`, `quantx.scast`, unpacked
    `quantx.constant` and `quantx.observe` (to its input: inference
    semantics) on ranked tensors
    to `linalg.generic` ops over the integer storage, following the
    dialect's numerics exactly: the division in the expressed type, the op's
    rounding mode (`math.roundeven`, `math.round`, `math.trunc`,
    `math.floor`), the zero point added before the clamp to the storage
    range, NaN mapped to the storage value of 0. Quantized tensor types
    become tensors of their signless storage integer type everywhere,
    function signatures included. Static parameters become constants;
    dynamic ones are read per element through indexing maps that follow
    the type's granularity (per tensor, per axis, per block with a floor
    division by the block size).

    `quantx.matmul` becomes a reduction `linalg.generic` (exact i32
    accumulation of `(q_lhs - z_lhs) * (q_rhs - z_rhs)`, or, with float
    activations, f32 accumulation of `x * dequantize(w)` without
    materializing the weights) followed by an element-wise epilogue (i32
    bias, scaling by `s_lhs * s_rhs[n]`, float bias, ReLU, requantization).
    `quantx.conv2d` pads the input with the storage value of real 0 (its
    zero point). With one group (per-tensor input parameters, filter
    parameters per tensor or per output channel) it then becomes a matrix
    product (im2col): a copy gathers the patches into `[C*KH*KW, N*OH*OW]`,
    the filter is collapsed to `[F, C*KH*KW]`, the reduction generic runs
    over loops `(f, j, k)`, which `quantx-cpu-gemm` recognises, and the
    epilogue reads the `[F, N*OH*OW]` accumulator through a map that writes
    the NCHW result directly. A grouped convolution with 3 or more input
    channels per group becomes one such product per group, on the group's
    slices of the input, filter, per-channel parameters and bias, each
    inserted into its channels of the result. Depthwise convolutions (1 or
    2 channels per group) and filter zero points known only at run time
    (which `quantx-cpu-gemm` cannot bound) stay one contraction over
    (c, kh, kw), as every convolution does with `conv-im2col=false`. With `conv-im2col`, float
    `linalg.conv_2d_nchw_fchw` ops with static shapes (the importer's float
    layers) take the same im2col form, and a `tensor.pad` of the spatial
    dimensions of a static 4-d tensor becomes a fill and an interior copy.

    Not lowered yet (the conversion fails on them with a legalization
    error): contractions of quantized activations with weights
    blocked along K, min offsets in contractions, packed constants, quantized
    (double-quantized) scale operands, and casts on scalars or unranked
    tensors.

    ```mlir
    // quantx-opt -convert-quantx-to-linalg
    %q = quantx.quantize %x : tensor<4xf32> -> tensor<4x!quantx.uniform<u8:f32, scale = 5.000000e-01, zero_point = 3>>
    // becomes a linalg.generic computing clamp(roundeven(x / 0.5) + 3, 0, 255)
    // and returning tensor<4xi8>.
    ```
  }];
  let options = [
    Option<"convIm2col", "conv-im2col", "bool", "true",
           "Lower quantx.conv2d (per group when grouped, except "
           "depthwise; and float linalg.conv_2d_nchw_fchw) as im2col and "
           "a matrix product (false: one contraction over (c, kh, kw), the "
           "reference form)">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::func::FuncDialect"];
}

def QuantXPackWeightOnly : Pass<"quantx-pack-weight-only", "ModuleOp"> {
  let summary = "Pack the weights of weight-only matmuls and generate their "
                "GEMV / small-batch kernels";
  let description = [{
    Rewrites each `quantx.matmul` with float activations `[M, K]` and
    4-bit or 8-bit weights grouped along K or scaled per output feature
    (scales as an operand or in the type, optionally zero points or mins as
    an operand) into a call of a kernel generated
    for its shape (up to 8 rows; more in blocks of 8),
    over weights in the "n8" packed layout (tiles of 8 output rows, two
    4-bit values per byte, scales interleaved per tile; see
    `quantx/Quant/WeightOnlyPacking.h`). The layout is chosen at compile
    time: constant weights (`quantx.scast` of an integer constant) and
    their constant scales/offsets are packed here into `dense_resource`
    blobs; with `pack-arguments`, weights that are function arguments are
    replaced by arguments in the packed layout (`tensor<Bxi8>` weights,
    scales in their type, f32 offset terms), which callers produce with
    `quantx::packWeightOnly` or `quantx._core.pack_weight_only`.

    The kernel (one private function per shape) widens the packed bytes,
    converts them to f32 and accumulates `x * u` per group with FMAs over
    vectors of 8 output rows, then adds `s * acc + c * sum(x)` per group;
    no f32 copy of the weights exists. Tiles of rows are distributed over
    threads (`scf.parallel` lowered to OpenMP) when the packed weights
    reach `parallel-min-bytes`.

    With `activations=int8`, 4-bit weights whose group size is a multiple
    of 8 use the "n8k8" layout (8 consecutive k of the 8 rows of a tile per
    32 bytes) and a kernel that quantizes each activation row once per call
    to int8 per weight group (symmetric, one f32 scale per group, round
    half to even) and multiplies the 4-bit levels by the int8 activations
    in exact integer arithmetic (`llvm.x86.avx2.pmadd.ub.sw` and
    `llvm.x86.avx2.pmadd.wd`: the target needs AVX2), rescaling per group
    in f32. Results then differ from the f32 kernels by the activation
    quantization error (docs/design/WeightOnlyGEMV.md). 8-bit constant
    weights (group size a multiple of 8) take the same kernel where the
    target has `vpdpbusd` (AVX-VNNI or AVX512-VNNI; `vpmaddubsw`'s i16 pair
    sums would saturate on their levels): "n8k8" with 64 bytes per 8 k.
    Other weights keep the f32 kernel; with `pack-arguments` they are an
    error instead, since the caller could not tell which layout to
    produce (8-bit weight arguments included, whose layout would depend on
    the target).

    A bias (f32 or f16, per output feature) and ReLU are applied to the
    kernel's f32 result by an element-wise `linalg.generic`.

    More than 8 rows of activations run in blocks of 8 (and the rest)
    through a driver function, on threads when the kernel is not threaded
    itself; an int8 kernel on packed weights of at least 1 MiB takes
    panels of up to 64 rows instead and runs their blocks of 8 rows inside
    each tile of weights, which it then reads from memory once for them.
    With two rows or more (`vnni-min-rows`) the int8 kernels take their
    dot products with `vpdpbusd` where the target has AVX-VNNI or
    AVX512-VNNI (the same integer sums). Scales may be an operand or in
    the weight type.

    An f32 kernel (any weights with `activations=f32`, 8-bit weights
    without `vpdpbusd`) on more than `f32-max-rows` rows of activations is left to the
    GEMM of `convert-quantx-to-linalg` and `quantx-cpu-gemm`, which
    dequantizes the weights into its packed operand once per call: on the
    example language model's 4,080-row products the kernels in blocks of 8
    rows took 12 % longer than that (docs/design/WeightOnlyGEMV.md). The
    int8-activation kernels stay at any row count (their integer products
    beat the f32 GEMM there).

    Matmuls the kernel does not cover (batched, static offsets, quantized
    results) are left to
    `convert-quantx-to-linalg`; with `pack-arguments`, such a matmul on a
    weight argument is an error, since its caller would be left without a
    packed layout.

    ```mlir
    // quantx-opt -quantx-pack-weight-only=pack-arguments=1
    func.func @f(%x: tensor<1x64xf32>, %w: tensor<16x64x!quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}>>,
                 %s: tensor<16x2xf32>) -> tensor<1x16xf32>
    // becomes
    func.func @f(%x: tensor<1x64xf32>, %w: tensor<512xi8>, %s: tensor<32xf32>)
        -> tensor<1x16xf32> attributes {quantx.packed_arguments = array<i64: 1, 2>}
    ```
  }];
  let options = [
    Option<"packArguments", "pack-arguments", "bool", "false",
           "Replace weight (and scale/offset) function arguments by "
           "arguments in the packed layout">,
    Option<"parallelMinBytes", "parallel-min-bytes", "int64_t", "1048576",
           "Thread a kernel over N (OpenMP) when its packed weights have at "
           "least this many bytes (negative: never)">,
    Option<"prefetchDistance", "prefetch-distance", "int64_t", "-1",
           "Software-prefetch the packed weights this many bytes ahead "
           "(0: rely on the hardware prefetchers; negative: the kernel's "
           "default, 0 for f32 activations and 4096 for int8, measured "
           "on DRAM-streamed weights)">,
    Option<"targetFeatures", "target-features", "std::string", "\"\"",
           "Target features in LLVM syntax (e.g. +avx2,+fma) the kernels are "
           "generated for; empty: the host CPU's (activations=int8 needs "
           "avx2)">,
    Option<"vnniMinRows", "vnni-min-rows", "int64_t", "2",
           "int8 kernels of at least this many rows compute their dot "
           "products with vpdpbusd where the target has AVX-VNNI or "
           "AVX512-VNNI, and 8-bit weights take int8 kernels there "
           "(negative: never, and 8-bit weights keep the f32 kernel)">,
    Option<"f32MaxRows", "f32-max-rows", "int64_t", "256",
           "Leave f32-kernel matmuls with more static rows than this to the "
           "GEMM (negative: no limit)">,
    Option<"activations", "activations", "std::string", "\"f32\"",
           "Arithmetic of the kernels: f32 (exact f32 products, layout "
           "n8) or int8 (activations quantized per weight group to int8 "
           "on each call, integer dot products with AVX2 vpmaddubsw, "
           "layout n8k8; 4-bit weights with groups of a multiple of 8, "
           "others keep f32)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::omp::OpenMPDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::vector::VectorDialect"];
}

#endif // QUANTX_CONVERSION_PASSES_TD
