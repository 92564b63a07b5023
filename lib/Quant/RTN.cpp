//===- RTN.cpp - Round-to-nearest weight quantization ---------------------===//
//
// See RTN.h. Every float32 operation follows the reference quantizer's order
// (IST-DASLab/gptq quant.py) so that the results are bit-identical; the MSE
// search raises |q - x| to the norm in float32 like the reference but sums in
// double, which can only differ from the reference where two clipping
// candidates tie to float32 precision.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/RTN.h"
#include "quantx/Quant/Parallel.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace quantx {

void QuantizerConfig::validate() const {
  if (!trits && (bits < 2 || bits > 8))
    throw std::invalid_argument("quantizer: bits must be in 2..8, got " +
                                std::to_string(bits));
  if (trits && mse)
    throw std::invalid_argument(
        "quantizer: the mse search is not defined for trits");
  if (mse) {
    if (!(norm > 0) || !std::isfinite(norm))
      throw std::invalid_argument("quantizer: mse norm must be positive");
    if (grid <= 0)
      throw std::invalid_argument("quantizer: mse grid must be positive");
    if (!(maxShrink > 0) || maxShrink > 1)
      throw std::invalid_argument("quantizer: mse maxShrink must be in (0, 1]");
  }
}

namespace {

/// Range of one set of values, with the reference's zero inclusion.
struct Range {
  float xmin = 0.0f, xmax = 0.0f;
};

Range rangeOf(const float *x, int64_t rows, int64_t cols, int64_t ld) {
  // Eight running minima and maxima (vectorisable); min and max are exact,
  // so the result equals one running pair. Every lane starts at 0 and only
  // moves to a nonzero value, so no -0 can appear.
  constexpr int lanes = 8;
  float mn[lanes] = {}, mx[lanes] = {};
  for (int64_t i = 0; i < rows; ++i) {
    const float *row = x + i * ld;
    // Exponent bits all set: infinite or NaN.
    uint32_t bad = 0;
    for (int64_t j = 0; j < cols; ++j) {
      uint32_t bits;
      std::memcpy(&bits, row + j, sizeof(bits));
      bad |= uint32_t((bits & 0x7f800000u) == 0x7f800000u);
    }
    if (bad)
      throw std::invalid_argument(
          "quantizer: input contains a NaN or infinite value");
    int64_t j = 0;
    for (; j + lanes <= cols; j += lanes)
      for (int k = 0; k < lanes; ++k) {
        mn[k] = std::min(mn[k], row[j + k]);
        mx[k] = std::max(mx[k], row[j + k]);
      }
    for (; j < cols; ++j) {
      mn[0] = std::min(mn[0], row[j]);
      mx[0] = std::max(mx[0], row[j]);
    }
  }
  Range r;
  for (int k = 0; k < lanes; ++k) {
    r.xmin = std::min(r.xmin, mn[k]);
    r.xmax = std::max(r.xmax, mx[k]);
  }
  return r;
}

/// The reference's find_params on the values x[0..rows) x [0..cols) that
/// share one (scale, zero).
void paramsFor(const QuantizerConfig &config, const float *x, int64_t rows,
               int64_t cols, int64_t ld, float &scaleOut, float &zeroOut) {
  const int maxq = config.maxq();
  Range r = rangeOf(x, rows, cols, ld);
  float xmin = r.xmin, xmax = r.xmax;
  if (config.sym) {
    xmax = std::max(std::fabs(xmin), xmax);
    if (xmin < 0.0f)
      xmin = -xmax;
  }
  if (xmin == 0.0f && xmax == 0.0f) {
    xmin = -1.0f;
    xmax = 1.0f;
  }
  if (maxq < 0) {
    scaleOut = xmax;
    zeroOut = xmin;
    return;
  }
  float scale = (xmax - xmin) / float(maxq);
  if (!(scale > 0.0f)) {
    // The range is so small that the scale underflows (the reference would
    // divide by zero): treat it as the zero range.
    xmin = -1.0f;
    xmax = 1.0f;
    scale = (xmax - xmin) / float(maxq);
  }
  const float symZero = float(maxq + 1) / 2.0f;
  float zero = config.sym ? symZero : __builtin_rintf(-xmin / scale);

  if (config.mse) {
    double best = std::numeric_limits<double>::infinity();
    const int steps = int(config.maxShrink * config.grid);
    const float normF = float(config.norm);
    for (int i = 0; i < steps; ++i) {
      const float p = float(1.0 - double(i) / double(config.grid));
      float xmin1 = p * xmin, xmax1 = p * xmax;
      float scale1 = (xmax1 - xmin1) / float(maxq);
      if (!(scale1 > 0.0f))
        continue;
      float zero1 = config.sym ? symZero : __builtin_rintf(-xmin1 / scale1);
      double err = 0.0;
      for (int64_t a = 0; a < rows; ++a) {
        const float *row = x + a * ld;
        for (int64_t j = 0; j < cols; ++j) {
          float q = dequantizeCode(quantizeCode(row[j], scale1, zero1, maxq),
                                   scale1, zero1, maxq);
          // |q - x|^norm in float32 like the reference (so overflow to inf
          // and underflow to 0 match), summed in double.
          err += double(std::pow(std::fabs(q - row[j]), normF));
        }
      }
      if (err < best) {
        best = err;
        scale = scale1;
        zero = zero1;
      }
    }
  }
  scaleOut = scale;
  zeroOut = zero;
}

void checkMatrix(const char *what, const float *x, int64_t rows, int64_t cols,
                 int64_t ld) {
  if (rows <= 0 || cols <= 0)
    throw std::invalid_argument(std::string(what) +
                                ": the matrix must have at least one row and "
                                "one column, got " +
                                std::to_string(rows) + " x " +
                                std::to_string(cols));
  if (ld < cols)
    throw std::invalid_argument(std::string(what) +
                                ": leading dimension is smaller than cols");
  if (!x)
    throw std::invalid_argument(std::string(what) + ": null input");
}

} // namespace

