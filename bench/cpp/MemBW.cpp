//===- MemBW.cpp - DRAM read bandwidth probe
//-------------------------------===//
//
// Measures the DRAM read bandwidth of this machine with 1..T threads: each
// thread sums its contiguous slice of a buffer far larger than the last
// level cache with 256-bit loads (several independent accumulators so the
// loads, not the adds, bound the loop). Prints one JSON object:
//   {"bytes": B, "threads": {"1": GB/s, "2": GB/s, ...}}
// taking the best of the repetitions (the least disturbed run).
//
// Usage: quantx-membw [MiB=512] [max-threads=2] [repetitions=7]
//
//===----------------------------------------------------------------------===//

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {

/// Sums `n` floats from `p` (n a multiple of 64) with AVX loads.
float sumSlice(const float *p, size_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0,
         a6 = a0, a7 = a0;
  for (size_t i = 0; i < n; i += 64) {
    a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
    a4 = _mm256_add_ps(a4, _mm256_load_ps(p + i + 32));
    a5 = _mm256_add_ps(a5, _mm256_load_ps(p + i + 40));
    a6 = _mm256_add_ps(a6, _mm256_load_ps(p + i + 48));
    a7 = _mm256_add_ps(a7, _mm256_load_ps(p + i + 56));
  }
  __m256 s = _mm256_add_ps(
      _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
      _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

} // namespace

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 512;
  int maxThreads = argc > 2 ? std::atoi(argv[2]) : 2;
  int reps = argc > 3 ? std::atoi(argv[3]) : 7;
  if (mib < 64 || maxThreads < 1 || reps < 1) {
    std::fprintf(stderr, "usage: quantx-membw [MiB>=64] [threads>=1] "
                         "[repetitions>=1]\n");
    return 1;
  }
  size_t n = mib * (size_t(1) << 20) / sizeof(float);
  n -= n % (64 * 64);
  auto *buf = static_cast<float *>(std::aligned_alloc(64, n * sizeof(float)));
  if (!buf) {
    std::fprintf(stderr, "cannot allocate %zu MiB\n", mib);
    return 1;
  }
  for (size_t i = 0; i < n; ++i)
    buf[i] = float(i & 7);

  std::printf("{\"bytes\": %zu, \"threads\": {", n * sizeof(float));
  volatile float sink = 0;
  for (int t = 1; t <= maxThreads; ++t) {
    double best = 0;
    for (int r = 0; r < reps; ++r) {
      std::vector<std::thread> pool;
      std::vector<float> partial(t);
      size_t slice = n / t;
      slice -= slice % 64;
      auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < t; ++i)
        pool.emplace_back(
            [&, i] { partial[i] = sumSlice(buf + i * slice, slice); });
      for (auto &th : pool)
        th.join();
      double s = std::chrono::duration<double>(
                     std::chrono::steady_clock::now() - start)
                     .count();
      for (float p : partial)
        sink = sink + p;
      best = std::max(best, double(slice) * t * sizeof(float) / s / 1e9);
    }
    std::printf("%s\"%d\": %.3f", t > 1 ? ", " : "", t, best);
  }
  std::printf("}}\n");
  std::free(buf);
  return 0;
}
