//===- Observer.cpp - Streaming, mergeable range observers ----------------===//
//
// Implements the observers of Observer.h: min/max and moving-average
// min/max (per tensor and per channel), and the histogram-based percentile,
// entropy (KL divergence) and MSE clipping observers on a power-of-two
// histogram grid.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/Observer.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <typeinfo>

namespace quantx {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int kMinExponent = -160;

inline bool isFinite(float v) { return std::fabs(v) <= FLT_MAX; }

/// Per-batch extrema of finite values: one pair, or one per index along
/// `axis` when perChannel. +-inf where no finite value was seen.
void batchExtrema(const float *data, const std::vector<int64_t> &dims,
                  bool perChannel, int64_t axis, std::vector<float> &mn,
                  std::vector<float> &mx) {
  int64_t n = numElements(dims);
  int64_t outer = 1, dim = 1, inner = n;
  if (perChannel) {
    int64_t rank = static_cast<int64_t>(dims.size());
    if (axis < -rank || axis >= rank)
      throw std::invalid_argument("observer axis " + std::to_string(axis) +
                                  " is out of range for a batch of rank " +
                                  std::to_string(rank));
    int64_t a = axis < 0 ? axis + rank : axis;
    outer = 1;
    for (int64_t i = 0; i < a; ++i)
      outer *= dims[i];
    dim = dims[a];
    inner = 1;
    for (int64_t i = a + 1; i < rank; ++i)
      inner *= dims[i];
  }
  mn.assign(dim, kInf);
  mx.assign(dim, -kInf);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t d = 0; d < dim; ++d) {
      const float *x = data + (o * dim + d) * inner;
      float a = mn[d], z = mx[d];
      for (int64_t i = 0; i < inner; ++i) {
        float v = x[i];
        bool fin = isFinite(v);
        a = fin && v < a ? v : a;
        z = fin && v > z ? v : z;
      }
      mn[d] = a;
      mx[d] = z;
    }
}

std::vector<Range> toRanges(const std::vector<float> &mn,
                            const std::vector<float> &mx) {
  std::vector<Range> r(std::max<size_t>(1, mn.size()));
  for (size_t i = 0; i < mn.size(); ++i)
    if (mn[i] <= mx[i])
      r[i] = Range{mn[i], mx[i]};
  return r;
}

template <typename T> const T &sameKind(const Observer &self, const Observer &o) {
  const T *t = dynamic_cast<const T *>(&o);
  if (!t || typeid(self) != typeid(o))
    throw std::invalid_argument("cannot merge observers of different kinds");
  return *t;
}

} // namespace

Observer::~Observer() = default;

QuantParams Observer::computeParams(const QuantScheme &scheme) const {
  std::vector<Range> r = ranges();
  QuantScheme s = scheme;
  if (isPerChannel()) {
    if (s.granularity != Granularity::PerAxis)
      throw std::invalid_argument(
          "a per-channel observer needs a per-axis scheme");
    s.axis = 0;
    return quantx::computeParams(r, {static_cast<int64_t>(r.size())}, s);
  }
  if (s.granularity != Granularity::PerTensor)
    throw std::invalid_argument(
        "a per-tensor observer needs a per-tensor scheme");
  return quantx::computeParams(r, {}, s);
}

//===----------------------------------------------------------------------===//
// MinMax
//===----------------------------------------------------------------------===//

void MinMaxObserver::observe(const float *data,
                             const std::vector<int64_t> &dims) {
  std::vector<float> bmin, bmax;
  batchExtrema(data, dims, perChannel, axis, bmin, bmax);
  if (mins.empty()) {
    mins = bmin;
    maxs = bmax;
    return;
  }
  if (bmin.size() != mins.size())
    throw std::invalid_argument("batch has " + std::to_string(bmin.size()) +
                                " channels, the observer " +
                                std::to_string(mins.size()));
  for (size_t i = 0; i < mins.size(); ++i) {
    mins[i] = std::min(mins[i], bmin[i]);
    maxs[i] = std::max(maxs[i], bmax[i]);
  }
}

