//===- LargeBufferTest.cpp - Huge-page backed buffers ---------------------===//

#include "quantx/Quant/LargeBuffer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>

using namespace quantx;

TEST(LargeBufferTest, LargeAllocationsAreHugePageAligned) {
  const size_t count = (size_t(5) << 20) / sizeof(float) + 3; // 5 MiB + 12 B
  LargeBuffer<float> b = allocateLarge<float>(count);
  ASSERT_NE(b.get(), nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.get()) % (size_t(2) << 20), 0u);
  std::iota(b.get(), b.get() + count, 0.0f);
  EXPECT_EQ(b[count - 1], float(count - 1));
}

TEST(LargeBufferTest, SmallAndEmptyAllocationsWork) {
  LargeBuffer<int> small = allocateLarge<int>(7);
  ASSERT_NE(small.get(), nullptr);
  small[6] = 42;
  EXPECT_EQ(small[6], 42);
  LargeBuffer<int> empty = allocateLarge<int>(0);
  EXPECT_NE(empty.get(), nullptr);
}

TEST(LargeBufferTest, ResizeLargeValueInitialises) {
  std::vector<float> v;
  resizeLarge(v, (size_t(3) << 20) + 5);
  ASSERT_EQ(v.size(), (size_t(3) << 20) + 5);
  EXPECT_EQ(v.front(), 0.0f);
  EXPECT_EQ(v.back(), 0.0f);
  std::vector<uint8_t> w;
  resizeLarge(w, 0);
  EXPECT_TRUE(w.empty());
}
