//===- AWQ.cpp - Activation-aware weight quantization search --------------===//
//
// See AWQ.h. Dense products go through Eigen, split over the cores with
// parallelFor. The clip search measures ||X_g (Q(clip W_g) - W_g)^T||^2 per
// group through the group's Gram matrix X_g^T X_g (double), which is exact
// up to rounding and costs group-size instead of token-count work per row.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/AWQ.h"

#include "quantx/Quant/Parallel.h"

#include <Eigen/Dense>
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>

namespace quantx {

namespace {

using RowMatrixF =
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMatrixD =
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMapF = Eigen::Map<const RowMatrixF>;
using MapF = Eigen::Map<RowMatrixF>;

void checkConfig(const AWQConfig &config) {
  if (config.bits < 2 || config.bits > 8)
    throw std::invalid_argument("AWQ: bits must be in [2, 8], got " +
                                std::to_string(config.bits));
  if (config.scaleGrid < 1)
    throw std::invalid_argument("AWQ: scaleGrid must be at least 1");
  if (config.clipGrid < 1)
    throw std::invalid_argument("AWQ: clipGrid must be at least 1");
  if (!(config.maxShrink >= 0.0 && config.maxShrink < 1.0))
    throw std::invalid_argument("AWQ: maxShrink must be in [0, 1)");
  if (config.clipSampleTokens < 1)
    throw std::invalid_argument("AWQ: clipSampleTokens must be positive");
}

void checkFinite(const float *data, int64_t n, const char *what) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(data[i]))
      throw std::invalid_argument(std::string("AWQ: ") + what +
                                  " contains NaN or Inf at index " +
                                  std::to_string(i));
}

/// Quantization parameters of one group as the reference computes them.
struct GroupParams {
  float scale;
  float zero;
  float maxInt;
};

GroupParams groupParams(float minVal, float maxVal, const AWQConfig &config) {
  if (config.zeroPoint) {
    float maxInt = float((1 << config.bits) - 1);
    float scale = std::max(maxVal - minVal, 1e-5f) / maxInt;
    float zero = -std::nearbyint(minVal / scale);
    zero = std::min(std::max(zero, 0.0f), maxInt);
    return {scale, zero, maxInt};
  }
  // Symmetric: codes q + 2^(n-1) in [0, 2^n - 1], q in [-2^(n-1),
  // 2^(n-1) - 1]; the zero point is 2^(n-1).
  float absMax = std::max(std::fabs(minVal), std::fabs(maxVal));
  float half = float(1 << (config.bits - 1));
  float scale = std::max(absMax, 1e-5f) / (half - 1.0f);
  return {scale, half, float((1 << config.bits) - 1)};
}

/// Pseudo-quantizes one group of `n` values (optionally clipped to
/// [-clip, clip] first) into `out`; stores codes when `codes` is set.
GroupParams quantizeGroup(const float *w, int64_t n, float clip, float *out,
                          uint8_t *codes, const AWQConfig &config) {
  float lo = std::numeric_limits<float>::infinity();
  float hi = -lo;
  for (int64_t i = 0; i < n; ++i) {
    float v = std::min(std::max(w[i], -clip), clip);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  GroupParams gp = groupParams(lo, hi, config);
  for (int64_t i = 0; i < n; ++i) {
    float v = std::min(std::max(w[i], -clip), clip);
    float q = std::nearbyint(v / gp.scale) + gp.zero;
    q = std::min(std::max(q, 0.0f), gp.maxInt);
    if (codes)
      codes[i] = uint8_t(q);
    out[i] = (q - gp.zero) * gp.scale;
  }
  return gp;
}

constexpr float kNoClip = std::numeric_limits<float>::infinity();

void pseudoQuantizeRows(const float *w, int64_t rows, int64_t cols,
                        int64_t groupSize, const AWQConfig &config,
                        float *out) {
  int64_t minChunk = std::max<int64_t>(1, 16384 / std::max<int64_t>(cols, 1));
  parallelFor(0, rows, minChunk, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = 0; c < cols; c += groupSize)
        quantizeGroup(w + r * cols + c, groupSize, kNoClip, out + r * cols + c,
                      nullptr, config);
  });
}

