//===- Npy.h - numpy .npy reading and writing -------------------*- C++ -*-===//
//
// A small, validating reader and writer of numpy's .npy format (versions 1.0
// to 3.0, little-endian, C order). Files that are truncated, use a dtype we
// do not support, Fortran order, or a header that does not parse are
// rejected with a message; sizes are checked against the file before any
// allocation. Writing is atomic (temporary file, then rename; a symbolic
// link keeps pointing to the new file, a device or a FIFO is written in
// place: quantx/Runtime/OutputFile.h).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_RUNTIME_NPY_H
#define QUANTX_RUNTIME_NPY_H

#include <cstdint>
#include <string>
#include <vector>

namespace quantx {

/// Element types an array can hold (numpy dtype descr in comments).
enum class NpyDType {
  f16, // <f2
  f32, // <f4
  f64, // <f8
  i8,  // |i1
  u8,  // |u1
  i16, // <i2
  u16, // <u2
  i32, // <i4
  u32, // <u4
  i64, // <i8
  u64, // <u8
  b1,  // |b1
};

/// Bytes per element of `type`.
size_t npyElementSize(NpyDType type);
/// The numpy descr string, e.g. "<f4".
const char *npyDescr(NpyDType type);

/// A dense, C-ordered array.
struct NpyArray {
  NpyDType dtype = NpyDType::f32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
  int64_t numElements() const;
};

/// Reads the whole file at `path` into `bytes` (one read of its size for a
/// regular file, a streamed read for a pipe); on failure returns false and
/// sets `error`.
bool readFileBytes(const std::string &path, std::vector<uint8_t> &bytes,
                   std::string &error);
/// Reads `path`; on failure returns false and sets `error`.
bool readNpy(const std::string &path, NpyArray &out, std::string &error);
/// Parses a .npy image held in memory.
bool parseNpy(const uint8_t *bytes, size_t size, NpyArray &out,
              std::string &error);
/// Serializes `array` as a version 1.0 .npy image; on failure returns false
/// and sets `error`.
bool serializeNpy(const NpyArray &array, std::vector<uint8_t> &out,
                  std::string &error);
/// Writes `size` bytes to `path` atomically (a temporary file in the same
/// folder, then rename); on failure nothing is left behind.
bool writeFileAtomically(const std::string &path, const void *data, size_t size,
                         std::string &error);
/// Writes `array` to `path` atomically; on failure returns false and sets
/// `error` (no file is left behind).
bool writeNpy(const std::string &path, const NpyArray &array,
              std::string &error);

} // namespace quantx

#endif // QUANTX_RUNTIME_NPY_H
