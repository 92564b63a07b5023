//===- GGUFBench.cpp - Benchmarks of the GGUF block codecs ----------------===//
//
// Single-thread quantize and dequantize throughput of every GGUF type on a
// 64 x 4096 matrix of normal values (4 MiB of float32), reported as bytes of
// float32 per second; plus the imatrix quantizers and the threaded
// multi-row entry points for Q4_0 and Q8_0.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/GGUFCodecs.h"
#include "quantx/Quant/Parallel.h"

#include <benchmark/benchmark.h>
#include <random>
#include <vector>

using namespace quantx;

namespace {

constexpr int64_t kRows = 64, kCols = 4096;

const std::vector<float> &input() {
  static const std::vector<float> x = [] {
    std::vector<float> v(static_cast<size_t>(kRows * kCols));
    std::mt19937 rng(7);
    std::normal_distribution<float> dist;
    for (float &f : v)
      f = dist(rng);
    return v;
  }();
  return x;
}

const std::vector<float> &importance() {
  static const std::vector<float> w = [] {
    std::vector<float> v(static_cast<size_t>(kCols));
    std::mt19937 rng(8);
    std::lognormal_distribution<float> dist;
    for (float &f : v)
      f = dist(rng);
    return v;
  }();
  return w;
}

void bmQuantize(benchmark::State &state, GGUFType type, bool withImatrix,
                int threads) {
  setNumThreads(threads);
  const std::vector<float> &x = input();
  std::vector<uint8_t> out(ggufRowSize(type, kCols) * kRows);
  const float *w = withImatrix ? importance().data() : nullptr;
  for (auto _ : state) {
    quantizeRows(type, x.data(), out.data(), kRows, kCols, w);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * kRows * kCols * 4);
  setNumThreads(0);
}

void bmDequantize(benchmark::State &state, GGUFType type, int threads) {
  setNumThreads(threads);
  const std::vector<float> &x = input();
  std::vector<uint8_t> q(ggufRowSize(type, kCols) * kRows);
  quantizeRows(type, x.data(), q.data(), kRows, kCols);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    dequantizeRows(type, q.data(), y.data(), kRows, kCols);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * kRows * kCols * 4);
  setNumThreads(0);
}

int registerAll() {
  for (GGUFType t : kGGUFTypes) {
    std::string name = ggufTypeInfo(t).name;
    benchmark::RegisterBenchmark(("GGUFQuantize/" + name).c_str(), bmQuantize,
                                 t, false, 1);
    if (ggufTypeInfo(t).usesImatrix)
      benchmark::RegisterBenchmark(("GGUFQuantizeImatrix/" + name).c_str(),
                                   bmQuantize, t, true, 1);
    benchmark::RegisterBenchmark(("GGUFDequantize/" + name).c_str(),
                                 bmDequantize, t, 1);
  }
  for (GGUFType t : {GGUFType::Q4_0, GGUFType::Q8_0}) {
    std::string name = ggufTypeInfo(t).name;
    benchmark::RegisterBenchmark(("GGUFQuantizeAllThreads/" + name).c_str(),
                                 bmQuantize, t, false, 0)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("GGUFDequantizeAllThreads/" + name).c_str(),
                                 bmDequantize, t, 0)
        ->UseRealTime();
  }
  return 0;
}

const int registered = registerAll();

} // namespace
