//===- QuantXBytecode.cpp - Bytecode encoding of quantx types -------------===//
//
// `!quantx.uniform` is written field by field, so that parameter tables that
// are `dense_resource` blobs go through the bytecode's resource section like
// any other attribute (the textual fallback would re-parse resource names and
// lose the blobs). Enum attributes keep the default textual encoding.
//
// Type encoding (version 0):
//   kind:varint(0) storageType:type isSigned:bool storageMin:svarint
//   storageMax:svarint expressedType:type granularity:varint axes:svarint[]
//   blockSizes:svarint[] offsetKind:varint scaleType:type offsetType:type
//   scales:attr? offsets:attr?
//
//===----------------------------------------------------------------------===//

#include "quantx/Dialect/QuantX/IR/QuantX.h"

#include "mlir/Bytecode/BytecodeImplementation.h"

using namespace mlir;
using namespace mlir::quantx;

namespace {
enum class TypeCode : uint64_t { Uniform = 0 };

struct QuantXBytecodeInterface : public BytecodeDialectInterface {
  QuantXBytecodeInterface(Dialect *dialect)
      : BytecodeDialectInterface(dialect) {}

  Type readType(DialectBytecodeReader &reader) const override {
    uint64_t code;
    if (failed(reader.readVarInt(code)))
      return {};
    if (code != uint64_t(TypeCode::Uniform)) {
      reader.emitError() << "unknown quantx type code " << code;
      return {};
    }
    IntegerType storageType;
    FloatType expressedType;
    bool isSigned;
    int64_t storageMin, storageMax;
    uint64_t granularity, offsetKind;
    SmallVector<int64_t> axes, blockSizes;
    Type scaleType, offsetType;
    Attribute scales, offsets;
    if (failed(reader.readType(storageType)) ||
        failed(reader.readBool(isSigned)) ||
        failed(reader.readSignedVarInt(storageMin)) ||
        failed(reader.readSignedVarInt(storageMax)) ||
        failed(reader.readType(expressedType)) ||
        failed(reader.readVarInt(granularity)) ||
        failed(reader.readSignedVarInts(axes)) ||
        failed(reader.readSignedVarInts(blockSizes)) ||
        failed(reader.readVarInt(offsetKind)) ||
        failed(reader.readType(scaleType)) ||
        failed(reader.readType(offsetType)) ||
        failed(reader.readOptionalAttribute(scales)) ||
        failed(reader.readOptionalAttribute(offsets)))
      return {};
    std::optional<Granularity> g = symbolizeGranularity(granularity);
    std::optional<OffsetKind> k = symbolizeOffsetKind(offsetKind);
    if (!g || !k) {
      reader.emitError("invalid quantx.uniform enum value");
      return {};
    }
    return UniformType::getChecked(
        [&]() { return reader.emitError(); }, storageType, isSigned, storageMin,
        storageMax, expressedType, *g, axes, blockSizes, *k, scaleType,
        offsetType, scales, offsets);
  }

  LogicalResult writeType(Type type,
                          DialectBytecodeWriter &writer) const override {
    auto t = dyn_cast<UniformType>(type);
    if (!t)
      return failure();
    writer.writeVarInt(uint64_t(TypeCode::Uniform));
    writer.writeType(t.getStorageType());
    writer.writeOwnedBool(t.getIsSigned());
    writer.writeSignedVarInt(t.getStorageMin());
    writer.writeSignedVarInt(t.getStorageMax());
    writer.writeType(t.getExpressedType());
    writer.writeVarInt(uint64_t(t.getGranularity()));
    writer.writeSignedVarInts(t.getAxes());
    writer.writeSignedVarInts(t.getBlockSizes());
    writer.writeVarInt(uint64_t(t.getOffsetKind()));
    writer.writeType(t.getScaleType());
    writer.writeType(t.getOffsetType());
    writer.writeOptionalAttribute(t.getScales());
    writer.writeOptionalAttribute(t.getOffsets());
    return success();
  }
};
} // namespace

void QuantXDialect::registerBytecodeInterface() {
  addInterfaces<QuantXBytecodeInterface>();
}
