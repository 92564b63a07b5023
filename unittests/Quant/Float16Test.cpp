//===- Float16Test.cpp - fp16/bf16 conversion tests -----------------------===//

#include "quantx/Quant/Float16.h"

#include <cmath>
#include <gtest/gtest.h>
#include <limits>

using namespace quantx;

TEST(Float16, ExactValuesRoundTrip) {
  // Every finite fp16 value survives fp16 -> float -> fp16 unchanged.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
      continue; // NaN payloads are quietened, tested below.
    EXPECT_EQ(floatToFp16(fp16ToFloat(uint16_t(h))), h) << std::hex << h;
  }
}

TEST(Float16, TiesRoundToEven) {
  // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: ties go to the even 1.
  EXPECT_EQ(floatToFp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  // 1 + 3 * 2^-11 lies halfway between 1+2^-10 (odd) and 1+2^-9 (even).
  EXPECT_EQ(floatToFp16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  // Smallest subnormal 2^-24; half of it ties to zero, 3/4 of it rounds up.
  EXPECT_EQ(floatToFp16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(floatToFp16(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(floatToFp16(std::ldexp(3.0f, -26)), 0x0001);
  EXPECT_EQ(floatToFp16(-std::ldexp(1.0f, -25)), 0x8000);
}

TEST(Float16, OverflowAndSpecials) {
  EXPECT_EQ(floatToFp16(65504.0f), 0x7bff);
  EXPECT_EQ(floatToFp16(65519.0f), 0x7bff); // below the halfway point
  EXPECT_EQ(floatToFp16(65520.0f), 0x7c00); // halfway ties to even = inf
  EXPECT_EQ(floatToFp16(1e30f), 0x7c00);
  EXPECT_EQ(floatToFp16(-1e30f), 0xfc00);
  EXPECT_EQ(floatToFp16(std::numeric_limits<float>::infinity()), 0x7c00);
  uint16_t nan = floatToFp16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x3ff, 0);
  EXPECT_TRUE(std::isnan(fp16ToFloat(0x7e00)));
  EXPECT_TRUE(std::isinf(fp16ToFloat(0xfc00)));
  EXPECT_EQ(floatBits(fp16ToFloat(0x8000)), 0x80000000u); // -0 kept
}

TEST(BFloat16, RoundToNearestEven) {
  EXPECT_EQ(floatToBf16(1.0f), 0x3f80);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: tie to even.
  EXPECT_EQ(floatToBf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  EXPECT_EQ(floatToBf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::infinity()), 0x7f80);
  // Largest float rounds up to infinity, as IEEE rounding requires.
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::quiet_NaN()) & 0x7fc0,
            0x7fc0);
  // Subnormals round, they are not flushed.
  EXPECT_EQ(floatToBf16(bitsToFloat(0x00018000u)), 0x0002);
  for (uint32_t b = 0; b < 0x10000; ++b) {
    if ((b & 0x7f80) == 0x7f80 && (b & 0x7f))
      continue;
    EXPECT_EQ(floatToBf16(bf16ToFloat(uint16_t(b))), b);
  }
}
