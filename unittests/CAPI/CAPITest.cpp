//===- CAPITest.cpp - Tests of the C API's JIT ----------------------------===//
//
// Compiles small modules through include/quantx-c/QuantX.h, calls them on
// caller buffers and checks results against values computed here, and
// checks that every misuse yields an error object with a clear message.
//
//===----------------------------------------------------------------------===//

#include "quantx-c/QuantX.h"

#include "gtest/gtest.h"

#include <cstring>
#include <string>
#include <vector>

extern "C" int quantxTestFromC(void);

namespace {

const char *kModule = R"mlir(
!u8 = !quantx.uniform<u8:f32, scale = 0.5, zero_point = 128>
func.func @roundtrip(%x: tensor<2x3xf32>) -> (tensor<2x3x!u8>, tensor<2x3xf32>) {
  %q = quantx.quantize %x : tensor<2x3xf32> -> tensor<2x3x!u8>
  %d = quantx.dequantize %q : tensor<2x3x!u8> -> tensor<2x3xf32>
  return %q, %d : tensor<2x3x!u8>, tensor<2x3xf32>
}
func.func @add(%a: tensor<4xi32>, %b: tensor<4xi32>) -> tensor<4xi32> {
  %s = arith.addi %a, %b : tensor<4xi32>
  return %s : tensor<4xi32>
}
func.func @identity(%a: tensor<2x2xf64>) -> tensor<2x2xf64> {
  return %a : tensor<2x2xf64>
}
func.func @constant() -> tensor<3xi64> {
  %c = arith.constant dense<[7, -8, 9]> : tensor<3xi64>
  return %c : tensor<3xi64>
}
func.func @dynamic(%x: tensor<?xf32>) -> tensor<?xf32> {
  return %x : tensor<?xf32>
}
func.func private @internal(%x: tensor<4xi32>) -> tensor<4xi32> {
  return %x : tensor<4xi32>
}
)mlir";

/// Takes the message of an error and releases it ("" for success).
std::string take(quantx_error_t error) {
  if (!error)
    return "";
  std::string message = quantxErrorGetMessage(error);
  quantxErrorDestroy(error);
  return message;
}

class CAPITest : public ::testing::Test {
protected:
  void SetUp() override {
    ctx = quantxContextCreate();
    ASSERT_EQ(take(quantxModuleParse(ctx, kModule, std::strlen(kModule), "test",
                                     &module)),
              "");
    ASSERT_EQ(take(quantxExecutableCreate(module, nullptr, &exe)), "");
  }
  void TearDown() override {
    quantxExecutableDestroy(exe);
    quantxModuleDestroy(module);
    quantxContextDestroy(ctx);
  }
  quantx_function_t lookup(const char *name) {
    quantx_function_t fn = nullptr;
    EXPECT_EQ(take(quantxExecutableLookupFunction(exe, name, &fn)), "");
    return fn;
  }

  quantx_context_t ctx = nullptr;
  quantx_module_t module = nullptr;
  quantx_executable_t exe = nullptr;
};

TEST_F(CAPITest, ListsPublicFunctionsInOrder) {
  ASSERT_EQ(quantxExecutableGetNumFunctions(exe), 5u);
  const char *names[] = {"roundtrip", "add", "identity", "constant", "dynamic"};
  for (size_t i = 0; i < 5; ++i)
    EXPECT_STREQ(quantxExecutableGetFunctionName(exe, i), names[i]);
  EXPECT_EQ(quantxExecutableGetFunctionName(exe, 5), nullptr);
}

