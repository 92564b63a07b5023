//===- QuantXTypes.cpp - QuantX types: parsing, printing, verifying -------===//
//
// Implements `!quantx.uniform`: its custom assembly, its invariants, the
// parameter-shape rule shared by every op, and the exact GGUF encodings.
//
//===----------------------------------------------------------------------===//

#include "quantx/Dialect/QuantX/IR/QuantX.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallSet.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::quantx;

#include "quantx/Dialect/QuantX/IR/QuantXEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "quantx/Dialect/QuantX/IR/QuantXAttrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "quantx/Dialect/QuantX/IR/QuantXTypes.cpp.inc"

void QuantXDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "quantx/Dialect/QuantX/IR/QuantXTypes.cpp.inc"
      >();
}

void QuantXDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "quantx/Dialect/QuantX/IR/QuantXAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Storage ranges and defaults
//===----------------------------------------------------------------------===//

static int64_t fullMin(unsigned width, bool isSigned) {
  return isSigned ? -(int64_t(1) << (width - 1)) : 0;
}
static int64_t fullMax(unsigned width, bool isSigned) {
  return isSigned ? (int64_t(1) << (width - 1)) - 1 : (int64_t(1) << width) - 1;
}

int64_t UniformType::getStorageTypeFullMin() const {
  return fullMin(getStorageWidth(), getIsSigned());
}
int64_t UniformType::getStorageTypeFullMax() const {
  return fullMax(getStorageWidth(), getIsSigned());
}

bool UniformType::isNarrowRange() const {
  return getIsSigned() && getStorageMin() == getStorageTypeFullMin() + 1 &&
         getStorageMax() == getStorageTypeFullMax();
}

bool UniformType::hasQuantizedScales() const {
  return isa<UniformType>(getScaleType());
}
bool UniformType::hasQuantizedOffsets() const {
  return isa<UniformType>(getOffsetType());
}

/// The offset type a scheme uses unless told otherwise.
static Type getDefaultOffsetType(MLIRContext *ctx, OffsetKind kind,
                                 Type scaleType) {
  switch (kind) {
  case OffsetKind::none:
    return NoneType::get(ctx);
  case OffsetKind::zero_point:
    return IntegerType::get(ctx, 32);
  case OffsetKind::add_min:
  case OffsetKind::sub_min:
    return scaleType;
  }
  llvm_unreachable("unknown offset kind");
}

FailureOr<SmallVector<int64_t>>
UniformType::getParamShape(ArrayRef<int64_t> shape) const {
  int64_t rank = shape.size();
  for (int64_t axis : getAxes())
    if (axis >= rank)
      return failure();
  switch (getGranularity()) {
  case Granularity::per_tensor:
    return SmallVector<int64_t>{};
  case Granularity::per_axis:
    return SmallVector<int64_t>{shape[getAxes().front()]};
  case Granularity::per_block: {
    SmallVector<int64_t> result(rank, 1);
    for (auto [axis, block] : llvm::zip(getAxes(), getBlockSizes())) {
      int64_t dim = shape[axis];
      result[axis] = ShapedType::isDynamic(dim) ? ShapedType::kDynamic
                                                : (dim + block - 1) / block;
    }
    return result;
  }
  }
  llvm_unreachable("unknown granularity");
}

UniformType UniformType::withoutStaticParams() const {
  OffsetKind kind = getOffsetKind();
  return UniformType::get(getStorageType(), getIsSigned(), getStorageMin(),
                          getStorageMax(), getExpressedType(), getGranularity(),
                          getAxes(), getBlockSizes(), kind, getScaleType(),
                          getOffsetType(), Attribute(), Attribute());
}

UniformType UniformType::withExpressedType(FloatType type) const {
  return UniformType::get(getStorageType(), getIsSigned(), getStorageMin(),
                          getStorageMax(), type, getGranularity(), getAxes(),
                          getBlockSizes(), getOffsetKind(), getScaleType(),
                          getOffsetType(), getScales(), getOffsets());
}

