//===- GGUFFileFuzzTest.cpp - Deterministic mutation fuzzing of the reader
//-===//
//
// Mutates a valid GGUF image many thousands of times with a fixed seed
// (truncations, bit flips, huge counts and lengths written over fields,
// inserted and deleted bytes) and requires the reader to either throw
// GGUFError or return a file whose every tensor lies inside the buffer. Each
// mutated image is placed so that it ends exactly at an inaccessible guard
// page: any read past the end crashes the test instead of passing silently.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/GGUFFile.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

namespace {

using quantx::GGUFError;
using quantx::GGUFFile;
using quantx::GGUFValue;
using quantx::GGUFValueType;
using quantx::GGUFWriter;

std::vector<uint8_t> seedImage() {
  GGUFWriter w;
  w.addMetadata("general.architecture", GGUFValue::string("llama"));
  w.addMetadata("general.alignment", GGUFValue::u32(32));
  w.addMetadata("llama.block_count", GGUFValue::u32(2));
  w.addMetadata("f", GGUFValue::f32(1e-5f));
  w.addMetadata("d", GGUFValue::f64(10000.0));
  w.addMetadata("b", GGUFValue::boolean(true));
  w.addMetadata("i", GGUFValue::i64(-3));
  w.addMetadata("tokens", GGUFValue::array(GGUFValueType::String,
                                           {GGUFValue::string("<s>"),
                                            GGUFValue::string("a"),
                                            GGUFValue::string("bc")}));
  w.addMetadata("scores",
                GGUFValue::array(GGUFValueType::Float32,
                                 {GGUFValue::f32(0), GGUFValue::f32(-1)}));
  w.addMetadata("nested",
                GGUFValue::array(GGUFValueType::Array,
                                 {GGUFValue::array(GGUFValueType::Int16,
                                                   {GGUFValue::i16(5)})}));
  static std::vector<uint8_t> data(4096);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = uint8_t(i * 7);
  w.addTensor("token_embd.weight", 2, {64, 2}, data.data(), 4 * 18);
  w.addTensor("blk.0.attn_q.weight", 12, {256, 1}, data.data(), 144);
  w.addTensor("output_norm.weight", 0, {8}, data.data(), 32);
  w.addTensor("x", 30, {4, 2, 1, 1}, data.data(), 16);
  std::vector<uint8_t> out;
  w.writeTo([&](const void *d, size_t n) {
    const uint8_t *p = static_cast<const uint8_t *>(d);
    out.insert(out.end(), p, p + n);
  });
  return out;
}

/// A buffer whose end touches a PROT_NONE page.
class GuardedBuffer {
public:
  explicit GuardedBuffer(size_t capacity) {
    page_ = size_t(sysconf(_SC_PAGESIZE));
    dataPages_ = (capacity + page_ - 1) / page_ + 1;
    base_ = static_cast<uint8_t *>(mmap(nullptr, (dataPages_ + 1) * page_,
                                        PROT_READ | PROT_WRITE,
                                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    mprotect(base_ + dataPages_ * page_, page_, PROT_NONE);
  }
  ~GuardedBuffer() { munmap(base_, (dataPages_ + 1) * page_); }
  /// Copies `bytes` so that they end at the guard page.
  const uint8_t *place(const std::vector<uint8_t> &bytes) {
    uint8_t *end = base_ + dataPages_ * page_;
    uint8_t *start = end - bytes.size();
    if (!bytes.empty())
      std::memcpy(start, bytes.data(), bytes.size());
    return start;
  }

private:
  size_t page_, dataPages_;
  uint8_t *base_;
};

TEST(GGUFFileFuzz, MutatedImagesNeverCrash) {
  const std::vector<uint8_t> seed = seedImage();
  ASSERT_NO_THROW(GGUFFile::parse(seed.data(), seed.size()));
  GuardedBuffer guard(seed.size() + 64);
  std::mt19937_64 rng(0x6767756675);
  const uint64_t huge[] = {~uint64_t(0),
                           uint64_t(1) << 63,
                           uint64_t(1) << 40,
                           0xffffffffu,
                           0x80000000u,
                           uint64_t(seed.size()),
                           uint64_t(seed.size()) + 1,
                           0};
  int parsed = 0, rejected = 0;
  const int iterations = 30000;
  for (int it = 0; it < iterations; ++it) {
    std::vector<uint8_t> b = seed;
    int kind = int(rng() % 6);
    int rounds = 1 + int(rng() % 3);
    for (int r = 0; r < rounds && !b.empty(); ++r) {
      size_t at = rng() % b.size();
      switch (kind) {
      case 0: // truncate
        b.resize(rng() % (b.size() + 1));
        break;
      case 1: // bit flips
        for (int k = 0; k < 1 + int(rng() % 4); ++k)
          b[rng() % b.size()] ^= uint8_t(1u << (rng() % 8));
        break;
      case 2: { // a huge or boundary value over a 4- or 8-byte field
        uint64_t v = huge[rng() % (sizeof(huge) / sizeof(huge[0]))];
        unsigned n = rng() % 2 ? 8 : 4;
        for (unsigned i = 0; i < n && at + i < b.size(); ++i)
          b[at + i] = uint8_t(v >> (8 * i));
        break;
      }
      case 3: // random byte
        b[at] = uint8_t(rng());
        break;
      case 4: // insert bytes
        b.insert(b.begin() + at, 1 + rng() % 9, uint8_t(rng()));
        break;
      default: // delete bytes
        b.erase(b.begin() + at,
                b.begin() + std::min(b.size(), at + 1 + rng() % 9));
        break;
      }
    }
    if (b.size() > seed.size() + 64)
      b.resize(seed.size() + 64);
    const uint8_t *p = guard.place(b);
    try {
      GGUFFile f = GGUFFile::parse(p, b.size());
      ++parsed;
      // Everything the reader accepted must be inside the buffer.
      unsigned sum = 0;
      for (size_t t = 0; t < f.tensors().size(); ++t) {
        const uint8_t *d = f.tensorData(t);
        ASSERT_GE(d, p);
        ASSERT_LE(d + f.tensors()[t].size, p + b.size());
        for (uint64_t i = 0; i < f.tensors()[t].size; ++i)
          sum += d[i];
      }
      (void)sum;
      (void)quantx::ggufDump(f, 4);
      (void)quantx::ggufReport(f);
    } catch (const GGUFError &e) {
      ++rejected;
      ASSERT_NE(std::strlen(e.what()), 0u);
    }
  }
  EXPECT_EQ(parsed + rejected, iterations);
  // Both outcomes occur (the mutations are not all fatal, nor all benign).
  EXPECT_GT(parsed, 100);
  EXPECT_GT(rejected, 100);
}

} // namespace
