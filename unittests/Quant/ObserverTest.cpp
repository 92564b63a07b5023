//===- ObserverTest.cpp - Tests of the range observers --------------------===//
//
// Hand-computed ranges for min/max, moving average and their per-channel
// variants, the power-of-two histogram grid (growth, re-binning, quantiles),
// a hand-worked entropy (KL) case and MSE error, exact merge equivalence for
// every observer, and Gaussian data with outliers where the percentile,
// entropy and MSE observers clip the range and min/max does not.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/Observer.h"

#include <cmath>
#include <gtest/gtest.h>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <vector>

using namespace quantx;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

void observe(Observer &o, const std::vector<float> &x) {
  o.observe(x.data(), {static_cast<int64_t>(x.size())});
}

TEST(ObserverTest, MinMax) {
  MinMaxObserver o;
  EXPECT_EQ(o.ranges()[0].min, 0.0f);
  EXPECT_EQ(o.ranges()[0].max, 0.0f);
  observe(o, {1, -2, 3});
  observe(o, {5, kNaN, -kInf});
  observe(o, {});
  EXPECT_EQ(o.ranges()[0].min, -2.0f);
  EXPECT_EQ(o.ranges()[0].max, 5.0f);
  QuantScheme s;
  s.bits = 3;
  s.isSigned = false;
  QuantParams p = o.computeParams(s); // [-2, 5] / 7 -> scale 1, zp 2
  EXPECT_EQ(p.scales, std::vector<float>{1.0f});
  EXPECT_EQ(p.zeroPoints, std::vector<int32_t>{2});
  s.granularity = Granularity::PerAxis;
  EXPECT_THROW(o.computeParams(s), std::invalid_argument);
}

TEST(ObserverTest, PerChannelMinMax) {
  PerChannelMinMaxObserver o(1);
  std::vector<float> a = {1, -2, 3, 4, 0, kNaN}; // 2x3
  o.observe(a.data(), {2, 3});
  std::vector<float> b = {-5, 7, 2}; // 1x3
  o.observe(b.data(), {1, 3});
  auto r = o.ranges();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].min, -5.0f);
  EXPECT_EQ(r[0].max, 4.0f);
  EXPECT_EQ(r[1].min, -2.0f);
  EXPECT_EQ(r[1].max, 7.0f);
  EXPECT_EQ(r[2].min, 2.0f);
  EXPECT_EQ(r[2].max, 3.0f);
  std::vector<float> c = {1, 2};
  EXPECT_THROW(o.observe(c.data(), {1, 2}), std::invalid_argument);
  EXPECT_THROW(o.observe(c.data(), {2}), std::invalid_argument);
  QuantScheme s;
  s.bits = 2;
  s.isSigned = false;
  s.granularity = Granularity::PerAxis;
  QuantParams p = o.computeParams(s);
  EXPECT_EQ(p.shape, std::vector<int64_t>{3});
  EXPECT_EQ(p.scales, (std::vector<float>{3.0f, 3.0f, 1.0f}));
  EXPECT_EQ(p.zeroPoints, (std::vector<int32_t>{2, 1, 0}));
  PerChannelMinMaxObserver last(-1);
  last.observe(a.data(), {2, 3});
  EXPECT_EQ(last.ranges()[1].min, -2.0f);
}

TEST(ObserverTest, MovingAverage) {
  MovingAverageMinMaxObserver o;
  observe(o, {kNaN}); // no finite value: ignored
  observe(o, {0, 1});
  EXPECT_EQ(o.ranges()[0].min, 0.0f);
  EXPECT_EQ(o.ranges()[0].max, 1.0f);
  observe(o, {-1, 3});
  // min += 0.01 * (-1 - 0); max += 0.01 * (3 - 1), in float32.
  EXPECT_EQ(o.ranges()[0].min, -0.01f);
  EXPECT_EQ(o.ranges()[0].max, 1.02f);
  MovingAverageMinMaxObserver half(0.5f);
  observe(half, {2, 4});
  observe(half, {-2, 8});
  observe(half, {0, 0});
  // min: 2 -> 2 + 0.5 * (-2 - 2) = 0 -> 0; max: 4 -> 6 -> 3.
  EXPECT_EQ(half.ranges()[0].min, 0.0f);
  EXPECT_EQ(half.ranges()[0].max, 3.0f);
  EXPECT_THROW(MovingAverageMinMaxObserver(0.0f), std::invalid_argument);

  PerChannelMovingAverageMinMaxObserver pc(0, 0.5f);
  std::vector<float> a = {1, 3, -4, 0}; // 2x2: rows are channels
  pc.observe(a.data(), {2, 2});
  std::vector<float> b = {5, 5, 0, 2};
  pc.observe(b.data(), {2, 2});
  auto r = pc.ranges();
  EXPECT_EQ(r[0].min, 3.0f);
  EXPECT_EQ(r[0].max, 4.0f);
  EXPECT_EQ(r[1].min, -2.0f);
  EXPECT_EQ(r[1].max, 1.0f);
}

