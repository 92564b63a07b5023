//===- NumericBindings.cpp - Python bindings for schemes and observers ----===//
//
// quantx._core.QuantScheme, parameter computation, quantize / dequantize /
// fake_quant for every granularity, and the observer classes, on numpy
// float32 (codes: int32) arrays of any shape. The GIL is released while the
// numeric core runs.
//
//===----------------------------------------------------------------------===//

#include "Bindings.h"

#include "quantx/Quant/Observer.h"
#include "quantx/Quant/Scheme.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace py = pybind11;

namespace {

using namespace quantx;

using FloatArray =
    py::array_t<float, py::array::c_style | py::array::forcecast>;
using IntArray =
    py::array_t<int32_t, py::array::c_style | py::array::forcecast>;

std::vector<int64_t> dimsOf(const py::array &a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

std::vector<py::ssize_t> toShape(const std::vector<int64_t> &d) {
  return std::vector<py::ssize_t>(d.begin(), d.end());
}

Granularity parseGranularity(const std::string &s) {
  if (s == "per_tensor")
    return Granularity::PerTensor;
  if (s == "per_axis")
    return Granularity::PerAxis;
  if (s == "per_group")
    return Granularity::PerGroup;
  throw std::invalid_argument("granularity must be per_tensor, per_axis or "
                              "per_group, got '" + s + "'");
}

const char *granularityName(Granularity g) {
  switch (g) {
  case Granularity::PerTensor:
    return "per_tensor";
  case Granularity::PerAxis:
    return "per_axis";
  case Granularity::PerGroup:
    return "per_group";
  }
  return "unknown";
}

ScaleType parseScaleType(const std::string &s) {
  if (s == "f32")
    return ScaleType::F32;
  if (s == "f16")
    return ScaleType::F16;
  if (s == "bf16")
    return ScaleType::BF16;
  throw std::invalid_argument("scale_dtype must be f32, f16 or bf16, got '" +
                              s + "'");
}

const char *scaleTypeName(ScaleType t) {
  return t == ScaleType::F32 ? "f32" : t == ScaleType::F16 ? "f16" : "bf16";
}

QuantParams makeParams(const std::vector<int64_t> &dims,
                       const QuantScheme &s, const FloatArray &scales,
                       const IntArray &zeroPoints) {
  QuantParams p;
  p.shape = paramShape(dims, s);
  p.scales.assign(scales.data(), scales.data() + scales.size());
  p.zeroPoints.assign(zeroPoints.data(), zeroPoints.data() + zeroPoints.size());
  return p;
}

py::tuple paramsToPy(const QuantParams &p) {
  FloatArray scales(toShape(p.shape));
  IntArray zps(toShape(p.shape));
  std::copy(p.scales.begin(), p.scales.end(), scales.mutable_data());
  std::copy(p.zeroPoints.begin(), p.zeroPoints.end(), zps.mutable_data());
  return py::make_tuple(scales, zps);
}

py::object rangesToPy(const Observer &o) {
  std::vector<Range> r = o.ranges();
  if (!o.isPerChannel())
    return py::make_tuple(r[0].min, r[0].max);
  FloatArray mn(py::ssize_t(r.size())), mx(py::ssize_t(r.size()));
  for (size_t i = 0; i < r.size(); ++i) {
    mn.mutable_data()[i] = r[i].min;
    mx.mutable_data()[i] = r[i].max;
  }
  return py::make_tuple(mn, mx);
}

} // namespace

void quantx::python::bindNumeric(py::module_ &m) {
  py::class_<QuantScheme>(m, "QuantScheme",
                          "An integer quantization scheme (Scheme.h).")
      .def(py::init([](int bits, bool isSigned, bool narrowRange,
                       bool symmetric, const std::string &granularity,
                       int64_t axis, int64_t groupSize,
                       const std::string &scaleDtype,
                       const std::string &rounding) {
             QuantScheme s;
             s.bits = bits;
             s.isSigned = isSigned;
             s.narrowRange = narrowRange;
             s.symmetric = symmetric;
             s.granularity = parseGranularity(granularity);
             s.axis = axis;
             s.groupSize = groupSize;
             s.scaleType = parseScaleType(scaleDtype);
             s.rounding = parseRoundingMode(rounding);
             s.validate();
             return s;
           }),
           py::arg("bits") = 8, py::arg("signed") = true,
           py::arg("narrow_range") = false, py::arg("symmetric") = false,
           py::arg("granularity") = "per_tensor", py::arg("axis") = 0,
           py::arg("group_size") = 0, py::arg("scale_dtype") = "f32",
           py::arg("rounding") = "half_to_even")
      .def_readonly("bits", &QuantScheme::bits)
      .def_readonly("signed", &QuantScheme::isSigned)
      .def_readonly("narrow_range", &QuantScheme::narrowRange)
      .def_readonly("symmetric", &QuantScheme::symmetric)
      .def_readonly("axis", &QuantScheme::axis)
      .def_readonly("group_size", &QuantScheme::groupSize)
      .def_property_readonly("granularity",
                             [](const QuantScheme &s) {
                               return granularityName(s.granularity);
                             })
      .def_property_readonly(
          "scale_dtype",
          [](const QuantScheme &s) { return scaleTypeName(s.scaleType); })
      .def_property_readonly(
          "rounding",
          [](const QuantScheme &s) { return roundingModeName(s.rounding); })
      .def_property_readonly("qmin", &QuantScheme::qmin)
      .def_property_readonly("qmax", &QuantScheme::qmax);

  m.def(
      "round_with",
      [](const FloatArray &x, const std::string &mode) {
        RoundingMode r = parseRoundingMode(mode);
        FloatArray out(toShape(dimsOf(x)));
        for (py::ssize_t i = 0; i < x.size(); ++i)
          out.mutable_data()[i] = roundWith(x.data()[i], r);
        return out;
      },
      py::arg("x"), py::arg("mode") = "half_to_even",
      "Rounds every element with the given rounding mode.");

  m.def(
      "params_from_range",
      [](float mn, float mx, const QuantScheme &s) {
        float scale;
        int32_t zp;
        computeScaleZeroPoint(Range{mn, mx}, s, scale, zp);
        return py::make_tuple(scale, zp);
      },
      py::arg("min"), py::arg("max"), py::arg("scheme"),
      "(scale, zero_point) of one range [min, max].");

  m.def(
      "compute_params",
      [](const FloatArray &x, const QuantScheme &s) {
        QuantParams p;
        std::vector<int64_t> dims = dimsOf(x);
        {
          py::gil_scoped_release release;
          p = computeParamsFromData(x.data(), dims, s);
        }
        return paramsToPy(p);
      },
      py::arg("x"), py::arg("scheme"),
      "(scales, zero_points) of x for the scheme, shaped as the parameter "
      "layout: () per tensor, (dim,) per axis, x's shape with the axis "
      "divided into groups per group.");

  m.def(
      "quantize",
      [](const FloatArray &x, const QuantScheme &s, const FloatArray &scales,
         const IntArray &zps) {
        std::vector<int64_t> dims = dimsOf(x);
        QuantParams p = makeParams(dims, s, scales, zps);
        IntArray out(toShape(dims));
        int32_t *o = out.mutable_data();
        {
          py::gil_scoped_release release;
          quantize(x.data(), dims, s, p, o);
        }
        return out;
      },
      py::arg("x"), py::arg("scheme"), py::arg("scales"),
      py::arg("zero_points"), "Codes (int32) of x.");

  m.def(
      "dequantize",
      [](const IntArray &q, const QuantScheme &s, const FloatArray &scales,
         const IntArray &zps) {
        std::vector<int64_t> dims = dimsOf(q);
        QuantParams p = makeParams(dims, s, scales, zps);
        FloatArray out(toShape(dims));
        float *o = out.mutable_data();
        {
          py::gil_scoped_release release;
          dequantize(q.data(), dims, s, p, o);
        }
        return out;
      },
      py::arg("codes"), py::arg("scheme"), py::arg("scales"),
      py::arg("zero_points"), "(code - zero_point) * scale as float32.");

  m.def(
      "fake_quant",
      [](const FloatArray &x, const QuantScheme &s, const FloatArray &scales,
         const IntArray &zps) {
        std::vector<int64_t> dims = dimsOf(x);
        QuantParams p = makeParams(dims, s, scales, zps);
        FloatArray out(toShape(dims));
        float *o = out.mutable_data();
        {
          py::gil_scoped_release release;
          fakeQuantize(x.data(), dims, s, p, o);
        }
        return out;
      },
      py::arg("x"), py::arg("scheme"), py::arg("scales"),
      py::arg("zero_points"), "dequantize(quantize(x)).");

  py::class_<Observer, std::shared_ptr<Observer>>(
      m, "Observer", "Streaming, mergeable range observer.")
      .def(
          "observe",
          [](Observer &o, const FloatArray &x) {
            std::vector<int64_t> dims = dimsOf(x);
            py::gil_scoped_release release;
            o.observe(x.data(), dims);
          },
          py::arg("x"))
      .def("merge", &Observer::merge, py::arg("other"),
           "Adds other's stream after this one's.")
      .def("min_max", &rangesToPy,
           "(min, max): floats, or arrays per channel.")
      .def(
          "compute_params",
          [](const Observer &o, const QuantScheme &s) {
            return paramsToPy(o.computeParams(s));
          },
          py::arg("scheme"));

  py::class_<MinMaxObserver, Observer, std::shared_ptr<MinMaxObserver>>(
      m, "MinMaxObserver")
      .def(py::init<>());
  py::class_<PerChannelMinMaxObserver, MinMaxObserver,
             std::shared_ptr<PerChannelMinMaxObserver>>(
      m, "PerChannelMinMaxObserver")
      .def(py::init<int64_t>(), py::arg("axis") = 0);
  py::class_<MovingAverageMinMaxObserver, Observer,
             std::shared_ptr<MovingAverageMinMaxObserver>>(
      m, "MovingAverageMinMaxObserver")
      .def(py::init<float>(), py::arg("averaging_constant") = 0.01f);
  py::class_<PerChannelMovingAverageMinMaxObserver,
             MovingAverageMinMaxObserver,
             std::shared_ptr<PerChannelMovingAverageMinMaxObserver>>(
      m, "PerChannelMovingAverageMinMaxObserver")
      .def(py::init<int64_t, float>(), py::arg("axis") = 0,
           py::arg("averaging_constant") = 0.01f);

  auto histogramInfo = [](const PowerOfTwoHistogram &h) {
    py::dict d;
    py::array_t<uint64_t> c(py::ssize_t(h.counts().size()));
    std::copy(h.counts().begin(), h.counts().end(), c.mutable_data());
    d["counts"] = c;
    d["bin_width"] = h.binWidth();
    d["start"] = h.start();
    d["total"] = h.total();
    return d;
  };
  py::class_<HistogramObserver, Observer, std::shared_ptr<HistogramObserver>>(
      m, "HistogramObserver")
      .def(py::init<int64_t, double>(), py::arg("bins") = 2048,
           py::arg("percentile") = 99.99)
      .def(
          "percentile_range",
          [](const HistogramObserver &o, double p) {
            Range r = o.percentileRange(p);
            return py::make_tuple(r.min, r.max);
          },
          py::arg("percentile"))
      .def("histogram", [histogramInfo](const HistogramObserver &o) {
        return histogramInfo(o.histogram());
      });
  py::class_<EntropyObserver, Observer, std::shared_ptr<EntropyObserver>>(
      m, "EntropyObserver")
      .def(py::init<int64_t, int64_t, int64_t>(), py::arg("bins") = 2048,
           py::arg("start_bin") = 256, py::arg("levels") = 255)
      .def("clip_range",
           [](const EntropyObserver &o) {
             Range r = o.clipRange();
             return py::make_tuple(r.min, r.max);
           })
      .def("histogram", [histogramInfo](const EntropyObserver &o) {
        return histogramInfo(o.histogram());
      });
  py::class_<MSEObserver, Observer, std::shared_ptr<MSEObserver>>(
      m, "MSEObserver")
      .def(py::init<const QuantScheme &, int64_t, int64_t, float>(),
           py::arg("scheme"), py::arg("bins") = 2048, py::arg("grid") = 100,
           py::arg("min_ratio") = 0.2f)
      .def("clip_ratio", &MSEObserver::clipRatio)
      .def("expected_error", &MSEObserver::expectedError, py::arg("ratio"))
      .def("histogram", [histogramInfo](const MSEObserver &o) {
        return histogramInfo(o.histogram());
      });
}
