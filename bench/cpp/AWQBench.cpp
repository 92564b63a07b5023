//===- AWQBench.cpp - Benchmarks of the AWQ search
//-------------------------===//
//
// The pieces of AWQ on Llama-block shapes (hidden 512, FFN 1024, 1024
// calibration tokens, 4-bit group 128): pseudo-quantization, the scale
// search with the built-in linear, attention and gated-MLP forwards, and
// the clip search. bench/awq.py runs the whole block beside the reference.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/AWQ.h"

#include <benchmark/benchmark.h>

#include <random>
#include <vector>

using namespace quantx;

namespace {

constexpr int64_t kHidden = 512, kFFN = 1024, kTokens = 1024;

std::vector<float> normalMatrix(int64_t rows, int64_t cols, unsigned seed,
                                float scale) {
  std::vector<float> v(size_t(rows * cols));
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  for (float &f : v)
    f = dist(rng);
  return v;
}

/// Activations with a few outlier channels, as AWQ expects.
std::vector<float> activations(int64_t tokens, int64_t cols, unsigned seed) {
  std::vector<float> x = normalMatrix(tokens, cols, seed, 1.0f);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t c : {3, 101, 300})
      x[t * cols + c] *= 30.0f;
  return x;
}

AWQConfig config() {
  AWQConfig c;
  c.bits = 4;
  c.groupSize = 128;
  return c;
}

void BM_AWQPseudoQuantize(benchmark::State &state) {
  std::vector<float> w = normalMatrix(kFFN, kHidden, 1, 0.05f), out(w.size());
  for (auto _ : state) {
    awqPseudoQuantize(w.data(), kFFN, kHidden, config(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * int64_t(w.size()) * 4);
}

void BM_AWQScaleSearchLinear(benchmark::State &state) {
  std::vector<float> x = activations(kTokens, kHidden, 2);
  std::vector<float> w = normalMatrix(kHidden, kHidden, 3, 0.05f);
  for (auto _ : state) {
    AWQScaleResult r = awqSearchScalesLinear({{w.data(), kHidden}}, x.data(),
                                             kTokens, kHidden, config());
    benchmark::DoNotOptimize(r.scales.data());
  }
}

void BM_AWQScaleSearchAttention(benchmark::State &state) {
  std::vector<float> x = activations(kTokens, kHidden, 4);
  std::vector<float> wq = normalMatrix(kHidden, kHidden, 5, 0.05f),
                     wk = normalMatrix(kHidden, kHidden, 6, 0.05f),
                     wv = normalMatrix(kHidden, kHidden, 7, 0.05f),
                     wo = normalMatrix(kHidden, kHidden, 8, 0.05f);
  AWQModuleForward fwd = makeAWQLlamaAttentionForward(
      x.data(), 16, 64, kHidden, 8, 64, 10000.0, wo.data());
  for (auto _ : state) {
    AWQScaleResult r = awqSearchScales(
        {{wq.data(), kHidden}, {wk.data(), kHidden}, {wv.data(), kHidden}},
        x.data(), kTokens, kHidden, fwd, config());
    benchmark::DoNotOptimize(r.scales.data());
  }
}

void BM_AWQScaleSearchGatedMLP(benchmark::State &state) {
  std::vector<float> x = activations(kTokens, kHidden, 9);
  std::vector<float> wg = normalMatrix(kFFN, kHidden, 10, 0.05f),
                     wu = normalMatrix(kFFN, kHidden, 11, 0.05f),
                     wd = normalMatrix(kHidden, kFFN, 12, 0.03f);
  AWQModuleForward fwd =
      makeAWQGatedMLPForward(x.data(), kTokens, kHidden, kFFN, wd.data());
  for (auto _ : state) {
    AWQScaleResult r =
        awqSearchScales({{wg.data(), kFFN}, {wu.data(), kFFN}}, x.data(),
                        kTokens, kHidden, fwd, config());
    benchmark::DoNotOptimize(r.scales.data());
  }
}

void BM_AWQClipSearch(benchmark::State &state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  std::vector<float> x = activations(kTokens, cols, 13);
  std::vector<float> w = normalMatrix(rows, cols, 14, 0.05f);
  for (auto _ : state) {
    AWQClipResult r =
        awqSearchClip(w.data(), rows, cols, x.data(), kTokens, config());
    benchmark::DoNotOptimize(r.maxVal.data());
  }
}

} // namespace

BENCHMARK(BM_AWQPseudoQuantize)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AWQScaleSearchLinear)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AWQScaleSearchAttention)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AWQScaleSearchGatedMLP)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AWQClipSearch)
    ->Args({kHidden, kHidden})
    ->Args({kFFN, kHidden})
    ->Args({kHidden, kFFN})
    ->Unit(benchmark::kMillisecond);