TEST(ObserverTest, HistogramGrid) {
  PowerOfTwoHistogram h(4);
  std::vector<float> x = {0, 1, 2, 3};
  h.add(x.data(), 4);
  EXPECT_EQ(h.exponent(), 0);
  EXPECT_EQ(h.start(), 0);
  EXPECT_EQ(h.counts(), (std::vector<uint64_t>{1, 1, 1, 1}));
  EXPECT_EQ(h.quantile(0.25), 1.0f);
  EXPECT_EQ(h.quantile(0.5), 2.0f);
  EXPECT_EQ(h.quantile(0.625), 2.5f);
  EXPECT_EQ(h.quantile(1.0), 3.0f); // clamped to the data maximum
  EXPECT_EQ(h.quantile(0.0), 0.0f);
  float five = 5;
  h.add(&five, 1);
  EXPECT_EQ(h.exponent(), 1);
  EXPECT_EQ(h.start(), 0);
  EXPECT_EQ(h.counts(), (std::vector<uint64_t>{2, 2, 1, 0}));
  float m3 = -3;
  h.add(&m3, 1);
  EXPECT_EQ(h.exponent(), 2);
  EXPECT_EQ(h.start(), -1);
  EXPECT_EQ(h.counts(), (std::vector<uint64_t>{1, 4, 1, 0}));
  EXPECT_EQ(h.total(), 6u);
  EXPECT_EQ(h.dataMin(), -3.0f);
  EXPECT_EQ(h.dataMax(), 5.0f);
  // Huge and tiny magnitudes stay representable.
  PowerOfTwoHistogram big(2048);
  std::vector<float> y = {3e38f, -3e38f, 1e-45f};
  big.add(y.data(), 3);
  EXPECT_EQ(big.total(), 3u);
  PowerOfTwoHistogram tiny(2048);
  std::vector<float> z = {1e-45f, 0.0f};
  tiny.add(z.data(), 2);
  // 2^-149 needs width 2^-159 to stay within 2048 bins of 0.
  EXPECT_EQ(tiny.exponent(), -159);
  EXPECT_EQ(tiny.counts()[0], 1u);
  EXPECT_EQ(tiny.counts()[1024], 1u);
}

TEST(ObserverTest, Percentile) {
  HistogramObserver o(4, 75.0);
  observe(o, {0, 1, 2, 3, kNaN, kInf});
  EXPECT_EQ(o.ranges()[0].min, 1.0f);
  EXPECT_EQ(o.ranges()[0].max, 3.0f);
  Range all = o.percentileRange(100.0);
  EXPECT_EQ(all.min, 0.0f);
  EXPECT_EQ(all.max, 3.0f);
  EXPECT_THROW(o.percentileRange(0.0), std::invalid_argument);
}

TEST(ObserverTest, EntropyHandWorked) {
  // Non-negative data, 4 bins of width 1 from 0: counts [6, 2, 0, 1], six
  // of them exact zeros. Bin 0 counts as its neighbour, bin 1: [2, 2, 0, 1].
  // Candidates (startBin 2, 2 levels): [0, 4): Q = P (each level's non-zero
  // bins are equal), KL = 0, so the range is the data range. With the
  // spike counted, [0, 2) would win (P = [6, 3], Q = [6, 2], KL = 0.0174
  // against 0.116 for [0, 4)): the zeros would clip the range at 2.
  EntropyObserver o(4, 2, 2);
  observe(o, {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 1.5f, 1.5f, 3.5f});
  EXPECT_EQ(o.histogram().counts(), (std::vector<uint64_t>{6, 2, 0, 1}));
  EXPECT_EQ(o.clipRange().min, 0.0f);
  EXPECT_EQ(o.clipRange().max, 3.5f);
  EXPECT_EQ(o.ranges()[0].max, 3.5f);
  // Counts [2, 2, 1, 1] (bin 0 already counts as bin 1): keeping all 4
  // bins gives KL = 0 (each level's bins are equal), so the range is the
  // data range.
  EntropyObserver k(4, 2, 2);
  observe(k, {0.5f, 0.5f, 1.5f, 1.5f, 3.25f, 2.5f});
  EXPECT_EQ(k.clipRange().min, 0.0f);
  EXPECT_EQ(k.clipRange().max, 3.25f);
  // Signed data, bins [-2, 2) of width 1: counts [1, 2, 4, 1]. The bin of
  // 0 counts as the mean of its neighbours, round(1.5) = 2: [1, 2, 2, 1].
  // Both sides span 2 bins. [-2, 2): P = [1, 2, 2, 1], Q = [1.5, 1.5, 1.5,
  // 1.5], KL = 0.0566; [-1, 1): P = [3, 3], Q = [2, 2], KL = 0. Range
  // [-1, 1].
  EntropyObserver sgn(4, 2, 2);
  observe(sgn, {-1.5f, -0.5f, -0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 1.5f});
  EXPECT_EQ(sgn.histogram().start(), -2);
  EXPECT_EQ(sgn.histogram().counts(), (std::vector<uint64_t>{1, 2, 4, 1}));
  EXPECT_EQ(sgn.clipRange().min, -1.0f);
  EXPECT_EQ(sgn.clipRange().max, 1.0f);
}

