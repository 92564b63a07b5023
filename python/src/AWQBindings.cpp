//===- AWQBindings.cpp - Python bindings of the AWQ search ----------------===//
//
// Exposes quantx/Quant/AWQ.h on numpy arrays: the pseudo-quantizer, the
// scale search with a Python callable (or a built-in module) as the
// inspected module's forward, and the clip search. Arrays are float32,
// row-major; weights are [rows, in_features] as PyTorch's Linear.
//
//===----------------------------------------------------------------------===//

#include "Bindings.h"

#include "quantx/Quant/AWQ.h"

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>

namespace py = pybind11;

namespace {

using FloatArray =
    py::array_t<float, py::array::c_style | py::array::forcecast>;

/// Built-in Llama self-attention forward (q/k/v search), holding o_proj.
struct AttentionModule {
  FloatArray oWeight;
  int64_t batch, seqLen, numHeads, headDim;
  double ropeTheta;
};

/// Built-in SwiGLU MLP forward (gate/up search), holding down_proj.
struct GatedMLPModule {
  FloatArray downWeight;
};

FloatArray asMatrix(const py::handle &obj, const char *what) {
  FloatArray a = FloatArray::ensure(obj);
  if (!a)
    throw std::invalid_argument(std::string(what) +
                                " must be convertible to a float32 array");
  if (a.ndim() != 2)
    throw std::invalid_argument(std::string(what) + " must be 2-D, got " +
                                std::to_string(a.ndim()) + "-D");
  return a;
}

/// Activations: any shape [..., in_features], viewed as [tokens, in].
FloatArray asTokens(const py::handle &obj, int64_t inFeatures) {
  FloatArray a = FloatArray::ensure(obj);
  if (!a || a.ndim() < 1)
    throw std::invalid_argument("x must be a float32 array [..., in]");
  if (a.shape(a.ndim() - 1) != inFeatures)
    throw std::invalid_argument("x's last dimension (" +
                                std::to_string(a.shape(a.ndim() - 1)) +
                                ") differs from the weights' in_features (" +
                                std::to_string(inFeatures) + ")");
  return a;
}

quantx::AWQConfig makeConfig(int bits, int64_t groupSize, bool zeroPoint,
                             bool duoScaling, int nGrid, double maxShrink,
                             int64_t nSampleToken) {
  quantx::AWQConfig c;
  c.bits = bits;
  c.groupSize = groupSize;
  c.zeroPoint = zeroPoint;
  c.duoScaling = duoScaling;
  c.scaleGrid = nGrid;
  c.clipGrid = nGrid;
  c.maxShrink = maxShrink;
  c.clipSampleTokens = nSampleToken;
  return c;
}

py::array_t<float> toArray(const std::vector<float> &v, int64_t rows,
                           int64_t cols) {
  py::array_t<float> a({rows, cols});
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

py::dict quantizedDict(const quantx::AWQQuantizedWeight &q) {
  py::dict d;
  py::array_t<uint8_t> codes({q.rows, q.cols});
  std::copy(q.codes.begin(), q.codes.end(), codes.mutable_data());
  d["codes"] = codes;
  d["scales"] = toArray(q.scales, q.rows, q.numGroups());
  d["zeros"] = toArray(q.zeros, q.rows, q.numGroups());
  return d;
}

py::dict searchScale(const py::list &weightList, const py::object &xObj,
                     const py::object &forward, int bits, int64_t groupSize,
                     bool zeroPoint, bool duoScaling, int nGrid) {
  if (weightList.empty())
    throw std::invalid_argument("weights must be a non-empty list");
  std::vector<FloatArray> weights;
  for (const py::handle &h : weightList)
    weights.push_back(asMatrix(h, "every weight"));
  int64_t in = weights[0].shape(1);
  std::vector<quantx::AWQWeightRef> refs;
  for (const FloatArray &w : weights) {
    if (w.shape(1) != in)
      throw std::invalid_argument("all weights must have the same in_features");
    refs.push_back({w.data(), w.shape(0)});
  }
  FloatArray x = asTokens(xObj, in);
  int64_t tokens = x.size() / in;
  quantx::AWQConfig config =
      makeConfig(bits, groupSize, zeroPoint, duoScaling, nGrid, 0.5, 512);

  quantx::AWQScaleResult r;
  if (forward.is_none()) {
    py::gil_scoped_release release;
    r = quantx::awqSearchScalesLinear(refs, x.data(), tokens, in, config);
  } else if (py::isinstance<AttentionModule>(forward)) {
    const AttentionModule &m = forward.cast<const AttentionModule &>();
    if (m.batch * m.seqLen != tokens)
      throw std::invalid_argument("AWQLlamaAttention: batch * seq_len (" +
                                  std::to_string(m.batch * m.seqLen) +
                                  ") differs from the tokens in x (" +
                                  std::to_string(tokens) + ")");
    if (m.oWeight.shape(0) != in ||
        m.oWeight.shape(1) != m.numHeads * m.headDim)
      throw std::invalid_argument(
          "AWQLlamaAttention: o_weight must be [hidden, heads * head_dim]");
    if (refs.size() != 3)
      throw std::invalid_argument(
          "AWQLlamaAttention: weights must be [Wq, Wk, Wv]");
    for (const auto &w : refs)
      if (w.rows != m.numHeads * m.headDim)
        throw std::invalid_argument(
            "AWQLlamaAttention: q/k/v must have heads * head_dim rows");
    py::gil_scoped_release release;
    auto fwd = quantx::makeAWQLlamaAttentionForward(
        x.data(), m.batch, m.seqLen, in, m.numHeads, m.headDim, m.ropeTheta,
        m.oWeight.data());
    r = quantx::awqSearchScales(refs, x.data(), tokens, in, fwd, config);
  } else if (py::isinstance<GatedMLPModule>(forward)) {
    const GatedMLPModule &m = forward.cast<const GatedMLPModule &>();
    if (refs.size() != 2 || refs[0].rows != refs[1].rows)
      throw std::invalid_argument(
          "AWQGatedMLP: weights must be [Wgate, Wup] of equal shape");
    if (m.downWeight.shape(0) != in || m.downWeight.shape(1) != refs[0].rows)
      throw std::invalid_argument(
          "AWQGatedMLP: down_weight must be [hidden, ffn]");
    py::gil_scoped_release release;
    auto fwd = quantx::makeAWQGatedMLPForward(
        x.data(), tokens, in, refs[0].rows, m.downWeight.data());
    r = quantx::awqSearchScales(refs, x.data(), tokens, in, fwd, config);
  } else if (PyCallable_Check(forward.ptr())) {
    std::vector<int64_t> rows;
    for (const auto &w : refs)
      rows.push_back(w.rows);
    quantx::AWQModuleForward fwd = [&](const std::vector<const float *> &w,
                                       std::vector<float> &out) {
      py::list args;
      for (size_t i = 0; i < w.size(); ++i) {
        py::array_t<float> a({rows[i], in});
        std::copy(w[i], w[i] + rows[i] * in, a.mutable_data());
        args.append(a);
      }
      py::object res = forward(args);
      FloatArray o = FloatArray::ensure(res);
      if (!o)
        throw std::runtime_error(
            "the forward callable must return an array of floats");
      out.assign(o.data(), o.data() + o.size());
    };
    r = quantx::awqSearchScales(refs, x.data(), tokens, in, fwd, config);
  } else {
    throw std::invalid_argument(
        "forward must be None (the linears themselves), a callable taking "
        "the list of candidate weights, AWQLlamaAttention or AWQGatedMLP");
  }

  py::dict d;
  d["best_index"] = r.bestIndex;
  d["best_ratio"] = r.bestRatio;
  d["best_loss"] = r.bestLoss;
  d["losses"] = py::array_t<double>(r.losses.size(), r.losses.data());
  d["scales"] = py::array_t<float>(r.scales.size(), r.scales.data());
  py::list scaled, quantized;
  for (size_t i = 0; i < refs.size(); ++i) {
    scaled.append(toArray(r.scaledWeights[i], refs[i].rows, in));
    quantized.append(quantizedDict(r.quantized[i]));
  }
  d["scaled_weights"] = scaled;
  d["quantized"] = quantized;
  return d;
}

} // namespace

void quantx::python::bindAWQ(py::module_ &m) {
  py::class_<AttentionModule>(
      m, "AWQLlamaAttention",
      "Built-in forward of a Llama self-attention (RoPE, causal, o_proj "
      "included) for awq_search_scale over [Wq, Wk, Wv].")
      .def(py::init([](const py::object &o, int64_t batch, int64_t seqLen,
                       int64_t numHeads, int64_t headDim, double theta) {
             if (batch <= 0 || seqLen <= 0 || numHeads <= 0 || headDim <= 0 ||
                 headDim % 2 || !(theta > 0))
               throw std::invalid_argument(
                   "AWQLlamaAttention: batch, seq_len, num_heads must be "
                   "positive, head_dim positive and even, rope_theta > 0");
             return AttentionModule{asMatrix(o, "o_weight"),
                                    batch,
                                    seqLen,
                                    numHeads,
                                    headDim,
                                    theta};
           }),
           py::arg("o_weight"), py::arg("batch"), py::arg("seq_len"),
           py::arg("num_heads"), py::arg("head_dim"),
           py::arg("rope_theta") = 10000.0);
  py::class_<GatedMLPModule>(
      m, "AWQGatedMLP",
      "Built-in forward of a SwiGLU MLP, down(silu(gate x) * up x), for "
      "awq_search_scale over [Wgate, Wup].")
      .def(py::init([](const py::object &down) {
             return GatedMLPModule{asMatrix(down, "down_weight")};
           }),
           py::arg("down_weight"));

  m.def(
      "awq_pseudo_quantize",
      [](const py::object &wObj, int bits, int64_t groupSize, bool zeroPoint) {
        FloatArray w = asMatrix(wObj, "w");
        quantx::AWQConfig c =
            makeConfig(bits, groupSize, zeroPoint, false, 20, 0.5, 512);
        py::array_t<float> out({w.shape(0), w.shape(1)});
        quantx::awqPseudoQuantize(w.data(), w.shape(0), w.shape(1), c,
                                  out.mutable_data());
        return out;
      },
      py::arg("w"), py::arg("bits") = 4, py::arg("group_size") = 128,
      py::arg("zero_point") = true,
      "The reference's pseudo_quantize_tensor: group-wise INT-n quantize "
      "and dequantize.");
  m.def(
      "awq_quantize",
      [](const py::object &wObj, int bits, int64_t groupSize, bool zeroPoint) {
        FloatArray w = asMatrix(wObj, "w");
        quantx::AWQConfig c =
            makeConfig(bits, groupSize, zeroPoint, false, 20, 0.5, 512);
        return quantizedDict(
            quantx::awqQuantize(w.data(), w.shape(0), w.shape(1), c));
      },
      py::arg("w"), py::arg("bits") = 4, py::arg("group_size") = 128,
      py::arg("zero_point") = true,
      "Group-wise INT-n codes, scales and zero points: w' = (codes - zeros) "
      "* scales.");
  m.def(
      "awq_activation_mean",
      [](const py::object &xObj) {
        FloatArray x = FloatArray::ensure(xObj);
        if (!x || x.ndim() < 1 || x.shape(x.ndim() - 1) == 0)
          throw std::invalid_argument("x must be a float32 array [..., in]");
        int64_t in = x.shape(x.ndim() - 1);
        auto v = quantx::awqActivationMean(x.data(), x.size() / in, in);
        return py::array_t<float>(v.size(), v.data());
      },
      py::arg("x"), "Mean |x| per input channel.");
  m.def(
      "awq_weight_mean",
      [](const py::list &weightList, int64_t groupSize) {
        std::vector<FloatArray> ws;
        std::vector<quantx::AWQWeightRef> refs;
        for (const py::handle &h : weightList)
          ws.push_back(asMatrix(h, "every weight"));
        if (ws.empty())
          throw std::invalid_argument("weights must be a non-empty list");
        for (const FloatArray &w : ws) {
          if (w.shape(1) != ws[0].shape(1))
            throw std::invalid_argument(
                "all weights must have the same in_features");
          refs.push_back({w.data(), w.shape(0)});
        }
        quantx::AWQConfig c;
        c.groupSize = groupSize;
        auto v = quantx::awqWeightMean(refs, ws[0].shape(1), c);
        return py::array_t<float>(v.size(), v.data());
      },
      py::arg("weights"), py::arg("group_size") = 128,
      "AutoAWQ's duo-scaling weight statistic.");
  m.def("awq_search_scale", &searchScale, py::arg("weights"), py::arg("x"),
        py::arg("forward") = py::none(), py::arg("bits") = 4,
        py::arg("group_size") = 128, py::arg("zero_point") = true,
        py::arg("duo_scaling") = false, py::arg("n_grid") = 20,
        "AWQ scale search over the weights sharing input x. forward: None "
        "(the inspected module is the linears themselves), a callable "
        "taking the list of candidate weights and returning the module "
        "output, AWQLlamaAttention or AWQGatedMLP. Returns best_index, "
        "best_ratio, best_loss, losses, scales (divide the previous op by "
        "them), scaled_weights and quantized (codes, scales, zeros).");
  m.def(
      "awq_search_clip",
      [](const py::object &wObj, const py::object &xObj, int bits,
         int64_t groupSize, bool zeroPoint, int nGrid, double maxShrink,
         int64_t nSampleToken) {
        FloatArray w = asMatrix(wObj, "w");
        FloatArray x = asTokens(xObj, w.shape(1));
        quantx::AWQConfig c = makeConfig(bits, groupSize, zeroPoint, false,
                                         nGrid, maxShrink, nSampleToken);
        quantx::AWQClipResult r;
        {
          py::gil_scoped_release release;
          r = quantx::awqSearchClip(w.data(), w.shape(0), w.shape(1), x.data(),
                                    x.size() / w.shape(1), c);
        }
        py::dict d = quantizedDict(r.quantized);
        d["max_val"] =
            toArray(r.maxVal, r.quantized.rows, r.quantized.numGroups());
        d["weight"] = toArray(r.clippedWeight, w.shape(0), w.shape(1));
        return d;
      },
      py::arg("w"), py::arg("x"), py::arg("bits") = 4,
      py::arg("group_size") = 128, py::arg("zero_point") = true,
      py::arg("n_grid") = 20, py::arg("max_shrink") = 0.5,
      py::arg("n_sample_token") = 512,
      "AWQ clip search for one linear (x already divided by the folded "
      "scales). Returns max_val [rows, groups], the clipped weight and its "
      "quantization (codes, scales, zeros).");
}
