//===- GGUFPack.cpp - Lossless layout conversion into GGUF blocks ---------===//
//
// Packs integer levels and per-group parameters into Q8_0, Q4_0, Q5_0, Q4_1
// and Q5_1 blocks (layouts in docs/GGUFCodecs.md), then dequantizes every
// packed row with the codecs (ggml's formulas, bit for bit) and compares
// with quantx's values, so a conversion either is exact or reports why not.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/GGUFPack.h"

#include "quantx/Quant/Float16.h"
#include "quantx/Quant/Parallel.h"

#include <algorithm>
#if defined(__F16C__) || defined(__AVX2__)
#include <immintrin.h>
#endif
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace quantx {

namespace {

constexpr int kQK = 32;

struct TypeShape {
  bool withMin;   // Q4_1 / Q5_1: d | m | ...
  int bits;       // 4, 5 or 8
  int32_t lo, hi; // level range stored (after removing the zero point)
};

TypeShape shapeOf(GGUFType type) {
  switch (type) {
  case GGUFType::Q8_0:
    return {false, 8, -128, 127};
  case GGUFType::Q4_0:
    return {false, 4, -8, 7};
  case GGUFType::Q5_0:
    return {false, 5, -16, 15};
  case GGUFType::Q4_1:
    return {true, 4, 0, 15};
  case GGUFType::Q5_1:
    return {true, 5, 0, 31};
  default:
    throw std::invalid_argument(
        std::string("packGGUFBlocks: no layout conversion into ") +
        ggufTypeInfo(type).name +
        " (implemented: q8_0, q4_0, q5_0, q4_1, q5_1)");
  }
}

/// fp16 bits of `x` when `x` is finite and an fp16 value (converting it
/// loses nothing), else -1. When `x` is exact, every correct conversion gives
/// the same bits, so the hardware one (F16C) may stand in for Float16.h's.
inline int32_t exactFp16(float x) {
  if (!std::isfinite(x))
    return -1;
#ifdef __F16C__
  uint16_t h = uint16_t(_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT));
  float back = _cvtsh_ss(h);
#else
  uint16_t h = floatToFp16(x);
  float back = fp16ToFloat(h);
#endif
  // Bitwise round trip: the same value and sign.
  return floatBits(back) == floatBits(x) ? int32_t(h) : -1;
}

inline bool isFp16Value(float x) { return exactFp16(x) >= 0; }

std::string where(const char *what, int64_t row, int64_t group, double v) {
  std::ostringstream os;
  os.precision(9);
  os << what << " of row " << row << ", group " << group << " (" << v << ")";
  return os.str();
}

/// ggml's dequantization of one packed block (the formulas of
/// GGUFLegacy.cpp, evaluated the same way: this file is compiled without
/// floating-point contraction), inlined so each block is checked while it is
/// still in cache.
template <int Bits, bool WithMin>
inline void dequantizeBlock(const uint8_t *blk, float d, float m, float *y) {
  const uint8_t *p = blk + 2;
  if constexpr (WithMin) {
    p += 2;
  }
  if constexpr (Bits == 8) {
    for (int j = 0; j < kQK; ++j)
      y[j] = float(int8_t(p[j])) * d;
  } else {
    uint32_t qh = 0;
    if constexpr (Bits == 5) {
      std::memcpy(&qh, p, 4);
      p += 4;
    }
    constexpr int kLo = Bits == 4 ? 8 : 16;
    int32_t l[kQK];
    for (int j = 0; j < kQK / 2; ++j) {
      l[j] = p[j] & 0x0f;
      l[j + kQK / 2] = p[j] >> 4;
    }
    if constexpr (Bits == 5) {
      for (int j = 0; j < kQK; ++j)
        l[j] |= int32_t((qh >> j) & 1) << 4;
    }
    for (int j = 0; j < kQK; ++j) {
      if constexpr (WithMin)
        y[j] = float(l[j]) * d + m;
      else
        y[j] = float(l[j] - kLo) * d;
    }
  }
}

#ifdef __AVX2__
/// Q4_0 block from 32 levels `qt` (stored value q - bias, which must lie in
/// [0, 15]): writes the 16 nibble bytes to `p` and checks, as the scalar path
/// does, that ggml's value (l - 8) * hd of each packed nibble l equals
/// quantx's s * (q - o) (zero-point form) or s * q + o. Returns false, with
/// `p` unspecified, when a level is out of range or a value differs; the
/// scalar path then finds and reports the first culprit.
template <typename T> inline void loadLevels(const T *q, __m256i x[4]) {
  if constexpr (sizeof(T) == 1) {
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(q));
    const __m128i b0 = _mm256_castsi256_si128(b),
                  b1 = _mm256_extracti128_si256(b, 1);
    const __m128i parts[4] = {b0, _mm_srli_si128(b0, 8), b1,
                              _mm_srli_si128(b1, 8)};
    for (int k = 0; k < 4; ++k)
      x[k] = std::is_signed_v<T> ? _mm256_cvtepi8_epi32(parts[k])
                                 : _mm256_cvtepu8_epi32(parts[k]);
  } else if constexpr (sizeof(T) == 2) {
    for (int k = 0; k < 4; ++k) {
      const __m128i h =
          _mm_loadu_si128(reinterpret_cast<const __m128i *>(q + 8 * k));
      x[k] = std::is_signed_v<T> ? _mm256_cvtepi16_epi32(h)
                                 : _mm256_cvtepu16_epi32(h);
    }
  } else {
    for (int k = 0; k < 4; ++k)
      x[k] = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(q + 8 * k));
  }
}

