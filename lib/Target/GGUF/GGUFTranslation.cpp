//===- GGUFTranslation.cpp - MLIR <-> GGUF translations
//--------------------===//
//
// Converts between the MLIR form of a GGUF file (a module with a
// `quantx.gguf.metadata` dictionary and one `arith.constant` per tensor) and
// the GGUF container written by quantx::GGUFWriter / read by
// quantx::GGUFFile. Float tensors can be requantized on the way out with the
// GGUF codecs, reporting the added error per tensor. This file is compiled
// with exceptions: the numeric core reports errors by throwing, and every
// exception is caught here and turned into an MLIR diagnostic.
//
//===----------------------------------------------------------------------===//

#include "quantx/Target/GGUF/GGUF.h"

#include "quantx/Dialect/QuantX/IR/QuantX.h"
#include "quantx/Quant/Float16.h"
#include "quantx/Quant/GGUFCodecs.h"
#include "quantx/Quant/GGUFFile.h"
#include "quantx/Quant/GGUFPack.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/Tools/mlir-translate/Translation.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <cmath>
#include <deque>
#include <map>

namespace mlir::quantx {

namespace {

using ::quantx::GGMLTypeTraits;
using ::quantx::GGUFValue;
using ::quantx::GGUFValueType;

constexpr StringLiteral kMetadataAttr = "quantx.gguf.metadata";
constexpr StringLiteral kNameAttr = "quantx.gguf.name";
constexpr StringLiteral kTypeAttr = "quantx.gguf.type";
constexpr StringLiteral kShapeAttr = "quantx.gguf.shape";
constexpr StringLiteral kQuantVersionKey = "general.quantization_version";

//===----------------------------------------------------------------------===//
// Metadata: attributes <-> GGUF values
//===----------------------------------------------------------------------===//

/// The GGUF scalar type of an integer type, or nullopt.
std::optional<GGUFValueType> integerValueType(IntegerType type) {
  bool isUnsigned = type.isUnsigned();
  switch (type.getWidth()) {
  case 1:
    if (type.isSignless())
      return GGUFValueType::Bool;
    return std::nullopt;
  case 8:
    return isUnsigned ? GGUFValueType::UInt8 : GGUFValueType::Int8;
  case 16:
    return isUnsigned ? GGUFValueType::UInt16 : GGUFValueType::Int16;
  case 32:
    return isUnsigned ? GGUFValueType::UInt32 : GGUFValueType::Int32;
  case 64:
    return isUnsigned ? GGUFValueType::UInt64 : GGUFValueType::Int64;
  default:
    return std::nullopt;
  }
}

std::optional<GGUFValueType> scalarValueType(Type type) {
  if (auto it = dyn_cast<IntegerType>(type))
    return integerValueType(it);
  if (type.isF32())
    return GGUFValueType::Float32;
  if (type.isF64())
    return GGUFValueType::Float64;
  return std::nullopt;
}

Type scalarMLIRType(GGUFValueType t, MLIRContext *ctx) {
  auto integer = [&](unsigned w, bool isUnsigned) -> Type {
    return IntegerType::get(
        ctx, w, isUnsigned ? IntegerType::Unsigned : IntegerType::Signless);
  };
  switch (t) {
  case GGUFValueType::UInt8:
    return integer(8, true);
  case GGUFValueType::Int8:
    return integer(8, false);
  case GGUFValueType::UInt16:
    return integer(16, true);
  case GGUFValueType::Int16:
    return integer(16, false);
  case GGUFValueType::UInt32:
    return integer(32, true);
  case GGUFValueType::Int32:
    return integer(32, false);
  case GGUFValueType::UInt64:
    return integer(64, true);
  case GGUFValueType::Int64:
    return integer(64, false);
  case GGUFValueType::Bool:
    return integer(1, false);
  case GGUFValueType::Float32:
    return Float32Type::get(ctx);
  case GGUFValueType::Float64:
    return Float64Type::get(ctx);
  default:
    return {};
  }
}

template <typename T> std::string toStr(const T &v) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << v;
  return s;
}

GGUFValue scalarValue(GGUFValueType t, uint64_t bits) {
  GGUFValue v;
  v.type = t;
  v.bits = bits;
  return v;
}

/// Converts an attribute of the MLIR form to a GGUF value; emits an error
/// naming `key` and returns failure for attributes the form does not define.
FailureOr<GGUFValue> toValue(Attribute attr, StringRef key, Operation *op) {
  auto fail = [&](const Twine &msg) -> FailureOr<GGUFValue> {
    return op->emitError() << "metadata '" << key << "': " << msg;
  };
  if (auto s = dyn_cast<StringAttr>(attr))
    return GGUFValue::string(s.getValue().str());
  if (auto i = dyn_cast<IntegerAttr>(attr)) {
    auto it = dyn_cast<IntegerType>(i.getType());
    std::optional<GGUFValueType> t =
        it ? integerValueType(it) : std::optional<GGUFValueType>();
    if (!t)
      return fail("integer type must be i1, i8..i64 or ui8..ui64, got '" +
                  toStr(i.getType()) + "'");
    return scalarValue(*t, i.getValue().getZExtValue());
  }
  if (auto f = dyn_cast<FloatAttr>(attr)) {
    std::optional<GGUFValueType> t = scalarValueType(f.getType());
    if (!t)
      return fail("float type must be f32 or f64, got '" + toStr(f.getType()) +
                  "'");
    return scalarValue(*t, f.getValue().bitcastToAPInt().getZExtValue());
  }
  if (auto dense = dyn_cast<DenseIntOrFPElementsAttr>(attr)) {
    ShapedType st = dense.getType();
    std::optional<GGUFValueType> t = scalarValueType(st.getElementType());
    if (st.getRank() != 1 || !t)
      return fail("a dense array must be 1-D of i1, i8..i64, ui8..ui64, f32 "
                  "or f64, got '" +
                  toStr(st) + "'");
    std::vector<GGUFValue> elements;
    elements.reserve(st.getNumElements());
    if (isa<FloatType>(st.getElementType())) {
      for (const APFloat &v : dense.getValues<APFloat>())
        elements.push_back(scalarValue(*t, v.bitcastToAPInt().getZExtValue()));
    } else {
      for (const APInt &v : dense.getValues<APInt>())
        elements.push_back(scalarValue(*t, v.getZExtValue()));
    }
    return GGUFValue::array(*t, std::move(elements));
  }
  if (auto array = dyn_cast<ArrayAttr>(attr)) {
    // [] is an empty string array; [unit] an empty array of arrays.
    if (array.empty())
      return GGUFValue::array(GGUFValueType::String, {});
    if (array.size() == 1 && isa<UnitAttr>(array[0]))
      return GGUFValue::array(GGUFValueType::Array, {});
    std::vector<GGUFValue> elements;
    for (Attribute e : array) {
      FailureOr<GGUFValue> v = toValue(e, key, op);
      if (failed(v))
        return failure();
      elements.push_back(std::move(*v));
    }
    GGUFValueType t = elements[0].type;
    for (const GGUFValue &e : elements)
      if (e.type != t)
        return fail("array elements must all have one GGUF type, found " +
                    Twine(::quantx::ggufValueTypeName(t)) + " and " +
                    ::quantx::ggufValueTypeName(e.type));
    return GGUFValue::array(t, std::move(elements));
  }
  return fail("unsupported attribute " + toStr(attr) +
              " (expected a string, integer, float, bool, dense array or "
              "array)");
}

Attribute toAttr(const GGUFValue &v, MLIRContext *ctx) {
  Builder b(ctx);
  switch (v.type) {
  case GGUFValueType::String:
    return b.getStringAttr(v.str);
  case GGUFValueType::Bool:
    return b.getBoolAttr(v.bits != 0);
  case GGUFValueType::Float32:
    return FloatAttr::get(b.getF32Type(),
                          APFloat(APFloat::IEEEsingle(), APInt(32, v.bits)));
  case GGUFValueType::Float64:
    return FloatAttr::get(b.getF64Type(),
                          APFloat(APFloat::IEEEdouble(), APInt(64, v.bits)));
  case GGUFValueType::Array: {
    if (v.elementType == GGUFValueType::String) {
      SmallVector<Attribute> strs;
      strs.reserve(v.elements.size());
      for (const GGUFValue &e : v.elements)
        strs.push_back(b.getStringAttr(e.str));
      return b.getArrayAttr(strs);
    }
    if (v.elementType == GGUFValueType::Array) {
      if (v.elements.empty())
        return b.getArrayAttr({UnitAttr::get(ctx)});
      SmallVector<Attribute> arrays;
      for (const GGUFValue &e : v.elements)
        arrays.push_back(toAttr(e, ctx));
      return b.getArrayAttr(arrays);
    }
    Type et = scalarMLIRType(v.elementType, ctx);
    auto type = RankedTensorType::get({int64_t(v.scalars.size())}, et);
    if (v.elementType == GGUFValueType::Bool) {
      SmallVector<bool> bits;
      for (uint64_t b : v.scalars)
        bits.push_back(b != 0);
      return DenseElementsAttr::get(type, bits);
    }
    if (auto ft = dyn_cast<FloatType>(et)) {
      SmallVector<APFloat> vals;
      for (uint64_t b : v.scalars)
        vals.push_back(
            APFloat(ft.getFloatSemantics(), APInt(ft.getWidth(), b)));
      return DenseElementsAttr::get(type, vals);
    }
    SmallVector<APInt> vals;
    unsigned w = et.getIntOrFloatBitWidth();
    for (uint64_t b : v.scalars)
      vals.push_back(APInt(w, b));
    return DenseElementsAttr::get(type, vals);
  }
  default: {
    Type t = scalarMLIRType(v.type, ctx);
    return IntegerAttr::get(t, APInt(t.getIntOrFloatBitWidth(), v.bits));
  }
  }
}

//===----------------------------------------------------------------------===//
// Export
//===----------------------------------------------------------------------===//

/// The natural GGUF type of a float element type, if any.
std::optional<uint32_t> floatTypeId(Type t) {
  if (t.isF32())
    return 0;
  if (t.isF16())
    return 1;
  if (t.isBF16())
    return 30;
  return std::nullopt;
}

std::string typeName(uint32_t id) {
  if (auto t = ::quantx::ggmlTypeTraits(id))
    return t->name;
  return "type " + std::to_string(id);
}

/// Reads a `quantx.gguf.type` attribute: a #quantx.gguf<...> or, for ggml
/// types the dialect does not name, the ggml id as an integer.
FailureOr<std::optional<uint32_t>> readTypeAttr(Operation *op) {
  Attribute attr = op->getAttr(kTypeAttr);
  if (!attr)
    return std::optional<uint32_t>();
  uint32_t id;
  if (auto g = dyn_cast<GGUFTypeAttr>(attr)) {
    id = uint32_t(g.getValue());
  } else if (auto i = dyn_cast<IntegerAttr>(attr)) {
    id = uint32_t(i.getValue().getZExtValue());
    if (i.getValue().getActiveBits() > 32 || !::quantx::ggmlTypeTraits(id))
      return op->emitError() << "'" << kTypeAttr << "' " << attr
                             << " is not a ggml tensor type id";
  } else {
    return op->emitError() << "'" << kTypeAttr
                           << "' must be a #quantx.gguf<...> attribute or a "
                              "ggml type id, got "
                           << attr;
  }
  return std::optional<uint32_t>(id);
}

/// Raw bytes of a constant's value: the blob of a dense_resource or the
/// buffer of a non-splat dense attribute. Fails (without a diagnostic) for
/// splats, which have no full buffer.
FailureOr<ArrayRef<char>> rawBytes(ElementsAttr value, Operation *op) {
  if (auto res = dyn_cast<DenseResourceElementsAttr>(value)) {
    AsmResourceBlob *blob = res.getRawHandle().getBlob();
    if (!blob)
      return op->emitError()
             << "resource '" << res.getRawHandle().getKey() << "' has no data";
    return blob->getData();
  }
  if (auto dense = dyn_cast<DenseIntOrFPElementsAttr>(value)) {
    if (dense.isSplat() && dense.getNumElements() != 1)
      return failure();
    return dense.getRawData();
  }
  return op->emitError() << "unsupported constant value kind";
}

/// Converts `n` elements of a float constant to float32.
void toFloat32(Type et, ArrayRef<char> raw, bool splat, size_t n, float *out) {
  size_t width = et.isF32() ? 4 : 2;
  for (size_t i = 0; i < n; ++i) {
    const char *p = raw.data() + (splat ? 0 : i * width);
    if (et.isF32()) {
      std::memcpy(&out[i], p, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, p, 2);
      out[i] = et.isF16() ? ::quantx::fp16ToFloat(h) : ::quantx::bf16ToFloat(h);
    }
  }
}

struct ErrorStats {
  double rmse = 0, maxAbs = 0, rms = 0;
};

ErrorStats measureError(const float *x, const float *y, size_t n) {
  ErrorStats s;
  double se = 0, sx = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = double(y[i]) - double(x[i]);
    se += d * d;
    sx += double(x[i]) * double(x[i]);
    s.maxAbs = std::max(s.maxAbs, std::fabs(d));
  }
  if (n) {
    s.rmse = std::sqrt(se / double(n));
    s.rms = std::sqrt(sx / double(n));
  }
  return s;
}