/// C[n x m] = A[n x k] * B[m x k]^T (OpenBLAS, on getNumThreads() threads).
void matmulTransB(const float *a, int64_t n, int64_t k, const float *b,
                  int64_t m, float *c) {
  openblas_set_num_threads(getNumThreads());
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(n), blasint(m),
              blasint(k), 1.0f, a, blasint(k), b, blasint(k), 0.0f, c,
              blasint(m));
}

void checkWeights(const std::vector<AWQWeightRef> &weights,
                  int64_t inFeatures) {
  if (weights.empty())
    throw std::invalid_argument("AWQ: at least one weight is required");
  if (inFeatures <= 0)
    throw std::invalid_argument("AWQ: inFeatures must be positive");
  for (size_t i = 0; i < weights.size(); ++i) {
    if (!weights[i].data || weights[i].rows <= 0)
      throw std::invalid_argument("AWQ: weight " + std::to_string(i) +
                                  " is empty");
    checkFinite(weights[i].data, weights[i].rows * inFeatures, "weight");
  }
}

/// The candidate scales for grid point `index` (auto_scale.py /
/// AutoAWQ's _search_best_scale).
std::vector<float> candidateScales(const std::vector<float> &xMean,
                                   const std::vector<float> &wMean, int index,
                                   const AWQConfig &config) {
  float ratio = float(double(index) / double(config.scaleGrid));
  size_t n = xMean.size();
  std::vector<float> s(n);
  for (size_t i = 0; i < n; ++i) {
    float v = std::pow(xMean[i], ratio);
    if (config.duoScaling)
      v = v / (std::pow(wMean[i], 1.0f - ratio) + 1e-4f);
    s[i] = std::max(v, 1e-4f);
  }
  auto [mn, mx] = std::minmax_element(s.begin(), s.end());
  float norm = std::sqrt(*mx * *mn);
  for (float &v : s) {
    v = v / norm;
    if (!std::isfinite(v))
      v = 1.0f;
  }
  return s;
}

/// W * s, pseudo-quantized, divided by s (one weight).
void scaledCandidate(const AWQWeightRef &w, int64_t inFeatures,
                     int64_t groupSize, const std::vector<float> &s,
                     const AWQConfig &config, float *out) {
  int64_t minChunk =
      std::max<int64_t>(1, 16384 / std::max<int64_t>(inFeatures, 1));
  parallelFor(0, w.rows, minChunk, [&](int64_t r0, int64_t r1) {
    std::vector<float> row(inFeatures);
    for (int64_t r = r0; r < r1; ++r) {
      const float *src = w.data + r * inFeatures;
      for (int64_t c = 0; c < inFeatures; ++c)
        row[c] = src[c] * s[c];
      float *dst = out + r * inFeatures;
      for (int64_t c = 0; c < inFeatures; c += groupSize)
        quantizeGroup(row.data() + c, groupSize, kNoClip, dst + c, nullptr,
                      config);
      for (int64_t c = 0; c < inFeatures; ++c)
        dst[c] = dst[c] / s[c];
    }
  });
}

/// Shared driver of both scale searches: `loss(candidates)` returns the
/// loss of one set of candidate weights.
AWQScaleResult searchScales(
    const std::vector<AWQWeightRef> &weights, const float *x, int64_t tokens,
    int64_t inFeatures, const AWQConfig &config,
    const std::function<double(const std::vector<const float *> &)> &loss) {
  int64_t groupSize = awqGroupSize(config, inFeatures);
  std::vector<float> xMean = awqActivationMean(x, tokens, inFeatures);
  std::vector<float> wMean;
  if (config.duoScaling)
    wMean = awqWeightMean(weights, inFeatures, config);

  std::vector<std::vector<float>> candidates(weights.size());
  std::vector<const float *> ptrs(weights.size());
  for (size_t i = 0; i < weights.size(); ++i) {
    candidates[i].resize(weights[i].rows * inFeatures);
    ptrs[i] = candidates[i].data();
  }
  AWQScaleResult result;
  result.bestLoss = std::numeric_limits<double>::infinity();
  for (int index = 0; index < config.scaleGrid; ++index) {
    std::vector<float> s = candidateScales(xMean, wMean, index, config);
    for (size_t i = 0; i < weights.size(); ++i)
      scaledCandidate(weights[i], inFeatures, groupSize, s, config,
                      candidates[i].data());
    double l = loss(ptrs);
    result.losses.push_back(l);
    if (l < result.bestLoss) {
      result.bestLoss = l;
      result.bestIndex = index;
      result.scales = std::move(s);
    }
  }
  if (result.bestIndex < 0)
    throw std::runtime_error(
        "AWQ: no grid point gave a finite loss (forward output NaN/Inf?)");
  result.bestRatio = double(result.bestIndex) / double(config.scaleGrid);
  for (const AWQWeightRef &w : weights) {
    std::vector<float> scaled(w.rows * inFeatures);
    for (int64_t r = 0; r < w.rows; ++r)
      for (int64_t c = 0; c < inFeatures; ++c)
        scaled[r * inFeatures + c] =
            w.data[r * inFeatures + c] * result.scales[c];
    result.quantized.push_back(
        awqQuantize(scaled.data(), w.rows, inFeatures, config));
    result.scaledWeights.push_back(std::move(scaled));
  }
  return result;
}