template <typename T>
inline bool packQ4_0BlockAVX2(const T *qt, int32_t bias, float s, float o,
                              bool zeroPoint, float hd, uint8_t *p) {
  __m256i q[4];
  loadLevels(qt, q);
  __m256i v[4];
  __m256i bad = _mm256_setzero_si256();
  const __m256i vb = _mm256_set1_epi32(bias), v15 = _mm256_set1_epi32(15);
  for (int k = 0; k < 4; ++k) {
    const __m256i x = q[k];
    // q - bias in int64 terms: levels are at most 32-bit and bias small,
    // so compare before subtracting to avoid wrap-around.
    __m256i u = _mm256_sub_epi32(x, vb);
    bad =
        _mm256_or_si256(bad, _mm256_cmpgt_epi32(x, _mm256_add_epi32(vb, v15)));
    bad = _mm256_or_si256(bad, _mm256_cmpgt_epi32(vb, x));
    v[k] = u;
  }
  if (!_mm256_testz_si256(bad, bad))
    return false;
  // Byte j holds u[j] | u[j + 16] << 4.
  const __m256i n0 = _mm256_or_si256(v[0], _mm256_slli_epi32(v[2], 4));
  const __m256i n1 = _mm256_or_si256(v[1], _mm256_slli_epi32(v[3], 4));
  __m256i w = _mm256_permute4x64_epi64(_mm256_packus_epi32(n0, n1), 0xD8);
  w = _mm256_permute4x64_epi64(_mm256_packus_epi16(w, w), 0xD8);
  const __m128i bytes = _mm256_castsi256_si128(w);
  _mm_storeu_si128(reinterpret_cast<__m128i *>(p), bytes);

  // Verify from the stored bytes, as ggml reads them.
  const __m128i lo = _mm_and_si128(bytes, _mm_set1_epi8(0x0F));
  const __m128i hi =
      _mm_and_si128(_mm_srli_epi16(bytes, 4), _mm_set1_epi8(0x0F));
  const __m128i nib[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
  const __m256 vd = _mm256_set1_ps(hd), vs = _mm256_set1_ps(s),
               vo = _mm256_set1_ps(o), v8 = _mm256_set1_ps(8.0f);
  __m256 diff = _mm256_setzero_ps();
  for (int k = 0; k < 4; ++k) {
    const __m256 l = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(nib[k]));
    const __m256 y = _mm256_mul_ps(_mm256_sub_ps(l, v8), vd);
    const __m256 qf = _mm256_cvtepi32_ps(q[k]);
    const __m256 want = zeroPoint ? _mm256_mul_ps(vs, _mm256_sub_ps(qf, vo))
                                  : _mm256_add_ps(_mm256_mul_ps(vs, qf), vo);
    diff = _mm256_or_ps(diff, _mm256_cmp_ps(y, want, _CMP_NEQ_UQ));
  }
  return _mm256_testz_ps(diff, diff);
}
#endif

