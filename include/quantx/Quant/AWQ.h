//===- AWQ.h - Activation-aware weight quantization search -----*- C++ -*-===//
//
// AWQ as in the reference implementation (mit-han-lab/llm-awq,
// awq/quantize/auto_scale.py, auto_clip.py, quantizer.py), with AutoAWQ's
// optional duo scaling:
//
//  * Scale search: for the weights that share one input (e.g. q/k/v), try
//    per-input-channel scales s = mean|x|^a (duo: mean|x|^a / mean_w^(1-a))
//    for a = i/nGrid, i = 0..nGrid-1, normalised by sqrt(max(s) min(s));
//    multiply the weights by s, pseudo-quantize them (group-wise asymmetric
//    INT-n), divide by s, and measure the mean squared error of the output
//    of the module the caller inspects (through a forward callback: e.g. the
//    whole self-attention for q/k/v) against its float output. The winner's
//    scales are folded into the previous op (divide it by s) and the weights
//    (multiply by s).
//  * Clip search: per output row and group, shrink the max-abs clip over
//    nGrid steps down to (1 - maxShrink), on a token subsample, minimising
//    the linear's own output error.
//
// The pseudo-quantizer is the reference's `pseudo_quantize_tensor`:
//   scale = max(max - min, 1e-5) / (2^n - 1)
//   zero  = clamp(-round(min / scale), 0, 2^n - 1)
//   q     = clamp(round(w / scale) + zero, 0, 2^n - 1)
//   w'    = (q - zero) * scale
// in float32 with round-half-to-even (torch.round).
//
// All matrices are dense row-major float32. Weights are [rows x inFeatures]
// (PyTorch's Linear layout); activations are [tokens x inFeatures].
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_QUANT_AWQ_H
#define QUANTX_QUANT_AWQ_H

#include <cstdint>
#include <functional>
#include <vector>

namespace quantx {

/// Settings of the AWQ searches (defaults: the reference's).
struct AWQConfig {
  /// Weight bits, 2..8.
  int bits = 4;
  /// Group size along the input dimension; <= 0 means one group per row.
  int64_t groupSize = 128;
  /// Asymmetric with zero point (the reference always uses this). When
  /// false: symmetric, scale = max(absmax, 1e-5) / (2^(n-1) - 1), codes
  /// stored with an implicit zero point of 2^(n-1).
  bool zeroPoint = true;
  /// Scale-search grid: ratios i / scaleGrid for i in [0, scaleGrid).
  int scaleGrid = 20;
  /// AutoAWQ's duo scaling: s = x_mean^a / (w_mean^(1-a) + 1e-4).
  bool duoScaling = false;
  /// Clip-search grid and the largest shrink tried: shrinks i / clipGrid
  /// for i in [0, int(maxShrink * clipGrid)).
  int clipGrid = 20;
  double maxShrink = 0.5;
  /// Tokens used by the clip search: every (tokens / clipSampleTokens)-th
  /// token, as the reference (all tokens when fewer are given).
  int64_t clipSampleTokens = 512;
};

/// Group-wise quantized weights: w'[r][c] = (codes - zeros[g]) * scales[g]
/// with g = r * numGroups + c / groupSize.
struct AWQQuantizedWeight {
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t groupSize = 0;
  int bits = 0;
  /// rows * cols codes in [0, 2^bits - 1].
  std::vector<uint8_t> codes;
  /// rows * numGroups scales and zero points (the latter integer-valued).
  std::vector<float> scales;
  std::vector<float> zeros;

