//===- AWQTest.cpp - Tests of the AWQ search
//-------------------------------===//
//
// Exact expectations for the reference's pseudo-quantizer, the scale search
// (grid, normalisation, winner, folding contract) and the clip search, plus
// the error paths. Parity with the reference on a Llama block is tested in
// python/tests/test_awq.py against committed golden numbers.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/AWQ.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>

using namespace quantx;

namespace {

std::vector<float> randomMatrix(unsigned seed, int64_t rows, int64_t cols,
                                float scale = 1.0f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(rows * cols);
  for (float &x : v)
    x = dist(gen);
  return v;
}

} // namespace

// One group of 4 values [-1, 0, 0.5, 2] at 2 bits: scale = 3/3 = 1,
// zero = -round(-1/1) = 1, codes = round(w) + 1 = [0, 1, 1, 3] (0.5 rounds
// to even 0).
TEST(AWQTest, PseudoQuantizeFormulaExample) {
  AWQConfig c;
  c.bits = 2;
  c.groupSize = 4;
  std::vector<float> w = {-1.0f, 0.0f, 0.5f, 2.0f};
  AWQQuantizedWeight q = awqQuantize(w.data(), 1, 4, c);
  EXPECT_EQ(q.scales[0], 1.0f);
  EXPECT_EQ(q.zeros[0], 1.0f);
  std::vector<uint8_t> codes = {0, 1, 1, 3};
  EXPECT_EQ(q.codes, codes);
  std::vector<float> deq = q.dequantize();
  std::vector<float> expect = {-1.0f, 0.0f, 0.0f, 2.0f};
  EXPECT_EQ(deq, expect);
  std::vector<float> out(4);
  awqPseudoQuantize(w.data(), 1, 4, c, out.data());
  EXPECT_EQ(out, expect);
}

// A constant group: range clamps to 1e-5, the value is reproduced to within
// one step.
TEST(AWQTest, ConstantGroupUsesMinimumRange) {
  AWQConfig c;
  c.bits = 4;
  c.groupSize = 8;
  std::vector<float> w(8, 3.0f), out(8);
  awqPseudoQuantize(w.data(), 1, 8, c, out.data());
  AWQQuantizedWeight q = awqQuantize(w.data(), 1, 8, c);
  EXPECT_FLOAT_EQ(q.scales[0], 1e-5f / 15.0f);
  // zero = -round(3 / scale) clamps to 0; codes clamp to 15.
  EXPECT_EQ(q.zeros[0], 0.0f);
  for (float v : out)
    EXPECT_EQ(v, 15.0f * q.scales[0]);
}

TEST(AWQTest, SymmetricCodesAreCentred) {
  AWQConfig c;
  c.bits = 4;
  c.groupSize = 4;
  c.zeroPoint = false;
  std::vector<float> w = {-7.0f, -1.0f, 3.5f, 7.0f};
  AWQQuantizedWeight q = awqQuantize(w.data(), 1, 4, c);
  EXPECT_EQ(q.scales[0], 1.0f);
  EXPECT_EQ(q.zeros[0], 8.0f);
  std::vector<uint8_t> codes = {1, 7, 12, 15};
  EXPECT_EQ(q.codes, codes);
}

TEST(AWQTest, BadInputsThrow) {
  AWQConfig c;
  std::vector<float> w(2 * 100, 1.0f), out(200);
  EXPECT_THROW(awqPseudoQuantize(w.data(), 2, 100, c, out.data()),
               std::invalid_argument);
  c.groupSize = 50;
  c.bits = 1;
  EXPECT_THROW(awqQuantize(w.data(), 2, 100, c), std::invalid_argument);
  c.bits = 4;
  w[17] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(awqQuantize(w.data(), 2, 100, c), std::invalid_argument);
  EXPECT_THROW(awqActivationMean(nullptr, 0, 4), std::invalid_argument);
  std::vector<AWQWeightRef> none;
  std::vector<float> x(100, 1.0f);
  EXPECT_THROW(awqSearchScalesLinear(none, x.data(), 1, 100, c),
               std::invalid_argument);
}

// The grid: index 0 gives all-ones scales (plain RTN); every candidate is
// normalised so that max(s) * min(s) == 1.
TEST(AWQTest, ScaleSearchGridAndNormalisation) {
  const int64_t tokens = 64, in = 128, rows = 32;
  std::vector<float> x = randomMatrix(1, tokens, in);
  for (int64_t t = 0; t < tokens; ++t)
    x[t * in + 5] *= 40.0f;
  std::vector<float> w = randomMatrix(2, rows, in, 0.1f);
  AWQConfig c;
  c.groupSize = 64;
  AWQScaleResult r =
      awqSearchScalesLinear({{w.data(), rows}}, x.data(), tokens, in, c);
  ASSERT_EQ(r.losses.size(), 20u);
  EXPECT_EQ(r.bestLoss, r.losses[r.bestIndex]);
  for (double l : r.losses)
    EXPECT_GE(l, r.bestLoss);
  EXPECT_GT(r.bestIndex, 0); // the outlier channel makes scaling pay off
  EXPECT_DOUBLE_EQ(r.bestRatio, r.bestIndex / 20.0);
  float mx = *std::max_element(r.scales.begin(), r.scales.end());
  float mn = *std::min_element(r.scales.begin(), r.scales.end());
  EXPECT_NEAR(double(mx) * mn, 1.0, 1e-5);
  // The outlier channel gets the largest scale.
  EXPECT_EQ(
      std::max_element(r.scales.begin(), r.scales.end()) - r.scales.begin(), 5);
  // Returned weights are W * s and their quantization.
  for (int64_t i = 0; i < rows * in; ++i)
    EXPECT_EQ(r.scaledWeights[0][i], w[i] * r.scales[i % in]);
  AWQQuantizedWeight q = awqQuantize(r.scaledWeights[0].data(), rows, in, c);
  EXPECT_EQ(q.codes, r.quantized[0].codes);
}

