//===- quantx-opt.cpp - The QuantX optimizer driver -----------------------===//
//
// Behaves like mlir-opt: every upstream dialect, extension and pass is
// registered, plus the quantx dialect and QuantX's passes.
//
//===----------------------------------------------------------------------===//

#include "quantx/Codegen/CPUPipeline.h"
#include "quantx/Codegen/Passes.h"
#include "quantx/Conversion/Passes.h"
#include "quantx/Dialect/QuantX/IR/QuantX.h"
#include "quantx/Dialect/QuantX/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::quantx::registerQuantXConversionPasses();
  mlir::quantx::registerQuantXCodegenPasses();
  mlir::quantx::registerQuantXPipelines();
  mlir::quantx::registerQuantXTransformsPasses();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  registry.insert<mlir::quantx::QuantXDialect>();

  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "QuantX optimizer driver\n", registry));
}