void MinMaxObserver::merge(const Observer &other) {
  const auto &o = sameKind<MinMaxObserver>(*this, other);
  if (o.perChannel != perChannel || o.axis != axis)
    throw std::invalid_argument("cannot merge observers with different axes");
  if (o.mins.empty())
    return;
  if (mins.empty()) {
    mins = o.mins;
    maxs = o.maxs;
    return;
  }
  if (o.mins.size() != mins.size())
    throw std::invalid_argument("cannot merge observers with different "
                                "channel counts");
  for (size_t i = 0; i < mins.size(); ++i) {
    mins[i] = std::min(mins[i], o.mins[i]);
    maxs[i] = std::max(maxs[i], o.maxs[i]);
  }
}

std::vector<Range> MinMaxObserver::ranges() const { return toRanges(mins, maxs); }
int64_t MinMaxObserver::numChannels() const {
  return std::max<int64_t>(1, mins.size());
}
std::unique_ptr<Observer> MinMaxObserver::clone() const {
  return std::make_unique<MinMaxObserver>(*this);
}
std::unique_ptr<Observer> PerChannelMinMaxObserver::clone() const {
  return std::make_unique<PerChannelMinMaxObserver>(*this);
}

//===----------------------------------------------------------------------===//
// Moving average
//===----------------------------------------------------------------------===//

MovingAverageMinMaxObserver::MovingAverageMinMaxObserver(float c)
    : constant(c) {
  if (!(c > 0.0f && c <= 1.0f))
    throw std::invalid_argument("averaging constant must be in (0, 1]");
}

MovingAverageMinMaxObserver::MovingAverageMinMaxObserver(int64_t axis, float c)
    : MovingAverageMinMaxObserver(c) {
  this->axis = axis;
  perChannel = true;
}

void MovingAverageMinMaxObserver::apply(const std::vector<float> &bmin,
                                        const std::vector<float> &bmax) {
  if (mins.empty()) {
    mins = bmin;
    maxs = bmax;
    return;
  }
  if (bmin.size() != mins.size())
    throw std::invalid_argument("batch has " + std::to_string(bmin.size()) +
                                " channels, the observer " +
                                std::to_string(mins.size()));
  for (size_t i = 0; i < mins.size(); ++i) {
    if (!(bmin[i] <= bmax[i]))
      continue; // no finite value in this channel of the batch
    if (!(mins[i] <= maxs[i])) {
      mins[i] = bmin[i];
      maxs[i] = bmax[i];
      continue;
    }
    mins[i] = mins[i] + constant * (bmin[i] - mins[i]);
    maxs[i] = maxs[i] + constant * (bmax[i] - maxs[i]);
  }
}

void MovingAverageMinMaxObserver::observe(const float *data,
                                          const std::vector<int64_t> &dims) {
  std::vector<float> bmin, bmax;
  batchExtrema(data, dims, perChannel, axis, bmin, bmax);
  bool any = false;
  for (size_t i = 0; i < bmin.size(); ++i)
    any |= bmin[i] <= bmax[i];
  if (!any)
    return; // empty or all non-finite: no update, as if not observed
  apply(bmin, bmax);
  historyMin.push_back(std::move(bmin));
  historyMax.push_back(std::move(bmax));
}

void MovingAverageMinMaxObserver::merge(const Observer &other) {
  const auto &o = sameKind<MovingAverageMinMaxObserver>(*this, other);
  if (o.perChannel != perChannel || o.axis != axis || o.constant != constant)
    throw std::invalid_argument(
        "cannot merge moving-average observers configured differently");
  for (size_t b = 0; b < o.historyMin.size(); ++b) {
    apply(o.historyMin[b], o.historyMax[b]);
    historyMin.push_back(o.historyMin[b]);
    historyMax.push_back(o.historyMax[b]);
  }
}

