//===- Passes.td - QuantX transformation passes ------------*- tablegen -*-===//
//
// Passes that decide and apply quantization on float models: observer
// insertion, calibration plumbing and post-training quantization.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_DIALECT_QUANTX_TRANSFORMS_PASSES_TD
#define QUANTX_DIALECT_QUANTX_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def InsertObservers : Pass<"quantx-insert-observers", "ModuleOp"> {
  let summary = "Insert calibration observation points around quantizable ops";
  let description = [{
    Finds the float layers PTQ quantizes: linalg contractions (ops of the
    `ContractionOpInterface` family: `linalg.matmul`, transposed and batched
    variants, `linalg.generic` contractions) and 2-D convolutions
    (`ConvolutionOpInterface`). For each layer it inserts a
    `quantx.observe` on its activation input (looking through a
    zero-`tensor.pad`, and through the group split of a grouped
    `linalg.conv_2d_ngchw_gfchw`) named `<layer>.input` and one on its output
    named `<layer>.output`. The output is taken after the element-wise
    epilogue PTQ fuses: a bias addition with a constant and a ReLU
    (`arith.maximumf` with 0) or a clamp to `[0, hi]` (ReLU6), each with a
    single use.

    Weights that are constants are never observed (PTQ quantizes them from
    their values). A weight that is not a constant is observed as
    `<layer>.weight`, per channel along its output-channel axis. A product
    with no constant operand (attention's activation x activation
    products) is not a weight layer and is not observed.

    Layer names come from the op's location: a `NameLoc` (the module path
    the PyTorch importer records, e.g. `features.0`), or a `FileLineColLoc`
    with line and column 0 whose file name is the module path; otherwise a
    deterministic `<op>_<n>` in walk order (`matmul_0`, `conv2d_1`).

    An input that is already observed (e.g. the output of the previous
    layer) is not observed twice.

    ```mlir
    // quantx-opt -quantx-insert-observers='kind=percentile percentile=99.9'
    %x0 = quantx.observe %x {kind = #quantx.observer<percentile>, name = "fc.input", percentile = 99.9 : f64} : tensor<4x16xf32>
    %y = linalg.matmul ins(%x0, %w : ...) outs(...)
    ```
  }];
  let options = [
    Option<"kind", "kind", "std::string", /*default=*/"\"min_max\"",
           "Observer kind for activations: min_max, moving_average_min_max, "
           "histogram, percentile, entropy, mse">,
    Option<"numBins", "num-bins", "int64_t", /*default=*/"0",
           "Histogram bins (histogram-based kinds; 0: the observer's default)">,
    Option<"percentile", "percentile", "double", /*default=*/"0.0",
           "Percentile in (0, 100] of the percentile kind (0: default 99.99)">,
    Option<"momentum", "momentum", "double", /*default=*/"0.0",
           "Averaging constant in (0, 1] of moving_average_min_max "
           "(0: default 0.01)">,
    Option<"observeOutputs", "observe-outputs", "bool", /*default=*/"true",
           "Also observe layer outputs (for requantization and the report)">,
  ];
  let dependentDialects = ["::mlir::quantx::QuantXDialect"];
}

