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

namespace {

TEST(WeightOnlyPacking, N8K8OctetsOfATile) {
  // Two rows, K = 16 in groups of 8 (two octets of one tile each): byte
  // (g*32 + 4*l + b) holds u[l][8g + b] | u[l][8g + 4 + b] << 4, u = q + 8;
  // lanes 2..7 are padding rows. Scales and offset terms as in "n8".
  WeightOnlyLayout L = layout(4, true, 2, 16, 8);
  L.kind = WeightLayoutKind::N8K8;
  L.offset = WeightOffsetKind::SubMin;
  ASSERT_EQ(L.check(), "");
  ASSERT_EQ(L.weightBytes(), 64);
  ASSERT_EQ(L.paramCount(), 16);
  std::vector<int32_t> q(32);
  for (int i = 0; i < 32; ++i)
    q[i] = i % 16 - 8; // row 0: u = 0..15, row 1: u = 0..15
  std::vector<float> s = {0.5f, 1.0f, 0.25f, 2.0f}, m = {1, 2, 3, 4};
  std::vector<uint8_t> w(64, 0xEE);
  std::vector<float> ps(16, -1.0f), c(16, -1.0f);
  ASSERT_EQ(packWeightOnly(L, q.data(), s.data(), m.data(), true, w.data(),
                           ps.data(), c.data()),
            "");
  for (int g = 0; g < 2; ++g)
    for (int l = 0; l < 8; ++l)
      for (int b = 0; b < 4; ++b) {
        int want = l < 2 ? ((8 * g + b) | (8 * g + 4 + b) << 4) : 0;
        EXPECT_EQ(w[g * 32 + 4 * l + b], want) << g << " " << l << " " << b;
      }
  EXPECT_EQ(ps[0], 0.5f);
  EXPECT_EQ(ps[1], 0.25f);
  EXPECT_EQ(ps[8], 1.0f);
  EXPECT_EQ(ps[9], 2.0f);
  EXPECT_EQ(ps[2], 0.0f);
  // c = s * storage_min - min.
  EXPECT_EQ(c[0], 0.5f * -8 - 1);
  EXPECT_EQ(c[9], 2.0f * -8 - 4);
  EXPECT_EQ(c[3], 0.0f);
}

TEST(WeightOnlyPacking, N8K8PadsThePartialGroupAndRejectsOtherShapes) {
  WeightOnlyLayout L = layout(4, false, 1, 12, 8);
  L.kind = WeightLayoutKind::N8K8;
  ASSERT_EQ(L.weightBytes(), 64); // K padded to 16, N to 8.
  std::vector<int32_t> q(12, 15);
  std::vector<float> s = {1.0f, 1.0f};
  std::vector<uint8_t> w(64, 0xEE);
  std::vector<float> ps(L.paramCount());
  ASSERT_EQ(packWeightOnly(L, q.data(), s.data(), nullptr, true, w.data(),
                           ps.data(), nullptr),
            "");
  for (int b = 0; b < 4; ++b) {
    EXPECT_EQ(w[b], 0xFF);      // k 0..7
    EXPECT_EQ(w[32 + b], 0x0F); // k 8..11, then padding
  }
  EXPECT_EQ(w[4], 0); // padding row

  L.group = 12;
  EXPECT_NE(L.check().find("multiple of 8"), std::string::npos);
}

TEST(WeightOnlyPacking, N8K8EightBitWeightsTakeTwoVectorsPerOctet) {
  // Two rows of 16 signed 8-bit weights, one group: u = q + 128. Octet j
  // of the tile is 64 bytes: k 8j..8j+3 of the 8 rows, then k 8j+4..8j+7.
  WeightOnlyLayout L = layout(8, true, 2, 16, 16);
  L.kind = WeightLayoutKind::N8K8;
  ASSERT_EQ(L.check(), "");
  ASSERT_EQ(L.weightBytes(), 128);
  std::vector<int32_t> q(32);
  for (int i = 0; i < 32; ++i)
    q[i] = 7 * i - 100; // row 0: k = i; row 1: k = i - 16
  std::vector<float> s = {0.5f, 2.0f};
  std::vector<uint8_t> w(128, 0xEE);
  std::vector<float> ps(L.paramCount(), -1.0f);
  ASSERT_EQ(packWeightOnly(L, q.data(), s.data(), nullptr, true, w.data(),
                           ps.data(), nullptr),
            "");
  for (int j = 0; j < 2; ++j)
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 8; ++l)
        for (int b = 0; b < 4; ++b) {
          int k = 8 * j + 4 * h + b;
          int want = l < 2 ? q[l * 16 + k] + 128 : 0;
          EXPECT_EQ(w[64 * j + 32 * h + 4 * l + b], want)
              << j << " " << h << " " << l << " " << b;
        }
  EXPECT_EQ(ps[0], 0.5f);
  EXPECT_EQ(ps[1], 2.0f);
  EXPECT_EQ(ps[2], 0.0f);
  // Values outside the 8-bit range are errors.
  q[5] = 128;
  EXPECT_NE(packWeightOnly(L, q.data(), s.data(), nullptr, true, w.data(),
                           ps.data(), nullptr)
                .find("outside the 8-bit storage range"),
            std::string::npos);
}

} // namespace
