//===- BlockCache.cpp - Reuse of large buffers across calls ---------------===//

#include "quantx/Runtime/BlockCache.h"

#include <cstdlib>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#define QUANTX_HAVE_USABLE_SIZE 1
#endif

using namespace quantx::runtime;

namespace {
struct Block {
  void *ptr;
  std::size_t capacity;
};

/// The free blocks of one thread, oldest first.
class ThreadCache {
public:
  ~ThreadCache() { trim(); }

  void *take(std::size_t size) {
    std::size_t best = blocks.size();
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      std::size_t cap = blocks[i].capacity;
      if (cap >= size && cap / 2 <= size &&
          (best == blocks.size() || cap < blocks[best].capacity))
        best = i;
    }
    if (best == blocks.size())
      return nullptr;
    void *ptr = blocks[best].ptr;
    bytes -= blocks[best].capacity;
    blocks.erase(blocks.begin() + best);
    return ptr;
  }

  void put(void *ptr, std::size_t capacity) {
    if (capacity > kBlockCacheMaxBytes) {
      std::free(ptr);
      return;
    }
    blocks.push_back({ptr, capacity});
    bytes += capacity;
    while (bytes > kBlockCacheMaxBytes || blocks.size() > kBlockCacheMaxBlocks) {
      bytes -= blocks.front().capacity;
      std::free(blocks.front().ptr);
      blocks.erase(blocks.begin());
    }
  }

  void trim() {
    for (Block &b : blocks)
      std::free(b.ptr);
    blocks.clear();
    bytes = 0;
  }

  std::size_t size() const { return bytes; }

private:
  std::vector<Block> blocks;
  std::size_t bytes = 0;
};

ThreadCache &threadCache() {
  thread_local ThreadCache cache;
  return cache;
}
} // namespace

void *quantx::runtime::blockCacheAllocate(std::size_t size) {
#ifdef QUANTX_HAVE_USABLE_SIZE
  if (size >= kBlockCacheMinBytes)
    if (void *ptr = threadCache().take(size))
      return ptr;
#endif
  return std::malloc(size);
}

void quantx::runtime::blockCacheRelease(void *ptr) {
  if (!ptr)
    return;
#ifdef QUANTX_HAVE_USABLE_SIZE
  std::size_t capacity = malloc_usable_size(ptr);
  if (capacity >= kBlockCacheMinBytes) {
    threadCache().put(ptr, capacity);
    return;
  }
#endif
  std::free(ptr);
}

void quantx::runtime::blockCacheTrim() { threadCache().trim(); }

std::size_t quantx::runtime::blockCacheBytes() { return threadCache().size(); }

//===----------------------------------------------------------------------===//
// Entry points of the compiled code (MLIR's generic allocation functions).
//===----------------------------------------------------------------------===//

extern "C" {
__attribute__((visibility("default"))) void *
_mlir_memref_to_llvm_alloc(std::size_t size) {
  return blockCacheAllocate(size);
}

__attribute__((visibility("default"))) void *
_mlir_memref_to_llvm_aligned_alloc(std::size_t alignment, std::size_t size) {
  // Only used by pipelines that ask for aligned_alloc: no caching there.
  return std::aligned_alloc(alignment, (size + alignment - 1) / alignment *
                                           alignment);
}

__attribute__((visibility("default"))) void
_mlir_memref_to_llvm_free(void *ptr) {
  blockCacheRelease(ptr);
}
}