/// Reads `n` float parameters of an unnamed arith.constant operand.
FailureOr<std::vector<float>> readParams(Value v, size_t n, StringRef role,
                                         StringRef name, Operation *user) {
  auto cst = v.getDefiningOp<arith::ConstantOp>();
  auto value = cst ? dyn_cast<ElementsAttr>(cst.getValue()) : ElementsAttr();
  if (!value)
    return user->emitError() << "tensor '" << name << "': the " << role
                             << " must be an arith.constant in the module";
  Type et = value.getElementType();
  if (!et.isF32() && !et.isF16() && !et.isBF16())
    return user->emitError() << "tensor '" << name << "': the " << role
                             << " must hold f32, f16 or bf16 values";
  if (size_t(value.getNumElements()) != n)
    return user->emitError()
           << "tensor '" << name << "': the " << role << " has "
           << value.getNumElements() << " values, expected " << n;
  std::vector<float> out(n);
  bool splat = false;
  ArrayRef<char> raw;
  FailureOr<ArrayRef<char>> bytes = rawBytes(value, cst);
  if (succeeded(bytes)) {
    raw = *bytes;
  } else if (auto dense = dyn_cast<DenseElementsAttr>(value)) {
    splat = true;
    raw = dense.getRawData();
  } else {
    return failure();
  }
  toFloat32(et, raw, splat, n, out.data());
  return out;
}

