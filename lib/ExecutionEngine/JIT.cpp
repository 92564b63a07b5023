//===- JIT.cpp - Compile and call quantx functions in-process -------------===//
//
// Implements include/quantx/ExecutionEngine/JIT.h over MLIR's ExecutionEngine
// (in-process calls) and LLVM's TargetMachine (object files).
//
//===----------------------------------------------------------------------===//

#include "quantx/ExecutionEngine/JIT.h"

#include "quantx/Codegen/CPUPipeline.h"

#include "quantx/Conversion/Passes.h"
#include "quantx/Dialect/QuantX/IR/QuantX.h"
#include "quantx/Runtime/Npy.h"
#include "quantx/Runtime/OutputFile.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <unistd.h>

using namespace mlir;
using namespace mlir::quantx;

//===----------------------------------------------------------------------===//
// Element types and signatures
//===----------------------------------------------------------------------===//

size_t mlir::quantx::getAbiElementSize(AbiElementType type) {
  switch (type) {
  case AbiElementType::I1:
  case AbiElementType::I8:
  case AbiElementType::U8:
    return 1;
  case AbiElementType::F16:
  case AbiElementType::BF16:
  case AbiElementType::I16:
  case AbiElementType::U16:
    return 2;
  case AbiElementType::F32:
  case AbiElementType::I32:
  case AbiElementType::U32:
    return 4;
  case AbiElementType::F64:
  case AbiElementType::I64:
  case AbiElementType::U64:
    return 8;
  }
  return 0;
}

const char *mlir::quantx::getAbiElementName(AbiElementType type) {
  switch (type) {
  case AbiElementType::F16:
    return "f16";
  case AbiElementType::BF16:
    return "bf16";
  case AbiElementType::F32:
    return "f32";
  case AbiElementType::F64:
    return "f64";
  case AbiElementType::I1:
    return "i1";
  case AbiElementType::I8:
    return "i8";
  case AbiElementType::I16:
    return "i16";
  case AbiElementType::I32:
    return "i32";
  case AbiElementType::I64:
    return "i64";
  case AbiElementType::U8:
    return "u8";
  case AbiElementType::U16:
    return "u16";
  case AbiElementType::U32:
    return "u32";
  case AbiElementType::U64:
    return "u64";
  }
  return "?";
}

std::optional<AbiElementType> mlir::quantx::getAbiElementType(Type type) {
  bool isSigned = true;
  if (auto q = dyn_cast<UniformType>(type)) {
    isSigned = q.getIsSigned();
    type = q.getStorageType();
  }
  if (type.isF16())
    return AbiElementType::F16;
  if (type.isBF16())
    return AbiElementType::BF16;
  if (type.isF32())
    return AbiElementType::F32;
  if (type.isF64())
    return AbiElementType::F64;
  if (type.isInteger(1))
    return AbiElementType::I1;
  if (auto i = dyn_cast<IntegerType>(type)) {
    if (i.isUnsigned())
      isSigned = false;
    unsigned w = i.getWidth();
    if (w <= 8)
      return isSigned ? AbiElementType::I8 : AbiElementType::U8;
    if (w == 16)
      return isSigned ? AbiElementType::I16 : AbiElementType::U16;
    if (w == 32)
      return isSigned ? AbiElementType::I32 : AbiElementType::U32;
    if (w == 64)
      return isSigned ? AbiElementType::I64 : AbiElementType::U64;
  }
  return std::nullopt;
}

int64_t TensorSignature::getNumElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

size_t TensorSignature::getByteSize() const {
  return size_t(getNumElements()) * getAbiElementSize(elementType);
}

static std::string printType(Type type) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << type;
  return s;
}

