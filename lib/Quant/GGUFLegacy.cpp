//===- GGUFLegacy.cpp - F16/BF16 and 32-element GGUF block codecs ---------===//
//
// F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0. Each block type has a
// scalar quantizer that follows ggml's reference operation by operation, and
// Q4_0/Q8_0 (the types with a speed target) also have AVX-512 paths that
// compute the same IEEE operations lane by lane. The reductions in the vector
// paths (block max / min) are order-independent for the inputs they accept:
// NaN lanes are handled so that the result equals the scalar left-to-right
// scan, and ties between +0 and -0 or between equal magnitudes are resolved
// by looking up the first matching element, exactly as the scan would.
//
//===----------------------------------------------------------------------===//

#pragma STDC FP_CONTRACT OFF

#include "GGUFKernels.h"

#include <algorithm>
#include <cfloat>
#include <cstring>

namespace quantx::gguf {

namespace {
constexpr int kQK = 32; // elements per legacy block

// Byte layouts (docs/GGUFCodecs.md):
//   Q4_0: d:f16 | qs[16]                       18 bytes
//   Q4_1: d:f16 | m:f16 | qs[16]               20 bytes
//   Q5_0: d:f16 | qh[4] | qs[16]               22 bytes
//   Q5_1: d:f16 | m:f16 | qh[4] | qs[16]       24 bytes
//   Q8_0: d:f16 | qs[32] (int8)                34 bytes
constexpr size_t kQ4_0Bytes = 18, kQ4_1Bytes = 20, kQ5_0Bytes = 22,
                 kQ5_1Bytes = 24, kQ8_0Bytes = 34;

/// First element of largest magnitude (strictly larger wins, NaN never
/// does); 0 when none is above 0. This is how Q4_0/Q5_0 pick the element
/// whose value maps to the extreme level.
float firstAbsMax(const float *x) {
  float absMax = 0, peak = 0;
  for (int j = 0; j < kQK; ++j) {
    float a = std::fabs(x[j]);
    if (absMax < a) {
      absMax = a;
      peak = x[j];
    }
  }
  return peak;
}

/// Block min and max by strict comparisons from (FLT_MAX, -FLT_MAX).
void blockMinMax(const float *x, float &lo, float &hi) {
  lo = FLT_MAX;
  hi = -FLT_MAX;
  for (int j = 0; j < kQK; ++j) {
    if (x[j] < lo)
      lo = x[j];
    if (x[j] > hi)
      hi = x[j];
  }
}

/// Stores the fifth bits of 32 five-bit levels: bit j of the little-endian
/// word is bit 4 of level j.
void storeHighBits(uint8_t *qh, const uint8_t *levels) {
  uint32_t bits = 0;
  for (int j = 0; j < kQK; ++j)
    bits |= uint32_t((levels[j] & 0x10u) >> 4) << j;
  std::memcpy(qh, &bits, 4);
}

//===-- Scalar reference-order quantizers ---------------------------------===//

void quantizeBlockQ4_0(const float *x, uint8_t *b) {
  float d = firstAbsMax(x) / -8;
  float inv = d != 0 ? 1.0f / d : 0.0f;
  storeFp16(b, d);
  for (int j = 0; j < kQK / 2; ++j) {
    uint8_t lo = uint8_t(std::min<int>(15, truncToInt8(x[j] * inv + 8.5f)));
    uint8_t hi =
        uint8_t(std::min<int>(15, truncToInt8(x[j + 16] * inv + 8.5f)));
    b[2 + j] = uint8_t(lo | (hi << 4));
  }
}

void quantizeBlockQ4_1(const float *x, uint8_t *b) {
  float lo, hi;
  blockMinMax(x, lo, hi);
  float d = (hi - lo) / 15;
  float inv = d != 0 ? 1.0f / d : 0.0f;
  storeFp16(b, d);
  storeFp16(b + 2, lo);
  for (int j = 0; j < kQK / 2; ++j) {
    uint8_t l0 =
        uint8_t(std::min<int>(15, truncToInt8((x[j] - lo) * inv + 0.5f)));
    uint8_t l1 =
        uint8_t(std::min<int>(15, truncToInt8((x[j + 16] - lo) * inv + 0.5f)));
    b[4 + j] = uint8_t(l0 | (l1 << 4));
  }
}

void quantizeBlockQ5_0(const float *x, uint8_t *b) {
  float d = firstAbsMax(x) / -16;
  float inv = d != 0 ? 1.0f / d : 0.0f;
  storeFp16(b, d);
  uint8_t levels[kQK];
  for (int j = 0; j < kQK; ++j)
    levels[j] = uint8_t(std::min<int>(31, truncToInt8(x[j] * inv + 16.5f)));
  for (int j = 0; j < kQK / 2; ++j)
    b[6 + j] = uint8_t((levels[j] & 0x0f) | ((levels[j + 16] & 0x0f) << 4));
  storeHighBits(b + 2, levels);
}

void quantizeBlockQ5_1(const float *x, uint8_t *b) {
  float lo, hi;
  blockMinMax(x, lo, hi);
  float d = (hi - lo) / 31;
  float inv = d != 0 ? 1.0f / d : 0.0f;
  storeFp16(b, d);
  storeFp16(b + 2, lo);
  uint8_t levels[kQK];
  for (int j = 0; j < kQK; ++j)
    levels[j] = uint8_t(truncToInt32((x[j] - lo) * inv + 0.5f));
  for (int j = 0; j < kQK / 2; ++j)
    b[8 + j] = uint8_t((levels[j] & 0x0f) | ((levels[j + 16] & 0x0f) << 4));
  storeHighBits(b + 4, levels);
}

void quantizeBlockQ8_0(const float *x, uint8_t *b) {
  float absMax = 0;
  for (int j = 0; j < kQK; ++j) {
    float a = std::fabs(x[j]);
    absMax = absMax > a ? absMax : a; // a NaN replaces the running max
  }
  float d = absMax / 127;
  float inv = d != 0 ? 1.0f / d : 0.0f;
  storeFp16(b, d);
  for (int j = 0; j < kQK; ++j)
    b[2 + j] = uint8_t(truncToInt8(roundHalfAway(x[j] * inv)));
}

//===-- Importance-weighted legacy quantizers -----------------------------===//

/// sigma^2 of the row: mean of x^2 over the whole row, summed left to right.
float rowSigma2(const float *x, int64_t n) {
  float sum = 0;
  for (int64_t j = 0; j < n; ++j)
    sum += x[j] * x[j];
  return sum / float(n);
}

void importanceWeights(const float *x, const float *qw, float sigma2,
                       float *w) {
  for (int j = 0; j < kQK; ++j)
    w[j] = qw[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

void quantizeRowQ4_0Weighted(const float *x, uint8_t *out, int64_t n,
                             const float *imatrix) {
  float sigma2 = rowSigma2(x, n);
  float w[kQK];
  int8_t levels[kQK];
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    const float *xb = x + ib * kQK;
    uint8_t *b = out + ib * kQ4_0Bytes;
    importanceWeights(xb, imatrix + ib * kQK, sigma2, w);
    storeFp16(b, searchSymmetricScale(kQK, 8, xb, levels, w));
    for (int j = 0; j < 16; ++j)
      b[2 + j] = uint8_t(levels[j] | (levels[j + 16] << 4));
  }
}

void quantizeRowQ5_0Weighted(const float *x, uint8_t *out, int64_t n,
                             const float *imatrix) {
  float sigma2 = rowSigma2(x, n);
  float w[kQK];
  int8_t levels[kQK];
  uint8_t ulevels[kQK];
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    const float *xb = x + ib * kQK;
    uint8_t *b = out + ib * kQ5_0Bytes;
    importanceWeights(xb, imatrix + ib * kQK, sigma2, w);
    storeFp16(b, searchSymmetricScale(kQK, 16, xb, levels, w));
    for (int j = 0; j < kQK; ++j)
      ulevels[j] = uint8_t(levels[j]);
    for (int j = 0; j < 16; ++j)
      b[6 + j] = uint8_t((ulevels[j] & 0x0f) | ((ulevels[j + 16] & 0x0f) << 4));
    storeHighBits(b + 2, ulevels);
  }
}

void quantizeRowAffineWeighted(const float *x, uint8_t *out, int64_t n,
                               const float *imatrix, int nmax) {
  bool five = nmax == 31;
  size_t blockBytes = five ? kQ5_1Bytes : kQ4_1Bytes;
  float sigma2 = rowSigma2(x, n);
  float w[kQK];
  uint8_t levels[kQK], scratch[kQK];
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    const float *xb = x + ib * kQK;
    uint8_t *b = out + ib * blockBytes;
    importanceWeights(xb, imatrix + ib * kQK, sigma2, w);
    float negMin;
    float d = searchAffineScale(kQK, nmax, xb, w, levels, &negMin, scratch,
                                -0.9f, 0.05f, 36, false);
    storeFp16(b, d);
    storeFp16(b + 2, -negMin);
    uint8_t *qs = b + (five ? 8 : 4);
    for (int j = 0; j < 16; ++j)
      qs[j] = five ? uint8_t((levels[j] & 0x0f) | ((levels[j + 16] & 0x0f) << 4))
                   : uint8_t(levels[j] | (levels[j + 16] << 4));
    if (five)
      storeHighBits(b + 4, levels);
  }
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define QUANTX_GGUF_AVX512 1

/// Horizontal max of 16 lanes that hold no NaN.
inline float reduceMax(__m512 v) { return _mm512_reduce_max_ps(v); }

/// Q4_0 on one block: identical to quantizeBlockQ4_0 for every input.
inline void quantizeBlockQ4_0Avx512(const float *x, uint8_t *b) {
  __m512 a = _mm512_loadu_ps(x), c = _mm512_loadu_ps(x + 16);
  // NaN magnitudes are zeroed: the scalar scan never picks a NaN, and a 0
  // never beats the initial 0 either.
  __m512 absA = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, a, _CMP_ORD_Q),
                                    _mm512_abs_ps(a));
  __m512 absC = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(c, c, _CMP_ORD_Q),
                                    _mm512_abs_ps(c));
  float absMax = reduceMax(_mm512_max_ps(absA, absC));
  float peak = 0;
  if (absMax > 0) {
    __m512 m = _mm512_set1_ps(absMax);
    uint32_t hits = uint32_t(_mm512_cmp_ps_mask(absA, m, _CMP_EQ_OQ)) |
                    (uint32_t(_mm512_cmp_ps_mask(absC, m, _CMP_EQ_OQ)) << 16);
    peak = x[__builtin_ctz(hits)];
  }
  float d = peak / -8;
  float inv = d != 0 ? 1.0f / d : 0.0f;
  storeFp16(b, d);
  __m512 vinv = _mm512_set1_ps(inv), bias = _mm512_set1_ps(8.5f);
  __m512i fifteen = _mm512_set1_epi32(15);
  auto levels = [&](__m512 v) {
    __m512i q = _mm512_cvttps_epi32(_mm512_add_ps(_mm512_mul_ps(v, vinv), bias));
    q = _mm512_srai_epi32(_mm512_slli_epi32(q, 24), 24); // (int8_t)
    return _mm512_cvtepi32_epi8(_mm512_min_epi32(q, fifteen));
  };
  __m128i lo = levels(a), hi = levels(c);
  __m128i packed = _mm_or_si128(
      lo, _mm_and_si128(_mm_slli_epi16(hi, 4), _mm_set1_epi8(char(0xf0))));
  _mm_storeu_si128(reinterpret_cast<__m128i *>(b + 2), packed);
}

