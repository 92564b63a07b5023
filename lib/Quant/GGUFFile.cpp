//===- GGUFFile.cpp - GGUF v3 container reader and writer
//------------------===//
//
// The reader parses from a byte span with a bounds-checked cursor: every
// length and count is checked against the bytes left before anything is
// allocated or read. The writer builds the header (metadata and tensor table,
// small) in memory and streams tensor data from the callers' buffers.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/GGUFFile.h"
#include "quantx/Runtime/OutputFile.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <future>
#include <limits>
#include <set>
#include <sstream>
#include <unordered_set>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace quantx {

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

namespace {

constexpr uint32_t kMagic = 0x46554747; // "GGUF" read as little-endian u32
constexpr uint32_t kVersion = 3;

const GGMLTypeTraits kGGMLTypes[] = {
    {0, "f32", 1, 4, false},        {1, "f16", 1, 2, false},
    {2, "q4_0", 32, 18, true},      {3, "q4_1", 32, 20, true},
    {6, "q5_0", 32, 22, true},      {7, "q5_1", 32, 24, true},
    {8, "q8_0", 32, 34, true},      {9, "q8_1", 32, 36, true},
    {10, "q2_K", 256, 84, true},    {11, "q3_K", 256, 110, true},
    {12, "q4_K", 256, 144, true},   {13, "q5_K", 256, 176, true},
    {14, "q6_K", 256, 210, true},   {15, "q8_K", 256, 292, true},
    {16, "iq2_xxs", 256, 66, true}, {17, "iq2_xs", 256, 74, true},
    {18, "iq3_xxs", 256, 98, true}, {19, "iq1_s", 256, 50, true},
    {20, "iq4_nl", 32, 18, true},   {21, "iq3_s", 256, 110, true},
    {22, "iq2_s", 256, 82, true},   {23, "iq4_xs", 256, 136, true},
    {24, "i8", 1, 1, false},        {25, "i16", 1, 2, false},
    {26, "i32", 1, 4, false},       {27, "i64", 1, 8, false},
    {28, "f64", 1, 8, false},       {29, "iq1_m", 256, 56, true},
    {30, "bf16", 1, 2, false},      {34, "tq1_0", 256, 54, true},
    {35, "tq2_0", 256, 66, true},   {39, "mxfp4", 32, 17, true},
    {40, "nvfp4", 64, 36, true},    {41, "q1_0", 128, 18, true},
};

std::string lower(std::string s) {
  for (char &c : s)
    c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool isPowerOfTwo(uint64_t v) { return v && !(v & (v - 1)); }

/// a * b, or nullopt on overflow.
std::optional<uint64_t> mulChecked(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    return std::nullopt;
  return r;
}

std::optional<uint64_t> addChecked(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r))
    return std::nullopt;
  return r;
}

uint64_t padTo(uint64_t v, uint64_t alignment) {
  return (v + alignment - 1) / alignment * alignment;
}

bool validValueType(uint32_t t) { return t <= 12; }

} // namespace

const char *ggufValueTypeName(GGUFValueType type) {
  switch (type) {
  case GGUFValueType::UInt8:
    return "u8";
  case GGUFValueType::Int8:
    return "i8";
  case GGUFValueType::UInt16:
    return "u16";
  case GGUFValueType::Int16:
    return "i16";
  case GGUFValueType::UInt32:
    return "u32";
  case GGUFValueType::Int32:
    return "i32";
  case GGUFValueType::Float32:
    return "f32";
  case GGUFValueType::Bool:
    return "bool";
  case GGUFValueType::String:
    return "str";
  case GGUFValueType::Array:
    return "arr";
  case GGUFValueType::UInt64:
    return "u64";
  case GGUFValueType::Int64:
    return "i64";
  case GGUFValueType::Float64:
    return "f64";
  }
  return "?";
}

size_t ggufValueTypeSize(GGUFValueType type) {
  switch (type) {
  case GGUFValueType::UInt8:
  case GGUFValueType::Int8:
  case GGUFValueType::Bool:
    return 1;
  case GGUFValueType::UInt16:
  case GGUFValueType::Int16:
    return 2;
  case GGUFValueType::UInt32:
  case GGUFValueType::Int32:
  case GGUFValueType::Float32:
    return 4;
  case GGUFValueType::UInt64:
  case GGUFValueType::Int64:
  case GGUFValueType::Float64:
    return 8;
  case GGUFValueType::String:
  case GGUFValueType::Array:
    return 0;
  }
  return 0;
}

std::optional<GGMLTypeTraits> ggmlTypeTraits(uint32_t id) {
  for (const GGMLTypeTraits &t : kGGMLTypes)
    if (t.id == id)
      return t;
  return std::nullopt;
}

std::optional<GGMLTypeTraits> ggmlTypeFromName(const std::string &name) {
  std::string want = lower(name);
  for (const GGMLTypeTraits &t : kGGMLTypes)
    if (lower(t.name) == want)
      return t;
  return std::nullopt;
}