TEST(ObserverTest, MSEHandWorked) {
  QuantScheme s;
  s.bits = 2;
  s.isSigned = false;
  MSEObserver o(s, 4, 5, 0.2f);
  observe(o, {0, 1, 2, 3});
  // Ratio 1: scale 1, bin centers 0.5, 1.5, 2.5, 3 (clamped) -> 3 * 0.25.
  EXPECT_EQ(o.expectedError(1.0f), 0.75);
  float r = o.clipRatio();
  for (float c : {1.0f, 0.8f, 0.6f, 0.4f, 0.2f})
    EXPECT_LE(o.expectedError(r), o.expectedError(c));
}

std::vector<float> gaussianWithOutliers() {
  std::mt19937 rng(123);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(100000);
  for (float &v : x)
    v = normal(rng);
  x[10] = 50.0f;
  x[20000] = 50.0f;
  x[40000] = -40.0f;
  x[60000] = 48.0f;
  return x;
}

TEST(ObserverTest, OutliersAreClipped) {
  std::vector<float> x = gaussianWithOutliers();
  MinMaxObserver mm;
  HistogramObserver pct;
  EntropyObserver ent;
  QuantScheme s4;
  s4.bits = 4;
  MSEObserver mse(s4);
  for (Observer *o : std::initializer_list<Observer *>{&mm, &pct, &ent, &mse})
    observe(*o, x);
  EXPECT_EQ(mm.ranges()[0].max, 50.0f);
  EXPECT_EQ(mm.ranges()[0].min, -40.0f);
  Range p = pct.ranges()[0];
  EXPECT_GT(p.max, 3.0f);
  EXPECT_LT(p.max, 5.0f);
  EXPECT_LT(p.min, -3.0f);
  EXPECT_GT(p.min, -5.0f);
  Range e = ent.clipRange();
  EXPECT_LT(e.max, 25.0f);
  EXPECT_GT(e.min, -20.0f);
  EXPECT_GE(e.max - e.min, 8.0f); // at least 256 of the 2048 bins (2^-5)
  Range m = mse.ranges()[0];
  EXPECT_LT(m.max, 25.0f);
  EXPECT_LT(mse.clipRatio(), 0.5f);
}

/// Observing a + b equals observing a, observing b separately, merging.
void expectMergeExact(const Observer &proto, const std::vector<float> &x,
                      std::vector<int64_t> batchDims) {
  int64_t batch = numElements(batchDims);
  auto whole = proto.clone(), left = proto.clone(), right = proto.clone();
  int64_t nb = static_cast<int64_t>(x.size()) / batch;
  for (int64_t b = 0; b < nb; ++b) {
    whole->observe(x.data() + b * batch, batchDims);
    (b < nb / 3 ? left : right)->observe(x.data() + b * batch, batchDims);
  }
  left->merge(*right);
  auto a = whole->ranges(), c = left->ranges();
  ASSERT_EQ(a.size(), c.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].min, c[i].min);
    EXPECT_EQ(a[i].max, c[i].max);
  }
}

TEST(ObserverTest, MergesAreExact) {
  std::mt19937 rng(5);
  std::vector<float> x(64 * 1000);
  // Growing magnitudes so the histograms re-bin along the way.
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = std::normal_distribution<float>(0.0f, 1.0f)(rng) *
           float(1 + i / 4000) * (i % 7 == 0 ? 10.0f : 1.0f);
  QuantScheme s;
  expectMergeExact(MinMaxObserver(), x, {1000});
  expectMergeExact(MovingAverageMinMaxObserver(), x, {1000});
  expectMergeExact(PerChannelMinMaxObserver(1), x, {100, 10});
  expectMergeExact(PerChannelMovingAverageMinMaxObserver(0), x, {10, 100});
  expectMergeExact(HistogramObserver(), x, {1000});
  expectMergeExact(HistogramObserver(64, 99.0), x, {1000});
  expectMergeExact(EntropyObserver(), x, {1000});
  expectMergeExact(MSEObserver(s), x, {1000});
  // Histogram counts themselves match after a merge in either order.
  HistogramObserver a, b, all;
  observe(a, std::vector<float>(x.begin(), x.begin() + 100));
  observe(b, std::vector<float>(x.begin() + 100, x.end()));
  observe(all, std::vector<float>(x.begin() + 100, x.end()));
  observe(all, std::vector<float>(x.begin(), x.begin() + 100));
  a.merge(b);
  EXPECT_EQ(a.histogram().counts(), all.histogram().counts());
  EXPECT_EQ(a.histogram().exponent(), all.histogram().exponent());
  EXPECT_EQ(a.histogram().start(), all.histogram().start());
  // Merging into an empty observer copies.
  HistogramObserver empty;
  empty.merge(all);
  EXPECT_EQ(empty.histogram().counts(), all.histogram().counts());
  // Kind and configuration mismatches are errors.
  MinMaxObserver mm;
  EXPECT_THROW(mm.merge(a), std::invalid_argument);
  EXPECT_THROW(mm.merge(PerChannelMinMaxObserver(0)), std::invalid_argument);
  EXPECT_THROW(a.merge(HistogramObserver(64)), std::invalid_argument);
}

} // namespace