/// Q8_0 on one block without NaN: identical to quantizeBlockQ8_0.
inline void quantizeBlockQ8_0Avx512(const float *x, uint8_t *b) {
  __m512 a = _mm512_loadu_ps(x), c = _mm512_loadu_ps(x + 16);
  float absMax =
      reduceMax(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(c)));
  float d = absMax / 127;
  float inv = d != 0 ? 1.0f / d : 0.0f;
  storeFp16(b, d);
  __m512 vinv = _mm512_set1_ps(inv);
  __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
  auto levels = [&](__m512 v) {
    __m512 y = _mm512_mul_ps(v, vinv);
    // roundf: truncate, then step away from zero when |fraction| >= 0.5
    // (y - trunc(y) is exact).
    __m512 t = _mm512_roundscale_ps(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(y, t)), half,
                                      _CMP_GE_OQ);
    __m512 step = _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_castps_si512(one),
        _mm512_and_si512(_mm512_castps_si512(y), _mm512_set1_epi32(INT32_MIN))));
    t = _mm512_mask_add_ps(t, up, t, step);
    return _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(t));
  };
  _mm_storeu_si128(reinterpret_cast<__m128i *>(b + 2), levels(a));
  _mm_storeu_si128(reinterpret_cast<__m128i *>(b + 18), levels(c));
}

