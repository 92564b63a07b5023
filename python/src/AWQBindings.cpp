//===- AWQBindings.cpp - Python bindings ------------------------------===//

#include "Bindings.h"

namespace py = pybind11;

void quantx::python::bindAWQ(py::module_ &m) {}
