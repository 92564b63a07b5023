//===- OutputFile.h - Where an output file is written -----------*- C++ -*-===//
//
// The tools write their output files atomically: a temporary file in the
// same folder, renamed over the target once it is complete. Two kinds of
// target must not be renamed over: a symbolic link (the link would become
// a file, and the file it names would keep its old content) and a file
// that is not a regular one (a device such as /dev/null, a FIFO: the rename
// would replace it). resolveOutputPath says which path to rename onto, or
// that the output is to be written in place.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_RUNTIME_OUTPUTFILE_H
#define QUANTX_RUNTIME_OUTPUTFILE_H

#include <cstdlib>
#include <string>
#include <sys/stat.h>

namespace quantx {

/// The path an atomic write of `path` renames its temporary file onto: the
/// file a symbolic link names, else `path` itself. `inPlace` is set when
/// `path` exists and is not a regular file (a device, a FIFO): it is then
/// opened and written directly, never renamed over (a directory fails to
/// open for writing, with a clear error, before any work).
inline std::string resolveOutputPath(const std::string &path, bool &inPlace) {
  inPlace = false;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return path; // A new file (or a dangling link, replaced by the file).
  if (!S_ISREG(st.st_mode)) {
    inPlace = true;
    return path;
  }
  char *real = ::realpath(path.c_str(), nullptr);
  if (!real)
    return path;
  std::string resolved(real);
  std::free(real);
  return resolved;
}

} // namespace quantx

#endif // QUANTX_RUNTIME_OUTPUTFILE_H
