//===- Parallel.h - Minimal parallel-for for the numeric core ---*- C++ -*-===//
//
// The numeric core splits independent work (rows, columns, blocks) over the
// machine's cores with this helper. The thread count comes from the
// environment variable QUANTX_NUM_THREADS when set, else from
// std::thread::hardware_concurrency(). Work is split into contiguous chunks,
// so results never depend on the thread count.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_QUANT_PARALLEL_H
#define QUANTX_QUANT_PARALLEL_H

#include <cstdint>
#include <functional>

namespace quantx {

/// Returns the number of threads the numeric core uses (at least 1).
int getNumThreads();

/// Overrides the thread count for this process (0 restores the default).
void setNumThreads(int numThreads);

/// Runs `fn(chunkBegin, chunkEnd)` over [begin, end) split into at most
/// getNumThreads() contiguous chunks of at least `minChunk` items. The
/// calling thread runs one chunk itself. Exceptions thrown by `fn` are
/// rethrown on the calling thread after all chunks finish. Inside a
/// SerialRegion, runs `fn(begin, end)` on the calling thread.
void parallelFor(int64_t begin, int64_t end, int64_t minChunk,
                 const std::function<void(int64_t, int64_t)> &fn);

/// While alive, parallelFor calls made on this thread run serially on it:
/// for work that already runs on each of several threads (no nested
/// threads).
class SerialRegion {
public:
  SerialRegion();
  ~SerialRegion();
  SerialRegion(const SerialRegion &) = delete;
  SerialRegion &operator=(const SerialRegion &) = delete;
};

} // namespace quantx

#endif // QUANTX_QUANT_PARALLEL_H
