//===- GPTQTest.cpp - Tests of GPTQ ---------------------------------------===//
//
// Hessian accumulation against a direct double-precision sum, GPTQ on a
// diagonal Hessian (where it must equal RTN exactly), the loss figure,
// dead columns, act-order permutations and group indices, static groups,
// error reduction over RTN on correlated data, and argument errors.
// Parity with the reference implementation is checked by
// python/tests/test_gptq.py against committed golden numbers.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/GPTQ.h"
#include "quantx/Quant/Parallel.h"

#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

using namespace quantx;

namespace {

std::vector<float> randomMatrix(int64_t rows, int64_t cols, unsigned seed,
                                float scale = 1.0f) {
  std::vector<float> m(size_t(rows * cols));
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  for (float &v : m)
    v = scale * dist(rng);
  return m;
}

/// Tokens x cols activations with correlated columns and uneven scales.
std::vector<float> correlatedInputs(int64_t tokens, int64_t cols,
                                    unsigned seed) {
  const int64_t rank = 8;
  std::vector<float> z = randomMatrix(tokens, rank, seed);
  std::vector<float> mix = randomMatrix(rank, cols, seed + 1);
  std::vector<float> noise = randomMatrix(tokens, cols, seed + 2, 0.1f);
  std::vector<float> x(size_t(tokens * cols));
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t c = 0; c < cols; ++c) {
      float v = noise[size_t(t * cols + c)];
      for (int64_t k = 0; k < rank; ++k)
        v += z[size_t(t * rank + k)] * mix[size_t(k * cols + c)];
      x[size_t(t * cols + c)] = v * (1.0f + float(c % 7));
    }
  return x;
}

/// ||(W - Q) X^T||^2 in double.
double outputError(const std::vector<float> &w, const std::vector<float> &q,
                   const std::vector<float> &x, int64_t rows, int64_t cols) {
  const int64_t tokens = int64_t(x.size()) / cols;
  double total = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < tokens; ++t) {
      double acc = 0;
      for (int64_t c = 0; c < cols; ++c)
        acc += double(w[size_t(r * cols + c)] - q[size_t(r * cols + c)]) *
               x[size_t(t * cols + c)];
      total += acc * acc;
    }
  return total;
}

GPTQConfig gptqConfig(int bits, int64_t groupSize, bool actOrder,
                      bool staticGroups = false) {
  GPTQConfig c;
  c.quantizer.bits = bits;
  c.groupSize = groupSize;
  c.actOrder = actOrder;
  c.staticGroups = staticGroups;
  return c;
}

TEST(GPTQTest, HessianIsRunningAverageOfTwoXtX) {
  const int64_t cols = 24;
  GPTQ gptq(cols);
  // Batches of 5 tokens (1 sample), 7 tokens (3 samples) and one batch
  // larger than the buffer (2 samples).
  std::vector<float> a = randomMatrix(5, cols, 1), b = randomMatrix(7, cols, 2),
                     c = randomMatrix(3000, cols, 3, 0.5f);
  gptq.addBatch(a.data(), 5, 1);
  gptq.addBatch(b.data(), 7, 3);
  gptq.addBatch(c.data(), 3000, 2);
  EXPECT_EQ(gptq.numSamples(), 6);
  std::vector<float> h = gptq.hessian();
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      double s = 0;
      for (const std::vector<float> *x : {&a, &b, &c})
        for (size_t t = 0; t < x->size() / size_t(cols); ++t)
          s += double((*x)[t * cols + i]) * (*x)[t * cols + j];
      const double expected = 2.0 / 6.0 * s;
      EXPECT_NEAR(h[size_t(i * cols + j)], expected,
                  1e-5 * std::max(1.0, std::fabs(expected)))
          << i << "," << j;
    }
}

TEST(GPTQTest, DiagonalHessianEqualsRTN) {
  // X = I gives H = 2 I: no error feedback, so GPTQ is exactly RTN with
  // the same parameters, in any order.
  const int64_t rows = 19, cols = 40;
  std::vector<float> w = randomMatrix(rows, cols, 4);
  std::vector<float> eye(size_t(cols * cols), 0.0f);
  for (int64_t i = 0; i < cols; ++i)
    eye[size_t(i * cols + i)] = 1.0f;
  for (int64_t groupSize : {int64_t(-1), int64_t(8)}) {
    for (bool actOrder : {false, true}) {
      GPTQ gptq(cols);
      gptq.addBatch(eye.data(), cols);
      GPTQConfig c = gptqConfig(3, groupSize, actOrder);
      c.blockSize = 16;
      GPTQResult g = gptq.quantize(w.data(), rows, c);
      RTNResult r = quantizeRTN(w.data(), rows, cols, c.quantizer, groupSize);
      EXPECT_EQ(g.codes, r.codes);
      EXPECT_EQ(g.dequantized, r.dequantized);
      if (!actOrder) {
        EXPECT_EQ(g.scales, r.scales);
        EXPECT_EQ(g.zeros, r.zeros);
      }
      // Loss: sum (w - q)^2 / d^2 / 2 with d^2 = 1 / (2 + damp), damp =
      // 0.01 * 2.
      double expected = 0;
      for (size_t k = 0; k < w.size(); ++k)
        expected += double(w[k] - r.dequantized[k]) *
                    (w[k] - r.dequantized[k]) * 2.02 / 2.0;
      EXPECT_NEAR(g.loss, expected, 1e-4 * expected);
    }
  }
}

