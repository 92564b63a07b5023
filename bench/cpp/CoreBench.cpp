//===- CoreBench.cpp - Benchmarks of the scalar conversions ---------------===//

#include "quantx/Quant/Float16.h"

#include <benchmark/benchmark.h>
#include <random>
#include <vector>

static void BM_FloatToFp16(benchmark::State &state) {
  std::vector<float> in(1 << 16);
  std::mt19937 rng(0);
  std::normal_distribution<float> dist;
  for (float &v : in)
    v = dist(rng);
  std::vector<uint16_t> out(in.size());
  for (auto _ : state) {
    for (size_t i = 0; i < in.size(); ++i)
      out[i] = quantx::floatToFp16(in[i]);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * in.size() * 4);
}
BENCHMARK(BM_FloatToFp16);
