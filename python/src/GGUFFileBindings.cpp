//===- GGUFFileBindings.cpp - Python bindings of GGUF files ---------------===//
//
// quantx._core.GGUFFile (validating reader, tensor data as read-only numpy
// views of the mapping), GGUFWriter (streamed, atomic), gguf_dump,
// gguf_report and gguf_pack (lossless layout conversion of already-quantized
// levels into GGUF blocks). Metadata values cross the boundary as tuples
// (value type id, payload, element type id); quantx.gguf wraps them.
//
//===----------------------------------------------------------------------===//

#include "Bindings.h"

#include "quantx/Quant/GGUFFile.h"
#include "quantx/Quant/GGUFPack.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>

namespace py = pybind11;
using quantx::GGUFError;
using quantx::GGUFValue;
using quantx::GGUFValueType;

namespace {

py::object scalarToPy(GGUFValueType type, uint64_t bits) {
  GGUFValue v;
  v.type = type;
  v.bits = bits;
  switch (type) {
  case GGUFValueType::Bool:
    return py::bool_(bits != 0);
  case GGUFValueType::Float32:
  case GGUFValueType::Float64:
    return py::float_(v.asFloat());
  case GGUFValueType::Int8:
  case GGUFValueType::Int16:
  case GGUFValueType::Int32:
  case GGUFValueType::Int64:
    return py::int_(v.asInt());
  default:
    return py::int_(v.asUInt());
  }
}

py::object stringToPy(const std::string &s) {
  PyObject *o = PyUnicode_DecodeUTF8(s.data(), py::ssize_t(s.size()), nullptr);
  if (o)
    return py::reinterpret_steal<py::object>(o);
  PyErr_Clear();
  return py::bytes(s); // Not UTF-8: hand the bytes over unchanged.
}

const char *numpyDtype(GGUFValueType t) {
  switch (t) {
  case GGUFValueType::UInt8:
    return "u1";
  case GGUFValueType::Int8:
    return "i1";
  case GGUFValueType::UInt16:
    return "<u2";
  case GGUFValueType::Int16:
    return "<i2";
  case GGUFValueType::UInt32:
    return "<u4";
  case GGUFValueType::Int32:
    return "<i4";
  case GGUFValueType::Float32:
    return "<f4";
  case GGUFValueType::Bool:
    return "?";
  case GGUFValueType::UInt64:
    return "<u8";
  case GGUFValueType::Int64:
    return "<i8";
  case GGUFValueType::Float64:
    return "<f8";
  default:
    return nullptr;
  }
}

/// (type id, payload, element type id or None).
py::tuple valueToPy(const GGUFValue &v) {
  py::object payload;
  py::object elem = py::none();
  if (v.type == GGUFValueType::String) {
    payload = stringToPy(v.str);
  } else if (v.type == GGUFValueType::Array) {
    elem = py::int_(uint32_t(v.elementType));
    if (const char *dt = numpyDtype(v.elementType)) {
      // Numeric arrays become numpy arrays of the exact element type.
      py::dtype dtype(dt);
      size_t n = v.scalars.size(), w = quantx::ggufValueTypeSize(v.elementType);
      py::array arr(dtype, std::vector<py::ssize_t>{py::ssize_t(n)},
                    std::vector<py::ssize_t>{});
      auto *dst = static_cast<uint8_t *>(arr.mutable_data());
      for (size_t i = 0; i < n; ++i)
        std::memcpy(dst + i * w, &v.scalars[i], w); // little-endian host
      payload = arr;
    } else {
      py::list items;
      for (const GGUFValue &e : v.elements)
        items.append(v.elementType == GGUFValueType::String
                         ? stringToPy(e.str)
                         : py::object(valueToPy(e)));
      payload = items;
    }
  } else {
    payload = scalarToPy(v.type, v.bits);
  }
  return py::make_tuple(uint32_t(v.type), payload, elem);
}

GGUFValueType checkType(long long id) {
  if (id < 0 || id > 12)
    throw py::value_error("invalid GGUF value type id " + std::to_string(id));
  return GGUFValueType(id);
}

uint64_t scalarBits(GGUFValueType t, const py::handle &obj) {
  switch (t) {
  case GGUFValueType::Float32: {
    float f = obj.cast<float>();
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
  }
  case GGUFValueType::Float64: {
    double d = obj.cast<double>();
    uint64_t u;
    std::memcpy(&u, &d, 8);
    return u;
  }
  case GGUFValueType::Bool:
    return obj.cast<bool>() ? 1 : 0;
  default:
    break;
  }
  // Integers: range-checked against the type.
  py::int_ i = py::reinterpret_borrow<py::object>(obj);
  bool isSigned = t == GGUFValueType::Int8 || t == GGUFValueType::Int16 ||
                  t == GGUFValueType::Int32 || t == GGUFValueType::Int64;
  unsigned bytes = unsigned(quantx::ggufValueTypeSize(t));
  if (isSigned) {
    long long v = i.cast<long long>();
    long long lo = bytes == 8 ? INT64_MIN : -(1LL << (8 * bytes - 1));
    long long hi = bytes == 8 ? INT64_MAX : (1LL << (8 * bytes - 1)) - 1;
    if (v < lo || v > hi)
      throw py::value_error("value " + std::to_string(v) + " out of range of " +
                            quantx::ggufValueTypeName(t));
    return uint64_t(v) & (bytes == 8 ? ~0ULL : ((1ULL << (8 * bytes)) - 1));
  }
  if (PyLong_AsLongLong(i.ptr()) < 0 && !PyErr_Occurred())
    throw py::value_error(std::string("negative value for ") +
                          quantx::ggufValueTypeName(t));
  PyErr_Clear();
  unsigned long long v = i.cast<unsigned long long>();
  if (bytes < 8 && v >> (8 * bytes))
    throw py::value_error("value " + std::to_string(v) + " out of range of " +
                          quantx::ggufValueTypeName(t));
  return v;
}

GGUFValue valueFromPy(const py::handle &tuple);

GGUFValue elementFromPy(GGUFValueType t, const py::handle &obj) {
  if (t == GGUFValueType::String) {
    GGUFValue v;
    v.type = t;
    v.str = obj.cast<std::string>(); // str (UTF-8) or bytes
    return v;
  }
  if (t == GGUFValueType::Array)
    return valueFromPy(obj);
  GGUFValue v;
  v.type = t;
  v.bits = scalarBits(t, obj);
  return v;
}

GGUFValue valueFromPy(const py::handle &h) {
  py::tuple tup = py::reinterpret_borrow<py::tuple>(h);
  if (tup.size() != 3)
    throw py::value_error("a metadata value is (type, payload, element type)");
  GGUFValueType t = checkType(tup[0].cast<long long>());
  if (t != GGUFValueType::Array)
    return elementFromPy(t, tup[1]);
  GGUFValueType et = checkType(tup[2].cast<long long>());
  GGUFValue v;
  v.type = GGUFValueType::Array;
  v.elementType = et;
  if (const char *dt = numpyDtype(et)) {
    if (et == GGUFValueType::Bool || !py::isinstance<py::array>(tup[1])) {
      for (py::handle e : tup[1])
        v.scalars.push_back(scalarBits(et, e));
    } else {
      // Fast path: a numpy array converted to the element type (exact
      // conversion required).
      py::array src = py::reinterpret_borrow<py::array>(tup[1]);
      py::array arr = py::array::ensure(src.attr("astype")(py::dtype(dt)),
                                        py::array::c_style);
      if (!py::bool_(arr.attr("__eq__")(src).attr("all")()))
        throw py::value_error(std::string("array values do not fit ") +
                              quantx::ggufValueTypeName(et));
      size_t n = size_t(arr.size()), w = quantx::ggufValueTypeSize(et);
      v.scalars.resize(n, 0);
      auto *p = static_cast<const uint8_t *>(arr.data());
      for (size_t i = 0; i < n; ++i)
        std::memcpy(&v.scalars[i], p + i * w, w);
    }
    return v;
  }
  for (py::handle e : tup[1])
    v.elements.push_back(elementFromPy(et, e));
  return v;
}

template <typename F> auto guard(F &&f) -> decltype(f()) {
  try {
    return f();
  } catch (const GGUFError &e) {
    throw py::value_error(e.what());
  }
}

struct PyFile {
  std::shared_ptr<quantx::GGUFFile> file;
};

struct PyWriter {
  quantx::GGUFWriter writer;
  py::list keep; // arrays whose data the writer points at
};

using IntArray =
    py::array_t<int32_t, py::array::c_style | py::array::forcecast>;
using FloatArray =
    py::array_t<float, py::array::c_style | py::array::forcecast>;

/// Levels for the packer: int8 / uint8 / int16 / int32 arrays are read in
/// place (C order); other dtypes are converted to int32. Sets
/// `in.levelType`.
py::array packLevels(const py::array &levelsIn, quantx::GGUFPackInput &in) {
  // int8 / uint8 / int16 / int32 levels are read in place (C order);
  // other dtypes are converted to int32.
  py::dtype dt = levelsIn.dtype();
  auto isDtype = [&](const char *name) { return dt.equal(py::dtype(name)); };
  bool inPlace = true;
  if (isDtype("i1"))
    in.levelType = quantx::GGUFLevelType::Int8;
  else if (isDtype("u1"))
    in.levelType = quantx::GGUFLevelType::UInt8;
  else if (isDtype("=i2"))
    in.levelType = quantx::GGUFLevelType::Int16;
  else if (!isDtype("=i4"))
    inPlace = false;
  py::array levels = inPlace ? py::array::ensure(levelsIn, py::array::c_style)
                             : py::array(IntArray::ensure(levelsIn));
  if (!levels)
    throw py::value_error("gguf_pack: levels must be an integer array");
  return levels;
}

/// Fills `in` from the arguments of gguf_pack; returns the GGUF type.
quantx::GGUFType packInput(const py::array &levelsIn, py::array &levels,
                           const FloatArray &scales,
                           const std::optional<FloatArray> &offsets,
                           const std::string &typeName, int64_t groupSize,
                           const std::string &form, quantx::GGUFPackInput &in) {
  auto type = quantx::ggufTypeFromName(typeName);
  if (!type)
    throw py::value_error("unknown GGUF type '" + typeName + "'");
  levels = packLevels(levelsIn, in);
  if (levels.ndim() != 2)
    throw py::value_error("gguf_pack: levels must be 2-D (rows, cols)");
  in.rows = levels.shape(0);
  in.cols = levels.shape(1);
  in.groupSize = groupSize;
  if (form == "zero_point")
    in.form = quantx::GGUFLevelForm::ZeroPoint;
  else if (form == "add_min")
    in.form = quantx::GGUFLevelForm::AddMin;
  else
    throw py::value_error("form must be 'zero_point' or 'add_min'");
  int64_t ng = quantx::ggufPackNumGroups(in);
  if (scales.size() != in.rows * ng ||
      (offsets && offsets->size() != in.rows * ng))
    throw py::value_error("gguf_pack: scales/offsets must hold rows x " +
                          std::to_string(ng) + " values");
  in.levels = levels.data();
  in.scales = scales.data();
  in.offsets = offsets ? offsets->data() : nullptr;
  return *type;
}

} // namespace

