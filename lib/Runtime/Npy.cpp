//===- Npy.cpp - numpy .npy reading and writing ---------------------------===//

#include "quantx/Runtime/Npy.h"
#include "quantx/Runtime/OutputFile.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace quantx {

namespace {
struct DTypeInfo {
  NpyDType type;
  const char *descr;
  size_t size;
};
const DTypeInfo kTypes[] = {
    {NpyDType::f16, "<f2", 2}, {NpyDType::f32, "<f4", 4},
    {NpyDType::f64, "<f8", 8}, {NpyDType::i8, "|i1", 1},
    {NpyDType::u8, "|u1", 1},  {NpyDType::i16, "<i2", 2},
    {NpyDType::u16, "<u2", 2}, {NpyDType::i32, "<i4", 4},
    {NpyDType::u32, "<u4", 4}, {NpyDType::i64, "<i8", 8},
    {NpyDType::u64, "<u8", 8}, {NpyDType::b1, "|b1", 1},
};

/// Returns the value of `key` in a numpy header dict (the text after
/// "'key':"), trimmed, up to the next top-level comma or closing brace.
bool findValue(const std::string &header, const std::string &key,
               std::string &value) {
  size_t pos = header.find("'" + key + "'");
  if (pos == std::string::npos)
    return false;
  pos = header.find(':', pos);
  if (pos == std::string::npos)
    return false;
  ++pos;
  while (pos < header.size() && header[pos] == ' ')
    ++pos;
  size_t end = pos;
  int depth = 0;
  for (; end < header.size(); ++end) {
    char c = header[end];
    if (c == '(' || c == '[')
      ++depth;
    else if (c == ')' || c == ']')
      --depth;
    else if ((c == ',' || c == '}') && depth == 0)
      break;
  }
  value = header.substr(pos, end - pos);
  while (!value.empty() && value.back() == ' ')
    value.pop_back();
  return true;
}
} // namespace

size_t npyElementSize(NpyDType type) {
  for (const DTypeInfo &t : kTypes)
    if (t.type == type)
      return t.size;
  return 0;
}

const char *npyDescr(NpyDType type) {
  for (const DTypeInfo &t : kTypes)
    if (t.type == type)
      return t.descr;
  return "?";
}

int64_t NpyArray::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

namespace {
/// Parses the header of the .npy image `bytes` into `out`'s dtype and shape
/// and checks the data is all there: it starts at `dataOffset` and spans
/// `dataSize` bytes.
bool parseNpyHeader(const uint8_t *bytes, size_t size, NpyArray &out,
                    size_t &dataOffset, size_t &dataSize, std::string &error) {
  static const char magic[] = "\x93NUMPY";
  if (size < 10 || std::memcmp(bytes, magic, 6) != 0) {
    error = "not a .npy file (bad magic)";
    return false;
  }
  uint8_t major = bytes[6];
  size_t headerLen, offset;
  if (major == 1) {
    headerLen = size_t(bytes[8]) | size_t(bytes[9]) << 8;
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) {
      error = "truncated .npy header";
      return false;
    }
    headerLen = size_t(bytes[8]) | size_t(bytes[9]) << 8 |
                size_t(bytes[10]) << 16 | size_t(bytes[11]) << 24;
    offset = 12;
  } else {
    error = "unsupported .npy version " + std::to_string(major);
    return false;
  }
  if (headerLen > size - offset) {
    error = "truncated .npy header";
    return false;
  }
  std::string header(reinterpret_cast<const char *>(bytes + offset), headerLen);
  std::string descr, order, shape;
  if (!findValue(header, "descr", descr) ||
      !findValue(header, "fortran_order", order) ||
      !findValue(header, "shape", shape)) {
    error = "malformed .npy header: " + header;
    return false;
  }
  if (order != "False") {
    error = "Fortran-ordered arrays are not supported";
    return false;
  }
  if (descr.size() < 3 || (descr.front() != '\'' && descr.front() != '"')) {
    error = "malformed dtype " + descr;
    return false;
  }
  descr = descr.substr(1, descr.size() - 2);
  if (descr == "<i1")
    descr = "|i1";
  if (descr == "<u1")
    descr = "|u1";
  if (descr == "<b1")
    descr = "|b1";
  const DTypeInfo *info = nullptr;
  for (const DTypeInfo &t : kTypes)
    if (descr == t.descr)
      info = &t;
  if (!info) {
    error = "unsupported dtype '" + descr +
            "' (supported: little-endian f2/f4/f8, i1..i8, u1..u8, b1)";
    return false;
  }
  if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')') {
    error = "malformed shape " + shape;
    return false;
  }
  out.shape.clear();
  std::stringstream ss(shape.substr(1, shape.size() - 2));
  std::string item;
  size_t count = 1;
  while (std::getline(ss, item, ',')) {
    size_t b = item.find_first_not_of(' ');
    if (b == std::string::npos)
      continue;
    item = item.substr(b);
    char *end = nullptr;
    long long d = std::strtoll(item.c_str(), &end, 10);
    if (end == item.c_str() || d < 0) {
      error = "malformed shape " + shape;
      return false;
    }
    if (d != 0 && count > std::numeric_limits<size_t>::max() / size_t(d)) {
      error = "shape " + shape + " is too large";
      return false;
    }
    count *= size_t(d);
    out.shape.push_back(d);
  }
  dataOffset = offset + headerLen;
  if (count > (size - dataOffset) / info->size) {
    error = "truncated .npy data: shape " + shape + " of " + descr + " needs " +
            std::to_string(count * info->size) + " bytes, file has " +
            std::to_string(size - dataOffset);
    return false;
  }
  out.dtype = info->type;
  dataSize = count * info->size;
  return true;
}
} // namespace

