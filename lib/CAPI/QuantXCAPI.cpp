//===- QuantXCAPI.cpp - The QuantX C embedding API ------------------------===//
//
// Implements include/quantx-c/QuantX.h over MLIR. Diagnostics raised while a
// call runs are captured into the call's error object, never printed.
//
//===----------------------------------------------------------------------===//

#include "quantx-c/QuantX.h"

#include "quantx/Codegen/CPUPipeline.h"
#include "quantx/Codegen/Passes.h"
#include "quantx/Conversion/Passes.h"
#include "quantx/Dialect/QuantX/IR/QuantX.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

using namespace mlir;

struct quantx_error {
  std::string message;
};

struct quantx_context {
  MLIRContext context;
  explicit quantx_context(const DialectRegistry &registry)
      : context(registry) {}
};

struct quantx_module {
  quantx_context *context;
  OwningOpRef<ModuleOp> module;
};

namespace {
/// Collects every diagnostic emitted while it lives.
class DiagnosticCollector {
public:
  explicit DiagnosticCollector(MLIRContext &ctx)
      : handler(&ctx, [this](Diagnostic &diag) {
          if (!text.empty())
            text += '\n';
          llvm::raw_string_ostream os(text);
          os << diag.getLocation() << ": " << diag;
          for (Diagnostic &note : diag.getNotes())
            os << "\n  note: " << note;
          return success();
        }) {}

  quantx_error_t makeError(StringRef fallback) {
    return new quantx_error{text.empty() ? fallback.str() : text};
  }

private:
  std::string text;
  ScopedDiagnosticHandler handler;
};

quantx_error_t makeError(StringRef message) {
  return new quantx_error{message.str()};
}

char *copyString(StringRef s) {
  char *out = static_cast<char *>(std::malloc(s.size() + 1));
  if (!out)
    return nullptr;
  std::memcpy(out, s.data(), s.size());
  out[s.size()] = '\0';
  return out;
}

void registerPassesOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    registerAllPasses();
    quantx::registerQuantXConversionPasses();
    quantx::registerQuantXCodegenPasses();
    quantx::registerQuantXPipelines();
  });
}
} // namespace

extern "C" {

int quantxGetApiVersion(void) { return QUANTX_C_API_VERSION; }

const char *quantxErrorGetMessage(quantx_error_t error) {
  return error ? error->message.c_str() : "";
}

void quantxErrorDestroy(quantx_error_t error) { delete error; }

quantx_context_t quantxContextCreate(void) {
  registerPassesOnce();
  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registry.insert<quantx::QuantXDialect>();
  auto *ctx = new quantx_context(registry);
  ctx->context.allowUnregisteredDialects(false);
  return ctx;
}

void quantxContextDestroy(quantx_context_t context) { delete context; }

static quantx_error_t parseBuffer(quantx_context_t context,
                                  std::unique_ptr<llvm::MemoryBuffer> buffer,
                                  quantx_module_t *out) {
  if (!context || !out)
    return makeError("quantxModuleParse: null argument");
  *out = nullptr;
  DiagnosticCollector diags(context->context);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
  OwningOpRef<ModuleOp> module =
      parseSourceFile<ModuleOp>(sourceMgr, &context->context);
  if (!module)
    return diags.makeError("failed to parse the module");
  *out = new quantx_module{context, std::move(module)};
  return nullptr;
}

quantx_error_t quantxModuleParse(quantx_context_t context, const char *data,
                                 size_t size, const char *name,
                                 quantx_module_t *out_module) {
  if (!data && size)
    return makeError("quantxModuleParse: null data");
  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(
      StringRef(data ? data : "", size), name ? name : "<input>");
  return parseBuffer(context, std::move(buffer), out_module);
}

quantx_error_t quantxModuleParseFile(quantx_context_t context,
                                     const char *path,
                                     quantx_module_t *out_module) {
  if (!path)
    return makeError("quantxModuleParseFile: null path");
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return makeError(std::string("cannot read '") + path +
                     "': " + buffer.getError().message());
  return parseBuffer(context, std::move(*buffer), out_module);
}

void quantxModuleDestroy(quantx_module_t module) { delete module; }

quantx_error_t quantxModuleVerify(quantx_module_t module) {
  if (!module)
    return makeError("quantxModuleVerify: null module");
  DiagnosticCollector diags(module->context->context);
  if (failed(verify(*module->module)))
    return diags.makeError("the module failed to verify");
  return nullptr;
}

quantx_error_t quantxModulePrint(quantx_module_t module, int generic,
                                 char **out_text) {
  if (!module || !out_text)
    return makeError("quantxModulePrint: null argument");
  std::string text;
  llvm::raw_string_ostream os(text);
  OpPrintingFlags flags;
  if (generic)
    flags.printGenericOpForm();
  module->module->print(os, flags);
  *out_text = copyString(text);
  return *out_text ? nullptr : makeError("out of memory");
}

quantx_error_t quantxModuleWriteBytecode(quantx_module_t module,
                                         char **out_data, size_t *out_size) {
  if (!module || !out_data || !out_size)
    return makeError("quantxModuleWriteBytecode: null argument");
  DiagnosticCollector diags(module->context->context);
  std::string data;
  llvm::raw_string_ostream os(data);
  if (failed(writeBytecodeToFile(*module->module, os)))
    return diags.makeError("failed to write bytecode");
  *out_data = static_cast<char *>(std::malloc(data.size() ? data.size() : 1));
  if (!*out_data)
    return makeError("out of memory");
  std::memcpy(*out_data, data.data(), data.size());
  *out_size = data.size();
  return nullptr;
}

void quantxStringDestroy(char *text) { std::free(text); }

quantx_error_t quantxModuleRunPipeline(quantx_module_t module,
                                       const char *pipeline) {
  if (!module || !pipeline)
    return makeError("quantxModuleRunPipeline: null argument");
  MLIRContext &ctx = module->context->context;
  DiagnosticCollector diags(ctx);
  std::string errors;
  llvm::raw_string_ostream errorStream(errors);
  // Accept both an anchored pipeline and a bare list of module passes.
  StringRef text(pipeline);
  std::string anchored = text.trim().starts_with("builtin.module(")
                             ? text.str()
                             : "builtin.module(" + text.str() + ")";
  FailureOr<OpPassManager> parsed = parsePassPipeline(anchored, errorStream);
  if (failed(parsed))
    return makeError("invalid pass pipeline '" + text.str() + "': " + errors);
  PassManager pm(&ctx);
  static_cast<OpPassManager &>(pm) = std::move(*parsed);
  if (failed(pm.run(*module->module)))
    return diags.makeError("the pass pipeline failed");
  return nullptr;
}

} // extern "C"
