//===- GGUFKQuants.cpp - GGUF K-quant super-block codecs ------------------===//
//
// Q2_K, Q3_K, Q4_K, Q5_K and Q6_K: 256-element super-blocks made of 16 or 8
// sub-blocks, each with its own scale (and min), and those scales quantized
// again against one fp16 super-block scale. Two quantizers per type, as in
// ggml: the reference one (no importance matrix) and the importance-weighted
// one that llama-quantize --imatrix runs. Both reproduce ggml's results bit
// for bit; see docs/GGUFCodecs.md for layouts and formulas.
//
//===----------------------------------------------------------------------===//

#pragma STDC FP_CONTRACT OFF

#include "GGUFKernels.h"

#include <algorithm>
#include <cstring>

namespace quantx::gguf {

namespace {
constexpr int kQK_K = 256;

// Byte layouts (docs/GGUFCodecs.md):
//   Q2_K: scales[16] | qs[64] | d:f16 | dmin:f16                   84 bytes
//   Q3_K: hmask[32] | qs[64] | scales[12] | d:f16                  110 bytes
//   Q4_K: d:f16 | dmin:f16 | scales[12] | qs[128]                  144 bytes
//   Q5_K: d:f16 | dmin:f16 | scales[12] | qh[32] | qs[128]         176 bytes
//   Q6_K: ql[128] | qh[64] | scales[16] (int8) | d:f16             210 bytes
constexpr size_t kQ2Bytes = 84, kQ3Bytes = 110, kQ4Bytes = 144,
                 kQ5Bytes = 176, kQ6Bytes = 210;

/// Packs 256 two-bit levels: byte 32*h + l holds levels 128*h + l + 32*s in
/// bits 2s..2s+1 (s = 0..3).
void packTwoBit(const uint8_t *levels, uint8_t *qs) {
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const uint8_t *L = levels + 128 * h + l;
      qs[32 * h + l] =
          uint8_t(L[0] | (L[32] << 2) | (L[64] << 4) | (L[96] << 6));
    }
}

/// Packs eight 6-bit scales and eight 6-bit mins into the 12-byte K4/K5
/// scale field.
void packScalesMins(uint8_t *sc, const uint8_t *ls, const uint8_t *lm) {
  std::memset(sc, 0, 12);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      sc[j] = ls[j];
      sc[j + 4] = lm[j];
    } else {
      sc[j + 4] = uint8_t((ls[j] & 0x0f) | ((lm[j] & 0x0f) << 4));
      sc[j - 4] = uint8_t(sc[j - 4] | ((ls[j] >> 4) << 6));
      sc[j] = uint8_t(sc[j] | ((lm[j] >> 4) << 6));
    }
  }
}

/// Unpacks scale and min of sub-block j from the 12-byte K4/K5 field.
void unpackScaleMin(int j, const uint8_t *sc, uint8_t &scale, uint8_t &min) {
  if (j < 4) {
    scale = sc[j] & 63;
    min = sc[j + 4] & 63;
  } else {
    scale = uint8_t((sc[j + 4] & 0x0f) | ((sc[j - 4] >> 6) << 4));
    min = uint8_t((sc[j + 4] >> 4) | ((sc[j] >> 6) << 4));
  }
}

/// Packs sixteen 6-bit biased Q3_K scales into 12 bytes: low nibbles of
/// scales 0..7 / 8..15 in the low / high nibbles of bytes 0..7, the top two
/// bits of scale j in bits 2*(j/4) of byte 8 + j%4.
void packQ3Scales(uint8_t *sc, const int *biased) {
  std::memset(sc, 0, 12);
  for (int j = 0; j < 16; ++j) {
    int l = biased[j];
    if (j < 8)
      sc[j] = uint8_t(l & 0x0f);
    else
      sc[j - 8] = uint8_t(sc[j - 8] | ((l & 0x0f) << 4));
    l >>= 4;
    sc[j % 4 + 8] = uint8_t(sc[j % 4 + 8] | (l << (2 * (j / 4))));
  }
}