void checkActivations(const float *x, int64_t tokens, int64_t inFeatures) {
  if (!x || tokens <= 0)
    throw std::invalid_argument("AWQ: calibration activations are empty");
  checkFinite(x, tokens * inFeatures, "calibration activations");
}

} // namespace

std::vector<float> AWQQuantizedWeight::dequantize() const {
  std::vector<float> out(rows * cols);
  int64_t ng = numGroups();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      int64_t g = r * ng + c / groupSize;
      out[r * cols + c] = (float(codes[r * cols + c]) - zeros[g]) * scales[g];
    }
  return out;
}

int64_t awqGroupSize(const AWQConfig &config, int64_t cols) {
  checkConfig(config);
  if (cols <= 0)
    throw std::invalid_argument("AWQ: the weight has no columns");
  int64_t g = config.groupSize > 0 ? config.groupSize : cols;
  if (cols % g != 0)
    throw std::invalid_argument("AWQ: input features (" + std::to_string(cols) +
                                ") are not a multiple of the group size (" +
                                std::to_string(g) + ")");
  return g;
}

AWQQuantizedWeight awqQuantize(const float *weight, int64_t rows, int64_t cols,
                               const AWQConfig &config) {
  int64_t g = awqGroupSize(config, cols);
  if (!weight || rows <= 0)
    throw std::invalid_argument("AWQ: the weight is empty");
  checkFinite(weight, rows * cols, "weight");
  AWQQuantizedWeight q;
  q.rows = rows;
  q.cols = cols;
  q.groupSize = g;
  q.bits = config.bits;
  q.codes.resize(rows * cols);
  q.scales.resize(rows * (cols / g));
  q.zeros.resize(rows * (cols / g));
  std::vector<float> scratch(rows * cols);
  parallelFor(0, rows, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = 0; c < cols; c += g) {
        GroupParams gp = quantizeGroup(weight + r * cols + c, g, kNoClip,
                                       scratch.data() + r * cols + c,
                                       q.codes.data() + r * cols + c, config);
        int64_t gi = r * (cols / g) + c / g;
        q.scales[gi] = gp.scale;
        q.zeros[gi] = gp.zero;
      }
  });
  return q;
}

void awqPseudoQuantize(const float *weight, int64_t rows, int64_t cols,
                       const AWQConfig &config, float *out) {
  int64_t g = awqGroupSize(config, cols);
  if (!weight || !out || rows <= 0)
    throw std::invalid_argument("AWQ: the weight is empty");
  checkFinite(weight, rows * cols, "weight");
  pseudoQuantizeRows(weight, rows, cols, g, config, out);
}

std::vector<float> awqActivationMean(const float *x, int64_t tokens,
                                     int64_t inFeatures) {
  checkActivations(x, tokens, inFeatures);
  std::vector<double> acc(inFeatures, 0.0);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t c = 0; c < inFeatures; ++c)
      acc[c] += std::fabs(x[t * inFeatures + c]);
  std::vector<float> mean(inFeatures);
  for (int64_t c = 0; c < inFeatures; ++c)
    mean[c] = float(acc[c] / double(tokens));
  return mean;
}