static std::string typeIdName(uint32_t id) {
  if (auto t = ggmlTypeTraits(id))
    return t->name;
  return "type " + std::to_string(id);
}

uint64_t ggufTensorBytes(uint32_t typeId, const std::vector<uint64_t> &dims) {
  std::optional<GGMLTypeTraits> t = ggmlTypeTraits(typeId);
  if (!t)
    throw GGUFError("unknown ggml tensor type id " + std::to_string(typeId));
  if (dims.empty() || dims.size() > kGGUFMaxDims)
    throw GGUFError("a tensor has 1 to " + std::to_string(kGGUFMaxDims) +
                    " dimensions, got " + std::to_string(dims.size()));
  for (uint64_t d : dims)
    if (d > uint64_t(std::numeric_limits<int64_t>::max()))
      throw GGUFError("dimension " + std::to_string(d) +
                      " does not fit in int64");
  if (dims[0] % uint64_t(t->blockSize) != 0)
    throw GGUFError("innermost dimension " + std::to_string(dims[0]) +
                    " of a " + t->name +
                    " tensor is not a multiple of the block size " +
                    std::to_string(t->blockSize));
  std::optional<uint64_t> bytes =
      mulChecked(dims[0] / t->blockSize, t->blockBytes);
  std::optional<uint64_t> elems = dims[0];
  for (size_t i = 1; i < dims.size() && bytes && elems; ++i) {
    bytes = mulChecked(*bytes, dims[i]);
    elems = mulChecked(*elems, dims[i]);
  }
  if (!bytes || !elems ||
      *elems > uint64_t(std::numeric_limits<int64_t>::max()))
    throw GGUFError("tensor size overflows 64 bits");
  return *bytes;
}

uint64_t GGUFTensorInfo::numElements() const {
  uint64_t n = 1;
  for (uint64_t d : dims)
    n *= d;
  return n;
}

//===----------------------------------------------------------------------===//
// GGUFValue
//===----------------------------------------------------------------------===//

static GGUFValue scalar(GGUFValueType type, uint64_t bits) {
  GGUFValue v;
  v.type = type;
  v.bits = bits;
  return v;
}

GGUFValue GGUFValue::u8(uint8_t v) { return scalar(GGUFValueType::UInt8, v); }
GGUFValue GGUFValue::i8(int8_t v) {
  return scalar(GGUFValueType::Int8, uint8_t(v));
}
GGUFValue GGUFValue::u16(uint16_t v) {
  return scalar(GGUFValueType::UInt16, v);
}
GGUFValue GGUFValue::i16(int16_t v) {
  return scalar(GGUFValueType::Int16, uint16_t(v));
}
GGUFValue GGUFValue::u32(uint32_t v) {
  return scalar(GGUFValueType::UInt32, v);
}
GGUFValue GGUFValue::i32(int32_t v) {
  return scalar(GGUFValueType::Int32, uint32_t(v));
}
GGUFValue GGUFValue::u64(uint64_t v) {
  return scalar(GGUFValueType::UInt64, v);
}
GGUFValue GGUFValue::i64(int64_t v) {
  return scalar(GGUFValueType::Int64, uint64_t(v));
}
GGUFValue GGUFValue::f32(float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  return scalar(GGUFValueType::Float32, b);
}
GGUFValue GGUFValue::f64(double v) {
  uint64_t b;
  std::memcpy(&b, &v, 8);
  return scalar(GGUFValueType::Float64, b);
}
GGUFValue GGUFValue::boolean(bool v) {
  return scalar(GGUFValueType::Bool, v ? 1 : 0);
}
GGUFValue GGUFValue::string(std::string s) {
  GGUFValue v;
  v.type = GGUFValueType::String;
  v.str = std::move(s);
  return v;
}
static bool isScalarType(GGUFValueType t) {
  return t != GGUFValueType::String && t != GGUFValueType::Array;
}

GGUFValue GGUFValue::array(GGUFValueType elementType,
                           std::vector<GGUFValue> elements) {
  GGUFValue v;
  v.type = GGUFValueType::Array;
  v.elementType = elementType;
  for (const GGUFValue &e : elements)
    if (e.type != elementType)
      throw GGUFError(std::string("array of ") +
                      ggufValueTypeName(elementType) +
                      " given an element of type " + ggufValueTypeName(e.type));
  if (isScalarType(elementType)) {
    v.scalars.reserve(elements.size());
    for (const GGUFValue &e : elements)
      v.scalars.push_back(e.bits);
  } else {
    v.elements = std::move(elements);
  }
  return v;
}

size_t GGUFValue::arraySize() const {
  if (type != GGUFValueType::Array)
    throw GGUFError(std::string("value of type ") + ggufValueTypeName(type) +
                    " is not an array");
  return isScalarType(elementType) ? scalars.size() : elements.size();
}

GGUFValue GGUFValue::element(size_t i) const {
  if (i >= arraySize())
    throw GGUFError("array index " + std::to_string(i) + " out of range");
  if (isScalarType(elementType))
    return scalar(elementType, scalars[i]);
  return elements[i];
}

