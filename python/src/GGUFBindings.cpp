//===- GGUFBindings.cpp - Python bindings of the GGUF codecs --------------===//
//
// quantx._core.gguf_quantize / gguf_dequantize and type information. Types
// are accepted as ggml names ("q4_K", case-insensitive) or numeric ggml ids.
// The codecs run without the GIL and use quantx's thread count.
//
//===----------------------------------------------------------------------===//

#include "Bindings.h"

#include "quantx/Quant/GGUFCodecs.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <stdexcept>

namespace py = pybind11;
using quantx::GGUFType;

namespace {

GGUFType toType(const py::object &obj) {
  if (py::isinstance<py::str>(obj)) {
    std::string name = obj.cast<std::string>();
    if (auto type = quantx::ggufTypeFromName(name))
      return *type;
    throw py::value_error("unknown GGUF type name '" + name + "'");
  }
  if (py::isinstance<py::int_>(obj)) {
    long long id = obj.cast<long long>();
    if (id < 0)
      throw py::value_error("negative GGUF type id");
    try {
      return quantx::ggufTypeFromId(uint32_t(id));
    } catch (const std::invalid_argument &e) {
      throw py::value_error(e.what());
    }
  }
  // Enum-like objects (e.g. gguf.GGMLQuantizationType) expose .value.
  if (py::hasattr(obj, "value"))
    return toType(obj.attr("value"));
  throw py::type_error("GGUF type must be a name or a ggml type id");
}

py::dict infoDict(GGUFType type) {
  const quantx::GGUFTypeInfo &info = quantx::ggufTypeInfo(type);
  py::dict d;
  d["name"] = info.name;
  d["id"] = uint32_t(info.type);
  d["block_size"] = info.blockSize;
  d["type_size"] = info.blockBytes;
  d["uses_imatrix"] = info.usesImatrix;
  return d;
}

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

py::array_t<uint8_t> quantize(const FloatArray &data, const py::object &typeObj,
                              const std::optional<FloatArray> &imatrix) {
  GGUFType type = toType(typeObj);
  if (data.ndim() < 1)
    throw py::value_error("gguf_quantize: need an array of at least 1 dimension");
  int64_t nPerRow = data.shape(data.ndim() - 1);
  int64_t nRows = nPerRow ? data.size() / nPerRow : 0;
  size_t rowBytes;
  try {
    rowBytes = quantx::ggufRowSize(type, nPerRow);
  } catch (const std::invalid_argument &e) {
    throw py::value_error(e.what());
  }
  const float *weights = nullptr;
  if (imatrix) {
    if (imatrix->ndim() != 1 || imatrix->shape(0) != nPerRow)
      throw py::value_error("gguf_quantize: imatrix must be 1-D with one "
                            "weight per element of a row (" +
                            std::to_string(nPerRow) + ")");
    weights = imatrix->data();
  }
  std::vector<py::ssize_t> shape(data.shape(), data.shape() + data.ndim());
  shape.back() = py::ssize_t(rowBytes);
  py::array_t<uint8_t> out(shape);
  const float *src = data.data();
  uint8_t *dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    quantx::quantizeRows(type, src, dst, nRows, nPerRow, weights);
  }
  return out;
}

py::array_t<float> dequantize(const py::buffer &data, const py::object &typeObj,
                              const std::vector<int64_t> &shape) {
  GGUFType type = toType(typeObj);
  if (shape.empty())
    throw py::value_error("gguf_dequantize: shape must not be empty");
  int64_t total = 1;
  for (int64_t s : shape) {
    if (s < 0)
      throw py::value_error("gguf_dequantize: negative dimension");
    total *= s;
  }
  int64_t nPerRow = shape.back();
  int64_t nRows = nPerRow ? total / nPerRow : 0;
  size_t rowBytes;
  try {
    rowBytes = quantx::ggufRowSize(type, nPerRow);
  } catch (const std::invalid_argument &e) {
    throw py::value_error(e.what());
  }
  py::buffer_info buf = data.request();
  size_t have = size_t(buf.size) * size_t(buf.itemsize);
  bool contiguous = true;
  py::ssize_t expect = buf.itemsize;
  for (py::ssize_t i = buf.ndim - 1; i >= 0; --i) {
    if (buf.shape[i] != 1 && buf.strides[i] != expect)
      contiguous = false;
    expect *= buf.shape[i];
  }
  if (!contiguous)
    throw py::value_error("gguf_dequantize: data must be contiguous");
  if (have != rowBytes * size_t(nRows))
    throw py::value_error("gguf_dequantize: got " + std::to_string(have) +
                          " bytes, shape needs " +
                          std::to_string(rowBytes * size_t(nRows)));
  py::array_t<float> out(std::vector<py::ssize_t>(shape.begin(), shape.end()));
  const auto *src = static_cast<const uint8_t *>(buf.ptr);
  float *dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    quantx::dequantizeRows(type, src, dst, nRows, nPerRow);
  }
  return out;
}

} // namespace

void quantx::python::bindGGUF(py::module_ &m) {
  m.def("gguf_quantize", &quantize, py::arg("data"), py::arg("type"),
        py::arg("imatrix") = py::none(),
        "Quantize float32 rows (last axis) to a GGUF type; returns uint8 "
        "with the last axis replaced by the row's byte size. `imatrix` holds "
        "one importance weight per element of a row (ggml's imatrix).");
  m.def("gguf_dequantize", &dequantize, py::arg("data"), py::arg("type"),
        py::arg("shape"),
        "Dequantize GGUF bytes to a float32 array of `shape` (rows along "
        "the last axis).");
  m.def("gguf_type_info", [](const py::object &t) { return infoDict(toType(t)); },
        py::arg("type"), "Name, ggml id, block size, bytes per block.");
  m.def("gguf_types", [] {
    py::list names;
    for (GGUFType t : quantx::kGGUFTypes)
      names.append(quantx::ggufTypeInfo(t).name);
    return names;
  }, "Names of the implemented GGUF types, in ggml id order.");
  m.def("gguf_row_size", [](const py::object &t, int64_t n) {
    try {
      return quantx::ggufRowSize(toType(t), n);
    } catch (const std::invalid_argument &e) {
      throw py::value_error(e.what());
    }
  }, py::arg("type"), py::arg("n"), "Bytes of a row of n elements.");
}