/// The signature of one argument or result, or an explanation in `why`.
static std::optional<TensorSignature> describe(Type type, const Twine &what,
                                               std::string &why) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape()) {
    why = (what + " has type " + printType(type) +
           ": only ranked tensors of static shape are supported")
              .str();
    return std::nullopt;
  }
  std::optional<AbiElementType> element =
      getAbiElementType(tensor.getElementType());
  if (!element) {
    why = (what + " has an unsupported element type " +
           printType(tensor.getElementType()))
              .str();
    return std::nullopt;
  }
  return TensorSignature{*element,
                         {tensor.getShape().begin(), tensor.getShape().end()},
                         printType(type)};
}

std::vector<FunctionSignature>
mlir::quantx::prepareForExecution(ModuleOp module) {
  std::vector<FunctionSignature> out;
  MLIRContext *ctx = module.getContext();
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isExternal() || !func.isPublic())
      continue;
    FunctionSignature sig;
    sig.name = func.getSymName().str();
    FunctionType type = func.getFunctionType();
    for (auto [i, t] : llvm::enumerate(type.getInputs())) {
      std::string why;
      if (auto d = describe(t, "argument #" + Twine(i), why))
        sig.arguments.push_back(std::move(*d));
      else if (sig.unsupportedReason.empty())
        sig.unsupportedReason = why;
      // Callers' buffers are read-only: bufferization copies before writing.
      if (isa<TensorType>(t))
        func.setArgAttr(i,
                        bufferization::BufferizationDialect::kWritableAttrName,
                        BoolAttr::get(ctx, false));
    }
    for (auto [i, t] : llvm::enumerate(type.getResults())) {
      std::string why;
      if (auto d = describe(t, "result #" + Twine(i), why))
        sig.results.push_back(std::move(*d));
      else if (sig.unsupportedReason.empty())
        sig.unsupportedReason = why;
    }
    func->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
    out.push_back(std::move(sig));
  }
  return out;
}

LogicalResult mlir::quantx::lowerToLLVM(ModuleOp module,
                                        const CPUPipelineOptions &options,
                                        std::string &error) {
  PassManager pm(module.getContext());
  buildQuantXCPUPipeline(pm, options);
  if (failed(pm.run(module))) {
    error = "lowering failed";
    return failure();
  }
  return success();
}