void quantx::python::bindGGUFFile(py::module_ &m) {
  py::class_<PyFile>(m, "GGUFFile",
                     "A validated GGUF file (memory-mapped). Malformed files "
                     "raise ValueError with the reader's message.")
      .def(py::init([](const std::string &path) {
             return PyFile{std::make_shared<quantx::GGUFFile>(
                 guard([&] { return quantx::GGUFFile::open(path); }))};
           }),
           py::arg("path"))
      .def_static(
          "from_bytes",
          [](py::bytes data) {
            auto owned = std::make_shared<std::string>(std::string(data));
            std::shared_ptr<const void> owner(owned, owned->data());
            return PyFile{std::make_shared<quantx::GGUFFile>(guard([&] {
              return quantx::GGUFFile::parse(owned->data(), owned->size(),
                                             owner);
            }))};
          },
          py::arg("data"))
      .def_property_readonly("version",
                             [](const PyFile &f) { return f.file->version(); })
      .def_property_readonly(
          "alignment", [](const PyFile &f) { return f.file->alignment(); })
      .def_property_readonly(
          "data_offset", [](const PyFile &f) { return f.file->dataOffset(); })
      .def_property_readonly("file_size",
                             [](const PyFile &f) { return f.file->fileSize(); })
      .def(
          "metadata",
          [](const PyFile &f) {
            py::list out;
            for (const auto &kv : f.file->metadata())
              out.append(
                  py::make_tuple(stringToPy(kv.key), valueToPy(kv.value)));
            return out;
          },
          "[(key, (type id, payload, element type id)), ...] in file order")
      .def(
          "tensors",
          [](const PyFile &f) {
            py::list out;
            for (const auto &t : f.file->tensors())
              out.append(
                  py::make_tuple(t.name, t.dims, t.type, t.offset, t.size));
            return out;
          },
          "[(name, dims innermost first, ggml type id, offset, bytes), ...]")
      .def(
          "tensor_data",
          [](const PyFile &f, size_t index) {
            if (index >= f.file->tensors().size())
              throw py::index_error("tensor index out of range");
            auto hold = new std::shared_ptr<quantx::GGUFFile>(f.file);
            py::capsule base(hold, [](void *p) {
              delete static_cast<std::shared_ptr<quantx::GGUFFile> *>(p);
            });
            py::array arr(py::dtype("u1"),
                          {py::ssize_t(f.file->tensors()[index].size)},
                          f.file->tensorData(index), base);
            py::detail::array_proxy(arr.ptr())->flags &=
                ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
            return arr;
          },
          py::arg("index"),
          "Read-only uint8 view of a tensor's bytes (keeps the file mapped).")
      .def(
          "dump",
          [](const PyFile &f, size_t maxArray) {
            return quantx::ggufDump(*f.file, maxArray);
          },
          py::arg("max_array") = 0)
      .def("report",
           [](const PyFile &f) { return quantx::ggufReport(*f.file); });

  py::class_<PyWriter>(m, "GGUFWriter",
                       "Collects metadata and tensors, then write() streams "
                       "them to a temporary file and renames it into place.")
      .def(py::init<>())
      .def(
          "add_metadata",
          [](PyWriter &w, const std::string &key, const py::tuple &value) {
            GGUFValue v = valueFromPy(value);
            guard([&] {
              w.writer.addMetadata(key, std::move(v));
              return 0;
            });
          },
          py::arg("key"), py::arg("value"))
      .def("set_alignment",
           [](PyWriter &w, uint32_t a) {
             guard([&] {
               w.writer.setAlignment(a);
               return 0;
             });
           })
      .def("set_add_quantization_version",
           [](PyWriter &w, bool add) {
             w.writer.setAddQuantizationVersion(add);
           })
      .def(
          "add_tensor",
          [](PyWriter &w, const std::string &name, uint32_t type,
             std::vector<uint64_t> dims, const py::buffer &data) {
            py::buffer_info buf = data.request();
            bool contiguous = true;
            py::ssize_t expect = buf.itemsize;
            for (py::ssize_t i = buf.ndim - 1; i >= 0; --i) {
              if (buf.shape[i] != 1 && buf.strides[i] != expect)
                contiguous = false;
              expect *= buf.shape[i];
            }
            if (!contiguous)
              throw py::value_error("add_tensor: data must be C-contiguous");
            uint64_t size = uint64_t(buf.size) * uint64_t(buf.itemsize);
            guard([&] {
              w.writer.addTensor(name, type, std::move(dims), buf.ptr, size);
              return 0;
            });
            w.keep.append(data);
          },
          py::arg("name"), py::arg("type"), py::arg("dims"), py::arg("data"),
          "dims innermost first; data: the tensor's bytes (kept referenced "
          "until the writer is dropped).")
      .def(
          "add_packed_tensor",
          [](PyWriter &w, const std::string &name, const py::array &levelsIn,
             const FloatArray &scales, const std::optional<FloatArray> &offsets,
             const std::string &typeName, int64_t groupSize,
             const std::string &form) {
            quantx::GGUFPackInput in;
            py::array levels;
            auto type = packInput(levelsIn, levels, scales, offsets, typeName,
                                  groupSize, form, in);
            try {
              quantx::GGUFPackInput none; // checks that the type has a
              quantx::packGGUFBlocks(type, none, nullptr); // conversion
            } catch (const std::invalid_argument &e) {
              throw py::value_error(e.what());
            }
            if (in.cols % 32 != 0)
              throw py::value_error(name + ": rows of " +
                                    std::to_string(in.cols) +
                                    " elements are not a multiple of 32");
            guard([&] {
              w.writer.addTensor(
                  name, uint32_t(type), {uint64_t(in.cols), uint64_t(in.rows)},
                  [type, in, name](uint8_t *out) {
                    std::string why = quantx::packGGUFBlocks(type, in, out);
                    if (!why.empty())
                      throw GGUFError(name + ": " + why);
                  });
              return 0;
            });
            w.keep.append(levels);
            w.keep.append(scales);
            if (offsets)
              w.keep.append(*offsets);
          },
          py::arg("name"), py::arg("levels"), py::arg("scales"),
          py::arg("offsets"), py::arg("type"), py::arg("group_size"),
          py::arg("form") = "zero_point",
          "Adds a tensor that write() packs from levels like gguf_pack, one "
          "tensor ahead of the writing; a conversion that is not exact "
          "makes write() raise ValueError (no file is left).")
      .def_property_readonly(
          "file_size", [](const PyWriter &w) { return w.writer.fileSize(); })
      .def(
          "write",
          [](const PyWriter &w, const std::string &path) {
            py::gil_scoped_release release;
            guard([&] {
              w.writer.write(path);
              return 0;
            });
          },
          py::arg("path"), "Atomic: temporary file, fsync, rename.")
      .def("to_bytes", [](const PyWriter &w) {
        std::string out;
        guard([&] {
          w.writer.writeTo([&](const void *p, size_t n) {
            out.append(static_cast<const char *>(p), n);
          });
          return 0;
        });
        return py::bytes(out);
      });

  m.def(
      "gguf_pack",
      [](const py::array &levelsIn, const FloatArray &scales,
         const std::optional<FloatArray> &offsets, const std::string &typeName,
         int64_t groupSize, const std::string &form) -> py::tuple {
        quantx::GGUFPackInput in;
        py::array levels;
        auto type = packInput(levelsIn, levels, scales, offsets, typeName,
                              groupSize, form, in);
        if (in.cols % 32 != 0)
          return py::make_tuple(py::none(),
                                "rows of " + std::to_string(in.cols) +
                                    " elements are not a multiple of 32");
        size_t rowBytes = quantx::ggufRowSize(type, in.cols);
        py::array_t<uint8_t> out({py::ssize_t(in.rows), py::ssize_t(rowBytes)});
        std::string why;
        uint8_t *dst = out.mutable_data();
        try {
          py::gil_scoped_release release;
          why = quantx::packGGUFBlocks(type, in, dst);
        } catch (const std::invalid_argument &e) {
          throw py::value_error(e.what());
        }
        if (!why.empty())
          return py::make_tuple(py::none(), why);
        return py::make_tuple(out, py::none());
      },
      py::arg("levels"), py::arg("scales"), py::arg("offsets"), py::arg("type"),
      py::arg("group_size"), py::arg("form") = "zero_point",
      "Lossless layout conversion of levels (rows, cols) with per-group "
      "scales and zero points (form='zero_point': x = s*(q - z)) or mins "
      "(form='add_min': x = s*q + m) into GGUF blocks. Returns (blocks, None) "
      "or (None, reason) when the values are not exactly the GGUF type's.");
}
