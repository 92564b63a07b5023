//===- WeightOnlyBindings.cpp - Python bindings of the weight packer ------===//
//
// quantx._core.pack_weight_only: the host-side packer of the "n8" and
// "n8k8" layouts that quantx-pack-weight-only chooses for weight-only
// matmuls (f32 and int8 activations), so callers
// can pass packed weight arguments (see quantx/Quant/WeightOnlyPacking.h).
//
//===----------------------------------------------------------------------===//

#include "Bindings.h"

#include "quantx/Quant/WeightOnlyPacking.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>

namespace py = pybind11;

namespace {

using namespace quantx;

WeightOffsetKind parseOffset(const std::string &s) {
  if (s == "none")
    return WeightOffsetKind::None;
  if (s == "zero_point")
    return WeightOffsetKind::ZeroPoint;
  if (s == "add_min")
    return WeightOffsetKind::AddMin;
  if (s == "sub_min")
    return WeightOffsetKind::SubMin;
  throw std::invalid_argument("offset must be none, zero_point, add_min or "
                              "sub_min, got '" +
                              s + "'");
}

py::tuple packWeightOnlyPy(
    py::array_t<int32_t, py::array::c_style | py::array::forcecast> q,
    py::array scales,
    std::optional<py::array_t<float, py::array::c_style | py::array::forcecast>>
        offsets,
    int bits, bool isSigned, int64_t group, bool transposed,
    const std::string &offset, const std::string &layout) {
  if (q.ndim() != 2)
    throw std::invalid_argument("weights must be a 2-D array");
  WeightOnlyLayout L;
  if (layout == "n8k8")
    L.kind = WeightLayoutKind::N8K8;
  else if (layout != "n8")
    throw std::invalid_argument("layout must be n8 or n8k8, got '" + layout +
                                "'");
  L.bits = bits;
  L.isSigned = isSigned;
  L.group = group;
  L.n = transposed ? q.shape(0) : q.shape(1);
  L.k = transposed ? q.shape(1) : q.shape(0);
  L.offset = parseOffset(offset);
  py::dtype sdt = scales.dtype();
  if (sdt.is(py::dtype::of<float>()))
    L.scaleF16 = false;
  else if (sdt.kind() == 'f' && sdt.itemsize() == 2)
    L.scaleF16 = true;
  else
    throw std::invalid_argument("scales must be float32 or float16");
  if (std::string why = L.check(); !why.empty())
    throw std::invalid_argument(why);
  std::vector<py::ssize_t> pshape =
      transposed ? std::vector<py::ssize_t>{L.n, L.groups()}
                 : std::vector<py::ssize_t>{L.groups(), L.n};
  auto checkParams = [&](const py::array &a, const char *what) {
    if (a.ndim() != 2 || a.shape(0) != pshape[0] || a.shape(1) != pshape[1])
      throw std::invalid_argument(std::string(what) + " must have shape (" +
                                  std::to_string(pshape[0]) + ", " +
                                  std::to_string(pshape[1]) + ")");
  };
  checkParams(scales, "scales");
  auto s32 = py::array_t<float, py::array::c_style | py::array::forcecast>(
      scales.attr("astype")("float32"));
  if (L.hasOffsetTerms() != offsets.has_value())
    throw std::invalid_argument(L.hasOffsetTerms()
                                    ? "this offset kind needs offsets"
                                    : "offsets given without an offset kind");
  if (offsets)
    checkParams(*offsets, "offsets");

  py::array_t<uint8_t> w(L.weightBytes());
  std::vector<py::ssize_t> sshape = {py::ssize_t(L.paramCount())};
  py::array s(L.scaleF16 ? py::dtype("float16") : py::dtype::of<float>(),
              sshape);
  py::array_t<float> c(L.hasOffsetTerms() ? L.paramCount() : 0);
  std::string err;
  {
    py::gil_scoped_release release;
    err = packWeightOnly(L, q.data(), s32.data(),
                         offsets ? offsets->data() : nullptr, transposed,
                         w.mutable_data(), s.mutable_data(),
                         L.hasOffsetTerms() ? c.mutable_data() : nullptr);
  }
  if (!err.empty())
    throw std::invalid_argument(err);
  py::object cOut = L.hasOffsetTerms() ? py::object(c) : py::none();
  return py::make_tuple(w.attr("view")("int8"), s, cOut);
}

} // namespace

void quantx::python::bindWeightOnly(py::module_ &m) {
  m.def("pack_weight_only", &packWeightOnlyPy, py::arg("q"), py::arg("scales"),
        py::arg("offsets") = py::none(), py::arg("bits") = 4,
        py::arg("signed") = true, py::arg("group") = 32,
        py::arg("transposed") = true, py::arg("offset") = "none",
        py::arg("layout") = "n8",
        R"doc(Pack weight-only matmul weights into the "n8" or "n8k8" layout.

q: storage integers, (N, K) when `transposed` (a Linear weight) else (K, N).
scales: float32 or float16, (N, ceil(K/group)) (or transposed); the packed
scales keep this dtype. offsets: zero points or mins with the scales' shape
when `offset` is zero_point, add_min or sub_min.
layout: "n8" (the f32-activation kernels, activations=f32) or "n8k8" (group
a multiple of 8: the int8-activation kernels, activations=int8; the pass
takes 8-bit weights in it only as constants, on targets with vpdpbusd).
Returns (weights int8 [bytes], scales [params], offset terms float32 or
None), the arguments quantx-pack-weight-only=pack-arguments=1 expects.)doc");
}
