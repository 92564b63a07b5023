//===- QuantXTypesTest.cpp - C++ API of !quantx.uniform -------------------===//

#include "quantx/Conversion/QuantInterop/QuantInterop.h"
#include "quantx/Dialect/QuantX/IR/QuantX.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::quantx;

namespace {
class QuantXTypesTest : public ::testing::Test {
protected:
  QuantXTypesTest() { ctx.loadDialect<QuantXDialect, quant::QuantDialect>(); }
  Type parse(StringRef text) { return parseType(text, &ctx); }
  MLIRContext ctx;
};
} // namespace

TEST_F(QuantXTypesTest, BuildersAndAccessors) {
  auto f32 = Float32Type::get(&ctx);
  UniformType t = getUniformType(&ctx, 4, /*isSigned=*/true, f32,
                                 OffsetKind::none, Granularity::per_block,
                                 {0, 1}, {1, 128}, Float16Type::get(&ctx));
  EXPECT_EQ(t.getStorageWidth(), 4u);
  EXPECT_EQ(t.getStorageMin(), -8);
  EXPECT_EQ(t.getStorageMax(), 7);
  EXPECT_TRUE(t.isSymmetric());
  EXPECT_TRUE(t.isPerBlock());
  EXPECT_FALSE(t.hasStaticParams());
  EXPECT_FALSE(t.isNarrowRange());
  EXPECT_TRUE(t.getScaleType().isF16());
  // The same type parsed from text is the same uniqued object.
  EXPECT_EQ(t, parse("!quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 128}, "
                     "scale_type = f16>"));

  UniformType narrow = getUniformType(&ctx, 8, true, f32, OffsetKind::none,
                                      Granularity::per_tensor, {}, {}, {}, {},
                                      /*narrowRange=*/true);
  EXPECT_TRUE(narrow.isNarrowRange());
  EXPECT_EQ(narrow.getStorageMin(), -127);
  EXPECT_EQ(narrow, parse("!quantx.uniform<i8<-127:127>:f32>"));

  UniformType asym =
      getUniformType(&ctx, 8, false, f32, OffsetKind::zero_point);
  EXPECT_EQ(asym.getStorageMin(), 0);
  EXPECT_EQ(asym.getStorageMax(), 255);
  EXPECT_TRUE(asym.getOffsetType().isSignlessInteger(32));
}

TEST_F(QuantXTypesTest, ParamShape) {
  auto perBlock = cast<UniformType>(parse(
      "!quantx.uniform<u4:f32, blocks = {1 : 128}, offset = zero_point>"));
  auto shape = perBlock.getParamShape({4096, 4000});
  ASSERT_TRUE(succeeded(shape));
  // 4000 / 128 = 31.25: the last, partial block counts.
  EXPECT_EQ(*shape, (SmallVector<int64_t>{1, 32}));
  auto rows = cast<UniformType>(
      parse("!quantx.uniform<u4:f32, blocks = {0 : 1, 1 : 32}>"));
  EXPECT_EQ(*rows.getParamShape({8, ShapedType::kDynamic}),
            (SmallVector<int64_t>{8, ShapedType::kDynamic}));
  auto perAxis = cast<UniformType>(parse("!quantx.uniform<i8:f32, axis = 2>"));
  EXPECT_EQ(*perAxis.getParamShape({2, 3, 5}), (SmallVector<int64_t>{5}));
  EXPECT_TRUE(failed(perAxis.getParamShape({2, 3})));
  auto perTensor = cast<UniformType>(parse("!quantx.uniform<i8:f32>"));
  EXPECT_TRUE(perTensor.getParamShape({7, 7})->empty());
}