def ExposeObservations : Pass<"quantx-expose-observations", "ModuleOp"> {
  let summary = "Turn observation points into extra function results";
  let description = [{
    Rewrites every function that contains `quantx.observe` ops so that it
    returns, after its own results, the observed tensors in the order the
    observe ops appear, and removes the observe ops. A tensor that is
    already a result is not returned twice, and an observed function
    argument is not returned at all: the caller has it. The function gets
    a `quantx.observations` attribute: an array with one dictionary per
    observation (`name`, `kind`, `result` (the result index) or
    `argument` (the argument index), the observer parameters that were
    set, and `mean_axis` on an observation that a layer reads as its
    activation: its channel axis, along which calibration also records
    the mean, for `quantx-ptq`'s `bias-correction`). With `manifest=<path>` the same
    information is also written as JSON, which the calibration driver
    (`python/quantx/ptq.py`) reads to feed each result to its observer.

    A function with observe ops in more than one block, or whose observed
    value does not dominate the return, is reported as an error.
  }];
  let options = [
    Option<"manifest", "manifest", "std::string", /*default=*/"\"\"",
           "Write a JSON manifest of the exposed observations to this path">,
  ];
}

def ApplyCalibration : Pass<"quantx-apply-calibration", "ModuleOp"> {
  let summary = "Attach calibration statistics from a JSON file to observe ops";
  let description = [{
    Reads the statistics file written by the calibration driver (format in
    docs/PTQ.md: `{"format": "quantx-calibration", "version": 1,
    "observations": {name: {"kind", "min", "max", ...}}}`) and sets the
    `stats` attribute of every `quantx.observe` to `{min, max}` (f64, or
    dense f64 arrays for per-channel observers), plus `scale`/`zero_point`
    and the per-channel means `channel_mean` (a dense f64 array along
    `mean_axis`) when the file has them. An observe op whose name is not in the file, an
    entry whose kind differs from the op's, or a malformed file is an error
    that names it; nothing is changed then.
  }];
  let options = [
    Option<"statsFile", "stats-file", "std::string", /*default=*/"\"\"",
           "Path of the JSON statistics file">,
  ];
}

def PostTrainingQuantize : Pass<"quantx-ptq", "ModuleOp"> {
  let summary = "Post-training quantization of linalg matmuls and convolutions";
  let description = [{
    Rewrites the float layers that `quantx-insert-observers` marked into
    `quantx.matmul` / `quantx.conv2d`, and removes every `quantx.observe`.

    `mode=static-int8` (needs statistics on each layer's input observe):
    * weights: per-channel (output channel) symmetric int8 with the narrow
      range [-127, 127], quantized at compile time from the constant with
      the numeric core's rounding (`quantx::computeParamsFromData`,
      `quantx::quantize`), stored as a `quantx.constant`;
    * activations: per tensor, asymmetric uint8, parameters from the input
      observe's `{min, max}` statistics (PyTorch's formulas);
    * bias (a following element-wise addition of a 1-D constant): int32 at
      scale `s_in * s_w[c]`, `round_half_even(b / (s_in * s_w[c]))`;
    * a following ReLU is fused (`relu`);
    * epilogue: when the layer's output reaches, through shape ops
      (`tensor.collapse_shape`, `expand_shape`, `reshape`, `linalg.transpose`)
      and max pooling, an observed value whose readers are all quantized
      (layers reading it as their activation, quantized additions), the
      layer requantizes to that observation's parameters (a quantized
      result followed by a `quantx.dequantize`, which the readers'
      `quantize` cancels exactly); otherwise it produces f32;
    * residual additions (an element-wise sum of two computed tensors of
      one shape, `x + f(x)`, and a ReLU after it) read by at least one
      quantized layer or addition become `quantx.add` with each operand's
      and the result's observed parameters, so that skip connections stay
      in uint8 (float readers read the dequantized sum, as in PyTorch's
      PTQ); the ReLU is the saturation of the result at its zero point 0.
      Others stay float, with the reason in the report;
    * average pooling (`linalg.pooling_nchw_sum` from zero scaled by a
      constant, as the importer writes `avg_pool2d` and
      `adaptive_avg_pool2d`) read by a quantized op pools the uint8
      storage: exact i32 window sums, read as an i32 quantized tensor of
      scale `s_in * c` and zero point `window * z_in`, requantized to its
      readers' parameters (`quantx.requantize`).
    Zero `tensor.pad` of a convolution's spatial dimensions becomes the
    convolution's padding (padding with the zero point). A grouped
    `linalg.conv_2d_ngchw_gfchw` between `tensor.expand_shape` and
    `tensor.collapse_shape` of the channel dimension (the importer's form)
    becomes one `quantx.conv2d` with `groups`.

    `mode=dynamic-int8`: int8 per-channel weights as above; activations are
    quantized per tensor at run time (min/max reduction, asymmetric uint8
    parameters computed in the IR) and the result is f32. No statistics
    are needed.

    `mode=weight-int8` / `weight-int4`: weight-only symmetric weights, per
    output channel (`group-size=0`) or in groups of `group-size` along the
    reduction dimension; activations stay f32 (`quantx.matmul` and
    `quantx.conv2d` with a float lhs / input). A convolution's reduction is
    its filter's flattened `C/groups * KH * KW`; its groups are whole input
    channels, so `group-size` must be a multiple of `KH * KW` dividing it,
    else the filter gets one scale per output channel (the report's
    `weight_note` says so). The report gives each layer's
    `weight_granularity` and `weight_group`. In `weight-int4`,
    `keep-int8` (regular expressions, like `keep-float`) names layers whose
    weights are quantized to 8 bits instead, with the same granularity: the
    mixed 4/8-bit weights of a GGUF `Q4_K_M`-style model, for the layers
    that lose most in 4 bits (the report's `weight_bits`). In other modes
    it is an error.

    `bias-correction` (any mode; needs statistics from this version's
    calibration) corrects the bias for the expected error of the quantized
    weights: each output channel's bias gets `- sum_k (w_q - w)[c, k] *
    E[x_k]`, with `E[x_k]` from the calibration means of the layer's
    input (`channel_mean`; a convolution's column means are the channel
    means weighted by the share of output positions at which each filter
    tap reads the input rather than the zero padding). A layer without a
    bias gets one. The report gives each corrected layer's largest shift.

    `keep-float` is a comma-separated list of regular expressions: a
    layer, addition or average pooling whose name matches one stays float.
    `report=<path>` writes a JSON report: per layer (name, op, scales, zero
    points, the observation the input parameters come from, the weights'
    bits, granularity and group, bytes of the weights before and after),
    per addition (`adds`:
    operand and result parameters, the observation of its result) and per
    average pooling (`pools`); the calibration driver adds SQNR figures,
    per layer and addition with `keep-output-observers` (the quantized
    model's layer and addition results are then exposed and compared with
    the float model's).

    A layer that cannot be quantized (an op outside the supported forms,
    e.g. a batched matmul or an NHWC convolution, or a weight that is not a
    constant) is an error naming the layer and op, unless `keep-float`
    matches it. A product with no constant operand (activation x
    activation) stays float; the report gives the reason.
  }];
  let options = [
    Option<"mode", "mode", "std::string", /*default=*/"\"static-int8\"",
           "static-int8, dynamic-int8, weight-int8 or weight-int4">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"0",
           "Weight-only modes: group size along K (0: per output channel)">,
    ListOption<"keepFloat", "keep-float", "std::string",
               "Regular expressions of layer names to keep in float">,
    ListOption<"keepInt8", "keep-int8", "std::string",
               "weight-int4 mode: regular expressions of layer names whose "
               "weights are quantized to 8 bits instead">,
    Option<"report", "report", "std::string", /*default=*/"\"\"",
           "Write a JSON per-layer report to this path">,
    Option<"biasCorrection", "bias-correction", "bool", /*default=*/"false",
           "Correct each layer's bias for the mean error of its quantized "
           "weights on the calibration data">,
    Option<"keepOutputObservers", "keep-output-observers", "bool",
           /*default=*/"false",
           "Keep the `<layer>.output` observe ops and those of addition "
           "results (on the float or dequantized values) so that "
           "quantx-expose-observations "
           "can expose them for per-layer error measurements">,
  ];
  let dependentDialects = ["::mlir::quantx::QuantXDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SizeReport : Pass<"quantx-size-report", "ModuleOp"> {
  let summary = "Report the bytes of a module's constant tensors";
  let description = [{
    Measures what a model's weights take: for every constant-like op with a
    statically shaped tensor result (`arith.constant`, `quantx.constant`,
    ...) and every constant `memref.global`, the bytes of its elements at
    their storage width, `ceil(elements * bits / 8)` (`index` counts 64
    bits, a `!quantx.uniform` element its storage width, so int4 weights
    take half a byte each), plus the static scales and offsets of a
    quantized type at the width of its scale and offset types (f32 and
    i32 unless set). Splat constants (one value repeated, such as the zero
    tensors that start an accumulation) are counted apart: they need not
    be stored element by element.

    With `output=<path>` (`-`: standard output) it writes

    ```json
    {"format": "quantx-size-report", "version": 1,
     "total_bytes": 207480, "data_bytes": 206592, "parameter_bytes": 888,
     "constants": 10, "splat_constants": 4, "splat_bytes": 65536,
     "by_element_type": {"f32": {"constants": 2, "bytes": 512}, ...}}
    ```

    where `total_bytes` is `data_bytes + parameter_bytes` of the non-splat
    constants and `by_element_type` keys are `f32`, `i32`, ... or the
    storage of a quantized type (`!quantx.uniform<i8>`). The module is not
    changed; an unwritable output path is an error.
  }];
  let options = [
    Option<"output", "output", "std::string", /*default=*/"\"-\"",
           "Write the JSON report to this path (-: standard output)">,
  ];
}

#endif // QUANTX_DIALECT_QUANTX_TRANSFORMS_PASSES_TD
