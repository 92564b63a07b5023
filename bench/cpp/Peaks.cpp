//===- Peaks.cpp - This machine's measured arithmetic peaks --------------===//
//
// A measuring tool, not a kernel: times long runs of independent x86 vector
// instructions (inline assembly, so the compiler cannot fold them) and
// prints this machine's peaks as one JSON object:
//   - fp32 FMA (vfmadd231ps ymm, 8 multiply-adds each),
//   - the exact int8 dot product sequence of AVX2 (vpmaddwd ymm on int16
//     operands, 16 multiply-adds into 8 int32 pairs, plus the vpaddd that
//     accumulates them; what the generated int8 GEMM runs),
// per core and on N threads (--threads, default all). Operations count
// 2 per multiply-add, like FLOPs. The best of several repetitions is kept.
//
//===----------------------------------------------------------------------===//

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
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

/// Best operations per second of `loop` (`opsPerIter` each) over `reps`
/// runs on `threads` threads at once.
double measure(void (*loop)(long), double opsPerIter, unsigned threads,
               long iters, int reps) {
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t)
      pool.emplace_back(loop, iters);
    for (std::thread &t : pool)
      t.join();
    double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    best = std::max(best, opsPerIter * double(iters) * threads / s);
  }
  return best;
}

bool hasAVX2AndFMA() {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 5)))
    return false;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 12));
}

} // namespace

int main(int argc, char **argv) {
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  long iters = 20'000'000;
  int reps = 5;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> long {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "quantx-peaks: %s needs a value\n", argv[i]);
        std::exit(2);
      }
      char *end = nullptr;
      long v = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || v <= 0) {
        std::fprintf(stderr, "quantx-peaks: bad value '%s'\n", argv[i]);
        std::exit(2);
      }
      return v;
    };
    if (arg == "--threads")
      threads = unsigned(value());
    else if (arg == "--iterations")
      iters = value();
    else if (arg == "--repetitions")
      reps = int(value());
    else {
      std::fprintf(stderr, "usage: quantx-peaks [--threads N] [--iterations N] "
                           "[--repetitions N]\n");
      return 2;
    }
  }
  if (!hasAVX2AndFMA()) {
    std::fprintf(stderr, "quantx-peaks: this CPU lacks AVX2/FMA\n");
    return 1;
  }
  // Operations (2 per multiply-add) per loop iteration.
  const double fmaOps = 12 * 8 * 2, maddOps = 12 * 16 * 2;
  double fma1 = measure(fmaLoop, fmaOps, 1, iters, reps);
  double fmaN = measure(fmaLoop, fmaOps, threads, iters, reps);
  double madd1 = measure(maddLoop, maddOps, 1, iters, reps);
  double maddN = measure(maddLoop, maddOps, threads, iters, reps);
  std::printf("{\"threads\": %u, \"fp32_fma_gflops_1\": %.2f, "
              "\"fp32_fma_gflops_n\": %.2f, \"int8_dot_gops_1\": %.2f, "
              "\"int8_dot_gops_n\": %.2f, \"int8_dot_instruction\": "
              "\"vpmaddwd+vpaddd (AVX2)\"}\n",
              threads, fma1 / 1e9, fmaN / 1e9, madd1 / 1e9, maddN / 1e9);
  return 0;
}

#else
int main() {
  std::fprintf(stderr, "quantx-peaks: x86-64 only\n");
  return 1;
}
#endif
