//===- WeightOnlyPackingTest.cpp - Tests of the n8 weight packer ----------===//
//
// Exact expectations for the packed weight-only layout: nibble order, tile
// and group interleaving, padding, offset terms and error reports.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/WeightOnlyPacking.h"

#include "quantx/Quant/Float16.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace quantx;

namespace {

WeightOnlyLayout layout(int bits, bool isSigned, int64_t n, int64_t k,
                        int64_t group) {
  WeightOnlyLayout L;
  L.bits = bits;
  L.isSigned = isSigned;
  L.n = n;
  L.k = k;
  L.group = group;
  return L;
}

TEST(WeightOnlyPacking, Int4NibblesTilesAndScales) {
  // Rows [1, -2, 3, 0] and [2, 2, -1, 4], groups of 2: u = q + 8.
  WeightOnlyLayout L = layout(4, true, 2, 4, 2);
  std::vector<int32_t> q = {1, -2, 3, 0, 2, 2, -1, 4};
  std::vector<float> s = {0.5f, 1.0f, 0.25f, 2.0f};
  ASSERT_EQ(L.weightBytes(), 16);
  ASSERT_EQ(L.paramCount(), 16);
  std::vector<uint8_t> w(16, 0xFF);
  std::vector<float> ps(16, -1.0f);
  ASSERT_EQ(packWeightOnly(L, q.data(), s.data(), nullptr, true, w.data(),
                           ps.data(), nullptr),
            "");
  std::vector<uint8_t> want = {0x69, 0xAA, 0, 0, 0, 0, 0, 0,
                               0x8B, 0xC7, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(w, want);
  std::vector<float> wantS = {0.5f, 0.25f, 0, 0, 0, 0, 0, 0,
                              1.0f, 2.0f,  0, 0, 0, 0, 0, 0};
  EXPECT_EQ(ps, wantS);
}

TEST(WeightOnlyPacking, OddGroupsArePaddedToWholeBytes) {
  // One row, K = 5, groups of 3: group 0 = [1, 2, 3] + pad, group 1 =
  // [4, 5] + pad (unsigned storage: u = q).
  WeightOnlyLayout L = layout(4, false, 1, 5, 3);
  EXPECT_EQ(L.paddedGroup(), 4);
  EXPECT_EQ(L.paddedK(), 8);
  std::vector<int32_t> q = {1, 2, 3, 4, 5};
  std::vector<float> s = {1.0f, 1.0f};
  std::vector<uint8_t> w(L.weightBytes());
  std::vector<float> ps(L.paramCount());
  ASSERT_EQ(packWeightOnly(L, q.data(), s.data(), nullptr, true, w.data(),
                           ps.data(), nullptr),
            "");
  EXPECT_EQ(w[0], 0x21);  // k = 0, 1
  EXPECT_EQ(w[8], 0x03);  // k = 2, padding
  EXPECT_EQ(w[16], 0x54); // k = 3, 4
  EXPECT_EQ(w[24], 0x00); // padding of the partial group
}

TEST(WeightOnlyPacking, Int8WithZeroPointsAndF16Scales) {
  WeightOnlyLayout L = layout(8, false, 1, 2, 2);
  L.scaleF16 = true;
  L.offset = WeightOffsetKind::ZeroPoint;
  std::vector<int32_t> q = {200, 7};
  std::vector<float> s = {0.5f}, z = {128.0f};
  std::vector<uint8_t> w(L.weightBytes());
  std::vector<uint16_t> ps(L.paramCount());
  std::vector<float> c(L.paramCount());
  ASSERT_EQ(packWeightOnly(L, q.data(), s.data(), z.data(), true, w.data(),
                           ps.data(), c.data()),
            "");
  EXPECT_EQ(w[0], 200);
  EXPECT_EQ(w[8], 7);
  EXPECT_EQ(fp16ToFloat(ps[0]), 0.5f);
  EXPECT_EQ(c[0], 0.5f * (0 - 128)); // w = s*u + c = s*(q - z)
  EXPECT_EQ(c[1], 0.0f);             // padding row
}

TEST(WeightOnlyPacking, KMajorInputGivesTheSameLayout) {
  WeightOnlyLayout L = layout(4, true, 3, 4, 4);
  std::vector<int32_t> nk = {1, 2, 3, 4, -1, -2, -3, -4, 7, -8, 0, 5};
  std::vector<int32_t> kn(12);
  for (int n = 0; n < 3; ++n)
    for (int k = 0; k < 4; ++k)
      kn[k * 3 + n] = nk[n * 4 + k];
  std::vector<float> s = {1, 2, 3};
  std::vector<uint8_t> a(L.weightBytes()), b(L.weightBytes());
  std::vector<float> sa(L.paramCount()), sb(L.paramCount());
  ASSERT_EQ(packWeightOnly(L, nk.data(), s.data(), nullptr, true, a.data(),
                           sa.data(), nullptr),
            "");
  ASSERT_EQ(packWeightOnly(L, kn.data(), s.data(), nullptr, false, b.data(),
                           sb.data(), nullptr),
            "");
  EXPECT_EQ(a, b);
  EXPECT_EQ(sa, sb);
}

TEST(WeightOnlyPacking, Errors) {
  WeightOnlyLayout L = layout(3, true, 1, 4, 2);
  EXPECT_NE(L.check().find("4-bit and 8-bit"), std::string::npos);
  L = layout(4, true, 1, 2, 2);
  std::vector<int32_t> q = {9, 0};
  std::vector<float> s = {1.0f};
  std::vector<uint8_t> w(L.weightBytes());
  std::vector<float> ps(L.paramCount());
  EXPECT_NE(packWeightOnly(L, q.data(), s.data(), nullptr, true, w.data(),
                           ps.data(), nullptr)
                .find("outside the 4-bit storage range"),
            std::string::npos);
  q = {0, 0};
  L.scaleF16 = true;
  s = {0.1f}; // not an f16 value
  std::vector<uint16_t> ph(L.paramCount());
  EXPECT_NE(packWeightOnly(L, q.data(), s.data(), nullptr, true, w.data(),
                           ph.data(), nullptr)
                .find("not an f16 value"),
            std::string::npos);
  L.scaleF16 = false;
  L.offset = WeightOffsetKind::AddMin;
  EXPECT_NE(packWeightOnly(L, q.data(), s.data(), nullptr, true, w.data(),
                           ps.data(), nullptr)
                .find("needs offsets"),
            std::string::npos);
}

} // namespace
