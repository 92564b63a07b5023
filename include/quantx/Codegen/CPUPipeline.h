//===- CPUPipeline.h - The quantx CPU lowering pipeline ---------*- C++ -*-===//
//
// The pass pipeline taking a quantx module to the LLVM dialect for an x86
// CPU (quantx to linalg, bufferization, GEMM code generation, threads,
// LLVM), the target feature query it is driven by, and what a JIT needs to
// run its output.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_CODEGEN_CPUPIPELINE_H
#define QUANTX_CODEGEN_CPUPIPELINE_H

#include "quantx/Codegen/TargetFeatures.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>

namespace mlir {
class DialectRegistry;
class OpPassManager;
namespace quantx {

/// Options of `buildQuantXCPUPipeline`.
struct CPUPipelineOptions {
  /// Target features in LLVM syntax ("+avx2,+fma,+avxvnni"); empty means
  /// the host CPU's.
  std::string targetFeatures;
  /// Generate packed, vectorized GEMM kernels for matrix products (else
  /// every linalg op becomes scalar loops).
  bool gemm = true;
  /// Contractions with fewer static rows are left to other lowerings
  /// (matrix-vector shapes).
  int64_t gemmMinRows = 1;
  /// Products with static shapes and fewer multiply-adds run on the calling
  /// thread (no parallel loops): 2^22, about 0.1 ms of one core.
  int64_t gemmMinParallelWork = int64_t(1) << 22;
  /// Run the outer loops of the generated kernels on OpenMP threads.
  bool parallel = true;
  /// Number of threads of each parallel region; 0 leaves it to the OpenMP
  /// runtime (OMP_NUM_THREADS, else all cores).
  unsigned numThreads = 0;
  /// Arithmetic of the weight-only GEMV kernels (quantx-pack-weight-only
  /// `activations`): "f32", or "int8" (activations quantized per group on
  /// each call; used only when the target features include AVX2, else the
  /// f32 kernels are generated).
  std::string weightOnlyActivations = "int8";
  /// Allocate buffers through the quantx CPU runtime
  /// (libquantx_cpu_runtime: MLIR's generic `_mlir_memref_to_llvm_alloc`
  /// and `_free`, which reuse each thread's large blocks across calls)
  /// instead of malloc and free. The JIT and the ahead-of-time outputs
  /// turn this on and provide the runtime.
  bool runtimeAlloc = false;
  /// Polynomial approximations of f32 exponentials (about 1 ulp from
  /// the exact value, vector code; quantx-cpu-approximate-math) instead of
  /// libm's expf, which LLVM calls once per lane of a vector.
  bool approximateMath = true;
};

/// Adds the passes that take a module from quantx to the LLVM dialect on
/// the CPU.
void buildQuantXCPUPipeline(OpPassManager &pm,
                            const CPUPipelineOptions &options = {});

/// Registers `quantx-cpu-pipeline` with the textual pass pipeline parser.
void registerQuantXPipelines();



/// Registers the translations to LLVM IR of every dialect the pipeline's
/// output may contain (builtin, LLVM, OpenMP).
void registerCPUTranslations(DialectRegistry &registry);

/// Shared libraries a JIT must load to run the pipeline's output (the
/// OpenMP runtime when it was found at build time).
llvm::ArrayRef<llvm::StringRef> getCPURuntimeLibraries();

} // namespace quantx
} // namespace mlir

#endif // QUANTX_CODEGEN_CPUPIPELINE_H
