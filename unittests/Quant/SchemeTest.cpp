//===- SchemeTest.cpp - Tests of schemes, parameters and rounding ---------===//
//
// Exact expectations for the storage ranges, the four rounding modes, the
// PyTorch-compatible parameter formulas (asymmetric, symmetric, zero range,
// eps clamp, scale dtypes), NaN / Inf / empty inputs, every granularity
// (per-tensor, per-axis on any axis, per-group with a partial last group),
// and argument errors. Values are chosen so that scales are exact in float32
// where the expectation is written by hand; the layout tests compare against
// an independent element-by-element evaluation.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/Scheme.h"

#include "quantx/Quant/Float16.h"
#include "quantx/Quant/Parallel.h"

#include <cfloat>
#include <cmath>
#include <gtest/gtest.h>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

using namespace quantx;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

QuantScheme scheme(int bits, bool isSigned, bool symmetric = false,
                   bool narrow = false) {
  QuantScheme s;
  s.bits = bits;
  s.isSigned = isSigned;
  s.symmetric = symmetric;
  s.narrowRange = narrow;
  return s;
}

TEST(SchemeTest, StorageRanges) {
  EXPECT_EQ(scheme(8, true).qmin(), -128);
  EXPECT_EQ(scheme(8, true).qmax(), 127);
  EXPECT_EQ(scheme(8, true, false, true).qmin(), -127);
  EXPECT_EQ(scheme(8, false).qmin(), 0);
  EXPECT_EQ(scheme(8, false).qmax(), 255);
  EXPECT_EQ(scheme(8, false, false, true).qmin(), 1);
  EXPECT_EQ(scheme(2, true).qmin(), -2);
  EXPECT_EQ(scheme(2, true).qmax(), 1);
  EXPECT_EQ(scheme(16, false).qmax(), 65535);
  EXPECT_EQ(scheme(16, true).qmin(), -32768);
  EXPECT_EQ(scheme(8, true).symmetricZeroPoint(), 0);
  EXPECT_EQ(scheme(8, true, true, true).symmetricZeroPoint(), 0);
  EXPECT_EQ(scheme(8, false).symmetricZeroPoint(), 128);
  EXPECT_EQ(scheme(4, false).symmetricZeroPoint(), 8);
  EXPECT_THROW(scheme(1, true).validate(), std::invalid_argument);
  EXPECT_THROW(scheme(17, false).validate(), std::invalid_argument);
}

TEST(SchemeTest, RoundingModes) {
  struct Case {
    float x, even, away, trunc, floor;
  } cases[] = {{2.5f, 2, 3, 2, 2},      {-2.5f, -2, -3, -2, -3},
               {1.5f, 2, 2, 1, 1},      {-1.5f, -2, -2, -1, -2},
               {0.5f, 0, 1, 0, 0},      {-0.5f, -0.0f, -1, -0.0f, -1},
               {2.7f, 3, 3, 2, 2},      {-2.3f, -2, -2, -2, -3},
               {0.49999997f, 0, 0, 0, 0}, {8388609.0f, 8388609.0f, 8388609.0f, 8388609.0f, 8388609.0f}};
  for (const Case &c : cases) {
    EXPECT_EQ(roundWith(c.x, RoundingMode::HalfToEven), c.even) << c.x;
    EXPECT_EQ(roundWith(c.x, RoundingMode::HalfAwayFromZero), c.away) << c.x;
    EXPECT_EQ(roundWith(c.x, RoundingMode::TowardZero), c.trunc) << c.x;
    EXPECT_EQ(roundWith(c.x, RoundingMode::Floor), c.floor) << c.x;
  }
  EXPECT_TRUE(std::isnan(roundWith(kNaN, RoundingMode::HalfAwayFromZero)));
  EXPECT_EQ(roundWith(kInf, RoundingMode::HalfAwayFromZero), kInf);
  EXPECT_EQ(roundWith(-kInf, RoundingMode::HalfToEven), -kInf);
  EXPECT_EQ(parseRoundingMode("half_away_from_zero"),
            RoundingMode::HalfAwayFromZero);
  EXPECT_STREQ(roundingModeName(RoundingMode::Floor), "floor");
  EXPECT_THROW(parseRoundingMode("nearest"), std::invalid_argument);
}

