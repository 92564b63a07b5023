//===- quantx-translate.cpp - The QuantX translation driver ---------------===//
//
// Behaves like mlir-translate for QuantX's registered translations
// (`--quantx-to-gguf`, `--gguf-to-quantx`, `--gguf-dump`, `--gguf-report`),
// with one difference: output files are written atomically. The translation
// writes to a temporary file in the output's directory, which is fsynced and
// renamed over the output only when the translation succeeded; on failure it
// is removed, so a failed run never leaves a partial file. Outputs that exist
// and are not regular files (/dev/null, pipes) are written directly.
// `-split-input-file` and `-verify-diagnostics` work as in mlir-translate.
//
//===----------------------------------------------------------------------===//

#include "quantx/Runtime/OutputFile.h"
#include "quantx/Target/GGUF/GGUF.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/ToolUtilities.h"
#include "mlir/Tools/mlir-translate/Translation.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <unistd.h>

using namespace mlir;

namespace {

/// Runs `translate` with a stream on a temporary file next to `path`, then
/// fsyncs and renames it to `path`; removes the temporary file on failure.
LogicalResult
writeAtomically(StringRef path,
                llvm::function_ref<LogicalResult(raw_ostream &)> translate) {
  // A device or FIFO is written in place; a symbolic link's file is
  // replaced, and the link stays.
  bool inPlace;
  std::string target = ::quantx::resolveOutputPath(path.str(), inPlace);
  if (inPlace) {
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    if (ec) {
      llvm::errs() << "error: cannot open '" << path << "': " << ec.message()
                   << "\n";
      return failure();
    }
    return translate(os);
  }
  SmallString<256> dir(target);
  llvm::sys::path::remove_filename(dir);
  if (dir.empty())
    dir = ".";
  SmallString<256> model(dir);
  llvm::sys::path::append(model, "." + llvm::sys::path::filename(target) +
                                     ".tmp-%%%%%%");
  int fd;
  SmallString<256> tmp;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(
          model, fd, tmp, llvm::sys::fs::OF_None)) {
    llvm::errs() << "error: cannot create a temporary file in '" << dir
                 << "': " << ec.message() << "\n";
    return failure();
  }
  bool ok;
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/false);
    ok = succeeded(translate(os));
    os.flush();
    if (os.has_error()) {
      llvm::errs() << "error: writing '" << path
                   << "': " << os.error().message() << "\n";
      os.clear_error();
      ok = false;
    }
  }
  if (ok && ::fsync(fd) != 0) {
    llvm::errs() << "error: fsync of '" << tmp << "' failed\n";
    ok = false;
  }
  if (::close(fd) != 0)
    ok = false;
  if (ok) {
    if (std::error_code ec = llvm::sys::fs::rename(tmp, target)) {
      llvm::errs() << "error: cannot rename the temporary file to '" << path
                   << "': " << ec.message() << "\n";
      ok = false;
    }
  }
  if (!ok)
    llvm::sys::fs::remove(tmp);
  return success(ok);
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  mlir::quantx::registerGGUFTranslations();

  static llvm::cl::opt<std::string> inputFilename(
      llvm::cl::Positional, llvm::cl::desc("<input file>"),
      llvm::cl::init("-"));
  static llvm::cl::opt<std::string> outputFilename(
      "o", llvm::cl::desc("Output filename (written atomically)"),
      llvm::cl::value_desc("filename"), llvm::cl::init("-"));

  static llvm::cl::opt<bool> splitInputFile(
      "split-input-file",
      llvm::cl::desc("Split the input into chunks at '// -----' and translate "
                     "each on its own"),
      llvm::cl::init(false));
  static llvm::cl::opt<bool> verifyDiagnostics(
      "verify-diagnostics",
      llvm::cl::desc("Check that emitted diagnostics match expected-* lines"),
      llvm::cl::init(false));

  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerTranslationCLOptions();
  llvm::cl::opt<const Translation *, false, TranslationParser>
      translationRequested("", llvm::cl::desc("Translation to perform"),
                           llvm::cl::Required);
  llvm::cl::ParseCommandLineOptions(argc, argv, "QuantX translation driver\n");

  const Translation *translation = translationRequested;
  std::string errorMessage;
  std::unique_ptr<llvm::MemoryBuffer> input;
  if (std::optional<llvm::Align> align = translation->getInputAlignment())
    input = openInputFile(inputFilename, *align, &errorMessage);
  else
    input = openInputFile(inputFilename, &errorMessage);
  if (!input) {
    llvm::errs() << errorMessage << "\n";
    return 1;
  }

  auto processBuffer = [&](std::unique_ptr<llvm::MemoryBuffer> buffer,
                           raw_ostream &os) -> LogicalResult {
    MLIRContext context;
    context.printOpOnDiagnostic(!verifyDiagnostics);
    auto sourceMgr = std::make_shared<llvm::SourceMgr>();
    sourceMgr->AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
    if (verifyDiagnostics) {
      SourceMgrDiagnosticVerifierHandler handler(*sourceMgr, &context);
      (void)(*translation)(sourceMgr, os, &context);
      return handler.verify();
    }
    SourceMgrDiagnosticHandler handler(*sourceMgr, &context);
    return (*translation)(sourceMgr, os, &context);
  };
  auto run = [&](raw_ostream &os) -> LogicalResult {
    if (!splitInputFile)
      return processBuffer(std::move(input), os);
    return splitAndProcessBuffer(std::move(input), processBuffer, os);
  };
  if (outputFilename == "-") {
    LogicalResult result = run(llvm::outs());
    llvm::outs().flush();
    return failed(result) ? 1 : 0;
  }
  return failed(writeAtomically(outputFilename, run)) ? 1 : 0;
}
