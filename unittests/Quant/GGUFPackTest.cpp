//===- GGUFPackTest.cpp - Tests of the lossless GGUF packer ---------------===//
//
// packGGUFBlocks: exact block bytes for hand-built inputs, agreement of the
// codecs' dequantization with quantx's values on random inputs, and the
// reasons it gives when a tensor is not exactly a GGUF type.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/GGUFPack.h"

#include "quantx/Quant/Float16.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

using namespace quantx;

namespace {

uint16_t fp16At(const uint8_t *p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return h;
}

GGUFPackInput input(int64_t rows, int64_t cols, int64_t group,
                    const std::vector<int32_t> &q, const std::vector<float> &s,
                    const std::vector<float> *o = nullptr,
                    GGUFLevelForm form = GGUFLevelForm::ZeroPoint) {
  GGUFPackInput in;
  in.rows = rows;
  in.cols = cols;
  in.groupSize = group;
  in.levels = q.data();
  in.scales = s.data();
  in.offsets = o ? o->data() : nullptr;
  in.form = form;
  return in;
}

TEST(GGUFPack, Q4_0BlockBytes) {
  std::vector<int32_t> q(32);
  for (int j = 0; j < 32; ++j)
    q[j] = j % 16 - 8; // -8..7, twice
  std::vector<float> s = {0.5f};
  std::vector<uint8_t> out(18);
  ASSERT_EQ(packGGUFBlocks(GGUFType::Q4_0, input(1, 32, 32, q, s), out.data()),
            "");
  EXPECT_EQ(fp16At(out.data()), 0x3800); // 0.5
  // Byte j: element j (+8) in the low nibble, element j + 16 in the high.
  for (int j = 0; j < 16; ++j)
    EXPECT_EQ(out[2 + j], uint8_t((j % 16) | ((j % 16) << 4))) << j;
}

TEST(GGUFPack, Q5_0HighBits) {
  std::vector<int32_t> q(32, -16); // stored 0
  q[3] = 15;                       // stored 31: high bit 3
  q[20] = 0;                       // stored 16: high bit 20, low nibble 0
  std::vector<float> s = {1.0f};
  std::vector<uint8_t> out(22);
  ASSERT_EQ(packGGUFBlocks(GGUFType::Q5_0, input(1, 32, 0, q, s), out.data()),
            "");
  uint32_t qh;
  std::memcpy(&qh, out.data() + 2, 4);
  EXPECT_EQ(qh, (1u << 3) | (1u << 20));
  EXPECT_EQ(out[6 + 3], 0x0F);
  EXPECT_EQ(out[6 + 4], 0x00);
}

TEST(GGUFPack, RandomInputsDequantizeToQuantxValues) {
  std::mt19937 rng(42);
  const int64_t rows = 7, cols = 256;
  struct Case {
    GGUFType type;
    int lo, hi;
    float zero;
    int64_t group;
    GGUFLevelForm form;
  } cases[] = {
      {GGUFType::Q4_0, -8, 7, 0, 32, GGUFLevelForm::ZeroPoint},
      {GGUFType::Q4_0, 0, 15, 8, 128, GGUFLevelForm::ZeroPoint},
      {GGUFType::Q5_0, -16, 15, 0, 64, GGUFLevelForm::ZeroPoint},
      {GGUFType::Q8_0, 0, 255, 128, 256, GGUFLevelForm::ZeroPoint},
      {GGUFType::Q4_1, 0, 15, 0, 32, GGUFLevelForm::AddMin},
      {GGUFType::Q5_1, 0, 31, 0, 64, GGUFLevelForm::AddMin},
      {GGUFType::Q4_1, 0, 15, 4, 32, GGUFLevelForm::ZeroPoint},
  };
  for (const Case &c : cases) {
    std::uniform_int_distribution<int> lv(c.lo, c.hi);
    std::uniform_real_distribution<float> sc(1e-3f, 1.0f), mn(-1.0f, 0.0f);
    int64_t groups = cols / c.group;
    std::vector<int32_t> q(rows * cols);
    for (auto &v : q)
      v = lv(rng);
    std::vector<float> s(rows * groups), o(rows * groups);
    // fp16 scales (and mins); for Q4_1 from a zero point of 4, -s * 4 is
    // an fp16 value too (a power-of-two multiple).
    for (auto &v : s)
      v = roundToFp16(sc(rng));
    for (auto &v : o)
      v = c.form == GGUFLevelForm::AddMin ? roundToFp16(mn(rng)) : c.zero;
    GGUFPackInput in = input(rows, cols, c.group, q, s, &o, c.form);
    std::vector<uint8_t> out(rows * ggufRowSize(c.type, cols));
    ASSERT_EQ(packGGUFBlocks(c.type, in, out.data()), "")
        << ggufTypeInfo(c.type).name;
    std::vector<float> y(rows * cols);
    dequantizeRows(c.type, out.data(), y.data(), rows, cols);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < cols; ++k) {
        int64_t p = r * groups + k / c.group;
        ASSERT_EQ(y[r * cols + k],
                  ggufPackValue(c.form, q[r * cols + k], s[p], o[p]))
            << ggufTypeInfo(c.type).name << " " << r << "," << k;
      }
  }
}