TEST_F(CAPITest, ReportsSignatures) {
  quantx_function_t fn = lookup("roundtrip");
  ASSERT_NE(fn, nullptr);
  EXPECT_EQ(quantxFunctionGetNumArguments(fn), 1u);
  EXPECT_EQ(quantxFunctionGetNumResults(fn), 2u);
  quantx_tensor_info_t info;
  ASSERT_EQ(take(quantxFunctionGetArgument(fn, 0, &info)), "");
  EXPECT_EQ(info.element_type, QUANTX_ELEMENT_TYPE_F32);
  ASSERT_EQ(info.rank, 2u);
  EXPECT_EQ(info.shape[0], 2);
  EXPECT_EQ(info.shape[1], 3);
  EXPECT_STREQ(info.type_name, "tensor<2x3xf32>");
  ASSERT_EQ(take(quantxFunctionGetResult(fn, 0, &info)), "");
  EXPECT_EQ(info.element_type, QUANTX_ELEMENT_TYPE_U8);
  EXPECT_NE(take(quantxFunctionGetResult(fn, 2, &info)).find("has 2 results"),
            std::string::npos);
  // One handle per function.
  EXPECT_EQ(lookup("roundtrip"), fn);
}

TEST_F(CAPITest, InvokesWithNewlyOwnedResults) {
  quantx_function_t fn = lookup("roundtrip");
  float x[6] = {0.25f, 0.75f, -1.25f, 1000.0f, -1000.0f, 3.1f};
  int64_t shape[2] = {2, 3};
  quantx_buffer_view_t arg = {QUANTX_ELEMENT_TYPE_F32, 2, shape, nullptr, x};
  quantx_buffer_t results[2];
  ASSERT_EQ(take(quantxFunctionInvoke(fn, &arg, 1, results, 2)), "");
  ASSERT_EQ(quantxBufferGetElementType(results[0]), QUANTX_ELEMENT_TYPE_U8);
  ASSERT_EQ(quantxBufferGetRank(results[0]), 2u);
  EXPECT_EQ(quantxBufferGetShape(results[0])[1], 3);
  ASSERT_EQ(quantxBufferGetByteSize(results[0]), 6u);
  auto *q = static_cast<uint8_t *>(quantxBufferGetData(results[0]));
  EXPECT_EQ(std::vector<uint8_t>(q, q + 6),
            (std::vector<uint8_t>{128, 130, 126, 255, 0, 134}));
  ASSERT_EQ(quantxBufferGetByteSize(results[1]), 24u);
  auto *d = static_cast<float *>(quantxBufferGetData(results[1]));
  EXPECT_EQ(std::vector<float>(d, d + 6),
            (std::vector<float>{0, 1, -1, 63.5f, -64, 3}));
  quantxBufferDestroy(results[0]);
  quantxBufferDestroy(results[1]);
}

TEST_F(CAPITest, NeverWritesArguments) {
  quantx_function_t fn = lookup("add");
  int32_t a[4] = {1, 2, 3, 4}, b[4] = {10, 20, 30, 40};
  int64_t shape[1] = {4};
  quantx_buffer_view_t args[2] = {
      {QUANTX_ELEMENT_TYPE_I32, 1, shape, nullptr, a},
      {QUANTX_ELEMENT_TYPE_I32, 1, shape, nullptr, b}};
  quantx_buffer_t sum;
  ASSERT_EQ(take(quantxFunctionInvoke(fn, args, 2, &sum, 1)), "");
  auto *s = static_cast<int32_t *>(quantxBufferGetData(sum));
  EXPECT_EQ(std::vector<int32_t>(s, s + 4),
            (std::vector<int32_t>{11, 22, 33, 44}));
  EXPECT_EQ(std::vector<int32_t>(a, a + 4), (std::vector<int32_t>{1, 2, 3, 4}));
  quantxBufferDestroy(sum);
}

