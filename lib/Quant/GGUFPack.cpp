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
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <sstream>
#include <stdexcept>
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

/// True when `x` is finite and an fp16 value (converting it loses nothing).
bool isFp16Value(float x) {
  // Bitwise round trip: the same value and sign (NaN never matches).
  return std::isfinite(x) &&
         floatBits(fp16ToFloat(floatToFp16(x))) == floatBits(x);
}

void putFp16(uint8_t *p, float x) {
  uint16_t h = floatToFp16(x);
  std::memcpy(p, &h, 2);
}

std::string where(const char *what, int64_t row, int64_t group, double v) {
  std::ostringstream os;
  os.precision(9);
  os << what << " of row " << row << ", group " << group << " (" << v << ")";
  return os.str();
}

/// Packs row `r`; returns a reason on failure.
std::string packRow(GGUFType type, const TypeShape &ts, const GGUFPackInput &in,
                    int64_t numGroups, int64_t groupSize, int64_t r,
                    uint8_t *out, float *scratch) {
  const size_t blockBytes = ggufTypeInfo(type).blockBytes;
  const int32_t *q = in.levels + r * in.cols;
  for (int64_t b = 0; b < in.cols / kQK; ++b) {
    int64_t g = b * kQK / groupSize;
    float s = in.scales[r * numGroups + g];
    float o = in.offsets ? in.offsets[r * numGroups + g] : 0.0f;
    if (!isFp16Value(s))
      return where("scale", r, g, s) + " is not an fp16 value";
    if (!std::isfinite(o))
      return where("offset", r, g, o) + " is not finite";
    // Level shift (integer zero point) and min of the block.
    int64_t shift = 0;
    float m = 0.0f;
    if (in.form == GGUFLevelForm::ZeroPoint) {
      if (o != std::floor(o) || std::fabs(o) > 65536.0f)
        return where("zero point", r, g, o) + " is not a small integer";
      if (ts.withMin) {
        m = -(s * o);
        if (!isFp16Value(m))
          return where("min -scale * zero point", r, g, m) +
                 " is not an fp16 value";
      } else {
        shift = int64_t(o);
      }
    } else {
      if (ts.withMin) {
        if (!isFp16Value(o))
          return where("min", r, g, o) + " is not an fp16 value";
        m = o;
      } else if (o != 0.0f) {
        return where("min", r, g, o) + " is not 0 (the type has no min)";
      }
    }
    uint8_t *blk = out + b * blockBytes;
    std::memset(blk, 0, blockBytes);
    putFp16(blk, s);
    uint8_t *p = blk + 2;
    if (ts.withMin) {
      putFp16(p, m);
      p += 2;
    }
    // Range check over the block first (branch-free, vectorizable), the
    // message only for a failing block.
    const int32_t *qb = q + b * kQK;
    int32_t qlo = qb[0], qhi = qb[0];
    for (int j = 1; j < kQK; ++j) {
      qlo = std::min(qlo, qb[j]);
      qhi = std::max(qhi, qb[j]);
    }
    if (int64_t(qlo) - shift < ts.lo || int64_t(qhi) - shift > ts.hi) {
      for (int j = 0; j < kQK; ++j) {
        int64_t level = int64_t(qb[j]) - shift;
        if (level >= ts.lo && level <= ts.hi)
          continue;
        std::ostringstream os;
        os << "level " << qb[j] << " at row " << r << ", column " << b * kQK + j
           << " is outside " << ggufTypeInfo(type).name << "'s range ["
           << ts.lo + shift << ", " << ts.hi + shift << "]";
        return os.str();
      }
    }
    // Stored value: the level minus the zero point, offset to unsigned for
    // the 4/5-bit types (int8 as is for Q8_0).
    const int32_t bias = int32_t(shift) + (ts.bits == 8 ? 0 : ts.lo);
    int32_t u[kQK];
    for (int j = 0; j < kQK; ++j)
      u[j] = qb[j] - bias;
    if (ts.bits == 8) {
      for (int j = 0; j < kQK; ++j)
        p[j] = uint8_t(int8_t(u[j]));
      continue;
    }
    if (ts.bits == 5) {
      uint32_t qh = 0;
      for (int j = 0; j < kQK; ++j)
        qh |= uint32_t((u[j] >> 4) & 1) << j;
      std::memcpy(p, &qh, 4); // little-endian host
      p += 4;
    }
    for (int j = 0; j < kQK / 2; ++j)
      p[j] = uint8_t((u[j] & 0xF) | ((u[j + kQK / 2] & 0xF) << 4));
  }
  // Verify: ggml's dequantization of the packed row equals quantx's values.
  dequantizeRow(type, out, scratch, in.cols);
  for (int64_t b = 0; b < in.cols / kQK; ++b) {
    int64_t g = b * kQK / groupSize;
    float s = in.scales[r * numGroups + g];
    float o = in.offsets ? in.offsets[r * numGroups + g] : 0.0f;
    const float *y = scratch + b * kQK;
    const int32_t *qb = q + b * kQK;
    bool same = true;
    if (in.form == GGUFLevelForm::ZeroPoint) {
      for (int j = 0; j < kQK; ++j)
        same &= y[j] == s * (float(qb[j]) - o);
    } else {
      for (int j = 0; j < kQK; ++j)
        same &= y[j] == s * float(qb[j]) + o;
    }
    if (same)
      continue;
    for (int j = 0; j < kQK; ++j) {
      float want = ggufPackValue(in.form, qb[j], s, o);
      if (!(y[j] == want)) {
        std::ostringstream os;
        os.precision(9);
        os << "row " << r << ", column " << b * kQK + j << ": "
           << ggufTypeInfo(type).name << " gives " << y[j]
           << " where quantx has " << want;
        return os.str();
      }
    }
  }
  return {};
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
  parallelFor(0, in.rows, std::max<int64_t>(1, 65536 / in.cols),
              [&](int64_t lo, int64_t hi) {
                std::vector<float> scratch(size_t(in.cols));
                for (int64_t r = lo; r < hi; ++r) {
                  if (r > firstBad.load(std::memory_order_relaxed))
                    return;
                  std::string why =
                      packRow(type, ts, in, numGroups, groupSize, r,
                              out + r * rowBytes, scratch.data());
                  if (!why.empty()) {
                    std::lock_guard<std::mutex> lock(mu);
                    if (r < firstBad.load()) {
                      firstBad.store(r);
                      reason = std::move(why);
                    }
                    return;
                  }
                }
              });
  return reason;
}

} // namespace quantx
