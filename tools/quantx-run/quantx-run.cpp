//===- quantx-run.cpp - JIT runner and benchmark harness ------------------===//
//
// Compiles a function of a .mlir file with the quantx CPU pipeline, runs it
// in-process through MLIR's ExecutionEngine on inputs read from .npy files or
// one .npz archive (or seeded random data), and writes the results as .npy
// files or one .npz archive, or prints them. `--bench` times repeated calls
// (warm-up, repetitions, median and spread). `--emit-object` and
// `--emit-header` compile every public function ahead of time instead: an
// object file with `_mlir_ciface_` entry points and a C header declaring them.
//
// Arguments and results must be ranked tensors with static shapes (after the
// quantx lowering, quantized tensors are passed as their integer storage:
// int8/uint8 arrays for storage of up to 8 bits, one element per byte).
//
//===----------------------------------------------------------------------===//

#include "quantx/Codegen/CPUPipeline.h"
#include "quantx/Codegen/TargetFeatures.h"
#include "quantx/Dialect/QuantX/IR/QuantX.h"
#include "quantx/ExecutionEngine/JIT.h"
#include "quantx/Runtime/Npy.h"
#include "quantx/Runtime/Npz.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>

using namespace mlir;
namespace cl = llvm::cl;

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<input.mlir>"),
                                      cl::Required);
static cl::opt<std::string> entry("e", cl::desc("Function to run"),
                                  cl::init("main"));
static cl::list<std::string> inputs("input",
                                    cl::desc("A .npy file per argument, in "
                                             "order"));
static cl::opt<bool>
    randomInputs("random-inputs",
                 cl::desc("Fill every argument with seeded random data"));
static cl::opt<unsigned> seed("seed", cl::desc("Seed of --random-inputs"),
                              cl::init(0));
static cl::opt<std::string>
    inputArchive("inputs",
                 cl::desc("A .npz archive with the arguments: arrays named "
                          "arg0, arg1, ... (or arr_0, arr_1, ... as "
                          "np.savez names positional arrays), else in "
                          "archive order"));
static cl::list<std::string> outputs("output",
                                     cl::desc("A .npy file per result"));
static cl::opt<std::string>
    outputArchive("outputs", cl::desc("A .npz archive for the results "
                                      "(result0, result1, ...)"));
static cl::opt<std::string>
    emitObject("emit-object",
               cl::desc("Compile every public function ahead of time into "
                        "this object file (no run)"));
static cl::opt<std::string>
    emitShared("emit-shared",
               cl::desc("Compile every public function ahead of time into "
                        "this shared library (no run)"));
static cl::opt<std::string>
    emitHeader("emit-header",
               cl::desc("Write a C header declaring the entry points of "
                        "--emit-object (no run)"));
static cl::opt<std::string> targetCpu(
    "target-cpu",
    cl::desc("With --emit-object/--emit-shared: compile for this x86-64 CPU "
             "(LLVM's name: sapphirerapids, znver4, x86-64-v4, ...) and its "
             "features instead of the host's"));
static cl::opt<std::string> targetFeatures(
    "target-features",
    cl::desc("With --target-cpu: features to add or remove (+avx512vnni,"
             "-avx512f)"));
static cl::opt<bool> printResults("print", cl::desc("Print the results"));
static cl::opt<bool> bench("bench", cl::desc("Time repeated calls"));
static cl::opt<unsigned> warmup("warmup", cl::desc("Untimed calls first"),
                                cl::init(3));
static cl::opt<unsigned> repetitions("repetitions", cl::desc("Timed calls"),
                                     cl::init(20));
static cl::opt<double> flops("flops", cl::desc("Work per call, for GFLOP/s"),
                             cl::init(0));
static cl::opt<double> bytes("bytes", cl::desc("Bytes per call, for GB/s"),
                             cl::init(0));