std::vector<float> awqWeightMean(const std::vector<AWQWeightRef> &weights,
                                 int64_t inFeatures, const AWQConfig &config) {
  checkWeights(weights, inFeatures);
  int64_t g = awqGroupSize(config, inFeatures);
  std::vector<double> acc(inFeatures, 0.0);
  int64_t totalRows = 0;
  for (const AWQWeightRef &w : weights) {
    totalRows += w.rows;
    for (int64_t r = 0; r < w.rows; ++r)
      for (int64_t c0 = 0; c0 < inFeatures; c0 += g) {
        const float *src = w.data + r * inFeatures + c0;
        float mx = 0.0f;
        for (int64_t i = 0; i < g; ++i)
          mx = std::max(mx, std::fabs(src[i]));
        for (int64_t i = 0; i < g; ++i)
          acc[c0 + i] += std::fabs(src[i]) / (mx + 1e-6f);
      }
  }
  std::vector<float> mean(inFeatures);
  for (int64_t c = 0; c < inFeatures; ++c)
    mean[c] = float(acc[c] / double(totalRows));
  return mean;
}

AWQScaleResult awqSearchScales(const std::vector<AWQWeightRef> &weights,
                               const float *x, int64_t tokens,
                               int64_t inFeatures,
                               const AWQModuleForward &forward,
                               const AWQConfig &config) {
  checkConfig(config);
  checkWeights(weights, inFeatures);
  checkActivations(x, tokens, inFeatures);
  if (!forward)
    throw std::invalid_argument("AWQ: the forward callback is empty");
  std::vector<const float *> original;
  for (const AWQWeightRef &w : weights)
    original.push_back(w.data);
  std::vector<float> reference;
  forward(original, reference);
  if (reference.empty())
    throw std::runtime_error("AWQ: the forward callback returned no output");
  std::vector<float> out;
  return searchScales(
      weights, x, tokens, inFeatures, config,
      [&](const std::vector<const float *> &cand) -> double {
        out.clear();
        forward(cand, out);
        if (out.size() != reference.size())
          throw std::runtime_error("AWQ: the forward callback returned " +
                                   std::to_string(out.size()) +
                                   " values, expected " +
                                   std::to_string(reference.size()));
        double sum = 0.0;
        for (size_t i = 0; i < out.size(); ++i) {
          double d = double(reference[i]) - double(out[i]);
          sum += d * d;
        }
        double l = sum / double(out.size());
        return std::isfinite(l) ? l : std::numeric_limits<double>::infinity();
      });
}

AWQScaleResult awqSearchScalesLinear(const std::vector<AWQWeightRef> &weights,
                                     const float *x, int64_t tokens,
                                     int64_t inFeatures,
                                     const AWQConfig &config) {
  checkConfig(config);
  checkWeights(weights, inFeatures);
  checkActivations(x, tokens, inFeatures);
  int64_t totalRows = 0;
  for (const AWQWeightRef &w : weights)
    totalRows += w.rows;
  std::vector<float> diff, prod;
  return searchScales(weights, x, tokens, inFeatures, config,
                      [&](const std::vector<const float *> &cand) -> double {
                        double sum = 0.0;
                        for (size_t i = 0; i < weights.size(); ++i) {
                          int64_t n = weights[i].rows * inFeatures;
                          diff.resize(n);
                          for (int64_t j = 0; j < n; ++j)
                            diff[j] = cand[i][j] - weights[i].data[j];
                          prod.resize(tokens * weights[i].rows);
                          matmulTransB(x, tokens, inFeatures, diff.data(),
                                       weights[i].rows, prod.data());
                          for (float v : prod)
                            sum += double(v) * double(v);
                        }
                        return sum / double(tokens * totalRows);
                      });
}

