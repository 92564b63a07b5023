//===- WeightOnlyPacking.cpp - Packed layout of weight-only matmuls -------===//
//
// The host-side packers of the "n8" and "n8k8" weight-only layouts (see the
// header).
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/WeightOnlyPacking.h"

#include "quantx/Quant/Float16.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace quantx;

std::string WeightOnlyLayout::check() const {
  if (bits != 4 && bits != 8)
    return "only 4-bit and 8-bit weights are packed, got " +
           std::to_string(bits) + "-bit";
  if (n <= 0 || k <= 0)
    return "empty weight matrix";
  if (group <= 0)
    return "group size must be positive";
  if (isN8K8() && group % 8 != 0)
    return "the n8k8 layout (int8 activations) needs a group size that is "
           "a multiple of 8, got " +
           std::to_string(group);
  return {};
}

/// The "n8k8" packer: weights in tiles of 8 rows, 32 bytes (4-bit) or 64
/// bytes (8-bit) per 8 k of the tile; scales and offset terms as in "n8".
static std::string packN8K8(const WeightOnlyLayout &L, const int32_t *q,
                            const float *scales, const float *offsets,
                            bool nMajor, uint8_t *weights, void *packedScales,
                            float *offsetTerms);

std::string quantx::packWeightOnly(const WeightOnlyLayout &L, const int32_t *q,
                                   const float *scales, const float *offsets,
                                   bool nMajor, uint8_t *weights,
                                   void *packedScales, float *offsetTerms) {
  if (std::string why = L.check(); !why.empty())
    return why;
  if (L.hasOffsetTerms() && (!offsets || !offsetTerms))
    return "a layout with offsets needs offsets and an offset-term output";
  if (L.isN8K8())
    return packN8K8(L, q, scales, offsets, nMajor, weights, packedScales,
                    offsetTerms);
  const int64_t T = L.tiles(), G = L.groups(), gs = L.group,
                P = L.paddedGroup(), N = L.n, K = L.k,
                tile = WeightOnlyLayout::kTile;
  const int64_t qmin = L.storageMin(), umax = (int64_t(1) << L.bits) - 1;
  auto qAt = [&](int64_t row, int64_t col) {
    return nMajor ? q[row * K + col] : q[col * N + row];
  };
  auto pAt = [&](const float *p, int64_t row, int64_t g) {
    return nMajor ? p[row * G + g] : p[g * N + row];
  };

  // Weights: u = q - storage_min, zero for padding.
  for (int64_t t = 0; t < T; ++t)
    for (int64_t g = 0; g < G; ++g)
      for (int64_t j = 0; j < P; ++j)
        for (int64_t l = 0; l < tile; ++l) {
          int64_t row = t * tile + l, col = g * gs + j;
          int64_t u = 0;
          if (row < N && j < gs && col < K) {
            u = int64_t(qAt(row, col)) - qmin;
            if (u < 0 || u > umax)
              return "value " + std::to_string(qAt(row, col)) + " at [" +
                     std::to_string(row) + ", " + std::to_string(col) +
                     "] is outside the " + std::to_string(L.bits) +
                     "-bit storage range";
          }
          int64_t base = (t * G + g) * P;
          if (L.bits == 8) {
            weights[(base + j) * tile + l] = uint8_t(u);
          } else {
            uint8_t &byte = weights[(base / 2 + j / 2) * tile + l];
            if (j % 2 == 0)
              byte = uint8_t(u);
            else
              byte = uint8_t(byte | (u << 4));
          }
        }

  // Scales and offset terms, tile-interleaved.
  for (int64_t t = 0; t < T; ++t)
    for (int64_t g = 0; g < G; ++g)
      for (int64_t l = 0; l < tile; ++l) {
        int64_t row = t * tile + l, idx = (t * G + g) * tile + l;
        float s = row < N ? pAt(scales, row, g) : 0.0f;
        if (L.scaleF16) {
          uint16_t h = floatToFp16(s);
          if (fp16ToFloat(h) != s && !(std::isnan(s)))
            return "scale " + std::to_string(s) + " of row " +
                   std::to_string(row) + " is not an f16 value";
          std::memcpy(static_cast<uint16_t *>(packedScales) + idx, &h, 2);
        } else {
          static_cast<float *>(packedScales)[idx] = s;
        }
        if (!L.hasOffsetTerms())
          continue;
        float o = row < N ? pAt(offsets, row, g) : 0.0f;
        float c = 0.0f;
        switch (L.offset) {
        case WeightOffsetKind::ZeroPoint:
          c = s * float(qmin - int64_t(o));
          break;
        case WeightOffsetKind::AddMin:
          c = s * float(qmin) + o;
          break;
        case WeightOffsetKind::SubMin:
          c = s * float(qmin) - o;
          break;
        case WeightOffsetKind::None:
          break;
        }
        offsetTerms[idx] = c;
      }
  return {};
}