TEST(GPTQTest, BeatsRTNOnCorrelatedInputs) {
  const int64_t rows = 48, cols = 96, tokens = 512;
  std::vector<float> w = randomMatrix(rows, cols, 5);
  std::vector<float> x = correlatedInputs(tokens, cols, 6);
  GPTQ gptq(cols);
  for (int64_t t = 0; t < tokens; t += 64)
    gptq.addBatch(x.data() + t * cols, 64);
  for (int bits : {3, 4}) {
    for (bool actOrder : {false, true}) {
      GPTQConfig c = gptqConfig(bits, 32, actOrder);
      c.blockSize = 64;
      GPTQResult g = gptq.quantize(w.data(), rows, c);
      RTNResult r = quantizeRTN(w.data(), rows, cols, c.quantizer, 32);
      double eg = outputError(w, g.dequantized, x, rows, cols);
      double er = outputError(w, r.dequantized, x, rows, cols);
      EXPECT_LT(eg, 0.7 * er) << "bits " << bits << " actOrder " << actOrder;
      // Dequantized values are exactly scale * (code - zero) of their group.
      for (int64_t rr = 0; rr < rows; ++rr)
        for (int64_t cc = 0; cc < cols; ++cc) {
          const size_t p = size_t(rr * g.numGroups + g.gIdx[size_t(cc)]);
          EXPECT_EQ(g.dequantized[size_t(rr * cols + cc)],
                    g.scales[p] *
                        (float(g.codes[size_t(rr * cols + cc)]) - g.zeros[p]));
        }
    }
  }
}

TEST(GPTQTest, ActOrderPermutationAndGroupIndex) {
  const int64_t rows = 8, cols = 50;
  std::vector<float> w = randomMatrix(rows, cols, 7);
  std::vector<float> x = correlatedInputs(200, cols, 8);
  GPTQ gptq(cols);
  gptq.addBatch(x.data(), 200);
  std::vector<float> h = gptq.hessian();
  GPTQResult g = gptq.quantize(w.data(), rows, gptqConfig(4, 16, true));
  ASSERT_EQ(g.numGroups, 4);
  for (int64_t k = 0; k + 1 < cols; ++k)
    EXPECT_GE(h[size_t(g.perm[k] * cols + g.perm[k])],
              h[size_t(g.perm[k + 1] * cols + g.perm[k + 1])]);
  for (int64_t k = 0; k < cols; ++k)
    EXPECT_EQ(g.gIdx[size_t(g.perm[size_t(k)])], k / 16);
  // Static groups keep the natural group index, with parameters from the
  // original weights.
  GPTQResult s = gptq.quantize(w.data(), rows, gptqConfig(4, 16, true, true));
  for (int64_t c = 0; c < cols; ++c)
    EXPECT_EQ(s.gIdx[size_t(c)], c / 16);
  RTNResult r =
      quantizeRTN(w.data(), rows, cols, QuantizerConfig{4, true, false}, 16);
  EXPECT_EQ(s.scales, r.scales);
  EXPECT_EQ(s.zeros, r.zeros);
  // The Hessian survives quantization.
  EXPECT_EQ(gptq.hessian(), h);
}

TEST(GPTQTest, DeadColumnsQuantizeToZero) {
  const int64_t rows = 6, cols = 20;
  std::vector<float> w = randomMatrix(rows, cols, 9);
  std::vector<float> x = correlatedInputs(64, cols, 10);
  for (int64_t t = 0; t < 64; ++t) {
    x[size_t(t * cols + 3)] = 0.0f;
    x[size_t(t * cols + 17)] = 0.0f;
  }
  GPTQ gptq(cols);
  gptq.addBatch(x.data(), 64);
  for (bool sym : {false, true}) {
    GPTQConfig c = gptqConfig(4, -1, true);
    c.quantizer.sym = sym;
    GPTQResult g = gptq.quantize(w.data(), rows, c);
    for (int64_t r = 0; r < rows; ++r) {
      EXPECT_EQ(g.dequantized[size_t(r * cols + 3)], 0.0f);
      EXPECT_EQ(g.dequantized[size_t(r * cols + 17)], 0.0f);
    }
    // Dead columns have the smallest diagonal after the fix-up (1), so
    // act-order puts them last here.
    EXPECT_TRUE(g.perm[cols - 1] == 3 || g.perm[cols - 1] == 17);
  }
  EXPECT_EQ(gptq.hessian()[size_t(3 * cols + 3)], 0.0f);
}