AWQClipResult awqSearchClip(const float *weight, int64_t rows, int64_t cols,
                            const float *x, int64_t tokens,
                            const AWQConfig &config) {
  int64_t g = awqGroupSize(config, cols);
  if (!weight || rows <= 0)
    throw std::invalid_argument("AWQ: the weight is empty");
  checkFinite(weight, rows * cols, "weight");
  checkActivations(x, tokens, cols);
  int64_t numGroups = cols / g;

  // Token subsample as auto_clip_layer: every step-th token.
  int64_t step = std::max<int64_t>(1, tokens / config.clipSampleTokens);
  int64_t nSample = (tokens + step - 1) / step;

  // Gram matrix of every group over the sampled tokens.
  std::vector<RowMatrixD> gram(numGroups);
  parallelFor(0, numGroups, 1, [&](int64_t g0, int64_t g1) {
    for (int64_t gi = g0; gi < g1; ++gi) {
      RowMatrixD xs(nSample, g);
      for (int64_t t = 0; t < nSample; ++t)
        for (int64_t i = 0; i < g; ++i)
          xs(t, i) = x[t * step * cols + gi * g + i];
      gram[gi] = xs.transpose() * xs;
    }
  });

  int nShrink = int(config.maxShrink * config.clipGrid);
  AWQClipResult result;
  result.maxVal.resize(rows * numGroups);
  result.clippedWeight.resize(rows * cols);
  parallelFor(0, rows, 32, [&](int64_t r0, int64_t r1) {
    int64_t n = r1 - r0;
    RowMatrixD diff(n, g), t;
    std::vector<float> orgMax(n), bestMax(n), q(g);
    std::vector<double> minErr(n);
    for (int64_t gi = 0; gi < numGroups; ++gi) {
      for (int64_t r = 0; r < n; ++r) {
        const float *w = weight + (r0 + r) * cols + gi * g;
        float mx = 0.0f;
        for (int64_t i = 0; i < g; ++i)
          mx = std::max(mx, std::fabs(w[i]));
        orgMax[r] = bestMax[r] = mx;
        minErr[r] = 1e9; // the reference's initial error bound
      }
      for (int s = 0; s < nShrink; ++s) {
        float factor = float(1.0 - double(s) / double(config.clipGrid));
        for (int64_t r = 0; r < n; ++r) {
          const float *w = weight + (r0 + r) * cols + gi * g;
          quantizeGroup(w, g, orgMax[r] * factor, q.data(), nullptr, config);
          for (int64_t i = 0; i < g; ++i)
            diff(r, i) = double(q[i]) - double(w[i]);
        }
        t.noalias() = diff * gram[gi];
        for (int64_t r = 0; r < n; ++r) {
          double err = t.row(r).dot(diff.row(r)) / double(nSample);
          if (err < minErr[r]) {
            minErr[r] = err;
            bestMax[r] = orgMax[r] * factor;
          }
        }
      }
      for (int64_t r = 0; r < n; ++r) {
        result.maxVal[(r0 + r) * numGroups + gi] = bestMax[r];
        const float *w = weight + (r0 + r) * cols + gi * g;
        float *dst = result.clippedWeight.data() + (r0 + r) * cols + gi * g;
        for (int64_t i = 0; i < g; ++i)
          dst[i] = std::min(std::max(w[i], -bestMax[r]), bestMax[r]);
      }
    }
  });
  result.quantized =
      awqQuantize(result.clippedWeight.data(), rows, cols, config);
  return result;
}

