//===- LargeBuffer.cpp - Buffers backed by transparent huge pages ---------===//

#include "quantx/Quant/LargeBuffer.h"

#include <cstdint>
#include <cstdlib>
#include <new>

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace quantx {

namespace {
constexpr std::size_t kHugePage = std::size_t(2) << 20;
} // namespace

void adviseHugePages(void *p, std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const auto begin = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t first = (begin + kHugePage - 1) / kHugePage * kHugePage;
  const std::uintptr_t last = (begin + bytes) / kHugePage * kHugePage;
  if (p && last > first)
    (void)madvise(reinterpret_cast<void *>(first), last - first,
                  MADV_HUGEPAGE); // A hint: failure only costs speed.
#else
  (void)p;
  (void)bytes;
#endif
}

void *allocateLargeBytes(std::size_t bytes) {
  if (bytes == 0)
    bytes = 1;
  void *p = nullptr;
  if (bytes >= kHugePage) {
    const std::size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    p = std::aligned_alloc(kHugePage, rounded);
    if (p)
      adviseHugePages(p, rounded);
  } else {
    p = std::malloc(bytes);
  }
  if (!p)
    throw std::bad_alloc();
  return p;
}

void LargeBufferDeleter::operator()(void *p) const { std::free(p); }

} // namespace quantx
