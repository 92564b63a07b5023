//===- GGUFCodecs.h - GGUF block quantization codecs ------------*- C++ -*-===//
//
// Quantize and dequantize rows of float32 values to and from the block
// formats that GGUF files store (ggml's tensor types): F16, BF16, the legacy
// 32-element blocks Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, and the 256-element
// super-blocks Q2_K, Q3_K, Q4_K, Q5_K, Q6_K. The bytes produced are identical
// to ggml's reference quantizers (`quantize_row_<type>_ref`, and with an
// importance matrix the `quantize_<type>` routines that llama-quantize
// --imatrix runs), and dequantization reproduces ggml's `dequantize_row_*`
// bit for bit. docs/GGUFCodecs.md specifies every block layout and formula.
//
// A "row" is the unit that an importance matrix (imatrix) applies to: the
// imatrix has one non-negative weight per element of the row. Without an
// imatrix every block is quantized on its own, so the row length only has to
// be a multiple of the block size.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_QUANT_GGUFCODECS_H
#define QUANTX_QUANT_GGUFCODECS_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace quantx {

/// The tensor types of ggml / GGUF that quantx implements, numbered exactly
/// as ggml's `enum ggml_type` (the numbers are stored in GGUF files).
enum class GGUFType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  BF16 = 30,
};

/// Static facts about one type.
struct GGUFTypeInfo {
  GGUFType type;
  /// ggml's name of the type, e.g. "q4_0", "q4_K", "bf16".
  const char *name;
  /// Elements per block (1 for F32/F16/BF16, 32 for legacy, 256 for K).
  int64_t blockSize;
  /// Bytes per block.
  size_t blockBytes;
  /// True when an importance matrix changes the result (legacy Q4_0, Q4_1,
  /// Q5_0, Q5_1 and all K-quants). Q8_0 and the float types ignore it, as
  /// ggml does.
  bool usesImatrix;
};

/// Elements in a K-quant super-block.
constexpr int64_t kGGUFSuperBlock = 256;

/// Every implemented type, in ggml id order.
extern const GGUFType kGGUFTypes[13];

/// Returns the facts about `type`. Throws std::invalid_argument for a value
/// that is not one of the enumerators.
const GGUFTypeInfo &ggufTypeInfo(GGUFType type);

/// Looks a type up by ggml's name (case-insensitive, e.g. "Q4_K", "q8_0").
std::optional<GGUFType> ggufTypeFromName(const std::string &name);

/// Converts a raw ggml type id to a GGUFType; throws std::invalid_argument
/// for ids quantx does not implement.
GGUFType ggufTypeFromId(uint32_t id);

/// Bytes that a row of `n` elements occupies. Throws std::invalid_argument
/// when `n` is negative or not a multiple of the type's block size.
size_t ggufRowSize(GGUFType type, int64_t n);

/// Quantizes one row of `n` floats into `out` (ggufRowSize(type, n) bytes).
/// `imatrix`, when not null, holds `n` importance weights for this row; for
/// the types that use one (GGUFTypeInfo::usesImatrix) it selects ggml's
/// importance-weighted quantizer. Throws std::invalid_argument when `n` is
/// negative or not a multiple of the block size, or a pointer is null while
/// `n > 0`. Non-finite inputs give the same bytes as ggml.
void quantizeRow(GGUFType type, const float *x, void *out, int64_t n,
                 const float *imatrix = nullptr);

/// Dequantizes one row of `n` elements from `in` into `y`. Same errors as
/// quantizeRow.
void dequantizeRow(GGUFType type, const void *in, float *y, int64_t n);

/// Quantizes `nRows` rows of `nPerRow` floats (row-major, contiguous) into
/// `out`, rows of ggufRowSize(type, nPerRow) bytes one after another. The
/// same `imatrix` of `nPerRow` weights applies to every row. Rows are split
/// over getNumThreads() threads; the bytes do not depend on the split.
void quantizeRows(GGUFType type, const float *x, void *out, int64_t nRows,
                  int64_t nPerRow, const float *imatrix = nullptr);

/// Dequantizes `nRows` rows of `nPerRow` elements, in parallel over rows.
void dequantizeRows(GGUFType type, const void *in, float *y, int64_t nRows,
                    int64_t nPerRow);

} // namespace quantx

#endif // QUANTX_QUANT_GGUFCODECS_H