UniformType
mlir::quantx::getUniformType(MLIRContext *ctx, unsigned bits, bool isSigned,
                             FloatType expressedType, OffsetKind offsetKind,
                             Granularity granularity, ArrayRef<int64_t> axes,
                             ArrayRef<int64_t> blockSizes, Type scaleType,
                             Type offsetType, bool narrowRange) {
  if (!scaleType)
    scaleType = Float32Type::get(ctx);
  if (!offsetType)
    offsetType = getDefaultOffsetType(ctx, offsetKind, scaleType);
  int64_t lo = fullMin(bits, isSigned) + (narrowRange ? 1 : 0);
  return UniformType::get(IntegerType::get(ctx, bits), isSigned, lo,
                          fullMax(bits, isSigned), expressedType, granularity,
                          axes, blockSizes, offsetKind, scaleType, offsetType,
                          Attribute(), Attribute());
}

//===----------------------------------------------------------------------===//
// Verification
//===----------------------------------------------------------------------===//

static bool isSupportedExpressedType(Type type) {
  return type.isF16() || type.isBF16() || type.isF32() || type.isF64();
}

/// Checks the shape and values of a static parameter table.
static LogicalResult
verifyStaticTable(function_ref<InFlightDiagnostic()> emitError, Attribute table,
                  StringRef name, Granularity granularity, bool isFloat,
                  bool mustBePositive) {
  if (granularity == Granularity::per_tensor) {
    if (isFloat) {
      auto attr = dyn_cast<FloatAttr>(table);
      if (!attr)
        return emitError() << "per-tensor " << name << " must be a float";
      double v = attr.getValueAsDouble();
      if (mustBePositive && !(std::isfinite(v) && v > 0))
        return emitError() << name << " must be positive and finite, got " << v;
      return success();
    }
    if (!isa<IntegerAttr>(table))
      return emitError() << "per-tensor " << name << " must be an integer";
    return success();
  }
  auto elements = dyn_cast<ElementsAttr>(table);
  if (!elements)
    return emitError() << name << " of a per-axis or per-block type must be "
                       << "an elements attribute";
  Type elementType = elements.getShapedType().getElementType();
  if (isFloat ? !isa<FloatType>(elementType) : !elementType.isInteger())
    return emitError() << name << " must have "
                       << (isFloat ? "float" : "integer") << " elements";
  if (granularity == Granularity::per_axis &&
      elements.getShapedType().getRank() != 1)
    return emitError() << "per-axis " << name << " must be 1-D";
  if (auto dense = dyn_cast<DenseFPElementsAttr>(table);
      dense && mustBePositive) {
    for (APFloat v : dense.getValues<APFloat>()) {
      double d = v.convertToDouble();
      if (!(std::isfinite(d) && d > 0))
        return emitError() << name << " must be positive and finite, got " << d;
    }
  }
  return success();
}

