//===- LargeBuffer.h - Buffers backed by transparent huge pages -*- C++ -*-===//
//
// The numeric core's large working buffers (GPTQ's 64 MiB Hessian, its
// inverse factor, the result arrays) are touched once per 4 KiB page on
// first use and walked with strides of whole rows. On Linux, asking the
// kernel to back them with transparent huge pages (madvise(MADV_HUGEPAGE),
// effective when /sys/kernel/mm/transparent_hugepage/enabled is "always"
// or "madvise") cuts both the page faults and the TLB misses. Elsewhere, or
// when the kernel declines, these helpers behave as plain allocations.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_QUANT_LARGEBUFFER_H
#define QUANTX_QUANT_LARGEBUFFER_H

#include <cstddef>
#include <memory>
#include <vector>

namespace quantx {

/// Asks for huge pages on the whole 2 MiB pages inside [p, p + bytes);
/// a hint only (no effect on small ranges or where unsupported).
void adviseHugePages(void *p, std::size_t bytes);

/// Frees memory from allocateLarge.
struct LargeBufferDeleter {
  void operator()(void *p) const;
};

/// An uninitialised array of `count` Ts, 2 MiB aligned for buffers of 2 MiB
/// or more, advised to use huge pages. Throws std::bad_alloc on failure.
template <typename T>
using LargeBuffer = std::unique_ptr<T[], LargeBufferDeleter>;
void *allocateLargeBytes(std::size_t bytes);
template <typename T> LargeBuffer<T> allocateLarge(std::size_t count) {
  return LargeBuffer<T>(static_cast<T *>(allocateLargeBytes(count * sizeof(T))));
}

/// v.resize(count) with huge pages advised for the new storage before the
/// elements are written (v must be empty).
template <typename T> void resizeLarge(std::vector<T> &v, std::size_t count) {
  v.reserve(count);
  adviseHugePages(v.data(), count * sizeof(T));
  v.resize(count);
}

} // namespace quantx

#endif // QUANTX_QUANT_LARGEBUFFER_H