/// Packs rows [lo, hi) of levels of element type `T` into blocks of a type
/// with `Bits` bits per level and (when `WithMin`) a min; every block is
/// dequantized with ggml's formula right after it is packed and compared
/// with quantx's value. Returns the first failing row and its reason.
template <typename T, int Bits, bool WithMin>
std::pair<int64_t, std::string>
packRows(GGUFType type, const TypeShape &ts, const GGUFPackInput &in,
         const T *levels, int64_t numGroups, int64_t groupSize, int64_t lo,
         int64_t hi, uint8_t *out, const std::atomic<int64_t> &firstBad) {
  const size_t blockBytes = ggufTypeInfo(type).blockBytes;
  const size_t rowBytes = ggufRowSize(type, in.cols);
  const int64_t blocksPerRow = in.cols / kQK;
  const int64_t blocksPerGroup = groupSize / kQK;
  const bool zeroPoint = in.form == GGUFLevelForm::ZeroPoint;
  for (int64_t r = lo; r < hi; ++r) {
    if (r > firstBad.load(std::memory_order_relaxed))
      return {-1, {}};
    const T *q = levels + r * in.cols;
    uint8_t *rowOut = out + r * rowBytes;
    for (int64_t g0 = 0; g0 < numGroups; ++g0) {
      // Group parameters, checked and converted once per group.
      float s = in.scales[r * numGroups + g0];
      float o = in.offsets ? in.offsets[r * numGroups + g0] : 0.0f;
      const int32_t hs = exactFp16(s);
      if (hs < 0)
        return {r, where("scale", r, g0, s) + " is not an fp16 value"};
      if (!std::isfinite(o))
        return {r, where("offset", r, g0, o) + " is not finite"};
      int32_t shift = 0;
      float m = 0.0f;
      if (zeroPoint) {
        if (o != std::floor(o) || std::fabs(o) > 65536.0f)
          return {r, where("zero point", r, g0, o) + " is not a small integer"};
        if constexpr (WithMin) {
          m = -(s * o);
          if (!isFp16Value(m))
            return {r, where("min -scale * zero point", r, g0, m) +
                           " is not an fp16 value"};
        } else {
          shift = int32_t(o);
        }
      } else {
        if constexpr (WithMin) {
          if (!isFp16Value(o))
            return {r, where("min", r, g0, o) + " is not an fp16 value"};
          m = o;
        } else if (o != 0.0f) {
          return {r,
                  where("min", r, g0, o) + " is not 0 (the type has no min)"};
        }
      }
      uint8_t head[4];
      const uint16_t hm = uint16_t(exactFp16(m)); // m was checked (or is 0)
      // The values ggml reads back from the block's header.
      const float hd = fp16ToFloat(uint16_t(hs)), hmf = fp16ToFloat(hm);
      head[0] = uint8_t(hs);
      head[1] = uint8_t(hs >> 8);
      head[2] = uint8_t(hm);
      head[3] = uint8_t(hm >> 8);
      // Stored value: the level minus the zero point, offset to unsigned for
      // the 4/5-bit types (int8 as is for Q8_0).
      const int32_t bias = shift + (Bits == 8 ? 0 : ts.lo);
      const int64_t bEnd = std::min(blocksPerRow, (g0 + 1) * blocksPerGroup);
      for (int64_t b = g0 * blocksPerGroup; b < bEnd; ++b) {
        uint8_t *blk = rowOut + b * blockBytes;
#ifdef __AVX2__
        if constexpr (Bits == 4 && !WithMin) {
          std::memcpy(blk, head, 2);
          if (packQ4_0BlockAVX2(q + b * kQK, bias, s, o, zeroPoint, hd,
                                blk + 2))
            continue;
        }
#endif
        // The block's levels widened to int32 first: every loop below then
        // vectorizes the same way whatever the level type.
        int32_t qb[kQK];
        for (int j = 0; j < kQK; ++j)
          qb[j] = int32_t(q[b * kQK + j]);
        // Range check over the block first (branch-free, vectorizable), the
        // message only for a failing block.
        int32_t qlo = int32_t(qb[0]), qhi = int32_t(qb[0]);
        for (int j = 1; j < kQK; ++j) {
          qlo = std::min(qlo, int32_t(qb[j]));
          qhi = std::max(qhi, int32_t(qb[j]));
        }
        bool inRange =
            int64_t(qlo) - shift >= ts.lo && int64_t(qhi) - shift <= ts.hi;
        if (!inRange) {
          for (int j = 0; j < kQK; ++j) {
            int64_t level = int64_t(qb[j]) - shift;
            if (level >= ts.lo && level <= ts.hi)
              continue;
            std::ostringstream os;
            os << "level " << int64_t(qb[j]) << " at row " << r << ", column "
               << b * kQK + j << " is outside " << ggufTypeInfo(type).name
               << "'s range [" << ts.lo + shift << ", " << ts.hi + shift << "]";
            return {r, os.str()};
          }
        }
        int32_t u[kQK];
        for (int j = 0; j < kQK; ++j)
          u[j] = int32_t(qb[j]) - bias;
        std::memcpy(blk, head, WithMin ? 4 : 2);
        uint8_t *p = blk + (WithMin ? 4 : 2);
        if constexpr (Bits == 8) {
          for (int j = 0; j < kQK; ++j)
            p[j] = uint8_t(int8_t(u[j]));
        } else {
          if constexpr (Bits == 5) {
            uint32_t qh = 0;
            for (int j = 0; j < kQK; ++j)
              qh |= uint32_t((u[j] >> 4) & 1) << j;
            std::memcpy(p, &qh, 4); // little-endian host
            p += 4;
          }
          uint8_t nib[kQK / 2];
          for (int j = 0; j < kQK / 2; ++j)
            nib[j] = uint8_t((u[j] & 0xF) | ((u[j + kQK / 2] & 0xF) << 4));
          std::memcpy(p, nib, kQK / 2);
        }
        // Verify: ggml's dequantization of the packed block equals
        // quantx's values.
        float y[kQK];
        dequantizeBlock<Bits, WithMin>(blk, hd, hmf, y);
        int32_t diff = 0;
        if (zeroPoint) {
          for (int j = 0; j < kQK; ++j)
            diff |= int32_t(y[j] != s * (float(qb[j]) - o));
        } else {
          for (int j = 0; j < kQK; ++j)
            diff |= int32_t(y[j] != s * float(qb[j]) + o);
        }
        bool same = diff == 0;
        if (same)
          continue;
        for (int j = 0; j < kQK; ++j) {
          float want = ggufPackValue(in.form, int32_t(qb[j]), s, o);
          if (!(y[j] == want)) {
            std::ostringstream os;
            os.precision(9);
            os << "row " << r << ", column " << b * kQK + j << ": "
               << ggufTypeInfo(type).name << " gives " << y[j]
               << " where quantx has " << want;
            return {r, os.str()};
          }
        }
      }
    }
  }
  return {-1, {}};
}

