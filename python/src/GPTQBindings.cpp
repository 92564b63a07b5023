//===- GPTQBindings.cpp - Python bindings for RTN and GPTQ ----------------===//
//
// quantx._core.GPTQ (streaming Hessian + quantize), rtn_find_params and
// rtn_quantize, on numpy float32 arrays. Results are dicts of numpy arrays.
// The GIL is released while the numeric core runs.
//
//===----------------------------------------------------------------------===//

#include "Bindings.h"

#include "quantx/Quant/GPTQ.h"
#include "quantx/Quant/RTN.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>

namespace py = pybind11;

namespace {

using FloatArray =
    py::array_t<float, py::array::c_style | py::array::forcecast>;

template <typename T>
py::array_t<T> toArray(std::vector<T> &&v, std::vector<py::ssize_t> shape) {
  auto *heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap,
                    [](void *p) { delete static_cast<std::vector<T> *>(p); });
  return py::array_t<T>(shape, heap->data(), owner);
}

quantx::QuantizerConfig makeQuantizer(int bits, bool perChannel, bool sym,
                                      bool mse, double norm, int grid,
                                      double maxShrink, bool trits) {
  quantx::QuantizerConfig c;
  c.bits = bits;
  c.perChannel = perChannel;
  c.sym = sym;
  c.mse = mse;
  c.norm = norm;
  c.grid = grid;
  c.maxShrink = maxShrink;
  c.trits = trits;
  c.validate();
  return c;
}

const FloatArray &require2d(const FloatArray &a, const char *name) {
  if (a.ndim() != 2)
    throw std::invalid_argument(std::string(name) +
                                " must be a 2-D array, got " +
                                std::to_string(a.ndim()) + " dimensions");
  return a;
}

} // namespace

