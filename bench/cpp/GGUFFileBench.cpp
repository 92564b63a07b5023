//===- GGUFFileBench.cpp - Benchmarks of the GGUF container writer --------===//
//
// Emission throughput of already-quantized weights: 256 MiB of Q4_0 blocks in
// 16 tensors of 4096 x 7168 elements, written by GGUFWriter (a) to a file in
// the system temporary directory, atomically (temporary file, fsync,
// rename), and (b) to a sink that discards the bytes (the writer's own
// overhead). The ceiling for (a) is measured in the same run: the same bytes
// written with plain write() calls and one fsync to the same directory
// (BM_RawWriteFsync). Set TMPDIR to choose the file system (e.g. /dev/shm to
// take the disk out). Reported as bytes of output per second; the parse of a
// written file is measured too.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/GGUFFile.h"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

using namespace quantx;

namespace {

constexpr int kTensors = 16;
constexpr uint64_t kRows = 4096, kCols = 7168;
constexpr uint32_t kQ4_0 = 2;

const std::vector<std::vector<uint8_t>> &tensors() {
  static const std::vector<std::vector<uint8_t>> data = [] {
    std::vector<std::vector<uint8_t>> v(kTensors);
    std::mt19937_64 rng(11);
    for (auto &t : v) {
      t.resize(ggufTensorBytes(kQ4_0, {kCols, kRows}));
      for (size_t i = 0; i < t.size(); i += 8) {
        uint64_t r = rng();
        for (size_t j = 0; j < 8 && i + j < t.size(); ++j)
          t[i + j] = uint8_t(r >> (8 * j));
      }
    }
    return v;
  }();
  return data;
}

GGUFWriter makeWriter() {
  GGUFWriter w;
  w.addMetadata("general.architecture", GGUFValue::string("llama"));
  w.addMetadata("llama.block_count", GGUFValue::u32(kTensors));
  for (int i = 0; i < kTensors; ++i)
    w.addTensor("blk." + std::to_string(i) + ".ffn_up.weight", kQ4_0,
                {kCols, kRows}, tensors()[i].data(), tensors()[i].size());
  return w;
}

std::string tempPath() {
  const char *dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/quantx-gguf-bench-" +
         std::to_string(::getpid()) + ".gguf";
}

void BM_GGUFWriteFileAtomic(benchmark::State &state) {
  GGUFWriter w = makeWriter();
  std::string path = tempPath();
  for (auto _ : state)
    w.write(path);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(w.fileSize()));
  std::remove(path.c_str());
}
BENCHMARK(BM_GGUFWriteFileAtomic)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_RawWriteFsync(benchmark::State &state) {
  GGUFWriter w = makeWriter();
  std::string path = tempPath();
  for (auto _ : state) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    for (const auto &t : tensors()) {
      const uint8_t *p = t.data();
      size_t left = t.size();
      while (left) {
        ssize_t n = ::write(fd, p, left);
        if (n <= 0) {
          state.SkipWithError("write failed");
          break;
        }
        p += n;
        left -= size_t(n);
      }
    }
    ::fsync(fd);
    ::close(fd);
  }
  uint64_t bytes = 0;
  for (const auto &t : tensors())
    bytes += t.size();
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
  std::remove(path.c_str());
}
BENCHMARK(BM_RawWriteFsync)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_GGUFWriteDiscard(benchmark::State &state) {
  GGUFWriter w = makeWriter();
  for (auto _ : state) {
    size_t total = 0;
    w.writeTo([&](const void *d, size_t n) {
      benchmark::DoNotOptimize(d);
      total += n;
    });
    benchmark::DoNotOptimize(total);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(w.fileSize()));
}
BENCHMARK(BM_GGUFWriteDiscard)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_GGUFOpen(benchmark::State &state) {
  GGUFWriter w = makeWriter();
  std::string path = tempPath();
  w.write(path);
  for (auto _ : state) {
    GGUFFile f = GGUFFile::open(path);
    benchmark::DoNotOptimize(f.tensors().data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(w.fileSize()));
  std::remove(path.c_str());
}
BENCHMARK(BM_GGUFOpen)->Unit(benchmark::kMicrosecond)->UseRealTime();

} // namespace
