//===- GGUFKernels.h - Internal pieces of the GGUF codecs -------*- C++ -*-===//
//
// Scalar helpers whose exact behaviour the codecs depend on (ggml's fp16
// conversion, its nearest-int trick, x86 float-to-int truncation), and the
// per-type row kernels that GGUFCodecs.cpp dispatches to. Not installed: the
// public interface is quantx/Quant/GGUFCodecs.h.
//
// Every kernel reproduces ggml's arithmetic operation by operation (the
// sources are compiled with -ffp-contract=off so that no multiply-add is
// fused), which is what makes the output bytes identical to ggml's.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_LIB_QUANT_GGUFKERNELS_H
#define QUANTX_LIB_QUANT_GGUFKERNELS_H

#include "quantx/Quant/Float16.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

namespace quantx::gguf {

/// float -> fp16 bits as ggml converts: round to nearest even, overflow to
/// infinity, and every NaN to the quiet NaN 0x7e00 with the input's sign.
inline uint16_t toFp16(float f) {
  uint32_t u = floatBits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return uint16_t(((u >> 16) & 0x8000u) | 0x7e00u);
  return floatToFp16(f);
}

/// fp16 bits -> float as ggml converts: exact, signalling NaNs quietened.
inline float fromFp16(uint16_t h) {
  if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu))
    h = uint16_t(h | 0x200u);
  return fp16ToFloat(h);
}

/// Reads a little-endian fp16 value at `p` and returns it as a float.
inline float loadFp16(const uint8_t *p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fromFp16(h);
}

/// Stores `f` rounded to fp16 at `p` and returns the stored value as float.
inline float storeFp16(uint8_t *p, float f) {
  uint16_t h = toFp16(f);
  std::memcpy(p, &h, 2);
  return fromFp16(h);
}

/// ggml's nearest_int: adds 1.5 * 2^23 so that the FPU's round-to-nearest-
/// even leaves the integer in the low mantissa bits. Exact for |f| < 2^22;
/// for larger or non-finite inputs it returns the same (meaningless but
/// deterministic) bits as ggml does.
inline int nearestInt(float f) {
  float v = f + 12582912.f;
  int32_t i;
  std::memcpy(&i, &v, sizeof(i));
  return (i & 0x007fffff) - 0x00400000;
}

/// Converts float to int32 truncating toward zero, with the x86 result
/// INT32_MIN for NaN and out-of-range values (what `(int)f` compiles to on
/// x86-64, where ggml's reference results were produced).
inline int32_t truncToInt32(float f) {
#if defined(__x86_64__) || defined(_M_X64)
  return _mm_cvtt_ss2si(_mm_set_ss(f));
#else
  if (!(f >= -2147483648.0f && f < 2147483648.0f))
    return std::numeric_limits<int32_t>::min();
  return int32_t(f);
#endif
}

/// `(int8_t)f` as x86-64 code computes it: truncate to int32, keep the low
/// byte.
inline int8_t truncToInt8(float f) { return int8_t(uint8_t(truncToInt32(f))); }

/// C's roundf (halves away from zero).
inline float roundHalfAway(float f) { return std::round(f); }

// Row kernels. `n` is a multiple of the type's block size; `imatrix` (may be
// null) has `n` weights and makes the quantizer the importance-weighted one.
// F16/BF16/F32 have no imatrix variant.
void quantizeRowF32(const float *x, uint8_t *out, int64_t n);
void dequantizeRowF32(const uint8_t *in, float *y, int64_t n);
void quantizeRowF16(const float *x, uint8_t *out, int64_t n);
void dequantizeRowF16(const uint8_t *in, float *y, int64_t n);
void quantizeRowBF16(const float *x, uint8_t *out, int64_t n);
void dequantizeRowBF16(const uint8_t *in, float *y, int64_t n);

void quantizeRowQ4_0(const float *x, uint8_t *out, int64_t n,
                     const float *imatrix);
void quantizeRowQ4_1(const float *x, uint8_t *out, int64_t n,
                     const float *imatrix);
void quantizeRowQ5_0(const float *x, uint8_t *out, int64_t n,
                     const float *imatrix);
void quantizeRowQ5_1(const float *x, uint8_t *out, int64_t n,
                     const float *imatrix);
void quantizeRowQ8_0(const float *x, uint8_t *out, int64_t n);
void dequantizeRowQ4_0(const uint8_t *in, float *y, int64_t n);
void dequantizeRowQ4_1(const uint8_t *in, float *y, int64_t n);
void dequantizeRowQ5_0(const uint8_t *in, float *y, int64_t n);
void dequantizeRowQ5_1(const uint8_t *in, float *y, int64_t n);
void dequantizeRowQ8_0(const uint8_t *in, float *y, int64_t n);

void quantizeRowQ2_K(const float *x, uint8_t *out, int64_t n,
                     const float *imatrix);
void quantizeRowQ3_K(const float *x, uint8_t *out, int64_t n,
                     const float *imatrix);
void quantizeRowQ4_K(const float *x, uint8_t *out, int64_t n,
                     const float *imatrix);
void quantizeRowQ5_K(const float *x, uint8_t *out, int64_t n,
                     const float *imatrix);
void quantizeRowQ6_K(const float *x, uint8_t *out, int64_t n,
                     const float *imatrix);
void dequantizeRowQ2_K(const uint8_t *in, float *y, int64_t n);
void dequantizeRowQ3_K(const uint8_t *in, float *y, int64_t n);
void dequantizeRowQ4_K(const uint8_t *in, float *y, int64_t n);
void dequantizeRowQ5_K(const uint8_t *in, float *y, int64_t n);
void dequantizeRowQ6_K(const uint8_t *in, float *y, int64_t n);

// Shared search routines (GGUFSearch.cpp), used by the legacy imatrix
// quantizers and the K-quants. Described in docs/GGUFCodecs.md.

/// Symmetric scale search with levels -nmax..nmax-1 (stored biased by
/// +nmax into `levels`), weighted by `weights` or, when null, by x^2.
/// Returns the scale (0 for an all-zero group, levels then all 0).
float searchSymmetricScale(int n, int nmax, const float *x, int8_t *levels,
                           const float *weights);

/// The Q3_K reference search: symmetric, weights x^2, then up to five
/// passes of per-element level refinement. Levels biased by +nmax.
float searchQ3Scale(int n, int nmax, const float *x, int8_t *levels);

/// Affine (scale + min) search over levels 0..nmax with `weights`, trying
/// nstep+1 candidate scales (rmin + rdelta*i + nmax)/(max - min); the error
/// is weighted absolute (useMad) or squared. Writes -min to `negMin`.
float searchAffineScale(int n, int nmax, const float *x, const float *weights,
                        uint8_t *levels, float *negMin, uint8_t *scratch,
                        float rmin, float rdelta, int nstep, bool useMad);

/// Quantizes non-negative values (super-block scales or mins) to 0..nmax
/// with a weighted search and refinement. Returns the step.
float searchPositiveScale(int n, int nmax, const float *x, uint8_t *levels,
                          const float *weights);

} // namespace quantx::gguf

#endif // QUANTX_LIB_QUANT_GGUFKERNELS_H
