//===- RTNTest.cpp - Tests of the reference quantizer and RTN -------------===//
//
// Hand-computed parameters and codes for every branch of the reference
// quantizer's find_params (sym/asym, zero range, the symmetric non-negative
// quirk, trits, per-tensor, MSE clipping), grouped RTN, and argument errors.
// Values are chosen so that every scale is exact in float32.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/RTN.h"

#include <cmath>
#include <gtest/gtest.h>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

using namespace quantx;

namespace {

QuantizerConfig config(int bits, bool sym, bool perChannel = true) {
  QuantizerConfig c;
  c.bits = bits;
  c.sym = sym;
  c.perChannel = perChannel;
  return c;
}

TEST(RTNTest, AsymmetricTwoBitRoundsHalfToEven) {
  // xmin = -1, xmax = 2: scale = 3 / 3 = 1, zero = round(1 / 1) = 1.
  std::vector<float> w = {-1.0f, 0.0f, 0.5f, 2.0f, 1.5f};
  RTNResult r = quantizeRTN(w.data(), 1, 5, config(2, false));
  EXPECT_EQ(r.scales[0], 1.0f);
  EXPECT_EQ(r.zeros[0], 1.0f);
  // 0.5 rounds to 0 and 1.5 to 2 (half to even), before adding the zero.
  EXPECT_EQ(r.codes, (std::vector<uint8_t>{0, 1, 1, 3, 3}));
  EXPECT_EQ(r.dequantized, (std::vector<float>{-1, 0, 0, 2, 2}));
}

TEST(RTNTest, SymmetricEightBit) {
  // xmax = 127.5, xmin = -127.5: scale = 255 / 255 = 1, zero = 128.
  std::vector<float> w = {-127.5f, 3.5f, 2.5f, 100.0f, 127.5f};
  RTNResult r = quantizeRTN(w.data(), 1, 5, config(8, true));
  EXPECT_EQ(r.scales[0], 1.0f);
  EXPECT_EQ(r.zeros[0], 128.0f);
  EXPECT_EQ(r.codes, (std::vector<uint8_t>{0, 132, 130, 228, 255}));
  EXPECT_EQ(r.dequantized, (std::vector<float>{-128, 4, 2, 100, 127}));
}

TEST(RTNTest, SymmetricNonNegativeRowKeepsReferenceQuirk) {
  // No negative value: xmin stays 0, so scale = xmax / maxq = 1 while the
  // zero point is (maxq + 1) / 2 = 2; values above 1 saturate to code 3.
  std::vector<float> w = {0.0f, 1.0f, 3.0f};
  RTNResult r = quantizeRTN(w.data(), 1, 3, config(2, true));
  EXPECT_EQ(r.scales[0], 1.0f);
  EXPECT_EQ(r.zeros[0], 2.0f);
  EXPECT_EQ(r.codes, (std::vector<uint8_t>{2, 3, 3}));
  EXPECT_EQ(r.dequantized, (std::vector<float>{0, 1, 1}));
}

TEST(RTNTest, ZeroRowUsesUnitRange) {
  std::vector<float> w = {0.0f, 0.0f, -0.0f};
  RTNResult sym = quantizeRTN(w.data(), 1, 3, config(2, true));
  EXPECT_EQ(sym.scales[0], 2.0f / 3.0f);
  EXPECT_EQ(sym.zeros[0], 2.0f);
  RTNResult asym = quantizeRTN(w.data(), 1, 3, config(3, false));
  // xmin = -1, xmax = 1: scale = 2 / 7, zero = round(1 / (2 / 7)) = 3
  // (3.5 in exact arithmetic, but 2/7 rounds up in float32, so the
  // quotient is 3.4999998).
  EXPECT_EQ(asym.scales[0], 2.0f / 7.0f);
  EXPECT_EQ(asym.zeros[0], 3.0f);
  for (float v : asym.dequantized)
    EXPECT_EQ(v, 0.0f);
  for (float v : sym.dequantized)
    EXPECT_EQ(v, 0.0f);
}

TEST(RTNTest, ConstantRowsIncludeZeroInRange) {
  // A constant positive row: range [0, 4]; asym 2-bit scale 4/3, zero 0.
  std::vector<float> w = {4.0f, 4.0f, 4.0f, -6.0f, -6.0f, -6.0f};
  RTNResult r = quantizeRTN(w.data(), 2, 3, config(2, false));
  EXPECT_EQ(r.scales[0], 4.0f / 3.0f);
  EXPECT_EQ(r.zeros[0], 0.0f);
  EXPECT_EQ(r.dequantized[0], 4.0f);
  // A constant negative row: range [-6, 0]: scale 2, zero round(3) = 3.
  EXPECT_EQ(r.scales[1], 2.0f);
  EXPECT_EQ(r.zeros[1], 3.0f);
  EXPECT_EQ(r.codes[3], 0);
  EXPECT_EQ(r.dequantized[3], -6.0f);
}

TEST(RTNTest, Trits) {
  QuantizerConfig c = config(2, false);
  c.trits = true;
  EXPECT_EQ(c.maxq(), -1);
  std::vector<float> w = {-2.0f, -0.5f, 0.4f, 3.0f, 1.5f, -1.0f};
  RTNResult r = quantizeRTN(w.data(), 1, 6, c);
  // scale = xmax = 3, zero = xmin = -2: x > 1.5 -> 3, x < -1 -> -2, else 0.
  EXPECT_EQ(r.scales[0], 3.0f);
  EXPECT_EQ(r.zeros[0], -2.0f);
  EXPECT_EQ(r.codes, (std::vector<uint8_t>{0, 1, 1, 2, 1, 1}));
  EXPECT_EQ(r.dequantized, (std::vector<float>{-2, 0, 0, 3, 0, 0}));
}

TEST(RTNTest, PerTensorSharesOneScale) {
  // Over both rows: xmin = -4, xmax = 2: scale = 2, zero = round(2) = 2.
  std::vector<float> w = {1.0f, 2.0f, -4.0f, 0.0f};
  RTNResult r = quantizeRTN(w.data(), 2, 2, config(2, false, false));
  EXPECT_EQ(r.scales, (std::vector<float>{2.0f, 2.0f}));
  EXPECT_EQ(r.zeros, (std::vector<float>{2.0f, 2.0f}));
  // 1 / 2 = 0.5 rounds to 0 (half to even).
  EXPECT_EQ(r.dequantized, (std::vector<float>{0, 2, -4, 0}));
}

TEST(RTNTest, GroupsAlongColumns) {
  // Groups of 2 (the last one has 1 column).
  std::vector<float> w = {-1.0f, 2.0f, 0.0f, 6.0f, 3.0f};
  RTNResult r = quantizeRTN(w.data(), 1, 5, config(2, false), 2);
  ASSERT_EQ(r.numGroups, 3);
  EXPECT_EQ(r.scales, (std::vector<float>{1.0f, 2.0f, 1.0f}));
  EXPECT_EQ(r.zeros, (std::vector<float>{1.0f, 0.0f, 0.0f}));
  EXPECT_EQ(r.dequantized, (std::vector<float>{-1, 2, 0, 6, 3}));
  // A group size larger than the row is one group.
  RTNResult whole = quantizeRTN(w.data(), 1, 5, config(2, false), 64);
  EXPECT_EQ(whole.numGroups, 1);
  EXPECT_EQ(whole.groupSize, 5);
}

TEST(RTNTest, MseSearchClipsOutliers) {
  // Many small values and one outlier: clipping lowers the 2.4-norm error.
  std::vector<float> w(64);
  std::mt19937 rng(3);
  std::normal_distribution<float> dist;
  for (float &v : w)
    v = 0.1f * dist(rng);
  w[5] = 4.0f;
  QuantizerConfig plain = config(3, false);
  QuantizerConfig mse = plain;
  mse.mse = true;
  float s0, z0, s1, z1;
  findQuantParams(plain, w.data(), 1, 64, 64, &s0, &z0);
  findQuantParams(mse, w.data(), 1, 64, 64, &s1, &z1);
  EXPECT_LT(s1, s0);
  // The chosen scale is one of the grid's candidates p * range / maxq.
  float xmin = 0, xmax = 0;
  for (float v : w) {
    xmin = std::min(xmin, v);
    xmax = std::max(xmax, v);
  }
  bool onGrid = false;
  for (int i = 0; i < 80; ++i) {
    float p = float(1.0 - i / 100.0);
    if ((p * xmax - p * xmin) / 7.0f == s1)
      onGrid = true;
  }
  EXPECT_TRUE(onGrid);
  auto err = [&](float s, float z) {
    double e = 0;
    for (float v : w)
      e += std::pow(
          std::fabs(dequantizeCode(quantizeCode(v, s, z, 7), s, z, 7) - v),
          2.4);
    return e;
  };
  EXPECT_LT(err(s1, z1), err(s0, z0));
}

TEST(RTNTest, ResultsDoNotDependOnThreads) {
  std::vector<float> w(37 * 300);
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  for (float &v : w)
    v = dist(rng);
  QuantizerConfig c = config(4, false);
  c.mse = true;
  RTNResult a = quantizeRTN(w.data(), 37, 300, c, 128);
  RTNResult b = quantizeRTN(w.data(), 37, 300, c, 128);
  EXPECT_EQ(a.codes, b.codes);
  EXPECT_EQ(a.scales, b.scales);
}

TEST(RTNTest, RejectsBadInput) {
  std::vector<float> w = {1.0f, 2.0f};
  EXPECT_THROW(quantizeRTN(w.data(), 1, 2, config(1, false)),
               std::invalid_argument);
  EXPECT_THROW(quantizeRTN(w.data(), 1, 2, config(9, true)),
               std::invalid_argument);
  EXPECT_THROW(quantizeRTN(w.data(), 0, 2, config(4, true)),
               std::invalid_argument);
  EXPECT_THROW(quantizeRTN(nullptr, 1, 2, config(4, true)),
               std::invalid_argument);
  QuantizerConfig c = config(4, true);
  c.trits = true;
  c.mse = true;
  EXPECT_THROW(quantizeRTN(w.data(), 1, 2, c), std::invalid_argument);
  std::vector<float> bad = {1.0f, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_THROW(quantizeRTN(bad.data(), 1, 2, config(4, true)),
               std::invalid_argument);
  bad[1] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(quantizeRTN(bad.data(), 1, 2, config(4, false)),
               std::invalid_argument);
}

TEST(RTNTest, UnderflowingRangeIsTreatedAsZeroRange) {
  // (xmax - xmin) / 255 underflows to zero for the smallest subnormal.
  std::vector<float> w = {std::numeric_limits<float>::denorm_min(), 0.0f};
  RTNResult r = quantizeRTN(w.data(), 1, 2, config(8, false));
  EXPECT_GT(r.scales[0], 0.0f);
  EXPECT_EQ(r.dequantized[1], 0.0f);
}

} // namespace
