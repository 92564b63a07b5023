//===- NpzTest.cpp - Tests of the .npz reader and writer ------------------===//
//
// Round trips through writeNpz/parseNpz, a deflated member made with zlib,
// and many seeded mutations of valid archives, each of which must either
// parse or be rejected with a message (never read out of bounds: run under
// a sanitizer to make that strict).
//
//===----------------------------------------------------------------------===//

#include "quantx/Runtime/Npz.h"

#include "gtest/gtest.h"

#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <unistd.h>

namespace {

std::vector<uint8_t> readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<quantx::NpzEntry> sampleEntries() {
  quantx::NpzEntry a, b;
  a.name = "arg0";
  a.array.dtype = quantx::NpyDType::f32;
  a.array.shape = {2, 3};
  for (int i = 0; i < 6; ++i) {
    float v = 0.5f * i - 1;
    const auto *p = reinterpret_cast<const uint8_t *>(&v);
    a.array.data.insert(a.array.data.end(), p, p + 4);
  }
  b.name = "arg1";
  b.array.dtype = quantx::NpyDType::i8;
  b.array.shape = {5};
  b.array.data = {1, 2, 3, 0x80, 0x7f};
  return {a, b};
}

std::vector<uint8_t> sampleArchive() {
  std::string path =
      ::testing::TempDir() + "npztest-" + std::to_string(::getpid()) + ".npz";
  std::string error;
  EXPECT_TRUE(quantx::writeNpz(path, sampleEntries(), error)) << error;
  std::vector<uint8_t> bytes = readAll(path);
  std::remove(path.c_str());
  return bytes;
}

TEST(NpzTest, RoundTrips) {
  std::vector<uint8_t> bytes = sampleArchive();
  std::vector<quantx::NpzEntry> entries;
  std::string error;
  ASSERT_TRUE(quantx::parseNpz(bytes.data(), bytes.size(), entries, error))
      << error;
  std::vector<quantx::NpzEntry> expected = sampleEntries();
  ASSERT_EQ(entries.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(entries[i].name, expected[i].name);
    EXPECT_EQ(entries[i].array.dtype, expected[i].array.dtype);
    EXPECT_EQ(entries[i].array.shape, expected[i].array.shape);
    EXPECT_EQ(entries[i].array.data, expected[i].array.data);
  }
}

/// Rewrites the first member of a stored archive as a deflated one.
std::vector<uint8_t> deflateFirstMember(const std::vector<uint8_t> &stored) {
  auto get = [&](size_t at, int width) {
    uint32_t v = 0;
    for (int i = 0; i < width; ++i)
      v |= uint32_t(stored[at + i]) << (8 * i);
    return v;
  };
  auto put = [](std::vector<uint8_t> &out, size_t at, uint32_t v, int width) {
    for (int i = 0; i < width; ++i)
      out[at + i] = uint8_t(v >> (8 * i));
  };
  uint32_t size = get(18, 4), nameLen = get(26, 2);
  size_t dataAt = 30 + nameLen;
  std::vector<uint8_t> packed(compressBound(size) + 64);
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
            Z_OK);
  zs.next_in = const_cast<uint8_t *>(stored.data() + dataAt);
  zs.avail_in = size;
  zs.next_out = packed.data();
  zs.avail_out = packed.size();
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  packed.resize(zs.total_out);
  deflateEnd(&zs);
  // Local header + packed data + the rest of the archive, offsets shifted.
  std::vector<uint8_t> out(stored.begin(), stored.begin() + dataAt);
  put(out, 8, 8, 2);
  put(out, 18, packed.size(), 4);
  out.insert(out.end(), packed.begin(), packed.end());
  size_t shift = size - packed.size();
  size_t rest = out.size();
  out.insert(out.end(), stored.begin() + dataAt + size, stored.end());
  // Patch the central directory: method and compressed size of the first
  // entry, local offsets of the others, and the directory offset.
  size_t end = out.size() - 22;
  uint32_t dirOffset = get(stored.size() - 22 + 16, 4) - shift;
  put(out, end + 16, dirOffset, 4);
  for (size_t pos = dirOffset; pos < end;) {
    size_t n = out[pos + 28] | out[pos + 29] << 8;
    uint32_t local = out[pos + 42] | out[pos + 43] << 8 | out[pos + 44] << 16 |
                     uint32_t(out[pos + 45]) << 24;
    if (local == 0) {
      put(out, pos + 10, 8, 2);
      put(out, pos + 20, packed.size(), 4);
    } else {
      put(out, pos + 42, local - shift, 4);
    }
    pos += 46 + n;
  }
  (void)rest;
  return out;
}

TEST(NpzTest, ReadsDeflatedMembers) {
  std::vector<uint8_t> bytes = deflateFirstMember(sampleArchive());
  std::vector<quantx::NpzEntry> entries;
  std::string error;
  ASSERT_TRUE(quantx::parseNpz(bytes.data(), bytes.size(), entries, error))
      << error;
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].array.data, sampleEntries()[0].array.data);
  EXPECT_EQ(entries[1].array.data, sampleEntries()[1].array.data);
}

TEST(NpzTest, MutationsParseOrFailWithAMessage) {
  std::mt19937 rng(1234);
  for (const std::vector<uint8_t> &base :
       {sampleArchive(), deflateFirstMember(sampleArchive())}) {
    for (int k = 0; k < 4000; ++k) {
      std::vector<uint8_t> bytes = base;
      int flips = 1 + rng() % 4;
      for (int f = 0; f < flips; ++f)
        bytes[rng() % bytes.size()] = uint8_t(rng());
      if (rng() % 4 == 0)
        bytes.resize(rng() % bytes.size());
      std::vector<quantx::NpzEntry> entries;
      std::string error;
      if (!quantx::parseNpz(bytes.data(), bytes.size(), entries, error))
        EXPECT_FALSE(error.empty());
    }
  }
}

TEST(NpzTest, RejectsEveryTruncation) {
  std::vector<uint8_t> bytes = sampleArchive();
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<quantx::NpzEntry> entries;
    std::string error;
    EXPECT_FALSE(quantx::parseNpz(bytes.data(), n, entries, error)) << n;
    EXPECT_FALSE(error.empty());
  }
}

} // namespace