int64_t GGUFValue::asInt() const {
  switch (type) {
  case GGUFValueType::Int8:
    return int8_t(bits);
  case GGUFValueType::Int16:
    return int16_t(bits);
  case GGUFValueType::Int32:
    return int32_t(bits);
  case GGUFValueType::Int64:
    return int64_t(bits);
  case GGUFValueType::UInt8:
  case GGUFValueType::UInt16:
  case GGUFValueType::UInt32:
  case GGUFValueType::UInt64:
  case GGUFValueType::Bool:
    return int64_t(bits);
  default:
    throw GGUFError(std::string("value of type ") + ggufValueTypeName(type) +
                    " is not an integer");
  }
}

uint64_t GGUFValue::asUInt() const {
  switch (type) {
  case GGUFValueType::UInt8:
  case GGUFValueType::UInt16:
  case GGUFValueType::UInt32:
  case GGUFValueType::UInt64:
  case GGUFValueType::Bool:
    return bits;
  default:
    throw GGUFError(std::string("value of type ") + ggufValueTypeName(type) +
                    " is not an unsigned integer");
  }
}

double GGUFValue::asFloat() const {
  if (type == GGUFValueType::Float32) {
    float f;
    uint32_t b = uint32_t(bits);
    std::memcpy(&f, &b, 4);
    return f;
  }
  if (type == GGUFValueType::Float64) {
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
  }
  throw GGUFError(std::string("value of type ") + ggufValueTypeName(type) +
                  " is not a float");
}

bool GGUFValue::operator==(const GGUFValue &o) const {
  if (type != o.type)
    return false;
  if (type == GGUFValueType::String)
    return str == o.str;
  if (type == GGUFValueType::Array)
    return elementType == o.elementType && elements == o.elements &&
           scalars == o.scalars;
  return bits == o.bits;
}

//===----------------------------------------------------------------------===//
// Reader
//===----------------------------------------------------------------------===//

namespace {

/// A bounds-checked little-endian reader over the file image.
class Cursor {
public:
  Cursor(const uint8_t *data, uint64_t size) : data_(data), size_(size) {}

  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  [[noreturn]] void fail(const std::string &msg) const {
    throw GGUFError("GGUF: " + msg + " (at offset " + std::to_string(pos_) +
                    ")");
  }

  void need(uint64_t n, const char *what) const {
    if (n > left())
      fail(std::string("truncated file: ") + what + " needs " +
           std::to_string(n) + " bytes, " + std::to_string(left()) + " left");
  }

  uint64_t readUInt(unsigned bytes, const char *what) {
    need(bytes, what);
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; ++i)
      v |= uint64_t(data_[pos_ + i]) << (8 * i);
    pos_ += bytes;
    return v;
  }
  uint32_t u32(const char *what) { return uint32_t(readUInt(4, what)); }
  uint64_t u64(const char *what) { return readUInt(8, what); }

  std::string string(const char *what) {
    uint64_t len = u64(what);
    if (len > left())
      fail(std::string("truncated or corrupt file: ") + what + " has length " +
           std::to_string(len) + ", but only " + std::to_string(left()) +
           " bytes are left");
    std::string s(reinterpret_cast<const char *>(data_ + pos_), len);
    pos_ += len;
    return s;
  }

private:
  const uint8_t *data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

/// The fewest bytes an encoded value of `type` can take (used to bound
/// counts before allocating).
uint64_t minEncodedSize(GGUFValueType type) {
  if (type == GGUFValueType::String)
    return 8;
  if (type == GGUFValueType::Array)
    return 12;
  return ggufValueTypeSize(type);
}

GGUFValue readValue(Cursor &c, GGUFValueType type, unsigned depth,
                    const std::string &key) {
  switch (type) {
  case GGUFValueType::String:
    return GGUFValue::string(c.string("string value"));
  case GGUFValueType::Array: {
    if (depth >= kGGUFMaxArrayDepth)
      c.fail("key '" + key + "': arrays nested deeper than " +
             std::to_string(kGGUFMaxArrayDepth));
    uint32_t et = c.u32("array element type");
    if (!validValueType(et))
      c.fail("key '" + key + "': invalid array element type " +
             std::to_string(et));
    auto elementType = GGUFValueType(et);
    uint64_t count = c.u64("array length");
    uint64_t minSize = minEncodedSize(elementType);
    if (count > c.left() / minSize)
      c.fail("truncated or corrupt file: key '" + key + "': array of " +
             std::to_string(count) + " " + ggufValueTypeName(elementType) +
             " elements needs at least " + std::to_string(count) + " x " +
             std::to_string(minSize) + " bytes, only " +
             std::to_string(c.left()) + " are left");
    GGUFValue v;
    v.type = GGUFValueType::Array;
    v.elementType = elementType;
    if (elementType == GGUFValueType::String ||
        elementType == GGUFValueType::Array) {
      v.elements.reserve(count);
      for (uint64_t i = 0; i < count; ++i)
        v.elements.push_back(readValue(c, elementType, depth + 1, key));
      return v;
    }
    v.scalars.resize(count);
    unsigned size = unsigned(minSize);
    for (uint64_t i = 0; i < count; ++i) {
      v.scalars[i] = c.readUInt(size, "array element");
      if (elementType == GGUFValueType::Bool && v.scalars[i] > 1)
        c.fail("key '" + key + "': bool value " + std::to_string(v.scalars[i]) +
               " is neither 0 nor 1");
    }
    return v;
  }
  case GGUFValueType::Bool: {
    uint64_t b = c.readUInt(1, "bool value");
    if (b > 1)
      c.fail("key '" + key + "': bool value " + std::to_string(b) +
             " is neither 0 nor 1");
    return GGUFValue::boolean(b);
  }
  default: {
    GGUFValue v;
    v.type = type;
    v.bits = c.readUInt(unsigned(ggufValueTypeSize(type)), "scalar value");
    return v;
  }
  }
}

struct Mapping {
  void *addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr && size)
      ::munmap(addr, size);
  }
};

} // namespace

