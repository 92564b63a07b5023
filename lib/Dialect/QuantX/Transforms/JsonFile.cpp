//===- JsonFile.cpp - Writing the passes' JSON side outputs ---------------===//

#include "JsonFile.h"

#include "quantx/Runtime/OutputFile.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

LogicalResult mlir::quantx::writeJsonFile(Operation *anchor, StringRef path,
                                          llvm::json::Value value,
                                          StringRef what) {
  if (path == "-") {
    llvm::outs() << llvm::formatv("{0:2}", value) << "\n";
    llvm::outs().flush();
    return success();
  }
  bool inPlace;
  std::string target = ::quantx::resolveOutputPath(path.str(), inPlace);
  std::string tmp = inPlace ? target : target + ".tmp";
  std::error_code ec;
  {
    llvm::raw_fd_ostream os(tmp, ec);
    if (!ec) {
      os << llvm::formatv("{0:2}", value) << "\n";
      os.close();
      if (os.has_error()) {
        ec = os.error();
        os.clear_error();
      }
    }
  }
  if (!ec && !inPlace)
    ec = llvm::sys::fs::rename(tmp, target);
  if (ec) {
    if (!inPlace)
      llvm::sys::fs::remove(tmp);
    return anchor->emitError()
           << "cannot write " << what << " '" << path << "': " << ec.message();
  }
  return success();
}
