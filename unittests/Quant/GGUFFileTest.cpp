//===- GGUFFileTest.cpp - Tests of the GGUF container reader/writer -------===//
//
// Round trips every metadata value type (nested arrays included), checks the
// byte layout of the header against hand-computed offsets, alignment and
// padding, the automatic quantization version, atomic output, and the clear
// errors for malformed input.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/GGUFFile.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <dirent.h>
#include <unistd.h>

namespace {

using quantx::GGUFError;
using quantx::GGUFFile;
using quantx::GGUFValue;
using quantx::GGUFValueType;
using quantx::GGUFWriter;

std::vector<uint8_t> toBytes(const GGUFWriter &w) {
  std::vector<uint8_t> out;
  w.writeTo([&](const void *d, size_t n) {
    const uint8_t *p = static_cast<const uint8_t *>(d);
    out.insert(out.end(), p, p + n);
  });
  return out;
}

uint64_t readLE(const std::vector<uint8_t> &b, size_t at, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; ++i)
    v |= uint64_t(b[at + i]) << (8 * i);
  return v;
}

/// A writer with one value of every type, arrays of every type, nested
/// arrays and edge values (NaN payloads, -0, extremes, empty strings/arrays).
GGUFWriter everyTypeWriter() {
  GGUFWriter w;
  w.addMetadata("u8", GGUFValue::u8(255));
  w.addMetadata("i8", GGUFValue::i8(-128));
  w.addMetadata("u16", GGUFValue::u16(65535));
  w.addMetadata("i16", GGUFValue::i16(-32768));
  w.addMetadata("u32", GGUFValue::u32(4294967295u));
  w.addMetadata("i32", GGUFValue::i32(std::numeric_limits<int32_t>::min()));
  w.addMetadata("u64", GGUFValue::u64(std::numeric_limits<uint64_t>::max()));
  w.addMetadata("i64", GGUFValue::i64(std::numeric_limits<int64_t>::min()));
  w.addMetadata("f32", GGUFValue::f32(-0.0f));
  GGUFValue nan = GGUFValue::f32(0);
  nan.bits = 0x7fa12345; // a signalling NaN payload must survive
  w.addMetadata("f32nan", nan);
  w.addMetadata("f64", GGUFValue::f64(1e-310));
  w.addMetadata("bool", GGUFValue::boolean(true));
  w.addMetadata("str", GGUFValue::string(std::string("a\0b\xff\"", 5)));
  w.addMetadata("empty.str", GGUFValue::string(""));
  w.addMetadata("arr.u8",
                GGUFValue::array(GGUFValueType::UInt8,
                                 {GGUFValue::u8(1), GGUFValue::u8(2)}));
  w.addMetadata("arr.i16",
                GGUFValue::array(GGUFValueType::Int16, {GGUFValue::i16(-2)}));
  w.addMetadata("arr.f64",
                GGUFValue::array(GGUFValueType::Float64,
                                 {GGUFValue::f64(0.1), GGUFValue::f64(-2.5)}));
  w.addMetadata("arr.bool", GGUFValue::array(GGUFValueType::Bool,
                                             {GGUFValue::boolean(false),
                                              GGUFValue::boolean(true)}));
  w.addMetadata("arr.str", GGUFValue::array(GGUFValueType::String,
                                            {GGUFValue::string("x"),
                                             GGUFValue::string("")}));
  w.addMetadata("arr.empty", GGUFValue::array(GGUFValueType::Int64, {}));
  w.addMetadata(
      "arr.nested",
      GGUFValue::array(
          GGUFValueType::Array,
          {GGUFValue::array(GGUFValueType::UInt32, {GGUFValue::u32(7)}),
           GGUFValue::array(GGUFValueType::String, {GGUFValue::string("y")}),
           GGUFValue::array(GGUFValueType::Array, {})}));
  return w;
}