GGUFFile GGUFFile::open(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw GGUFError("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw GGUFError("cannot stat '" + path + "': " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw GGUFError("'" + path + "' is not a regular file");
  }
  auto mapping = std::make_shared<Mapping>();
  size_t size = size_t(st.st_size);
  if (size > 0) {
    void *addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      throw GGUFError("cannot map '" + path + "': " + std::strerror(e));
    }
    mapping->addr = addr;
    mapping->size = size;
  }
  ::close(fd);
  try {
    GGUFFile file = parse(mapping->addr, size);
    file.owner_ = mapping;
    return file;
  } catch (const GGUFError &e) {
    throw GGUFError("'" + path + "': " + e.what());
  }
}

GGUFFile GGUFFile::parse(const void *data, size_t size,
                         std::shared_ptr<const void> owner) {
  GGUFFile f;
  f.owner_ = std::move(owner);
  f.data_ = static_cast<const uint8_t *>(data);
  f.size_ = size;
  Cursor c(f.data_, size);

  if (size < 4)
    c.fail("truncated file: " + std::to_string(size) +
           " bytes is too short for the GGUF magic");
  uint32_t magic = c.u32("magic");
  if (magic != kMagic)
    c.fail("not a GGUF file (bad magic)");
  uint32_t version = c.u32("version");
  if (version == 0x03000000 || version == 0x02000000)
    c.fail("big-endian GGUF files are not supported");
  if (version != 2 && version != 3)
    c.fail("unsupported GGUF version " + std::to_string(version) +
           " (2 and 3 are supported)");
  f.version_ = version;
  uint64_t nTensors = c.u64("tensor count");
  uint64_t nKV = c.u64("metadata count");
  // A key/value pair takes at least 8 (key length) + 4 (type) + 1 bytes.
  if (nKV > c.left() / 13)
    c.fail("truncated or corrupt file: metadata count " + std::to_string(nKV) +
           " is larger than the file can hold");
  // A tensor info takes at least 8 + 4 + 8 + 4 + 8 bytes.
  if (nTensors > c.left() / 32)
    c.fail("truncated or corrupt file: tensor count " +
           std::to_string(nTensors) + " is larger than the file can hold");

  std::unordered_set<std::string> keys;
  f.metadata_.reserve(nKV);
  for (uint64_t i = 0; i < nKV; ++i) {
    std::string key = c.string("metadata key");
    if (key.empty())
      c.fail("metadata entry " + std::to_string(i) + " has an empty key");
    if (!keys.insert(key).second)
      c.fail("duplicate metadata key '" + key + "'");
    uint32_t t = c.u32("metadata value type");
    if (!validValueType(t))
      c.fail("key '" + key + "' has invalid value type " + std::to_string(t));
    GGUFValue v = readValue(c, GGUFValueType(t), 0, key);
    f.metadata_.push_back({std::move(key), std::move(v)});
  }

  if (const GGUFValue *a = f.find("general.alignment")) {
    if (a->type != GGUFValueType::UInt32)
      c.fail(std::string("general.alignment must be a u32, got ") +
             ggufValueTypeName(a->type));
    if (!isPowerOfTwo(a->bits))
      c.fail("general.alignment " + std::to_string(a->bits) +
             " is not a power of two");
    f.alignment_ = a->bits;
  }

  std::unordered_set<std::string> names;
  f.tensors_.reserve(nTensors);
  for (uint64_t i = 0; i < nTensors; ++i) {
    GGUFTensorInfo t;
    t.name = c.string("tensor name");
    if (t.name.empty())
      c.fail("tensor " + std::to_string(i) + " has an empty name");
    if (t.name.size() > kGGUFMaxNameLength)
      c.fail("tensor name '" + t.name.substr(0, 80) + "...' is longer than " +
             std::to_string(kGGUFMaxNameLength) + " bytes");
    if (!names.insert(t.name).second)
      c.fail("duplicate tensor name '" + t.name + "'");
    uint32_t nDims = c.u32("tensor dimension count");
    if (nDims == 0 || nDims > kGGUFMaxDims)
      c.fail("tensor '" + t.name + "' has " + std::to_string(nDims) +
             " dimensions (1 to " + std::to_string(kGGUFMaxDims) + " allowed)");
    for (uint32_t d = 0; d < nDims; ++d)
      t.dims.push_back(c.u64("tensor dimension"));
    t.type = c.u32("tensor type");
    if (!ggmlTypeTraits(t.type))
      c.fail("tensor '" + t.name + "' has unknown type id " +
             std::to_string(t.type));
    t.offset = c.u64("tensor offset");
    try {
      t.size = ggufTensorBytes(t.type, t.dims);
    } catch (const GGUFError &e) {
      c.fail("tensor '" + t.name + "': " + e.what());
    }
    if (t.offset % f.alignment_ != 0)
      c.fail("tensor '" + t.name + "' has offset " + std::to_string(t.offset) +
             ", not a multiple of the alignment " +
             std::to_string(f.alignment_));
    f.tensors_.push_back(std::move(t));
  }

  f.dataOffset_ = padTo(c.pos(), f.alignment_);
  if (nTensors > 0 && f.dataOffset_ > size)
    c.fail("truncated file: the data section starts at " +
           std::to_string(f.dataOffset_) + ", past the end of the file (" +
           std::to_string(size) + " bytes)");
  uint64_t dataSize = f.dataOffset_ <= size ? size - f.dataOffset_ : 0;

  // Every tensor must lie inside the data section, and no two may overlap.
  std::vector<size_t> order(f.tensors_.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  for (const GGUFTensorInfo &t : f.tensors_) {
    std::optional<uint64_t> end = addChecked(t.offset, t.size);
    if (!end || *end > dataSize)
      throw GGUFError("GGUF: truncated file: tensor '" + t.name +
                      "' needs bytes " + std::to_string(t.offset) + ".." +
                      (end ? std::to_string(*end) : std::string("overflow")) +
                      " of the data section, which has " +
                      std::to_string(dataSize) + " bytes");
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return f.tensors_[a].offset < f.tensors_[b].offset;
  });
  for (size_t i = 1; i < order.size(); ++i) {
    const GGUFTensorInfo &a = f.tensors_[order[i - 1]];
    const GGUFTensorInfo &b = f.tensors_[order[i]];
    if (a.offset + a.size > b.offset)
      throw GGUFError("GGUF: tensors '" + a.name + "' and '" + b.name +
                      "' overlap in the data section");
  }
  return f;
}