LogicalResult mlir::quantx::lowerToLLVM(ModuleOp module, StringRef pipeline,
                                        std::string &error) {
  if (pipeline.trim().empty()) {
    // The runtime libraries (getRuntimeLibraries) go with the code.
    CPUPipelineOptions options;
    options.runtimeAlloc = true;
    return lowerToLLVM(module, options, error);
  }
  PassManager pm(module.getContext());
  {
    std::string errors;
    llvm::raw_string_ostream errorStream(errors);
    StringRef text = pipeline.trim();
    std::string anchored = text.starts_with("builtin.module(")
                               ? text.str()
                               : "builtin.module(" + text.str() + ")";
    FailureOr<OpPassManager> parsed = parsePassPipeline(anchored, errorStream);
    if (failed(parsed)) {
      error = "invalid pass pipeline '" + text.str() + "': " + errors;
      return failure();
    }
    static_cast<OpPassManager &>(pm) = std::move(*parsed);
  }
  if (failed(pm.run(module))) {
    error = "lowering failed";
    return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Buffers
//===----------------------------------------------------------------------===//

OwnedBuffer::OwnedBuffer(OwnedBuffer &&other)
    : signature(std::move(other.signature)), data(other.data),
      allocation(other.allocation) {
  other.data = other.allocation = nullptr;
}

OwnedBuffer &OwnedBuffer::operator=(OwnedBuffer &&other) {
  if (this != &other) {
    std::free(allocation);
    signature = std::move(other.signature);
    data = other.data;
    allocation = other.allocation;
    other.data = other.allocation = nullptr;
  }
  return *this;
}

OwnedBuffer::~OwnedBuffer() { std::free(allocation); }

namespace {
/// Copies a strided tensor into contiguous row-major storage.
void copyStrided(uint8_t *dst, const uint8_t *src, ArrayRef<int64_t> shape,
                 ArrayRef<int64_t> strides, size_t elementSize) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  if (n == 0)
    return;
  bool contiguous = true;
  int64_t expected = 1;
  for (int64_t i = shape.size() - 1; i >= 0; --i) {
    if (shape[i] != 1 && strides[i] != expected)
      contiguous = false;
    expected *= shape[i];
  }
  if (contiguous) {
    std::memcpy(dst, src, size_t(n) * elementSize);
    return;
  }
  int64_t rank = shape.size();
  SmallVector<int64_t> idx(rank, 0);
  int64_t offset = 0;
  for (int64_t k = 0; k < n; ++k) {
    std::memcpy(dst + k * elementSize, src + offset * int64_t(elementSize),
                elementSize);
    for (int64_t i = rank - 1; i >= 0; --i) {
      offset += strides[i];
      if (++idx[i] < shape[i])
        break;
      offset -= strides[i] * shape[i];
      idx[i] = 0;
    }
  }
}

std::string formatShape(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? ", " : "") + std::to_string(d);
  return s + "]";
}

/// The marker MLIR stores as the allocated pointer of a memref.get_global.
void *const kGlobalMarker = reinterpret_cast<void *>(0xdeadbeef);

/// Arguments ready for calls: descriptors and any contiguous copies.
struct PreparedCall {
  std::vector<std::vector<uint8_t>> copies;
  std::vector<std::vector<int64_t>> descriptors;
  std::vector<void *> descriptorPtrs;
  std::vector<int64_t> resultStruct;
  std::vector<size_t> resultOffsets;
  void *resultPtr = nullptr;
  std::vector<void *> packed;
  std::set<void *> argBases;
};

LogicalResult prepareCall(const FunctionSignature &fn,
                          ArrayRef<BufferView> args, PreparedCall &call,
                          std::string &error) {
  if (args.size() != fn.arguments.size()) {
    error = "function '" + fn.name + "' takes " +
            std::to_string(fn.arguments.size()) + " argument" +
            (fn.arguments.size() == 1 ? "" : "s") + ", " +
            std::to_string(args.size()) + " given";
    return failure();
  }
  static uint8_t emptyStorage[16];
  call.descriptors.resize(args.size());
  for (auto [i, view, sig] : llvm::enumerate(args, fn.arguments)) {
    std::string what = "argument #" + std::to_string(i) + " of '" + fn.name +
                       "' (" + sig.typeName + ")";
    if (view.elementType != sig.elementType) {
      error = what + ": element type " + getAbiElementName(view.elementType) +
              " does not match " + getAbiElementName(sig.elementType);
      return failure();
    }
    if (ArrayRef<int64_t>(sig.shape) != view.shape) {
      error = what + ": shape " + formatShape(view.shape) + " does not match " +
              formatShape(sig.shape);
      return failure();
    }
    if (!view.strides.empty() && view.strides.size() != view.shape.size()) {
      error = what + ": " + std::to_string(view.strides.size()) +
              " strides for rank " + std::to_string(view.shape.size());
      return failure();
    }
    int64_t n = sig.getNumElements();
    const void *data = view.data;
    if (!data && n != 0) {
      error = what + ": null data";
      return failure();
    }
    int64_t rank = sig.shape.size();
    SmallVector<int64_t> contiguous(rank, 1);
    for (int64_t d = rank - 2; d >= 0; --d)
      contiguous[d] = contiguous[d + 1] * sig.shape[d + 1];
    if (n != 0 && !view.strides.empty()) {
      bool same = true;
      for (int64_t d = 0; d < rank; ++d)
        if (sig.shape[d] != 1 && view.strides[d] != contiguous[d])
          same = false;
      if (!same) {
        std::vector<uint8_t> copy(sig.getByteSize());
        copyStrided(copy.data(), static_cast<const uint8_t *>(data), sig.shape,
                    view.strides, getAbiElementSize(sig.elementType));
        data = copy.data();
        call.copies.push_back(std::move(copy));
      }
    }
    if (!data)
      data = emptyStorage;
    auto ptr = reinterpret_cast<int64_t>(data);
    std::vector<int64_t> &desc = call.descriptors[i];
    desc.assign(3 + 2 * rank, 0);
    desc[0] = desc[1] = ptr;
    for (int64_t d = 0; d < rank; ++d) {
      desc[3 + d] = sig.shape[d];
      desc[3 + rank + d] = contiguous[d];
    }
    call.argBases.insert(const_cast<void *>(data));
  }
  for (const TensorSignature &r : fn.results) {
    call.resultOffsets.push_back(call.resultStruct.size());
    call.resultStruct.resize(call.resultStruct.size() + 3 + 2 * r.shape.size(),
                             0);
  }
  for (std::vector<int64_t> &d : call.descriptors)
    call.descriptorPtrs.push_back(d.data());
  // The packed wrapper takes a pointer to each parameter of
  // _mlir_ciface_<name>: the result pointer first, if any, then one pointer
  // per argument descriptor.
  call.resultPtr = call.resultStruct.data();
  if (!fn.results.empty())
    call.packed.push_back(&call.resultPtr);
  for (void *&p : call.descriptorPtrs)
    call.packed.push_back(&p);
  return success();
}

bool isContiguous(ArrayRef<int64_t> shape, ArrayRef<int64_t> strides) {
  int64_t expected = 1;
  for (int64_t i = shape.size() - 1; i >= 0; --i) {
    if (shape[i] != 1 && strides[i] != expected)
      return false;
    expected *= shape[i];
  }
  return true;
}

/// Collects (when `results` is set) and releases the results of one call.
/// A result whose memory the callee allocated for it alone, contiguous, is
/// handed over as it is; others are copied.
LogicalResult finishCall(const FunctionSignature &fn, PreparedCall &call,
                         std::vector<OwnedBuffer> *results,
                         std::string &error) {
  std::map<void *, unsigned> uses;
  for (size_t offset : call.resultOffsets)
    ++uses[reinterpret_cast<void *>(call.resultStruct[offset])];
  auto isCalleeMemory = [&](void *base) {
    return base && base != kGlobalMarker && !call.argBases.count(base);
  };
  std::set<void *> handedOver;
  bool ok = true;
  for (auto [r, offset] : llvm::zip(fn.results, call.resultOffsets)) {
    int64_t *d = call.resultStruct.data() + offset;
    auto *base = reinterpret_cast<void *>(d[0]);
    auto *aligned = reinterpret_cast<uint8_t *>(d[1]);
    int64_t rank = r.shape.size();
    ArrayRef<int64_t> sizes(d + 3, rank), strides(d + 3 + rank, rank);
    if (!ok || !results)
      continue;
    if (sizes != ArrayRef<int64_t>(r.shape)) {
      error = "function '" + fn.name + "' returned a result of shape " +
              formatShape(sizes) + ", expected " + formatShape(r.shape);
      ok = false;
      continue;
    }
    size_t size = getAbiElementSize(r.elementType);
    OwnedBuffer out;
    out.signature = r;
    if (isCalleeMemory(base) && uses[base] == 1 &&
        isContiguous(sizes, strides)) {
      out.data = aligned + d[2] * size;
      out.allocation = base;
      handedOver.insert(base);
    } else {
      out.data = out.allocation =
          std::malloc(std::max<size_t>(r.getByteSize(), 1));
      if (!out.data) {
        error = "out of memory";
        ok = false;
        continue;
      }
      copyStrided(static_cast<uint8_t *>(out.data), aligned + d[2] * size,
                  r.shape, strides, size);
    }
    results->push_back(std::move(out));
  }
  if (!ok && results)
    results->clear(); // Frees what was handed over.
  // The callee's remaining memory: everything not handed over, once.
  for (auto [base, count] : uses)
    if (isCalleeMemory(base) && !handedOver.count(base))
      std::free(base);
  return success(ok);
}
} // namespace

