//===- Scheme.cpp - Quantization schemes, parameters and rounding ---------===//
//
// Implements the scalar semantics and the quantize / dequantize /
// fake-quantize loops declared in Scheme.h. The loops are written per
// rounding mode and per parameter layout so the compiler vectorizes them;
// rows of the tensor are split over the cores with parallelFor.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/Scheme.h"

#include "quantx/Quant/Float16.h"
#include "quantx/Quant/Parallel.h"

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace quantx {

namespace {

template <RoundingMode M> inline float roundT(float v) {
  if constexpr (M == RoundingMode::HalfToEven)
    return std::nearbyint(v);
  else if constexpr (M == RoundingMode::HalfAwayFromZero) {
    float t = std::trunc(v);
    return std::fabs(v - t) >= 0.5f ? t + std::copysign(1.0f, v) : t;
  } else if constexpr (M == RoundingMode::TowardZero)
    return std::trunc(v);
  else
    return std::floor(v);
}

/// The tensor viewed as [outer, dim, inner] around the scheme's axis, with
/// the parameter layout that goes with it.
struct Layout {
  int64_t outer = 1, dim = 1, inner = 1;
  int64_t groups = 1;  // parameters along the axis
  int64_t group = 1;   // elements of the axis per parameter
  bool perInner = false; // parameters vary along `inner` (PerGroup)
  int64_t numParams = 1;

  /// Index of the first parameter of row (o, d).
  int64_t paramBase(int64_t o, int64_t d) const {
    if (!perInner)
      return numParams == 1 ? 0 : d;
    return (o * groups + d / group) * inner;
  }
};

int64_t normalizeAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    throw std::invalid_argument("quantization axis " + std::to_string(axis) +
                                " is out of range for a tensor of rank " +
                                std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

Layout makeLayout(const std::vector<int64_t> &dims, const QuantScheme &s) {
  s.validate();
  Layout l;
  int64_t n = numElements(dims);
  if (s.granularity == Granularity::PerTensor) {
    l.inner = n;
    return l;
  }
  int64_t rank = static_cast<int64_t>(dims.size());
  int64_t axis = normalizeAxis(s.axis, rank);
  for (int64_t i = 0; i < axis; ++i)
    l.outer *= dims[i];
  l.dim = dims[axis];
  for (int64_t i = axis + 1; i < rank; ++i)
    l.inner *= dims[i];
  if (s.granularity == Granularity::PerAxis) {
    l.groups = l.dim;
    l.numParams = l.dim;
    return l;
  }
  l.group = s.groupSize;
  l.groups = (l.dim + s.groupSize - 1) / s.groupSize;
  l.perInner = true;
  l.numParams = l.outer * l.groups * l.inner;
  return l;
}

void checkParams(const Layout &l, const QuantParams &p) {
  if (static_cast<int64_t>(p.scales.size()) != l.numParams ||
      static_cast<int64_t>(p.zeroPoints.size()) != l.numParams)
    throw std::invalid_argument(
        "quantization parameters have " + std::to_string(p.scales.size()) +
        " scales and " + std::to_string(p.zeroPoints.size()) +
        " zero points; the scheme and shape need " +
        std::to_string(l.numParams));
  for (float s : p.scales)
    if (!(s > 0.0f) || !std::isfinite(s))
      throw std::invalid_argument(
          "quantization scales must be positive and finite");
}

/// A contiguous run of elements sharing one parameter (perElem false) or
/// with one parameter per element, stored contiguously (perElem true).
struct Segment {
  int64_t offset, length, paramBase;
  bool perElem;
};

/// The tensor as a list of segments. With inner > 1 a segment is a row
/// (o, d) of `inner` elements; with inner == 1 (the axis is the last one) a
/// segment is a whole row of `dim` elements (PerAxis) or one group of a row
/// (PerGroup), so the loops run over long contiguous spans.
struct Segments {
  const Layout &l;
  bool axisLast, perAxis;
  int64_t count() const {
    if (!axisLast)
      return l.outer * l.dim;
    return perAxis ? l.outer : l.outer * l.groups;
  }
  Segment at(int64_t t) const {
    if (!axisLast) {
      int64_t o = t / l.dim, d = t % l.dim;
      return {t * l.inner, l.inner, l.paramBase(o, d), l.perInner};
    }
    if (perAxis)
      return {t * l.dim, l.dim, 0, true};
    int64_t o = t / l.groups, k = t % l.groups;
    int64_t begin = k * l.group;
    return {o * l.dim + begin, std::min(l.group, l.dim - begin), t, false};
  }
};

Segments segmentsOf(const Layout &l, const QuantScheme &s) {
  bool axisLast = l.inner == 1 && s.granularity != Granularity::PerTensor;
  return Segments{l, axisLast, s.granularity == Granularity::PerAxis};
}

/// Calls fn(segment, begin, end) for pieces [begin, end) of every segment,
/// splitting long segments into pieces of about kPiece elements and
/// spreading the pieces over the cores.
template <typename Fn>
void forEachPiece(const Layout &l, const QuantScheme &s, Fn fn) {
  constexpr int64_t kPiece = 8192;
  Segments segs = segmentsOf(l, s);
  int64_t numSegs = segs.count();
  if (numSegs == 0 || l.outer * l.dim * l.inner == 0)
    return;
  int64_t segLen = segs.at(0).length; // the longest segment
  int64_t piecesPerSeg = std::max<int64_t>(1, segLen / kPiece);
  int64_t total = numSegs * piecesPerSeg;
  int64_t minChunk = std::max<int64_t>(
      1, (1 << 16) / std::max<int64_t>(1, segLen / piecesPerSeg));
  parallelFor(0, total, minChunk, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      Segment sg = segs.at(t / piecesPerSeg);
      int64_t piece = t % piecesPerSeg;
      int64_t begin = sg.length * piece / piecesPerSeg;
      int64_t end = sg.length * (piece + 1) / piecesPerSeg;
      fn(sg, begin, end);
    }
  });
}

template <RoundingMode M, bool PerElem>
void quantizeRow(const float *x, int64_t n, const float *scales,
                 const int32_t *zps, float qmin, float qmax, int32_t *out) {
  for (int64_t i = 0; i < n; ++i) {
    float s = scales[PerElem ? i : 0];
    float zp = static_cast<float>(zps[PerElem ? i : 0]);
    float v = x[i] / s;
    float r = roundT<M>(v) + zp;
    r = r < qmin ? qmin : r;
    r = r > qmax ? qmax : r;
    r = v != v ? zp : r;
    out[i] = static_cast<int32_t>(r);
  }
}

template <RoundingMode M, bool PerElem>
void fakeQuantizeRow(const float *x, int64_t n, const float *scales,
                     const int32_t *zps, float qmin, float qmax, float *out) {
  for (int64_t i = 0; i < n; ++i) {
    float s = scales[PerElem ? i : 0];
    float zp = static_cast<float>(zps[PerElem ? i : 0]);
    float v = x[i] / s;
    float r = roundT<M>(v) + zp;
    r = r < qmin ? qmin : r;
    r = r > qmax ? qmax : r;
    r = v != v ? zp : r;
    out[i] = (r - zp) * s;
  }
}

template <bool PerElem>
bool dequantizeRow(const int32_t *q, int64_t n, const float *scales,
                   const int32_t *zps, int32_t qmin, int32_t qmax, float *out) {
  bool bad = false;
  for (int64_t i = 0; i < n; ++i) {
    int32_t c = q[i];
    bad |= (c < qmin) | (c > qmax);
    out[i] = static_cast<float>(c - zps[PerElem ? i : 0]) *
             scales[PerElem ? i : 0];
  }
  return bad;
}

template <RoundingMode M>
void quantizeImpl(const float *data, const Layout &l, const QuantScheme &sch,
                  const QuantParams &p,
                  float qmin, float qmax, int32_t *codes) {
  forEachPiece(l, sch, [&](const Segment &sg, int64_t b, int64_t e) {
    const float *x = data + sg.offset + b;
    if (sg.perElem)
      quantizeRow<M, true>(x, e - b, p.scales.data() + sg.paramBase + b,
                  p.zeroPoints.data() + sg.paramBase + b, qmin, qmax,
                  codes + sg.offset + b);
    else
      quantizeRow<M, false>(x, e - b, p.scales.data() + sg.paramBase,
                   p.zeroPoints.data() + sg.paramBase, qmin, qmax,
                   codes + sg.offset + b);
  });
}

template <RoundingMode M>
void fakeQuantizeImpl(const float *data, const Layout &l,
                      const QuantScheme &sch, const QuantParams &p,
                      float qmin, float qmax, float *out) {
  forEachPiece(l, sch, [&](const Segment &sg, int64_t b, int64_t e) {
    const float *x = data + sg.offset + b;
    if (sg.perElem)
      fakeQuantizeRow<M, true>(x, e - b, p.scales.data() + sg.paramBase + b,
                  p.zeroPoints.data() + sg.paramBase + b, qmin, qmax,
                  out + sg.offset + b);
    else
      fakeQuantizeRow<M, false>(x, e - b, p.scales.data() + sg.paramBase,
                   p.zeroPoints.data() + sg.paramBase, qmin, qmax,
                   out + sg.offset + b);
  });
}

} // namespace