std::vector<Range> MovingAverageMinMaxObserver::ranges() const {
  return toRanges(mins, maxs);
}
int64_t MovingAverageMinMaxObserver::numChannels() const {
  return std::max<int64_t>(1, mins.size());
}
std::unique_ptr<Observer> MovingAverageMinMaxObserver::clone() const {
  return std::make_unique<MovingAverageMinMaxObserver>(*this);
}
std::unique_ptr<Observer> PerChannelMovingAverageMinMaxObserver::clone() const {
  return std::make_unique<PerChannelMovingAverageMinMaxObserver>(*this);
}

//===----------------------------------------------------------------------===//
// Power-of-two histogram
//===----------------------------------------------------------------------===//

PowerOfTwoHistogram::PowerOfTwoHistogram(int64_t numBins, bool absolute)
    : exp(kMinExponent), isAbs(absolute) {
  if (numBins < 2)
    throw std::invalid_argument("a histogram needs at least 2 bins");
  bins.assign(numBins, 0);
}

double PowerOfTwoHistogram::binWidth() const { return std::ldexp(1.0, exp); }

static inline int64_t binIndex(float x, int e) {
  return static_cast<int64_t>(std::floor(std::ldexp(double(x), -e)));
}

int PowerOfTwoHistogram::fitExponent(int from, float l, float h) const {
  const double nb = double(numBins());
  auto fits = [&](int e) {
    return std::floor(std::ldexp(double(h), -e)) -
               std::floor(std::ldexp(double(l), -e)) <
           nb;
  };
  int e = from;
  double span = double(h) - double(l);
  if (span > 0) {
    // Below this exponent the span alone needs more than nb bins.
    int guess = std::ilogb(span) - std::ilogb(nb) - 2;
    e = std::max(e, guess);
  }
  while (!fits(e))
    ++e;
  return e;
}

void PowerOfTwoHistogram::rebin(int e, int64_t newFirst) {
  if (e == exp && newFirst == first)
    return;
  int64_t nb = numBins();
  std::vector<uint64_t> nbins(nb, 0);
  int shift = e - exp;
  for (int64_t j = 0; j < nb; ++j) {
    if (!bins[j])
      continue;
    int64_t a = first + j;
    int64_t na = shift >= 63 ? (a < 0 ? -1 : 0) : (a >> shift); // floor
    nbins[na - newFirst] += bins[j];
  }
  bins.swap(nbins);
  exp = e;
  first = newFirst;
}

void PowerOfTwoHistogram::regrid(float newLo, float newHi) {
  int e = fitExponent(exp, newLo, newHi);
  rebin(e, binIndex(newLo, e));
}

void PowerOfTwoHistogram::add(const float *data, int64_t n) {
  float bl = kInf, bh = -kInf;
  for (int64_t i = 0; i < n; ++i) {
    float v = isAbs ? std::fabs(data[i]) : data[i];
    bool fin = isFinite(v);
    bl = fin && v < bl ? v : bl;
    bh = fin && v > bh ? v : bh;
  }
  if (!(bl <= bh))
    return;
  float nlo = count ? std::min(lo, bl) : bl;
  float nhi = count ? std::max(hi, bh) : bh;
  regrid(std::min(nlo, 0.0f), std::max(nhi, 0.0f));
  lo = nlo;
  hi = nhi;
  // x * 2^-exp is exact in double, so this equals binIndex(v, exp).
  const double inv = std::ldexp(1.0, -exp);
  uint64_t added = 0;
  uint64_t *counts = bins.data();
  for (int64_t i = 0; i < n; ++i) {
    float v = isAbs ? std::fabs(data[i]) : data[i];
    if (!isFinite(v))
      continue;
    ++counts[static_cast<int64_t>(std::floor(double(v) * inv)) - first];
    ++added;
  }
  count += added;
}