TEST(GGUFPack, ReasonsWhenNotExact) {
  std::vector<int32_t> q(64, 0);
  std::vector<float> s = {0.5f, 0.5f};
  std::vector<uint8_t> out(64 * 4);
  // Level outside the range.
  q[40] = 8;
  EXPECT_NE(packGGUFBlocks(GGUFType::Q4_0, input(1, 64, 32, q, s), out.data())
                .find("level 8 at row 0, column 40 is outside q4_0's range"),
            std::string::npos);
  q[40] = 0;
  // A scale that is not an fp16 value.
  s[1] = 0.1f;
  EXPECT_NE(packGGUFBlocks(GGUFType::Q8_0, input(1, 64, 32, q, s), out.data())
                .find("scale of row 0, group 1"),
            std::string::npos);
  s[1] = 0.5f;
  // Groups that are not whole blocks.
  std::vector<float> s4(4, 0.5f);
  EXPECT_NE(packGGUFBlocks(GGUFType::Q4_0, input(1, 64, 16, q, s4), out.data())
                .find("do not split into blocks of 32"),
            std::string::npos);
  // A zero point whose min is not an fp16 value: 0.5 * 2049 has 12
  // significant bits (fp16 holds 11).
  std::vector<float> zodd = {2049.0f, 0.0f};
  EXPECT_NE(
      packGGUFBlocks(GGUFType::Q4_1, input(1, 64, 32, q, s, &zodd), out.data())
          .find("min -scale * zero point"),
      std::string::npos);
  // Q8_0 has no min.
  std::vector<float> m = {0.25f, 0.0f};
  EXPECT_NE(packGGUFBlocks(GGUFType::Q8_0,
                           input(1, 64, 32, q, s, &m, GGUFLevelForm::AddMin),
                           out.data())
                .find("is not 0"),
            std::string::npos);
  EXPECT_THROW(
      packGGUFBlocks(GGUFType::Q4_K, input(1, 64, 32, q, s), out.data()),
      std::invalid_argument);
}

} // namespace

// Narrow level arrays (int8, uint8, int16) give the bytes and reasons of the
// same levels as int32.
TEST(GGUFPack, NarrowLevelTypesMatchInt32) {
  const int64_t rows = 9, cols = 128;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> lv(0, 15);
  std::vector<int32_t> q(rows * cols);
  for (int32_t &v : q)
    v = lv(rng);
  std::vector<float> s(rows * 4), z(rows * 4, 8.0f);
  for (float &v : s)
    v = fp16ToFloat(floatToFp16(0.01f + 0.001f * float(rng() % 100)));
  std::vector<int8_t> q8(q.begin(), q.end());
  std::vector<uint8_t> qu8(q.begin(), q.end());
  std::vector<int16_t> q16(q.begin(), q.end());
  for (GGUFType type : {GGUFType::Q4_0, GGUFType::Q5_0, GGUFType::Q8_0}) {
    size_t bytes = rows * ggufRowSize(type, cols);
    std::vector<uint8_t> want(bytes), got(bytes);
    GGUFPackInput in = input(rows, cols, 32, q, s, &z);
    ASSERT_EQ(packGGUFBlocks(type, in, want.data()), "");
    const void *narrow[] = {q8.data(), qu8.data(), q16.data()};
    GGUFLevelType kinds[] = {GGUFLevelType::Int8, GGUFLevelType::UInt8,
                             GGUFLevelType::Int16};
    for (int k = 0; k < 3; ++k) {
      GGUFPackInput n = in;
      n.levels = narrow[k];
      n.levelType = kinds[k];
      std::fill(got.begin(), got.end(), 0);
      ASSERT_EQ(packGGUFBlocks(type, n, got.data()), "") << k;
      EXPECT_EQ(got, want) << k;
    }
  }
  // Out of Q4_0's range with zero point 8: level 16 at row 4, column 77.
  q[4 * cols + 77] = 16;
  q8[4 * cols + 77] = 16;
  std::vector<uint8_t> out(rows * ggufRowSize(GGUFType::Q4_0, cols));
  GGUFPackInput in = input(rows, cols, 32, q, s, &z);
  std::string why32 = packGGUFBlocks(GGUFType::Q4_0, in, out.data());
  in.levels = q8.data();
  in.levelType = GGUFLevelType::Int8;
  EXPECT_EQ(packGGUFBlocks(GGUFType::Q4_0, in, out.data()), why32);
  EXPECT_NE(why32.find("row 4, column 77"), std::string::npos) << why32;
}
