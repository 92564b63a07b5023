//===- Float16.h - Exact fp16/bf16 conversions ------------------*- C++ -*-===//
//
// Bit-exact conversions between IEEE binary32 and the two 16-bit formats the
// project stores scales and weights in: IEEE binary16 (fp16) and bfloat16.
// All narrowing conversions round to nearest, ties to even, exactly as the
// F16C instruction `vcvtps2ph` with rounding mode 0 and as ggml's reference
// converters do. NaN stays NaN (quietened, sign kept), infinities stay
// infinities, values above the largest finite fp16 become infinity, and fp16
// subnormals are produced and consumed exactly (no flush to zero).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_QUANT_FLOAT16_H
#define QUANTX_QUANT_FLOAT16_H

#include <cstdint>
#include <cstring>

namespace quantx {

/// Reinterprets the bits of a float as uint32_t.
inline uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

/// Reinterprets uint32_t bits as a float.
inline float bitsToFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

/// Converts fp16 bits to float. Exact: every fp16 value is a float.
inline float fp16ToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) // Inf or NaN: keep the payload.
    return bitsToFloat(sign | 0x7f800000u | (mant << 13));
  if (exp == 0) {
    if (mant == 0)
      return bitsToFloat(sign);
    // Subnormal: value = mant * 2^-24, exactly representable as a float.
    float v = float(mant) * bitsToFloat(0x33800000u); // 2^-24
    return bitsToFloat(sign | floatBits(v));
  }
  return bitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
}

/// Converts a float to fp16 bits, rounding to nearest even.
inline uint16_t floatToFp16(float f) {
  uint32_t u = floatBits(f);
  uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  uint32_t absU = u & 0x7fffffffu;
  if (absU > 0x7f800000u) // NaN: quiet it, keep the top payload bits.
    return uint16_t(sign | 0x7e00u | ((absU >> 13) & 0x3ffu));
  if (absU >= 0x477ff000u) // Rounds to >= 65520: infinity.
    return uint16_t(sign | 0x7c00u);
  if (absU < 0x38800000u) {
    // Result is subnormal or zero: add 0.5 (as a float) so that the FPU's own
    // round-to-nearest-even places the bits of mant * 2^-24 in the low word.
    float v = bitsToFloat(absU) + 0.5f;
    return uint16_t(sign | (floatBits(v) - 0x3f000000u));
  }
  // Normal: rebias the exponent and round the 13 dropped mantissa bits.
  uint32_t mantOdd = (absU >> 13) & 1u;
  absU += 0xc8000fffu + mantOdd; // (15 - 127) << 23, plus rounding bias
  return uint16_t(sign | (absU >> 13));
}

/// Rounds a float to the nearest fp16 value and returns it as a float.
inline float roundToFp16(float f) { return fp16ToFloat(floatToFp16(f)); }

/// Converts bf16 bits to float (exact).
inline float bf16ToFloat(uint16_t b) { return bitsToFloat(uint32_t(b) << 16); }

/// Converts a float to bf16 bits, rounding to nearest even. NaN is quietened
/// (bit 6 of the bf16 mantissa set) with its sign kept. Subnormals are rounded
/// like any other value, not flushed.
inline uint16_t floatToBf16(float f) {
  uint32_t u = floatBits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return uint16_t((u >> 16) | 0x40u);
  return uint16_t((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

} // namespace quantx

#endif // QUANTX_QUANT_FLOAT16_H