/// The stored scale (f32 or f16 bits) at `idx`; empty or an error.
static std::string storeScale(const WeightOnlyLayout &L, void *packedScales,
                              int64_t idx, float s, int64_t row) {
  if (L.scaleF16) {
    uint16_t h = floatToFp16(s);
    if (fp16ToFloat(h) != s && !(std::isnan(s)))
      return "scale " + std::to_string(s) + " of row " + std::to_string(row) +
             " is not an f16 value";
    std::memcpy(static_cast<uint16_t *>(packedScales) + idx, &h, 2);
  } else {
    static_cast<float *>(packedScales)[idx] = s;
  }
  return {};
}

/// The offset term c with w = s*u + c for an offset `o`.
static float offsetTerm(const WeightOnlyLayout &L, float s, float o) {
  const int64_t qmin = L.storageMin();
  switch (L.offset) {
  case WeightOffsetKind::ZeroPoint:
    return s * float(qmin - int64_t(o));
  case WeightOffsetKind::AddMin:
    return s * float(qmin) + o;
  case WeightOffsetKind::SubMin:
    return s * float(qmin) - o;
  case WeightOffsetKind::None:
    break;
  }
  return 0.0f;
}

static std::string packN8K8(const WeightOnlyLayout &L, const int32_t *q,
                            const float *scales, const float *offsets,
                            bool nMajor, uint8_t *weights, void *packedScales,
                            float *offsetTerms) {
  const int64_t N = L.n, K = L.k, G = L.groups(), gs = L.group, T = L.tiles(),
                tile = WeightOnlyLayout::kTile;
  const int64_t qmin = L.storageMin(), umax = (int64_t(1) << L.bits) - 1;
  std::memset(weights, 0, L.weightBytes());
  // Element k of row t*8 + l: octet j = (k % gs) / 8 of group g = k / gs,
  // byte (k % 8) % 4 of lane l; 4-bit: low nibble for (k % 8) < 4, else
  // high nibble; 8-bit: in the first 32 bytes of the octet for (k % 8) < 4,
  // else in the next 32.
  const int64_t octetBytes = 8 * L.bits;
  for (int64_t row = 0; row < N; ++row) {
    int64_t t = row / tile, l = row % tile;
    for (int64_t col = 0; col < K; ++col) {
      int32_t v = nMajor ? q[row * K + col] : q[col * N + row];
      int64_t u = int64_t(v) - qmin;
      if (u < 0 || u > umax)
        return "value " + std::to_string(v) + " at [" + std::to_string(row) +
               ", " + std::to_string(col) + "] is outside the " +
               std::to_string(L.bits) + "-bit storage range";
      int64_t g = col / gs, j = (col % gs) / 8, e = col % 8;
      int64_t octet = ((t * G + g) * (gs / 8) + j) * octetBytes;
      if (L.bits == 8) {
        weights[octet + (e < 4 ? 0 : 32) + l * 4 + e % 4] = uint8_t(u);
        continue;
      }
      uint8_t &byte = weights[octet + l * 4 + e % 4];
      byte = uint8_t(byte | (e < 4 ? u : u << 4));
    }
  }
  for (int64_t t = 0; t < T; ++t)
    for (int64_t g = 0; g < G; ++g)
      for (int64_t l = 0; l < tile; ++l) {
        int64_t row = t * tile + l, idx = (t * G + g) * tile + l;
        bool real = row < N;
        float s =
            real ? (nMajor ? scales[row * G + g] : scales[g * N + row]) : 0.0f;
        if (std::string why = storeScale(L, packedScales, idx, s, row);
            !why.empty())
          return why;
        if (L.hasOffsetTerms()) {
          float o = real
                        ? (nMajor ? offsets[row * G + g] : offsets[g * N + row])
                        : 0.0f;
          offsetTerms[idx] = real ? offsetTerm(L, s, o) : 0.0f;
        }
      }
  return {};
}
