//===- CoreModule.cpp - The quantx._core extension module -----------------===//

#include "Bindings.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "QuantX numeric core: observers, RTN, GPTQ, AWQ, GGUF codecs.";
  quantx::python::bindNumeric(m);
  quantx::python::bindGGUF(m);
  quantx::python::bindGGUFFile(m);
  quantx::python::bindGPTQ(m);
  quantx::python::bindAWQ(m);
  quantx::python::bindWeightOnly(m);
}
