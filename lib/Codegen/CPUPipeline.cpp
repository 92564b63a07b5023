//===- CPUPipeline.cpp - The quantx CPU lowering pipeline -----------------===//
//
// quantx -> linalg -> bufferized linalg -> generated GEMM kernels (packed,
// tiled, vectorized, threaded through OpenMP) and scalar loops for the rest
// -> LLVM dialect. The target features (host CPU by default) select the
// instruction forms.
//
//===----------------------------------------------------------------------===//

#include "quantx/Codegen/CPUPipeline.h"
#include "quantx/Codegen/Passes.h"
#include "quantx/Conversion/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/StringExtras.h"

#include <algorithm>

namespace mlir::quantx {
#define GEN_PASS_DEF_CPUBUFFERDEALLOCATION
#include "quantx/Codegen/Passes.h.inc"
} // namespace mlir::quantx

using namespace mlir;
using namespace mlir::quantx;

namespace {
struct CPUBufferDeallocationPass
    : public quantx::impl::CPUBufferDeallocationBase<
          CPUBufferDeallocationPass> {
  void runOnOperation() override {
    OpPassManager pipeline(func::FuncOp::getOperationName());
    bufferization::buildBufferDeallocationPipeline(pipeline);
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      bool managed = func.walk([](Operation *op) {
                           return isa<memref::DeallocOp>(op) ||
                                          isa<omp::OpenMPDialect>(
                                              op->getDialect())
                                      ? WalkResult::interrupt()
                                      : WalkResult::advance();
                         })
                         .wasInterrupted();
      if (!managed && failed(runPipeline(pipeline, func)))
        return signalPassFailure();
    }
  }
};
} // namespace

