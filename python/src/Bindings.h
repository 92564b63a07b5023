//===- Bindings.h - Pieces of the quantx._core extension --------*- C++ -*-===//
//
// The extension is assembled from one bind function per area of the numeric
// core, each defined in its own file so the areas stay independent.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_PYTHON_BINDINGS_H
#define QUANTX_PYTHON_BINDINGS_H

#include <pybind11/pybind11.h>

namespace quantx::python {

/// Scalar semantics, quantization parameters, observers, RTN.
void bindNumeric(pybind11::module_ &m);
/// GGUF block codecs.
void bindGGUF(pybind11::module_ &m);
/// GGUF files (reader, writer, dump, report) and lossless packing.
void bindGGUFFile(pybind11::module_ &m);
/// GPTQ.
void bindGPTQ(pybind11::module_ &m);
/// AWQ.
void bindAWQ(pybind11::module_ &m);
/// Packer of weight-only matmul weights.
void bindWeightOnly(pybind11::module_ &m);

} // namespace quantx::python

#endif // QUANTX_PYTHON_BINDINGS_H
