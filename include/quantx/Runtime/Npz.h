//===- Npz.h - numpy .npz archives ------------------------------*- C++ -*-===//
//
// Reading and writing numpy's .npz archives: zip files holding one .npy
// member per array. `np.savez` writes stored (uncompressed) members and
// `np.savez_compressed` deflated ones; both are read, any other compression
// method, encryption or multi-disk archive is rejected with a message. Every
// offset and size is checked against the file before it is used, the
// uncompressed size of a deflated member is bounded by its compressed size,
// and each member's CRC-32 is verified. Writing produces stored members and
// is atomic (temporary file, then rename).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_RUNTIME_NPZ_H
#define QUANTX_RUNTIME_NPZ_H

#include "quantx/Runtime/Npy.h"

#include <string>
#include <vector>

namespace quantx {

/// One array of an archive; `name` is the member name without ".npy".
struct NpzEntry {
  std::string name;
  NpyArray array;
};

/// Parses a .npz image held in memory; entries keep the archive's order.
bool parseNpz(const uint8_t *bytes, size_t size, std::vector<NpzEntry> &out,
              std::string &error);
/// Reads `path`; on failure returns false and sets `error` (prefixed by the
/// path).
bool readNpz(const std::string &path, std::vector<NpzEntry> &out,
             std::string &error);
/// Writes the entries as stored members `<name>.npy` to `path` atomically.
bool writeNpz(const std::string &path, const std::vector<NpzEntry> &entries,
              std::string &error);

} // namespace quantx

#endif // QUANTX_RUNTIME_NPZ_H