TEST_F(QuantXTypesTest, GGUFEncodingsAreExactAndDistinct) {
  auto f32 = Float32Type::get(&ctx);
  std::vector<GGUFType> quantized = {
      GGUFType::q8_0, GGUFType::q4_0, GGUFType::q4_1, GGUFType::q5_0,
      GGUFType::q5_1, GGUFType::q2_k, GGUFType::q3_k, GGUFType::q4_k,
      GGUFType::q5_k, GGUFType::q6_k};
  for (int64_t rank : {1, 2, 3}) {
    for (GGUFType g : quantized) {
      UniformType t = getGGUFUniformType(g, f32, rank);
      ASSERT_TRUE(t) << stringifyGGUFType(g).str();
      std::optional<GGUFType> back = getGGUFTypeFor(t, rank);
      ASSERT_TRUE(back.has_value());
      EXPECT_EQ(*back, g);
    }
  }
  EXPECT_FALSE(getGGUFUniformType(GGUFType::f16, f32, 2));
  // Q4_0: signed 4-bit, blocks of 32 along rows, fp16 scales, no offset.
  EXPECT_EQ(getGGUFUniformType(GGUFType::q4_0, f32, 2),
            parse("!quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 32}, "
                  "scale_type = f16>"));
  // Q4_K: unsigned 4-bit, 32-element sub-blocks with 6-bit scales and mins
  // quantized per 256-element super-block with fp16 d and dmin.
  EXPECT_EQ(getGGUFUniformType(GGUFType::q4_k, f32, 2),
            parse("!quantx.uniform<u4:f32, blocks = {0 : 1, 1 : 32}, "
                  "offset = sub_min, scale_type = !quantx.uniform<u6:f32, "
                  "blocks = {0 : 1, 1 : 8}, scale_type = f16>, offset_type = "
                  "!quantx.uniform<u6:f32, blocks = {0 : 1, 1 : 8}, "
                  "scale_type = f16>>"));
  // A group-64 4-bit type is no GGUF type.
  EXPECT_FALSE(getGGUFTypeFor(
      cast<UniformType>(parse("!quantx.uniform<i4:f32, blocks = {0 : 1, 1 : "
                              "64}, scale_type = f16>")),
      2));
}

TEST_F(QuantXTypesTest, UpstreamInteropRoundTrips) {
  for (StringRef text :
       {"!quant.uniform<i8<-8:7>:f32, 9.987200e-01:127>",
        "!quant.uniform<u8:f32, 2.0e+2>", "!quant.uniform<ui8:f32, 1.0>",
        "!quant.uniform<si8:f32, 1.0>", "!quant.uniform<u16:bf16, 0.5:3>",
        "!quant.uniform<u8:f32:1, {2.0e+2:-120,0.99872:127}>",
        "!quant.uniform<i8:f32:1, {2.0e+2,0.99872}>",
        "!quant.uniform<u8:f32:{0:1, 1:2}, {{2.0:120,3.0:127}, {4.0,5.0}}>"}) {
    Type upstream = parse(text);
    ASSERT_TRUE(upstream) << text.str();
    std::string error;
    Type ours = convertQuantTypeToQuantX(upstream, error);
    ASSERT_TRUE(ours) << text.str() << ": " << error;
    EXPECT_TRUE(isa<UniformType>(ours));
    Type back = convertQuantXTypeToQuant(ours, error);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(back, upstream) << text.str();
  }
  std::string error;
  Type dynamic = parse("!quantx.uniform<i8:f32>");
  EXPECT_FALSE(convertQuantXTypeToQuant(dynamic, error));
  EXPECT_NE(error.find("dynamic"), std::string::npos);
}

// Invariants that the parser can never violate are still checked when a
// type is built through the C++ API.
TEST_F(QuantXTypesTest, ApiOnlyDiagnostics) {
  std::vector<std::string> messages;
  ScopedDiagnosticHandler capture(&ctx, [&](Diagnostic &diag) {
    messages.push_back(diag.str());
    return success();
  });
  auto emit = [&]() { return emitError(UnknownLoc::get(&ctx)); };
  auto f32 = Float32Type::get(&ctx);
  auto none = NoneType::get(&ctx);
  auto build = [&](IntegerType storage, bool isSigned, Granularity g,
                   ArrayRef<int64_t> axes, ArrayRef<int64_t> blocks) {
    return UniformType::getChecked(emit, storage, isSigned, 0, 15, f32, g, axes,
                                   blocks, OffsetKind::none, f32, none,
                                   Attribute(), Attribute());
  };
  auto ui4 = IntegerType::get(&ctx, 4, IntegerType::Unsigned);
  auto i4 = IntegerType::get(&ctx, 4);
  EXPECT_FALSE(build(ui4, /*isSigned=*/true, Granularity::per_tensor, {}, {}));
  EXPECT_FALSE(build(i4, false, Granularity::per_tensor, {0}, {}));
  EXPECT_FALSE(build(i4, false, Granularity::per_axis, {0, 1}, {}));
  EXPECT_FALSE(build(i4, false, Granularity::per_block, {0, 1}, {4}));
  EXPECT_TRUE(build(i4, false, Granularity::per_block, {0, 1}, {4, 4}));
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_NE(messages[0].find("signedness flag contradicts storage type 'ui4'"),
            std::string::npos);
  EXPECT_NE(messages[1].find("per-tensor type cannot have axes"),
            std::string::npos);
  EXPECT_NE(messages[2].find("per-axis type needs exactly one axis"),
            std::string::npos);
  EXPECT_NE(messages[3].find("per-block type needs one block size per axis"),
            std::string::npos);
}