const GGUFValue *GGUFFile::find(const std::string &key) const {
  for (const GGUFKeyValue &kv : metadata_)
    if (kv.key == key)
      return &kv.value;
  return nullptr;
}

const uint8_t *GGUFFile::tensorData(size_t index) const {
  if (index >= tensors_.size())
    throw GGUFError("tensor index " + std::to_string(index) + " out of range");
  return data_ + dataOffset_ + tensors_[index].offset;
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

namespace {

class ByteBuffer {
public:
  std::vector<uint8_t> bytes;
  void uint(uint64_t v, unsigned n) {
    for (unsigned i = 0; i < n; ++i)
      bytes.push_back(uint8_t(v >> (8 * i)));
  }
  void u32(uint32_t v) { uint(v, 4); }
  void u64(uint64_t v) { uint(v, 8); }
  void string(const std::string &s) {
    u64(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
  }
};

void checkValue(const GGUFValue &v, const std::string &key, unsigned depth) {
  if (!validValueType(uint32_t(v.type)))
    throw GGUFError("key '" + key + "': invalid value type " +
                    std::to_string(uint32_t(v.type)));
  if (v.type == GGUFValueType::Array) {
    if (depth >= kGGUFMaxArrayDepth)
      throw GGUFError("key '" + key + "': arrays nested deeper than " +
                      std::to_string(kGGUFMaxArrayDepth));
    if (!validValueType(uint32_t(v.elementType)))
      throw GGUFError("key '" + key + "': invalid array element type");
    if (isScalarType(v.elementType) && !v.elements.empty())
      throw GGUFError("key '" + key +
                      "': an array of scalars keeps them in `scalars`");
    if (!isScalarType(v.elementType) && !v.scalars.empty())
      throw GGUFError("key '" + key +
                      "': an array of strings or arrays keeps them in "
                      "`elements`");
    if (v.elementType == GGUFValueType::Bool)
      for (uint64_t b : v.scalars)
        if (b > 1)
          throw GGUFError("key '" + key + "': bool value is neither 0 nor 1");
    for (const GGUFValue &e : v.elements) {
      if (e.type != v.elementType)
        throw GGUFError(
            "key '" + key + "': array of " + ggufValueTypeName(v.elementType) +
            " holds an element of type " + ggufValueTypeName(e.type));
      checkValue(e, key, depth + 1);
    }
  } else if (v.type == GGUFValueType::Bool && v.bits > 1) {
    throw GGUFError("key '" + key + "': bool value is neither 0 nor 1");
  }
}

void writeValue(ByteBuffer &b, const GGUFValue &v) {
  switch (v.type) {
  case GGUFValueType::String:
    b.string(v.str);
    return;
  case GGUFValueType::Array:
    b.u32(uint32_t(v.elementType));
    b.u64(v.arraySize());
    for (const GGUFValue &e : v.elements)
      writeValue(b, e);
    for (uint64_t bits : v.scalars)
      b.uint(bits, unsigned(ggufValueTypeSize(v.elementType)));
    return;
  default:
    b.uint(v.bits, unsigned(ggufValueTypeSize(v.type)));
  }
}

void writeAll(int fd, const void *data, size_t size) {
  const char *p = static_cast<const char *>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, std::min<size_t>(size, size_t(1) << 30));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      throw GGUFError(std::string("write failed: ") + std::strerror(errno));
    }
    p += n;
    size -= size_t(n);
  }
}

} // namespace