void mlir::quantx::buildQuantXCPUPipeline(OpPassManager &pm,
                                          const CPUPipelineOptions &options) {
  // Weight-only GEMV / small-batch matmuls: compile-time packed layout and
  // their own vector kernels (docs/design/WeightOnlyGEMV.md).
  QuantXPackWeightOnlyOptions weightOnly;
  weightOnly.activations = options.weightOnlyActivations;
  weightOnly.targetFeatures = options.targetFeatures;
  if (weightOnly.activations == "int8" &&
      !llvm::is_contained(resolveTargetFeatures(options.targetFeatures),
                          "avx2"))
    weightOnly.activations = "f32"; // vpmaddubsw needs AVX2.
  pm.addPass(createQuantXPackWeightOnly(weightOnly));
  pm.addPass(createConvertQuantXToLinalg());
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
  if (options.gemm)
    pm.addNestedPass<func::FuncOp>(createLinalgGeneralizeNamedOpsPass());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  // Contiguous arguments and results (the JIT passes contiguous copies):
  // reshapes of arguments are then views, not copies into new buffers.
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  // Every buffer bufferization allocated is released after its last use
  // (results are returned to, and released by, the caller).
  pm.addPass(createCPUBufferDeallocation());
  // Clones of results the function does not own (an argument, a constant).
  pm.addPass(createConvertBufferizationToMemRefPass());
  if (options.gemm) {
    CPUGemmOptions gemm;
    gemm.targetFeatures = options.targetFeatures;
    gemm.minRows = options.gemmMinRows;
    gemm.minParallelWork = options.gemmMinParallelWork;
    pm.addPass(createCPUGemm(gemm));
    // The weights packed at compile time replace the originals.
    pm.addPass(createSymbolDCEPass());
    CPUVectorizeElementwiseOptions elementwise;
    elementwise.parallel = options.parallel;
    pm.addNestedPass<func::FuncOp>(createCPUVectorizeElementwise(elementwise));
  }
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  if (options.parallel) {
    ConvertSCFToOpenMPPassOptions omp;
    omp.numThreads = options.numThreads;
    pm.addPass(createConvertSCFToOpenMPPass(omp));
    // Inlines the memref.alloca_scope ops wrapping each parallel body (none
    // holds an alloca), which must have a single block once scf.for is
    // lowered to control flow.
    pm.addPass(createCanonicalizerPass());
  }
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  // Vector exponentials as vector code, not one libm call per lane.
  if (options.approximateMath)
    pm.addPass(createCPUApproximateMath());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  // Before the OpenMP conversion, which lowers the memref ops it meets with
  // the default (malloc) allocation functions.
  if (options.runtimeAlloc) {
    FinalizeMemRefToLLVMConversionPassOptions memref;
    memref.useGenericFunctions = true;
    pm.addPass(createFinalizeMemRefToLLVMConversionPass(memref));
  }
  if (options.parallel)
    pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

namespace {
/// Textual options of `quantx-cpu-pipeline`.
struct CPUPipelineTextOptions
    : public PassPipelineOptions<CPUPipelineTextOptions> {
  Option<std::string> targetFeatures{
      *this, "target-features",
      llvm::cl::desc("Target features in LLVM syntax (+avx2,+avxvnni); "
                     "empty: the host CPU's"),
      llvm::cl::init("")};
  Option<bool> gemm{*this, "gemm",
                    llvm::cl::desc("Generate vectorized GEMM kernels"),
                    llvm::cl::init(true)};
  Option<int64_t> gemmMinRows{
      *this, "gemm-min-rows",
      llvm::cl::desc("Leave contractions with fewer static rows to the "
                     "scalar lowering"),
      llvm::cl::init(1)};
  Option<int64_t> gemmMinParallelWork{
      *this, "gemm-min-parallel-work",
      llvm::cl::desc("Products with static shapes and fewer multiply-adds "
                     "(M * N * K) run sequentially"),
      llvm::cl::init(int64_t(1) << 22)};
  Option<bool> parallel{*this, "parallel",
                        llvm::cl::desc("Run kernels on OpenMP threads"),
                        llvm::cl::init(true)};
  Option<unsigned> numThreads{
      *this, "num-threads",
      llvm::cl::desc("Threads per parallel region (0: the runtime's "
                     "default, OMP_NUM_THREADS)"),
      llvm::cl::init(0)};
  Option<std::string> weightOnlyActivations{
      *this, "weight-only-activations",
      llvm::cl::desc("Weight-only GEMV kernels: int8 (activations quantized "
                     "per group on each call; AVX2 targets, else f32) or "
                     "f32 activations"),
      llvm::cl::init("int8")};
  Option<bool> runtimeAlloc{
      *this, "runtime-alloc",
      llvm::cl::desc("Allocate through the quantx CPU runtime's block cache "
                     "(_mlir_memref_to_llvm_alloc/free in "
                     "libquantx_cpu_runtime) instead of malloc/free"),
      llvm::cl::init(false)};
  Option<bool> approximateMath{
      *this, "approximate-math",
      llvm::cl::desc("f32 exponentials as polynomial approximations (about "
                     "1 ulp, vector code) instead of libm calls"),
      llvm::cl::init(true)};
};
} // namespace

void mlir::quantx::registerQuantXPipelines() {
  PassPipelineRegistration<CPUPipelineTextOptions>(
      "quantx-cpu-pipeline",
      "Lower a quantx module to the LLVM dialect for the CPU: packed, "
      "vectorized, multi-threaded GEMM kernels, scalar loops elsewhere",
      [](OpPassManager &pm, const CPUPipelineTextOptions &text) {
        CPUPipelineOptions options;
        options.targetFeatures = text.targetFeatures;
        options.gemm = text.gemm;
        options.gemmMinRows = text.gemmMinRows;
        options.gemmMinParallelWork = text.gemmMinParallelWork;
        options.parallel = text.parallel;
        options.numThreads = text.numThreads;
        options.weightOnlyActivations = text.weightOnlyActivations;
        options.runtimeAlloc = text.runtimeAlloc;
        options.approximateMath = text.approximateMath;
        buildQuantXCPUPipeline(pm, options);
      });
}

void mlir::quantx::registerCPUTranslations(DialectRegistry &registry) {
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerOpenMPDialectTranslation(registry);
}

llvm::ArrayRef<llvm::StringRef> mlir::quantx::getCPURuntimeLibraries() {
  static const llvm::StringRef libs[] = {
      QUANTX_CPU_RUNTIME,
#ifdef QUANTX_OPENMP_RUNTIME
      QUANTX_OPENMP_RUNTIME,
#endif
  };
  return libs;
}
