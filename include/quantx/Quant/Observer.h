//===- Observer.h - Streaming, mergeable range observers --------*- C++ -*-===//
//
// Observers watch calibration tensors batch by batch and produce the real
// range a quantization scheme must cover, and from it the scale and zero
// point (Scheme.h). Every observer is streaming (observe() may be called any
// number of times) and mergeable: a.merge(b) leaves `a` in exactly the state
// it would have after observing a's batches followed by b's batches, so
// calibration can be split over threads or processes. NaN and infinite
// values are ignored by every observer. docs/NumericCore.md describes the
// algorithms, in particular the power-of-two histogram grid that keeps
// histogram merges exact.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_QUANT_OBSERVER_H
#define QUANTX_QUANT_OBSERVER_H

#include "quantx/Quant/Scheme.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace quantx {

/// Common interface of all observers.
class Observer {
public:
  virtual ~Observer();
  /// Observes one batch of shape `dims` (row-major).
  virtual void observe(const float *data, const std::vector<int64_t> &dims) = 0;
  /// Adds `other`'s stream after this one's. Throws std::invalid_argument
  /// when `other` is a different kind of observer or configured differently.
  virtual void merge(const Observer &other) = 0;
  /// The ranges found so far: one for per-tensor observers, one per channel
  /// for per-channel observers. Nothing observed yet gives [0, 0].
  virtual std::vector<Range> ranges() const = 0;
  /// Number of ranges ranges() returns (channels seen so far, or 1).
  virtual int64_t numChannels() const { return 1; }
  /// True for observers that keep one range per channel.
  virtual bool isPerChannel() const { return false; }
  virtual std::unique_ptr<Observer> clone() const = 0;

  /// Parameters of `scheme` for the observed ranges. Per-tensor observers
  /// need a PerTensor scheme, per-channel ones a PerAxis scheme (its axis
  /// is ignored; the result has shape {numChannels()}).
  QuantParams computeParams(const QuantScheme &scheme) const;
};

/// Running minimum and maximum (PyTorch MinMaxObserver). With `axis` set,
/// one range per index along that axis (PerChannelMinMaxObserver).
class MinMaxObserver : public Observer {
public:
  MinMaxObserver() = default;
  void observe(const float *data, const std::vector<int64_t> &dims) override;
  void merge(const Observer &other) override;
  std::vector<Range> ranges() const override;
  int64_t numChannels() const override;
  bool isPerChannel() const override { return perChannel; }
  std::unique_ptr<Observer> clone() const override;

protected:
  explicit MinMaxObserver(int64_t axis) : axis(axis), perChannel(true) {}
  int64_t axis = 0;
  bool perChannel = false;
  std::vector<float> mins, maxs; // +-inf where nothing was seen
};

/// One running range per index along `axis` (negative counts from the end).
class PerChannelMinMaxObserver : public MinMaxObserver {
public:
  explicit PerChannelMinMaxObserver(int64_t axis) : MinMaxObserver(axis) {}
  std::unique_ptr<Observer> clone() const override;
};

/// Exponential moving average of per-batch minima and maxima with PyTorch's
/// semantics: the first batch initialises, later ones do
/// min += c * (batchMin - min) in float32. The batch extrema are kept, so a
/// merge replays the other stream's batches exactly.
class MovingAverageMinMaxObserver : public Observer {
public:
  explicit MovingAverageMinMaxObserver(float averagingConstant = 0.01f);
  void observe(const float *data, const std::vector<int64_t> &dims) override;
  void merge(const Observer &other) override;
  std::vector<Range> ranges() const override;
  int64_t numChannels() const override;
  bool isPerChannel() const override { return perChannel; }
  std::unique_ptr<Observer> clone() const override;
  float averagingConstant() const { return constant; }

protected:
  MovingAverageMinMaxObserver(int64_t axis, float averagingConstant);
  void apply(const std::vector<float> &bmin, const std::vector<float> &bmax);
  int64_t axis = 0;
  bool perChannel = false;
  float constant;
  std::vector<float> mins, maxs;
  std::vector<std::vector<float>> historyMin, historyMax;
};

/// Per-channel moving average (PyTorch
/// MovingAveragePerChannelMinMaxObserver).
class PerChannelMovingAverageMinMaxObserver
    : public MovingAverageMinMaxObserver {
public:
  PerChannelMovingAverageMinMaxObserver(int64_t axis,
                                        float averagingConstant = 0.01f)
      : MovingAverageMinMaxObserver(axis, averagingConstant) {}
  std::unique_ptr<Observer> clone() const override;
};

