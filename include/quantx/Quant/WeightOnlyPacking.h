//===- WeightOnlyPacking.h - Packed layout of weight-only matmuls -*- C++
//-*-===//
//
// The SIMD-friendly layouts that `quantx-pack-weight-only` chooses for the
// grouped 4-bit and 8-bit weights of a weight-only matmul ("n8" for f32
// activations, "n8k8" for int8 activations), and the host-side packer that
// produces them. The compiler packs constant weights with this
// code at compile time; callers that pass weights as function arguments pack
// them with the same code (C++ or `quantx._core.pack_weight_only`).
//
// Layout "n8" (see docs/design/WeightOnlyGEMV.md). A weight matrix W[N, K]
// with groups of `group` consecutive elements along K is cut into
// T = ceil(N / 8) tiles of 8 output rows and G = ceil(K / group) groups of
// P = group elements (P = group + 1 for 4-bit weights with an odd group
// size); rows past N, columns past K and group padding hold u = 0. Every value
// is stored as the unsigned `u = q - storage_min` (storage_min = -2^(bits-1)
// for signed storage, 0 for unsigned), so that an unsigned widen of the bytes
// yields it.
//   - 4-bit weights: byte ((t*G + g)*P/2 + j)*8 + l holds element 2j of
//     group g of row t*8+l in its low nibble and element 2j+1 in its high
//     nibble: one 8-byte load, an unsigned widen and an and / a shift give
//     the 8 lanes (rows) of two consecutive k.
//   - 8-bit weights: byte ((t*G + g)*group + j)*8 + l holds
//     u[t*8+l][g*group + j].
//   - Scales: element (t*G + g)*8 + l holds s[t*8+l][g] in the scale type
//     (f32 or f16 bits), 0 for padding rows.
//   - Offset terms (only for types with an offset): f32 element
//     (t*G + g)*8 + l holds c = s*(storage_min - zero_point) (zero points),
//     s*storage_min + min (add_min) or s*storage_min - min (sub_min), so that
//     the real weight is s*u + c. Without an offset, c = s*storage_min and is
//     not stored.
//
// Layout "n8k8" (for the kernels that quantize the activations to int8 per
// group; a group size that is a multiple of 8). Tiles of 8 rows and groups
// as in "n8" (same sizes, same scales and offset terms), but the bytes of
// each 8 consecutive k of the 8 rows of a tile are together:
//   - 4-bit, 32 bytes: byte ((t*G + g)*(group/8) + j)*32 + 4*l + b holds
//     u[t*8+l][g*group + 8j + b] in its low nibble and
//     u[t*8+l][g*group + 8j + 4 + b] in its high nibble (b = 0..3). One
//     256-bit load, a mask and a shift give two vectors whose i32 lanes are
//     the 8 rows, each with 4 consecutive k: the unsigned operand of
//     vpmaddubsw or vpdpbusd against 4 int8 activations broadcast to every
//     lane.
//   - 8-bit, 64 bytes: byte ((t*G + g)*(group/8) + j)*64 + 32*h + 4*l + b
//     holds u[t*8+l][g*group + 8j + 4h + b]: the same two vectors, each one
//     load (for vpdpbusd only: vpmaddubsw's i16 pair sums would saturate).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_QUANT_WEIGHTONLYPACKING_H
#define QUANTX_QUANT_WEIGHTONLYPACKING_H

#include <cstdint>
#include <string>

namespace quantx {

/// How the real weight is recovered from the stored integer q.
enum class WeightOffsetKind { None, ZeroPoint, AddMin, SubMin };

/// The arrangement of the packed bytes (see the file comment).
enum class WeightLayoutKind {
  N8,   ///< Tiles of 8 rows, lanes along N (f32-activation kernels).
  N8K8, ///< Tiles of 8 rows, 8 k of the rows together (int8 activations).
};

/// A packed weight-only layout: the shape, the storage and the parameters.
struct WeightOnlyLayout {
  /// Rows per tile of "n8": one 256-bit vector of f32 lanes.
  static constexpr int64_t kTile = 8;

  WeightLayoutKind kind = WeightLayoutKind::N8;

  int bits = 4;          ///< 4 or 8.
  bool isSigned = true;  ///< Signed (two's complement) or unsigned storage.
  int64_t n = 0;         ///< Output features (rows of W[N, K]).
  int64_t k = 0;         ///< Reduction length.
  int64_t group = 32;    ///< Group size along K (the last group may be short).
  bool scaleF16 = false; ///< Scales stored as f16 bits (else f32).
  WeightOffsetKind offset = WeightOffsetKind::None;

  bool isN8K8() const { return kind == WeightLayoutKind::N8K8; }
  int64_t tiles() const { return (n + kTile - 1) / kTile; }
  int64_t groups() const { return (k + group - 1) / group; }
  /// Stored elements per group: 4-bit groups of odd size get one padding
  /// element so that every group starts on a byte.
  int64_t paddedGroup() const {
    return bits == 4 && group % 2 ? group + 1 : group;
  }
  /// K rounded up to whole (padded) groups.
  int64_t paddedK() const { return groups() * paddedGroup(); }
  /// Output features rounded up to whole tiles.
  int64_t paddedN() const { return tiles() * kTile; }
  /// Bytes of packed weights.
  int64_t weightBytes() const { return paddedN() * paddedK() * bits / 8; }
  /// Elements of the packed scales (and of the packed offset terms).
  int64_t paramCount() const { return tiles() * groups() * kTile; }
  /// Smallest value of the storage type (-2^(bits-1) or 0).
  int64_t storageMin() const {
    return isSigned ? -(int64_t(1) << (bits - 1)) : 0;
  }
  /// True when offset terms are stored.
  bool hasOffsetTerms() const { return offset != WeightOffsetKind::None; }

  /// Empty when the layout can be produced, else the reason it cannot.
  std::string check() const;
};

/// Packs `q` (storage integers, [N, K] row-major when `nMajor`, else
/// [K, N]) with `scales` ([N, G] when `nMajor`, else [G, N], as f32 values)
/// and, for layouts with an offset, `offsets` (zero points or mins, same
/// shape as the scales) into `weights` (layout.weightBytes() bytes),
/// `packedScales` (layout.paramCount() f32 or f16-bit elements) and
/// `offsetTerms` (layout.paramCount() floats; may be null without offset).
/// Returns an empty string on success, else a description of the problem
/// (an unsupported layout, a value outside the storage range, a scale not
/// representable in f16); nothing is guaranteed about the outputs then.
std::string packWeightOnly(const WeightOnlyLayout &layout, const int32_t *q,
                           const float *scales, const float *offsets,
                           bool nMajor, uint8_t *weights, void *packedScales,
                           float *offsetTerms);

} // namespace quantx

#endif // QUANTX_QUANT_WEIGHTONLYPACKING_H