inline bool blockHasNaN(const float *x) {
  __m512 a = _mm512_loadu_ps(x), c = _mm512_loadu_ps(x + 16);
  return (_mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q) |
          _mm512_cmp_ps_mask(c, c, _CMP_UNORD_Q)) != 0;
}
#endif

} // namespace

//===-- Row entry points --------------------------------------------------===//

void quantizeRowF32(const float *x, uint8_t *out, int64_t n) {
  std::memcpy(out, x, size_t(n) * 4);
}

void dequantizeRowF32(const uint8_t *in, float *y, int64_t n) {
  std::memcpy(y, in, size_t(n) * 4);
}

void quantizeRowF16(const float *x, uint8_t *out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h = toFp16(x[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}

void dequantizeRowF16(const uint8_t *in, float *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = loadFp16(in + 2 * i);
}

void quantizeRowBF16(const float *x, uint8_t *out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h = floatToBf16(x[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}

void dequantizeRowBF16(const uint8_t *in, float *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, in + 2 * i, 2);
    y[i] = bf16ToFloat(h);
  }
}

void quantizeRowQ4_0(const float *x, uint8_t *out, int64_t n,
                     const float *imatrix) {
  if (imatrix)
    return quantizeRowQ4_0Weighted(x, out, n, imatrix);
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
#ifdef QUANTX_GGUF_AVX512
    quantizeBlockQ4_0Avx512(x + ib * kQK, out + ib * kQ4_0Bytes);
#else
    quantizeBlockQ4_0(x + ib * kQK, out + ib * kQ4_0Bytes);
#endif
  }
}

void quantizeRowQ4_1(const float *x, uint8_t *out, int64_t n,
                     const float *imatrix) {
  if (imatrix)
    return quantizeRowAffineWeighted(x, out, n, imatrix, 15);
  for (int64_t ib = 0; ib < n / kQK; ++ib)
    quantizeBlockQ4_1(x + ib * kQK, out + ib * kQ4_1Bytes);
}

void quantizeRowQ5_0(const float *x, uint8_t *out, int64_t n,
                     const float *imatrix) {
  if (imatrix)
    return quantizeRowQ5_0Weighted(x, out, n, imatrix);
  for (int64_t ib = 0; ib < n / kQK; ++ib)
    quantizeBlockQ5_0(x + ib * kQK, out + ib * kQ5_0Bytes);
}

void quantizeRowQ5_1(const float *x, uint8_t *out, int64_t n,
                     const float *imatrix) {
  if (imatrix)
    return quantizeRowAffineWeighted(x, out, n, imatrix, 31);
  for (int64_t ib = 0; ib < n / kQK; ++ib)
    quantizeBlockQ5_1(x + ib * kQK, out + ib * kQ5_1Bytes);
}

void quantizeRowQ8_0(const float *x, uint8_t *out, int64_t n) {
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    const float *xb = x + ib * kQK;
    uint8_t *b = out + ib * kQ8_0Bytes;
#ifdef QUANTX_GGUF_AVX512
    if (!blockHasNaN(xb)) {
      quantizeBlockQ8_0Avx512(xb, b);
      continue;
    }
#endif
    quantizeBlockQ8_0(xb, b);
  }
}