/// Reads the levels of an integer arith.constant (the storage of a
/// `quantx.scast`): dense integers of any width, or a dense_resource blob
/// with one byte per element (two's complement for signed storage) for
/// storage of up to 8 bits.
FailureOr<std::vector<int32_t>>
readLevels(arith::ConstantOp cst, UniformType type, size_t n, StringRef name) {
  std::vector<int32_t> levels(n);
  auto value = dyn_cast<ElementsAttr>(cst.getValue());
  if (!value || size_t(value.getNumElements()) != n)
    return cst.emitError() << "tensor '" << name << "': expected " << n
                           << " integer levels";
  bool isSigned = type.getIsSigned();
  if (auto ints = dyn_cast<DenseIntElementsAttr>(value)) {
    size_t i = 0;
    for (const APInt &v : ints.getValues<APInt>())
      levels[i++] =
          int32_t(isSigned ? v.getSExtValue() : int64_t(v.getZExtValue()));
    return levels;
  }
  FailureOr<ArrayRef<char>> bytes = rawBytes(value, cst);
  if (failed(bytes))
    return failure();
  if (type.getStorageWidth() > 8 || bytes->size() != n)
    return cst.emitError() << "tensor '" << name << "': a dense_resource of "
                           << "levels must hold one byte per element";
  for (size_t i = 0; i < n; ++i) {
    uint8_t u = uint8_t((*bytes)[i]);
    levels[i] = isSigned ? int32_t(int8_t(u)) : int32_t(u);
  }
  return levels;
}