void PowerOfTwoHistogram::merge(const PowerOfTwoHistogram &o) {
  if (o.numBins() != numBins() || o.isAbs != isAbs)
    throw std::invalid_argument("cannot merge histograms with different bin "
                                "counts or modes");
  if (!o.count)
    return;
  float nlo = count ? std::min(lo, o.lo) : o.lo;
  float nhi = count ? std::max(hi, o.hi) : o.hi;
  float gl = std::min(nlo, 0.0f), gh = std::max(nhi, 0.0f);
  int e = fitExponent(std::max(exp, o.exp), gl, gh);
  int64_t newFirst = binIndex(gl, e);
  PowerOfTwoHistogram other = o;
  if (!count) {
    // An empty histogram has no counts to move: adopt the grid.
    exp = e;
    first = newFirst;
  } else {
    rebin(e, newFirst);
  }
  other.rebin(e, newFirst);
  for (int64_t j = 0; j < numBins(); ++j)
    bins[j] += other.bins[j];
  count += other.count;
  lo = nlo;
  hi = nhi;
}

float PowerOfTwoHistogram::quantile(double q) const {
  if (!count)
    return 0.0f;
  q = std::min(std::max(q, 0.0), 1.0);
  double target = q * double(count);
  double w = binWidth();
  double cum = 0;
  for (int64_t j = 0; j < numBins(); ++j) {
    if (!bins[j])
      continue;
    double c = double(bins[j]);
    if (cum + c >= target) {
      double v = (double(first + j) + (target - cum) / c) * w;
      return std::min(std::max(float(v), lo), hi);
    }
    cum += c;
  }
  return hi;
}

//===----------------------------------------------------------------------===//
// Histogram (percentile)
//===----------------------------------------------------------------------===//

HistogramObserver::HistogramObserver(int64_t numBins, double p)
    : hist(numBins, false), percentile(p) {
  if (!(p > 0.0 && p <= 100.0))
    throw std::invalid_argument("percentile must be in (0, 100]");
}

void HistogramObserver::observe(const float *data,
                                const std::vector<int64_t> &dims) {
  hist.add(data, numElements(dims));
}

void HistogramObserver::merge(const Observer &other) {
  const auto &o = sameKind<HistogramObserver>(*this, other);
  hist.merge(o.hist);
}

Range HistogramObserver::percentileRange(double p) const {
  if (!(p > 0.0 && p <= 100.0))
    throw std::invalid_argument("percentile must be in (0, 100]");
  Range r{hist.quantile(1.0 - p / 100.0), hist.quantile(p / 100.0)};
  if (r.min > r.max)
    std::swap(r.min, r.max);
  return r;
}

std::vector<Range> HistogramObserver::ranges() const {
  return {percentileRange(percentile)};
}

std::unique_ptr<Observer> HistogramObserver::clone() const {
  return std::make_unique<HistogramObserver>(*this);
}

//===----------------------------------------------------------------------===//
// Entropy
//===----------------------------------------------------------------------===//

EntropyObserver::EntropyObserver(int64_t numBins, int64_t startBin,
                                 int64_t levels)
    : hist(numBins, false), startBin(startBin), levels(levels) {
  if (levels < 2 || startBin < levels || startBin > numBins)
    throw std::invalid_argument(
        "entropy observer needs 2 <= levels <= startBin <= numBins");
}

void EntropyObserver::observe(const float *data,
                              const std::vector<int64_t> &dims) {
  hist.add(data, numElements(dims));
}

void EntropyObserver::merge(const Observer &other) {
  const auto &o = sameKind<EntropyObserver>(*this, other);
  if (o.startBin != startBin || o.levels != levels)
    throw std::invalid_argument("cannot merge entropy observers configured "
                                "differently");
  hist.merge(o.hist);
}

/// Replaces the zeros of `d` (counts) by `eps` and takes the same mass
/// from its non-zero entries, so that KL stays finite (as MXNet's and
/// TensorRT's calibrators do).
static void smooth(std::vector<double> &d, int64_t w, double eps) {
  int64_t zeros = 0;
  for (int64_t j = 0; j < w; ++j)
    zeros += d[j] == 0;
  if (!zeros || zeros == w)
    return;
  double take = eps * double(zeros) / double(w - zeros);
  for (int64_t j = 0; j < w; ++j)
    d[j] = d[j] == 0 ? eps : d[j] - take;
}