TEST(SchemeTest, QuantizeValueEdgeCases) {
  // scale 1, zp 0, int8.
  EXPECT_EQ(quantizeValue(kNaN, 1.0f, 0, -128, 127, RoundingMode::HalfToEven),
            0);
  EXPECT_EQ(quantizeValue(kNaN, 0.5f, 7, -128, 127, RoundingMode::Floor), 7);
  EXPECT_EQ(quantizeValue(kInf, 1.0f, 0, -128, 127, RoundingMode::HalfToEven),
            127);
  EXPECT_EQ(quantizeValue(-kInf, 1.0f, 3, -128, 127, RoundingMode::TowardZero),
            -128);
  EXPECT_EQ(quantizeValue(1e30f, 1.0f, 0, 0, 255, RoundingMode::HalfToEven),
            255);
  EXPECT_EQ(quantizeValue(-1e30f, 1.0f, 10, 0, 255, RoundingMode::HalfToEven),
            0);
  EXPECT_EQ(quantizeValue(2.5f, 1.0f, 0, -128, 127, RoundingMode::HalfToEven),
            2);
  EXPECT_EQ(quantizeValue(2.5f, 1.0f, 0, -128, 127,
                          RoundingMode::HalfAwayFromZero),
            3);
  EXPECT_EQ(quantizeValue(-1.25f, 0.5f, 10, 0, 255, RoundingMode::HalfToEven),
            8);
  EXPECT_EQ(quantizeValue(-1.25f, 0.5f, 10, 0, 255,
                          RoundingMode::HalfAwayFromZero),
            7);
  EXPECT_EQ(quantizeValue(-1.25f, 0.5f, 10, 0, 255, RoundingMode::Floor), 7);
  EXPECT_EQ(quantizeValue(-1.25f, 0.5f, 10, 0, 255, RoundingMode::TowardZero),
            8);
}

void params(Range r, const QuantScheme &s, float &scale, int32_t &zp) {
  computeScaleZeroPoint(r, s, scale, zp);
}

TEST(SchemeTest, AsymmetricParams) {
  float scale;
  int32_t zp;
  params({-1.0f, 2.0f}, scheme(2, false), scale, zp);
  EXPECT_EQ(scale, 1.0f);
  EXPECT_EQ(zp, 1);
  params({-3.0f, 12.0f}, scheme(4, true), scale, zp);
  EXPECT_EQ(scale, 1.0f);
  EXPECT_EQ(zp, -5);
  // Range is extended to include 0.
  params({0.5f, 3.0f}, scheme(4, false), scale, zp);
  EXPECT_EQ(scale, 3.0f / 15.0f);
  EXPECT_EQ(zp, 0);
  params({-6.0f, -1.0f}, scheme(3, false), scale, zp);
  EXPECT_EQ(scale, 6.0f / 7.0f);
  EXPECT_EQ(zp, 7);
  // Narrow range: 254 steps.
  params({-127.0f, 127.0f}, scheme(8, true, false, true), scale, zp);
  EXPECT_EQ(scale, 1.0f);
  EXPECT_EQ(zp, 0);
  // The zero point uses half-to-even: min/scale = -2.5 -> -2.
  params({-2.5f, 0.5f}, scheme(2, false), scale, zp);
  EXPECT_EQ(scale, 1.0f);
  EXPECT_EQ(zp, 2);
}

