//===- BlockCacheTest.cpp - Tests of the compiled code's block cache ------===//
//
// Large blocks released by a thread come back to that thread's later
// allocations of a fitting size; small blocks, blocks more than twice the
// request, and blocks beyond the budget do not; every block stays
// releasable with free().
//
//===----------------------------------------------------------------------===//

#include "quantx/Runtime/BlockCache.h"

#include "gtest/gtest.h"

#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

extern "C" {
void *_mlir_memref_to_llvm_alloc(std::size_t size);
void _mlir_memref_to_llvm_free(void *ptr);
}

using namespace quantx::runtime;

namespace {

class BlockCacheTest : public ::testing::Test {
protected:
  void SetUp() override { blockCacheTrim(); }
  void TearDown() override { blockCacheTrim(); }
};

TEST_F(BlockCacheTest, ReusesALargeBlockOfAFittingSize) {
  const std::size_t size = 3 << 20;
  void *a = blockCacheAllocate(size);
  ASSERT_NE(a, nullptr);
  std::memset(a, 1, size);
  blockCacheRelease(a);
  EXPECT_GE(blockCacheBytes(), size);
  void *b = blockCacheAllocate(size - 1000);
  EXPECT_EQ(a, b);
  EXPECT_EQ(blockCacheBytes(), 0u);
  blockCacheRelease(b);
}

TEST_F(BlockCacheTest, PicksTheSmallestFittingBlock) {
  void *big = blockCacheAllocate(4 << 20);
  void *small = blockCacheAllocate(1 << 20);
  blockCacheRelease(big);
  blockCacheRelease(small);
  void *got = blockCacheAllocate(900 << 10);
  EXPECT_EQ(got, small);
  void *got2 = blockCacheAllocate(3 << 20);
  EXPECT_EQ(got2, big);
  std::free(got); // Cached blocks are malloc blocks.
  std::free(got2);
}

TEST_F(BlockCacheTest, DoesNotHandOutABlockMoreThanTwiceTheRequest) {
  void *big = blockCacheAllocate(8 << 20);
  blockCacheRelease(big);
  void *small = blockCacheAllocate(1 << 20);
  EXPECT_NE(small, big);
  EXPECT_GE(blockCacheBytes(), std::size_t(8) << 20);
  blockCacheRelease(small);
}

TEST_F(BlockCacheTest, SmallBlocksAreNotKept) {
  void *p = blockCacheAllocate(1000);
  blockCacheRelease(p);
  EXPECT_EQ(blockCacheBytes(), 0u);
  blockCacheRelease(nullptr);
  EXPECT_EQ(blockCacheBytes(), 0u);
}

TEST_F(BlockCacheTest, StaysWithinItsBudget) {
  std::vector<void *> blocks;
  for (std::size_t i = 0; i < kBlockCacheMaxBlocks + 8; ++i)
    blocks.push_back(blockCacheAllocate(kBlockCacheMinBytes + i * 4096));
  for (void *p : blocks)
    blockCacheRelease(p);
  std::size_t sum = 0;
  for (std::size_t i = 0; i < kBlockCacheMaxBlocks; ++i)
    sum += kBlockCacheMinBytes + i * 4096;
  EXPECT_LE(blockCacheBytes(), kBlockCacheMaxBytes);
  EXPECT_GE(blockCacheBytes(), sum); // The newest 64 are kept.
  void *huge = blockCacheAllocate(kBlockCacheMaxBytes + 1);
  ASSERT_NE(huge, nullptr);
  std::size_t before = blockCacheBytes();
  blockCacheRelease(huge); // Larger than the whole budget: freed.
  EXPECT_EQ(blockCacheBytes(), before);
}

TEST_F(BlockCacheTest, EachThreadHasItsOwnBlocks) {
  void *a = blockCacheAllocate(2 << 20);
  blockCacheRelease(a);
  void *other = nullptr;
  std::thread([&] {
    other = blockCacheAllocate(2 << 20);
    EXPECT_EQ(blockCacheBytes(), 0u);
    blockCacheRelease(other); // Freed with the thread's cache at exit.
  }).join();
  EXPECT_NE(other, a);
  EXPECT_EQ(blockCacheAllocate(2 << 20), a);
  blockCacheRelease(a);
}

TEST_F(BlockCacheTest, CompiledCodeEntryPointsUseTheCache) {
  void *a = _mlir_memref_to_llvm_alloc(1 << 20);
  _mlir_memref_to_llvm_free(a);
  EXPECT_EQ(_mlir_memref_to_llvm_alloc(1 << 20), a);
  _mlir_memref_to_llvm_free(a);
}

} // namespace
