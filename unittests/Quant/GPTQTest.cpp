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

TEST(GPTQTest, HessianPanelsMatchDirectSum) {
  // Wide enough for several row panels of H on several threads.
  const int64_t cols = 333, tokens = 70;
  std::vector<float> x = randomMatrix(tokens, cols, 21);
  for (int threads : {1, 2, 3}) {
    setNumThreads(threads);
    GPTQ gptq(cols);
    gptq.addBatch(x.data(), 40, 2);
    gptq.addBatch(x.data() + 40 * cols, 30, 1);
    std::vector<float> h = gptq.hessian();
    for (int64_t i = 0; i < cols; i += 7)
      for (int64_t j = 0; j < cols; ++j) {
        double s = 0;
        for (int64_t t = 0; t < tokens; ++t)
          s += double(x[size_t(t * cols + i)]) * x[size_t(t * cols + j)];
        const double expected = 2.0 / 3.0 * s;
        ASSERT_NEAR(h[size_t(i * cols + j)], expected,
                    1e-4 * std::max(1.0, std::fabs(expected)))
            << threads << " threads, " << i << "," << j;
        ASSERT_EQ(h[size_t(i * cols + j)], h[size_t(j * cols + i)]);
      }
  }
  setNumThreads(0);
}

/// Upper Cholesky factor of the inverse of the SPD matrix `a` (n x n), the
/// straightforward way in double: A^-1 by Cholesky solves, then its
/// Cholesky factor.
std::vector<double> choleskyOfInverse(const std::vector<float> &a, int64_t n) {
  std::vector<double> l(size_t(n * n), 0.0); // A = L L^T
  for (int64_t j = 0; j < n; ++j) {
    double d = a[size_t(j * n + j)];
    for (int64_t k = 0; k < j; ++k)
      d -= l[size_t(j * n + k)] * l[size_t(j * n + k)];
    l[size_t(j * n + j)] = std::sqrt(d);
    for (int64_t i = j + 1; i < n; ++i) {
      double v = a[size_t(i * n + j)];
      for (int64_t k = 0; k < j; ++k)
        v -= l[size_t(i * n + k)] * l[size_t(j * n + k)];
      l[size_t(i * n + j)] = v / l[size_t(j * n + j)];
    }
  }
  std::vector<double> inv(size_t(n * n));
  for (int64_t c = 0; c < n; ++c) { // Column c of A^-1: L L^T x = e_c.
    std::vector<double> y(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      double v = i == c ? 1.0 : 0.0;
      for (int64_t k = 0; k < i; ++k)
        v -= l[size_t(i * n + k)] * y[size_t(k)];
      y[size_t(i)] = v / l[size_t(i * n + i)];
    }
    for (int64_t i = n - 1; i >= 0; --i) {
      double v = y[size_t(i)];
      for (int64_t k = i + 1; k < n; ++k)
        v -= l[size_t(k * n + i)] * inv[size_t(k * n + c)];
      inv[size_t(i * n + c)] = v / l[size_t(i * n + i)];
    }
  }
  // U^T U = A^-1, U upper: U = R^T with R the lower Cholesky factor.
  std::vector<double> u(size_t(n * n), 0.0);
  for (int64_t j = 0; j < n; ++j) {
    double d = inv[size_t(j * n + j)];
    for (int64_t k = 0; k < j; ++k)
      d -= u[size_t(k * n + j)] * u[size_t(k * n + j)];
    u[size_t(j * n + j)] = std::sqrt(d);
    for (int64_t i = j + 1; i < n; ++i) {
      double v = inv[size_t(i * n + j)];
      for (int64_t k = 0; k < j; ++k)
        v -= u[size_t(k * n + i)] * u[size_t(k * n + j)];
      u[size_t(j * n + i)] = v / u[size_t(j * n + j)];
    }
  }
  return u;
}