TEST(GGUFFile, EveryMetadataTypeRoundTrips) {
  GGUFWriter w = everyTypeWriter();
  std::vector<uint8_t> bytes = toBytes(w);
  GGUFFile f = GGUFFile::parse(bytes.data(), bytes.size());
  EXPECT_EQ(f.version(), 3u);
  ASSERT_EQ(f.metadata().size(), 21u);
  GGUFWriter expected = everyTypeWriter();
  // Re-writing what was read gives the same bytes.
  GGUFWriter again;
  for (const auto &kv : f.metadata())
    again.addMetadata(kv.key, kv.value);
  EXPECT_EQ(toBytes(again), bytes);
  EXPECT_EQ(f.find("u8")->asUInt(), 255u);
  EXPECT_EQ(f.find("i8")->asInt(), -128);
  EXPECT_EQ(f.find("u16")->asUInt(), 65535u);
  EXPECT_EQ(f.find("i16")->asInt(), -32768);
  EXPECT_EQ(f.find("u32")->asUInt(), 4294967295u);
  EXPECT_EQ(f.find("i32")->asInt(), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(f.find("u64")->asUInt(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(f.find("i64")->asInt(), std::numeric_limits<int64_t>::min());
  EXPECT_TRUE(std::signbit(f.find("f32")->asFloat()));
  EXPECT_EQ(f.find("f32nan")->bits, 0x7fa12345u);
  EXPECT_EQ(f.find("f64")->asFloat(), 1e-310);
  EXPECT_EQ(f.find("bool")->asUInt(), 1u);
  EXPECT_EQ(f.find("str")->str, std::string("a\0b\xff\"", 5));
  EXPECT_EQ(f.find("arr.f64")->element(1).asFloat(), -2.5);
  EXPECT_EQ(f.find("arr.u8")->arraySize(), 2u);
  EXPECT_EQ(f.find("arr.u8")->element(1).asUInt(), 2u);
  EXPECT_EQ(f.find("arr.bool")->element(1).type, GGUFValueType::Bool);
  EXPECT_EQ(f.find("arr.empty")->elementType, GGUFValueType::Int64);
  const GGUFValue *nested = f.find("arr.nested");
  ASSERT_EQ(nested->elements.size(), 3u);
  EXPECT_EQ(nested->elements[1].elements[0].str, "y");
  EXPECT_EQ(nested->elements[2].elementType, GGUFValueType::Array);
  EXPECT_EQ(f.find("missing"), nullptr);
  EXPECT_THROW(f.find("str")->asInt(), GGUFError);
}

TEST(GGUFFile, HeaderLayoutIsLittleEndianAndInnermostFirst) {
  GGUFWriter w;
  w.addMetadata("k", GGUFValue::u16(0x1234));
  std::vector<float> data(3 * 2, 1.5f);
  w.addTensor("t", 0, {3, 2}, data.data(), data.size() * 4);
  std::vector<uint8_t> b = toBytes(w);
  EXPECT_EQ(std::string(b.begin(), b.begin() + 4), "GGUF");
  EXPECT_EQ(readLE(b, 4, 4), 3u);  // version
  EXPECT_EQ(readLE(b, 8, 8), 1u);  // tensors
  EXPECT_EQ(readLE(b, 16, 8), 1u); // metadata entries (no quantized tensor)
  EXPECT_EQ(readLE(b, 24, 8), 1u); // key length
  EXPECT_EQ(b[32], 'k');
  EXPECT_EQ(readLE(b, 33, 4), 2u); // u16
  EXPECT_EQ(readLE(b, 37, 2), 0x1234u);
  EXPECT_EQ(readLE(b, 39, 8), 1u); // name length
  EXPECT_EQ(b[47], 't');
  EXPECT_EQ(readLE(b, 48, 4), 2u); // dims
  EXPECT_EQ(readLE(b, 52, 8), 3u); // innermost first
  EXPECT_EQ(readLE(b, 60, 8), 2u);
  EXPECT_EQ(readLE(b, 68, 4), 0u); // f32
  EXPECT_EQ(readLE(b, 72, 8), 0u); // offset
  // Header is 80 bytes, padded to 96; data 24 bytes padded to 32.
  ASSERT_EQ(b.size(), 96u + 32u);
  EXPECT_EQ(w.fileSize(), b.size());
  for (size_t i = 80; i < 96; ++i)
    EXPECT_EQ(b[i], 0);
  float first;
  std::memcpy(&first, &b[96], 4);
  EXPECT_EQ(first, 1.5f);
  GGUFFile f = GGUFFile::parse(b.data(), b.size());
  EXPECT_EQ(f.dataOffset(), 96u);
  ASSERT_EQ(f.tensors().size(), 1u);
  EXPECT_EQ(f.tensors()[0].dims, (std::vector<uint64_t>{3, 2}));
  EXPECT_EQ(f.tensors()[0].size, 24u);
  EXPECT_EQ(f.tensorData(0), b.data() + 96);
}

TEST(GGUFFile, AlignmentPadsEveryTensor) {
  for (uint32_t alignment : {1u, 8u, 64u, 4096u}) {
    GGUFWriter w;
    w.setAlignment(alignment);
    std::vector<uint8_t> q(18 * 3, 0xab); // three Q4_0 blocks
    std::vector<uint16_t> h(5, 0x3c00);
    w.addTensor("a", 2, {96}, q.data(), q.size());
    w.addTensor("b", 1, {5}, h.data(), 10);
    w.addTensor("c", 2, {32, 1}, q.data(), 18);
    std::vector<uint8_t> b = toBytes(w);
    GGUFFile f = GGUFFile::parse(b.data(), b.size());
    EXPECT_EQ(f.alignment(), alignment);
    EXPECT_EQ(f.dataOffset() % alignment, 0u);
    EXPECT_EQ(b.size() % alignment, 0u);
    uint64_t expect = 0;
    for (const auto &t : f.tensors()) {
      EXPECT_EQ(t.offset, expect) << alignment;
      EXPECT_EQ(t.offset % alignment, 0u);
      expect = (t.offset + t.size + alignment - 1) / alignment * alignment;
    }
    EXPECT_EQ(std::memcmp(f.tensorData(1), h.data(), 10), 0);
    // The automatic quantization version was appended (Q4_0 present).
    const GGUFValue *qv = f.find("general.quantization_version");
    ASSERT_NE(qv, nullptr);
    EXPECT_EQ(qv->type, GGUFValueType::UInt32);
    EXPECT_EQ(qv->asUInt(), 2u);
  }
}

TEST(GGUFFile, NoQuantizationVersionForFloatTensors) {
  GGUFWriter w;
  float x = 1;
  w.addTensor("x", 0, {1}, &x, 4);
  std::vector<uint8_t> b = toBytes(w);
  GGUFFile f = GGUFFile::parse(b.data(), b.size());
  EXPECT_EQ(f.find("general.quantization_version"), nullptr);
}

TEST(GGUFFile, ProducerTensors) {
  GGUFWriter w;
  w.addTensor("p", 8, {64, 2}, [](uint8_t *out) {
    for (int i = 0; i < 4 * 34; ++i)
      out[i] = uint8_t(i);
  });
  std::vector<uint8_t> b = toBytes(w);
  GGUFFile f = GGUFFile::parse(b.data(), b.size());
  ASSERT_EQ(f.tensors()[0].size, 136u);
  EXPECT_EQ(f.tensorData(0)[135], 135);
}

TEST(GGUFFile, WriterRejectsBadInput) {
  GGUFWriter w;
  std::vector<uint8_t> q(18);
  EXPECT_THROW(w.addMetadata("", GGUFValue::u8(1)), GGUFError);
  w.addMetadata("a", GGUFValue::u8(1));
  EXPECT_THROW(w.addMetadata("a", GGUFValue::u8(1)), GGUFError);
  EXPECT_THROW(w.addMetadata("general.alignment", GGUFValue::u32(48)),
               GGUFError);
  EXPECT_THROW(w.addMetadata("general.alignment", GGUFValue::u64(32)),
               GGUFError);
  EXPECT_THROW(w.setAlignment(0), GGUFError);
  EXPECT_THROW(w.addMetadata("mixed", GGUFValue::array(GGUFValueType::UInt8,
                                                       {GGUFValue::i8(1)})),
               GGUFError);
  // 33 elements is not a multiple of Q4_0's block size.
  EXPECT_THROW(w.addTensor("t", 2, {33}, q.data(), 18), GGUFError);
  // Size mismatch, unknown type, too many dims, no dims, long name.
  EXPECT_THROW(w.addTensor("t", 2, {32}, q.data(), 17), GGUFError);
  EXPECT_THROW(w.addTensor("t", 4, {32}, q.data(), 18), GGUFError);
  EXPECT_THROW(w.addTensor("t", 0, {1, 1, 1, 1, 1}, q.data(), 4), GGUFError);
  EXPECT_THROW(w.addTensor("t", 0, {}, q.data(), 4), GGUFError);
  EXPECT_THROW(w.addTensor(std::string(64, 'n'), 0, {1}, q.data(), 4),
               GGUFError);
  EXPECT_THROW(w.addTensor("t", 0, {uint64_t(1) << 62, 8}, q.data(), 4),
               GGUFError);
  w.addTensor("t", 2, {32}, q.data(), 18);
  EXPECT_THROW(w.addTensor("t", 2, {32}, q.data(), 18), GGUFError);
}

std::vector<std::string> listDir(const std::string &dir) {
  std::vector<std::string> names;
  if (DIR *d = opendir(dir.c_str())) {
    while (dirent *e = readdir(d))
      if (e->d_name[0] != '.' || std::strlen(e->d_name) > 2)
        names.push_back(e->d_name);
    closedir(d);
  }
  names.erase(std::remove(names.begin(), names.end(), ".."), names.end());
  return names;
}

TEST(GGUFFile, AtomicWriteAndOpen) {
  char dirTemplate[] = "/tmp/quantx-gguf-test-XXXXXX";
  ASSERT_NE(mkdtemp(dirTemplate), nullptr);
  std::string dir = dirTemplate;
  std::string path = dir + "/model.gguf";
  GGUFWriter w = everyTypeWriter();
  std::vector<float> data(64, 0.25f);
  w.addTensor("w", 0, {64}, data.data(), 256);
  w.write(path);
  GGUFFile f = GGUFFile::open(path);
  EXPECT_EQ(f.metadata().size(), 21u);
  EXPECT_EQ(std::memcmp(f.tensorData(0), data.data(), 256), 0);
  EXPECT_EQ(listDir(dir), std::vector<std::string>{"model.gguf"});

  // A producer that fails: the old file stays and no temporary is left.
  GGUFWriter bad;
  bad.addTensor("x", 0, {4},
                [](uint8_t *) { throw std::runtime_error("producer failed"); });
  try {
    bad.write(path);
    FAIL() << "write should have thrown";
  } catch (const GGUFError &e) {
    EXPECT_NE(std::string(e.what()).find("producer failed"), std::string::npos);
  }
  EXPECT_EQ(listDir(dir), std::vector<std::string>{"model.gguf"});
  EXPECT_EQ(GGUFFile::open(path).metadata().size(), 21u);

  // Missing directory and missing file give clear errors.
  EXPECT_THROW(w.write(dir + "/no/such/dir/x.gguf"), GGUFError);
  try {
    GGUFFile::open(dir + "/missing.gguf");
    FAIL();
  } catch (const GGUFError &e) {
    EXPECT_NE(std::string(e.what()).find("cannot open"), std::string::npos);
  }
  std::remove(path.c_str());
  rmdir(dir.c_str());
}

/// Parses `bytes` and returns the error message (empty when it parsed).
std::string parseError(const std::vector<uint8_t> &bytes) {
  try {
    GGUFFile::parse(bytes.data(), bytes.size());
  } catch (const GGUFError &e) {
    return e.what();
  }
  return "";
}

void putLE(std::vector<uint8_t> &b, size_t at, uint64_t v, unsigned n) {
  for (unsigned i = 0; i < n; ++i)
    b[at + i] = uint8_t(v >> (8 * i));
}

TEST(GGUFFile, ReaderErrors) {
  GGUFWriter w;
  w.addMetadata("k", GGUFValue::u16(7));
  std::vector<float> data(6, 1.0f);
  w.addTensor("t", 0, {3, 2}, data.data(), 24);
  const std::vector<uint8_t> good = toBytes(w);
  ASSERT_EQ(parseError(good), "");

  auto with = [&](size_t at, uint64_t v, unsigned n) {
    std::vector<uint8_t> b = good;
    putLE(b, at, v, n);
    return parseError(b);
  };
  auto contains = [](const std::string &s, const char *what) {
    return s.find(what) != std::string::npos;
  };
  EXPECT_TRUE(contains(parseError({}), "too short"));
  EXPECT_TRUE(contains(with(0, 0x46554748, 4), "bad magic"));
  EXPECT_TRUE(contains(with(4, 1, 4), "unsupported GGUF version 1"));
  EXPECT_TRUE(contains(with(4, 0x03000000, 4), "big-endian"));
  EXPECT_TRUE(contains(with(8, uint64_t(1) << 60, 8), "tensor count"));
  EXPECT_TRUE(contains(with(16, uint64_t(1) << 60, 8), "metadata count"));
  EXPECT_TRUE(contains(with(24, uint64_t(1) << 40, 8), "has length"));
  EXPECT_TRUE(contains(with(33, 13, 4), "invalid value type 13"));
  EXPECT_TRUE(contains(with(48, 0, 4), "0 dimensions"));
  EXPECT_TRUE(contains(with(48, 5, 4), "5 dimensions"));
  EXPECT_TRUE(contains(with(68, 4, 4), "unknown type id 4"));
  EXPECT_TRUE(contains(with(68, 2, 4), "not a multiple of the block size"));
  EXPECT_TRUE(contains(with(72, 4, 8), "not a multiple of the alignment"));
  EXPECT_TRUE(contains(with(72, 32, 8), "truncated file: tensor 't'"));
  EXPECT_TRUE(contains(with(60, uint64_t(1) << 62, 8), "overflows"));
  // Bool bytes other than 0/1 and a duplicate key.
  EXPECT_TRUE(contains(with(33, 7, 4), "neither 0 nor 1") ||
              contains(with(33, 7, 4), "truncated"));
  std::vector<uint8_t> dup = good;
  {
    GGUFWriter w2;
    w2.addMetadata("k", GGUFValue::u8(1));
    w2.addMetadata("j", GGUFValue::u8(1));
    dup = toBytes(w2);
    dup[24 + 8 + 1 + 4 + 1 + 8] = 'k';
    EXPECT_TRUE(contains(parseError(dup), "duplicate metadata key 'k'"));
  }
  // Every truncation that cuts into the tensor data or before fails
  // cleanly; only the trailing padding after the last tensor may be missing.
  ASSERT_EQ(good.size(), 128u);
  for (size_t n = 0; n < 96 + 24; ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + n);
    EXPECT_TRUE(contains(parseError(cut), "truncated")) << n;
  }
}

TEST(GGUFFile, ReaderRejectsAlignmentAndOverlap) {
  {
    GGUFWriter w;
    w.addMetadata("general.alignment", GGUFValue::u32(64));
    std::vector<uint8_t> b = toBytes(w);
    // The u32 value of general.alignment sits at the end of the entry.
    size_t at = 24 + 8 + 17 + 4;
    putLE(b, at, 48, 4);
    EXPECT_NE(parseError(b).find("not a power of two"), std::string::npos);
    putLE(b, at - 4, 10, 4); // make it a u64 (reads into the padding)
    EXPECT_NE(parseError(b).find("must be a u32"), std::string::npos);
  }
  {
    GGUFWriter w;
    std::vector<float> data(8, 1.0f);
    w.addTensor("a", 0, {8}, data.data(), 32);
    w.addTensor("b", 0, {8}, data.data(), 32);
    std::vector<uint8_t> b = toBytes(w);
    GGUFFile f = GGUFFile::parse(b.data(), b.size());
    ASSERT_EQ(f.tensors()[1].offset, 32u);
    // Tensor b's offset field: header 24 + a's info (8+1+4+8+4+8) + b's
    // name, dims and type.
    size_t at = 24 + 33 + 8 + 1 + 4 + 8 + 4;
    putLE(b, at, 0, 8);
    EXPECT_NE(parseError(b).find("overlap"), std::string::npos);
  }
}

TEST(GGUFFile, TypeTraits) {
  EXPECT_EQ(quantx::ggmlTypeTraits(12)->blockBytes, 144u);
  EXPECT_EQ(quantx::ggmlTypeFromName("Q4_K")->id, 12u);
  EXPECT_FALSE(quantx::ggmlTypeTraits(4).has_value());
  EXPECT_FALSE(quantx::ggmlTypeTraits(30)->quantized);
  EXPECT_EQ(quantx::ggufTensorBytes(14, {512, 3}), 2u * 3u * 210u);
}

TEST(GGUFFile, DumpAndReport) {
  GGUFWriter w;
  w.addMetadata("general.architecture", GGUFValue::string("llama"));
  w.addMetadata("v",
                GGUFValue::array(GGUFValueType::Float32,
                                 {GGUFValue::f32(0.5f), GGUFValue::f32(1.0f),
                                  GGUFValue::f32(2.0f)}));
  std::vector<uint8_t> q(2 * 34);
  w.addTensor("blk.0.w", 8, {32, 2}, q.data(), q.size());
  std::vector<uint8_t> b = toBytes(w);
  GGUFFile f = GGUFFile::parse(b.data(), b.size());
  std::string dump = quantx::ggufDump(f, 2);
  EXPECT_NE(dump.find("general.architecture: str = \"llama\""),
            std::string::npos);
  EXPECT_NE(dump.find("v: arr[f32,3] = [0.5, 1, ... (1 more)]"),
            std::string::npos);
  EXPECT_NE(dump.find("general.quantization_version: u32 = 2"),
            std::string::npos);
  EXPECT_NE(dump.find("0: blk.0.w q8_0 [32, 2] offset 0 size 68"),
            std::string::npos);
  std::string report = quantx::ggufReport(f);
  EXPECT_NE(report.find("8.5000"), std::string::npos) << report;
  EXPECT_NE(report.find("3.765x"), std::string::npos) << report;
}

} // namespace
