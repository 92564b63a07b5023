//===- GGUFPack.h - Lossless layout conversion into GGUF blocks -*- C++ -*-===//
//
// Converts a tensor that quantx has already quantized (integer levels plus
// per-group scales and zero points or mins, as RTN, GPTQ, AWQ and the
// schemes of Scheme.h produce) into the block bytes of a GGUF type, without
// quantizing anything again. The conversion only applies when the quantized
// values are exactly representable in the GGUF type: groups along the last
// axis whose size is a multiple of the 32-element block, levels inside the
// type's range, scales (and mins) that are exact fp16 values. Every packed
// row is dequantized with ggml's formula and compared bit for bit with
// quantx's dequantized values, so a successful conversion is lossless by
// construction. docs/GGUF.md lists which quantx schemes map to which type.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_QUANT_GGUFPACK_H
#define QUANTX_QUANT_GGUFPACK_H

#include "quantx/Quant/GGUFCodecs.h"

#include <cstdint>
#include <string>

namespace quantx {

/// How quantx maps a level `q` of a group with scale `s` back to a real
/// value.
enum class GGUFLevelForm {
  /// x = s * (q - z), `z` the group's integer zero point (PyTorch, GPTQ,
  /// AWQ, RTN and Scheme.h).
  ZeroPoint,
  /// x = s * q + m, `m` the group's float min (ggml's Q4_1 / Q5_1, the
  /// dialect's `offset = add_min`).
  AddMin,
};

/// Element type of the levels array.
enum class GGUFLevelType { Int32, Int16, Int8, UInt8 };

/// An already-quantized rows x cols matrix (row-major). Group `g` of row `r`
/// covers columns [g * groupSize, (g + 1) * groupSize); its parameters are
/// at index r * numGroups + g, numGroups = ceil(cols / groupSize).
struct GGUFPackInput {
  int64_t rows = 0, cols = 0;
  /// Columns per group; cols (or <= 0) means one group per row.
  int64_t groupSize = 0;
  GGUFLevelForm form = GGUFLevelForm::ZeroPoint;
  /// rows x cols integer levels of type `levelType` (narrow types save
  /// reading 4 bytes per 4-bit level).
  const void *levels = nullptr;
  GGUFLevelType levelType = GGUFLevelType::Int32;
  /// rows x numGroups scales.
  const float *scales = nullptr;
  /// rows x numGroups zero points (integral values) or mins; null: all 0.
  const float *offsets = nullptr;
};

/// Number of groups per row of `in`.
int64_t ggufPackNumGroups(const GGUFPackInput &in);

/// quantx's dequantized value of level `q` with scale `s` and offset `o`
/// under `form`, in float32 as the numeric core computes it.
inline float ggufPackValue(GGUFLevelForm form, int32_t q, float s, float o) {
  return form == GGUFLevelForm::ZeroPoint ? s * (float(q) - o)
                                          : s * float(q) + o;
}

/// Writes `in` as rows of GGUF `type` blocks into `out` (rows *
/// ggufRowSize(type, cols) bytes) when the conversion is exact, and returns
/// an empty string. Otherwise returns why not (the first offending row and
/// group, e.g. "scale of row 3, group 1 (0.1) is not an fp16 value"); `out`
/// is then unspecified. Implemented for Q8_0, Q4_0, Q5_0 (symmetric: levels
/// minus zero point within [-128, 127], [-8, 7], [-16, 15]) and Q4_1, Q5_1
/// (levels within [0, 15], [0, 31]; a zero point converts to the min
/// -s * z when that is an exact fp16 value). Throws std::invalid_argument
/// for other types, null pointers or negative sizes.
std::string packGGUFBlocks(GGUFType type, const GGUFPackInput &in,
                           uint8_t *out);

} // namespace quantx

#endif // QUANTX_QUANT_GGUFPACK_H
