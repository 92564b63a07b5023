//===- GGUFCodecs.cpp - GGUF codec dispatch, validation, threading --------===//
//
// Type table, argument checks and the multi-row entry points; the per-type
// kernels live in GGUFLegacy.cpp and GGUFKQuants.cpp.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/GGUFCodecs.h"

#include "GGUFKernels.h"
#include "quantx/Quant/Parallel.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace quantx {

const GGUFType kGGUFTypes[13] = {
    GGUFType::F32,  GGUFType::F16,  GGUFType::Q4_0, GGUFType::Q4_1,
    GGUFType::Q5_0, GGUFType::Q5_1, GGUFType::Q8_0, GGUFType::Q2_K,
    GGUFType::Q3_K, GGUFType::Q4_K, GGUFType::Q5_K, GGUFType::Q6_K,
    GGUFType::BF16};

namespace {

const GGUFTypeInfo kInfos[] = {
    {GGUFType::F32, "f32", 1, 4, false},
    {GGUFType::F16, "f16", 1, 2, false},
    {GGUFType::Q4_0, "q4_0", 32, 18, true},
    {GGUFType::Q4_1, "q4_1", 32, 20, true},
    {GGUFType::Q5_0, "q5_0", 32, 22, true},
    {GGUFType::Q5_1, "q5_1", 32, 24, true},
    {GGUFType::Q8_0, "q8_0", 32, 34, false},
    {GGUFType::Q2_K, "q2_K", 256, 84, true},
    {GGUFType::Q3_K, "q3_K", 256, 110, true},
    {GGUFType::Q4_K, "q4_K", 256, 144, true},
    {GGUFType::Q5_K, "q5_K", 256, 176, true},
    {GGUFType::Q6_K, "q6_K", 256, 210, true},
    {GGUFType::BF16, "bf16", 1, 2, false},
};

const GGUFTypeInfo *findInfo(GGUFType type) {
  for (const GGUFTypeInfo &info : kInfos)
    if (info.type == type)
      return &info;
  return nullptr;
}

/// Checks `n` against the block size and returns the type's info.
const GGUFTypeInfo &checkRow(const char *what, GGUFType type, int64_t n) {
  const GGUFTypeInfo &info = ggufTypeInfo(type);
  if (n < 0)
    throw std::invalid_argument(std::string(what) + "(" + info.name +
                                "): negative element count " +
                                std::to_string(n));
  if (n % info.blockSize != 0)
    throw std::invalid_argument(
        std::string(what) + "(" + info.name + "): " + std::to_string(n) +
        " elements is not a multiple of the block size " +
        std::to_string(info.blockSize));
  return info;
}

void checkPointers(const char *what, const GGUFTypeInfo &info, int64_t n,
                   const void *a, const void *b) {
  if (n > 0 && (!a || !b))
    throw std::invalid_argument(std::string(what) + "(" + info.name +
                                "): null data pointer");
}

void quantizeUnchecked(GGUFType type, const float *x, uint8_t *out, int64_t n,
                       const float *imatrix) {
  using namespace gguf;
  switch (type) {
  case GGUFType::F32:
    return quantizeRowF32(x, out, n);
  case GGUFType::F16:
    return quantizeRowF16(x, out, n);
  case GGUFType::BF16:
    return quantizeRowBF16(x, out, n);
  case GGUFType::Q4_0:
    return quantizeRowQ4_0(x, out, n, imatrix);
  case GGUFType::Q4_1:
    return quantizeRowQ4_1(x, out, n, imatrix);
  case GGUFType::Q5_0:
    return quantizeRowQ5_0(x, out, n, imatrix);
  case GGUFType::Q5_1:
    return quantizeRowQ5_1(x, out, n, imatrix);
  case GGUFType::Q8_0:
    return quantizeRowQ8_0(x, out, n);
  case GGUFType::Q2_K:
    return quantizeRowQ2_K(x, out, n, imatrix);
  case GGUFType::Q3_K:
    return quantizeRowQ3_K(x, out, n, imatrix);
  case GGUFType::Q4_K:
    return quantizeRowQ4_K(x, out, n, imatrix);
  case GGUFType::Q5_K:
    return quantizeRowQ5_K(x, out, n, imatrix);
  case GGUFType::Q6_K:
    return quantizeRowQ6_K(x, out, n, imatrix);
  }
}

void dequantizeUnchecked(GGUFType type, const uint8_t *in, float *y,
                         int64_t n) {
  using namespace gguf;
  switch (type) {
  case GGUFType::F32:
    return dequantizeRowF32(in, y, n);
  case GGUFType::F16:
    return dequantizeRowF16(in, y, n);
  case GGUFType::BF16:
    return dequantizeRowBF16(in, y, n);
  case GGUFType::Q4_0:
    return dequantizeRowQ4_0(in, y, n);
  case GGUFType::Q4_1:
    return dequantizeRowQ4_1(in, y, n);
  case GGUFType::Q5_0:
    return dequantizeRowQ5_0(in, y, n);
  case GGUFType::Q5_1:
    return dequantizeRowQ5_1(in, y, n);
  case GGUFType::Q8_0:
    return dequantizeRowQ8_0(in, y, n);
  case GGUFType::Q2_K:
    return dequantizeRowQ2_K(in, y, n);
  case GGUFType::Q3_K:
    return dequantizeRowQ3_K(in, y, n);
  case GGUFType::Q4_K:
    return dequantizeRowQ4_K(in, y, n);
  case GGUFType::Q5_K:
    return dequantizeRowQ5_K(in, y, n);
  case GGUFType::Q6_K:
    return dequantizeRowQ6_K(in, y, n);
  }
}

/// Rows per parallel chunk so that a chunk holds at least ~64K elements.
int64_t minRowsPerChunk(int64_t nPerRow) {
  return std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(nPerRow, 1));
}

} // namespace