/// Adds a tensor named on a quantx.dequantize of a quantx.constant whose
/// `!quantx.uniform` type is exactly a GGUF type (getGGUFTypeFor): its
/// levels and scale (and min) operands become GGUF blocks by a layout
/// conversion, without requantization.
LogicalResult addPackedTensor(DequantizeOp deq, const std::string &name,
                              std::optional<uint32_t> requested,
                              ::quantx::GGUFWriter &writer,
                              std::deque<std::vector<uint8_t>> &storage) {
  auto scast = deq.getInput().getDefiningOp<StorageCastOp>();
  auto q = scast ? scast.getInput().getDefiningOp<arith::ConstantOp>()
                 : arith::ConstantOp();
  auto tensorType = dyn_cast<RankedTensorType>(deq.getInput().getType());
  if (!q || !tensorType)
    return deq.emitError() << "tensor '" << name
                           << "': the dequantized value must be a quantx.scast "
                              "of an integer arith.constant in the module";
  auto type = cast<UniformType>(tensorType.getElementType());
  int64_t rank = tensorType.getRank();
  std::optional<GGUFType> gguf = getGGUFTypeFor(type, rank);
  if (!gguf)
    return deq.emitError()
           << "tensor '" << name << "': " << type
           << " is not exactly a GGUF type, so it cannot be exported without "
              "requantization; export its dequantized float values with a "
              "'quantx.gguf.type' to requantize them";
  std::string ggufName = stringifyGGUFType(*gguf).str();
  std::optional<::quantx::GGUFType> codec =
      ::quantx::ggufTypeFromName(ggufName);
  if (!codec || (*codec != ::quantx::GGUFType::Q8_0 &&
                 *codec != ::quantx::GGUFType::Q4_0 &&
                 *codec != ::quantx::GGUFType::Q5_0 &&
                 *codec != ::quantx::GGUFType::Q4_1 &&
                 *codec != ::quantx::GGUFType::Q5_1))
    return deq.emitError() << "tensor '" << name << "': the layout conversion "
                           << "into " << ggufName << " is not implemented "
                           << "(q8_0, q4_0, q5_0, q4_1, q5_1 are)";
  if (requested && *requested != uint32_t(*codec))
    return deq.emitError() << "tensor '" << name << "' is exactly " << ggufName
                           << ", not " << typeName(*requested);
  if (rank < 1 || rank > int64_t(::quantx::kGGUFMaxDims) ||
      !tensorType.hasStaticShape())
    return deq.emitError() << "tensor '" << name
                           << "' must have a static shape of rank 1 to 4";
  int64_t cols = tensorType.getShape().back();
  int64_t rows = cols ? tensorType.getNumElements() / cols : 0;
  size_t n = size_t(rows * cols);
  size_t groups = size_t(rows * ((cols + 31) / 32));
  if (!deq.getScale())
    return deq.emitError() << "tensor '" << name << "' needs a scale operand";
  FailureOr<std::vector<float>> scales =
      readParams(deq.getScale(), groups, "scale", name, deq);
  if (failed(scales))
    return failure();
  std::vector<float> mins;
  bool addMin = type.getOffsetKind() == OffsetKind::add_min;
  if (addMin) {
    if (!deq.getOffset())
      return deq.emitError() << "tensor '" << name << "' needs its mins";
    FailureOr<std::vector<float>> m =
        readParams(deq.getOffset(), groups, "min", name, deq);
    if (failed(m))
      return failure();
    mins = std::move(*m);
  }
  FailureOr<std::vector<int32_t>> levels = readLevels(q, type, n, name);
  if (failed(levels))
    return failure();
  ::quantx::GGUFPackInput in;
  in.rows = rows;
  in.cols = cols;
  in.groupSize = 32;
  in.form = addMin ? ::quantx::GGUFLevelForm::AddMin
                   : ::quantx::GGUFLevelForm::ZeroPoint;
  in.levels = levels->data();
  in.scales = scales->data();
  in.offsets = addMin ? mins.data() : nullptr;
  storage.emplace_back(size_t(rows) * ::quantx::ggufRowSize(*codec, cols));
  std::string why = ::quantx::packGGUFBlocks(*codec, in, storage.back().data());
  if (!why.empty())
    return deq.emitError() << "tensor '" << name << "': " << why;
  std::vector<uint64_t> dims;
  for (int64_t d : llvm::reverse(tensorType.getShape()))
    dims.push_back(uint64_t(d));
  writer.addTensor(name, uint32_t(*codec), dims, storage.back().data(),
                   storage.back().size());
  return success();
}

