//===- WeightOnlyPacking.cpp - Packed layout of weight-only matmuls -------===//
//
// The host-side packer of the "n8" weight-only layout (see the header).
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/WeightOnlyPacking.h"

#include "quantx/Quant/Float16.h"

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
  return {};
}

std::string quantx::packWeightOnly(const WeightOnlyLayout &L, const int32_t *q,
                                   const float *scales, const float *offsets,
                                   bool nMajor, uint8_t *weights,
                                   void *packedScales, float *offsetTerms) {
  if (std::string why = L.check(); !why.empty())
    return why;
  if (L.hasOffsetTerms() && (!offsets || !offsetTerms))
    return "a layout with offsets needs offsets and an offset-term output";
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