void GGUFWriter::addMetadata(std::string key, GGUFValue value) {
  if (key.empty())
    throw GGUFError("metadata key must not be empty");
  for (const GGUFKeyValue &kv : metadata_)
    if (kv.key == key)
      throw GGUFError("duplicate metadata key '" + key + "'");
  checkValue(value, key, 0);
  if (key == "general.alignment") {
    if (value.type != GGUFValueType::UInt32)
      throw GGUFError(std::string("general.alignment must be a u32, got ") +
                      ggufValueTypeName(value.type));
    if (!isPowerOfTwo(value.bits))
      throw GGUFError("general.alignment " + std::to_string(value.bits) +
                      " is not a power of two");
    alignment_ = value.bits;
  }
  metadata_.push_back({std::move(key), std::move(value)});
}

void GGUFWriter::setAlignment(uint32_t alignment) {
  if (!isPowerOfTwo(alignment))
    throw GGUFError("general.alignment " + std::to_string(alignment) +
                    " is not a power of two");
  for (GGUFKeyValue &kv : metadata_)
    if (kv.key == "general.alignment") {
      kv.value = GGUFValue::u32(alignment);
      alignment_ = alignment;
      return;
    }
  addMetadata("general.alignment", GGUFValue::u32(alignment));
}

void GGUFWriter::checkNewTensor(const std::string &name, uint32_t type,
                                const std::vector<uint64_t> &dims) {
  if (name.empty())
    throw GGUFError("tensor name must not be empty");
  if (name.size() > kGGUFMaxNameLength)
    throw GGUFError("tensor name '" + name + "' is longer than " +
                    std::to_string(kGGUFMaxNameLength) + " bytes");
  for (const Tensor &t : tensors_)
    if (t.name == name)
      throw GGUFError("duplicate tensor name '" + name + "'");
  try {
    (void)ggufTensorBytes(type, dims);
  } catch (const GGUFError &e) {
    throw GGUFError("tensor '" + name + "': " + e.what());
  }
}

void GGUFWriter::addTensor(std::string name, uint32_t type,
                           std::vector<uint64_t> dims, const void *data,
                           uint64_t size) {
  checkNewTensor(name, type, dims);
  uint64_t expected = ggufTensorBytes(type, dims);
  if (size != expected)
    throw GGUFError("tensor '" + name + "': " + std::to_string(size) +
                    " bytes given, a " + typeIdName(type) +
                    " tensor of this shape has " + std::to_string(expected));
  if (!data && size)
    throw GGUFError("tensor '" + name + "': null data");
  tensors_.push_back({std::move(name), type, std::move(dims), size, data, {}});
}

void GGUFWriter::addTensor(std::string name, uint32_t type,
                           std::vector<uint64_t> dims, Producer producer) {
  checkNewTensor(name, type, dims);
  if (!producer)
    throw GGUFError("tensor '" + name + "': empty producer");
  uint64_t size = ggufTensorBytes(type, dims);
  tensors_.push_back({std::move(name), type, std::move(dims), size, nullptr,
                      std::move(producer)});
}

std::vector<uint8_t> GGUFWriter::buildHeader(uint64_t &dataStart) const {
  std::vector<const GGUFKeyValue *> kvs;
  for (const GGUFKeyValue &kv : metadata_)
    kvs.push_back(&kv);
  GGUFKeyValue quantVersion{"general.quantization_version", GGUFValue::u32(2)};
  bool quantized = false;
  for (const Tensor &t : tensors_)
    quantized |= ggmlTypeTraits(t.type)->quantized;
  bool hasKey = false;
  for (const GGUFKeyValue &kv : metadata_)
    hasKey |= kv.key == quantVersion.key;
  if (addQuantVersion_ && quantized && !hasKey)
    kvs.push_back(&quantVersion);

  ByteBuffer b;
  b.u32(kMagic);
  b.u32(kVersion);
  b.u64(tensors_.size());
  b.u64(kvs.size());
  for (const GGUFKeyValue *kv : kvs) {
    b.string(kv->key);
    b.u32(uint32_t(kv->value.type));
    writeValue(b, kv->value);
  }
  uint64_t offset = 0;
  for (const Tensor &t : tensors_) {
    b.string(t.name);
    b.u32(uint32_t(t.dims.size()));
    for (uint64_t d : t.dims)
      b.u64(d);
    b.u32(t.type);
    b.u64(offset);
    offset = padTo(offset + t.size, alignment_);
  }
  dataStart = padTo(b.bytes.size(), alignment_);
  b.bytes.resize(dataStart, 0);
  return std::move(b.bytes);
}