template <typename T>
std::pair<int64_t, std::string>
packRowsAny(GGUFType type, const TypeShape &ts, const GGUFPackInput &in,
            const T *levels, int64_t numGroups, int64_t groupSize, int64_t lo,
            int64_t hi, uint8_t *out, const std::atomic<int64_t> &firstBad) {
  switch (type) {
  case GGUFType::Q8_0:
    return packRows<T, 8, false>(type, ts, in, levels, numGroups, groupSize, lo,
                                 hi, out, firstBad);
  case GGUFType::Q4_0:
    return packRows<T, 4, false>(type, ts, in, levels, numGroups, groupSize, lo,
                                 hi, out, firstBad);
  case GGUFType::Q5_0:
    return packRows<T, 5, false>(type, ts, in, levels, numGroups, groupSize, lo,
                                 hi, out, firstBad);
  case GGUFType::Q4_1:
    return packRows<T, 4, true>(type, ts, in, levels, numGroups, groupSize, lo,
                                hi, out, firstBad);
  default: // Q5_1 (shapeOf rejected the rest)
    return packRows<T, 5, true>(type, ts, in, levels, numGroups, groupSize, lo,
                                hi, out, firstBad);
  }
}

} // namespace

int64_t ggufPackNumGroups(const GGUFPackInput &in) {
  int64_t gs = in.groupSize <= 0 ? in.cols : in.groupSize;
  return gs == 0 ? 0 : (in.cols + gs - 1) / gs;
}