/// KL(P || Q) of the candidate range of bins [s, e): P is the histogram
/// there with the counts outside folded into the edge bins; Q splits [s, e)
/// into `levels` chunks and spreads each chunk's unfolded total evenly over
/// the chunk's bins where P is non-zero. Both are smoothed, then
/// normalised.
static double clippedKL(const std::vector<uint64_t> &b, int64_t s, int64_t e,
                        int64_t levels, std::vector<double> &p,
                        std::vector<double> &q) {
  const int64_t w = e - s;
  double below = 0, above = 0;
  for (int64_t j = 0; j < s; ++j)
    below += double(b[j]);
  for (int64_t j = e; j < int64_t(b.size()); ++j)
    above += double(b[j]);
  for (int64_t j = 0; j < w; ++j)
    p[j] = double(b[s + j]);
  p[0] += below;
  p[w - 1] += above;
  for (int64_t k = 0; k < levels; ++k) {
    int64_t cs = k * w / levels, ce = (k + 1) * w / levels;
    double mass = 0;
    int64_t nonZero = 0;
    for (int64_t j = cs; j < ce; ++j) {
      mass += double(b[s + j]);
      nonZero += p[j] != 0;
    }
    for (int64_t j = cs; j < ce; ++j)
      q[j] = p[j] != 0 ? mass / double(nonZero) : 0.0;
  }
  constexpr double eps = 1e-4;
  smooth(p, w, eps);
  smooth(q, w, eps);
  double sp = 0, sq = 0;
  for (int64_t j = 0; j < w; ++j) {
    sp += p[j];
    sq += q[j];
  }
  double kl = 0;
  for (int64_t j = 0; j < w; ++j) {
    if (p[j] <= 0)
      continue;
    if (q[j] <= 0)
      return std::numeric_limits<double>::infinity();
    double pj = p[j] / sp, qj = q[j] / sq;
    kl += pj * std::log(pj / qj);
  }
  return kl;
}

Range EntropyObserver::clipRange() const {
  if (!hist.total())
    return Range{0.0f, 0.0f};
  std::vector<uint64_t> b = hist.counts();
  const int64_t n = hist.numBins();
  // Vector index of the bin starting at 0 (the grid always contains 0).
  const int64_t zero = -hist.start();
  // The bin of 0 counts as its neighbours do: a spike of exact zeros (half
  // of a ReLU's outputs) would otherwise dominate P, and the search would
  // pick the narrowest candidate whose first chunk is that one bin.
  // TensorRT's calibrators do the same to bin 0 of their |x| histograms.
  {
    uint64_t sum = 0, count = 0;
    for (int64_t j : {zero - 1, zero + 1})
      if (j >= 0 && j < n) {
        sum += b[j];
        ++count;
      }
    if (count)
      b[zero] = (sum + count / 2) / count;
  }
  int64_t lo = n, hi = 0; // occupied bins [lo, hi)
  for (int64_t j = 0; j < n; ++j)
    if (b[j]) {
      lo = std::min(lo, j);
      hi = j + 1;
    }
  // Occupied bins on each side of 0; candidates shrink both sides in
  // proportion, stepping the longer side one bin at a time.
  const int64_t pos = std::max<int64_t>(hi - zero, 0);
  const int64_t neg = std::max<int64_t>(zero - lo, 0);
  const int64_t longest = std::max(pos, neg), shortest = std::min(pos, neg);
  const Range data{std::min(hist.dataMin(), 0.0f),
                   std::max(hist.dataMax(), 0.0f)};
  auto sides = [&](int64_t d) {
    int64_t other = (d * shortest + longest / 2) / longest;
    return pos >= neg ? std::make_pair(other, d) : std::make_pair(d, other);
  };
  double bestKL = std::numeric_limits<double>::infinity();
  int64_t best = longest;
  std::vector<double> p(n), q(n);
  for (int64_t d = longest; d > 0; --d) {
    auto [below, above] = sides(d);
    if (below + above < startBin)
      break;
    double kl = clippedKL(b, zero - below, zero + above, levels, p, q);
    if (kl < bestKL) { // ties: the wider range (visited first)
      bestKL = kl;
      best = d;
    }
  }
  auto [below, above] = sides(best);
  const double w = hist.binWidth();
  // (below == 0 gives +0, not -0.)
  return Range{below ? std::max(float(-double(below) * w), data.min) : 0.0f,
               std::min(float(double(above) * w), data.max)};
}

