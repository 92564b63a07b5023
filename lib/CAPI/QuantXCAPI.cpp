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
#include "quantx/ExecutionEngine/JIT.h"

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
#include <map>
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

struct quantx_function {
  quantx_executable *executable;
  const quantx::FunctionSignature *signature;
};

struct quantx_executable {
  std::unique_ptr<quantx::JITModule> jit;
  /// Handles handed out by lookups, one per function.
  std::map<std::string, std::unique_ptr<quantx_function>> handles;
};

struct quantx_buffer {
  quantx::OwnedBuffer buffer;
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
  /// `message`, followed by the diagnostics if there are any.
  quantx_error_t makeErrorWithDetails(StringRef message) {
    return new quantx_error{text.empty() ? message.str()
                                         : message.str() + ":\n" + text};
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

quantx_error_t quantxModuleParseFile(quantx_context_t context, const char *path,
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

//===----------------------------------------------------------------------===//
// Compiled modules
//===----------------------------------------------------------------------===//

size_t quantxElementTypeGetSize(quantx_element_type_t type) {
  if (type < QUANTX_ELEMENT_TYPE_F16 || type > QUANTX_ELEMENT_TYPE_U64)
    return 0;
  return quantx::getAbiElementSize(quantx::AbiElementType(type));
}

const char *quantxElementTypeGetName(quantx_element_type_t type) {
  if (type < QUANTX_ELEMENT_TYPE_F16 || type > QUANTX_ELEMENT_TYPE_U64)
    return "?";
  return quantx::getAbiElementName(quantx::AbiElementType(type));
}

quantx_error_t quantxExecutableCreate(quantx_module_t module,
                                      const char *pipeline,
                                      quantx_executable_t *out_executable) {
  if (!module || !out_executable)
    return makeError("quantxExecutableCreate: null argument");
  *out_executable = nullptr;
  MLIRContext &ctx = module->context->context;
  DiagnosticCollector diags(ctx);
  OwningOpRef<ModuleOp> clone(module->module->clone());
  std::vector<quantx::FunctionSignature> signatures =
      quantx::prepareForExecution(*clone);
  std::string error;
  if (failed(quantx::lowerToLLVM(*clone, pipeline ? pipeline : "", error)))
    return diags.makeErrorWithDetails(error);
  std::unique_ptr<quantx::JITModule> jit =
      quantx::JITModule::create(*clone, std::move(signatures), 3, error);
  if (!jit)
    return diags.makeErrorWithDetails(error);
  *out_executable = new quantx_executable{std::move(jit), {}};
  return nullptr;
}

void quantxExecutableDestroy(quantx_executable_t executable) {
  delete executable;
}

size_t quantxExecutableGetNumFunctions(quantx_executable_t executable) {
  return executable ? executable->jit->getFunctions().size() : 0;
}

const char *quantxExecutableGetFunctionName(quantx_executable_t executable,
                                            size_t index) {
  if (!executable || index >= executable->jit->getFunctions().size())
    return nullptr;
  return executable->jit->getFunctions()[index].name.c_str();
}

quantx_error_t quantxExecutableLookupFunction(quantx_executable_t executable,
                                              const char *name,
                                              quantx_function_t *out_function) {
  if (!executable || !name || !out_function)
    return makeError("quantxExecutableLookupFunction: null argument");
  *out_function = nullptr;
  std::string error;
  const quantx::FunctionSignature *sig = executable->jit->lookup(name, error);
  if (!sig)
    return makeError(error);
  std::unique_ptr<quantx_function> &handle = executable->handles[sig->name];
  if (!handle)
    handle.reset(new quantx_function{executable, sig});
  *out_function = handle.get();
  return nullptr;
}

size_t quantxFunctionGetNumArguments(quantx_function_t function) {
  return function ? function->signature->arguments.size() : 0;
}

size_t quantxFunctionGetNumResults(quantx_function_t function) {
  return function ? function->signature->results.size() : 0;
}

static quantx_error_t getInfo(quantx_function_t function, size_t index,
                              bool result, quantx_tensor_info_t *out) {
  if (!function || !out)
    return makeError("null argument");
  const auto &list =
      result ? function->signature->results : function->signature->arguments;
  if (index >= list.size())
    return makeError("function '" + function->signature->name + "' has " +
                     std::to_string(list.size()) +
                     (result ? " results" : " arguments") + ", no #" +
                     std::to_string(index));
  const quantx::TensorSignature &t = list[index];
  out->element_type = quantx_element_type_t(t.elementType);
  out->rank = t.shape.size();
  out->shape = t.shape.data();
  out->type_name = t.typeName.c_str();
  return nullptr;
}

quantx_error_t quantxFunctionGetArgument(quantx_function_t function,
                                         size_t index,
                                         quantx_tensor_info_t *out_info) {
  return getInfo(function, index, /*result=*/false, out_info);
}

quantx_error_t quantxFunctionGetResult(quantx_function_t function, size_t index,
                                       quantx_tensor_info_t *out_info) {
  return getInfo(function, index, /*result=*/true, out_info);
}

/// Views of the caller's arguments, checked for well-formedness (the JIT
/// checks them against the signature).
static quantx_error_t makeViews(const quantx_buffer_view_t *args,
                                size_t num_args,
                                std::vector<quantx::BufferView> &views) {
  if (num_args && !args)
    return makeError("null argument array");
  for (size_t i = 0; i < num_args; ++i) {
    const quantx_buffer_view_t &a = args[i];
    if (a.rank && !a.shape)
      return makeError("argument #" + std::to_string(i) + ": null shape");
    if (quantxElementTypeGetSize(a.element_type) == 0)
      return makeError("argument #" + std::to_string(i) +
                       ": unknown element type " +
                       std::to_string(int(a.element_type)));
    views.push_back(
        {quantx::AbiElementType(a.element_type),
         ArrayRef<int64_t>(a.shape, a.rank),
         a.strides ? ArrayRef<int64_t>(a.strides, a.rank) : ArrayRef<int64_t>(),
         a.data});
  }
  return nullptr;
}

quantx_error_t quantxFunctionInvoke(quantx_function_t function,
                                    const quantx_buffer_view_t *args,
                                    size_t num_args,
                                    quantx_buffer_t *out_results,
                                    size_t num_results) {
  if (!function || (num_results && !out_results))
    return makeError("quantxFunctionInvoke: null argument");
  const quantx::FunctionSignature &sig = *function->signature;
  if (num_results != sig.results.size())
    return makeError("function '" + sig.name + "' returns " +
                     std::to_string(sig.results.size()) +
                     " results, room for " + std::to_string(num_results) +
                     " given");
  std::vector<quantx::BufferView> views;
  if (quantx_error_t e = makeViews(args, num_args, views))
    return e;
  std::vector<quantx::OwnedBuffer> results;
  std::string error;
  if (failed(function->executable->jit->invoke(sig, views, &results, error)))
    return makeError(error);
  for (size_t i = 0; i < num_results; ++i)
    out_results[i] = new quantx_buffer{std::move(results[i])};
  return nullptr;
}

quantx_error_t quantxFunctionBenchmark(quantx_function_t function,
                                       const quantx_buffer_view_t *args,
                                       size_t num_args, size_t warmup,
                                       size_t repetitions,
                                       double *out_seconds) {
  if (!function || (repetitions && !out_seconds))
    return makeError("quantxFunctionBenchmark: null argument");
  std::vector<quantx::BufferView> views;
  if (quantx_error_t e = makeViews(args, num_args, views))
    return e;
  std::vector<double> seconds;
  std::string error;
  if (failed(function->executable->jit->benchmark(
          *function->signature, views, warmup, repetitions, seconds, error)))
    return makeError(error);
  std::copy(seconds.begin(), seconds.end(), out_seconds);
  return nullptr;
}

quantx_element_type_t quantxBufferGetElementType(quantx_buffer_t buffer) {
  return quantx_element_type_t(buffer->buffer.signature.elementType);
}

size_t quantxBufferGetRank(quantx_buffer_t buffer) {
  return buffer->buffer.signature.shape.size();
}

const int64_t *quantxBufferGetShape(quantx_buffer_t buffer) {
  return buffer->buffer.signature.shape.data();
}

size_t quantxBufferGetByteSize(quantx_buffer_t buffer) {
  return buffer->buffer.signature.getByteSize();
}

void *quantxBufferGetData(quantx_buffer_t buffer) {
  return buffer->buffer.data;
}

void quantxBufferDestroy(quantx_buffer_t buffer) { delete buffer; }

} // extern "C"
