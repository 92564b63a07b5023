//===- PeakLoops.cpp - Timed runs of independent x86 vector instructions --===//
//
// The loops behind this machine's measured arithmetic peaks, shared by the
// quantx-peaks tool and, through libquantx_peaks (ctypes), by benchmarks
// that time a peak burst beside each kernel call so that both see the same
// machine (bench/kernels.py):
//   - fp32 FMA (vfmadd231ps ymm, 8 multiply-adds each),
//   - the exact int8 dot product sequence of AVX2 (vpmaddwd ymm on int16
//     operands, 16 multiply-adds into 8 int32 pairs, plus the vpaddd that
//     accumulates them; what the generated int8 GEMM runs),
//   - on AVX-512 CPUs, vfmadd231ps zmm and, with AVX512-VNNI, vpdpbusd on
//     ymm and zmm (the u8 x s8 dot product of the VNNI int8 GEMM).
// Inline assembly, so that the compiler cannot fold them. Operations count
// 2 per multiply-add, like FLOPs.
//
//===----------------------------------------------------------------------===//

#include "PeakLoops.h"

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <cpuid.h>

namespace {

/// 12 independent FMA chains, `iters` times: 12 * 8 multiply-adds each.
__attribute__((target("avx2,fma"))) void fmaLoop(long iters) {
  asm volatile("vxorps %%ymm0, %%ymm0, %%ymm0\n"
               "vxorps %%ymm1, %%ymm1, %%ymm1\n"
               "vxorps %%ymm2, %%ymm2, %%ymm2\n"
               "vxorps %%ymm3, %%ymm3, %%ymm3\n"
               "vxorps %%ymm4, %%ymm4, %%ymm4\n"
               "vxorps %%ymm5, %%ymm5, %%ymm5\n"
               "vxorps %%ymm6, %%ymm6, %%ymm6\n"
               "vxorps %%ymm7, %%ymm7, %%ymm7\n"
               "vxorps %%ymm8, %%ymm8, %%ymm8\n"
               "vxorps %%ymm9, %%ymm9, %%ymm9\n"
               "vxorps %%ymm10, %%ymm10, %%ymm10\n"
               "vxorps %%ymm11, %%ymm11, %%ymm11\n"
               "vxorps %%ymm12, %%ymm12, %%ymm12\n"
               "vxorps %%ymm13, %%ymm13, %%ymm13\n"
               "1:\n"
               "vfmadd231ps %%ymm12, %%ymm13, %%ymm0\n"
               "vfmadd231ps %%ymm12, %%ymm13, %%ymm1\n"
               "vfmadd231ps %%ymm12, %%ymm13, %%ymm2\n"
               "vfmadd231ps %%ymm12, %%ymm13, %%ymm3\n"
               "vfmadd231ps %%ymm12, %%ymm13, %%ymm4\n"
               "vfmadd231ps %%ymm12, %%ymm13, %%ymm5\n"
               "vfmadd231ps %%ymm12, %%ymm13, %%ymm6\n"
               "vfmadd231ps %%ymm12, %%ymm13, %%ymm7\n"
               "vfmadd231ps %%ymm12, %%ymm13, %%ymm8\n"
               "vfmadd231ps %%ymm12, %%ymm13, %%ymm9\n"
               "vfmadd231ps %%ymm12, %%ymm13, %%ymm10\n"
               "vfmadd231ps %%ymm12, %%ymm13, %%ymm11\n"
               "dec %0\n"
               "jnz 1b\n"
               : "+r"(iters)
               :
               : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                 "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "cc");
}

/// 12 independent vpmaddwd + vpaddd chains: 12 * 16 multiply-adds each.
__attribute__((target("avx2"))) void maddLoop(long iters) {
  asm volatile("vpxor %%ymm0, %%ymm0, %%ymm0\n"
               "vpxor %%ymm1, %%ymm1, %%ymm1\n"
               "vpxor %%ymm2, %%ymm2, %%ymm2\n"
               "vpxor %%ymm3, %%ymm3, %%ymm3\n"
               "vpxor %%ymm4, %%ymm4, %%ymm4\n"
               "vpxor %%ymm5, %%ymm5, %%ymm5\n"
               "vpxor %%ymm6, %%ymm6, %%ymm6\n"
               "vpxor %%ymm7, %%ymm7, %%ymm7\n"
               "vpxor %%ymm8, %%ymm8, %%ymm8\n"
               "vpxor %%ymm9, %%ymm9, %%ymm9\n"
               "vpxor %%ymm10, %%ymm10, %%ymm10\n"
               "vpxor %%ymm11, %%ymm11, %%ymm11\n"
               "vpxor %%ymm12, %%ymm12, %%ymm12\n"
               "vpxor %%ymm13, %%ymm13, %%ymm13\n"
               "1:\n"
               "vpmaddwd %%ymm12, %%ymm13, %%ymm14\n"
               "vpaddd %%ymm14, %%ymm0, %%ymm0\n"
               "vpmaddwd %%ymm12, %%ymm13, %%ymm15\n"
               "vpaddd %%ymm15, %%ymm1, %%ymm1\n"
               "vpmaddwd %%ymm12, %%ymm13, %%ymm14\n"
               "vpaddd %%ymm14, %%ymm2, %%ymm2\n"
               "vpmaddwd %%ymm12, %%ymm13, %%ymm15\n"
               "vpaddd %%ymm15, %%ymm3, %%ymm3\n"
               "vpmaddwd %%ymm12, %%ymm13, %%ymm14\n"
               "vpaddd %%ymm14, %%ymm4, %%ymm4\n"
               "vpmaddwd %%ymm12, %%ymm13, %%ymm15\n"
               "vpaddd %%ymm15, %%ymm5, %%ymm5\n"
               "vpmaddwd %%ymm12, %%ymm13, %%ymm14\n"
               "vpaddd %%ymm14, %%ymm6, %%ymm6\n"
               "vpmaddwd %%ymm12, %%ymm13, %%ymm15\n"
               "vpaddd %%ymm15, %%ymm7, %%ymm7\n"
               "vpmaddwd %%ymm12, %%ymm13, %%ymm14\n"
               "vpaddd %%ymm14, %%ymm8, %%ymm8\n"
               "vpmaddwd %%ymm12, %%ymm13, %%ymm15\n"
               "vpaddd %%ymm15, %%ymm9, %%ymm9\n"
               "vpmaddwd %%ymm12, %%ymm13, %%ymm14\n"
               "vpaddd %%ymm14, %%ymm10, %%ymm10\n"
               "vpmaddwd %%ymm12, %%ymm13, %%ymm15\n"
               "vpaddd %%ymm15, %%ymm11, %%ymm11\n"
               "dec %0\n"
               "jnz 1b\n"
               : "+r"(iters)
               :
               : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                 "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
                 "xmm15", "cc");
}

// The AVX-512 and VNNI loops: 12 independent accumulators (zmm/ymm 0-11)
// fed by registers 12 and 13, repeated with the assembler's .irp.
#define QUANTX_PEAK_LOOP(ZERO, BODY)                                           \
  asm volatile(".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13\n" ZERO "\n.endr\n"   \
               "1:\n"                                                          \
               ".irp r,0,1,2,3,4,5,6,7,8,9,10,11\n" BODY "\n.endr\n"         \
               "dec %0\n"                                                      \
               "jnz 1b\n"                                                      \
               : "+r"(iters)                                                   \
               :                                                               \
               : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",       \
                 "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",   \
                 "cc")

/// vfmadd231ps zmm: 12 * 16 multiply-adds per iteration.
__attribute__((target("avx512f"))) void fmaZmmLoop(long iters) {
  QUANTX_PEAK_LOOP("vpxord %%zmm\\r, %%zmm\\r, %%zmm\\r",
                   "vfmadd231ps %%zmm12, %%zmm13, %%zmm\\r");
}

/// vpdpbusd ymm (EVEX, AVX512-VNNI with VL): 12 * 32 multiply-adds.
__attribute__((target("avx512f,avx512vl,avx512vnni"))) void
vnniYmmLoop(long iters) {
  QUANTX_PEAK_LOOP("vpxord %%ymm\\r, %%ymm\\r, %%ymm\\r",
                   "vpdpbusd %%ymm12, %%ymm13, %%ymm\\r");
}

/// vpdpbusd zmm: 12 * 64 multiply-adds per iteration.
__attribute__((target("avx512f,avx512vnni"))) void vnniZmmLoop(long iters) {
  QUANTX_PEAK_LOOP("vpxord %%zmm\\r, %%zmm\\r, %%zmm\\r",
                   "vpdpbusd %%zmm12, %%zmm13, %%zmm\\r");
}

/// Operations per second of one run of `loop` on `threads` threads.
double runLoop(void (*loop)(long), double opsPerIter, unsigned threads,
               long iters) {
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back(loop, iters);
  for (std::thread &t : pool)
    t.join();
  double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return opsPerIter * double(iters) * threads / s;
}

bool hasAVX2AndFMA() {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 5)))
    return false;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 12));
}