uint64_t GGUFWriter::fileSize() const {
  uint64_t start;
  buildHeader(start);
  for (const Tensor &t : tensors_)
    start += padTo(t.size, alignment_);
  return start;
}

void GGUFWriter::writeTo(
    const std::function<void(const void *, size_t)> &sink) const {
  uint64_t dataStart;
  std::vector<uint8_t> header = buildHeader(dataStart);
  sink(header.data(), header.size());
  static const uint8_t zeros[256] = {};
  // Producers run one tensor ahead on another thread while the previous
  // produced tensor is written (two buffers).
  std::vector<size_t> produced;
  for (size_t i = 0; i < tensors_.size(); ++i)
    if (tensors_[i].producer)
      produced.push_back(i);
  std::vector<uint8_t> bufs[2];
  std::future<void> pending;
  auto launch = [&](size_t k) {
    if (k >= produced.size())
      return;
    const Tensor &t = tensors_[produced[k]];
    std::vector<uint8_t> &buf = bufs[k % 2];
    pending = std::async(std::launch::async, [&t, &buf] {
      // No zero fill: a producer writes every byte (its contract).
      buf.resize(t.size);
      t.producer(buf.data());
    });
  };
  launch(0);
  size_t k = 0;
  for (const Tensor &t : tensors_) {
    if (t.producer) {
      pending.get(); // rethrows the producer's exception
      launch(k + 1);
      sink(bufs[k % 2].data(), t.size);
      ++k;
    } else if (t.size) {
      sink(t.data, t.size);
    }
    uint64_t pad = padTo(t.size, alignment_) - t.size;
    while (pad > 0) {
      size_t n = std::min<uint64_t>(pad, sizeof(zeros));
      sink(zeros, n);
      pad -= n;
    }
  }
}

