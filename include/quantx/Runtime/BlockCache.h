//===- BlockCache.h - Reuse of large buffers across calls -------*- C++ -*-===//
//
// The allocation entry points of code compiled by the quantx CPU pipeline
// (MLIR's generic `_mlir_memref_to_llvm_alloc` / `_free`, see
// docs/Codegen.md, "Memory"). A compiled model allocates its intermediate
// buffers on entry and frees them on return; with plain malloc/free, glibc
// gives large freed blocks back to the kernel, so every call pays for
// fresh, zero-filled pages. Each thread here keeps the large blocks its
// calls free, within a byte budget, and hands them out again.
//
// Blocks always come from malloc, so a block the compiled code returns to
// its caller (a result) may be released with plain free().
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_RUNTIME_BLOCKCACHE_H
#define QUANTX_RUNTIME_BLOCKCACHE_H

#include <cstddef>

namespace quantx::runtime {

/// Blocks smaller than this go straight to malloc/free.
constexpr std::size_t kBlockCacheMinBytes = std::size_t(64) << 10;
/// Bytes of free blocks each thread keeps at most.
constexpr std::size_t kBlockCacheMaxBytes = std::size_t(512) << 20;
/// Free blocks each thread keeps at most.
constexpr std::size_t kBlockCacheMaxBlocks = 64;

/// A block of at least `size` bytes: the calling thread's cached block that
/// fits best (at most twice `size`), else a new one from malloc.
void *blockCacheAllocate(std::size_t size);

/// Keeps `ptr` (from blockCacheAllocate or malloc) for reuse by this thread,
/// releasing the oldest cached blocks beyond the budget. Null is ignored.
void blockCacheRelease(void *ptr);

/// Releases every block the calling thread keeps.
void blockCacheTrim();

/// Bytes of free blocks the calling thread keeps.
std::size_t blockCacheBytes();

} // namespace quantx::runtime

#endif // QUANTX_RUNTIME_BLOCKCACHE_H