LogicalResult buildWriter(ModuleOp module, const GGUFExportOptions &options,
                          ::quantx::GGUFWriter &writer,
                          std::shared_ptr<std::vector<std::string>> report,
                          std::deque<std::vector<uint8_t>> *packedStorage) {
  std::optional<GGMLTypeTraits> defaultType;
  if (!options.defaultType.empty()) {
    defaultType = ::quantx::ggmlTypeFromName(options.defaultType);
    if (!defaultType ||
        !::quantx::ggufTypeFromName(options.defaultType).has_value())
      return emitError(module.getLoc())
             << "unknown or unsupported target type '" << options.defaultType
             << "' (quantx quantizes to f32, f16, bf16, q4_0, q4_1, q5_0, "
                "q5_1, q8_0, q2_k..q6_k)";
  }

  // Tensors first: whether one is quantized decides the quantization
  // version entry.
  bool anyQuantized = false;
  for (Operation &op : module.getBody()->getOperations()) {
    // Already-quantized tensors: a named quantx.dequantize of a
    // quantx.constant with its parameters (unnamed constants) as operands.
    if (auto deq = dyn_cast<DequantizeOp>(op)) {
      auto nameAttr = deq->getAttrOfType<StringAttr>(kNameAttr);
      if (!nameAttr)
        return deq.emitError() << "quantx.dequantize has no '" << kNameAttr
                               << "' string attribute";
      FailureOr<std::optional<uint32_t>> requested = readTypeAttr(deq);
      if (failed(requested))
        return failure();
      try {
        if (failed(addPackedTensor(deq, nameAttr.getValue().str(), *requested,
                                   writer, *packedStorage)))
          return failure();
      } catch (const std::exception &e) {
        return deq.emitError()
               << "tensor '" << nameAttr.getValue() << "': " << e.what();
      }
      anyQuantized = true;
      continue;
    }
    if (isa<StorageCastOp>(op) && !op.hasAttr(kNameAttr))
      continue; // levels of a named quantx.dequantize
    auto cst = dyn_cast<arith::ConstantOp>(op);
    if (!cst)
      return op.emitError()
             << "a GGUF module holds only arith.constant tensors, found '"
             << op.getName() << "'";
    auto nameAttr = cst->getAttrOfType<StringAttr>(kNameAttr);
    if (!nameAttr) {
      // Levels or a parameter of a named quantx.dequantize.
      if (llvm::all_of(cst->getUsers(),
                       [](Operation *u) {
                         return isa<DequantizeOp, StorageCastOp>(u);
                       }) &&
          !cst->use_empty())
        continue;
      return cst.emitError()
             << "tensor constant has no '" << kNameAttr << "' string attribute";
    }
    std::string name = nameAttr.getValue().str();
    auto value = dyn_cast<ElementsAttr>(cst.getValue());
    auto valueType = value ? dyn_cast<RankedTensorType>(value.getType())
                           : RankedTensorType();
    if (!valueType)
      return cst.emitError()
             << "tensor '" << name << "' must be a ranked tensor constant";
    FailureOr<std::optional<uint32_t>> typeAttr = readTypeAttr(cst);
    if (failed(typeAttr))
      return failure();
    Type et = valueType.getElementType();
    std::optional<uint32_t> naturalType = floatTypeId(et);

    // Logical shape (outermost first) and data source.
    SmallVector<int64_t> shape;
    bool rawForm = !naturalType;
    if (rawForm) {
      if (!et.isInteger(8) || valueType.getRank() != 1)
        return cst.emitError()
               << "tensor '" << name << "': expected a float (f32, f16, bf16) "
               << "constant or raw bytes (tensor<Nxi8>), got " << valueType;
      if (!*typeAttr)
        return cst.emitError() << "tensor '" << name << "': raw bytes need a '"
                               << kTypeAttr << "' attribute";
      auto shapeAttr = cst->getAttrOfType<DenseI64ArrayAttr>(kShapeAttr);
      if (!shapeAttr)
        return cst.emitError() << "tensor '" << name << "': raw bytes need a '"
                               << kShapeAttr << "' array<i64: ...> attribute";
      shape.assign(shapeAttr.asArrayRef().begin(),
                   shapeAttr.asArrayRef().end());
    } else {
      if (cst->hasAttr(kShapeAttr))
        return cst.emitError() << "tensor '" << name << "': '" << kShapeAttr
                               << "' is only for raw bytes; a float tensor's "
                                  "shape is its type's";
      shape.assign(valueType.getShape().begin(), valueType.getShape().end());
    }
    if (shape.empty() || shape.size() > ::quantx::kGGUFMaxDims)
      return cst.emitError()
             << "tensor '" << name << "' has rank " << shape.size()
             << "; GGUF tensors have rank 1 to " << ::quantx::kGGUFMaxDims;
    std::vector<uint64_t> dims;
    for (int64_t d : llvm::reverse(shape)) {
      if (d < 0)
        return cst.emitError()
               << "tensor '" << name << "' has a negative dimension";
      dims.push_back(uint64_t(d));
    }

    // Target type.
    uint32_t target;
    if (*typeAttr)
      target = **typeAttr;
    else if (defaultType && naturalType && shape.size() >= 2 &&
             dims[0] % uint64_t(defaultType->blockSize) == 0)
      target = defaultType->id;
    else
      target = *naturalType;
    anyQuantized |= ::quantx::ggmlTypeTraits(target)->quantized;

    try {
      if (rawForm || target == *naturalType) {
        FailureOr<ArrayRef<char>> bytes = rawBytes(value, cst);
        if (succeeded(bytes)) {
          uint64_t expected = ::quantx::ggufTensorBytes(target, dims);
          if (bytes->size() != expected)
            return cst.emitError()
                   << "tensor '" << name << "' has " << bytes->size()
                   << " bytes, but a " << typeName(target) << " tensor of "
                   << "shape [" << llvm::make_range(shape.begin(), shape.end())
                   << "] takes " << expected;
          writer.addTensor(name, target, dims, bytes->data(), bytes->size());
          continue;
        }
        // rawBytes failed: a splat (expanded while writing) or a missing
        // resource (already diagnosed).
        auto dense = dyn_cast<DenseElementsAttr>(value);
        if (!dense)
          return failure();
        ArrayRef<char> one = dense.getRawData();
        size_t width = one.size();
        size_t count = size_t(dense.getNumElements());
        if (rawForm && count != ::quantx::ggufTensorBytes(target, dims))
          return cst.emitError()
                 << "tensor '" << name << "' has " << count << " bytes, but a "
                 << typeName(target) << " tensor of shape ["
                 << llvm::make_range(shape.begin(), shape.end()) << "] takes "
                 << ::quantx::ggufTensorBytes(target, dims);
        writer.addTensor(name, target, dims, [one, width, count](uint8_t *out) {
          for (size_t i = 0; i < count; ++i)
            std::memcpy(out + i * width, one.data(), width);
        });
        continue;
      }

      // Requantize a float tensor with the codecs.
      std::optional<::quantx::GGUFType> codec =
          ::quantx::ggufTypeFromName(typeName(target));
      if (!codec)
        return cst.emitError() << "tensor '" << name << "': quantx cannot "
                               << "quantize to " << typeName(target);
      const ::quantx::GGUFTypeInfo &info = ::quantx::ggufTypeInfo(*codec);
      if (dims[0] % uint64_t(info.blockSize) != 0)
        return cst.emitError()
               << "tensor '" << name << "': the innermost dimension " << dims[0]
               << " is not a multiple of " << info.name << "'s block size "
               << info.blockSize;
      bool splat = false;
      ArrayRef<char> src;
      FailureOr<ArrayRef<char>> bytes = rawBytes(value, cst);
      if (succeeded(bytes)) {
        src = *bytes;
      } else if (auto dense = dyn_cast<DenseElementsAttr>(value)) {
        splat = true;
        src = dense.getRawData();
      } else {
        return failure();
      }
      size_t numel = size_t(valueType.getNumElements());
      if (!splat && src.size() != numel * (et.isF32() ? 4 : 2))
        return cst.emitError() << "tensor '" << name << "' has " << src.size()
                               << " bytes of data for " << numel << " elements";
      int64_t perRow = int64_t(dims[0]);
      int64_t rows = perRow ? int64_t(numel) / perRow : 0;
      std::string fromName = typeName(*naturalType);
      writer.addTensor(name, target, dims, [=, codec = *codec](uint8_t *out) {
        std::vector<float> x(numel);
        toFloat32(et, src, splat, numel, x.data());
        ::quantx::quantizeRows(codec, x.data(), out, rows, perRow);
        if (!report)
          return;
        std::vector<float> y(numel);
        ::quantx::dequantizeRows(codec, out, y.data(), rows, perRow);
        ErrorStats s = measureError(x.data(), y.data(), numel);
        std::string line;
        llvm::raw_string_ostream os(line);
        os << name << ": " << fromName << " -> " << info.name
           << llvm::format(", rmse %.6e, max |err| %.6e, relative rmse "
                           "%.6e",
                           s.rmse, s.maxAbs, s.rms ? s.rmse / s.rms : 0.0);
        report->push_back(line);
      });
    } catch (const std::exception &e) {
      return cst.emitError() << "tensor '" << name << "': " << e.what();
    }
  }

  // Metadata in the dictionary's (sorted) order; the quantization version is
  // added at its sorted place so that re-emitting an imported file gives the
  // same bytes.
  std::map<std::string, GGUFValue> entries;
  if (Attribute attr = module->getAttr(kMetadataAttr)) {
    auto dict = dyn_cast<DictionaryAttr>(attr);
    if (!dict)
      return emitError(module.getLoc())
             << "'" << kMetadataAttr << "' must be a dictionary";
    for (NamedAttribute entry : dict) {
      FailureOr<GGUFValue> v =
          toValue(entry.getValue(), entry.getName().getValue(), module);
      if (failed(v))
        return failure();
      entries.emplace(entry.getName().getValue().str(), std::move(*v));
    }
  }
  if (anyQuantized && !entries.count(kQuantVersionKey.str()))
    entries.emplace(kQuantVersionKey.str(), GGUFValue::u32(2));
  writer.setAddQuantizationVersion(false);
  try {
    for (auto &[key, value] : entries)
      writer.addMetadata(key, value);
  } catch (const std::exception &e) {
    return emitError(module.getLoc()) << e.what();
  }
  return success();
}

