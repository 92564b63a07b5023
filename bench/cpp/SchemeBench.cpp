//===- SchemeBench.cpp - Benchmarks of quantization and observers ---------===//
//
// Throughput (bytes of float32 input per second) of quantize, dequantize
// and fake-quantize per tensor, per channel and per group of 128, and of
// every observer's observe() on a 4M-element tensor. The range argument is
// the number of threads (1 or all), set with setNumThreads.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/Observer.h"
#include "quantx/Quant/Parallel.h"
#include "quantx/Quant/Scheme.h"

#include <benchmark/benchmark.h>
#include <memory>
#include <random>
#include <vector>

using namespace quantx;

namespace {

constexpr int64_t kRows = 4096, kCols = 1024;

const std::vector<float> &input() {
  static std::vector<float> x = [] {
    std::vector<float> v(kRows * kCols);
    std::mt19937 rng(0);
    std::normal_distribution<float> dist;
    for (float &f : v)
      f = dist(rng);
    return v;
  }();
  return x;
}

QuantScheme schemeFor(int layout) {
  QuantScheme s;
  s.bits = 8;
  if (layout == 1) {
    s.granularity = Granularity::PerAxis;
    s.axis = 0;
  } else if (layout == 2) {
    s.granularity = Granularity::PerGroup;
    s.axis = 1;
    s.groupSize = 128;
  }
  return s;
}

void setThreads(benchmark::State &state) {
  setNumThreads(static_cast<int>(state.range(1)));
}

void BM_Quantize(benchmark::State &state) {
  setThreads(state);
  const auto &x = input();
  QuantScheme s = schemeFor(static_cast<int>(state.range(0)));
  std::vector<int64_t> dims = {kRows, kCols};
  QuantParams p = computeParamsFromData(x.data(), dims, s);
  std::vector<int32_t> q(x.size());
  for (auto _ : state) {
    quantize(x.data(), dims, s, p, q.data());
    benchmark::DoNotOptimize(q.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * x.size() * 4);
  setNumThreads(0);
}

void BM_Dequantize(benchmark::State &state) {
  setThreads(state);
  const auto &x = input();
  QuantScheme s = schemeFor(static_cast<int>(state.range(0)));
  std::vector<int64_t> dims = {kRows, kCols};
  QuantParams p = computeParamsFromData(x.data(), dims, s);
  std::vector<int32_t> q(x.size());
  quantize(x.data(), dims, s, p, q.data());
  std::vector<float> out(x.size());
  for (auto _ : state) {
    dequantize(q.data(), dims, s, p, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * x.size() * 4);
  setNumThreads(0);
}

void BM_FakeQuantize(benchmark::State &state) {
  setThreads(state);
  const auto &x = input();
  QuantScheme s = schemeFor(static_cast<int>(state.range(0)));
  std::vector<int64_t> dims = {kRows, kCols};
  QuantParams p = computeParamsFromData(x.data(), dims, s);
  std::vector<float> out(x.size());
  for (auto _ : state) {
    fakeQuantize(x.data(), dims, s, p, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * x.size() * 4);
  setNumThreads(0);
}

void BM_ComputeParams(benchmark::State &state) {
  setThreads(state);
  const auto &x = input();
  QuantScheme s = schemeFor(static_cast<int>(state.range(0)));
  std::vector<int64_t> dims = {kRows, kCols};
  for (auto _ : state)
    benchmark::DoNotOptimize(computeParamsFromData(x.data(), dims, s));
  state.SetBytesProcessed(int64_t(state.iterations()) * x.size() * 4);
  setNumThreads(0);
}

std::unique_ptr<Observer> makeObserver(int kind) {
  switch (kind) {
  case 0:
    return std::make_unique<MinMaxObserver>();
  case 1:
    return std::make_unique<MovingAverageMinMaxObserver>();
  case 2:
    return std::make_unique<PerChannelMinMaxObserver>(0);
  case 3:
    return std::make_unique<PerChannelMovingAverageMinMaxObserver>(0);
  case 4:
    return std::make_unique<HistogramObserver>();
  case 5:
    return std::make_unique<EntropyObserver>();
  default:
    return std::make_unique<MSEObserver>(QuantScheme());
  }
}

const char *kObserverNames[] = {"MinMax",           "MovingAverage",
                                "PerChannelMinMax", "PerChannelMovingAverage",
                                "Histogram",        "Entropy",
                                "MSE"};

void BM_Observe(benchmark::State &state) {
  const auto &x = input();
  int kind = static_cast<int>(state.range(0));
  state.SetLabel(kObserverNames[kind]);
  auto o = makeObserver(kind);
  std::vector<int64_t> dims = {kRows, kCols};
  for (auto _ : state)
    o->observe(x.data(), dims);
  state.SetBytesProcessed(int64_t(state.iterations()) * x.size() * 4);
}

/// The range computation (percentile / KL search / MSE search) after the
/// histogram is filled; items = one range.
void BM_ObserverRange(benchmark::State &state) {
  const auto &x = input();
  int kind = static_cast<int>(state.range(0));
  state.SetLabel(kObserverNames[kind]);
  auto o = makeObserver(kind);
  o->observe(x.data(), {kRows, kCols});
  for (auto _ : state)
    benchmark::DoNotOptimize(o->ranges());
}

} // namespace

BENCHMARK(BM_Quantize)
    ->ArgsProduct({{0, 1, 2}, {1, 2}})
    ->ArgNames({"layout", "threads"})
    ->UseRealTime();
BENCHMARK(BM_Dequantize)
    ->ArgsProduct({{0, 1, 2}, {1, 2}})
    ->ArgNames({"layout", "threads"})
    ->UseRealTime();
BENCHMARK(BM_FakeQuantize)
    ->ArgsProduct({{0, 1, 2}, {1, 2}})
    ->ArgNames({"layout", "threads"})
    ->UseRealTime();
BENCHMARK(BM_ComputeParams)
    ->ArgsProduct({{0, 1, 2}, {1, 2}})
    ->ArgNames({"layout", "threads"})
    ->UseRealTime();
BENCHMARK(BM_Observe)->DenseRange(0, 6)->ArgName("observer");
BENCHMARK(BM_ObserverRange)->DenseRange(4, 6)->ArgName("observer");