AWQModuleForward makeAWQLlamaAttentionForward(const float *x, int64_t batch,
                                              int64_t seqLen, int64_t hidden,
                                              int64_t numHeads, int64_t headDim,
                                              double ropeTheta,
                                              const float *oWeight) {
  if (!x || !oWeight || batch <= 0 || seqLen <= 0 || hidden <= 0 ||
      numHeads <= 0 || headDim <= 0 || headDim % 2 != 0 || !(ropeTheta > 0))
    throw std::invalid_argument(
        "AWQ attention forward: bad shape (batch, seqLen, hidden, numHeads "
        "must be positive, headDim positive and even, ropeTheta > 0)");
  // RoPE tables (rotate-half convention), computed once.
  int64_t half = headDim / 2;
  auto cosT = std::make_shared<std::vector<float>>(seqLen * half);
  auto sinT = std::make_shared<std::vector<float>>(seqLen * half);
  for (int64_t p = 0; p < seqLen; ++p)
    for (int64_t i = 0; i < half; ++i) {
      double invFreq = 1.0 / std::pow(ropeTheta, double(2 * i) / headDim);
      (*cosT)[p * half + i] = float(std::cos(double(p) * invFreq));
      (*sinT)[p * half + i] = float(std::sin(double(p) * invFreq));
    }
  int64_t tokens = batch * seqLen;
  int64_t inner = numHeads * headDim;
  return [=](const std::vector<const float *> &w, std::vector<float> &out) {
    if (w.size() != 3)
      throw std::invalid_argument(
          "AWQ attention forward: expects [Wq, Wk, Wv]");
    std::vector<float> q(tokens * inner), k(tokens * inner), v(tokens * inner),
        ctx(tokens * inner);
    matmulTransB(x, tokens, hidden, w[0], inner, q.data());
    matmulTransB(x, tokens, hidden, w[1], inner, k.data());
    matmulTransB(x, tokens, hidden, w[2], inner, v.data());
    float invSqrt = float(1.0 / std::sqrt(double(headDim)));
    parallelFor(0, batch * numHeads, 1, [&](int64_t j0, int64_t j1) {
      RowMatrixF qh(seqLen, headDim), kh(seqLen, headDim), vh(seqLen, headDim),
          sc(seqLen, seqLen), oh(seqLen, headDim);
      for (int64_t j = j0; j < j1; ++j) {
        int64_t b = j / numHeads, h = j % numHeads;
        for (int64_t p = 0; p < seqLen; ++p) {
          int64_t base = (b * seqLen + p) * inner + h * headDim;
          for (int64_t i = 0; i < half; ++i) {
            float c = (*cosT)[p * half + i], s = (*sinT)[p * half + i];
            float q1 = q[base + i], q2 = q[base + i + half];
            float k1 = k[base + i], k2 = k[base + i + half];
            qh(p, i) = q1 * c - q2 * s;
            qh(p, i + half) = q2 * c + q1 * s;
            kh(p, i) = k1 * c - k2 * s;
            kh(p, i + half) = k2 * c + k1 * s;
          }
          for (int64_t i = 0; i < headDim; ++i)
            vh(p, i) = v[base + i];
        }
        sc.noalias() = qh * kh.transpose();
        for (int64_t p = 0; p < seqLen; ++p) {
          float mx = -std::numeric_limits<float>::infinity();
          for (int64_t u = 0; u <= p; ++u)
            mx = std::max(mx, sc(p, u) * invSqrt);
          float sum = 0.0f;
          for (int64_t u = 0; u <= p; ++u) {
            float e = std::exp(sc(p, u) * invSqrt - mx);
            sc(p, u) = e;
            sum += e;
          }
          for (int64_t u = 0; u <= p; ++u)
            sc(p, u) /= sum;
          for (int64_t u = p + 1; u < seqLen; ++u)
            sc(p, u) = 0.0f;
        }
        oh.noalias() = sc * vh;
        for (int64_t p = 0; p < seqLen; ++p)
          for (int64_t i = 0; i < headDim; ++i)
            ctx[(b * seqLen + p) * inner + h * headDim + i] = oh(p, i);
      }
    });
    out.resize(tokens * hidden);
    matmulTransB(ctx.data(), tokens, inner, oWeight, hidden, out.data());
  };
}

AWQModuleForward makeAWQGatedMLPForward(const float *x, int64_t tokens,
                                        int64_t hidden, int64_t ffn,
                                        const float *downWeight) {
  if (!x || !downWeight || tokens <= 0 || hidden <= 0 || ffn <= 0)
    throw std::invalid_argument(
        "AWQ MLP forward: empty input or non-positive shape");
  return [=](const std::vector<const float *> &w, std::vector<float> &out) {
    if (w.size() != 2)
      throw std::invalid_argument("AWQ MLP forward: expects [Wgate, Wup]");
    std::vector<float> gate(tokens * ffn), up(tokens * ffn);
    matmulTransB(x, tokens, hidden, w[0], ffn, gate.data());
    matmulTransB(x, tokens, hidden, w[1], ffn, up.data());
    for (int64_t i = 0; i < tokens * ffn; ++i)
      gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
    out.resize(tokens * hidden);
    matmulTransB(gate.data(), tokens, ffn, downWeight, hidden, out.data());
  };
}

} // namespace quantx