TEST(GPTQTest, BlockSizeOnlyChangesRounding) {
  const int64_t rows = 16, cols = 80;
  std::vector<float> w = randomMatrix(rows, cols, 11);
  std::vector<float> x = correlatedInputs(300, cols, 12);
  GPTQ gptq(cols);
  gptq.addBatch(x.data(), 300);
  GPTQConfig c = gptqConfig(4, -1, true);
  c.blockSize = 128;
  GPTQResult a = gptq.quantize(w.data(), rows, c);
  c.blockSize = 7;
  GPTQResult b = gptq.quantize(w.data(), rows, c);
  double ea = outputError(w, a.dequantized, x, rows, cols);
  double eb = outputError(w, b.dequantized, x, rows, cols);
  EXPECT_NEAR(ea, eb, 0.02 * ea);
  EXPECT_NEAR(a.loss, b.loss, 0.02 * a.loss);
}

TEST(GPTQTest, ThreadCountOnlyChangesBlasRounding) {
  // The row sweep is split by rows, but OpenBLAS blocks its factorisations
  // differently with more threads, so values may differ in the last bits.
  const int64_t rows = 64, cols = 160;
  std::vector<float> w = randomMatrix(rows, cols, 13);
  std::vector<float> x = correlatedInputs(256, cols, 14);
  GPTQ gptq(cols);
  gptq.addBatch(x.data(), 256);
  GPTQConfig c = gptqConfig(4, 32, true);
  c.blockSize = 64;
  setNumThreads(1);
  GPTQResult one = gptq.quantize(w.data(), rows, c);
  setNumThreads(2);
  GPTQResult two = gptq.quantize(w.data(), rows, c);
  setNumThreads(0);
  size_t same = 0;
  for (size_t k = 0; k < one.codes.size(); ++k)
    same += one.codes[k] == two.codes[k];
  EXPECT_GE(double(same), 0.99 * double(one.codes.size()));
  double e1 = outputError(w, one.dequantized, x, rows, cols);
  double e2 = outputError(w, two.dequantized, x, rows, cols);
  EXPECT_NEAR(e1, e2, 1e-3 * e1);
}

TEST(GPTQTest, RejectsBadInput) {
  const int64_t cols = 8;
  EXPECT_THROW(GPTQ(0), std::invalid_argument);
  GPTQ gptq(cols);
  std::vector<float> w = randomMatrix(2, cols, 15);
  EXPECT_THROW(gptq.quantize(w.data(), 2, GPTQConfig()),
               std::invalid_argument); // no calibration data
  std::vector<float> x = randomMatrix(4, cols, 16);
  EXPECT_THROW(gptq.addBatch(x.data(), 0), std::invalid_argument);
  std::vector<float> bad = x;
  bad[5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(gptq.addBatch(bad.data(), 4), std::invalid_argument);
  EXPECT_EQ(gptq.numSamples(), 0);
  gptq.addBatch(x.data(), 4);
  EXPECT_THROW(gptq.quantize(w.data(), 0, GPTQConfig()), std::invalid_argument);
  GPTQConfig c;
  c.staticGroups = true;
  EXPECT_THROW(gptq.quantize(w.data(), 2, c), std::invalid_argument);
  c = GPTQConfig();
  c.percDamp = 0;
  EXPECT_THROW(gptq.quantize(w.data(), 2, c), std::invalid_argument);
  c = GPTQConfig();
  c.blockSize = 0;
  EXPECT_THROW(gptq.quantize(w.data(), 2, c), std::invalid_argument);
  c = GPTQConfig();
  c.quantizer.bits = 9;
  EXPECT_THROW(gptq.quantize(w.data(), 2, c), std::invalid_argument);
  std::vector<float> badW = w;
  badW[0] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(gptq.quantize(badW.data(), 2, GPTQConfig()),
               std::invalid_argument);
  // Rank-deficient statistics still work thanks to dampening.
  GPTQResult r = gptq.quantize(w.data(), 2, GPTQConfig());
  EXPECT_EQ(r.codes.size(), w.size());
}

} // namespace
