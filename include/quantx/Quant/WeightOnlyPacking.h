//===- WeightOnlyPacking.h - Packed layout of weight-only matmuls -*- C++
//-*-===//
//
// The SIMD-friendly layout that `quantx-pack-weight-only` chooses for the
// grouped 4-bit and 8-bit weights of a weight-only matmul, and the host-side
// packer that produces it. The compiler packs constant weights with this
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
// Layout "k32" (for kernels that quantize the activations to int8 blocks;
// 4-bit weights with a group size that is a multiple of 32). Rows are not
// tiled: row n is one contiguous stream of Gp*group/2 bytes, Gp = G rounded
// up to the layout's group unroll U (groupUnroll(), at most 8). Each chunk of
// 64 consecutive k of a row takes 32 bytes: byte (n*Gp*group/64 + c)*32 + j
// holds u[n][64c + j] in its low nibble and u[n][64c + 32 + j] in its high
// nibble, so one 256-bit load, a mask and a shift give two vectors of 32
// consecutive k (one vpmaddubsw operand each). Values past K and in padding
// groups are 0. Scales and offset terms are [N, Gp] row-major (element
// n*Gp + g), 0 in padding groups; their meaning is the one of "n8".
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
  N8,  ///< Tiles of 8 rows, lanes along N (f32-activation kernels).
  K32, ///< Rows of 64-k chunks, lanes along K (int8-activation kernels).
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

  bool isK32() const { return kind == WeightLayoutKind::K32; }
  int64_t tiles() const { return (n + kTile - 1) / kTile; }
  int64_t groups() const { return (k + group - 1) / group; }
  /// "k32": groups per step of the kernel's loop over K (1, 2, 4 or 8); the
  /// groups of a row are padded to a multiple of it. 1 for "n8".
  int64_t groupUnroll() const;
  /// Groups per row including padding groups ("k32"; groups() for "n8").
  int64_t paddedGroups() const {
    int64_t u = groupUnroll();
    return (groups() + u - 1) / u * u;
  }
  /// Stored elements per group: 4-bit groups of odd size get one padding
  /// element so that every group starts on a byte.
  int64_t paddedGroup() const {
    return bits == 4 && group % 2 ? group + 1 : group;
  }
  /// K rounded up to whole (padded) groups.
  int64_t paddedK() const { return paddedGroups() * paddedGroup(); }
  /// Output features rounded up to whole tiles ("n8"; n for "k32").
  int64_t paddedN() const { return isK32() ? n : tiles() * kTile; }
  /// Bytes of packed weights.
  int64_t weightBytes() const { return paddedN() * paddedK() * bits / 8; }
  /// Elements of the packed scales (and of the packed offset terms).
  int64_t paramCount() const { return paddedN() * paddedGroups(); }
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