// The callback search with the linears as the module gives the same winner
// and losses as the built-in linear search.
TEST(AWQTest, CallbackSearchAgreesWithLinearSearch) {
  const int64_t tokens = 48, in = 64, rows = 16;
  std::vector<float> x = randomMatrix(3, tokens, in);
  for (int64_t t = 0; t < tokens; ++t)
    x[t * in + 9] *= 25.0f;
  std::vector<float> w1 = randomMatrix(4, rows, in),
                     w2 = randomMatrix(5, 8, in);
  AWQConfig c;
  c.groupSize = 32;
  c.bits = 3;
  int calls = 0;
  AWQModuleForward fwd = [&](const std::vector<const float *> &ws,
                             std::vector<float> &out) {
    ++calls;
    out.assign(tokens * (rows + 8), 0.0f);
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t r = 0; r < rows + 8; ++r) {
        const float *wr = r < rows ? ws[0] + r * in : ws[1] + (r - rows) * in;
        double acc = 0.0;
        for (int64_t i = 0; i < in; ++i)
          acc += double(x[t * in + i]) * wr[i];
        out[t * (rows + 8) + r] = float(acc);
      }
  };
  std::vector<AWQWeightRef> ws = {{w1.data(), rows}, {w2.data(), 8}};
  AWQScaleResult a = awqSearchScales(ws, x.data(), tokens, in, fwd, c);
  AWQScaleResult b = awqSearchScalesLinear(ws, x.data(), tokens, in, c);
  EXPECT_EQ(calls, 21);
  EXPECT_EQ(a.bestIndex, b.bestIndex);
  for (size_t i = 0; i < a.losses.size(); ++i)
    EXPECT_NEAR(a.losses[i], b.losses[i], 1e-3 * b.losses[i]);
  EXPECT_EQ(a.scales, b.scales);
}

TEST(AWQTest, CallbackErrorsAreReported) {
  const int64_t tokens = 4, in = 32;
  std::vector<float> x(tokens * in, 1.0f), w = randomMatrix(6, 2, in);
  AWQConfig c;
  c.groupSize = 32;
  int calls = 0;
  AWQModuleForward growing = [&](const std::vector<const float *> &,
                                 std::vector<float> &out) {
    out.assign(3 + calls++, 0.0f);
  };
  EXPECT_THROW(
      awqSearchScales({{w.data(), 2}}, x.data(), tokens, in, growing, c),
      std::runtime_error);
  calls = 0;
  AWQModuleForward nan = [&](const std::vector<const float *> &,
                             std::vector<float> &out) {
    out.assign(3, calls++ ? std::nanf("") : 0.0f);
  };
  EXPECT_THROW(awqSearchScales({{w.data(), 2}}, x.data(), tokens, in, nan, c),
               std::runtime_error);
  EXPECT_THROW(awqSearchScales({{w.data(), 2}}, x.data(), tokens, in,
                               AWQModuleForward(), c),
               std::invalid_argument);
}

// The clip search picks, per row and group, the shrink with the smallest
// output error; shrink 0 (no clip) is always a candidate, so the chosen
// clip never has a larger error than no clipping.
TEST(AWQTest, ClipSearchNeverWorseThanNoClip) {
  const int64_t tokens = 256, in = 128, rows = 24;
  std::vector<float> x = randomMatrix(7, tokens, in);
  std::vector<float> w = randomMatrix(8, rows, in);
  for (int64_t r = 0; r < rows; ++r)
    w[r * in + 3] *= 10.0f; // one large weight per row
  AWQConfig c;
  c.bits = 3;
  c.groupSize = 64;
  AWQClipResult r = awqSearchClip(w.data(), rows, in, x.data(), tokens, c);
  ASSERT_EQ(r.maxVal.size(), size_t(rows * 2));
  auto outputError = [&](const std::vector<float> &wq) {
    double e = 0.0;
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t o = 0; o < rows; ++o) {
        double d = 0.0;
        for (int64_t i = 0; i < in; ++i)
          d += double(x[t * in + i]) * (double(wq[o * in + i]) - w[o * in + i]);
        e += d * d;
      }
    return e;
  };
  std::vector<float> plain(rows * in);
  awqPseudoQuantize(w.data(), rows, in, c, plain.data());
  double clipped = outputError(r.quantized.dequantize());
  EXPECT_LT(clipped, outputError(plain));
  int shrunk = 0;
  for (int64_t o = 0; o < rows; ++o)
    for (int64_t g = 0; g < 2; ++g) {
      float mx = 0.0f;
      for (int64_t i = 0; i < 64; ++i)
        mx = std::max(mx, std::fabs(w[o * in + g * 64 + i]));
      float chosen = r.maxVal[o * 2 + g];
      EXPECT_LE(chosen, mx);
      EXPECT_GE(chosen, mx * 0.55f * (1 - 1e-6f));
      shrunk += chosen < mx;
      for (int64_t i = 0; i < 64; ++i)
        EXPECT_LE(std::fabs(r.clippedWeight[o * in + g * 64 + i]), chosen);
    }
  EXPECT_GT(shrunk, 0);
}