std::vector<Range> EntropyObserver::ranges() const { return {clipRange()}; }

std::unique_ptr<Observer> EntropyObserver::clone() const {
  return std::make_unique<EntropyObserver>(*this);
}

//===----------------------------------------------------------------------===//
// MSE clipping
//===----------------------------------------------------------------------===//

MSEObserver::MSEObserver(const QuantScheme &scheme, int64_t numBins,
                         int64_t gridPoints, float minRatio)
    : hist(numBins, false), scheme(scheme), gridPoints(gridPoints),
      minRatio(minRatio) {
  scheme.validate();
  if (scheme.granularity != Granularity::PerTensor)
    throw std::invalid_argument("the MSE observer needs a per-tensor scheme");
  if (gridPoints < 2 || !(minRatio > 0.0f && minRatio <= 1.0f))
    throw std::invalid_argument(
        "MSE observer needs gridPoints >= 2 and minRatio in (0, 1]");
}

void MSEObserver::observe(const float *data, const std::vector<int64_t> &dims) {
  hist.add(data, numElements(dims));
}

void MSEObserver::merge(const Observer &other) {
  const auto &o = sameKind<MSEObserver>(*this, other);
  if (o.gridPoints != gridPoints || o.minRatio != minRatio ||
      o.scheme.bits != scheme.bits || o.scheme.isSigned != scheme.isSigned ||
      o.scheme.symmetric != scheme.symmetric ||
      o.scheme.narrowRange != scheme.narrowRange ||
      o.scheme.scaleType != scheme.scaleType ||
      o.scheme.rounding != scheme.rounding)
    throw std::invalid_argument("cannot merge MSE observers configured "
                                "differently");
  hist.merge(o.hist);
}

double MSEObserver::expectedError(float ratio) const {
  Range r{ratio * std::min(hist.dataMin(), 0.0f),
          ratio * std::max(hist.dataMax(), 0.0f)};
  float scale;
  int32_t zp;
  computeScaleZeroPoint(r, scheme, scale, zp);
  const int32_t qmin = scheme.qmin(), qmax = scheme.qmax();
  double w = hist.binWidth(), err = 0;
  const std::vector<uint64_t> &b = hist.counts();
  for (int64_t j = 0; j < hist.numBins(); ++j) {
    if (!b[j])
      continue;
    float center = float((double(hist.start() + j) + 0.5) * w);
    center = std::min(std::max(center, hist.dataMin()), hist.dataMax());
    int32_t q = quantizeValue(center, scale, zp, qmin, qmax, scheme.rounding);
    double d = double(float(q - zp) * scale) - double(center);
    err += double(b[j]) * d * d;
  }
  return err;
}

float MSEObserver::clipRatio() const {
  if (!hist.total())
    return 1.0f;
  float best = 1.0f;
  double bestErr = std::numeric_limits<double>::infinity();
  for (int64_t k = 0; k < gridPoints; ++k) {
    float r = float(1.0 - (1.0 - double(minRatio)) * double(k) /
                              double(gridPoints - 1));
    double e = expectedError(r);
    if (e < bestErr) {
      bestErr = e;
      best = r;
    }
  }
  return best;
}

std::vector<Range> MSEObserver::ranges() const {
  float r = clipRatio();
  return {Range{r * std::min(hist.dataMin(), 0.0f),
                r * std::max(hist.dataMax(), 0.0f)}};
}

std::unique_ptr<Observer> MSEObserver::clone() const {
  return std::make_unique<MSEObserver>(*this);
}

} // namespace quantx
