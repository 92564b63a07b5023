//===- quantx-run.cpp - JIT runner and benchmark harness ------------------===//
//
// Compiles a function of a .mlir file with the quantx CPU pipeline, runs it
// in-process through MLIR's ExecutionEngine on inputs read from .npy files
// (or seeded random data), and writes the results as .npy files or prints
// them. `--bench` times repeated calls (warm-up, repetitions, median and
// spread).
//
// Arguments and results must be ranked tensors with static shapes (after the
// quantx lowering, quantized tensors are passed as their integer storage:
// int8/uint8 arrays for storage of up to 8 bits, one element per byte).
//
//===----------------------------------------------------------------------===//

#include "quantx/Codegen/CPUPipeline.h"
#include "quantx/Conversion/Passes.h"
#include "quantx/Dialect/QuantX/IR/QuantX.h"
#include "quantx/Runtime/Npy.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
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
static cl::list<std::string> outputs("output",
                                     cl::desc("A .npy file per result"));
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

/// One argument or result at the ABI: element type, shape, storage.
struct Buffer {
  ::quantx::NpyDType dtype;
  Type elementType;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
  /// The memref descriptor: base, aligned, offset, sizes, strides.
  std::vector<int64_t> descriptor;
};

[[noreturn]] void fail(const Twine &message) {
  llvm::errs() << "quantx-run: error: " << message << "\n";
  std::exit(1);
}

/// The npy dtype of an element type at the ABI (quantized types as their
/// storage, signedness from the quantx type).
std::optional<::quantx::NpyDType> getNpyType(Type type) {
  using ::quantx::NpyDType;
  bool isSigned = true;
  if (auto q = dyn_cast<mlir::quantx::UniformType>(type)) {
    isSigned = q.getIsSigned();
    type = q.getStorageType();
  }
  if (type.isF16())
    return NpyDType::f16;
  if (type.isBF16())
    return NpyDType::u16; // Raw bits: numpy has no bfloat16.
  if (type.isF32())
    return NpyDType::f32;
  if (type.isF64())
    return NpyDType::f64;
  if (type.isInteger(1))
    return NpyDType::b1;
  if (auto i = dyn_cast<IntegerType>(type)) {
    if (i.isUnsigned())
      isSigned = false;
    unsigned w = i.getWidth();
    if (w <= 8)
      return isSigned ? NpyDType::i8 : NpyDType::u8;
    if (w == 16)
      return isSigned ? NpyDType::i16 : NpyDType::u16;
    if (w == 32)
      return isSigned ? NpyDType::i32 : NpyDType::u32;
    if (w == 64)
      return isSigned ? NpyDType::i64 : NpyDType::u64;
  }
  return std::nullopt;
}

Buffer makeBuffer(Type type, StringRef what) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape()) {
    std::string s;
    llvm::raw_string_ostream os(s);
    os << type;
    fail(what + " has type " + s +
         ": quantx-run supports ranked tensors of static shape");
  }
  std::optional<::quantx::NpyDType> dtype = getNpyType(tensor.getElementType());
  if (!dtype) {
    std::string s;
    llvm::raw_string_ostream os(s);
    os << tensor.getElementType();
    fail(what + ": unsupported element type " + s);
  }
  Buffer b;
  b.dtype = *dtype;
  b.elementType = tensor.getElementType();
  b.shape.assign(tensor.getShape().begin(), tensor.getShape().end());
  return b;
}

