//===- GPTQBench.cpp - Benchmarks of GPTQ and RTN -------------------------===//
//
// Hessian accumulation (64-token batches), the quantization step of GPTQ
// (4-bit, group 128, act-order) on square layers of 512, 1024 and 2048
// columns, the inverse factor alone, and RTN of the same weights. bench/gptq.py
// runs the full-size 4096 x 4096 case beside the reference implementation.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/GPTQ.h"
#include "quantx/Quant/RTN.h"

#include <benchmark/benchmark.h>
#include <random>
#include <vector>

using namespace quantx;

namespace {

std::vector<float> normalMatrix(int64_t rows, int64_t cols, unsigned seed) {
  std::vector<float> v(size_t(rows * cols));
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  for (float &f : v)
    f = dist(rng);
  return v;
}

void BM_GPTQHessian(benchmark::State &state) {
  const int64_t n = state.range(0), tokens = 2048, batch = 64;
  std::vector<float> x = normalMatrix(tokens, n, 1);
  for (auto _ : state) {
    GPTQ gptq(n);
    for (int64_t t = 0; t < tokens; t += batch)
      gptq.addBatch(x.data() + t * n, batch);
    benchmark::DoNotOptimize(gptq.hessian().data());
  }
  state.SetItemsProcessed(state.iterations() * tokens);
}

void BM_GPTQQuantize(benchmark::State &state) {
  const int64_t n = state.range(0);
  std::vector<float> x = normalMatrix(2048, n, 2);
  std::vector<float> w = normalMatrix(n, n, 3);
  GPTQ gptq(n);
  gptq.addBatch(x.data(), 2048);
  GPTQConfig config;
  config.quantizer.bits = 4;
  config.groupSize = 128;
  config.actOrder = true;
  for (auto _ : state) {
    GPTQResult r = gptq.quantize(w.data(), n, config);
    benchmark::DoNotOptimize(r.codes.data());
  }
  state.SetItemsProcessed(state.iterations() * n * n);
}

void BM_GPTQInverseFactor(benchmark::State &state) {
  // U with U^T U = H^-1 (spotrf + strtri), the factor quantize eliminates
  // with.
  const int64_t n = state.range(0);
  std::vector<float> x = normalMatrix(2 * n, n, 5);
  GPTQ gptq(n);
  gptq.addBatch(x.data(), 2 * n);
  std::vector<float> h = gptq.hessian(), u(size_t(n * n));
  for (auto _ : state) {
    gptqInverseFactor(h.data(), n, u.data());
    benchmark::DoNotOptimize(u.data());
  }
  state.SetItemsProcessed(state.iterations() * n * n);
}

void BM_RTN(benchmark::State &state) {
  const int64_t n = state.range(0);
  std::vector<float> w = normalMatrix(n, n, 4);
  QuantizerConfig config{4, true, false};
  config.mse = state.range(1) != 0;
  for (auto _ : state) {
    RTNResult r = quantizeRTN(w.data(), n, n, config, 128);
    benchmark::DoNotOptimize(r.codes.data());
  }
  state.SetItemsProcessed(state.iterations() * n * n);
}

} // namespace

BENCHMARK(BM_GPTQHessian)
    ->Arg(512)
    ->Arg(1024)
    ->Arg(2048)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GPTQQuantize)
    ->Arg(512)
    ->Arg(1024)
    ->Arg(2048)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GPTQInverseFactor)
    ->Arg(1024)
    ->Arg(2048)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RTN)->Args({1024, 0})->Args({1024, 1})->Unit(
    benchmark::kMillisecond);