TEST(SchemeTest, SymmetricParams) {
  float scale;
  int32_t zp;
  params({-1.0f, 2.0f}, scheme(8, true, true), scale, zp);
  EXPECT_EQ(scale, 2.0f / 127.5f);
  EXPECT_EQ(zp, 0);
  params({-3.0f, 2.0f}, scheme(8, false, true), scale, zp);
  EXPECT_EQ(scale, 3.0f / 127.5f);
  EXPECT_EQ(zp, 128);
  params({-1.0f, 127.0f}, scheme(8, true, true, true), scale, zp);
  EXPECT_EQ(scale, 1.0f);
  EXPECT_EQ(zp, 0);
  params({0.0f, 3.0f}, scheme(3, true, true), scale, zp);
  EXPECT_EQ(scale, 3.0f / 3.5f);
  EXPECT_EQ(zp, 0);
}

TEST(SchemeTest, ZeroRangeAndEps) {
  float scale;
  int32_t zp;
  // Zero range: scale 1, zero point of real 0.
  params({0.0f, 0.0f}, scheme(8, true), scale, zp);
  EXPECT_EQ(scale, 1.0f);
  EXPECT_EQ(zp, -128);
  params({0.0f, 0.0f}, scheme(8, false), scale, zp);
  EXPECT_EQ(scale, 1.0f);
  EXPECT_EQ(zp, 0);
  params({0.0f, 0.0f}, scheme(8, false, true), scale, zp);
  EXPECT_EQ(scale, 1.0f);
  EXPECT_EQ(zp, 128);
  // Constant tensor: the range becomes [0, c].
  params({3.0f, 3.0f}, scheme(2, false), scale, zp);
  EXPECT_EQ(scale, 1.0f);
  EXPECT_EQ(zp, 0);
  params({-3.0f, -3.0f}, scheme(2, false), scale, zp);
  EXPECT_EQ(scale, 1.0f);
  EXPECT_EQ(zp, 3);
  // Tiny non-zero range: clamped to FLT_EPSILON.
  params({0.0f, 1e-10f}, scheme(8, true), scale, zp);
  EXPECT_EQ(scale, FLT_EPSILON);
  EXPECT_EQ(zp, -128);
  params({-1e-10f, 1e-10f}, scheme(8, true, true), scale, zp);
  EXPECT_EQ(scale, FLT_EPSILON);
}

TEST(SchemeTest, ScaleDtypes) {
  EXPECT_EQ(roundScale(0.1f, ScaleType::F32), 0.1f);
  EXPECT_EQ(roundScale(0.1f, ScaleType::F16), 0.0999755859375f);
  EXPECT_EQ(roundScale(0.1f, ScaleType::BF16), 0.10009765625f);
  // Rounds to 0 -> smallest positive normal of the dtype.
  EXPECT_EQ(roundScale(1e-9f, ScaleType::F16), 6.103515625e-05f);
  EXPECT_EQ(roundScale(1e-45f, ScaleType::BF16), FLT_MIN);
  EXPECT_EQ(roundScale(1e-45f, ScaleType::F32), 1e-45f);
  // Overflow -> largest finite.
  EXPECT_EQ(roundScale(1e6f, ScaleType::F16), 65504.0f);
  // The zero point is computed from the rounded scale.
  QuantScheme s = scheme(8, false);
  s.scaleType = ScaleType::F16;
  float scale;
  int32_t zp;
  params({-1.0f, 2.0f}, s, scale, zp);
  float expected = roundToFp16(3.0f / 255.0f);
  EXPECT_EQ(scale, expected);
  EXPECT_EQ(zp, int32_t(-std::nearbyint(-1.0f / expected)));
  EXPECT_EQ(zp, 85);
}

TEST(SchemeTest, BadRanges) {
  float scale;
  int32_t zp;
  EXPECT_THROW(params({1.0f, 0.0f}, scheme(8, true), scale, zp),
               std::invalid_argument);
  EXPECT_THROW(params({kNaN, 1.0f}, scheme(8, true), scale, zp),
               std::invalid_argument);
  EXPECT_THROW(params({0.0f, kInf}, scheme(8, true), scale, zp),
               std::invalid_argument);
}