float roundWith(float x, RoundingMode mode) {
  switch (mode) {
  case RoundingMode::HalfToEven:
    return roundT<RoundingMode::HalfToEven>(x);
  case RoundingMode::HalfAwayFromZero:
    return roundT<RoundingMode::HalfAwayFromZero>(x);
  case RoundingMode::TowardZero:
    return roundT<RoundingMode::TowardZero>(x);
  case RoundingMode::Floor:
    return roundT<RoundingMode::Floor>(x);
  }
  throw std::invalid_argument("unknown rounding mode");
}

RoundingMode parseRoundingMode(const std::string &name) {
  if (name == "half_to_even")
    return RoundingMode::HalfToEven;
  if (name == "half_away_from_zero")
    return RoundingMode::HalfAwayFromZero;
  if (name == "toward_zero")
    return RoundingMode::TowardZero;
  if (name == "floor")
    return RoundingMode::Floor;
  throw std::invalid_argument("unknown rounding mode '" + name + "'");
}

const char *roundingModeName(RoundingMode mode) {
  switch (mode) {
  case RoundingMode::HalfToEven:
    return "half_to_even";
  case RoundingMode::HalfAwayFromZero:
    return "half_away_from_zero";
  case RoundingMode::TowardZero:
    return "toward_zero";
  case RoundingMode::Floor:
    return "floor";
  }
  return "unknown";
}