void quantx::python::bindGPTQ(py::module_ &m) {
  m.def(
      "rtn_find_params",
      [](const FloatArray &x, int bits, bool perChannel, bool sym, bool mse,
         double norm, int grid, double maxShrink, bool trits) {
        require2d(x, "x");
        QuantizerConfig c = makeQuantizer(bits, perChannel, sym, mse, norm,
                                          grid, maxShrink, trits);
        const int64_t rows = x.shape(0), cols = x.shape(1);
        std::vector<float> scale(size_t(std::max<int64_t>(rows, 0))),
            zero(size_t(std::max<int64_t>(rows, 0)));
        {
          py::gil_scoped_release release;
          findQuantParams(c, x.data(), rows, cols, cols, scale.data(),
                          zero.data());
        }
        return py::make_tuple(toArray(std::move(scale), {rows}),
                              toArray(std::move(zero), {rows}));
      },
      py::arg("x"), py::arg("bits"), py::arg("per_channel") = true,
      py::arg("sym") = true, py::arg("mse") = false, py::arg("norm") = 2.4,
      py::arg("grid") = 100, py::arg("maxshrink") = 0.8,
      py::arg("trits") = false,
      "The GPTQ reference quantizer's find_params(x, weight=True) on a 2-D "
      "float32 array: returns (scale, zero), one per row (per_channel) or "
      "the tensor-wide pair repeated per row.");

  m.def(
      "rtn_quantize",
      [](const FloatArray &w, int bits, int64_t groupSize, bool perChannel,
         bool sym, bool mse, double norm, int grid, double maxShrink,
         bool trits) {
        require2d(w, "w");
        QuantizerConfig c = makeQuantizer(bits, perChannel, sym, mse, norm,
                                          grid, maxShrink, trits);
        RTNResult r;
        {
          py::gil_scoped_release release;
          r = quantizeRTN(w.data(), w.shape(0), w.shape(1), c, groupSize);
        }
        py::dict d;
        d["codes"] = toArray(std::move(r.codes), {r.rows, r.cols});
        d["scales"] = toArray(std::move(r.scales), {r.rows, r.numGroups});
        d["zeros"] = toArray(std::move(r.zeros), {r.rows, r.numGroups});
        d["dequantized"] = toArray(std::move(r.dequantized), {r.rows, r.cols});
        d["group_size"] = r.groupSize;
        return d;
      },
      py::arg("w"), py::arg("bits"), py::arg("group_size") = -1,
      py::arg("per_channel") = true, py::arg("sym") = true,
      py::arg("mse") = false, py::arg("norm") = 2.4, py::arg("grid") = 100,
      py::arg("maxshrink") = 0.8, py::arg("trits") = false,
      "Round-to-nearest quantization of a (rows, cols) float32 weight matrix "
      "per row or per group of columns. Returns a dict with codes (uint8), "
      "scales and zeros (rows, groups), dequantized and group_size.");

  py::class_<GPTQ>(m, "GPTQ",
                   "Streaming GPTQ for one linear layer: add_batch() the "
                   "calibration inputs, then quantize() the weights.")
      .def(py::init<int64_t>(), py::arg("columns"))
      .def(
          "add_batch",
          [](GPTQ &self, const FloatArray &x) {
            // 2-D (tokens, columns) is one sample; 3-D (batch, seq, columns)
            // is `batch` samples, as the reference counts them.
            if (x.ndim() != 2 && x.ndim() != 3)
              throw std::invalid_argument(
                  "add_batch: x must be (tokens, columns) or (batch, seq, "
                  "columns)");
            const int64_t cols = x.shape(x.ndim() - 1);
            if (cols != self.columns())
              throw std::invalid_argument(
                  "add_batch: x has " + std::to_string(cols) +
                  " columns, the layer has " + std::to_string(self.columns()));
            const int64_t samples = x.ndim() == 3 ? x.shape(0) : 1;
            const int64_t tokens = x.size() / std::max<int64_t>(cols, 1);
            py::gil_scoped_release release;
            self.addBatch(x.data(), tokens, samples);
          },
          py::arg("x"))
      .def(
          "quantize",
          [](GPTQ &self, const FloatArray &w, int bits, int64_t groupSize,
             bool sym, bool actOrder, bool staticGroups, double percDamp,
             int64_t blockSize, bool perChannel, bool mse) {
            require2d(w, "w");
            if (w.shape(1) != self.columns())
              throw std::invalid_argument(
                  "quantize: w has " + std::to_string(w.shape(1)) +
                  " columns, the layer has " + std::to_string(self.columns()));
            GPTQConfig c;
            c.quantizer =
                makeQuantizer(bits, perChannel, sym, mse, 2.4, 100, 0.8, false);
            c.groupSize = groupSize;
            c.actOrder = actOrder;
            c.staticGroups = staticGroups;
            c.percDamp = percDamp;
            c.blockSize = blockSize;
            GPTQResult r;
            {
              py::gil_scoped_release release;
              r = self.quantize(w.data(), w.shape(0), c);
            }
            py::dict d;
            d["codes"] = toArray(std::move(r.codes), {r.rows, r.cols});
            d["scales"] = toArray(std::move(r.scales), {r.rows, r.numGroups});
            d["zeros"] = toArray(std::move(r.zeros), {r.rows, r.numGroups});
            d["g_idx"] = toArray(std::move(r.gIdx), {r.cols});
            d["perm"] = toArray(std::move(r.perm), {r.cols});
            d["dequantized"] =
                toArray(std::move(r.dequantized), {r.rows, r.cols});
            d["loss"] = r.loss;
            d["group_size"] = r.groupSize;
            return d;
          },
          py::arg("w"), py::arg("bits") = 4, py::arg("group_size") = -1,
          py::arg("sym") = false, py::arg("act_order") = false,
          py::arg("static_groups") = false, py::arg("percdamp") = 0.01,
          py::arg("blocksize") = 128, py::arg("per_channel") = true,
          py::arg("mse") = false,
          "Quantize a (rows, columns) float32 weight matrix. Returns a dict: "
          "codes (uint8), scales/zeros (rows, groups), g_idx and perm "
          "(int32, columns), dequantized, loss (the reference's error "
          "figure), group_size.")
      .def(
          "flush",
          [](GPTQ &self) {
            py::gil_scoped_release release;
            self.flush();
          },
          "Fold buffered batches into the Hessian now.")
      .def(
          "hessian",
          [](GPTQ &self) {
            std::vector<float> h;
            {
              py::gil_scoped_release release;
              h = self.hessian();
            }
            const int64_t n = self.columns();
            return toArray(std::move(h), {n, n});
          },
          "The accumulated Hessian 2/N sum X^T X, (columns, columns).")
      .def_property_readonly("columns", &GPTQ::columns)
      .def_property_readonly("num_samples", &GPTQ::numSamples);
}