TEST(SchemeTest, PerTensorQuantize) {
  QuantScheme s = scheme(2, false); // [0, 3]
  std::vector<float> x = {-1.0f, 0.0f, 0.5f, 1.5f, 2.0f, 7.0f, kNaN, kInf,
                          -kInf};
  std::vector<int64_t> dims = {3, 3};
  QuantParams p = computeParamsFromData(x.data(), dims, s);
  // NaN and +-Inf are ignored by the range: [-1, 7] -> scale 8/3.
  ASSERT_EQ(p.scales.size(), 1u);
  EXPECT_TRUE(p.shape.empty());
  EXPECT_EQ(p.scales[0], 8.0f / 3.0f);
  EXPECT_EQ(p.zeroPoints[0], 0); // 0 - round(-0.375) = 0
  p.scales[0] = 1.0f;
  p.zeroPoints[0] = 1;
  std::vector<int32_t> q(x.size());
  quantize(x.data(), dims, s, p, q.data());
  std::vector<int32_t> expected = {0, 1, 1, 3, 3, 3, 1, 3, 0};
  EXPECT_EQ(q, expected);
  std::vector<float> deq(x.size()), fq(x.size());
  dequantize(q.data(), dims, s, p, deq.data());
  std::vector<float> expectedDeq = {-1, 0, 0, 2, 2, 2, 0, 2, -1};
  EXPECT_EQ(deq, expectedDeq);
  fakeQuantize(x.data(), dims, s, p, fq.data());
  EXPECT_EQ(fq, expectedDeq);
  s.rounding = RoundingMode::HalfAwayFromZero;
  quantize(x.data(), dims, s, p, q.data());
  expected = {0, 1, 2, 3, 3, 3, 1, 3, 0};
  EXPECT_EQ(q, expected);
}

TEST(SchemeTest, EmptyTensors) {
  QuantScheme s = scheme(8, true);
  std::vector<int64_t> dims = {0, 3};
  QuantParams p = computeParamsFromData(nullptr, dims, s);
  EXPECT_EQ(p.scales, std::vector<float>{1.0f});
  EXPECT_EQ(p.zeroPoints, std::vector<int32_t>{-128});
  quantize(nullptr, dims, s, p, nullptr);
  dequantize(nullptr, dims, s, p, nullptr);
  s.granularity = Granularity::PerAxis;
  s.axis = 1;
  p = computeParamsFromData(nullptr, dims, s);
  EXPECT_EQ(p.shape, std::vector<int64_t>{3});
  EXPECT_EQ(p.scales, std::vector<float>(3, 1.0f));
  s.granularity = Granularity::PerGroup;
  s.axis = 0;
  s.groupSize = 4;
  p = computeParamsFromData(nullptr, dims, s);
  EXPECT_EQ(p.shape, (std::vector<int64_t>{0, 3}));
  EXPECT_TRUE(p.scales.empty());
}

