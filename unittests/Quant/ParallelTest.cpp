//===- ParallelTest.cpp - parallelFor tests -------------------------------===//

#include "quantx/Quant/Parallel.h"

#include <atomic>
#include <gtest/gtest.h>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace quantx;

TEST(Parallel, CoversRangeExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    setNumThreads(threads);
    std::vector<std::atomic<int>> hits(1001);
    parallelFor(0, 1001, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i)
        hits[i]++;
    });
    for (auto &h : hits)
      EXPECT_EQ(h.load(), 1);
  }
  setNumThreads(0);
}

TEST(Parallel, EmptyRangeRunsNothing) {
  bool ran = false;
  parallelFor(5, 5, 1, [&](int64_t, int64_t) { ran = true; });
  EXPECT_FALSE(ran);
}

TEST(Parallel, PropagatesExceptions) {
  setNumThreads(2);
  EXPECT_THROW(parallelFor(0, 100, 1,
                           [](int64_t lo, int64_t) {
                             if (lo > 0)
                               throw std::runtime_error("boom");
                           }),
               std::runtime_error);
  setNumThreads(0);
}

TEST(Parallel, SerialRegionRunsOnTheCallingThread) {
  setNumThreads(4);
  {
    SerialRegion serial;
    int calls = 0;
    const std::thread::id self = std::this_thread::get_id();
    parallelFor(0, 1000, 1, [&](int64_t lo, int64_t hi) {
      ++calls;
      EXPECT_EQ(lo, 0);
      EXPECT_EQ(hi, 1000);
      EXPECT_EQ(std::this_thread::get_id(), self);
    });
    EXPECT_EQ(calls, 1);
  }
  // Threads again once the region ends.
  std::atomic<int> calls{0};
  parallelFor(0, 1000, 1, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls.load(), 4);
  setNumThreads(0);
}