LogicalResult UniformType::verify(
    function_ref<InFlightDiagnostic()> emitError, IntegerType storageType,
    bool isSigned, int64_t storageMin, int64_t storageMax,
    FloatType expressedType, Granularity granularity, ArrayRef<int64_t> axes,
    ArrayRef<int64_t> blockSizes, OffsetKind offsetKind, Type scaleType,
    Type offsetType, Attribute scales, Attribute offsets) {
  unsigned width = storageType.getWidth();
  if (width < 2 || width > 32)
    return emitError() << "storage width must be in [2, 32], got " << width;
  if ((storageType.isSigned() && !isSigned) ||
      (storageType.isUnsigned() && isSigned))
    return emitError() << "signedness flag contradicts storage type "
                       << storageType;
  if (storageMin < fullMin(width, isSigned) ||
      storageMax > fullMax(width, isSigned))
    return emitError() << "storage range [" << storageMin << ", " << storageMax
                       << "] exceeds the range of "
                       << (isSigned ? "signed " : "unsigned ") << width
                       << "-bit storage [" << fullMin(width, isSigned) << ", "
                       << fullMax(width, isSigned) << "]";
  if (storageMin >= storageMax)
    return emitError() << "storage range [" << storageMin << ", " << storageMax
                       << "] is empty or a single value";
  if (!isSupportedExpressedType(expressedType))
    return emitError() << "expressed type must be f16, bf16, f32 or f64, got "
                       << expressedType;

  switch (granularity) {
  case Granularity::per_tensor:
    if (!axes.empty() || !blockSizes.empty())
      return emitError() << "per-tensor type cannot have axes";
    break;
  case Granularity::per_axis:
    if (axes.size() != 1 || !blockSizes.empty())
      return emitError() << "per-axis type needs exactly one axis";
    if (axes[0] < 0)
      return emitError() << "axis must be non-negative, got " << axes[0];
    break;
  case Granularity::per_block: {
    if (axes.size() != blockSizes.size())
      return emitError() << "per-block type needs one block size per axis";
    llvm::SmallSet<int64_t, 4> seen;
    for (auto [axis, block] : llvm::zip(axes, blockSizes)) {
      if (axis < 0)
        return emitError() << "axis must be non-negative, got " << axis;
      if (!seen.insert(axis).second)
        return emitError() << "axis " << axis << " is blocked twice";
      if (block < 1)
        return emitError() << "block size must be positive, got " << block;
    }
    break;
  }
  }

  // Scale and offset element types.
  if (auto nested = dyn_cast<UniformType>(scaleType)) {
    if (nested.hasStaticParams())
      return emitError() << "a quantized scale type must have dynamic "
                         << "parameters";
    if (granularity == Granularity::per_tensor)
      return emitError() << "a per-tensor type cannot have quantized scales";
  } else if (!isa<FloatType>(scaleType) ||
             !isSupportedExpressedType(scaleType)) {
    return emitError() << "scale type must be f16, bf16, f32, f64 or a "
                       << "!quantx.uniform type, got " << scaleType;
  }
  switch (offsetKind) {
  case OffsetKind::none:
    if (!isa<NoneType>(offsetType))
      return emitError() << "a symmetric type cannot have an offset type";
    if (offsets)
      return emitError() << "a symmetric type cannot have offsets";
    break;
  case OffsetKind::zero_point:
    if (!offsetType.isSignlessInteger() ||
        offsetType.getIntOrFloatBitWidth() > 64)
      return emitError() << "zero point type must be a signless integer type, "
                         << "got " << offsetType;
    break;
  case OffsetKind::add_min:
  case OffsetKind::sub_min:
    if (auto nested = dyn_cast<UniformType>(offsetType)) {
      if (nested.hasStaticParams())
        return emitError() << "a quantized offset type must have dynamic "
                           << "parameters";
    } else if (!isSupportedExpressedType(offsetType)) {
      return emitError() << "min type must be a float or !quantx.uniform type, "
                         << "got " << offsetType;
    }
    break;
  }

  // Static parameters.
  if (offsets && !scales)
    return emitError() << "static offsets need static scales";
  if (scales) {
    if (isa<UniformType>(scaleType))
      return emitError() << "static scales cannot be quantized";
    if (offsetKind != OffsetKind::none && !offsets)
      return emitError()
             << "static scales need static offsets for offset kind '"
             << stringifyOffsetKind(offsetKind) << "'";
    if (failed(verifyStaticTable(emitError, scales, "scales", granularity,
                                 /*isFloat=*/true, /*mustBePositive=*/true)))
      return failure();
    if (offsets) {
      bool isFloat = offsetKind != OffsetKind::zero_point;
      if (failed(verifyStaticTable(emitError, offsets, "offsets", granularity,
                                   isFloat, /*mustBePositive=*/false)))
        return failure();
      if (granularity != Granularity::per_tensor &&
          cast<ElementsAttr>(scales).getShapedType().getShape() !=
              cast<ElementsAttr>(offsets).getShapedType().getShape())
        return emitError() << "scales and offsets must have the same shape";
    }
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Parsing and printing
//===----------------------------------------------------------------------===//

/// Parses `iN`, `uN`, `siN` or `uiN`.
static ParseResult parseStorage(AsmParser &parser, IntegerType &type,
                                bool &isSigned) {
  StringRef keyword;
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseKeyword(&keyword))
    return failure();
  IntegerType::SignednessSemantics semantics = IntegerType::Signless;
  StringRef digits;
  if (keyword.consume_front("si")) {
    semantics = IntegerType::Signed;
    isSigned = true;
  } else if (keyword.consume_front("ui")) {
    semantics = IntegerType::Unsigned;
    isSigned = false;
  } else if (keyword.consume_front("i")) {
    isSigned = true;
  } else if (keyword.consume_front("u")) {
    isSigned = false;
  } else {
    return parser.emitError(loc,
                            "expected storage type like i8, u4, si8 or ui8");
  }
  unsigned width;
  if (keyword.getAsInteger(10, width))
    return parser.emitError(loc,
                            "expected storage type like i8, u4, si8 or ui8");
  if (width > 64)
    return parser.emitError(loc, "storage width must be in [2, 32], got ")
           << width;
  type = IntegerType::get(parser.getContext(), width, semantics);
  return success();
}

Type UniformType::parse(AsmParser &parser) {
  MLIRContext *ctx = parser.getContext();
  IntegerType storageType;
  bool isSigned = true;
  if (parser.parseLess() || parseStorage(parser, storageType, isSigned))
    return {};
  unsigned width = storageType.getWidth();
  int64_t storageMin = fullMin(width, isSigned);
  int64_t storageMax = fullMax(width, isSigned);
  if (succeeded(parser.parseOptionalLess())) {
    if (parser.parseInteger(storageMin) || parser.parseColon() ||
        parser.parseInteger(storageMax) || parser.parseGreater())
      return {};
  }
  Type expressed;
  SMLoc expressedLoc;
  if (parser.parseColon() ||
      (expressedLoc = parser.getCurrentLocation(), parser.parseType(expressed)))
    return {};
  auto expressedType = dyn_cast<FloatType>(expressed);
  if (!expressedType) {
    parser.emitError(expressedLoc, "expressed type must be a float type");
    return {};
  }

  Granularity granularity = Granularity::per_tensor;
  SmallVector<int64_t> axes, blockSizes;
  std::optional<OffsetKind> offsetKind;
  Type scaleType, offsetType;
  Attribute scales, offsets;
  llvm::SmallSet<StringRef, 8> seen;
  while (succeeded(parser.parseOptionalComma())) {
    StringRef field;
    SMLoc loc = parser.getCurrentLocation();
    if (parser.parseKeyword(&field) || parser.parseEqual())
      return {};
    if (!seen.insert(field).second) {
      parser.emitError(loc, "field '") << field << "' given twice";
      return {};
    }
    if (field == "axis") {
      int64_t axis;
      if (parser.parseInteger(axis))
        return {};
      granularity = Granularity::per_axis;
      axes.push_back(axis);
    } else if (field == "blocks") {
      granularity = Granularity::per_block;
      if (parser.parseCommaSeparatedList(
              AsmParser::Delimiter::Braces, [&]() -> ParseResult {
                int64_t axis, block;
                if (parser.parseInteger(axis) || parser.parseColon() ||
                    parser.parseInteger(block))
                  return failure();
                axes.push_back(axis);
                blockSizes.push_back(block);
                return success();
              }))
        return {};
    } else if (field == "offset") {
      StringRef kind;
      if (parser.parseKeyword(&kind))
        return {};
      offsetKind = symbolizeOffsetKind(kind);
      if (!offsetKind) {
        parser.emitError(loc, "unknown offset kind '")
            << kind << "', expected none, zero_point, add_min or sub_min";
        return {};
      }
    } else if (field == "scale_type") {
      if (parser.parseType(scaleType))
        return {};
    } else if (field == "offset_type") {
      if (parser.parseType(offsetType))
        return {};
    } else if (field == "scale" || field == "min") {
      double value;
      if (parser.parseFloat(value))
        return {};
      Attribute attr = FloatAttr::get(Float64Type::get(ctx), value);
      if (field == "scale") {
        scales = attr;
      } else {
        offsets = attr;
        if (!offsetKind)
          offsetKind = OffsetKind::add_min;
      }
    } else if (field == "zero_point") {
      int64_t value;
      if (parser.parseInteger(value))
        return {};
      offsets = IntegerAttr::get(IntegerType::get(ctx, 64), value);
      if (!offsetKind)
        offsetKind = OffsetKind::zero_point;
    } else if (field == "scales") {
      if (parser.parseAttribute(scales))
        return {};
    } else if (field == "offsets") {
      if (parser.parseAttribute(offsets))
        return {};
    } else {
      parser.emitError(loc, "unknown field '") << field << "'";
      return {};
    }
  }
  if (parser.parseGreater())
    return {};

  if (!offsetKind) {
    offsetKind = OffsetKind::none;
    if (offsets) // `offsets = ...` without a kind: integer zero points.
      offsetKind = OffsetKind::zero_point;
  }
  if (!scaleType)
    scaleType = Float32Type::get(ctx);
  if (!offsetType)
    offsetType = getDefaultOffsetType(ctx, *offsetKind, scaleType);
  return parser.getChecked<UniformType>(ctx, storageType, isSigned, storageMin,
                                        storageMax, expressedType, granularity,
                                        axes, blockSizes, *offsetKind,
                                        scaleType, offsetType, scales, offsets);
}

void UniformType::print(AsmPrinter &printer) const {
  IntegerType storage = getStorageType();
  printer << '<';
  if (storage.isSigned())
    printer << "si";
  else if (storage.isUnsigned())
    printer << "ui";
  else
    printer << (getIsSigned() ? "i" : "u");
  printer << storage.getWidth();
  if (getStorageMin() != getStorageTypeFullMin() ||
      getStorageMax() != getStorageTypeFullMax())
    printer << '<' << getStorageMin() << ':' << getStorageMax() << '>';
  printer << ':' << getExpressedType();

  switch (getGranularity()) {
  case Granularity::per_tensor:
    break;
  case Granularity::per_axis:
    printer << ", axis = " << getAxes().front();
    break;
  case Granularity::per_block:
    printer << ", blocks = {";
    llvm::interleaveComma(
        llvm::zip(getAxes(), getBlockSizes()), printer, [&](auto pair) {
          printer << std::get<0>(pair) << " : " << std::get<1>(pair);
        });
    printer << '}';
    break;
  }

  MLIRContext *ctx = getContext();
  OffsetKind kind = getOffsetKind();
  bool perTensorStatic = isPerTensor() && getScales();
  // The kind is implied by static per-tensor `zero_point = N` and `min = X`
  // (add_min); print it otherwise.
  bool kindImplied = kind == OffsetKind::none ||
                     (perTensorStatic && (kind == OffsetKind::zero_point ||
                                          kind == OffsetKind::add_min));
  if (!kindImplied)
    printer << ", offset = " << stringifyOffsetKind(kind);
  if (!getScaleType().isF32())
    printer << ", scale_type = " << getScaleType();
  if (getOffsetType() != getDefaultOffsetType(ctx, kind, getScaleType()))
    printer << ", offset_type = " << getOffsetType();

  if (perTensorStatic) {
    printer << ", scale = ";
    printer.printFloat(cast<FloatAttr>(getScales()).getValue());
    if (Attribute offsets = getOffsets()) {
      if (auto zp = dyn_cast<IntegerAttr>(offsets)) {
        printer << ", zero_point = " << zp.getInt();
      } else {
        printer << ", min = ";
        printer.printFloat(cast<FloatAttr>(offsets).getValue());
      }
    }
  } else if (getScales()) {
    printer << ", scales = ";
    printer.printAttribute(getScales());
    if (getOffsets()) {
      printer << ", offsets = ";
      printer.printAttribute(getOffsets());
    }
  }
  printer << '>';
}

//===----------------------------------------------------------------------===//
// GGUF encodings
//===----------------------------------------------------------------------===//

namespace {
/// The parameters of one GGUF block format as a quantx scheme.
struct GGUFScheme {
  unsigned bits;
  bool isSigned;
  int64_t blockSize;
  OffsetKind offsetKind;
  /// Double quantization of the scales (K-quants): bits of each sub-block
  /// scale (0: plain fp16 scales), whether they are signed, and the number of
  /// sub-blocks per 256-element super-block.
  unsigned scaleBits = 0;
  bool scaleSigned = false;
  /// Bits of each quantized sub-block min (0: fp16 mins, or no mins).
  unsigned minBits = 0;
};
} // namespace

static std::optional<GGUFScheme> getGGUFScheme(GGUFType type) {
  switch (type) {
  case GGUFType::f32:
  case GGUFType::f16:
  case GGUFType::bf16:
    return std::nullopt;
  case GGUFType::q8_0:
    return GGUFScheme{8, true, 32, OffsetKind::none};
  case GGUFType::q4_0:
    return GGUFScheme{4, true, 32, OffsetKind::none};
  case GGUFType::q5_0:
    return GGUFScheme{5, true, 32, OffsetKind::none};
  case GGUFType::q4_1:
    return GGUFScheme{4, false, 32, OffsetKind::add_min};
  case GGUFType::q5_1:
    return GGUFScheme{5, false, 32, OffsetKind::add_min};
  case GGUFType::q2_k:
    return GGUFScheme{2, false, 16, OffsetKind::sub_min, 4, false, 4};
  case GGUFType::q3_k:
    return GGUFScheme{3, true, 16, OffsetKind::none, 6, true, 0};
  case GGUFType::q4_k:
    return GGUFScheme{4, false, 32, OffsetKind::sub_min, 6, false, 6};
  case GGUFType::q5_k:
    return GGUFScheme{5, false, 32, OffsetKind::sub_min, 6, false, 6};
  case GGUFType::q6_k:
    return GGUFScheme{6, true, 16, OffsetKind::none, 8, true, 0};
  }
  return std::nullopt;
}

/// Blocks of `block` along the last of `rank` axes, one row per block.
static void rowBlocks(int64_t rank, int64_t block,
                      SmallVectorImpl<int64_t> &axes,
                      SmallVectorImpl<int64_t> &sizes) {
  for (int64_t axis = 0; axis < rank; ++axis) {
    axes.push_back(axis);
    sizes.push_back(axis == rank - 1 ? block : 1);
  }
}

UniformType mlir::quantx::getGGUFUniformType(GGUFType type,
                                             FloatType expressedType,
                                             int64_t rank) {
  std::optional<GGUFScheme> scheme = getGGUFScheme(type);
  if (!scheme || rank < 1)
    return {};
  MLIRContext *ctx = expressedType.getContext();
  Type f16 = Float16Type::get(ctx);
  SmallVector<int64_t> axes, sizes;
  rowBlocks(rank, scheme->blockSize, axes, sizes);
  Type scaleType = f16, offsetType;
  if (scheme->scaleBits) {
    // Sub-block scales quantized per 256-element super-block with an fp16
    // super-scale: blocks of 256 / blockSize along the scale grid's rows.
    SmallVector<int64_t> subAxes, subSizes;
    rowBlocks(rank, 256 / scheme->blockSize, subAxes, subSizes);
    auto f32 = Float32Type::get(ctx);
    scaleType = getUniformType(ctx, scheme->scaleBits, scheme->scaleSigned, f32,
                               OffsetKind::none, Granularity::per_block,
                               subAxes, subSizes, f16);
    if (scheme->minBits)
      offsetType = getUniformType(ctx, scheme->minBits, /*isSigned=*/false, f32,
                                  OffsetKind::none, Granularity::per_block,
                                  subAxes, subSizes, f16);
  } else if (scheme->offsetKind != OffsetKind::none) {
    offsetType = f16;
  }
  return getUniformType(ctx, scheme->bits, scheme->isSigned, expressedType,
                        scheme->offsetKind, Granularity::per_block, axes, sizes,
                        scaleType, offsetType);
}

std::optional<GGUFType> mlir::quantx::getGGUFTypeFor(UniformType type,
                                                     int64_t rank) {
  for (GGUFType candidate :
       {GGUFType::q8_0, GGUFType::q4_0, GGUFType::q4_1, GGUFType::q5_0,
        GGUFType::q5_1, GGUFType::q2_k, GGUFType::q3_k, GGUFType::q4_k,
        GGUFType::q5_k, GGUFType::q6_k}) {
    if (getGGUFUniformType(candidate, type.getExpressedType(), rank) == type)
      return candidate;
  }
  return std::nullopt;
}
