//===- GPTQ.h - GPTQ weight quantization ------------------------*- C++ -*-===//
//
// GPTQ (Frantar et al., "GPTQ: Accurate Post-Training Quantization for
// Generative Pre-trained Transformers"), the whole algorithm of the reference
// implementation (IST-DASLab/gptq, gptq.py `GPTQ.add_batch` and
// `GPTQ.fasterquant`), in float32 like the reference:
//
//  - the Hessian H = 2/N sum_n X_n^T X_n is accumulated over streamed
//    calibration batches in the reference's running-average form
//    (H *= N/(N+n); H += 2/(N+n) X^T X), where N counts samples (sequences),
//    not tokens, exactly as the reference does;
//  - dead columns (H[i,i] == 0) get H[i,i] = 1 and a zero weight column;
//  - dampening adds percdamp * mean(diag(H)) to the diagonal;
//  - Hinv is the upper Cholesky factor of H^-1;
//  - columns are quantized in blocks of `blockSize` with the reference's
//    error feedback inside a block and one lazy matrix update per block;
//  - act-order permutes the columns by descending diag(H) (and restores the
//    order at the end); group parameters come from the partly updated
//    weights at the start of each group, or from the original weights with
//    static groups.
//
// The weights are quantized with the reference quantizer (RTN.h). The
// results are the integer codes, per-group scales and zero points, the
// group index of every column (g_idx), the dequantized weights and the
// reference's loss figure (sum of (w - q)^2 / Hinv[i,i]^2 / 2).
//
// Linear algebra runs on OpenBLAS and its LAPACK (ssyrk and sgemm for X^T X,
// spotrf and strtri for the inverse factor, sgemm for the lazy block updates);
// output rows are eliminated in independent chunks in parallel.
// docs/GPTQ.md describes the implementation and its measured speed.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_QUANT_GPTQ_H
#define QUANTX_QUANT_GPTQ_H

#include "quantx/Quant/LargeBuffer.h"
#include "quantx/Quant/RTN.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace quantx {

/// Options of `GPTQ.fasterquant` plus the quantizer configuration.
struct GPTQConfig {
  /// The weight quantizer (bits, sym, perChannel, mse, trits). The
  /// reference's scripts use perChannel = true and asymmetric by default.
  QuantizerConfig quantizer{4, /*perChannel=*/true, /*sym=*/false};
  /// Columns per quantization group along the input dimension; <= 0 means
  /// one group spanning all columns (per output row).
  int64_t groupSize = -1;
  /// Quantize columns in order of descending Hessian diagonal.
  bool actOrder = false;
  /// Compute all group parameters from the original weights up front
  /// (needs groupSize > 0).
  bool staticGroups = false;
  /// Dampening as a fraction of the mean Hessian diagonal (> 0).
  double percDamp = 0.01;
  /// Columns per lazy-update block (> 0).
  int64_t blockSize = 128;

  /// Throws std::invalid_argument when an option is out of range.
  void validate() const;
};

/// The quantized layer. Column indices refer to the original column order.
struct GPTQResult {
  int64_t rows = 0, cols = 0;
  /// Columns per group (cols when not grouped) and the number of groups.
  int64_t groupSize = 0, numGroups = 0;
  /// rows x cols codes in [0, maxq].
  std::vector<uint8_t> codes;
  /// rows x numGroups scales and zero points (zero points are integers
  /// stored as float). Group g holds the columns c with gIdx[c] == g.
  std::vector<float> scales, zeros;
  /// Group of each column: c / groupSize, except with act-order and
  /// non-static groups, where groups follow the quantization order.
  std::vector<int32_t> gIdx;
  /// Quantization order: perm[k] is the k-th column quantized (identity
  /// without act-order).
  std::vector<int32_t> perm;
  /// rows x cols dequantized weights: scales[g] * (codes - zeros[g]).
  std::vector<float> dequantized;
  /// The reference's loss figure: sum of (w - q)^2 / Hinv[i,i]^2 / 2.
  double loss = 0.0;
};

/// Streaming GPTQ for one linear layer with `columns` inputs: feed
/// calibration activations with addBatch, then quantize the weights.
class GPTQ {
public:
  /// Throws std::invalid_argument unless columns > 0.
  explicit GPTQ(int64_t columns);

  /// Adds `tokens` rows of `columns` activations (row-major, tokens x
  /// columns) that belong to `numSamples` calibration samples. The
  /// reference counts one sample per 2-D input and the leading dimension of
  /// a 3-D (batch, seq, hidden) input. Batches are buffered and folded into
  /// H in large chunks; the result equals the reference's per-batch running
  /// average up to float32 rounding. Throws std::invalid_argument on
  /// non-finite values or tokens/numSamples < 1.
  void addBatch(const float *x, int64_t tokens, int64_t numSamples = 1);

  /// Quantizes the rows x columns weight matrix `w` (row-major, one row per
  /// output). H is kept, so the same statistics can quantize again. Throws
  /// std::invalid_argument on bad options, sizes, non-finite weights or
  /// when no batch was added, and std::runtime_error when the damped
  /// Hessian is not positive definite.
  GPTQResult quantize(const float *w, int64_t rows, const GPTQConfig &config);

  /// Folds the buffered batches into H now (quantize and hessian do this
  /// themselves; useful to time the accumulation on its own).
  void flush();

  /// The full symmetric Hessian (columns x columns, row-major).
  std::vector<float> hessian();

  int64_t columns() const { return columns_; }
  /// Calibration samples seen so far (the reference's nsamples).
  int64_t numSamples() const { return numSamples_ + bufferedSamples_; }

private:
  int64_t columns_;
  /// Upper triangle (row-major) of H, valid for the samples flushed so far
  /// (zero-filled on construction).
  LargeBuffer<float> h_;
  int64_t numSamples_ = 0;
  /// Activations not yet folded into H.
  std::vector<float> buffer_;
  int64_t bufferedTokens_ = 0, bufferedSamples_ = 0, bufferCapacity_ = 0;
};

/// The factor GPTQ eliminates with: U, the upper Cholesky factor of h^-1
/// (U^T U = h^-1), for a symmetric positive definite n x n matrix `h`
/// (row-major; its upper triangle is read). Written row-major to `u`, zeros
/// below the diagonal. Computed as the reference's cholesky,
/// cholesky_inverse, cholesky would be, but with one factorisation and one
/// triangular inverse: J h J = V^T V (V upper, J the reversal) gives
/// U = J V^-T J. Throws std::runtime_error when `h` is not positive
/// definite.
void gptqInverseFactor(const float *h, int64_t n, float *u);

} // namespace quantx

#endif // QUANTX_QUANT_GPTQ_H
