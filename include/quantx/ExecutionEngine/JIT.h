//===- JIT.h - Compile and call quantx functions in-process -----*- C++ -*-===//
//
// The code that quantx-run and the C API share: reading the call signature
// of a module's functions (ranked tensors of static shape, quantized tensors
// as their integer storage), lowering with the CPU pipeline, JIT-compiling
// with MLIR's ExecutionEngine, calling a function on caller-provided
// buffers, and compiling ahead of time to an object file with a C header.
//
// Calling convention: every public function with a body gets MLIR's
// `llvm.emit_c_interface` wrapper `_mlir_ciface_<name>`, which takes a
// pointer to the result descriptor (or to a struct of the result
// descriptors, in order) followed by a pointer to each argument's memref
// descriptor {allocated, aligned, offset, sizes[rank], strides[rank]}.
// Arguments are marked read-only for bufferization, so a call never writes
// into its inputs.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_EXECUTIONENGINE_JIT_H
#define QUANTX_EXECUTIONENGINE_JIT_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/StringMap.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir {
class ExecutionEngine;
} // namespace mlir

namespace mlir::quantx {

struct CPUPipelineOptions;

/// Element types at the call boundary. The values are those of the C API's
/// `quantx_element_type_t`.
enum class AbiElementType : int {
  F16 = 1,
  BF16 = 2,
  F32 = 3,
  F64 = 4,
  I1 = 5,
  I8 = 6,
  I16 = 7,
  I32 = 8,
  I64 = 9,
  U8 = 10,
  U16 = 11,
  U32 = 12,
  U64 = 13,
};

/// Bytes per element of `type`.
size_t getAbiElementSize(AbiElementType type);
/// A short name: "f32", "i8", "u8", "i1", ...
const char *getAbiElementName(AbiElementType type);
/// The element type at the call boundary of a tensor element type: floats as
/// themselves, integers by width and signedness (signless ones are signed),
/// quantized types as their storage (storage of up to 8 bits as one byte).
std::optional<AbiElementType> getAbiElementType(Type type);

/// One argument or result: element type and static shape.
struct TensorSignature {
  AbiElementType elementType;
  std::vector<int64_t> shape;
  /// The tensor type as MLIR prints it, for messages.
  std::string typeName;
  int64_t getNumElements() const;
  size_t getByteSize() const;
};

/// The call signature of a function, read before lowering.
struct FunctionSignature {
  std::string name;
  std::vector<TensorSignature> arguments, results;
  /// Non-empty when the function cannot be called through this interface
  /// (an argument that is not a ranked tensor of static shape, ...): why.
  std::string unsupportedReason;
};

/// Reads the signature of every public function with a body, in module
/// order, and prepares those functions for calling: the C-interface wrapper
/// and read-only arguments. Call before lowering.
std::vector<FunctionSignature> prepareForExecution(ModuleOp module);

/// Lowers a prepared module to the LLVM dialect: with the textual pass
/// pipeline `pipeline` (anchored on the module, or a bare list of module
/// passes), or with the quantx CPU pipeline when it is empty. Diagnostics go
/// to the context's handlers; on failure `error` says what failed.
LogicalResult lowerToLLVM(ModuleOp module, StringRef pipeline,
                          std::string &error);

/// Lowers `module` with the quantx CPU pipeline built from `options`.
LogicalResult lowerToLLVM(ModuleOp module, const CPUPipelineOptions &options,
                          std::string &error);

/// A view of caller memory holding one argument. Strides are in elements;
/// empty strides mean contiguous row-major.
struct BufferView {
  AbiElementType elementType;
  ArrayRef<int64_t> shape;
  ArrayRef<int64_t> strides;
  const void *data;
};

/// A result the caller owns: contiguous row-major data in memory from
/// malloc (the callee's own allocation when it was contiguous and not
/// shared, else a copy).
struct OwnedBuffer {
  TensorSignature signature;
  /// The first element.
  void *data = nullptr;
  /// What to free (may differ from `data`).
  void *allocation = nullptr;
  OwnedBuffer() = default;
  OwnedBuffer(OwnedBuffer &&other);
  OwnedBuffer &operator=(OwnedBuffer &&other);
  ~OwnedBuffer();
};

/// A module compiled in-process.
class JITModule {
public:
  ~JITModule();

  /// JIT-compiles `module`, a module already lowered to the LLVM dialect,
  /// whose signatures were read by prepareForExecution. `optLevel` is the
  /// LLVM optimization level (0..3).
  static std::unique_ptr<JITModule>
  create(ModuleOp module, std::vector<FunctionSignature> signatures,
         unsigned optLevel, std::string &error);

  /// The signatures of the callable functions, in module order.
  ArrayRef<FunctionSignature> getFunctions() const { return functions; }
  /// The function named `name`, or null with `error` set (unknown function,
  /// or one whose signature is not supported).
  const FunctionSignature *lookup(StringRef name, std::string &error) const;

  /// Calls `function` on `args`, checking arity, element types and shapes.
  /// When `results` is not null it receives the results as contiguous
  /// buffers (the callee's memory where possible, else copies); any callee
  /// memory not handed over is released.
  LogicalResult invoke(const FunctionSignature &function,
                       ArrayRef<BufferView> args,
                       std::vector<OwnedBuffer> *results, std::string &error);

  /// Times `repetitions` calls after `warmup` untimed ones; seconds per call
  /// in `seconds`.
  LogicalResult benchmark(const FunctionSignature &function,
                          ArrayRef<BufferView> args, unsigned warmup,
                          unsigned repetitions, std::vector<double> &seconds,
                          std::string &error);

private:
  JITModule() = default;
  std::unique_ptr<ExecutionEngine> engine;
  std::vector<FunctionSignature> functions;
  llvm::StringMap<void (*)(void **)> entryPoints;
};

/// The CPU ahead-of-time code is compiled for: the host's when `cpu` is
/// empty, else an x86-64 CPU by LLVM's name with `features` ("+a,+b,...",
/// all of them, as getTargetFeaturesForCPU gives) enabled.
struct ObjectTarget {
  std::string cpu;
  std::string features;
};

/// Compiles a module lowered to the LLVM dialect to a relocatable,
/// position-independent object file for `target` and writes it to `path`
/// atomically.
LogicalResult emitObjectFile(ModuleOp module, StringRef path, unsigned optLevel,
                             const ObjectTarget &target, std::string &error);

/// Compiles like emitObjectFile and links the object into a shared library
/// with the LLVM installation's lld (depending on MLIR's C runner
/// utilities), written to `path` atomically.
LogicalResult emitSharedLibrary(ModuleOp module, StringRef path,
                                unsigned optLevel, const ObjectTarget &target,
                                std::string &error);

/// A C header declaring the `_mlir_ciface_` entry points of the supported
/// functions in `functions`, with a memref descriptor struct per element
/// type and rank.
std::string generateCHeader(ArrayRef<FunctionSignature> functions,
                            StringRef guard);

} // namespace mlir::quantx

#endif // QUANTX_EXECUTIONENGINE_JIT_H
