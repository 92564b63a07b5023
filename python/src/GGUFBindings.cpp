//===- GGUFBindings.cpp - Python bindings ------------------------------===//

#include "Bindings.h"

namespace py = pybind11;

void quantx::python::bindGGUF(py::module_ &m) {}