bool parseNpy(const uint8_t *bytes, size_t size, NpyArray &out,
              std::string &error) {
  size_t offset, dataSize;
  if (!parseNpyHeader(bytes, size, out, offset, dataSize, error))
    return false;
  out.data.assign(bytes + offset, bytes + offset + dataSize);
  return true;
}

bool readFileBytes(const std::string &path, std::vector<uint8_t> &bytes,
                   std::string &error) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    error = "cannot open '" + path + "': " + std::strerror(errno);
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    error = "cannot read '" + path + "': it is a directory";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open '" + path + "'";
    return false;
  }
  if (!S_ISREG(st.st_mode)) { // A pipe or a device: its size is unknown.
    bytes.assign(std::istreambuf_iterator<char>(in),
                 std::istreambuf_iterator<char>());
    return true;
  }
  bytes.resize(size_t(st.st_size));
  in.read(reinterpret_cast<char *>(bytes.data()), std::streamsize(st.st_size));
  // A file that shrank under us reads short; one that grew is read as it was.
  bytes.resize(size_t(in.gcount()));
  if (in.bad()) {
    error = "cannot read '" + path + "'";
    return false;
  }
  return true;
}

bool readNpy(const std::string &path, NpyArray &out, std::string &error) {
  std::vector<uint8_t> bytes;
  if (!readFileBytes(path, bytes, error))
    return false;
  size_t offset, dataSize;
  if (!parseNpyHeader(bytes.data(), bytes.size(), out, offset, dataSize,
                      error)) {
    error = path + ": " + error;
    return false;
  }
  // The data becomes the array's in place: no second copy of a large file.
  bytes.erase(bytes.begin(), bytes.begin() + offset);
  bytes.resize(dataSize);
  out.data = std::move(bytes);
  return true;
}

bool serializeNpy(const NpyArray &array, std::vector<uint8_t> &out,
                  std::string &error) {
  if (size_t(array.numElements()) * npyElementSize(array.dtype) !=
      array.data.size()) {
    error = "array data does not match its shape";
    return false;
  }
  std::string shape = "(";
  for (size_t i = 0; i < array.shape.size(); ++i)
    shape +=
        std::to_string(array.shape[i]) +
        (array.shape.size() == 1 ? ","
                                 : (i + 1 < array.shape.size() ? ", " : ""));
  shape += ")";
  std::string header = std::string("{'descr': '") + npyDescr(array.dtype) +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad so that the data starts at a multiple of 64 bytes, ending in '\n'.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  if (header.size() > 65535) {
    error = "array rank too large for a .npy header";
    return false;
  }
  const uint8_t prefix[10] = {0x93,
                              'N',
                              'U',
                              'M',
                              'P',
                              'Y',
                              1,
                              0,
                              uint8_t(header.size() & 0xff),
                              uint8_t(header.size() >> 8)};
  out.clear();
  out.reserve(10 + header.size() + array.data.size());
  out.insert(out.end(), prefix, prefix + 10);
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), array.data.begin(), array.data.end());
  return true;
}

bool writeFileAtomically(const std::string &path, const void *data, size_t size,
                         std::string &error) {
  bool inPlace;
  std::string target = resolveOutputPath(path, inPlace);
  std::string tmp =
      inPlace ? target : target + ".tmp-" + std::to_string(::getpid());
  FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    error = "cannot write '" + tmp + "': " + std::strerror(errno);
    return false;
  }
  bool ok = std::fwrite(data, 1, size, f) == size;
  ok = (std::fclose(f) == 0) && ok;
  if (!inPlace) {
    ok = ok && std::rename(tmp.c_str(), target.c_str()) == 0;
    if (!ok)
      std::remove(tmp.c_str());
  }
  if (!ok)
    error = "failed to write '" + path + "'";
  return ok;
}

bool writeNpy(const std::string &path, const NpyArray &array,
              std::string &error) {
  std::vector<uint8_t> bytes;
  if (!serializeNpy(array, bytes, error))
    return false;
  return writeFileAtomically(path, bytes.data(), bytes.size(), error);
}

} // namespace quantx
