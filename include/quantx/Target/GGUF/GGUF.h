//===- GGUF.h - Translation between MLIR modules and GGUF files -*- C++ -*-===//
//
// The MLIR form of a GGUF file is a module whose `quantx.gguf.metadata`
// dictionary holds the metadata (integer widths and signedness explicit, so
// emit -> import -> emit is byte-identical) and whose body holds one
// `arith.constant` per tensor, carrying the tensor's `quantx.gguf.name` and
// `quantx.gguf.type`: float tensors (f32/f16/bf16) as themselves, block-
// quantized tensors as their raw GGUF block bytes (`tensor<Nxi8>`, usually a
// `dense_resource`) with a `quantx.gguf.shape`. docs/GGUF.md specifies the
// form and the translations `--quantx-to-gguf`, `--gguf-to-quantx`,
// `--gguf-dump` and `--gguf-report` that quantx-translate registers.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_TARGET_GGUF_GGUF_H
#define QUANTX_TARGET_GGUF_GGUF_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/LLVM.h"

#include <optional>
#include <string>

namespace quantx {
class GGUFFile;
} // namespace quantx

namespace mlir::quantx {

/// Options of the GGUF emitter.
struct GGUFExportOptions {
  /// ggml type name ("q4_0", "q8_0", "f16", ...) that float tensors of rank
  /// >= 2 without their own `quantx.gguf.type` are quantized to, when their
  /// innermost dimension is a multiple of the type's block size. Empty: keep
  /// every float tensor as it is.
  std::string defaultType;
  /// Where the per-tensor error of every requantized tensor is reported
  /// (one line per tensor); null: not reported.
  raw_ostream *errorReport = nullptr;
};

/// Writes `module` (the MLIR form of a GGUF file) as a GGUF v3 file to `os`,
/// streaming tensor data from the module's attributes. Emits an error at the
/// offending op and fails on invalid input.
LogicalResult exportGGUF(ModuleOp module, raw_ostream &os,
                         const GGUFExportOptions &options = {});

/// Writes `module` to the file `path` atomically (temporary file, fsync,
/// rename); on failure no file is left behind.
LogicalResult exportGGUFToFile(ModuleOp module, StringRef path,
                               const GGUFExportOptions &options = {});

/// Builds the MLIR form of a parsed GGUF file. Tensor data is referenced,
/// not copied, where its alignment allows: the blobs keep `file`'s mapping
/// alive. Returns null after emitting an error at `loc` for tensor types the
/// MLIR form cannot hold.
OwningOpRef<ModuleOp> importGGUF(const ::quantx::GGUFFile &file,
                                 MLIRContext *context, Location loc);

/// Reads and validates the GGUF file `path` and imports it; emits an error
/// (the reader's message) and returns null for a malformed file.
OwningOpRef<ModuleOp> importGGUFFile(StringRef path, MLIRContext *context);

/// Registers `--quantx-to-gguf`, `--gguf-to-quantx`,
/// `--gguf-to-quantx-bytecode`, `--gguf-dump` and `--gguf-report` with the
/// translation registry.
void registerGGUFTranslations();

} // namespace mlir::quantx

#endif // QUANTX_TARGET_GGUF_GGUF_H