std::string packGGUFBlocks(GGUFType type, const GGUFPackInput &in,
                           uint8_t *out) {
  TypeShape ts = shapeOf(type);
  if (in.rows < 0 || in.cols < 0)
    throw std::invalid_argument("packGGUFBlocks: negative size");
  if (in.rows == 0 || in.cols == 0)
    return {};
  if (!in.levels || !in.scales || !out)
    throw std::invalid_argument("packGGUFBlocks: null pointer");
  if (in.cols % kQK != 0) {
    std::ostringstream os;
    os << "rows of " << in.cols << " elements are not a multiple of "
       << ggufTypeInfo(type).name << "'s block of " << kQK;
    return os.str();
  }
  int64_t groupSize = in.groupSize <= 0 ? in.cols : in.groupSize;
  if (groupSize % kQK != 0) {
    std::ostringstream os;
    os << "groups of " << groupSize << " do not split into blocks of " << kQK;
    return os.str();
  }
  const int64_t numGroups = ggufPackNumGroups(in);
  const size_t rowBytes = ggufRowSize(type, in.cols);

  // First failing row wins, so the message does not depend on threading.
  std::atomic<int64_t> firstBad{std::numeric_limits<int64_t>::max()};
  std::mutex mu;
  std::string reason;
  // Rows go out in chunks of about 64 Ki levels taken from a shared
  // counter, so a core that is also busy elsewhere (the file writer runs
  // beside the packer) delays only the chunks it takes.
  const int64_t chunkRows = std::max<int64_t>(1, 65536 / in.cols);
  const int64_t numChunks = (in.rows + chunkRows - 1) / chunkRows;
  std::atomic<int64_t> nextChunk{0};
  auto packChunk = [&](int64_t lo, int64_t hi) {
    std::pair<int64_t, std::string> bad;
    switch (in.levelType) {
    case GGUFLevelType::Int8:
      bad = packRowsAny(type, ts, in, static_cast<const int8_t *>(in.levels),
                        numGroups, groupSize, lo, hi, out, firstBad);
      break;
    case GGUFLevelType::UInt8:
      bad = packRowsAny(type, ts, in, static_cast<const uint8_t *>(in.levels),
                        numGroups, groupSize, lo, hi, out, firstBad);
      break;
    case GGUFLevelType::Int16:
      bad = packRowsAny(type, ts, in, static_cast<const int16_t *>(in.levels),
                        numGroups, groupSize, lo, hi, out, firstBad);
      break;
    default:
      bad = packRowsAny(type, ts, in, static_cast<const int32_t *>(in.levels),
                        numGroups, groupSize, lo, hi, out, firstBad);
      break;
    }
    if (bad.first < 0)
      return;
    std::lock_guard<std::mutex> lock(mu);
    if (bad.first < firstBad.load()) {
      firstBad.store(bad.first);
      reason = std::move(bad.second);
    }
  };
  parallelFor(0, std::min<int64_t>(numChunks, getNumThreads()), 1,
              [&](int64_t, int64_t) {
                for (int64_t c; (c = nextChunk.fetch_add(1)) < numChunks;)
                  packChunk(c * chunkRows,
                            std::min(in.rows, (c + 1) * chunkRows));
              });
  return reason;
}

} // namespace quantx