TEST_F(CAPITest, CopiesStridedArgumentsAndAliasedResults) {
  quantx_function_t fn = lookup("identity");
  // The transpose of a 2x2 row-major matrix: strides {1, 2}.
  double m[4] = {1, 2, 3, 4};
  int64_t shape[2] = {2, 2}, strides[2] = {1, 2};
  quantx_buffer_view_t arg = {QUANTX_ELEMENT_TYPE_F64, 2, shape, strides, m};
  quantx_buffer_t out;
  ASSERT_EQ(take(quantxFunctionInvoke(fn, &arg, 1, &out, 1)), "");
  auto *o = static_cast<double *>(quantxBufferGetData(out));
  EXPECT_EQ(std::vector<double>(o, o + 4), (std::vector<double>{1, 3, 2, 4}));
  EXPECT_NE(static_cast<void *>(o), static_cast<void *>(m));
  quantxBufferDestroy(out);
}

TEST_F(CAPITest, ConstantResultsSurviveRepeatedCalls) {
  quantx_function_t fn = lookup("constant");
  for (int k = 0; k < 3; ++k) {
    quantx_buffer_t out;
    ASSERT_EQ(take(quantxFunctionInvoke(fn, nullptr, 0, &out, 1)), "");
    auto *o = static_cast<int64_t *>(quantxBufferGetData(out));
    EXPECT_EQ(std::vector<int64_t>(o, o + 3), (std::vector<int64_t>{7, -8, 9}));
    quantxBufferDestroy(out);
  }
}

TEST_F(CAPITest, Benchmarks) {
  quantx_function_t fn = lookup("add");
  int32_t a[4] = {1, 2, 3, 4};
  int64_t shape[1] = {4};
  quantx_buffer_view_t args[2] = {
      {QUANTX_ELEMENT_TYPE_I32, 1, shape, nullptr, a},
      {QUANTX_ELEMENT_TYPE_I32, 1, shape, nullptr, a}};
  double seconds[5] = {-1, -1, -1, -1, -1};
  ASSERT_EQ(take(quantxFunctionBenchmark(fn, args, 2, 2, 5, seconds)), "");
  for (double s : seconds)
    EXPECT_GE(s, 0.0);
}

TEST_F(CAPITest, RejectsMisuseWithClearErrors) {
  quantx_function_t fn = nullptr;
  std::string e = take(quantxExecutableLookupFunction(exe, "nope", &fn));
  EXPECT_NE(e.find("no public function 'nope'"), std::string::npos) << e;
  EXPECT_NE(e.find("available: roundtrip add"), std::string::npos) << e;
  EXPECT_EQ(fn, nullptr);
  e = take(quantxExecutableLookupFunction(exe, "internal", &fn));
  EXPECT_NE(e.find("no public function 'internal'"), std::string::npos) << e;
  e = take(quantxExecutableLookupFunction(exe, "dynamic", &fn));
  EXPECT_NE(e.find("argument #0 has type tensor<?xf32>: only ranked tensors "
                   "of static shape"),
            std::string::npos)
      << e;

  fn = lookup("add");
  int32_t a[6] = {0};
  float f[4] = {0};
  int64_t shape4[1] = {4}, shape6[1] = {6}, shape22[2] = {2, 2};
  quantx_buffer_t out = nullptr;
  quantx_buffer_view_t good = {QUANTX_ELEMENT_TYPE_I32, 1, shape4, nullptr, a};
  e = take(quantxFunctionInvoke(fn, &good, 1, &out, 1));
  EXPECT_NE(e.find("function 'add' takes 2 arguments, 1 given"),
            std::string::npos)
      << e;
  quantx_buffer_view_t dtype[2] = {
      good, {QUANTX_ELEMENT_TYPE_F32, 1, shape4, nullptr, f}};
  e = take(quantxFunctionInvoke(fn, dtype, 2, &out, 1));
  EXPECT_NE(e.find("argument #1 of 'add' (tensor<4xi32>): element type f32 "
                   "does not match i32"),
            std::string::npos)
      << e;
  quantx_buffer_view_t shape[2] = {
      {QUANTX_ELEMENT_TYPE_I32, 1, shape6, nullptr, a}, good};
  e = take(quantxFunctionInvoke(fn, shape, 2, &out, 1));
  EXPECT_NE(e.find("argument #0 of 'add' (tensor<4xi32>): shape [6] does not "
                   "match [4]"),
            std::string::npos)
      << e;
  quantx_buffer_view_t rank[2] = {
      good, {QUANTX_ELEMENT_TYPE_I32, 2, shape22, nullptr, a}};
  e = take(quantxFunctionInvoke(fn, rank, 2, &out, 1));
  EXPECT_NE(e.find("shape [2, 2] does not match [4]"), std::string::npos) << e;
  quantx_buffer_view_t null[2] = {
      good, {QUANTX_ELEMENT_TYPE_I32, 1, shape4, nullptr, nullptr}};
  e = take(quantxFunctionInvoke(fn, null, 2, &out, 1));
  EXPECT_NE(e.find("null data"), std::string::npos) << e;
  quantx_buffer_view_t pair[2] = {good, good};
  e = take(quantxFunctionInvoke(fn, pair, 2, &out, 2));
  EXPECT_NE(e.find("returns 1 results, room for 2 given"), std::string::npos)
      << e;
  quantx_buffer_view_t unknown[2] = {
      good, {quantx_element_type_t(99), 1, shape4, nullptr, a}};
  e = take(quantxFunctionInvoke(fn, unknown, 2, &out, 1));
  EXPECT_NE(e.find("unknown element type 99"), std::string::npos) << e;
  EXPECT_EQ(out, nullptr);
}