LogicalResult
runExport(ModuleOp module, const GGUFExportOptions &options,
          llvm::function_ref<void(::quantx::GGUFWriter &)> write) {
  ::quantx::GGUFWriter writer;
  auto report = options.errorReport
                    ? std::make_shared<std::vector<std::string>>()
                    : nullptr;
  // Blocks made from already-quantized tensors, alive until written.
  std::deque<std::vector<uint8_t>> packed;
  if (failed(buildWriter(module, options, writer, report, &packed)))
    return failure();
  try {
    write(writer);
  } catch (const std::exception &e) {
    return emitError(module.getLoc()) << "cannot write GGUF: " << e.what();
  }
  if (report)
    for (const std::string &line : *report)
      *options.errorReport << line << "\n";
  return success();
}

} // namespace

LogicalResult exportGGUF(ModuleOp module, raw_ostream &os,
                         const GGUFExportOptions &options) {
  return runExport(module, options, [&](::quantx::GGUFWriter &writer) {
    writer.writeTo([&](const void *data, size_t size) {
      os.write(static_cast<const char *>(data), size);
    });
    os.flush();
  });
}

LogicalResult exportGGUFToFile(ModuleOp module, StringRef path,
                               const GGUFExportOptions &options) {
  return runExport(module, options, [&](::quantx::GGUFWriter &writer) {
    writer.write(path.str());
  });
}