  int64_t numGroups() const { return groupSize ? cols / groupSize : 0; }
  /// The dequantized weights (rows * cols).
  std::vector<float> dequantize() const;
};

/// Returns `config`'s effective group size for rows of `cols` elements, or
/// throws std::invalid_argument when `cols` is not a multiple of it or the
/// config is invalid.
int64_t awqGroupSize(const AWQConfig &config, int64_t cols);

/// Quantizes a [rows x cols] weight matrix with the reference's formulas.
/// Throws std::invalid_argument on bad sizes, bits outside 2..8, or
/// non-finite weights.
AWQQuantizedWeight awqQuantize(const float *weight, int64_t rows, int64_t cols,
                               const AWQConfig &config);

/// Quantize + dequantize (`pseudo_quantize_tensor`): writes rows * cols
/// values to `out` (may alias `weight`).
void awqPseudoQuantize(const float *weight, int64_t rows, int64_t cols,
                       const AWQConfig &config, float *out);

/// A forward callback: given the candidate weights (one pointer per weight
/// of the group, same order and shapes as the search's input), writes the
/// inspected module's output to `output` (any length, the same for every
/// call). Called once with the float weights, then once per grid point.
using AWQModuleForward = std::function<void(
    const std::vector<const float *> &weights, std::vector<float> &output)>;

/// A weight matrix that shares the searched input: [rows x inFeatures].
struct AWQWeightRef {
  const float *data = nullptr;
  int64_t rows = 0;
};

/// Result of the scale search.
struct AWQScaleResult {
  /// Winning grid index and ratio (index / scaleGrid).
  int bestIndex = -1;
  double bestRatio = 0.0;
  /// Loss of the winner and of every grid point (mean squared error of the
  /// inspected module's output).
  double bestLoss = 0.0;
  std::vector<double> losses;
  /// Per-input-channel scales (inFeatures). Fold them: divide the previous
  /// op's output channels (norm weight, or previous linear's rows) by s and
  /// multiply the weights' columns by s.
  std::vector<float> scales;
  /// The weights multiplied by the scales (float, unclipped), and their
  /// quantization, one per input weight.
  std::vector<std::vector<float>> scaledWeights;
  std::vector<AWQQuantizedWeight> quantized;
};

/// Mean |x| per input channel over the calibration tokens (get_act_scale).
std::vector<float> awqActivationMean(const float *x, int64_t tokens,
                                     int64_t inFeatures);

/// AutoAWQ's weight statistic for duo scaling: the weights concatenated by
/// rows, |w| divided per group by (its max |w| + 1e-6), averaged over rows.
std::vector<float> awqWeightMean(const std::vector<AWQWeightRef> &weights,
                                 int64_t inFeatures, const AWQConfig &config);

/// Scale search with a caller-provided forward of the inspected module.
/// `x` holds the calibration activations of the weights' shared input
/// ([tokens x inFeatures]); the forward callback uses whatever inputs it
/// needs (typically the same activations). Throws std::invalid_argument on
/// bad sizes or non-finite input, std::runtime_error when the callback's
/// output changes length or no grid point gives a finite loss.
AWQScaleResult awqSearchScales(const std::vector<AWQWeightRef> &weights,
                               const float *x, int64_t tokens,
                               int64_t inFeatures,
                               const AWQModuleForward &forward,
                               const AWQConfig &config);

/// Scale search where the inspected module is the linears themselves (their
/// outputs concatenated), e.g. o_proj or down_proj. Computes the output
/// error directly from the weight difference, X (W' - W)^T.
AWQScaleResult awqSearchScalesLinear(const std::vector<AWQWeightRef> &weights,
                                     const float *x, int64_t tokens,
                                     int64_t inFeatures,
                                     const AWQConfig &config);

/// Result of the clip search for one linear.
struct AWQClipResult {
  /// Chosen clip per row and group (rows * numGroups).
  std::vector<float> maxVal;
  /// The clipped weights (rows * cols) and their quantization.
  std::vector<float> clippedWeight;
  AWQQuantizedWeight quantized;
};

/// Clip search (auto_clip_layer) for one [rows x cols] linear whose input
/// is `x` ([tokens x cols], already divided by the folded scales). The
/// reference skips q/k (attention scores make the linear error a poor
/// proxy); which linears to clip is the caller's choice.
AWQClipResult awqSearchClip(const float *weight, int64_t rows, int64_t cols,
                            const float *x, int64_t tokens,
                            const AWQConfig &config);

/// Built-in forward of a Llama self-attention (RoPE in the rotate-half
/// convention, causal mask, softmax in float, o_proj included) for the
/// search over [Wq, Wk, Wv]. `x` ([batch * seqLen x hidden], normalised
/// input) and `oWeight` ([hidden x numHeads * headDim]) must outlive the
/// returned callback. Multi-head attention (as many k/v heads as q heads).
AWQModuleForward makeAWQLlamaAttentionForward(const float *x, int64_t batch,
                                              int64_t seqLen, int64_t hidden,
                                              int64_t numHeads, int64_t headDim,
                                              double ropeTheta,
                                              const float *oWeight);

/// Built-in forward of a gated (SwiGLU) MLP, down(silu(gate x) * up x), for
/// the search over [Wgate, Wup]. `x` ([tokens x hidden]) and `downWeight`
/// ([hidden x ffn]) must outlive the returned callback.
AWQModuleForward makeAWQGatedMLPForward(const float *x, int64_t tokens,
                                        int64_t hidden, int64_t ffn,
                                        const float *downWeight);

} // namespace quantx

#endif // QUANTX_QUANT_AWQ_H
