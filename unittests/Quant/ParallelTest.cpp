//===- ParallelTest.cpp - parallelFor tests -------------------------------===//

#include "quantx/Quant/Parallel.h"

#include <atomic>
#include <gtest/gtest.h>
#include <stdexcept>
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