// The built-in attention forward: with one token per sequence the softmax
// is 1, so the output is Wo Wv x exactly (RoPE and q/k do not matter).
TEST(AWQTest, AttentionForwardSingleToken) {
  const int64_t hidden = 8, heads = 2, headDim = 4;
  std::vector<float> x = randomMatrix(9, 3, hidden);
  std::vector<float> wq = randomMatrix(10, 8, hidden),
                     wk = randomMatrix(11, 8, hidden),
                     wv = randomMatrix(12, 8, hidden),
                     wo = randomMatrix(13, hidden, 8);
  AWQModuleForward fwd = makeAWQLlamaAttentionForward(
      x.data(), 3, 1, hidden, heads, headDim, 10000.0, wo.data());
  std::vector<float> out;
  fwd({wq.data(), wk.data(), wv.data()}, out);
  ASSERT_EQ(out.size(), size_t(3 * hidden));
  for (int64_t t = 0; t < 3; ++t)
    for (int64_t o = 0; o < hidden; ++o) {
      double acc = 0.0;
      for (int64_t j = 0; j < 8; ++j) {
        double v = 0.0;
        for (int64_t i = 0; i < hidden; ++i)
          v += double(wv[j * hidden + i]) * x[t * hidden + i];
        acc += double(wo[o * 8 + j]) * v;
      }
      EXPECT_NEAR(out[t * hidden + o], acc, 1e-4 * (1 + std::fabs(acc)));
    }
  EXPECT_THROW(makeAWQLlamaAttentionForward(x.data(), 3, 1, hidden, heads, 3,
                                            10000.0, wo.data()),
               std::invalid_argument);
}

TEST(AWQTest, GatedMLPForward) {
  const int64_t tokens = 5, hidden = 6, ffn = 4;
  std::vector<float> x = randomMatrix(14, tokens, hidden),
                     wg = randomMatrix(15, ffn, hidden),
                     wu = randomMatrix(16, ffn, hidden),
                     wd = randomMatrix(17, hidden, ffn);
  AWQModuleForward fwd =
      makeAWQGatedMLPForward(x.data(), tokens, hidden, ffn, wd.data());
  std::vector<float> out;
  fwd({wg.data(), wu.data()}, out);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t o = 0; o < hidden; ++o) {
      double acc = 0.0;
      for (int64_t j = 0; j < ffn; ++j) {
        double g = 0.0, u = 0.0;
        for (int64_t i = 0; i < hidden; ++i) {
          g += double(wg[j * hidden + i]) * x[t * hidden + i];
          u += double(wu[j * hidden + i]) * x[t * hidden + i];
        }
        acc += double(wd[o * ffn + j]) * (g / (1 + std::exp(-g)) * u);
      }
      EXPECT_NEAR(out[t * hidden + o], acc, 1e-4 * (1 + std::fabs(acc)));
    }
}

TEST(AWQTest, DuoScalingWeightMean) {
  std::vector<float> w = {1.0f,  -2.0f, 0.5f, 4.0f, // row 0 (group 4)
                          -1.0f, 1.0f,  1.0f, 0.0f};
  AWQConfig c;
  c.groupSize = 4;
  std::vector<float> m = awqWeightMean({{w.data(), 2}}, 4, c);
  EXPECT_NEAR(m[0], (0.25 + 1.0) / 2, 1e-6);
  EXPECT_NEAR(m[1], (0.5 + 1.0) / 2, 1e-6);
  EXPECT_NEAR(m[3], (1.0 + 0.0) / 2, 1e-6);
  // Duo scaling runs and still yields normalised scales.
  std::vector<float> x = randomMatrix(18, 16, 4);
  c.duoScaling = true;
  AWQScaleResult r = awqSearchScalesLinear({{w.data(), 2}}, x.data(), 16, 4, c);
  float mx = *std::max_element(r.scales.begin(), r.scales.end());
  float mn = *std::min_element(r.scales.begin(), r.scales.end());
  EXPECT_NEAR(double(mx) * mn, 1.0, 1e-5);
}