/// Signed scale of Q3_K sub-block j (-32..31).
int8_t unpackQ3Scale(int j, const uint8_t *sc) {
  int8_t low = int8_t(j < 8 ? sc[j] & 0x0f : sc[j - 8] >> 4);
  return int8_t((low | (((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32);
}

/// Final Q3_K levels at the stored scales, then the high-bit mask and the
/// two-bit packing. `levels` holds biased levels 0..7 on entry.
void finishQ3(const float *x, uint8_t *b, int8_t *levels) {
  const uint8_t *sc = b + 96;
  float d = loadFp16(b + 108);
  for (int j = 0; j < 16; ++j) {
    float dj = d * float(unpackQ3Scale(j, sc));
    if (dj == 0)
      continue;
    for (int i = 0; i < 16; ++i) {
      int l = std::max(-4, std::min(3, nearestInt(x[16 * j + i] / dj)));
      levels[16 * j + i] = int8_t(l + 4);
    }
  }
  uint8_t *hmask = b;
  std::memset(hmask, 0, 32);
  uint8_t low[kQK_K];
  for (int j = 0; j < kQK_K; ++j) {
    int l = levels[j];
    if (l > 3) {
      hmask[j % 32] = uint8_t(hmask[j % 32] | (1u << (j / 32)));
      l -= 4;
    }
    low[j] = uint8_t(l);
  }
  packTwoBit(low, b + 32);
}

/// Final levels 0..nmax of an affine K-quant (Q2_K, Q4_K, Q5_K) at the
/// stored (rounded) scales: l = round((x + m_j) / d_j) clamped. Sub-blocks
/// whose scale is zero keep the levels of the search.
void requantizeAffine(const float *x, int groupSize, int groups, int nmax,
                      const float *d, const float *m, uint8_t *levels) {
  for (int j = 0; j < groups; ++j) {
    if (d[j] == 0)
      continue;
    for (int i = 0; i < groupSize; ++i) {
      int l = nearestInt((x[groupSize * j + i] + m[j]) / d[j]);
      levels[groupSize * j + i] = uint8_t(std::max(0, std::min(nmax, l)));
    }
  }
}

/// Q4_K/Q5_K: stored sub-block scale and min, d*sc and dmin*m.
void subScalesK(const uint8_t *b, float *d, float *m) {
  float dAll = loadFp16(b), mAll = loadFp16(b + 2);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, mn;
    unpackScaleMin(j, b + 4, sc, mn);
    d[j] = dAll * float(sc);
    m[j] = mAll * float(mn);
  }
}

void packQ4K(uint8_t *b, const uint8_t *levels) {
  uint8_t *q = b + 16;
  for (int j = 0; j < kQK_K; j += 64, q += 32)
    for (int l = 0; l < 32; ++l)
      q[l] = uint8_t(levels[j + l] | (levels[j + l + 32] << 4));
}

void packQ5K(uint8_t *b, const uint8_t *levels) {
  uint8_t *qh = b + 16, *ql = b + 48;
  std::memset(qh, 0, 32);
  uint8_t m1 = 1, m2 = 2;
  for (int j = 0; j < kQK_K; j += 64, ql += 32) {
    for (int l = 0; l < 32; ++l) {
      int l1 = levels[j + l], l2 = levels[j + l + 32];
      if (l1 > 15) {
        l1 -= 16;
        qh[l] = uint8_t(qh[l] | m1);
      }
      if (l2 > 15) {
        l2 -= 16;
        qh[l] = uint8_t(qh[l] | m2);
      }
      ql[l] = uint8_t(l1 | (l2 << 4));
    }
    m1 = uint8_t(m1 << 2);
    m2 = uint8_t(m2 << 2);
  }
}

/// Q6_K: from the 16 sub-block scales of the search, quantize the scales to
/// int8 against d = max_scale / -128, requantize, pack. Returns false (and
/// zeroes the block) when every sub-block scale is below 1e-15.
void finishQ6(const float *x, uint8_t *b, const float *scales,
              int8_t *levels) {
  float maxScale = 0, maxAbs = 0;
  for (int j = 0; j < 16; ++j) {
    float a = std::fabs(scales[j]);
    if (a > maxAbs) {
      maxAbs = a;
      maxScale = scales[j];
    }
  }
  if (maxAbs < 1e-15f) {
    std::memset(b, 0, kQ6Bytes);
    return;
  }
  float invScale = -128.f / maxScale;
  float d = storeFp16(b + 208, 1 / invScale);
  int8_t *sc = reinterpret_cast<int8_t *>(b + 192);
  for (int j = 0; j < 16; ++j)
    sc[j] = int8_t(std::min(127, nearestInt(invScale * scales[j])));
  for (int j = 0; j < 16; ++j) {
    float dj = d * float(sc[j]);
    if (dj == 0)
      continue;
    for (int i = 0; i < 16; ++i) {
      int l = std::max(-32, std::min(31, nearestInt(x[16 * j + i] / dj)));
      levels[16 * j + i] = int8_t(l + 32);
    }
  }
  uint8_t *ql = b, *qh = b + 128;
  for (int j = 0; j < kQK_K; j += 128, ql += 64, qh += 32) {
    for (int l = 0; l < 32; ++l) {
      const int8_t *L = levels + j + l;
      ql[l] = uint8_t((L[0] & 0x0f) | ((L[64] & 0x0f) << 4));
      ql[l + 32] = uint8_t((L[32] & 0x0f) | ((L[96] & 0x0f) << 4));
      qh[l] = uint8_t((L[0] >> 4) | ((L[32] >> 4) << 2) | ((L[64] >> 4) << 4) |
                      ((L[96] >> 4) << 6));
    }
  }
}

/// Mean of x^2 over a super-block times `factor` (ggml uses 1 for Q2_K and
/// 2 for the others), summed left to right.
float superBlockSigma2(const float *x, float factor) {
  float sum = 0;
  for (int j = 0; j < kQK_K; ++j)
    sum += x[j] * x[j];
  return factor * sum / kQK_K;
}

//===-- Q2_K --------------------------------------------------------------===//

void quantizeBlockQ2K(const float *x, uint8_t *b, const float *qw) {
  uint8_t levels[kQK_K], scratch[16];
  float scales[16], mins[16], w[16];
  float d[16], m[16];
  uint8_t *sc = b;
  if (!qw) {
    float maxScale = 0, maxMin = 0;
    for (int j = 0; j < 16; ++j) {
      for (int l = 0; l < 16; ++l)
        w[l] = std::fabs(x[16 * j + l]);
      scales[j] = searchAffineScale(16, 3, x + 16 * j, w, levels + 16 * j,
                                    &mins[j], scratch, -0.5f, 0.1f, 15, true);
      if (scales[j] > maxScale)
        maxScale = scales[j];
      if (mins[j] > maxMin)
        maxMin = mins[j];
    }
    if (maxScale > 0) {
      float inv = 15.f / maxScale;
      for (int j = 0; j < 16; ++j)
        sc[j] = uint8_t(nearestInt(inv * scales[j]));
      storeFp16(b + 80, maxScale / 15.f);
    } else {
      std::memset(sc, 0, 16);
      storeFp16(b + 80, 0.f);
    }
    if (maxMin > 0) {
      float inv = 15.f / maxMin;
      for (int j = 0; j < 16; ++j)
        sc[j] = uint8_t(sc[j] | (nearestInt(inv * mins[j]) << 4));
      storeFp16(b + 82, maxMin / 15.f);
    } else {
      storeFp16(b + 82, 0.f);
    }
  } else {
    float sigma2 = superBlockSigma2(x, 1);
    float sw[16];
    for (int j = 0; j < 16; ++j) {
      sw[j] = 0;
      for (int l = 0; l < 16; ++l)
        w[l] = qw[16 * j + l] *
               std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
      for (int l = 0; l < 16; ++l)
        sw[j] += w[l];
      scales[j] = searchAffineScale(16, 3, x + 16 * j, w, levels + 16 * j,
                                    &mins[j], scratch, -0.9f, 0.05f, 36, false);
    }
    uint8_t ls[16], lm[16];
    float dm = searchPositiveScale(16, 15, scales, ls, sw);
    float mm = searchPositiveScale(16, 15, mins, lm, sw);
    storeFp16(b + 80, dm);
    storeFp16(b + 82, mm);
    for (int j = 0; j < 16; ++j)
      sc[j] = uint8_t(ls[j] | (lm[j] << 4));
  }
  float dAll = loadFp16(b + 80), mAll = loadFp16(b + 82);
  for (int j = 0; j < 16; ++j) {
    d[j] = dAll * float(sc[j] & 0x0f);
    m[j] = mAll * float(sc[j] >> 4);
  }
  requantizeAffine(x, 16, 16, 3, d, m, levels);
  packTwoBit(levels, b + 16);
}

//===-- Q3_K --------------------------------------------------------------===//

void quantizeBlockQ3K(const float *x, uint8_t *b, const float *qw) {
  int8_t levels[kQK_K];
  float scales[16];
  int biased[16];
  if (!qw) {
    float maxScale = 0, maxAbs = 0;
    for (int j = 0; j < 16; ++j) {
      scales[j] = searchQ3Scale(16, 4, x + 16 * j, levels + 16 * j);
      float a = std::fabs(scales[j]);
      if (a > maxAbs) {
        maxAbs = a;
        maxScale = scales[j];
      }
    }
    if (maxScale != 0) {
      float inv = -32.f / maxScale;
      for (int j = 0; j < 16; ++j) {
        int8_t l = int8_t(nearestInt(inv * scales[j]));
        biased[j] = int8_t(std::max<int>(-32, std::min<int>(31, l)) + 32);
      }
      packQ3Scales(b + 96, biased);
      storeFp16(b + 108, 1 / inv);
    } else {
      std::memset(b + 96, 0, 12);
      storeFp16(b + 108, 0.f);
    }
  } else {
    float sigma2 = superBlockSigma2(x, 2);
    float w[16], sw[16];
    for (int j = 0; j < 16; ++j) {
      for (int l = 0; l < 16; ++l)
        w[l] = qw[16 * j + l] *
               std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
      float sum = 0;
      for (int l = 0; l < 16; ++l)
        sum += w[l];
      sw[j] = sum;
      scales[j] = searchSymmetricScale(16, 4, x + 16 * j, levels + 16 * j, w);
    }
    int8_t ls[16];
    float dBlock = searchSymmetricScale(16, 32, scales, ls, sw);
    for (int j = 0; j < 16; ++j)
      biased[j] = ls[j];
    packQ3Scales(b + 96, biased);
    storeFp16(b + 108, dBlock);
  }
  finishQ3(x, b, levels);
}

//===-- Q4_K / Q5_K -------------------------------------------------------===//

/// Shared by Q4_K (nmax 15) and Q5_K (nmax 31).
void quantizeBlockQ45K(const float *x, uint8_t *b, const float *qw, int nmax) {
  uint8_t levels[kQK_K], scratch[32];
  float scales[8], mins[8], w[32];
  uint8_t ls[8], lm[8];
  if (!qw) {
    float maxScale = 0, maxMin = 0;
    for (int j = 0; j < 8; ++j) {
      const float *xj = x + 32 * j;
      float sumX2 = 0;
      for (int l = 0; l < 32; ++l)
        sumX2 += xj[l] * xj[l];
      float avX = std::sqrt(sumX2 / 32);
      for (int l = 0; l < 32; ++l)
        w[l] = avX + std::fabs(xj[l]);
      scales[j] = nmax == 15
                      ? searchAffineScale(32, 15, xj, w, levels + 32 * j,
                                          &mins[j], scratch, -1.f, 0.1f, 20,
                                          false)
                      : searchAffineScale(32, 31, xj, w, levels + 32 * j,
                                          &mins[j], scratch, -0.5f, 0.1f, 15,
                                          false);
      if (scales[j] > maxScale)
        maxScale = scales[j];
      if (mins[j] > maxMin)
        maxMin = mins[j];
    }
    float invScale = maxScale > 0 ? 63.f / maxScale : 0.f;
    float invMin = maxMin > 0 ? 63.f / maxMin : 0.f;
    for (int j = 0; j < 8; ++j) {
      ls[j] = std::min<uint8_t>(63, uint8_t(nearestInt(invScale * scales[j])));
      lm[j] = std::min<uint8_t>(63, uint8_t(nearestInt(invMin * mins[j])));
    }
    packScalesMins(b + 4, ls, lm);
    storeFp16(b, maxScale / 63.f);
    storeFp16(b + 2, maxMin / 63.f);
  } else {
    float sigma2 = superBlockSigma2(x, 2);
    float sw[8];
    for (int j = 0; j < 8; ++j) {
      const float *xj = x + 32 * j;
      for (int l = 0; l < 32; ++l)
        w[l] = qw[32 * j + l] * std::sqrt(sigma2 + xj[l] * xj[l]);
      float sum = 0;
      for (int l = 0; l < 32; ++l)
        sum += w[l];
      sw[j] = sum;
      scales[j] = searchAffineScale(32, nmax, xj, w, levels + 32 * j, &mins[j],
                                    scratch, -0.9f, 0.05f, 36, false);
    }
    float dBlock = searchPositiveScale(8, 63, scales, ls, sw);
    float mBlock = searchPositiveScale(8, 63, mins, lm, sw);
    if (nmax == 31) // ggml clamps the Q5_K levels (not the Q4_K ones) here
      for (int j = 0; j < 8; ++j) {
        ls[j] = std::min<uint8_t>(63, ls[j]);
        lm[j] = std::min<uint8_t>(63, lm[j]);
      }
    packScalesMins(b + 4, ls, lm);
    storeFp16(b, dBlock);
    storeFp16(b + 2, mBlock);
  }
  float d[8], m[8];
  subScalesK(b, d, m);
  requantizeAffine(x, 32, 8, nmax, d, m, levels);
  if (nmax == 15)
    packQ4K(b, levels);
  else
    packQ5K(b, levels);
}

//===-- Q6_K --------------------------------------------------------------===//

void quantizeBlockQ6K(const float *x, uint8_t *b, const float *qw) {
  int8_t levels[kQK_K];
  float scales[16];
  for (int j = 0; j < 16; ++j)
    scales[j] = searchSymmetricScale(16, 32, x + 16 * j, levels + 16 * j,
                                     qw ? qw + 16 * j : nullptr);
  finishQ6(x, b, scales, levels);
}

template <typename BlockFn>
void forEachSuperBlock(const float *x, uint8_t *out, int64_t n,
                       const float *imatrix, size_t blockBytes, BlockFn fn) {
  for (int64_t i = 0; i < n / kQK_K; ++i)
    fn(x + i * kQK_K, out + i * blockBytes,
       imatrix ? imatrix + i * kQK_K : nullptr);
}

} // namespace

void quantizeRowQ2_K(const float *x, uint8_t *out, int64_t n,
                     const float *imatrix) {
  forEachSuperBlock(x, out, n, imatrix, kQ2Bytes, quantizeBlockQ2K);
}

void quantizeRowQ3_K(const float *x, uint8_t *out, int64_t n,
                     const float *imatrix) {
  forEachSuperBlock(x, out, n, imatrix, kQ3Bytes, quantizeBlockQ3K);
}

void quantizeRowQ4_K(const float *x, uint8_t *out, int64_t n,
                     const float *imatrix) {
  forEachSuperBlock(x, out, n, imatrix, kQ4Bytes,
                    [](const float *xb, uint8_t *b, const float *qw) {
                      quantizeBlockQ45K(xb, b, qw, 15);
                    });
}

void quantizeRowQ5_K(const float *x, uint8_t *out, int64_t n,
                     const float *imatrix) {
  forEachSuperBlock(x, out, n, imatrix, kQ5Bytes,
                    [](const float *xb, uint8_t *b, const float *qw) {
                      quantizeBlockQ45K(xb, b, qw, 31);
                    });
}

void quantizeRowQ6_K(const float *x, uint8_t *out, int64_t n,
                     const float *imatrix) {
  forEachSuperBlock(x, out, n, imatrix, kQ6Bytes, quantizeBlockQ6K);
}

//===-- Dequantization ----------------------------------------------------===//

void dequantizeRowQ2_K(const uint8_t *src, float *y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, src += kQ2Bytes) {
    uint8_t in[kQ2Bytes]; // local copy: the stores to y cannot alias it
    std::memcpy(in, src, kQ2Bytes);
    float d = loadFp16(in + 80), m = loadFp16(in + 82);
    const uint8_t *sc = in, *q = in + 16;
    int is = 0;
    for (int h = 0; h < 2; ++h, q += 32) {
      for (int s = 0; s < 4; ++s) {
        for (int half = 0; half < 2; ++half, ++is) {
          float dl = d * float(sc[is] & 0x0f), ml = m * float(sc[is] >> 4);
          for (int l = 0; l < 16; ++l)
            *y++ = dl * float((q[16 * half + l] >> (2 * s)) & 3) - ml;
        }
      }
    }
  }
}

void dequantizeRowQ3_K(const uint8_t *src, float *y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, src += kQ3Bytes) {
    uint8_t in[kQ3Bytes]; // local copy: the stores to y cannot alias it
    std::memcpy(in, src, kQ3Bytes);
    float d = loadFp16(in + 108);
    const uint8_t *hmask = in, *q = in + 32, *sc = in + 96;
    int is = 0;
    for (int h = 0; h < 2; ++h, q += 32) {
      for (int s = 0; s < 4; ++s) {
        uint8_t bit = uint8_t(1u << (4 * h + s));
        for (int half = 0; half < 2; ++half, ++is) {
          float dl = d * float(unpackQ3Scale(is, sc));
          for (int l = 0; l < 16; ++l) {
            int k = 16 * half + l;
            int v = ((q[k] >> (2 * s)) & 3) - ((hmask[k] & bit) ? 0 : 4);
            *y++ = dl * float(v);
          }
        }
      }
    }
  }
}