const GGUFTypeInfo &ggufTypeInfo(GGUFType type) {
  if (const GGUFTypeInfo *info = findInfo(type))
    return *info;
  throw std::invalid_argument("unsupported GGUF type id " +
                              std::to_string(uint32_t(type)));
}

std::optional<GGUFType> ggufTypeFromName(const std::string &name) {
  auto lower = [](std::string s) {
    for (char &c : s)
      c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  std::string key = lower(name);
  for (const GGUFTypeInfo &info : kInfos)
    if (lower(info.name) == key)
      return info.type;
  return std::nullopt;
}

GGUFType ggufTypeFromId(uint32_t id) {
  return ggufTypeInfo(GGUFType(id)).type;
}

size_t ggufRowSize(GGUFType type, int64_t n) {
  const GGUFTypeInfo &info = checkRow("ggufRowSize", type, n);
  return size_t(n / info.blockSize) * info.blockBytes;
}

void quantizeRow(GGUFType type, const float *x, void *out, int64_t n,
                 const float *imatrix) {
  const GGUFTypeInfo &info = checkRow("quantizeRow", type, n);
  checkPointers("quantizeRow", info, n, x, out);
  if (n == 0)
    return;
  quantizeUnchecked(type, x, static_cast<uint8_t *>(out), n,
                    info.usesImatrix ? imatrix : nullptr);
}

void dequantizeRow(GGUFType type, const void *in, float *y, int64_t n) {
  const GGUFTypeInfo &info = checkRow("dequantizeRow", type, n);
  checkPointers("dequantizeRow", info, n, in, y);
  if (n == 0)
    return;
  dequantizeUnchecked(type, static_cast<const uint8_t *>(in), y, n);
}

void quantizeRows(GGUFType type, const float *x, void *out, int64_t nRows,
                  int64_t nPerRow, const float *imatrix) {
  const GGUFTypeInfo &info = checkRow("quantizeRows", type, nPerRow);
  if (nRows < 0)
    throw std::invalid_argument(std::string("quantizeRows(") + info.name +
                                "): negative row count " +
                                std::to_string(nRows));
  checkPointers("quantizeRows", info, nRows * nPerRow, x, out);
  if (nRows == 0 || nPerRow == 0)
    return;
  size_t rowBytes = ggufRowSize(type, nPerRow);
  const float *weights = info.usesImatrix ? imatrix : nullptr;
  auto *bytes = static_cast<uint8_t *>(out);
  parallelFor(0, nRows, minRowsPerChunk(nPerRow), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r)
      quantizeUnchecked(type, x + r * nPerRow, bytes + size_t(r) * rowBytes,
                        nPerRow, weights);
  });
}

void dequantizeRows(GGUFType type, const void *in, float *y, int64_t nRows,
                    int64_t nPerRow) {
  const GGUFTypeInfo &info = checkRow("dequantizeRows", type, nPerRow);
  if (nRows < 0)
    throw std::invalid_argument(std::string("dequantizeRows(") + info.name +
                                "): negative row count " +
                                std::to_string(nRows));
  checkPointers("dequantizeRows", info, nRows * nPerRow, in, y);
  if (nRows == 0 || nPerRow == 0)
    return;
  size_t rowBytes = ggufRowSize(type, nPerRow);
  const auto *bytes = static_cast<const uint8_t *>(in);
  parallelFor(0, nRows, minRowsPerChunk(nPerRow), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r)
      dequantizeUnchecked(type, bytes + size_t(r) * rowBytes, y + r * nPerRow,
                          nPerRow);
  });
}

} // namespace quantx