void dequantizeRowQ4_0(const uint8_t *in, float *y, int64_t n) {
  for (int64_t ib = 0; ib < n / kQK; ++ib, in += kQ4_0Bytes, y += kQK) {
    float d = loadFp16(in);
    uint8_t qs[16]; // local copy: the stores to y cannot alias it
    std::memcpy(qs, in + 2, 16);
    for (int j = 0; j < 16; ++j) {
      y[j] = float((qs[j] & 0x0f) - 8) * d;
      y[j + 16] = float((qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantizeRowQ4_1(const uint8_t *in, float *y, int64_t n) {
  for (int64_t ib = 0; ib < n / kQK; ++ib, in += kQ4_1Bytes, y += kQK) {
    float d = loadFp16(in), m = loadFp16(in + 2);
    uint8_t qs[16];
    std::memcpy(qs, in + 4, 16);
    for (int j = 0; j < 16; ++j) {
      y[j] = float(qs[j] & 0x0f) * d + m;
      y[j + 16] = float(qs[j] >> 4) * d + m;
    }
  }
}

void dequantizeRowQ5_0(const uint8_t *in, float *y, int64_t n) {
  for (int64_t ib = 0; ib < n / kQK; ++ib, in += kQ5_0Bytes, y += kQK) {
    float d = loadFp16(in);
    uint32_t qh;
    std::memcpy(&qh, in + 2, 4);
    for (int j = 0; j < 16; ++j) {
      int l0 = (in[6 + j] & 0x0f) | int(((qh >> j) << 4) & 0x10);
      int l1 = (in[6 + j] >> 4) | int((qh >> (j + 12)) & 0x10);
      y[j] = float(l0 - 16) * d;
      y[j + 16] = float(l1 - 16) * d;
    }
  }
}

void dequantizeRowQ5_1(const uint8_t *in, float *y, int64_t n) {
  for (int64_t ib = 0; ib < n / kQK; ++ib, in += kQ5_1Bytes, y += kQK) {
    float d = loadFp16(in), m = loadFp16(in + 2);
    uint32_t qh;
    std::memcpy(&qh, in + 4, 4);
    for (int j = 0; j < 16; ++j) {
      int l0 = (in[8 + j] & 0x0f) | int(((qh >> j) << 4) & 0x10);
      int l1 = (in[8 + j] >> 4) | int((qh >> (j + 12)) & 0x10);
      y[j] = float(l0) * d + m;
      y[j + 16] = float(l1) * d + m;
    }
  }
}

void dequantizeRowQ8_0(const uint8_t *in, float *y, int64_t n) {
  for (int64_t ib = 0; ib < n / kQK; ++ib, in += kQ8_0Bytes, y += kQK) {
    float d = loadFp16(in);
    int8_t qs[kQK];
    std::memcpy(qs, in + 2, kQK);
    for (int j = 0; j < kQK; ++j)
      y[j] = float(qs[j]) * d;
  }
}

} // namespace quantx::gguf