float roundScale(float scale, ScaleType type) {
  float r = scale;
  float smallestNormal = FLT_MIN, largest = FLT_MAX;
  if (type == ScaleType::F16) {
    r = roundToFp16(scale);
    smallestNormal = 6.103515625e-05f; // 2^-14
    largest = 65504.0f;
  } else if (type == ScaleType::BF16) {
    r = bf16ToFloat(floatToBf16(scale));
    smallestNormal = FLT_MIN;                // 2^-126, as float32
    largest = bf16ToFloat(0x7f7f);           // 3.3895314e38
  }
  if (r == 0.0f)
    return smallestNormal;
  if (r > largest)
    return largest;
  return r;
}

int32_t QuantScheme::qmin() const {
  int32_t v = isSigned ? -(int32_t(1) << (bits - 1)) : 0;
  return narrowRange ? v + 1 : v;
}

int32_t QuantScheme::qmax() const {
  return isSigned ? (int32_t(1) << (bits - 1)) - 1 : (int32_t(1) << bits) - 1;
}

int32_t QuantScheme::symmetricZeroPoint() const {
  int32_t sum = qmin() + qmax() + 1;
  return sum >= 0 ? sum / 2 : -((-sum + 1) / 2);
}

void QuantScheme::validate() const {
  if (bits < 2 || bits > 16)
    throw std::invalid_argument("quantization bits must be in 2..16, got " +
                                std::to_string(bits));
  if (granularity == Granularity::PerGroup && groupSize < 1)
    throw std::invalid_argument(
        "per-group quantization needs a group size >= 1, got " +
        std::to_string(groupSize));
}

int64_t numElements(const std::vector<int64_t> &dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0)
      throw std::invalid_argument("tensor dimensions must be >= 0, got " +
                                  std::to_string(d));
    n *= d;
  }
  return n;
}

void computeScaleZeroPoint(Range range, const QuantScheme &scheme,
                           float &scale, int32_t &zeroPoint) {
  scheme.validate();
  if (!std::isfinite(range.min) || !std::isfinite(range.max))
    throw std::invalid_argument("quantization range must be finite");
  if (range.min > range.max)
    throw std::invalid_argument("quantization range has min " +
                                std::to_string(range.min) + " > max " +
                                std::to_string(range.max));
  const int32_t qmin = scheme.qmin(), qmax = scheme.qmax();
  const float minNeg = std::min(range.min, 0.0f);
  const float maxPos = std::max(range.max, 0.0f);
  float s;
  if (scheme.symmetric) {
    float amax = std::max(-minNeg, maxPos);
    s = amax / static_cast<float>(double(qmax - qmin) / 2.0);
  } else {
    s = (maxPos - minNeg) / static_cast<float>(qmax - qmin);
  }
  if (maxPos == minNeg)
    s = 1.0f;
  else
    s = std::max(s, FLT_EPSILON);
  s = roundScale(s, scheme.scaleType);
  scale = s;
  if (scheme.symmetric) {
    zeroPoint = scheme.symmetricZeroPoint();
    return;
  }
  float zp = static_cast<float>(qmin) - std::nearbyint(minNeg / s);
  zp = std::min(std::max(zp, static_cast<float>(qmin)),
                static_cast<float>(qmax));
  zeroPoint = static_cast<int32_t>(zp);
}

