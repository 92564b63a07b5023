//===- Scheme.h - Quantization schemes, parameters and rounding -*- C++ -*-===//
//
// Scalar semantics of integer quantization shared by every pass and
// algorithm of the numeric core: rounding modes (the dialect's
// `#quantx.rounding`), saturation to the storage range, quantization schemes
// (2..16 bits, signed or unsigned, symmetric or asymmetric, narrow range,
// per-tensor / per-axis / per-group along any axis, scale dtype), the
// PyTorch-compatible computation of scales and zero points from a range, and
// bit-exact quantize / dequantize / fake-quantize over row-major float
// arrays. docs/NumericCore.md states every formula and edge case.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_QUANT_SCHEME_H
#define QUANTX_QUANT_SCHEME_H

#include <cstdint>
#include <string>
#include <vector>

namespace quantx {

/// How a real value divided by the scale is rounded to an integer
/// (`#quantx.rounding<...>`).
enum class RoundingMode {
  HalfToEven,       ///< Nearest, ties to even (default; torch.round).
  HalfAwayFromZero, ///< Nearest, ties away from zero (C roundf; ggml).
  TowardZero,       ///< Truncation.
  Floor,            ///< Toward minus infinity.
};

/// Which elements share one (scale, zero point).
enum class Granularity {
  PerTensor, ///< One pair for the whole tensor.
  PerAxis,   ///< One pair per index along `axis`.
  PerGroup,  ///< One pair per `groupSize` consecutive indices along `axis`
             ///< and per index of every other dimension.
};

/// The dtype scales are stored in; scales are rounded to it before use.
enum class ScaleType { F32, F16, BF16 };

/// Rounds `x` with `mode`. NaN stays NaN, infinities stay infinite.
float roundWith(float x, RoundingMode mode);

/// Parses / prints the dialect spelling (`half_to_even`,
/// `half_away_from_zero`, `toward_zero`, `floor`). Parsing throws
/// std::invalid_argument on an unknown name.
RoundingMode parseRoundingMode(const std::string &name);
const char *roundingModeName(RoundingMode mode);

/// Rounds a positive scale to `type` (RNE). A result of 0 becomes the
/// smallest positive normal of `type`; a result above the largest finite
/// value becomes that value.
float roundScale(float scale, ScaleType type);

/// A quantization scheme: storage type, mapping and granularity.
struct QuantScheme {
  int bits = 8;              ///< Storage bits, 2..16.
  bool isSigned = true;      ///< Signed or unsigned storage.
  bool narrowRange = false;  ///< Drop the lowest storage value.
  bool symmetric = false;    ///< Fixed zero point, range +-max(|min|,|max|).
  Granularity granularity = Granularity::PerTensor;
  int64_t axis = 0;          ///< Axis for PerAxis / PerGroup (may be < 0).
  int64_t groupSize = 0;     ///< Group size for PerGroup (>= 1).
  ScaleType scaleType = ScaleType::F32;
  RoundingMode rounding = RoundingMode::HalfToEven;

  /// Smallest storage value: -2^(bits-1) or 0, plus 1 with narrowRange.
  int32_t qmin() const;
  /// Largest storage value: 2^(bits-1) - 1 or 2^bits - 1.
  int32_t qmax() const;
  /// Zero point of symmetric schemes: floor((qmin + qmax + 1) / 2)
  /// (0 for signed storage, 128 for unsigned 8-bit).
  int32_t symmetricZeroPoint() const;
  /// Throws std::invalid_argument when a field is out of range.
  void validate() const;
};

/// Scales and zero points of a tensor, laid out row-major over `shape`:
/// {} (one pair) for PerTensor, {dims[axis]} for PerAxis, and `dims` with
/// dims[axis] replaced by ceil(dims[axis] / groupSize) for PerGroup.
struct QuantParams {
  std::vector<int64_t> shape;
  std::vector<float> scales;
  std::vector<int32_t> zeroPoints;
};

/// The real range [min, max] one (scale, zero point) must cover.
struct Range {
  float min = 0.0f;
  float max = 0.0f;
};

/// Computes (scale, zero point) for one range, PyTorch's formulas in float32:
///   min' = min(min, 0), max' = max(max, 0)
///   asym: scale = (max' - min') / (qmax - qmin)
///         zp = clamp(qmin - round(min' / scale), qmin, qmax)
///   sym:  scale = max(-min', max') / ((qmax - qmin) / 2), zp = symmetric zp
/// then scale = 1 when max' == min' (zero range), else max(scale, FLT_EPSILON);
/// then the scale is rounded to the scale dtype (roundScale) and the
/// asymmetric zero point is computed from the rounded scale. `round` is
/// half-to-even regardless of the scheme's rounding mode. Throws
/// std::invalid_argument when min > max or either is NaN or infinite.
void computeScaleZeroPoint(Range range, const QuantScheme &scheme,
                           float &scale, int32_t &zeroPoint);

/// Shape of the parameter tensor of `scheme` on a tensor of shape `dims`.
/// Throws std::invalid_argument on a bad axis or group size.
std::vector<int64_t> paramShape(const std::vector<int64_t> &dims,
                                const QuantScheme &scheme);

/// Per-parameter ranges of `data` (shape `dims`), laid out as paramShape.
/// NaN and infinite values are ignored; a parameter with no finite value
/// gets the range [0, 0].
std::vector<Range> computeRanges(const float *data,
                                 const std::vector<int64_t> &dims,
                                 const QuantScheme &scheme);

/// Parameters for `scheme` from per-parameter ranges (laid out as
/// paramShape(dims, scheme); `ranges.size()` must match).
QuantParams computeParams(const std::vector<Range> &ranges,
                          const std::vector<int64_t> &dims,
                          const QuantScheme &scheme);

/// computeParams(computeRanges(data, dims, scheme), dims, scheme).
QuantParams computeParamsFromData(const float *data,
                                  const std::vector<int64_t> &dims,
                                  const QuantScheme &scheme);

/// Quantizes one value: clamp(round(x / scale) + zp, qmin, qmax), with
/// IEEE float32 division. NaN gives zp; +-Inf saturate to qmax / qmin.
int32_t quantizeValue(float x, float scale, int32_t zeroPoint, int32_t qmin,
                      int32_t qmax, RoundingMode mode);

/// Quantizes `data` (shape `dims`, row-major) into `codes` (same count).
/// Throws std::invalid_argument when `params` does not fit `dims`/`scheme`.
void quantize(const float *data, const std::vector<int64_t> &dims,
              const QuantScheme &scheme, const QuantParams &params,
              int32_t *codes);

/// Dequantizes: value = (code - zp) * scale in float32. Codes outside
/// [qmin, qmax] are an error (std::invalid_argument).
void dequantize(const int32_t *codes, const std::vector<int64_t> &dims,
                const QuantScheme &scheme, const QuantParams &params,
                float *out);

/// dequantize(quantize(x)) without materialising the codes.
void fakeQuantize(const float *data, const std::vector<int64_t> &dims,
                  const QuantScheme &scheme, const QuantParams &params,
                  float *out);

/// Number of elements of `dims`; throws on a negative dimension.
int64_t numElements(const std::vector<int64_t> &dims);

} // namespace quantx

#endif // QUANTX_QUANT_SCHEME_H
