//===- Peaks.cpp - This machine's measured arithmetic peaks --------------===//
//
// A measuring tool, not a kernel: times long runs of the peak loops of
// PeakLoops.cpp (fp32 FMA and the exact int8 dot product of AVX2) per core
// and on N threads (--threads, default all) and prints this machine's peaks
// as one JSON object. The best of several repetitions is kept.
//
//===----------------------------------------------------------------------===//

#include "PeakLoops.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#if defined(__x86_64__)
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
  if (!quantx_peaks_supported()) {
    std::fprintf(stderr, "quantx-peaks: this CPU lacks AVX2/FMA\n");
    return 1;
  }
  // The best of `reps` runs.
  auto best = [&](const char *kind, unsigned n) {
    double b = 0;
    for (int r = 0; r < reps; ++r)
      b = std::max(b, quantx_peak_rate(kind, n, iters));
    return b;
  };
  double fma1 = best("fp32_fma", 1), fmaN = best("fp32_fma", threads);
  double madd1 = best("int8_dot", 1), maddN = best("int8_dot", threads);
  std::printf("{\"threads\": %u, \"fp32_fma_gflops_1\": %.2f, "
              "\"fp32_fma_gflops_n\": %.2f, \"int8_dot_gops_1\": %.2f, "
              "\"int8_dot_gops_n\": %.2f, \"int8_dot_instruction\": "
              "\"vpmaddwd+vpaddd (AVX2)\"",
              threads, fma1 / 1e9, fmaN / 1e9, madd1 / 1e9, maddN / 1e9);
  // The AVX-512 forms, on CPUs that have them: vfmadd231ps zmm and the
  // vpdpbusd peaks of VNNI (ymm and zmm).
  for (const char *kind : {"fp32_fma_zmm", "int8_vnni", "int8_vnni_zmm"})
    if (quantx_peak_kind_supported(kind))
      std::printf(", \"%s_gops_1\": %.2f, \"%s_gops_n\": %.2f", kind,
                  best(kind, 1) / 1e9, kind, best(kind, threads) / 1e9);
  std::printf("}\n");
  return 0;
}

#else
int main() {
  std::fprintf(stderr, "quantx-peaks: x86-64 only\n");
  return 1;
}
#endif
