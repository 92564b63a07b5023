//===- GPTQBindings.cpp - Python bindings ------------------------------===//

#include "Bindings.h"

namespace py = pybind11;

void quantx::python::bindGPTQ(py::module_ &m) {}
