//===- GGUFCodecsTest.cpp - GGUF block codec tests ------------------------===//
//
// Byte identity with ggml on the committed golden corpus
// (test/data/gguf/corpus.bin, made by scripts/gen_gguf_vectors.py from ggml's
// own quantizers), hand-computed blocks, and argument errors.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/GGUFCodecs.h"
#include "quantx/Quant/Parallel.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace quantx;

namespace {

struct CorpusVector {
  std::string name;
  std::vector<float> x, imatrix;
};

struct CorpusEntry {
  uint32_t vector, type, withImatrix;
  uint64_t dequantHash;
  std::vector<uint8_t> bytes;
};

struct Corpus {
  std::vector<CorpusVector> vectors;
  std::vector<CorpusEntry> entries;
};

/// Reads the little-endian corpus format documented in
/// scripts/gen_gguf_vectors.py.
class Reader {
public:
  explicit Reader(std::vector<uint8_t> data) : data(std::move(data)) {}
  template <typename T> T get() {
    T v;
    need(sizeof(T));
    std::memcpy(&v, data.data() + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  void bytes(void *out, size_t n) {
    need(n);
    std::memcpy(out, data.data() + pos, n);
    pos += n;
  }
  bool atEnd() const { return pos == data.size(); }

private:
  void need(size_t n) {
    if (pos + n > data.size())
      throw std::runtime_error("corpus file truncated");
  }
  std::vector<uint8_t> data;
  size_t pos = 0;
};

Corpus loadCorpus() {
  std::string path = std::string(QUANTX_TEST_DATA_DIR) + "/gguf/corpus.bin";
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error("cannot open " + path);
  Reader r(std::vector<uint8_t>((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>()));
  char magic[8];
  r.bytes(magic, 8);
  if (std::memcmp(magic, "QXGGUF01", 8) != 0)
    throw std::runtime_error("bad corpus magic");
  Corpus c;
  uint32_t nVectors = r.get<uint32_t>(), nEntries = r.get<uint32_t>();
  for (uint32_t i = 0; i < nVectors; ++i) {
    CorpusVector v;
    v.name.resize(r.get<uint32_t>());
    r.bytes(v.name.data(), v.name.size());
    uint32_t n = r.get<uint32_t>();
    v.x.resize(n);
    v.imatrix.resize(n);
    r.bytes(v.x.data(), n * 4);
    r.bytes(v.imatrix.data(), n * 4);
    c.vectors.push_back(std::move(v));
  }
  for (uint32_t i = 0; i < nEntries; ++i) {
    CorpusEntry e;
    e.vector = r.get<uint32_t>();
    e.type = r.get<uint32_t>();
    e.withImatrix = r.get<uint32_t>();
    e.dequantHash = r.get<uint64_t>();
    e.bytes.resize(r.get<uint32_t>());
    r.bytes(e.bytes.data(), e.bytes.size());
    c.entries.push_back(std::move(e));
  }
  if (!r.atEnd())
    throw std::runtime_error("trailing bytes in corpus");
  return c;
}

const Corpus &corpus() {
  static const Corpus c = loadCorpus();
  return c;
}

uint64_t fnv1a64(const void *data, size_t n) {
  const auto *p = static_cast<const uint8_t *>(data);
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string describe(const CorpusEntry &e) {
  return corpus().vectors[e.vector].name + " / " +
         ggufTypeInfo(GGUFType(e.type)).name +
         (e.withImatrix ? " / imatrix" : "");
}

std::vector<uint8_t> quantize(GGUFType type, const std::vector<float> &x,
                              const float *imatrix = nullptr) {
  std::vector<uint8_t> out(ggufRowSize(type, int64_t(x.size())));
  quantizeRow(type, x.data(), out.data(), int64_t(x.size()), imatrix);
  return out;
}

} // namespace

//===-- Golden corpus -----------------------------------------------------===//

TEST(GGUFCorpus, CoversEveryTypeAndImatrixVariant) {
  std::set<std::pair<uint32_t, uint32_t>> seen;
  for (const CorpusEntry &e : corpus().entries)
    seen.insert({e.type, e.withImatrix});
  for (GGUFType t : kGGUFTypes) {
    if (t == GGUFType::F32)
      continue;
    EXPECT_TRUE(seen.count({uint32_t(t), 0})) << ggufTypeInfo(t).name;
    if (ggufTypeInfo(t).usesImatrix)
      EXPECT_TRUE(seen.count({uint32_t(t), 1})) << ggufTypeInfo(t).name;
  }
  EXPECT_GE(corpus().vectors.size(), 20u);
}

TEST(GGUFCorpus, QuantizeIsByteIdenticalToGGML) {
  for (const CorpusEntry &e : corpus().entries) {
    const CorpusVector &v = corpus().vectors[e.vector];
    std::vector<uint8_t> got = quantize(
        GGUFType(e.type), v.x, e.withImatrix ? v.imatrix.data() : nullptr);
    ASSERT_EQ(got.size(), e.bytes.size()) << describe(e);
    size_t diff = 0;
    for (size_t i = 0; i < got.size(); ++i)
      diff += got[i] != e.bytes[i];
    EXPECT_EQ(diff, 0u) << describe(e) << ": " << diff << " bytes differ";
  }
}

TEST(GGUFCorpus, DequantizeIsBitIdenticalToGGML) {
  for (const CorpusEntry &e : corpus().entries) {
    size_t n = corpus().vectors[e.vector].x.size();
    std::vector<float> y(n);
    dequantizeRow(GGUFType(e.type), e.bytes.data(), y.data(), int64_t(n));
    EXPECT_EQ(fnv1a64(y.data(), n * 4), e.dequantHash) << describe(e);
  }
}

TEST(GGUFCorpus, MultiRowMatchesRowByRowOnAnyThreadCount) {
  // Three copies of every vector as one matrix; each row must come out as
  // the single-row result, whatever the thread count.
  for (const CorpusEntry &e : corpus().entries) {
    const CorpusVector &v = corpus().vectors[e.vector];
    int64_t n = int64_t(v.x.size());
    std::vector<float> x;
    for (int r = 0; r < 3; ++r)
      x.insert(x.end(), v.x.begin(), v.x.end());
    size_t rowBytes = e.bytes.size();
    for (int threads : {1, 2, 3}) {
      setNumThreads(threads);
      std::vector<uint8_t> out(3 * rowBytes);
      quantizeRows(GGUFType(e.type), x.data(), out.data(), 3, n,
                   e.withImatrix ? v.imatrix.data() : nullptr);
      for (int r = 0; r < 3; ++r)
        ASSERT_EQ(0, std::memcmp(out.data() + r * rowBytes, e.bytes.data(),
                                 rowBytes))
            << describe(e) << " row " << r << " threads " << threads;
      std::vector<float> y(3 * size_t(n));
      dequantizeRows(GGUFType(e.type), out.data(), y.data(), 3, n);
      for (int r = 0; r < 3; ++r)
        ASSERT_EQ(fnv1a64(y.data() + r * n, size_t(n) * 4), e.dequantHash)
            << describe(e) << " row " << r;
    }
  }
  setNumThreads(0);
}

//===-- Hand-computed blocks ----------------------------------------------===//

TEST(GGUFCodecs, Q8_0IntegerRampIsExact) {
  // max |x| = 127, so d = 127/127 = 1 (fp16 0x3c00) and q = x.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j)
    x[j] = float(8 * j - 127);
  std::vector<uint8_t> b = quantize(GGUFType::Q8_0, x);
  ASSERT_EQ(b.size(), 34u);
  EXPECT_EQ(b[0], 0x00);
  EXPECT_EQ(b[1], 0x3c);
  for (int j = 0; j < 32; ++j)
    EXPECT_EQ(int8_t(b[2 + j]), 8 * j - 127) << j;
  std::vector<float> y(32);
  dequantizeRow(GGUFType::Q8_0, b.data(), y.data(), 32);
  EXPECT_EQ(y, x);
}

TEST(GGUFCodecs, Q8_0RoundsHalfAwayFromZero) {
  // amax 127 -> d = 1; +-2.5 and +-0.5 round away from zero.
  std::vector<float> x(32, 0.0f);
  x[0] = 127;
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 0.5f;
  x[4] = -0.5f;
  x[5] = 0.49f;
  std::vector<uint8_t> b = quantize(GGUFType::Q8_0, x);
  EXPECT_EQ(int8_t(b[2 + 1]), 3);
  EXPECT_EQ(int8_t(b[2 + 2]), -3);
  EXPECT_EQ(int8_t(b[2 + 3]), 1);
  EXPECT_EQ(int8_t(b[2 + 4]), -1);
  EXPECT_EQ(int8_t(b[2 + 5]), 0);
}

TEST(GGUFCodecs, Q4_0NibbleRamp) {
  // x = j%16 - 8: the first extreme is -8, so d = -8 / -8 = 1 and
  // q = trunc(x + 8.5) = j%16. Byte j holds q_j | q_{j+16} << 4.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j)
    x[j] = float(j % 16 - 8);
  std::vector<uint8_t> b = quantize(GGUFType::Q4_0, x);
  ASSERT_EQ(b.size(), 18u);
  EXPECT_EQ(b[0], 0x00);
  EXPECT_EQ(b[1], 0x3c);
  for (int j = 0; j < 16; ++j)
    EXPECT_EQ(b[2 + j], uint8_t(j | (j << 4))) << j;
}

TEST(GGUFCodecs, Q4_0AllZeroBlockHasNegativeZeroScale) {
  // ggml computes d = max / -8 with max = +0, giving d = -0 (fp16 0x8000),
  // and every level is trunc(0 + 8.5) = 8.
  std::vector<uint8_t> b = quantize(GGUFType::Q4_0, std::vector<float>(32, 0));
  EXPECT_EQ(b[0], 0x00);
  EXPECT_EQ(b[1], 0x80);
  for (int j = 0; j < 16; ++j)
    EXPECT_EQ(b[2 + j], 0x88);
}

TEST(GGUFCodecs, Q4_1NibbleRamp) {
  // min 0, max 15: d = 15/15 = 1, m = 0, q = trunc(x + 0.5) = x.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j)
    x[j] = float(j % 16);
  std::vector<uint8_t> b = quantize(GGUFType::Q4_1, x);
  ASSERT_EQ(b.size(), 20u);
  EXPECT_EQ((std::vector<uint8_t>{b[0], b[1], b[2], b[3]}),
            (std::vector<uint8_t>{0x00, 0x3c, 0x00, 0x00}));
  for (int j = 0; j < 16; ++j)
    EXPECT_EQ(b[4 + j], uint8_t(j | (j << 4))) << j;
}

TEST(GGUFCodecs, Q5_0HighBits) {
  // x = j - 16 for j < 32: extreme -16 -> d = 1, q = j, so the high-bit
  // word has bits 16..31 set and the nibbles are j & 15.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j)
    x[j] = float(j - 16);
  std::vector<uint8_t> b = quantize(GGUFType::Q5_0, x);
  ASSERT_EQ(b.size(), 22u);
  uint32_t qh;
  std::memcpy(&qh, b.data() + 2, 4);
  EXPECT_EQ(qh, 0xffff0000u);
  for (int j = 0; j < 16; ++j)
    EXPECT_EQ(b[6 + j], uint8_t(j | (j << 4))) << j;
}

TEST(GGUFCodecs, Q4_0DequantizeFormula) {
  // d = 0.5 (fp16 0x3800), byte 0x0f: low nibble 15 -> (15-8)*0.5 = 3.5,
  // high nibble 0 -> (0-8)*0.5 = -4.
  std::vector<uint8_t> b(18, 0x0f);
  b[0] = 0x00;
  b[1] = 0x38;
  std::vector<float> y(32);
  dequantizeRow(GGUFType::Q4_0, b.data(), y.data(), 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 3.5f);
    EXPECT_EQ(y[16 + j], -4.0f);
  }
}

TEST(GGUFCodecs, KQuantsOfZeroDequantizeToZero) {
  std::vector<float> zero(256, 0.0f), y(256);
  for (GGUFType t : {GGUFType::Q2_K, GGUFType::Q3_K, GGUFType::Q4_K,
                     GGUFType::Q5_K, GGUFType::Q6_K}) {
    std::vector<uint8_t> b = quantize(t, zero);
    dequantizeRow(t, b.data(), y.data(), 256);
    for (float v : y)
      EXPECT_EQ(v, 0.0f) << ggufTypeInfo(t).name;
  }
  // Q6_K writes an all-zero block for an all-zero input.
  std::vector<uint8_t> b = quantize(GGUFType::Q6_K, zero);
  EXPECT_EQ(b, std::vector<uint8_t>(210, 0));
}

TEST(GGUFCodecs, F16AndBF16RoundToNearestEven) {
  std::vector<float> x = {1.0f, 1.0f + std::ldexp(1.0f, -11), 65520.0f,
                          -0.0f};
  std::vector<uint8_t> h = quantize(GGUFType::F16, x);
  std::vector<uint16_t> hv(4);
  std::memcpy(hv.data(), h.data(), 8);
  EXPECT_EQ(hv, (std::vector<uint16_t>{0x3c00, 0x3c00, 0x7c00, 0x8000}));
  std::vector<uint8_t> bf = quantize(GGUFType::BF16, x);
  std::vector<uint16_t> bv(4);
  std::memcpy(bv.data(), bf.data(), 8);
  EXPECT_EQ(bv, (std::vector<uint16_t>{0x3f80, 0x3f80, 0x4780, 0x8000}));
}

TEST(GGUFCodecs, Q8_0ErrorIsWithinHalfAStep) {
  std::vector<float> x(1024);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = std::sin(0.37f * float(i)) * (1.0f + float(i % 7));
  std::vector<uint8_t> b = quantize(GGUFType::Q8_0, x);
  std::vector<float> y(x.size());
  dequantizeRow(GGUFType::Q8_0, b.data(), y.data(), int64_t(x.size()));
  for (size_t blk = 0; blk < x.size() / 32; ++blk) {
    float amax = 0;
    for (int j = 0; j < 32; ++j)
      amax = std::max(amax, std::fabs(x[blk * 32 + j]));
    // Half a step of d = amax/127, plus the fp16 rounding of d (<= 2^-11
    // relative) times the largest level 127.
    float bound = amax / 127 * 0.5f + amax * 0x1p-11f * 1.01f;
    for (int j = 0; j < 32; ++j)
      EXPECT_LE(std::fabs(y[blk * 32 + j] - x[blk * 32 + j]), bound);
  }
}

//===-- Type table and errors ---------------------------------------------===//

TEST(GGUFCodecs, TypeTableMatchesGGML) {
  struct Row {
    GGUFType t;
    uint32_t id;
    int64_t block;
    size_t bytes;
  };
  for (Row r : {Row{GGUFType::F32, 0, 1, 4}, Row{GGUFType::F16, 1, 1, 2},
                Row{GGUFType::Q4_0, 2, 32, 18}, Row{GGUFType::Q4_1, 3, 32, 20},
                Row{GGUFType::Q5_0, 6, 32, 22}, Row{GGUFType::Q5_1, 7, 32, 24},
                Row{GGUFType::Q8_0, 8, 32, 34}, Row{GGUFType::Q2_K, 10, 256, 84},
                Row{GGUFType::Q3_K, 11, 256, 110},
                Row{GGUFType::Q4_K, 12, 256, 144},
                Row{GGUFType::Q5_K, 13, 256, 176},
                Row{GGUFType::Q6_K, 14, 256, 210},
                Row{GGUFType::BF16, 30, 1, 2}}) {
    const GGUFTypeInfo &info = ggufTypeInfo(r.t);
    EXPECT_EQ(uint32_t(info.type), r.id);
    EXPECT_EQ(info.blockSize, r.block);
    EXPECT_EQ(info.blockBytes, r.bytes);
    EXPECT_EQ(ggufTypeFromId(r.id), r.t);
    EXPECT_EQ(ggufTypeFromName(info.name), r.t);
    EXPECT_EQ(ggufRowSize(r.t, 4096), size_t(4096 / r.block) * r.bytes);
  }
  EXPECT_EQ(ggufTypeFromName("Q4_K"), GGUFType::Q4_K);
  EXPECT_EQ(ggufTypeFromName("q9_0"), std::nullopt);
}

TEST(GGUFCodecs, RejectsLengthsThatAreNotWholeBlocks) {
  std::vector<float> x(300, 1.0f);
  std::vector<uint8_t> out(1024);
  try {
    quantizeRow(GGUFType::Q4_0, x.data(), out.data(), 100);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("not a multiple of the block size 32"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(quantizeRow(GGUFType::Q4_K, x.data(), out.data(), 288),
               std::invalid_argument);
  EXPECT_THROW(dequantizeRow(GGUFType::Q6_K, out.data(), x.data(), 255),
               std::invalid_argument);
  EXPECT_THROW(ggufRowSize(GGUFType::Q5_1, 33), std::invalid_argument);
  EXPECT_THROW(ggufRowSize(GGUFType::Q8_0, -32), std::invalid_argument);
  EXPECT_THROW(quantizeRows(GGUFType::Q8_0, x.data(), out.data(), 2, 40),
               std::invalid_argument);
  EXPECT_THROW(quantizeRows(GGUFType::Q8_0, x.data(), out.data(), -1, 32),
               std::invalid_argument);
}

TEST(GGUFCodecs, RejectsBadTypesAndNullPointers) {
  EXPECT_THROW(ggufTypeFromId(4), std::invalid_argument); // Q4_2: removed
  EXPECT_THROW(ggufTypeInfo(GGUFType(99)), std::invalid_argument);
  std::vector<float> x(32, 1.0f);
  std::vector<uint8_t> out(64);
  EXPECT_THROW(quantizeRow(GGUFType(99), x.data(), out.data(), 32),
               std::invalid_argument);
  EXPECT_THROW(quantizeRow(GGUFType::Q8_0, nullptr, out.data(), 32),
               std::invalid_argument);
  EXPECT_THROW(dequantizeRow(GGUFType::Q8_0, out.data(), nullptr, 32),
               std::invalid_argument);
  // Empty rows are fine and touch nothing.
  EXPECT_NO_THROW(quantizeRow(GGUFType::Q8_0, nullptr, nullptr, 0));
  EXPECT_EQ(ggufRowSize(GGUFType::Q4_K, 0), 0u);
}

TEST(GGUFCodecs, ImatrixIsIgnoredWhereGGMLIgnoresIt) {
  std::vector<float> x(64), w(64, 0.0f);
  for (int i = 0; i < 64; ++i)
    x[i] = std::cos(float(i));
  w[3] = 100;
  EXPECT_EQ(quantize(GGUFType::Q8_0, x, w.data()), quantize(GGUFType::Q8_0, x));
  EXPECT_EQ(quantize(GGUFType::F16, x, w.data()), quantize(GGUFType::F16, x));
  // ...and changes the result where ggml uses it.
  EXPECT_NE(quantize(GGUFType::Q4_0, x, w.data()), quantize(GGUFType::Q4_0, x));
}