TEST(SchemeTest, PerAxisParams) {
  // 2x3, unsigned 2-bit [0, 3].
  std::vector<float> x = {-1, 2, 0, 0, 3, 6};
  std::vector<int64_t> dims = {2, 3};
  QuantScheme s = scheme(2, false);
  s.granularity = Granularity::PerAxis;
  s.axis = 0; // rows: [-1, 2] -> (1, 1); [0, 6] -> (2, 0)
  QuantParams p = computeParamsFromData(x.data(), dims, s);
  EXPECT_EQ(p.shape, std::vector<int64_t>{2});
  EXPECT_EQ(p.scales, (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(p.zeroPoints, (std::vector<int32_t>{1, 0}));
  std::vector<int32_t> q(6);
  quantize(x.data(), dims, s, p, q.data());
  EXPECT_EQ(q, (std::vector<int32_t>{0, 3, 1, 0, 2, 3}));
  s.axis = -1; // columns: [-1, 0] -> (1/3, 3); [2, 3] -> (1, 0); [0, 6]
  p = computeParamsFromData(x.data(), dims, s);
  EXPECT_EQ(p.shape, std::vector<int64_t>{3});
  EXPECT_EQ(p.scales, (std::vector<float>{1.0f / 3.0f, 1.0f, 2.0f}));
  EXPECT_EQ(p.zeroPoints, (std::vector<int32_t>{3, 0, 0}));
  quantize(x.data(), dims, s, p, q.data());
  EXPECT_EQ(q, (std::vector<int32_t>{0, 2, 0, 3, 3, 3}));
  s.axis = 2;
  EXPECT_THROW(computeParamsFromData(x.data(), dims, s),
               std::invalid_argument);
}

TEST(SchemeTest, PerGroupParams) {
  // 2x5, groups of 2 along axis 1: groups {0,1}, {2,3}, {4} (partial).
  std::vector<float> x = {-1, 2, 0, 3, 9, 1, 1, -3, -3, 0};
  std::vector<int64_t> dims = {2, 5};
  QuantScheme s = scheme(2, false);
  s.granularity = Granularity::PerGroup;
  s.axis = 1;
  s.groupSize = 2;
  QuantParams p = computeParamsFromData(x.data(), dims, s);
  EXPECT_EQ(p.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(p.scales, (std::vector<float>{1, 1, 3, 1.0f / 3.0f, 1, 1}));
  EXPECT_EQ(p.zeroPoints, (std::vector<int32_t>{1, 0, 0, 0, 3, 0}));
  // Groups of 2 rows along axis 0 of the transposed 5x2 tensor.
  std::vector<float> xt = {-1, 1, 2, 1, 0, -3, 3, -3, 9, 0};
  s.axis = 0;
  QuantParams pt = computeParamsFromData(xt.data(), {5, 2}, s);
  EXPECT_EQ(pt.shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(pt.scales, (std::vector<float>{1, 1.0f / 3.0f, 1, 1, 3, 1}));
  EXPECT_EQ(pt.zeroPoints, (std::vector<int32_t>{1, 0, 0, 3, 0, 0}));
  s.groupSize = 0;
  EXPECT_THROW(computeParamsFromData(x.data(), dims, s),
               std::invalid_argument);
}

TEST(SchemeTest, ParamCountMismatchAndBadCodes) {
  QuantScheme s = scheme(8, true);
  s.granularity = Granularity::PerAxis;
  s.axis = 0;
  std::vector<float> x(6, 1.0f);
  QuantParams p;
  p.scales = {1.0f};
  p.zeroPoints = {0};
  std::vector<int32_t> q(6);
  EXPECT_THROW(quantize(x.data(), {2, 3}, s, p, q.data()),
               std::invalid_argument);
  p.scales = {1.0f, 0.0f};
  p.zeroPoints = {0, 0};
  EXPECT_THROW(quantize(x.data(), {2, 3}, s, p, q.data()),
               std::invalid_argument);
  p.scales = {1.0f, 1.0f};
  q = {0, 1, 2, 3, 200, 5};
  std::vector<float> out(6);
  EXPECT_THROW(dequantize(q.data(), {2, 3}, s, p, out.data()),
               std::invalid_argument);
  EXPECT_THROW(quantize(x.data(), {2, -3}, s, p, q.data()),
               std::invalid_argument);
}

/// Element-by-element reference: parameter index of element `flat`.
int64_t refParamIndex(const std::vector<int64_t> &dims, const QuantScheme &s,
                      int64_t flat) {
  if (s.granularity == Granularity::PerTensor)
    return 0;
  int64_t rank = dims.size();
  int64_t axis = s.axis < 0 ? s.axis + rank : s.axis;
  std::vector<int64_t> idx(rank);
  for (int64_t i = rank - 1; i >= 0; --i) {
    idx[i] = flat % dims[i];
    flat /= dims[i];
  }
  if (s.granularity == Granularity::PerAxis)
    return idx[axis];
  std::vector<int64_t> pdims = dims;
  pdims[axis] = (dims[axis] + s.groupSize - 1) / s.groupSize;
  idx[axis] /= s.groupSize;
  int64_t p = 0;
  for (int64_t i = 0; i < rank; ++i)
    p = p * pdims[i] + idx[i];
  return p;
}

TEST(SchemeTest, AllLayoutsMatchElementwiseReference) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<int64_t> dims = {3, 37, 301};
  int64_t n = 3 * 37 * 301;
  std::vector<float> x(n);
  for (float &v : x)
    v = normal(rng);
  x[5] = kNaN;
  x[77] = kInf;
  x[999] = -kInf;
  for (Granularity g :
       {Granularity::PerTensor, Granularity::PerAxis, Granularity::PerGroup})
    for (int64_t axis : {0, 1, 2, -1})
      for (int64_t group : {1, 8, 32, 301})
        for (RoundingMode m :
             {RoundingMode::HalfToEven, RoundingMode::HalfAwayFromZero,
              RoundingMode::TowardZero, RoundingMode::Floor})
          for (bool sym : {false, true}) {
            if (g != Granularity::PerGroup && group != 8)
              continue;
            QuantScheme s = scheme(sym ? 4 : 3, !sym, sym);
            s.granularity = g;
            s.axis = axis;
            s.groupSize = group;
            s.rounding = m;
            QuantParams p = computeParamsFromData(x.data(), dims, s);
            // Independent ranges.
            std::vector<Range> r(p.scales.size(), Range{kInf, -kInf});
            for (int64_t i = 0; i < n; ++i) {
              if (!std::isfinite(x[i]))
                continue;
              Range &rr = r[refParamIndex(dims, s, i)];
              rr.min = std::min(rr.min, x[i]);
              rr.max = std::max(rr.max, x[i]);
            }
            std::vector<int32_t> q(n);
            std::vector<float> deq(n), fq(n);
            quantize(x.data(), dims, s, p, q.data());
            dequantize(q.data(), dims, s, p, deq.data());
            fakeQuantize(x.data(), dims, s, p, fq.data());
            for (size_t k = 0; k < r.size(); ++k) {
              if (r[k].min > r[k].max) // no finite value
                r[k] = Range{0.0f, 0.0f};
              float sc;
              int32_t zp;
              computeScaleZeroPoint(r[k], s, sc, zp);
              ASSERT_EQ(sc, p.scales[k]);
              ASSERT_EQ(zp, p.zeroPoints[k]);
            }
            for (int64_t i = 0; i < n; ++i) {
              int64_t k = refParamIndex(dims, s, i);
              int32_t code = quantizeValue(x[i], p.scales[k], p.zeroPoints[k],
                                           s.qmin(), s.qmax(), m);
              ASSERT_EQ(q[i], code) << i;
              float v = float(code - p.zeroPoints[k]) * p.scales[k];
              ASSERT_EQ(deq[i], v);
              ASSERT_EQ(fq[i], v);
            }
          }
}

TEST(SchemeTest, ResultsDoNotDependOnThreadCount) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<int64_t> dims = {64, 5000};
  std::vector<float> x(64 * 5000);
  for (float &v : x)
    v = normal(rng);
  for (int layout = 0; layout < 3; ++layout) {
    QuantScheme s = scheme(8, true);
    if (layout == 1) {
      s.granularity = Granularity::PerAxis;
      s.axis = 1;
    } else if (layout == 2) {
      s.granularity = Granularity::PerGroup;
      s.axis = 1;
      s.groupSize = 128;
    }
    std::vector<int32_t> q1(x.size()), q2(x.size());
    std::vector<float> f1(x.size()), f2(x.size());
    setNumThreads(1);
    QuantParams p1 = computeParamsFromData(x.data(), dims, s);
    quantize(x.data(), dims, s, p1, q1.data());
    fakeQuantize(x.data(), dims, s, p1, f1.data());
    setNumThreads(2);
    QuantParams p2 = computeParamsFromData(x.data(), dims, s);
    quantize(x.data(), dims, s, p2, q2.data());
    fakeQuantize(x.data(), dims, s, p2, f2.data());
    setNumThreads(0);
    EXPECT_EQ(p1.scales, p2.scales);
    EXPECT_EQ(p1.zeroPoints, p2.zeroPoints);
    EXPECT_EQ(q1, q2);
    EXPECT_EQ(f1, f2);
  }
}

} // namespace