std::vector<int64_t> paramShape(const std::vector<int64_t> &dims,
                                const QuantScheme &scheme) {
  makeLayout(dims, scheme); // validates the scheme, axis and group size
  if (scheme.granularity == Granularity::PerTensor)
    return {};
  int64_t axis = normalizeAxis(scheme.axis, dims.size());
  if (scheme.granularity == Granularity::PerAxis)
    return {dims[axis]};
  std::vector<int64_t> shape = dims;
  shape[axis] = (dims[axis] + scheme.groupSize - 1) / scheme.groupSize;
  return shape;
}

std::vector<Range> computeRanges(const float *data,
                                 const std::vector<int64_t> &dims,
                                 const QuantScheme &scheme) {
  Layout l = makeLayout(dims, scheme);
  constexpr float inf = std::numeric_limits<float>::infinity();
  std::vector<float> mins(l.numParams, inf), maxs(l.numParams, -inf);
  auto reduceSegment = [&](const Segment &sg) {
    const float *x = data + sg.offset;
    float *mn = mins.data() + sg.paramBase, *mx = maxs.data() + sg.paramBase;
    if (sg.perElem) {
      for (int64_t i = 0; i < sg.length; ++i) {
        float v = x[i];
        bool fin = std::fabs(v) <= FLT_MAX;
        mn[i] = fin && v < mn[i] ? v : mn[i];
        mx[i] = fin && v > mx[i] ? v : mx[i];
      }
      return;
    }
    float a = *mn, z = *mx;
    for (int64_t i = 0; i < sg.length; ++i) {
      float v = x[i];
      bool fin = std::fabs(v) <= FLT_MAX;
      a = fin && v < a ? v : a;
      z = fin && v > z ? v : z;
    }
    *mn = a;
    *mx = z;
  };
  if (l.numParams == 1 && l.inner > 0) {
    // Per-tensor: reduce in parallel chunks, then combine.
    int nt = getNumThreads();
    std::vector<float> pm, px;
    int64_t n = l.outer * l.dim * l.inner;
    int64_t chunk = std::max<int64_t>(1 << 16, (n + nt - 1) / nt);
    int64_t pieces = (n + chunk - 1) / chunk;
    pm.assign(pieces, inf);
    px.assign(pieces, -inf);
    parallelFor(0, pieces, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        int64_t lo = t * chunk, hi = std::min(n, lo + chunk);
        float a = inf, z = -inf;
        for (int64_t i = lo; i < hi; ++i) {
          float v = data[i];
          bool fin = std::fabs(v) <= FLT_MAX;
          a = fin && v < a ? v : a;
          z = fin && v > z ? v : z;
        }
        pm[t] = a;
        px[t] = z;
      }
    });
    for (int64_t t = 0; t < pieces; ++t) {
      mins[0] = std::min(mins[0], pm[t]);
      maxs[0] = std::max(maxs[0], px[t]);
    }
  } else if (l.outer * l.dim * l.inner > 0) {
    Segments segs = segmentsOf(l, scheme);
    int64_t perOuter = segs.count() / l.outer;
    auto run = [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o)
        for (int64_t t = o * perOuter; t < (o + 1) * perOuter; ++t)
          reduceSegment(segs.at(t));
    };
    // Per group, different `o` touch disjoint parameters; per axis they
    // share them, so that case runs on one thread.
    if (scheme.granularity == Granularity::PerGroup)
      parallelFor(0, l.outer, 1, run);
    else
      run(0, l.outer);
  }
  std::vector<Range> ranges(l.numParams);
  for (int64_t i = 0; i < l.numParams; ++i)
    if (mins[i] <= maxs[i])
      ranges[i] = Range{mins[i], maxs[i]};
  return ranges;
}