//===----------------------------------------------------------------------===//
// JITModule
//===----------------------------------------------------------------------===//

static void initializeNativeTarget() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

static void registerTranslations(MLIRContext *ctx) {
  DialectRegistry registry;
  registerAllToLLVMIRTranslations(registry);
  registerCPUTranslations(registry);
  ctx->appendDialectRegistry(registry);
}

/// Shared libraries the lowered code may call into: MLIR's C runner
/// utilities (memrefCopy for copies of non-contiguous buffers, for
/// instance), plus any runtime the CPU pipeline's output needs: LLVM's
/// OpenMP runtime for kernels threaded through the omp dialect.
static SmallVector<StringRef> getRuntimeLibraries() {
  SmallVector<StringRef> libs = {QUANTX_MLIR_C_RUNNER_UTILS};
  llvm::append_range(libs, getCPURuntimeLibraries());
  return libs;
}

JITModule::~JITModule() = default;

std::unique_ptr<JITModule>
JITModule::create(ModuleOp module, std::vector<FunctionSignature> signatures,
                  unsigned optLevel, std::string &error) {
  initializeNativeTarget();
  registerTranslations(module.getContext());
  auto transformer = makeOptimizingTransformer(std::min(optLevel, 3u), 0,
                                               /*targetMachine=*/nullptr);
  ExecutionEngineOptions options;
  options.transformer = transformer;
  SmallVector<StringRef> runtimeLibs = getRuntimeLibraries();
  options.sharedLibPaths = runtimeLibs;
  options.jitCodeGenOptLevel = optLevel >= 3 ? llvm::CodeGenOptLevel::Aggressive
                               : optLevel == 2 ? llvm::CodeGenOptLevel::Default
                               : optLevel == 1 ? llvm::CodeGenOptLevel::Less
                                               : llvm::CodeGenOptLevel::None;
  auto engine = ExecutionEngine::create(module, options);
  if (!engine) {
    error = "JIT compilation failed: " + llvm::toString(engine.takeError());
    return nullptr;
  }
  std::unique_ptr<JITModule> jit(new JITModule());
  jit->engine = std::move(*engine);
  jit->functions = std::move(signatures);
  for (const FunctionSignature &fn : jit->functions) {
    if (!fn.unsupportedReason.empty())
      continue;
    auto entry = jit->engine->lookupPacked("_mlir_ciface_" + fn.name);
    if (!entry) {
      error = "JIT compilation failed: no entry point for '" + fn.name +
              "': " + llvm::toString(entry.takeError());
      return nullptr;
    }
    jit->entryPoints[fn.name] = *entry;
  }
  return jit;
}