TEST(CAPICompileTest, ReportsLoweringAndPipelineErrors) {
  quantx_context_t ctx = quantxContextCreate();
  const char *text = R"mlir(
func.func @conv(%x: tensor<2x4xi8>, %w: tensor<4x4xi8>) -> tensor<2x4xf32> {
  %a = quantx.scast %x : tensor<2x4xi8> -> tensor<2x4x!quantx.uniform<i8:f32, scale = 1.0>>
  %q = quantx.scast %w : tensor<4x4xi8> -> tensor<4x4x!quantx.uniform<i8:f32, blocks = {1 : 2}, scales = dense<[[1.0, 2.0]]> : tensor<1x2xf32>>>
  %y = quantx.matmul %a, %q {transpose_rhs} : tensor<2x4x!quantx.uniform<i8:f32, scale = 1.0>>, tensor<4x4x!quantx.uniform<i8:f32, blocks = {1 : 2}, scales = dense<[[1.0, 2.0]]> : tensor<1x2xf32>>> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
})mlir";
  quantx_module_t module = nullptr;
  ASSERT_EQ(
      take(quantxModuleParse(ctx, text, std::strlen(text), "conv", &module)),
      "");
  quantx_executable_t exe = nullptr;
  std::string e = take(quantxExecutableCreate(module, nullptr, &exe));
  EXPECT_NE(e.find("lowering failed"), std::string::npos) << e;
  EXPECT_NE(e.find("quantx.matmul"), std::string::npos) << e;
  EXPECT_EQ(exe, nullptr);
  e = take(quantxExecutableCreate(module, "no-such-pass", &exe));
  EXPECT_NE(e.find("invalid pass pipeline 'no-such-pass'"), std::string::npos)
      << e;
  // A pipeline that does not reach the LLVM dialect.
  e = take(quantxExecutableCreate(module, "canonicalize", &exe));
  EXPECT_NE(e.find("JIT compilation failed"), std::string::npos) << e;
  // The module is untouched by failed compilations.
  char *printed = nullptr;
  ASSERT_EQ(take(quantxModulePrint(module, 0, &printed)), "");
  EXPECT_NE(std::string(printed).find("quantx.matmul"), std::string::npos);
  quantxStringDestroy(printed);
  quantxModuleDestroy(module);
  quantxContextDestroy(ctx);
}

TEST(CAPIFromCTest, RunsTheDocumentedFlow) { EXPECT_EQ(quantxTestFromC(), 0); }

} // namespace
