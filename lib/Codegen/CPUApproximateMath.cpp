//===- CPUApproximateMath.cpp - Vectorizable math approximations ----------===//
//
// quantx-cpu-approximate-math: upstream's polynomial approximation of f32
// math.exp, so that vector exponentials (softmax, SiLU) stay vector code.
//
//===----------------------------------------------------------------------===//

#include "quantx/Codegen/Passes.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::quantx {
#define GEN_PASS_DEF_CPUAPPROXIMATEMATH
#include "quantx/Codegen/Passes.h.inc"
} // namespace mlir::quantx

using namespace mlir;

namespace {
struct CPUApproximateMathPass
    : public quantx::impl::CPUApproximateMathBase<CPUApproximateMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(
        patterns, [](StringRef name) { return name == "math.exp"; });
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
