//===- GGUFFile.h - GGUF v3 container reader and writer ---------*- C++ -*-===//
//
// Reads and writes GGUF files, the container llama.cpp loads models from: a
// little-endian header, typed key/value metadata (every GGUF value type,
// arrays of any of them, nested arrays included), a tensor table, and the
// tensor data, each tensor aligned to `general.alignment` bytes.
//
// The reader maps the file (or takes a caller's buffer) and validates every
// count, string length, array length, dimension, type id, offset, size and
// alignment against the bytes that are actually there before using it; a
// malformed file raises GGUFError with a message that says what is wrong and
// where, never a crash and never an allocation larger than a small multiple
// of the file. The writer streams tensor data straight from the caller's
// buffers (or from a per-tensor producer callback) into a temporary file in
// the destination directory, fsyncs it and renames it into place, so a
// failed write leaves no partial output. docs/GGUF.md describes the format as
// implemented and every validation rule.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_QUANT_GGUFFILE_H
#define QUANTX_QUANT_GGUFFILE_H

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace quantx {

/// Every failure to read or write a GGUF file.
class GGUFError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// GGUF metadata value types, numbered as stored in the file.
enum class GGUFValueType : uint32_t {
  UInt8 = 0,
  Int8 = 1,
  UInt16 = 2,
  Int16 = 3,
  UInt32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  UInt64 = 10,
  Int64 = 11,
  Float64 = 12,
};

/// Short name of a value type as the dump prints it ("u8", "i32", "f32",
/// "bool", "str", "arr", ...); "?" for an invalid value.
const char *ggufValueTypeName(GGUFValueType type);

/// Size in bytes of a scalar value type; 0 for String and Array.
size_t ggufValueTypeSize(GGUFValueType type);

/// One metadata value: a scalar, a string or an array. Scalars keep their
/// exact bits (integers as two's complement in `bits`, floats as their IEEE
/// bit pattern), so reading and writing a value is lossless.
struct GGUFValue {
  GGUFValueType type = GGUFValueType::UInt8;
  /// Scalar payload (little-endian value zero-extended to 64 bits).
  uint64_t bits = 0;
  /// String payload (arbitrary bytes).
  std::string str;
  /// Element type of an array.
  GGUFValueType elementType = GGUFValueType::UInt8;
  /// Elements of an array of strings or of arrays.
  std::vector<GGUFValue> elements;
  /// Elements of an array of scalars, as their `bits` (8 bytes each, so a
  /// large numeric array costs at most 8 bytes per element in memory).
  std::vector<uint64_t> scalars;

  static GGUFValue u8(uint8_t v);
  static GGUFValue i8(int8_t v);
  static GGUFValue u16(uint16_t v);
  static GGUFValue i16(int16_t v);
  static GGUFValue u32(uint32_t v);
  static GGUFValue i32(int32_t v);
  static GGUFValue u64(uint64_t v);
  static GGUFValue i64(int64_t v);
  static GGUFValue f32(float v);
  static GGUFValue f64(double v);
  static GGUFValue boolean(bool v);
  static GGUFValue string(std::string v);
  /// An array of `elementType`. Throws GGUFError when an element has
  /// another type.
  static GGUFValue array(GGUFValueType elementType,
                         std::vector<GGUFValue> elements);

  /// Number of elements of an array.
  size_t arraySize() const;
  /// Element `i` of an array (a copy; scalars are rebuilt from `scalars`).
  GGUFValue element(size_t i) const;

  /// Value of an integer or bool scalar, sign-extended for signed types.
  int64_t asInt() const;
  /// Value of an unsigned integer or bool scalar.
  uint64_t asUInt() const;
  /// Value of a float scalar (f32 widened exactly).
  double asFloat() const;

  bool operator==(const GGUFValue &other) const;
  bool operator!=(const GGUFValue &other) const { return !(*this == other); }
};

/// One metadata entry.
struct GGUFKeyValue {
  std::string key;
  GGUFValue value;
};

/// Facts about a ggml tensor type id, for every type ggml defines (not only
/// the ones quantx has codecs for), so any GGUF file can be read and sized.
struct GGMLTypeTraits {
  uint32_t id;
  /// ggml's name, e.g. "q4_0", "iq2_xxs", "bf16".
  const char *name;
  int64_t blockSize;
  size_t blockBytes;
  /// False for F32, F16, BF16, F64 and the integer types.
  bool quantized;
};

/// Returns the traits of ggml type `id`, or nullopt for an unknown or
/// removed id.
std::optional<GGMLTypeTraits> ggmlTypeTraits(uint32_t id);

/// Looks a ggml type up by name (case-insensitive).
std::optional<GGMLTypeTraits> ggmlTypeFromName(const std::string &name);

/// The largest number of dimensions a tensor may have (ggml's limit).
constexpr unsigned kGGUFMaxDims = 4;
/// The longest tensor name ggml accepts, in bytes (GGML_MAX_NAME - 1).
constexpr size_t kGGUFMaxNameLength = 63;
/// Default alignment of tensor data.
constexpr uint64_t kGGUFDefaultAlignment = 32;
/// Deepest nesting of arrays inside arrays the reader accepts.
constexpr unsigned kGGUFMaxArrayDepth = 8;

/// Bytes a tensor of `dims` (innermost first) and type `typeId` occupies.
/// Throws GGUFError when the type is unknown, the innermost dimension is not
/// a multiple of the block size or the size overflows 64 bits.
uint64_t ggufTensorBytes(uint32_t typeId, const std::vector<uint64_t> &dims);

/// A tensor as described by the file's tensor table.
struct GGUFTensorInfo {
  std::string name;
  /// Dimensions, innermost (contiguous) first, as GGUF stores them.
  std::vector<uint64_t> dims;
  /// ggml type id.
  uint32_t type = 0;
  /// Offset of the data from the start of the data section.
  uint64_t offset = 0;
  /// Size of the data in bytes (computed from type and dims).
  uint64_t size = 0;

  uint64_t numElements() const;
};

/// A parsed, validated GGUF file. The tensor data stays in the mapped file
/// (or the caller's buffer) and is accessed by pointer.
class GGUFFile {
public:
  /// Maps and parses `path`. Throws GGUFError for a missing, unreadable or
  /// malformed file.
  static GGUFFile open(const std::string &path);

  /// Parses a GGUF image in memory. The buffer is not copied: it must
  /// outlive the returned object and every pointer taken from it, or be
  /// owned by `owner`, which keepAlive() then returns.
  static GGUFFile parse(const void *data, size_t size,
                        std::shared_ptr<const void> owner = nullptr);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  /// Offset of the data section from the start of the file.
  uint64_t dataOffset() const { return dataOffset_; }
  uint64_t fileSize() const { return size_; }

  const std::vector<GGUFKeyValue> &metadata() const { return metadata_; }
  const std::vector<GGUFTensorInfo> &tensors() const { return tensors_; }

  /// The value of `key`, or null.
  const GGUFValue *find(const std::string &key) const;

  /// Pointer to the data of tensor `index` (tensors()[index].size bytes).
  const uint8_t *tensorData(size_t index) const;

  /// Keeps the mapping (if any) alive: callers that hand tensor pointers to
  /// other owners copy this.
  std::shared_ptr<const void> keepAlive() const { return owner_; }

private:
  std::shared_ptr<const void> owner_;
  const uint8_t *data_ = nullptr;
  uint64_t size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = kGGUFDefaultAlignment;
  uint64_t dataOffset_ = 0;
  std::vector<GGUFKeyValue> metadata_;
  std::vector<GGUFTensorInfo> tensors_;
};

/// Writes a GGUF v3 file. Collect metadata and tensors, then call write().
/// Tensor data is not copied: pointers must stay valid until write()
/// returns; producers are called once each, during write(), with a buffer of
/// the tensor's size, on a worker thread one tensor ahead of the writing
/// (memory is bounded by twice the largest produced tensor).
class GGUFWriter {
public:
  /// Fills `out` (the tensor's size in bytes) with the tensor's data: every
  /// byte (the buffer is reused, not cleared, between tensors).
  using Producer = std::function<void(uint8_t *out)>;

  GGUFWriter() = default;

  /// Adds a metadata entry (kept in insertion order). Throws GGUFError for a
  /// duplicate key, an empty key, or `general.alignment` that is not a u32
  /// power of two.
  void addMetadata(std::string key, GGUFValue value);

  /// Sets `general.alignment` (adds or replaces the entry).
  void setAlignment(uint32_t alignment);

  /// When true (the default), write() adds `general.quantization_version`
  /// = 2 (u32) at the end of the metadata if a quantized tensor is present
  /// and the key is absent.
  void setAddQuantizationVersion(bool add) { addQuantVersion_ = add; }

  /// Adds a tensor whose `size` bytes are at `data`. `dims` are innermost
  /// first. Throws GGUFError for a duplicate or too long name, an unknown
  /// type, a bad shape, or a size that does not match type and dims.
  void addTensor(std::string name, uint32_t type, std::vector<uint64_t> dims,
                 const void *data, uint64_t size);
  /// Adds a tensor whose data a producer writes during write().
  void addTensor(std::string name, uint32_t type, std::vector<uint64_t> dims,
                 Producer producer);

  /// Alignment in effect (from `general.alignment` or the default).
  uint64_t alignment() const { return alignment_; }

  /// Size in bytes the file will have.
  uint64_t fileSize() const;

  /// Writes the file atomically: to a temporary file next to `path`,
  /// fsync, then rename over `path`. On any error the temporary file is
  /// removed and GGUFError is thrown; `path` is untouched. `path` "-" writes
  /// to standard output (not atomic).
  void write(const std::string &path) const;

  /// Writes the whole file to `out` with a caller-supplied sink (used for
  /// streams); `sink(data, size)` must write all bytes or throw.
  void writeTo(const std::function<void(const void *, size_t)> &sink) const;

private:
  struct Tensor {
    std::string name;
    uint32_t type;
    std::vector<uint64_t> dims;
    uint64_t size;
    const void *data = nullptr;
    Producer producer;
  };
  void checkNewTensor(const std::string &name, uint32_t type,
                      const std::vector<uint64_t> &dims);
  std::vector<uint8_t> buildHeader(uint64_t &dataStart) const;

  std::vector<GGUFKeyValue> metadata_;
  std::vector<Tensor> tensors_;
  uint64_t alignment_ = kGGUFDefaultAlignment;
  bool addQuantVersion_ = true;
};

/// Formats `file` as the stable, human-readable dump that
/// `quantx-translate --gguf-dump` prints (header, metadata, tensor table).
/// Arrays longer than `maxArrayElements` print their first elements and a
/// count of the rest (0: print every element).
std::string ggufDump(const GGUFFile &file, size_t maxArrayElements = 0);

/// Formats a per-tensor size and compression report: type, shape, bytes,
/// bits per weight and the ratio to float32, with totals.
std::string ggufReport(const GGUFFile &file);

} // namespace quantx

#endif // QUANTX_QUANT_GGUFFILE_H