void GGUFWriter::write(const std::string &path) const {
  if (path == "-") {
    writeTo([](const void *d, size_t n) { writeAll(STDOUT_FILENO, d, n); });
    return;
  }
  // Outputs that exist and are not regular files (/dev/null, a pipe) cannot
  // be replaced by a rename: write them directly. A symbolic link's
  // destination is the file it names, so that the link survives.
  bool inPlace;
  std::string target = resolveOutputPath(path, inPlace);
  if (inPlace) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
      throw GGUFError("cannot open '" + path + "': " + std::strerror(errno));
    try {
      writeTo([fd](const void *d, size_t n) { writeAll(fd, d, n); });
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
    return;
  }
  // The temporary file lives in the destination's directory so that the
  // final rename stays on one file system (and is atomic).
  std::string dir = ".", base = target;
  size_t slash = target.rfind('/');
  if (slash != std::string::npos) {
    dir = slash == 0 ? "/" : target.substr(0, slash);
    base = target.substr(slash + 1);
  }
  if (base.empty())
    throw GGUFError("output path '" + path + "' names a directory");
  std::string tmp = dir + "/." + base + ".tmp.XXXXXX";
  std::vector<char> tmpName(tmp.begin(), tmp.end());
  tmpName.push_back('\0');
  int fd = ::mkstemp(tmpName.data());
  if (fd < 0)
    throw GGUFError("cannot create a temporary file in '" + dir +
                    "': " + std::strerror(errno));
  tmp = tmpName.data();
  try {
    mode_t mask = ::umask(0);
    ::umask(mask);
    if (::fchmod(fd, 0666 & ~mask) != 0)
      throw GGUFError(std::string("chmod failed: ") + std::strerror(errno));
    // Start the write-back of each large piece as soon as it is written,
    // so that the disk works while later tensors are produced and the
    // final fsync has little left to wait for.
    uint64_t written = 0;
    writeTo([fd, &written](const void *d, size_t n) {
      writeAll(fd, d, n);
#ifdef SYNC_FILE_RANGE_WRITE
      if (n >= (size_t(1) << 20))
        (void)::sync_file_range(fd, off64_t(written), off64_t(n),
                                SYNC_FILE_RANGE_WRITE); // a hint only
#endif
      written += n;
    });
    if (::fsync(fd) != 0)
      throw GGUFError(std::string("fsync failed: ") + std::strerror(errno));
    int rc = ::close(fd);
    fd = -1;
    if (rc != 0)
      throw GGUFError(std::string("close failed: ") + std::strerror(errno));
    if (::rename(tmp.c_str(), target.c_str()) != 0)
      throw GGUFError("cannot rename the temporary file to '" + path +
                      "': " + std::strerror(errno));
  } catch (const std::exception &e) {
    if (fd >= 0)
      ::close(fd);
    ::unlink(tmp.c_str());
    throw GGUFError("writing '" + path + "': " + e.what());
  } catch (...) {
    if (fd >= 0)
      ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  // Make the rename itself durable.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

//===----------------------------------------------------------------------===//
// Dump and report
//===----------------------------------------------------------------------===//

namespace {

std::string quote(const std::string &s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += char(ch);
    } else if (ch >= 0x20 && ch < 0x7f) {
      out += char(ch);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", ch);
      out += buf;
    }
  }
  return out + "\"";
}

void formatValue(std::ostringstream &os, const GGUFValue &v, size_t maxArray) {
  char buf[64];
  switch (v.type) {
  case GGUFValueType::String:
    os << quote(v.str);
    return;
  case GGUFValueType::Bool:
    os << (v.bits ? "true" : "false");
    return;
  case GGUFValueType::Float32:
    std::snprintf(buf, sizeof(buf), "%.9g", v.asFloat());
    os << buf;
    return;
  case GGUFValueType::Float64:
    std::snprintf(buf, sizeof(buf), "%.17g", v.asFloat());
    os << buf;
    return;
  case GGUFValueType::Int8:
  case GGUFValueType::Int16:
  case GGUFValueType::Int32:
  case GGUFValueType::Int64:
    os << v.asInt();
    return;
  case GGUFValueType::Array: {
    os << "[";
    size_t n = v.arraySize();
    size_t shown = maxArray && n > maxArray ? maxArray : n;
    for (size_t i = 0; i < shown; ++i) {
      if (i)
        os << ", ";
      formatValue(os, v.element(i), maxArray);
    }
    if (shown < n)
      os << ", ... (" << n - shown << " more)";
    os << "]";
    return;
  }
  default:
    os << v.bits;
  }
}

std::string typeString(const GGUFValue &v) {
  if (v.type != GGUFValueType::Array)
    return ggufValueTypeName(v.type);
  return std::string("arr[") + ggufValueTypeName(v.elementType) + "," +
         std::to_string(v.arraySize()) + "]";
}

std::string dimsString(const std::vector<uint64_t> &dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

} // namespace

std::string ggufDump(const GGUFFile &file, size_t maxArrayElements) {
  std::ostringstream os;
  os << "GGUF version " << file.version() << "\n";
  os << "alignment " << file.alignment() << "\n";
  os << "data offset " << file.dataOffset() << "\n";
  os << "file size " << file.fileSize() << "\n";
  os << "metadata " << file.metadata().size() << "\n";
  for (const GGUFKeyValue &kv : file.metadata()) {
    os << "  " << kv.key << ": " << typeString(kv.value) << " = ";
    formatValue(os, kv.value, maxArrayElements);
    os << "\n";
  }
  os << "tensors " << file.tensors().size() << "\n";
  for (size_t i = 0; i < file.tensors().size(); ++i) {
    const GGUFTensorInfo &t = file.tensors()[i];
    os << "  " << i << ": " << t.name << " " << typeIdName(t.type) << " "
       << dimsString(t.dims) << " offset " << t.offset << " size " << t.size
       << "\n";
  }
  return os.str();
}

std::string ggufReport(const GGUFFile &file) {
  std::ostringstream os;
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%-40s %-8s %-24s %12s %12s %8s %8s\n",
                "tensor", "type", "shape", "elements", "bytes", "bits/w",
                "vs f32");
  os << buf;
  uint64_t totalElems = 0, totalBytes = 0;
  for (const GGUFTensorInfo &t : file.tensors()) {
    uint64_t n = t.numElements();
    totalElems += n;
    totalBytes += t.size;
    double bpw = n ? 8.0 * double(t.size) / double(n) : 0.0;
    double ratio = t.size ? 4.0 * double(n) / double(t.size) : 0.0;
    std::snprintf(buf, sizeof(buf),
                  "%-40s %-8s %-24s %12" PRIu64 " %12" PRIu64 " %8.4f %7.3fx\n",
                  t.name.c_str(), typeIdName(t.type).c_str(),
                  dimsString(t.dims).c_str(), n, t.size, bpw, ratio);
    os << buf;
  }
  double bpw = totalElems ? 8.0 * double(totalBytes) / double(totalElems) : 0;
  double ratio = totalBytes ? 4.0 * double(totalElems) / double(totalBytes) : 0;
  std::snprintf(buf, sizeof(buf),
                "%-40s %-8s %-24s %12" PRIu64 " %12" PRIu64 " %8.4f %7.3fx\n",
                "total", "", "", totalElems, totalBytes, bpw, ratio);
  os << buf;
  std::snprintf(buf, sizeof(buf),
                "file size %" PRIu64 " bytes (tensor data %" PRIu64
                ", header and padding %" PRIu64 ")\n",
                file.fileSize(), totalBytes, file.fileSize() - totalBytes);
  os << buf;
  return os.str();
}

} // namespace quantx
