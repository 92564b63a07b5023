//===- NumericBindings.cpp - Python bindings ------------------------------===//

#include "Bindings.h"

namespace py = pybind11;

void quantx::python::bindNumeric(py::module_ &m) {}