TEST(GPTQTest, InverseFactorIsCholeskyOfInverse) {
  // One factorisation of the reversed matrix and one triangular inverse
  // give the reference's cholesky(cholesky_inverse(cholesky(H)), upper).
  for (int64_t n : {1, 2, 5, 97, 200}) {
    const int64_t tokens = 3 * n + 4;
    std::vector<float> x = correlatedInputs(tokens, n, unsigned(30 + n));
    std::vector<float> h(size_t(n * n));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t t = 0; t < tokens; ++t)
          s += double(x[size_t(t * n + i)]) * x[size_t(t * n + j)];
        h[size_t(i * n + j)] = float(2.0 * s / double(tokens));
      }
    double meanDiag = 0;
    for (int64_t i = 0; i < n; ++i)
      meanDiag += h[size_t(i * n + i)] / double(n);
    for (int64_t i = 0; i < n; ++i)
      h[size_t(i * n + i)] += float(0.01 * meanDiag);
    std::vector<double> expected = choleskyOfInverse(h, n);
    std::vector<float> u(size_t(n * n), -7.0f);
    gptqInverseFactor(h.data(), n, u.data());
    for (int64_t i = 0; i < n; ++i) {
      double rowMax = 0;
      for (int64_t j = i; j < n; ++j)
        rowMax = std::max(rowMax, std::fabs(expected[size_t(i * n + j)]));
      for (int64_t j = 0; j < n; ++j) {
        if (j < i) {
          ASSERT_EQ(u[size_t(i * n + j)], 0.0f) << n << ": " << i << "," << j;
          continue;
        }
        ASSERT_NEAR(u[size_t(i * n + j)], expected[size_t(i * n + j)],
                    2e-3 * rowMax)
            << n << ": " << i << "," << j;
      }
    }
  }
  // Not positive definite.
  std::vector<float> bad = {1, 2, 2, 1}, u(4);
  EXPECT_THROW(gptqInverseFactor(bad.data(), 2, u.data()), std::runtime_error);
  EXPECT_THROW(gptqInverseFactor(bad.data(), 0, u.data()),
               std::invalid_argument);
}

TEST(GPTQTest, RowsDoNotDependOnTheirChunk) {
  // Rows are eliminated in one chunk per thread; a row's result must not
  // depend on which chunk holds it or how many there are (OpenBLAS
  // factorises on the same thread count in both runs).
  const int64_t rows = 77, cols = 96;
  std::vector<float> w = randomMatrix(rows, cols, 41);
  std::vector<float> x = correlatedInputs(400, cols, 42);
  GPTQ gptq(cols);
  gptq.addBatch(x.data(), 400);
  GPTQConfig c = gptqConfig(4, 32, true);
  c.blockSize = 40;
  std::vector<GPTQResult> results;
  for (int threads : {1, 2, 5}) {
    setNumThreads(threads);
    results.push_back(gptq.quantize(w.data(), rows, c));
  }
  setNumThreads(0);
  // 1 thread factorises alone; 2 and 5 run OpenBLAS on 2 and 5 threads, so
  // compare the codes exactly only where the factor is the same.
  for (const GPTQResult &r : results) {
    size_t same = 0;
    for (size_t k = 0; k < r.codes.size(); ++k)
      same += r.codes[k] == results[0].codes[k];
    EXPECT_GE(double(same), 0.99 * double(r.codes.size()));
    EXPECT_EQ(r.perm, results[0].perm);
    EXPECT_EQ(r.gIdx, results[0].gIdx);
  }
}

TEST(GPTQTest, SharedGroupParametersUseAllRows) {
  // perChannel = false: one (scale, zero) per group over all rows, taken
  // from the weights as updated at the block start, so all rows run
  // together; every row of a group must share its parameters.
  const int64_t rows = 40, cols = 64;
  std::vector<float> w = randomMatrix(rows, cols, 51);
  std::vector<float> x = correlatedInputs(300, cols, 52);
  GPTQ gptq(cols);
  gptq.addBatch(x.data(), 300);
  GPTQConfig c = gptqConfig(4, 16, true);
  c.quantizer.perChannel = false;
  c.blockSize = 32;
  GPTQResult g = gptq.quantize(w.data(), rows, c);
  for (int64_t grp = 0; grp < g.numGroups; ++grp)
    for (int64_t r = 1; r < rows; ++r) {
      EXPECT_EQ(g.scales[size_t(r * g.numGroups + grp)], g.scales[size_t(grp)]);
      EXPECT_EQ(g.zeros[size_t(r * g.numGroups + grp)], g.zeros[size_t(grp)]);
    }
  RTNResult rtn = quantizeRTN(w.data(), rows, cols, c.quantizer, 16);
  EXPECT_LT(outputError(w, g.dequantized, x, rows, cols),
            0.8 * outputError(w, rtn.dequantized, x, rows, cols));
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