void dequantizeRowQ4_K(const uint8_t *src, float *y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, src += kQ4Bytes) {
    uint8_t in[kQ4Bytes]; // local copy: the stores to y cannot alias it
    std::memcpy(in, src, kQ4Bytes);
    float d[8], m[8];
    subScalesK(in, d, m);
    const uint8_t *q = in + 16;
    for (int j = 0; j < 8; j += 2, q += 32) {
      for (int l = 0; l < 32; ++l)
        *y++ = d[j] * float(q[l] & 0x0f) - m[j];
      for (int l = 0; l < 32; ++l)
        *y++ = d[j + 1] * float(q[l] >> 4) - m[j + 1];
    }
  }
}

void dequantizeRowQ5_K(const uint8_t *src, float *y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, src += kQ5Bytes) {
    uint8_t in[kQ5Bytes]; // local copy: the stores to y cannot alias it
    std::memcpy(in, src, kQ5Bytes);
    float d[8], m[8];
    subScalesK(in, d, m);
    const uint8_t *qh = in + 16, *ql = in + 48;
    for (int j = 0; j < 8; j += 2, ql += 32) {
      uint8_t u1 = uint8_t(1u << j), u2 = uint8_t(2u << j);
      for (int l = 0; l < 32; ++l)
        *y++ = d[j] * float((ql[l] & 0x0f) + ((qh[l] & u1) ? 16 : 0)) - m[j];
      for (int l = 0; l < 32; ++l)
        *y++ = d[j + 1] * float((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) -
               m[j + 1];
    }
  }
}

void dequantizeRowQ6_K(const uint8_t *src, float *y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, src += kQ6Bytes) {
    uint8_t in[kQ6Bytes]; // local copy: the stores to y cannot alias it
    std::memcpy(in, src, kQ6Bytes);
    float d = loadFp16(in + 208);
    const uint8_t *ql = in, *qh = in + 128;
    const int8_t *sc = reinterpret_cast<const int8_t *>(in + 192);
    for (int h = 0; h < 2; ++h, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        int is = l / 16;
        int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
        int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
        int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * float(sc[is]) * float(q1);
        y[l + 32] = d * float(sc[is + 2]) * float(q2);
        y[l + 64] = d * float(sc[is + 4]) * float(q3);
        y[l + 96] = d * float(sc[is + 6]) * float(q4);
      }
    }
  }
}

} // namespace quantx::gguf