int64_t numElements(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

void setDescriptor(Buffer &b) {
  int64_t rank = b.shape.size();
  b.descriptor.assign(3 + 2 * rank, 0);
  auto ptr = reinterpret_cast<int64_t>(b.data.data());
  b.descriptor[0] = ptr;
  b.descriptor[1] = ptr;
  int64_t stride = 1;
  for (int64_t i = rank - 1; i >= 0; --i) {
    b.descriptor[3 + i] = b.shape[i];
    b.descriptor[3 + rank + i] = stride;
    stride *= b.shape[i];
  }
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

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv, "QuantX JIT runner\n");
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registry.insert<mlir::quantx::QuantXDialect>();
  mlir::quantx::registerCPUTranslations(registry);
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
  auto func = module->lookupSymbol<func::FuncOp>(entry);
  if (!func || func.isExternal())
    fail("no function '" + entry + "' with a body in " + inputFile);

  // The ABI of the call, from the function's type before lowering.
  FunctionType type = func.getFunctionType();
  std::vector<Buffer> args, results;
  for (auto [i, t] : llvm::enumerate(type.getInputs()))
    args.push_back(makeBuffer(t, "argument #" + std::to_string(i)));
  for (auto [i, t] : llvm::enumerate(type.getResults()))
    results.push_back(makeBuffer(t, "result #" + std::to_string(i)));
  if (results.empty())
    fail("function '" + entry + "' returns nothing");

  if (!inputs.empty()) {
    if (inputs.size() != args.size())
      fail("function '" + entry + "' takes " + std::to_string(args.size()) +
           " arguments, " + std::to_string(inputs.size()) + " --input given");
    for (auto [i, path] : llvm::enumerate(inputs)) {
      ::quantx::NpyArray array;
      if (!::quantx::readNpy(path, array, error))
        fail(error);
      Buffer &b = args[i];
      if (array.shape != b.shape)
        fail(path + ": shape does not match argument #" + std::to_string(i));
      if (array.dtype != b.dtype)
        fail(path + ": dtype " + ::quantx::npyDescr(array.dtype) +
             " does not match argument #" + std::to_string(i) + " (" +
             ::quantx::npyDescr(b.dtype) + ")");
      b.data = std::move(array.data);
    }
  } else if (randomInputs || args.empty()) {
    std::mt19937_64 rng(seed);
    for (Buffer &b : args)
      fillRandom(b, rng);
  } else {
    fail("give one --input per argument, or --random-inputs");
  }
  if (!outputs.empty() && outputs.size() != results.size())
    fail(std::to_string(results.size()) + " results, " +
         std::to_string(outputs.size()) + " --output given");

  // Lower and JIT-compile.
  func->setAttr("llvm.emit_c_interface", UnitAttr::get(&context));
  PassManager pm(&context);
  mlir::quantx::buildQuantXCPUPipeline(pm);
  if (failed(pm.run(*module)))
    fail("lowering failed (see the diagnostics above)");
  auto transformer = makeOptimizingTransformer(3, 0, nullptr);
  ExecutionEngineOptions options;
  options.transformer = transformer;
  // MLIR's C runner utilities provide the helpers lowered code may call
  // (memrefCopy for copies of non-contiguous buffers, for instance).
  // The code generation's runtime (OpenMP) comes after them.
  SmallVector<StringRef> runtimeLibs = {QUANTX_MLIR_C_RUNNER_UTILS};
  llvm::append_range(runtimeLibs, mlir::quantx::getCPURuntimeLibraries());
  options.sharedLibPaths = runtimeLibs;
  options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  auto engine = ExecutionEngine::create(*module, options);
  if (!engine)
    fail("JIT compilation failed: " + llvm::toString(engine.takeError()));

  // Call convention of _mlir_ciface_<entry>: a pointer to the result
  // descriptor (or to the struct of result descriptors), then a pointer to
  // each argument descriptor.
  for (Buffer &b : args)
    setDescriptor(b);
  std::vector<int64_t> resultStruct;
  std::vector<size_t> resultOffsets;
  for (Buffer &r : results) {
    resultOffsets.push_back(resultStruct.size());
    resultStruct.resize(resultStruct.size() + 3 + 2 * r.shape.size(), 0);
  }
  void *resultPtr = resultStruct.data();
  std::vector<void *> argPtrs;
  for (Buffer &b : args)
    argPtrs.push_back(b.descriptor.data());
  std::vector<void *> packed = {&resultPtr};
  for (void *&p : argPtrs)
    packed.push_back(&p);
  std::string symbol = "_mlir_ciface_" + entry;

  auto isInput = [&](void *base) {
    for (Buffer &b : args)
      if (base == b.data.data())
        return true;
    return false;
  };
  auto call = [&](bool keep) {
    if (llvm::Error e = (*engine)->invokePacked(symbol, packed))
      fail("call failed: " + llvm::toString(std::move(e)));
    for (auto [r, offset] : llvm::zip(results, resultOffsets)) {
      int64_t *d = resultStruct.data() + offset;
      auto *base = reinterpret_cast<void *>(d[0]);
      auto *aligned = reinterpret_cast<uint8_t *>(d[1]);
      size_t size = ::quantx::npyElementSize(r.dtype);
      int64_t rank = r.shape.size();
      if (keep) {
        // Copy honouring the strides the callee returned.
        size_t n = numElements(r.shape);
        r.data.assign(n * size, 0);
        std::vector<int64_t> idx(rank, 0);
        for (size_t k = 0; k < n; ++k) {
          int64_t off = d[2];
          for (int64_t i = 0; i < rank; ++i)
            off += idx[i] * d[3 + rank + i];
          std::memcpy(r.data.data() + k * size, aligned + off * size, size);
          for (int64_t i = rank - 1; i >= 0; --i) {
            if (++idx[i] < r.shape[i])
              break;
            idx[i] = 0;
          }
        }
      }
      if (!isInput(base))
        std::free(base);
    }
  };

  if (bench) {
    for (unsigned i = 0; i < warmup; ++i)
      call(false);
    std::vector<double> ms;
    for (unsigned i = 0; i < std::max(1u, unsigned(repetitions)); ++i) {
      auto t0 = std::chrono::steady_clock::now();
      call(false);
      auto t1 = std::chrono::steady_clock::now();
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
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
  call(true);
  for (auto [i, r] : llvm::enumerate(results)) {
    if (printResults || outputs.empty())
      printBuffer(r, "result #" + std::to_string(i));
    if (!outputs.empty()) {
      ::quantx::NpyArray array;
      array.dtype = r.dtype;
      array.shape = r.shape;
      array.data = r.data;
      if (!::quantx::writeNpy(outputs[i], array, error))
        fail(error);
    }
  }
  return 0;
}