/// AVX-512 F, BW and VL with the zmm state enabled by the OS; `vnni` also
/// AVX512-VNNI.
bool hasAVX512(bool vnni) {
  unsigned a, b, c, d;
  if (!hasAVX2AndFMA() || !__get_cpuid(1, &a, &b, &c, &d) ||
      !(c & (1u << 27))) // OSXSAVE
    return false;
  unsigned lo, hi;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 0xe6) != 0xe6) // SSE, AVX, opmask and zmm state
    return false;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
    return false;
  bool f = b & (1u << 16), bw = b & (1u << 30), vl = b & (1u << 31);
  return f && bw && vl && (!vnni || (c & (1u << 11)));
}

/// One loop kind: its name, operations (2 per multiply-add) per iteration
/// on one thread, the loop and whether this CPU runs it.
struct Kind {
  const char *name;
  double opsPerIteration;
  void (*loop)(long);
  bool (*supported)();
};

const Kind kinds[] = {
    {"fp32_fma", 12 * 8 * 2, fmaLoop, hasAVX2AndFMA},
    {"int8_dot", 12 * 16 * 2, maddLoop, hasAVX2AndFMA},
    {"fp32_fma_zmm", 12 * 16 * 2, fmaZmmLoop, [] { return hasAVX512(false); }},
    {"int8_vnni", 12 * 32 * 2, vnniYmmLoop, [] { return hasAVX512(true); }},
    {"int8_vnni_zmm", 12 * 64 * 2, vnniZmmLoop,
     [] { return hasAVX512(true); }},
};

