//===- Parallel.cpp - Minimal parallel-for for the numeric core -----------===//
//
// See Parallel.h. Threads are created per call: the numeric core's parallel
// regions are coarse (milliseconds or more), so a pool buys nothing here.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/Parallel.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace quantx {

static std::atomic<int> overrideThreads{0};
/// Depth of SerialRegion guards alive on this thread.
static thread_local int serialDepth = 0;

SerialRegion::SerialRegion() { ++serialDepth; }
SerialRegion::~SerialRegion() { --serialDepth; }

int getNumThreads() {
  if (int n = overrideThreads.load())
    return n;
  if (const char *env = std::getenv("QUANTX_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0)
      return n;
  }
  // hardware_concurrency() reads sysfs on every call; ask once.
  static const unsigned hw = std::thread::hardware_concurrency();
  return hw ? int(hw) : 1;
}

void setNumThreads(int numThreads) {
  overrideThreads.store(std::max(numThreads, 0));
}

void parallelFor(int64_t begin, int64_t end, int64_t minChunk,
                 const std::function<void(int64_t, int64_t)> &fn) {
  int64_t n = end - begin;
  if (n <= 0)
    return;
  if (serialDepth > 0) {
    fn(begin, end);
    return;
  }
  minChunk = std::max<int64_t>(minChunk, 1);
  int64_t chunks =
      std::min<int64_t>(getNumThreads(), (n + minChunk - 1) / minChunk);
  if (chunks <= 1) {
    fn(begin, end);
    return;
  }
  std::exception_ptr error;
  std::mutex errorMutex;
  auto run = [&](int64_t c) {
    int64_t lo = begin + n * c / chunks;
    int64_t hi = begin + n * (c + 1) / chunks;
    try {
      fn(lo, hi);
    } catch (...) {
      std::lock_guard<std::mutex> lock(errorMutex);
      if (!error)
        error = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(chunks - 1);
  for (int64_t c = 1; c < chunks; ++c)
    threads.emplace_back(run, c);
  run(0);
  for (std::thread &t : threads)
    t.join();
  if (error)
    std::rethrow_exception(error);
}

} // namespace quantx