const FunctionSignature *JITModule::lookup(StringRef name,
                                           std::string &error) const {
  for (const FunctionSignature &fn : functions) {
    if (fn.name != name)
      continue;
    if (!fn.unsupportedReason.empty()) {
      error = "function '" + fn.name +
              "' cannot be called: " + fn.unsupportedReason;
      return nullptr;
    }
    return &fn;
  }
  error = "no public function '" + name.str() + "' with a body in the module";
  if (!functions.empty()) {
    error += " (available:";
    for (const FunctionSignature &fn : functions)
      error += " " + fn.name;
    error += ")";
  }
  return nullptr;
}

LogicalResult JITModule::invoke(const FunctionSignature &function,
                                ArrayRef<BufferView> args,
                                std::vector<OwnedBuffer> *results,
                                std::string &error) {
  auto it = entryPoints.find(function.name);
  if (it == entryPoints.end()) {
    error = "function '" + function.name + "' cannot be called";
    return failure();
  }
  PreparedCall call;
  if (failed(prepareCall(function, args, call, error)))
    return failure();
  it->second(call.packed.data());
  return finishCall(function, call, results, error);
}

LogicalResult JITModule::benchmark(const FunctionSignature &function,
                                   ArrayRef<BufferView> args, unsigned warmup,
                                   unsigned repetitions,
                                   std::vector<double> &seconds,
                                   std::string &error) {
  auto it = entryPoints.find(function.name);
  if (it == entryPoints.end()) {
    error = "function '" + function.name + "' cannot be called";
    return failure();
  }
  PreparedCall call;
  if (failed(prepareCall(function, args, call, error)))
    return failure();
  seconds.clear();
  for (unsigned i = 0; i < warmup + repetitions; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    it->second(call.packed.data());
    auto t1 = std::chrono::steady_clock::now();
    (void)finishCall(function, call, nullptr, error);
    if (i >= warmup)
      seconds.push_back(std::chrono::duration<double>(t1 - t0).count());
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Ahead of time
//===----------------------------------------------------------------------===//

/// Compiles a module lowered to the LLVM dialect into an object image.
static LogicalResult compileToObject(ModuleOp module, unsigned optLevel,
                                     const ObjectTarget &target,
                                     SmallVectorImpl<char> &object,
                                     std::string &error) {
  initializeNativeTarget();
  registerTranslations(module.getContext());
  auto builder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!builder) {
    error = "cannot detect the host: " + llvm::toString(builder.takeError());
    return failure();
  }
  if (!target.cpu.empty()) {
    // Another CPU of the host's architecture: its name tunes the code, the
    // features select the instructions (not the host's).
    builder = llvm::orc::JITTargetMachineBuilder(builder->getTargetTriple());
    builder->setCPU(target.cpu);
    SmallVector<StringRef> features;
    StringRef(target.features)
        .split(features, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
    builder->addFeatures(
        std::vector<std::string>(features.begin(), features.end()));
  }
  builder->setRelocationModel(llvm::Reloc::PIC_);
  builder->setCodeGenOptLevel(optLevel >= 3 ? llvm::CodeGenOptLevel::Aggressive
                                            : llvm::CodeGenOptLevel::Default);
  auto machine = builder->createTargetMachine();
  if (!machine) {
    error = "cannot create a target machine: " +
            llvm::toString(machine.takeError());
    return failure();
  }
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext, "quantx");
  if (!llvmModule) {
    error = "translation to LLVM IR failed";
    return failure();
  }
  llvmModule->setDataLayout((*machine)->createDataLayout());
  llvmModule->setTargetTriple((*machine)->getTargetTriple());
  auto transformer =
      makeOptimizingTransformer(std::min(optLevel, 3u), 0, machine->get());
  if (llvm::Error e = transformer(llvmModule.get())) {
    error = "LLVM optimization failed: " + llvm::toString(std::move(e));
    return failure();
  }
  llvm::raw_svector_ostream os(object);
  llvm::legacy::PassManager codegen;
  if ((*machine)->addPassesToEmitFile(codegen, os, nullptr,
                                      llvm::CodeGenFileType::ObjectFile)) {
    error = "the target cannot emit object files";
    return failure();
  }
  codegen.run(*llvmModule);
  return success();
}

LogicalResult mlir::quantx::emitObjectFile(ModuleOp module, StringRef path,
                                           unsigned optLevel,
                                           const ObjectTarget &target,
                                           std::string &error) {
  SmallString<0> object;
  if (failed(compileToObject(module, optLevel, target, object, error)))
    return failure();
  return success(::quantx::writeFileAtomically(path.str(), object.data(),
                                               object.size(), error));
}

LogicalResult mlir::quantx::emitSharedLibrary(ModuleOp module, StringRef path,
                                              unsigned optLevel,
                                              const ObjectTarget &target,
                                              std::string &error) {
  SmallString<0> object;
  if (failed(compileToObject(module, optLevel, target, object, error)))
    return failure();
  // Link with the LLVM installation's lld: a temporary object in, a
  // temporary library out, renamed into place only on success.
  auto linker = llvm::sys::findProgramByName("ld.lld", {QUANTX_LLVM_TOOLS_DIR});
  if (!linker) {
    error = "cannot find ld.lld in " QUANTX_LLVM_TOOLS_DIR;
    return failure();
  }
  SmallString<128> objectPath;
  int fd;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("quantx", "o", fd, objectPath)) {
    error = "cannot create a temporary file: " + ec.message();
    return failure();
  }
  llvm::FileRemover removeObject(objectPath);
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os.write(object.data(), object.size());
    os.close();
    if (os.has_error()) {
      error = "cannot write '" + objectPath.str().str() + "'";
      os.clear_error();
      return failure();
    }
  }
  bool inPlace;
  std::string dest = ::quantx::resolveOutputPath(path.str(), inPlace);
  std::string tmp = dest + ".tmp-" + std::to_string(::getpid());
  if (inPlace) // A device or a FIFO: link in the temporary folder.
    tmp = objectPath.str().str() + ".so";
  llvm::FileRemover removeTmp(tmp);
  SmallVector<StringRef> runtimeLibs = getRuntimeLibraries();
  SmallVector<std::string> rpaths;
  SmallVector<StringRef> args = {*linker, "-shared", "-o", tmp, objectPath};
  for (StringRef lib : runtimeLibs) {
    args.push_back(lib);
    rpaths.push_back(llvm::sys::path::parent_path(lib).str());
  }
  for (const std::string &dir : rpaths) {
    args.push_back("-rpath");
    args.push_back(dir);
  }
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(*linker, args, std::nullopt, {}, 0, 0,
                                     &message);
  if (rc != 0) {
    error = "linking '" + path.str() + "' failed" +
            (message.empty() ? "" : ": " + message);
    return failure();
  }
  if (inPlace) {
    std::vector<uint8_t> bytes;
    return success(::quantx::readFileBytes(tmp, bytes, error) &&
                   ::quantx::writeFileAtomically(path.str(), bytes.data(),
                                                 bytes.size(), error));
  }
  if (std::error_code ec = llvm::sys::fs::rename(tmp, dest)) {
    error = "cannot write '" + path.str() + "': " + ec.message();
    return failure();
  }
  return success();
}