//===----------------------------------------------------------------------===//
// Import
//===----------------------------------------------------------------------===//

OwningOpRef<ModuleOp> importGGUF(const ::quantx::GGUFFile &file,
                                 MLIRContext *context, Location loc) {
  context->loadDialect<arith::ArithDialect, QuantXDialect>();
  OpBuilder b(context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  SmallVector<NamedAttribute> entries;
  for (const ::quantx::GGUFKeyValue &kv : file.metadata())
    entries.push_back(b.getNamedAttr(kv.key, toAttr(kv.value, context)));
  (*module)->setAttr(kMetadataAttr, b.getDictionaryAttr(entries));

  b.setInsertionPointToEnd(module->getBody());
  std::shared_ptr<const void> keepAlive = file.keepAlive();
  for (size_t i = 0; i < file.tensors().size(); ++i) {
    const ::quantx::GGUFTensorInfo &t = file.tensors()[i];
    SmallVector<int64_t> shape;
    for (uint64_t d : llvm::reverse(t.dims))
      shape.push_back(int64_t(d));
    Type et;
    switch (t.type) {
    case 0:
      et = b.getF32Type();
      break;
    case 1:
      et = b.getF16Type();
      break;
    case 30:
      et = b.getBF16Type();
      break;
    default:
      et = b.getIntegerType(8);
      break;
    }
    bool rawForm = !et.isIntOrFloat() || et.isInteger(8);
    size_t align = rawForm ? 1 : et.getIntOrFloatBitWidth() / 8;
    RankedTensorType type = rawForm
                                ? RankedTensorType::get({int64_t(t.size)}, et)
                                : RankedTensorType::get(shape, et);
    const char *data = reinterpret_cast<const char *>(file.tensorData(i));
    ArrayRef<char> bytes(data, t.size);
    AsmResourceBlob blob =
        (reinterpret_cast<uintptr_t>(data) % align == 0)
            ? UnmanagedAsmResourceBlob::allocateWithAlign(
                  bytes, align,
                  [keepAlive](void *, size_t, size_t) { (void)keepAlive; })
            : HeapAsmResourceBlob::allocateAndCopyWithAlign(bytes, align,
                                                            false);
    auto value = DenseResourceElementsAttr::get(type, t.name, std::move(blob));
    auto cst = arith::ConstantOp::create(b, loc, type, value);
    cst->setAttr(kNameAttr, b.getStringAttr(t.name));
    if (std::optional<GGUFType> g = symbolizeGGUFType(t.type))
      cst->setAttr(kTypeAttr, GGUFTypeAttr::get(context, *g));
    else
      cst->setAttr(kTypeAttr,
                   b.getIntegerAttr(b.getIntegerType(32, false), t.type));
    if (rawForm)
      cst->setAttr(kShapeAttr, b.getDenseI64ArrayAttr(shape));
  }
  return module;
}

OwningOpRef<ModuleOp> importGGUFFile(StringRef path, MLIRContext *context) {
  Location loc = FileLineColLoc::get(context, path, 0, 0);
  try {
    ::quantx::GGUFFile file = ::quantx::GGUFFile::open(path.str());
    return importGGUF(file, context, loc);
  } catch (const std::exception &e) {
    emitError(loc) << e.what();
    return nullptr;
  }
}

//===----------------------------------------------------------------------===//
// Registration
//===----------------------------------------------------------------------===//

namespace {

llvm::cl::opt<std::string> clGGUFType(
    "gguf-type",
    llvm::cl::desc("--quantx-to-gguf: quantize float tensors of rank >= 2 "
                   "without a quantx.gguf.type to this ggml type (q4_0, q8_0, "
                   "q4_K, f16, ...)"),
    llvm::cl::init(""));

llvm::cl::opt<bool> clGGUFErrorReport(
    "gguf-error-report",
    llvm::cl::desc("--quantx-to-gguf: print the error each requantized tensor "
                   "gains to stderr"),
    llvm::cl::init(true));

llvm::cl::opt<unsigned> clGGUFDumpMaxArray(
    "gguf-dump-max-array",
    llvm::cl::desc("--gguf-dump: print at most this many elements of each "
                   "array (0: all)"),
    llvm::cl::init(0));

/// Parses the main input buffer as a GGUF file; emits the reader's error.
/// The file's tensor data stays in the input buffer; the parsed file (and
/// every blob imported from it) keeps the source manager alive.
std::optional<::quantx::GGUFFile>
parseInput(const std::shared_ptr<llvm::SourceMgr> &sourceMgr,
           MLIRContext *context) {
  const llvm::MemoryBuffer *buf =
      sourceMgr->getMemoryBuffer(sourceMgr->getMainFileID());
  try {
    return ::quantx::GGUFFile::parse(buf->getBufferStart(),
                                     buf->getBufferSize(), sourceMgr);
  } catch (const std::exception &e) {
    emitError(FileLineColLoc::get(context, buf->getBufferIdentifier(), 0, 0))
        << e.what();
    return std::nullopt;
  }
}

void registerDialects(DialectRegistry &registry) {
  registry.insert<arith::ArithDialect, QuantXDialect>();
}

} // namespace

void registerGGUFTranslations() {
  // Registering a name twice is fatal; make repeated calls harmless.
  static bool registered = false;
  if (registered)
    return;
  registered = true;

  TranslateFromMLIRRegistration toGGUF(
      "quantx-to-gguf", "Write the MLIR form of a GGUF file as GGUF v3",
      [](ModuleOp module, raw_ostream &os) {
        GGUFExportOptions options;
        options.defaultType = clGGUFType;
        if (clGGUFErrorReport)
          options.errorReport = &llvm::errs();
        return exportGGUF(module, os, options);
      },
      registerDialects);

  TranslateToMLIRRegistration fromGGUF(
      "gguf-to-quantx", "Import a GGUF file as its MLIR form",
      [](const std::shared_ptr<llvm::SourceMgr> &sourceMgr,
         MLIRContext *context) -> OwningOpRef<Operation *> {
        std::optional<::quantx::GGUFFile> file = parseInput(sourceMgr, context);
        if (!file)
          return nullptr;
        const llvm::MemoryBuffer *buf =
            sourceMgr->getMemoryBuffer(sourceMgr->getMainFileID());
        Location loc =
            FileLineColLoc::get(context, buf->getBufferIdentifier(), 0, 0);
        OwningOpRef<ModuleOp> module = importGGUF(*file, context, loc);
        if (!module)
          return nullptr;
        return OwningOpRef<Operation *>(module.release());
      },
      registerDialects, llvm::Align(64));

  TranslateRegistration fromGGUFBytecode(
      "gguf-to-quantx-bytecode",
      "Import a GGUF file as its MLIR form, written as MLIR bytecode (tensor "
      "data stored as raw blobs instead of hex text)",
      [](const std::shared_ptr<llvm::SourceMgr> &sourceMgr, raw_ostream &os,
         MLIRContext *context) -> LogicalResult {
        DialectRegistry registry;
        registerDialects(registry);
        context->appendDialectRegistry(registry);
        std::optional<::quantx::GGUFFile> file = parseInput(sourceMgr, context);
        if (!file)
          return failure();
        const llvm::MemoryBuffer *buf =
            sourceMgr->getMemoryBuffer(sourceMgr->getMainFileID());
        Location loc =
            FileLineColLoc::get(context, buf->getBufferIdentifier(), 0, 0);
        OwningOpRef<ModuleOp> module = importGGUF(*file, context, loc);
        if (!module)
          return failure();
        return writeBytecodeToFile(*module, os);
      });

  TranslateRegistration dump(
      "gguf-dump", "Print the header, metadata and tensor table of a GGUF file",
      [](const std::shared_ptr<llvm::SourceMgr> &sourceMgr, raw_ostream &os,
         MLIRContext *context) -> LogicalResult {
        std::optional<::quantx::GGUFFile> file = parseInput(sourceMgr, context);
        if (!file)
          return failure();
        os << ::quantx::ggufDump(*file, clGGUFDumpMaxArray);
        return success();
      });

  TranslateRegistration report(
      "gguf-report", "Print the per-tensor size and compression of a GGUF file",
      [](const std::shared_ptr<llvm::SourceMgr> &sourceMgr, raw_ostream &os,
         MLIRContext *context) -> LogicalResult {
        std::optional<::quantx::GGUFFile> file = parseInput(sourceMgr, context);
        if (!file)
          return failure();
        os << ::quantx::ggufReport(*file);
        return success();
      });
}

} // namespace mlir::quantx
