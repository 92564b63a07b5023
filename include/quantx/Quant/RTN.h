//===- RTN.h - Round-to-nearest weight quantization -------------*- C++ -*-===//
//
// The min/max weight quantizer of the GPTQ reference implementation
// (IST-DASLab/gptq, quant.py `Quantizer`) and plain round-to-nearest (RTN)
// quantization of a weight matrix per output row or per group of input
// columns. The formulas are the reference's, evaluated in float32 in the same
// order, so scales, zero points and dequantized values are bit-identical to
// the reference's on the same input:
//
//   xmin = min(min(x), 0), xmax = max(max(x), 0)
//   sym:  xmax = max(|xmin|, xmax); xmin = -xmax if xmin < 0
//   xmin == xmax == 0  ->  xmin = -1, xmax = +1
//   scale = (xmax - xmin) / maxq,  maxq = 2^bits - 1
//   zero  = (maxq + 1) / 2 (sym)  or  round(-xmin / scale) (asym)
//   code  = clamp(round(x / scale) + zero, 0, maxq)
//   value = scale * (code - zero)
//
// `round` is round-half-to-even (torch.round). Note the reference's
// symmetric quirk, kept on purpose: a row with no negative value keeps
// xmin = 0, so its scale is xmax / maxq while the zero point stays at the
// middle of the code range. docs/GPTQ.md lists every formula and edge case.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_QUANT_RTN_H
#define QUANTX_QUANT_RTN_H

#include <cstdint>
#include <vector>

namespace quantx {

/// Configuration of the reference quantizer (`Quantizer.configure`).
struct QuantizerConfig {
  /// Bits per code, 2..8 (maxq = 2^bits - 1). Ignored when `trits` is set.
  int bits = 4;
  /// One (scale, zero) per row when true; one for the whole tensor (or the
  /// whole group of columns) when false, repeated for every row.
  bool perChannel = true;
  /// Symmetric (zero fixed at (maxq + 1) / 2) or asymmetric.
  bool sym = true;
  /// Search a clipping factor p in {1, 0.99, ...} (maxShrink * grid steps)
  /// minimising sum |q(x) - x|^norm per row, as the reference's `mse` option.
  bool mse = false;
  double norm = 2.4;
  int grid = 100;
  double maxShrink = 0.8;
  /// Ternary quantization (the reference's `trits`, maxq = -1): values
  /// become xmin, 0 or xmax. Codes are 0 (xmin), 1 (zero), 2 (xmax).
  /// Cannot be combined with `mse`.
  bool trits = false;

  /// The reference's maxq: 2^bits - 1, or -1 for trits.
  int maxq() const { return trits ? -1 : (1 << bits) - 1; }
  /// Throws std::invalid_argument when a field is out of range.
  void validate() const;
};

/// Computes the reference's `find_params(x, weight=True)` on `rows` rows of
/// `cols` values (row r starts at x + r * ld). Writes one scale and one zero
/// point per row into `scale[rows]` and `zero[rows]` (with perChannel false
/// every row gets the same pair, computed over all values). Throws
/// std::invalid_argument on a bad configuration, empty input or a
/// non-finite value.
void findQuantParams(const QuantizerConfig &config, const float *x,
                     int64_t rows, int64_t cols, int64_t ld, float *scale,
                     float *zero);

/// The integer code of `x` (0..maxq; for trits 0, 1 or 2).
inline int quantizeCode(float x, float scale, float zero, int maxq);
/// The dequantized value of `code`.
inline float dequantizeCode(int code, float scale, float zero, int maxq);

/// Result of quantizing a rows x cols weight matrix (row-major). Group g of
/// row r covers columns [g * groupSize, min((g + 1) * groupSize, cols)).
struct RTNResult {
  int64_t rows = 0, cols = 0;
  /// Columns per group (equal to cols when quantizing per row).
  int64_t groupSize = 0;
  int64_t numGroups = 0;
  /// rows x cols integer codes in [0, maxq] (trits: 0, 1, 2).
  std::vector<uint8_t> codes;
  /// rows x numGroups scales and zero points. Zero points are integers
  /// stored as float (trits: the negative level xmin).
  std::vector<float> scales, zeros;
  /// rows x cols dequantized weights, scale * (code - zero).
  std::vector<float> dequantized;
};

/// Round-to-nearest quantization of a row-major rows x cols matrix with the
/// reference quantizer, per row (groupSize <= 0) or per group of
/// `groupSize` consecutive columns. Rows are processed in parallel. Throws
/// std::invalid_argument on bad sizes, configuration or non-finite input.
RTNResult quantizeRTN(const float *w, int64_t rows, int64_t cols,
                      const QuantizerConfig &config, int64_t groupSize = -1);

//===----------------------------------------------------------------------===//
// Inline definitions
//===----------------------------------------------------------------------===//

inline int quantizeCode(float x, float scale, float zero, int maxq) {
  if (maxq < 0) // trits: (x > scale / 2) * scale + (x < zero / 2) * zero
    return x > scale / 2.0f ? 2 : (x < zero / 2.0f ? 0 : 1);
  float q = __builtin_rintf(x / scale) + zero;
  // clamp(q, 0, maxq); NaN cannot occur for finite x and a positive scale.
  q = q < 0.0f ? 0.0f : q;
  q = q > float(maxq) ? float(maxq) : q;
  return int(q);
}

inline float dequantizeCode(int code, float scale, float zero, int maxq) {
  if (maxq < 0)
    return code == 2 ? scale : (code == 0 ? zero : 0.0f);
  return scale * (float(code) - zero);
}

} // namespace quantx

#endif // QUANTX_QUANT_RTN_H