/// A histogram with a fixed number of bins of width 2^exponent covering
/// absolute bin indices [start, start + numBins). The covered range always
/// contains 0; it is the narrowest such grid that holds all values, so its
/// state depends only on the multiset of observed values and merges are
/// exact. Growing halves the resolution as often as needed by adding
/// neighbouring bins together.
class PowerOfTwoHistogram {
public:
  explicit PowerOfTwoHistogram(int64_t numBins = 2048, bool absolute = false);
  void add(const float *data, int64_t n);
  void merge(const PowerOfTwoHistogram &other);

  int64_t numBins() const { return static_cast<int64_t>(bins.size()); }
  bool absolute() const { return isAbs; }
  /// Bin width is 2^exponent(); bin j covers
  /// [(start()+j) * width, (start()+j+1) * width).
  int exponent() const { return exp; }
  double binWidth() const;
  int64_t start() const { return first; }
  const std::vector<uint64_t> &counts() const { return bins; }
  uint64_t total() const { return count; }
  /// Exact extrema of the (absolute, when absolute()) finite values seen;
  /// 0 and 0 when nothing was seen.
  float dataMin() const { return count ? lo : 0.0f; }
  float dataMax() const { return count ? hi : 0.0f; }
  /// The value below which a fraction q of the values lie, interpolated
  /// linearly inside the bin and clamped to [dataMin, dataMax].
  float quantile(double q) const;

private:
  /// Smallest exponent >= `from` whose grid holds [l, h] (l <= 0 <= h).
  int fitExponent(int from, float l, float h) const;
  /// Moves the counts to exponent e >= exponent() and start index newFirst.
  void rebin(int e, int64_t newFirst);
  void regrid(float newLo, float newHi);
  int exp;
  int64_t first = 0;
  bool isAbs;
  std::vector<uint64_t> bins;
  uint64_t count = 0;
  float lo = 0.0f, hi = 0.0f;
};

/// Histogram observer; ranges() is the central `percentile` % of the values:
/// [quantile(1 - p/100), quantile(p/100)].
class HistogramObserver : public Observer {
public:
  explicit HistogramObserver(int64_t numBins = 2048,
                             double percentile = 99.99);
  void observe(const float *data, const std::vector<int64_t> &dims) override;
  void merge(const Observer &other) override;
  std::vector<Range> ranges() const override;
  std::unique_ptr<Observer> clone() const override;
  const PowerOfTwoHistogram &histogram() const { return hist; }
  /// The range for another percentile of the same histogram.
  Range percentileRange(double percentile) const;

protected:
  PowerOfTwoHistogram hist;
  double percentile;
};

/// Entropy calibration (TensorRT's KL search, generalised to asymmetric
/// ranges): on the signed histogram, candidate ranges shrink both sides of 0
/// in proportion to their occupied extent, one bin of the longer side at a
/// time, down to `startBin` bins in all. Each candidate's reference P (the
/// counts outside folded into its edge bins) is compared with its
/// `levels`-level quantization Q; the range of smallest KL(P || Q) wins,
/// clamped to the data range (which always includes 0).
class EntropyObserver : public Observer {
public:
  explicit EntropyObserver(int64_t numBins = 2048, int64_t startBin = 256,
                           int64_t levels = 255);
  void observe(const float *data, const std::vector<int64_t> &dims) override;
  void merge(const Observer &other) override;
  std::vector<Range> ranges() const override;
  std::unique_ptr<Observer> clone() const override;
  const PowerOfTwoHistogram &histogram() const { return hist; }
  /// The chosen range.
  Range clipRange() const;

private:
  PowerOfTwoHistogram hist;
  int64_t startBin, levels;
};

/// MSE-optimal clipping: candidate ranges r * [min(min,0), max(max,0)] for
/// r = 1 - (1 - minRatio) * k / (gridPoints - 1), k = 0..gridPoints-1; the
/// one minimising sum over bins of count * (fq(center) - center)^2 for
/// `scheme` (per-tensor) wins, the largest r on ties.
class MSEObserver : public Observer {
public:
  explicit MSEObserver(const QuantScheme &scheme, int64_t numBins = 2048,
                       int64_t gridPoints = 100, float minRatio = 0.2f);
  void observe(const float *data, const std::vector<int64_t> &dims) override;
  void merge(const Observer &other) override;
  std::vector<Range> ranges() const override;
  std::unique_ptr<Observer> clone() const override;
  const PowerOfTwoHistogram &histogram() const { return hist; }
  /// The chosen clip ratio r.
  float clipRatio() const;
  /// The expected squared error of ratio r (histogram estimate).
  double expectedError(float ratio) const;

private:
  PowerOfTwoHistogram hist;
  QuantScheme scheme;
  int64_t gridPoints;
  float minRatio;
};

} // namespace quantx

#endif // QUANTX_QUANT_OBSERVER_H