const Kind *findKind(const char *name) {
  if (!name)
    return nullptr;
  for (const Kind &k : kinds)
    if (!std::strcmp(k.name, name))
      return &k;
  return nullptr;
}

} // namespace

extern "C" int quantx_peaks_supported(void) { return hasAVX2AndFMA() ? 1 : 0; }

extern "C" int quantx_peak_kind_supported(const char *kind) {
  const Kind *k = findKind(kind);
  return k && k->supported() ? 1 : 0;
}

extern "C" double quantx_peak_ops_per_iteration(const char *kind) {
  const Kind *k = findKind(kind);
  return k ? k->opsPerIteration : 0.0;
}

extern "C" double quantx_peak_rate(const char *kind, unsigned threads,
                                   long iterations) {
  const Kind *k = findKind(kind);
  if (!k || !threads || iterations <= 0 || !k->supported())
    return 0.0;
  return runLoop(k->loop, k->opsPerIteration, threads, iterations);
}

#else
extern "C" int quantx_peaks_supported(void) { return 0; }
extern "C" int quantx_peak_kind_supported(const char *) { return 0; }
extern "C" double quantx_peak_ops_per_iteration(const char *) { return 0.0; }
extern "C" double quantx_peak_rate(const char *, unsigned, long) {
  return 0.0;
}
#endif