void findQuantParams(const QuantizerConfig &config, const float *x,
                     int64_t rows, int64_t cols, int64_t ld, float *scale,
                     float *zero) {
  config.validate();
  checkMatrix("findQuantParams", x, rows, cols, ld);
  if (!config.perChannel) {
    float s, z;
    paramsFor(config, x, rows, cols, ld, s, z);
    std::fill(scale, scale + rows, s);
    std::fill(zero, zero + rows, z);
    return;
  }
  // Only the MSE search is worth threads; plain min/max is memory-bound.
  const int64_t minChunk = config.mse ? 4 : std::max<int64_t>(1, 65536 / cols);
  parallelFor(0, rows, minChunk, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r)
      paramsFor(config, x + r * ld, 1, cols, ld, scale[r], zero[r]);
  });
}

RTNResult quantizeRTN(const float *w, int64_t rows, int64_t cols,
                      const QuantizerConfig &config, int64_t groupSize) {
  config.validate();
  checkMatrix("quantizeRTN", w, rows, cols, cols);
  RTNResult res;
  res.rows = rows;
  res.cols = cols;
  res.groupSize = groupSize > 0 ? std::min(groupSize, cols) : cols;
  res.numGroups = (cols + res.groupSize - 1) / res.groupSize;
  const int64_t gs = res.groupSize, numGroups = res.numGroups;
  res.codes.resize(static_cast<size_t>(rows * cols));
  res.scales.resize(static_cast<size_t>(rows * numGroups));
  res.zeros.resize(static_cast<size_t>(rows * numGroups));
  res.dequantized.resize(static_cast<size_t>(rows * cols));

  // Parameters: per (row, group), or per group over all rows.
  std::vector<float> colScale(static_cast<size_t>(rows)),
      colZero(static_cast<size_t>(rows));
  for (int64_t g = 0; g < numGroups; ++g) {
    const int64_t c0 = g * gs, width = std::min(gs, cols - c0);
    findQuantParams(config, w + c0, rows, width, cols, colScale.data(),
                    colZero.data());
    for (int64_t r = 0; r < rows; ++r) {
      res.scales[size_t(r * numGroups + g)] = colScale[size_t(r)];
      res.zeros[size_t(r * numGroups + g)] = colZero[size_t(r)];
    }
  }

  const int maxq = config.maxq();
  parallelFor(0, rows, std::max<int64_t>(1, 16384 / cols),
              [&](int64_t lo, int64_t hi) {
                for (int64_t r = lo; r < hi; ++r) {
                  for (int64_t j = 0; j < cols; ++j) {
                    const size_t p = size_t(r * numGroups + j / gs);
                    const float s = res.scales[p], z = res.zeros[p];
                    const size_t k = size_t(r * cols + j);
                    int code = quantizeCode(w[k], s, z, maxq);
                    res.codes[k] = uint8_t(code);
                    res.dequantized[k] = dequantizeCode(code, s, z, maxq);
                  }
                }
              });
  return res;
}

} // namespace quantx