static const char *getCType(AbiElementType type) {
  switch (type) {
  case AbiElementType::F16:
  case AbiElementType::BF16:
    return "uint16_t";
  case AbiElementType::F32:
    return "float";
  case AbiElementType::F64:
    return "double";
  case AbiElementType::I1:
    return "bool";
  case AbiElementType::I8:
    return "int8_t";
  case AbiElementType::I16:
    return "int16_t";
  case AbiElementType::I32:
    return "int32_t";
  case AbiElementType::I64:
    return "int64_t";
  case AbiElementType::U8:
    return "uint8_t";
  case AbiElementType::U16:
    return "uint16_t";
  case AbiElementType::U32:
    return "uint32_t";
  case AbiElementType::U64:
    return "uint64_t";
  }
  return "void";
}

static bool isCIdentifier(StringRef name) {
  if (name.empty() || !(llvm::isAlpha(name[0]) || name[0] == '_'))
    return false;
  return llvm::all_of(name,
                      [](char c) { return llvm::isAlnum(c) || c == '_'; });
}

static std::string descriptorName(const TensorSignature &t) {
  return std::string("quantx_memref_") + getAbiElementName(t.elementType) +
         "_" + std::to_string(t.shape.size()) + "d";
}

std::string mlir::quantx::generateCHeader(ArrayRef<FunctionSignature> functions,
                                          StringRef guard) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "/* Entry points of a module compiled ahead of time by quantx-run.\n"
        " *\n"
        " * Each function takes a pointer to its result descriptor (or to a\n"
        " * struct of result descriptors), then a pointer to each argument's\n"
        " * memref descriptor. Arguments are read, never written. Result\n"
        " * memory comes from malloc: release a result with\n"
        " * free(result.allocated) unless its allocated pointer equals an\n"
        " * argument's (the result is that argument) or (void *)0xdeadbeef\n"
        " * (a constant of the module); two results may share one allocation:\n"
        " * free each distinct pointer once. f16 and bf16 elements are raw "
        "bits.\n"
        " * Link with the object file, libquantx_cpu_runtime (its buffer\n"
        " * allocator), -lmlir_c_runner_utils and -lm, or with\n"
        " * the shared library. */\n";
  os << "#ifndef " << guard << "\n#define " << guard << "\n\n";
  os << "#include <stdbool.h>\n#include <stdint.h>\n\n";
  os << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n";
  std::set<std::string> emitted;
  auto emitDescriptor = [&](const TensorSignature &t) {
    std::string name = descriptorName(t);
    if (!emitted.insert(name).second)
      return;
    std::string macro = StringRef(name).upper();
    const char *c = getCType(t.elementType);
    os << "#ifndef " << macro << "_DEFINED\n#define " << macro << "_DEFINED\n";
    os << "typedef struct " << name << " {\n  " << c << " *allocated;\n  " << c
       << " *aligned;\n  int64_t offset;\n";
    if (!t.shape.empty())
      os << "  int64_t sizes[" << t.shape.size() << "];\n  int64_t strides["
         << t.shape.size() << "];\n";
    os << "} " << name << ";\n#endif\n\n";
  };
  auto sanitize = [](std::string text) {
    for (size_t p; (p = text.find("*/")) != std::string::npos;)
      text.replace(p, 2, "* /");
    return text;
  };
  for (const FunctionSignature &fn : functions) {
    if (!fn.unsupportedReason.empty() || !isCIdentifier(fn.name))
      continue;
    for (const TensorSignature &t : fn.arguments)
      emitDescriptor(t);
    for (const TensorSignature &t : fn.results)
      emitDescriptor(t);
  }
  for (const FunctionSignature &fn : functions) {
    if (!fn.unsupportedReason.empty()) {
      os << "/* " << sanitize(fn.name)
         << ": not declared: " << sanitize(fn.unsupportedReason) << " */\n\n";
      continue;
    }
    if (!isCIdentifier(fn.name)) {
      os << "/* " << sanitize(fn.name)
         << ": not declared: the name is not a C identifier */\n\n";
      continue;
    }
    os << "/* " << fn.name << ": (";
    llvm::interleaveComma(fn.arguments, os, [&](const TensorSignature &t) {
      os << sanitize(t.typeName);
    });
    os << ") -> (";
    llvm::interleaveComma(fn.results, os, [&](const TensorSignature &t) {
      os << sanitize(t.typeName);
    });
    os << ") */\n";
    std::string params;
    if (fn.results.size() == 1) {
      params = descriptorName(fn.results[0]) + " *result";
    } else if (fn.results.size() > 1) {
      std::string results = fn.name + "_results";
      os << "typedef struct " << results << " {\n";
      for (auto [i, t] : llvm::enumerate(fn.results))
        os << "  " << descriptorName(t) << " result" << i << ";\n";
      os << "} " << results << ";\n";
      params = results + " *results";
    }
    for (auto [i, t] : llvm::enumerate(fn.arguments))
      params += (params.empty() ? "" : ", ") + descriptorName(t) + " *arg" +
                std::to_string(i);
    os << "void _mlir_ciface_" << fn.name << "("
       << (params.empty() ? "void" : params) << ");\n\n";
  }
  os << "#ifdef __cplusplus\n}\n#endif\n\n#endif /* " << guard << " */\n";
  return s;
}