namespace {

/// One argument or result: element type, shape, storage.
struct Buffer {
  ::quantx::NpyDType dtype;
  mlir::quantx::AbiElementType abiType;
  Type elementType;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};

[[noreturn]] void fail(const Twine &message) {
  llvm::errs() << "quantx-run: error: " << message << "\n";
  std::exit(1);
}

/// The npy dtype of an element type at the call boundary (bf16 as its raw
/// bits: numpy has no bfloat16).
::quantx::NpyDType getNpyType(mlir::quantx::AbiElementType type) {
  using mlir::quantx::AbiElementType;
  using ::quantx::NpyDType;
  switch (type) {
  case AbiElementType::F16:
    return NpyDType::f16;
  case AbiElementType::F32:
    return NpyDType::f32;
  case AbiElementType::F64:
    return NpyDType::f64;
  case AbiElementType::I1:
    return NpyDType::b1;
  case AbiElementType::I8:
    return NpyDType::i8;
  case AbiElementType::I16:
    return NpyDType::i16;
  case AbiElementType::I32:
    return NpyDType::i32;
  case AbiElementType::I64:
    return NpyDType::i64;
  case AbiElementType::U8:
    return NpyDType::u8;
  case AbiElementType::BF16:
  case AbiElementType::U16:
    return NpyDType::u16;
  case AbiElementType::U32:
    return NpyDType::u32;
  case AbiElementType::U64:
    return NpyDType::u64;
  }
  return NpyDType::u8;
}

Buffer makeBuffer(const mlir::quantx::TensorSignature &sig, Type type) {
  Buffer b;
  b.abiType = sig.elementType;
  b.dtype = getNpyType(sig.elementType);
  b.elementType = cast<RankedTensorType>(type).getElementType();
  b.shape = sig.shape;
  return b;
}

int64_t numElements(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

/// Checks `array` against argument #i and moves its data in.
void setArgument(Buffer &b, ::quantx::NpyArray &array, size_t i,
                 const std::string &source) {
  if (array.shape != b.shape)
    fail(source + ": shape does not match argument #" + std::to_string(i));
  if (array.dtype != b.dtype)
    fail(source + ": dtype " + ::quantx::npyDescr(array.dtype) +
         " does not match argument #" + std::to_string(i) + " (" +
         ::quantx::npyDescr(b.dtype) + ")");
  b.data = std::move(array.data);
}

/// Fills the arguments from a .npz archive: by names arg<i>, else arr_<i>,
/// else in archive order.
void readArchive(std::vector<Buffer> &args) {
  std::vector<::quantx::NpzEntry> entries;
  std::string error;
  if (!::quantx::readNpz(inputArchive, entries, error))
    fail(error);
  if (entries.size() != args.size())
    fail(inputArchive + ": " + std::to_string(entries.size()) +
         " arrays for a function of " + std::to_string(args.size()) +
         " arguments");
  auto find = [&](const std::string &name) -> ::quantx::NpzEntry * {
    for (::quantx::NpzEntry &e : entries)
      if (e.name == name)
        return &e;
    return nullptr;
  };
  for (const char *prefix : {"arg", "arr_"}) {
    std::vector<::quantx::NpzEntry *> byName;
    for (size_t i = 0; i < args.size(); ++i)
      if (auto *e = find(prefix + std::to_string(i)))
        byName.push_back(e);
    if (byName.size() != args.size())
      continue;
    for (auto [i, e] : llvm::enumerate(byName))
      setArgument(args[i], e->array, i, inputArchive + ":" + e->name);
    return;
  }
  for (auto [i, e] : llvm::enumerate(entries))
    setArgument(args[i], e.array, i, inputArchive + ":" + e.name);
}

void fillRandom(Buffer &b, std::mt19937_64 &rng) {
  size_t n = numElements(b.shape), size = ::quantx::npyElementSize(b.dtype);
  b.data.assign(n * size, 0);
  using ::quantx::NpyDType;
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  int64_t lo = 0, hi = 1;
  if (auto q = dyn_cast<mlir::quantx::UniformType>(b.elementType)) {
    lo = q.getStorageMin();
    hi = q.getStorageMax();
  } else if (auto i = dyn_cast<IntegerType>(b.elementType)) {
    unsigned w = std::min(i.getWidth(), 31u);
    lo = -(int64_t(1) << (w - 1));
    hi = (int64_t(1) << (w - 1)) - 1;
    if (w == 1)
      lo = 0, hi = 1;
  }
  std::uniform_int_distribution<int64_t> ints(lo, hi);
  for (size_t k = 0; k < n; ++k) {
    uint8_t *p = b.data.data() + k * size;
    switch (b.dtype) {
    case NpyDType::f32: {
      float v = uni(rng);
      std::memcpy(p, &v, 4);
      break;
    }
    case NpyDType::f64: {
      double v = uni(rng);
      std::memcpy(p, &v, 8);
      break;
    }
    case NpyDType::f16:
    case NpyDType::u16:
      if (b.elementType.isF16() || b.elementType.isBF16()) {
        float v = uni(rng);
        uint32_t u;
        std::memcpy(&u, &v, 4);
        uint16_t h = b.elementType.isBF16()
                         ? uint16_t(u >> 16)
                         : uint16_t(0x3800 | (u >> 13 & 0x3ff)); // [0.5, 1)
        std::memcpy(p, &h, 2);
        break;
      }
      [[fallthrough]];
    default: {
      int64_t v = ints(rng);
      std::memcpy(p, &v, size); // Little-endian: the low bytes.
      break;
    }
    }
  }
}

void printBuffer(const Buffer &b, StringRef name) {
  llvm::outs() << name << ": " << ::quantx::npyDescr(b.dtype) << " [";
  llvm::interleaveComma(b.shape, llvm::outs());
  llvm::outs() << "]\n";
  size_t n = numElements(b.shape), size = ::quantx::npyElementSize(b.dtype);
  int64_t row = b.shape.empty() ? 1 : b.shape.back();
  using ::quantx::NpyDType;
  for (size_t k = 0; k < n; ++k) {
    const uint8_t *p = b.data.data() + k * size;
    switch (b.dtype) {
    case NpyDType::f32: {
      float v;
      std::memcpy(&v, p, 4);
      llvm::outs() << v;
      break;
    }
    case NpyDType::f64: {
      double v;
      std::memcpy(&v, p, 8);
      llvm::outs() << v;
      break;
    }
    case NpyDType::i8:
      llvm::outs() << int(int8_t(*p));
      break;
    case NpyDType::u8:
    case NpyDType::b1:
      llvm::outs() << int(*p);
      break;
    case NpyDType::i16: {
      int16_t v;
      std::memcpy(&v, p, 2);
      llvm::outs() << v;
      break;
    }
    case NpyDType::i32: {
      int32_t v;
      std::memcpy(&v, p, 4);
      llvm::outs() << v;
      break;
    }
    case NpyDType::i64: {
      int64_t v;
      std::memcpy(&v, p, 8);
      llvm::outs() << v;
      break;
    }
    default: {
      uint64_t v = 0;
      std::memcpy(&v, p, size);
      llvm::outs() << v;
      break;
    }
    }
    llvm::outs() << ((k + 1) % row == 0 ? "\n" : " ");
  }
}

} // namespace

/// Compiles every public function to an object file, a shared library
/// and/or a C header.
int emitAheadOfTime(ModuleOp module) {
  if (!targetFeatures.empty() && targetCpu.empty())
    fail("--target-features needs --target-cpu");
  std::vector<mlir::quantx::FunctionSignature> signatures =
      mlir::quantx::prepareForExecution(module);
  std::string error;
  if (!emitObject.empty() || !emitShared.empty()) {
    // The code generation targets the CPU asked for: its features select
    // the kernels (the pipeline's target-features) and the instructions.
    mlir::quantx::ObjectTarget target;
    mlir::quantx::CPUPipelineOptions options;
    options.runtimeAlloc = true;
    if (!targetCpu.empty()) {
      target.cpu = targetCpu;
      if (!mlir::quantx::getTargetFeaturesForCPU(targetCpu, targetFeatures,
                                                 target.features, error))
        fail(error);
      options.targetFeatures = target.features;
    }
    if (failed(mlir::quantx::lowerToLLVM(module, options, error)))
      fail(error + " (see the diagnostics above)");
    if (!emitObject.empty() &&
        failed(mlir::quantx::emitObjectFile(module, emitObject, 3, target,
                                            error)))
      fail(error);
    if (!emitShared.empty() &&
        failed(mlir::quantx::emitSharedLibrary(module, emitShared, 3, target,
                                               error))) {
      if (!emitObject.empty())
        std::remove(emitObject.c_str());
      fail(error);
    }
  }
  if (!emitHeader.empty()) {
    std::string guard = "QUANTX_GENERATED_";
    for (char c : llvm::sys::path::filename(emitHeader))
      guard += llvm::isAlnum(c) ? llvm::toUpper(c) : '_';
    std::string header = mlir::quantx::generateCHeader(signatures, guard);
    if (!::quantx::writeFileAtomically(emitHeader, header.data(), header.size(),
                                       error)) {
      if (!emitObject.empty())
        std::remove(emitObject.c_str());
      if (!emitShared.empty())
        std::remove(emitShared.c_str());
      fail(error);
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv, "QuantX JIT runner\n");

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registry.insert<mlir::quantx::QuantXDialect>();
  MLIRContext context(registry);

  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagHandler(sourceMgr, &context);
  std::string error;
  auto file = mlir::openInputFile(inputFile, &error);
  if (!file)
    fail(error);
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return 1;
  if (!emitObject.empty() || !emitShared.empty() || !emitHeader.empty())
    return emitAheadOfTime(*module);
  if (!targetCpu.empty() || !targetFeatures.empty())
    fail("--target-cpu and --target-features apply to --emit-object and "
         "--emit-shared (the JIT compiles for the host)");

  auto func = module->lookupSymbol<func::FuncOp>(entry);
  if (!func || func.isExternal())
    fail("no function '" + entry + "' with a body in " + inputFile);
  if (!func.isPublic())
    fail("function '" + entry + "' is private");

  // The ABI of the call, from the function's type before lowering.
  std::vector<mlir::quantx::FunctionSignature> signatures =
      mlir::quantx::prepareForExecution(*module);
  const mlir::quantx::FunctionSignature *sig = nullptr;
  for (const mlir::quantx::FunctionSignature &s : signatures)
    if (s.name == entry)
      sig = &s;
  if (!sig->unsupportedReason.empty())
    fail(sig->unsupportedReason);
  FunctionType type = func.getFunctionType();
  std::vector<Buffer> args, results;
  for (auto [s, t] : llvm::zip(sig->arguments, type.getInputs()))
    args.push_back(makeBuffer(s, t));
  for (auto [s, t] : llvm::zip(sig->results, type.getResults()))
    results.push_back(makeBuffer(s, t));
  if (results.empty())
    fail("function '" + entry + "' returns nothing");

  if (!inputs.empty() && !inputArchive.empty())
    fail("give --input files or one --inputs archive, not both");
  if (!inputs.empty()) {
    if (inputs.size() != args.size())
      fail("function '" + entry + "' takes " + std::to_string(args.size()) +
           " arguments, " + std::to_string(inputs.size()) + " --input given");
    for (auto [i, path] : llvm::enumerate(inputs)) {
      ::quantx::NpyArray array;
      if (!::quantx::readNpy(path, array, error))
        fail(error);
      setArgument(args[i], array, i, path);
    }
  } else if (!inputArchive.empty()) {
    readArchive(args);
  } else if (randomInputs || args.empty()) {
    std::mt19937_64 rng(seed);
    for (Buffer &b : args)
      fillRandom(b, rng);
  } else {
    fail("give one --input per argument, an --inputs archive, or "
         "--random-inputs");
  }
  if (!outputs.empty() && outputs.size() != results.size())
    fail(std::to_string(results.size()) + " results, " +
         std::to_string(outputs.size()) + " --output given");
  if (!outputs.empty() && !outputArchive.empty())
    fail("give --output files or one --outputs archive, not both");

  // Lower and JIT-compile.
  if (failed(mlir::quantx::lowerToLLVM(*module, "", error)))
    fail(error + " (see the diagnostics above)");
  std::string name = sig->name;
  std::unique_ptr<mlir::quantx::JITModule> jit =
      mlir::quantx::JITModule::create(*module, std::move(signatures), 3, error);
  if (!jit)
    fail(error);
  sig = jit->lookup(name, error);
  if (!sig)
    fail(error);

  std::vector<mlir::quantx::BufferView> views;
  for (Buffer &b : args)
    views.push_back({b.abiType, b.shape, {}, b.data.data()});

  if (bench) {
    std::vector<double> seconds;
    if (failed(jit->benchmark(*sig, views, warmup,
                              std::max(1u, unsigned(repetitions)), seconds,
                              error)))
      fail(error);
    std::vector<double> ms;
    for (double s : seconds)
      ms.push_back(s * 1e3);
    std::sort(ms.begin(), ms.end());
    double median = ms[ms.size() / 2];
    llvm::outs() << llvm::format(
        "%s: %u runs, median %.4f ms, min %.4f ms, max %.4f ms, spread "
        "%.1f%%",
        entry.c_str(), unsigned(ms.size()), median, ms.front(), ms.back(),
        100.0 * (ms.back() - ms.front()) / median);
    if (flops > 0)
      llvm::outs() << llvm::format(", %.2f GFLOP/s", flops / median / 1e6);
    if (bytes > 0)
      llvm::outs() << llvm::format(", %.2f GB/s", bytes / median / 1e6);
    llvm::outs() << "\n";
  }
  std::vector<mlir::quantx::OwnedBuffer> owned;
  if (failed(jit->invoke(*sig, views, &owned, error)))
    fail(error);
  for (auto [r, o] : llvm::zip(results, owned)) {
    auto *p = static_cast<const uint8_t *>(o.data);
    r.data.assign(p, p + o.signature.getByteSize());
  }
  std::vector<::quantx::NpzEntry> archive;
  for (auto [i, r] : llvm::enumerate(results)) {
    if (printResults || (outputs.empty() && outputArchive.empty()))
      printBuffer(r, "result #" + std::to_string(i));
    ::quantx::NpyArray array;
    array.dtype = r.dtype;
    array.shape = r.shape;
    array.data = r.data;
    if (!outputs.empty() && !::quantx::writeNpy(outputs[i], array, error))
      fail(error);
    if (!outputArchive.empty())
      archive.push_back({"result" + std::to_string(i), std::move(array)});
  }
  if (!outputArchive.empty() &&
      !::quantx::writeNpz(outputArchive, archive, error))
    fail(error);
  return 0;
}