QuantParams computeParams(const std::vector<Range> &ranges,
                          const std::vector<int64_t> &dims,
                          const QuantScheme &scheme) {
  QuantParams p;
  p.shape = paramShape(dims, scheme);
  int64_t n = 1;
  for (int64_t d : p.shape)
    n *= d;
  if (static_cast<int64_t>(ranges.size()) != n)
    throw std::invalid_argument("got " + std::to_string(ranges.size()) +
                                " ranges; the scheme and shape need " +
                                std::to_string(n));
  p.scales.resize(n);
  p.zeroPoints.resize(n);
  for (int64_t i = 0; i < n; ++i)
    computeScaleZeroPoint(ranges[i], scheme, p.scales[i], p.zeroPoints[i]);
  return p;
}

QuantParams computeParamsFromData(const float *data,
                                  const std::vector<int64_t> &dims,
                                  const QuantScheme &scheme) {
  return computeParams(computeRanges(data, dims, scheme), dims, scheme);
}

int32_t quantizeValue(float x, float scale, int32_t zeroPoint, int32_t qmin,
                      int32_t qmax, RoundingMode mode) {
  float v = x / scale;
  if (v != v)
    return zeroPoint;
  float r = roundWith(v, mode) + static_cast<float>(zeroPoint);
  r = std::min(std::max(r, static_cast<float>(qmin)), static_cast<float>(qmax));
  return static_cast<int32_t>(r);
}

void quantize(const float *data, const std::vector<int64_t> &dims,
              const QuantScheme &scheme, const QuantParams &params,
              int32_t *codes) {
  Layout l = makeLayout(dims, scheme);
  checkParams(l, params);
  float qmin = static_cast<float>(scheme.qmin());
  float qmax = static_cast<float>(scheme.qmax());
  switch (scheme.rounding) {
  case RoundingMode::HalfToEven:
    return quantizeImpl<RoundingMode::HalfToEven>(data, l, scheme, params, qmin, qmax,
                                                  codes);
  case RoundingMode::HalfAwayFromZero:
    return quantizeImpl<RoundingMode::HalfAwayFromZero>(data, l, scheme, params, qmin,
                                                        qmax, codes);
  case RoundingMode::TowardZero:
    return quantizeImpl<RoundingMode::TowardZero>(data, l, scheme, params, qmin, qmax,
                                                  codes);
  case RoundingMode::Floor:
    return quantizeImpl<RoundingMode::Floor>(data, l, scheme, params, qmin, qmax,
                                             codes);
  }
}

void fakeQuantize(const float *data, const std::vector<int64_t> &dims,
                  const QuantScheme &scheme, const QuantParams &params,
                  float *out) {
  Layout l = makeLayout(dims, scheme);
  checkParams(l, params);
  float qmin = static_cast<float>(scheme.qmin());
  float qmax = static_cast<float>(scheme.qmax());
  switch (scheme.rounding) {
  case RoundingMode::HalfToEven:
    return fakeQuantizeImpl<RoundingMode::HalfToEven>(data, l, scheme, params, qmin,
                                                      qmax, out);
  case RoundingMode::HalfAwayFromZero:
    return fakeQuantizeImpl<RoundingMode::HalfAwayFromZero>(data, l, scheme, params,
                                                            qmin, qmax, out);
  case RoundingMode::TowardZero:
    return fakeQuantizeImpl<RoundingMode::TowardZero>(data, l, scheme, params, qmin,
                                                      qmax, out);
  case RoundingMode::Floor:
    return fakeQuantizeImpl<RoundingMode::Floor>(data, l, scheme, params, qmin, qmax,
                                                 out);
  }
}

void dequantize(const int32_t *codes, const std::vector<int64_t> &dims,
                const QuantScheme &scheme, const QuantParams &params,
                float *out) {
  Layout l = makeLayout(dims, scheme);
  checkParams(l, params);
  const int32_t qmin = scheme.qmin(), qmax = scheme.qmax();
  std::atomic<bool> bad{false};
  forEachPiece(l, scheme, [&](const Segment &sg, int64_t b, int64_t e) {
    const int32_t *q = codes + sg.offset + b;
    bool isBad =
        sg.perElem
            ? dequantizeRow<true>(q, e - b, params.scales.data() + sg.paramBase + b,
                                  params.zeroPoints.data() + sg.paramBase + b,
                                  qmin, qmax, out + sg.offset + b)
            : dequantizeRow<false>(q, e - b, params.scales.data() + sg.paramBase,
                                   params.zeroPoints.data() + sg.paramBase,
                                   qmin, qmax, out + sg.offset + b);
    if (isBad)
      bad.store(true, std::memory_order_relaxed);
  });
  if (bad.load())
    throw std::invalid_argument(
          "dequantize: a code is outside the storage range [" +
          std::to_string(qmin) + ", " + std::to_string(qmax) + "]");
}

} // namespace quantx
