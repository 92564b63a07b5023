//===- GPTQ.cpp - GPTQ weight quantization --------------------------------===//
//
// See GPTQ.h. Implementation notes (docs/GPTQ.md has the full story):
//
//  - Calibration batches are copied into a buffer of about 64 MiB and folded
//    into the upper triangle of H once per full buffer:
//    H = N/(N+n) H + 2/(N+n) X^T X, the reference's running average applied
//    to n buffered samples at once. The triangle is split into panels of
//    rows, each one ssyrk (its diagonal block) plus one sgemm (the rest of
//    its rows), taken by our threads from a shared counter with OpenBLAS
//    single-threaded.
//  - The reference eliminates with U, the upper Cholesky factor of H^-1
//    (U^T U = H^-1), from cholesky, cholesky_inverse and a second cholesky.
//    Here one Cholesky factorisation gives its inverse: with J the reversal
//    permutation, J H J = V^T V (V upper) gives H^-1 = (J V^-1 J)(J V^-1 J)^T,
//    so U = J V^-T J and G = U^-1 = J V^T J, the factor read as a row-major
//    array reversed end to end. Only U's diagonal 512-column super-blocks
//    are inverted: within a super-block the recurrence runs as the
//    reference's (group parameters come from the weights as its lazy
//    updates leave them at each block start), and each super-block starts
//    with the update of every earlier column at once, D G U_SS, where D is
//    those columns' total change (E U = D for the scaled errors E).
//  - Every output row is independent (per-row group parameters), so the
//    rows are cut into one chunk per thread; each chunk runs the whole
//    blocked elimination alone, with no synchronisation until the end: per
//    block of columns, group parameters, the in-block sweep on tiles of 16
//    rows held in L1 (rows in SIMD lanes, columns in steps of 4 so one pass
//    over the later columns applies four errors), and single-threaded sgemm
//    lazy updates in two levels (the rest of the 512-column super-block
//    after each block; all earlier columns at each super-block start).
//    Shared (not per-row) group parameters need all rows at each block
//    start, so that case runs as one chunk with the tiles in parallel and
//    OpenBLAS threaded.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/GPTQ.h"
#include "quantx/Quant/Parallel.h"

#include <cblas.h>

#ifdef __AVX2__
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>

extern "C" {
// LAPACK (OpenBLAS's optimised implementation).
void spotrf_(const char *uplo, const blasint *n, float *a, const blasint *lda,
             blasint *info);
void strtri_(const char *uplo, const char *diag, const blasint *n, float *a,
             const blasint *lda, blasint *info);
}

namespace quantx {

void GPTQConfig::validate() const {
  quantizer.validate();
  if (staticGroups && groupSize <= 0)
    throw std::invalid_argument("gptq: static groups need a group size > 0");
  if (!(percDamp > 0) || !std::isfinite(percDamp))
    throw std::invalid_argument("gptq: percdamp must be positive and finite");
  if (blockSize <= 0)
    throw std::invalid_argument("gptq: block size must be positive");
}

namespace {

void checkFinite(const float *x, int64_t n, const char *what) {
  // Exponent bits all set: infinite or NaN (an integer test that
  // vectorises), in slices so the error stops the scan early.
  for (int64_t i0 = 0; i0 < n; i0 += 4096) {
    uint32_t bad = 0;
    for (int64_t i = i0, e = std::min(n, i0 + 4096); i < e; ++i) {
      uint32_t bits;
      std::memcpy(&bits, x + i, sizeof(bits));
      bad |= uint32_t((bits & 0x7f800000u) == 0x7f800000u);
    }
    if (bad)
      throw std::invalid_argument(std::string("gptq: ") + what +
                                  " contain a NaN or infinite value");
  }
}

void useBlasThreads() { openblas_set_num_threads(getNumThreads()); }

/// Runs OpenBLAS single-threaded while alive (our own threads split the
/// work instead), restoring the thread count on exit, exceptions included.
struct SingleThreadedBlas {
  SingleThreadedBlas() { openblas_set_num_threads(1); }
  ~SingleThreadedBlas() { useBlasThreads(); }
};

/// Runs `fn(item)` for every item in [0, count) on getNumThreads() threads
/// that take items from a shared counter in increasing order (put the
/// largest items first). Results must not depend on which thread runs an
/// item.
template <typename Fn> void forEachDynamic(int64_t count, Fn fn) {
  std::atomic<int64_t> next{0};
  parallelFor(0, std::min<int64_t>(count, getNumThreads()), 1,
              [&](int64_t, int64_t) {
                for (int64_t k; (k = next.fetch_add(1)) < count;)
                  fn(k);
              });
}

/// A buffer of floats left uninitialised (every element is written before
/// it is read); huge pages for large ones.
LargeBuffer<float> uninitialized(int64_t n) {
  return allocateLarge<float>(static_cast<size_t>(n));
}

/// Rows per SIMD tile of the column sweep.
constexpr int64_t kTile = 16;

#ifdef __AVX2__
/// Transposes the 8 x 8 matrix held in v[0..7] (one row per register).
inline void transpose8x8(__m256 v[8]) {
  __m256 t[8], u[8];
  for (int k = 0; k < 4; ++k) {
    t[2 * k] = _mm256_unpacklo_ps(v[2 * k], v[2 * k + 1]);
    t[2 * k + 1] = _mm256_unpackhi_ps(v[2 * k], v[2 * k + 1]);
  }
  for (int k = 0; k < 2; ++k) {
    u[4 * k] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
    u[4 * k + 1] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0xEE);
    u[4 * k + 2] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
    u[4 * k + 3] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xEE);
  }
  for (int k = 0; k < 4; ++k) {
    v[k] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x20);
    v[k + 4] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x31);
  }
}
#endif
/// Columns whose errors update the rest of a block together.
constexpr int64_t kStep = 4;

/// tile[i * kTile + r] = rows[r][i] for i < count.
void transposeIntoTile(const float *const *rows, int64_t count, float *tile) {
  int64_t i = 0;
#ifdef __AVX2__
  for (; i + 8 <= count; i += 8)
    for (int64_t r0 = 0; r0 < kTile; r0 += 8) {
      __m256 v[8];
      for (int k = 0; k < 8; ++k)
        v[k] = _mm256_loadu_ps(rows[r0 + k] + i);
      transpose8x8(v);
      for (int k = 0; k < 8; ++k)
        _mm256_storeu_ps(tile + (i + k) * kTile + r0, v[k]);
    }
#endif
  for (; i < count; ++i)
    for (int64_t r = 0; r < kTile; ++r)
      tile[i * kTile + r] = rows[r][i];
}

/// rows[r][i] = tile[i * kTile + r] for i < count and the rows that are not
/// null (a prefix).
void transposeFromTile(const float *tile, int64_t count, float *const *rows) {
  int64_t i = 0;
#ifdef __AVX2__
  if (rows[kTile - 1]) {
    for (; i + 8 <= count; i += 8)
      for (int64_t r0 = 0; r0 < kTile; r0 += 8) {
        __m256 v[8];
        for (int k = 0; k < 8; ++k)
          v[k] = _mm256_loadu_ps(tile + (i + k) * kTile + r0);
        transpose8x8(v);
        for (int k = 0; k < 8; ++k)
          _mm256_storeu_ps(rows[r0 + k] + i, v[k]);
      }
  }
#endif
  for (; i < count; ++i)
    for (int64_t r = 0; r < kTile && rows[r]; ++r)
      rows[r][i] = tile[i * kTile + r];
}

/// tile column j -= sum_k e[k] h[k * ld + j] for j in [from, to), k = 0..3
/// in order (each a fused multiply-subtract, as the one-column loop).
void rank4Update(float *tile, const float (*e)[kTile], const float *h,
                 int64_t ld, int64_t from, int64_t to) {
#ifdef __AVX2__
  static_assert(kTile == 16 && kStep == 4, "the kernel holds 4 x 16 errors");
  const __m256 e0l = _mm256_loadu_ps(e[0]), e0h = _mm256_loadu_ps(e[0] + 8);
  const __m256 e1l = _mm256_loadu_ps(e[1]), e1h = _mm256_loadu_ps(e[1] + 8);
  const __m256 e2l = _mm256_loadu_ps(e[2]), e2h = _mm256_loadu_ps(e[2] + 8);
  const __m256 e3l = _mm256_loadu_ps(e[3]), e3h = _mm256_loadu_ps(e[3] + 8);
  for (int64_t j = from; j < to; ++j) {
    const __m256 a0 = _mm256_broadcast_ss(h + j);
    const __m256 a1 = _mm256_broadcast_ss(h + ld + j);
    const __m256 a2 = _mm256_broadcast_ss(h + 2 * ld + j);
    const __m256 a3 = _mm256_broadcast_ss(h + 3 * ld + j);
    float *dst = tile + j * kTile;
    __m256 lo = _mm256_loadu_ps(dst), hi = _mm256_loadu_ps(dst + 8);
    lo = _mm256_fnmadd_ps(e0l, a0, lo);
    hi = _mm256_fnmadd_ps(e0h, a0, hi);
    lo = _mm256_fnmadd_ps(e1l, a1, lo);
    hi = _mm256_fnmadd_ps(e1h, a1, hi);
    lo = _mm256_fnmadd_ps(e2l, a2, lo);
    hi = _mm256_fnmadd_ps(e2h, a2, hi);
    lo = _mm256_fnmadd_ps(e3l, a3, lo);
    hi = _mm256_fnmadd_ps(e3h, a3, hi);
    _mm256_storeu_ps(dst, lo);
    _mm256_storeu_ps(dst + 8, hi);
  }
#else
  for (int64_t j = from; j < to; ++j) {
    float *dst = tile + j * kTile;
    for (int64_t r = 0; r < kTile; ++r) {
      float v = dst[r];
      for (int64_t k = 0; k < kStep; ++k)
        v -= e[k][r] * h[k * ld + j];
      dst[r] = v;
    }
  }
#endif
}

/// Columns per super-block of the lazy updates.
constexpr int64_t kSuperBlock = 512;

/// Fewest rows of H per panel of the Hessian update.
constexpr int64_t kMinPanelRows = 64;

/// Copies the upper triangle of the row-major n x n matrix `a` into its
/// lower triangle, tile by tile.
void symmetrizeFromUpper(float *a, int64_t n) {
  constexpr int64_t tile = 64;
  const int64_t tiles = (n + tile - 1) / tile;
  parallelFor(0, tiles, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t bi = lo; bi < hi; ++bi) {
      const int64_t i0 = bi * tile, i1 = std::min(n, i0 + tile);
      for (int64_t j0 = 0; j0 <= i0; j0 += tile) {
        const int64_t j1 = std::min(n, j0 + tile);
        for (int64_t i = i0; i < i1; ++i)
          for (int64_t j = j0; j < std::min(j1, i); ++j)
            a[i * n + j] = a[j * n + i];
      }
    }
  });
}

/// Upper triangle of the row-major n x n `h` = beta h + alpha x^T x, with
/// x row-major tokens x n. Panels of rows of h with equal work, two per
/// thread, go to our threads (single-threaded OpenBLAS): the diagonal block
/// with ssyrk, the rest of the panel's rows with sgemm. Each panel packs
/// the columns of x right of it once, so panels are as few as balance
/// allows.
void syrkUpperPanels(float *h, const float *x, int64_t n, int64_t tokens,
                     float alpha, float beta) {
  // Panel p starts at row n (1 - sqrt(1 - p / P)): the triangle's area
  // above row a is proportional to n^2 - (n - a)^2.
  const int64_t maxPanels = std::max<int64_t>(1, n / kMinPanelRows);
  const int64_t panels =
      std::min<int64_t>(2 * int64_t(getNumThreads()), maxPanels);
  std::vector<int64_t> starts(static_cast<size_t>(panels + 1));
  for (int64_t p = 0; p <= panels; ++p) {
    const double a = double(n) * (1.0 - std::sqrt(1.0 - double(p) / panels));
    starts[size_t(p)] =
        p == panels ? n : std::min(n, (int64_t(a) + 8) / 16 * 16);
  }
  SingleThreadedBlas singleThreadedBlas;
  forEachDynamic(panels, [&](int64_t p) {
    const int64_t i0 = starts[size_t(p)], i1 = starts[size_t(p + 1)];
    if (i1 <= i0)
      return;
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(i1 - i0),
                blasint(tokens), alpha, x + i0, blasint(n), beta,
                h + i0 * n + i0, blasint(n));
    if (i1 < n)
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasint(i1 - i0),
                  blasint(n - i1), blasint(tokens), alpha, x + i0, blasint(n),
                  x + i1, blasint(n), beta, h + i0 * n + i1, blasint(n));
  });
}

/// On entry the lower triangle of the row-major n x n `m` holds J A J (A
/// symmetric positive definite, J the reversal). On exit `m` holds U, the
/// upper Cholesky factor of A^-1 (U^T U = A^-1, zeros below the diagonal),
/// or with `invert` false its inverse G = U^-1 (upper too), which the
/// factorisation gives without the triangular inverse.
void factorInPlace(float *m, int64_t n, bool invert) {
  // Read as column-major, the lower triangle is the upper one: spotrf("U")
  // gives V^T V = J A J with V upper (column-major), strtri then V^-1. So
  // A^-1 = (J V^-1 J)(J V^-1 J)^T and U = J V^-T J: read as a row-major
  // array, the column-major V^-1 reversed end to end.
  const blasint nn = blasint(n);
  blasint info = 0;
  useBlasThreads();
  spotrf_("U", &nn, m, &nn, &info);
  if (info > 0)
    throw std::runtime_error(
        "gptq: the damped Hessian is not positive definite (Cholesky "
        "failed at column " +
        std::to_string(info) + "); increase percdamp");
  if (info < 0)
    throw std::runtime_error("gptq: spotrf rejected argument " +
                             std::to_string(-info));
  if (invert) {
    strtri_("U", "N", &nn, m, &nn, &info);
    if (info != 0)
      throw std::runtime_error("gptq: strtri failed with info " +
                               std::to_string(info));
  }
  // Reverse end to end (J V^-T J, or J V^T J = U^-1 without the inverse);
  // the lower triangle (row-major) of the buffer was never written, so zero
  // it on the way.
  parallelFor(0, (n + 1) / 2, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      // Row i and row n-1-i trade places reversed.
      float *a = m + i * n, *b = m + (n - 1 - i) * n;
      if (a == b) {
        std::reverse(a, a + n);
      } else {
        for (int64_t j = 0; j < n; ++j)
          std::swap(a[j], b[n - 1 - j]);
      }
      std::fill(a, a + i, 0.0f);
      std::fill(b, b + (n - 1 - i), 0.0f);
    }
  });
}

/// Turns G = U^-1 (row-major, upper) into what the elimination reads when
/// super-blocks of `sbs` columns start from the weights and the errors of
/// all earlier columns at once: for each super-block S, its diagonal block
/// becomes U_SS = (G_SS)^-1 and the block above it G_{<S,S} U_SS. (With D =
/// W - Q the finished columns' total change and E the scaled errors,
/// E U = D, so E_{<S} U_{<S,S} = -D_{<S} G_{<S,S} U_SS: the recurrence's
/// update of S by everything before it, without U's off-diagonal blocks.)
void prepareSuperBlocks(float *g, int64_t n, int64_t sbs) {
  useBlasThreads();
  for (int64_t s1 = 0; s1 < n; s1 += sbs) {
    const int64_t width = std::min(sbs, n - s1);
    float *diag = g + s1 * n + s1;
    // Row-major upper is column-major lower.
    const blasint w = blasint(width), ld = blasint(n);
    blasint info = 0;
    strtri_("L", "N", &w, diag, &ld, &info);
    if (info != 0)
      throw std::runtime_error("gptq: strtri failed with info " +
                               std::to_string(info));
    if (s1 > 0)
      cblas_strmm(CblasRowMajor, CblasRight, CblasUpper, CblasNoTrans,
                  CblasNonUnit, blasint(s1), w, 1.0f, diag, ld, g + s1, ld);
  }
}

} // namespace

void gptqInverseFactor(const float *h, int64_t n, float *u) {
  if (n < 1)
    throw std::invalid_argument("gptq: the matrix must not be empty");
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j)
      u[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)];
  factorInPlace(u, n, /*invert=*/true);
}

//===----------------------------------------------------------------------===//
// Hessian accumulation
//===----------------------------------------------------------------------===//

GPTQ::GPTQ(int64_t columns) : columns_(columns) {
  if (columns <= 0)
    throw std::invalid_argument("gptq: the layer must have at least one "
                                "input column");
  const int64_t size = columns * columns;
  h_ = allocateLarge<float>(static_cast<size_t>(size));
  parallelFor(0, size, int64_t(1) << 20, [&](int64_t lo, int64_t hi) {
    std::fill(h_.get() + lo, h_.get() + hi, 0.0f);
  });
  // About 64 MiB of buffered activations, between 256 and 4096 tokens:
  // fewer, deeper ssyrk/sgemm folds run faster (8192 tokens of 4096
  // columns go in two folds instead of eight).
  bufferCapacity_ =
      std::clamp<int64_t>((int64_t(1) << 24) / columns, 256, 4096);
}

void GPTQ::addBatch(const float *x, int64_t tokens, int64_t numSamples) {
  if (tokens < 1 || numSamples < 1)
    throw std::invalid_argument(
        "gptq: a batch needs at least one token and one sample, got " +
        std::to_string(tokens) + " tokens and " + std::to_string(numSamples) +
        " samples");
  if (!x)
    throw std::invalid_argument("gptq: null batch");
  checkFinite(x, tokens * columns_, "calibration activations");
  if (bufferedTokens_ + tokens > bufferCapacity_)
    flush();
  if (tokens >= bufferCapacity_) {
    // Large batch: fold it in directly.
    const double n = double(numSamples_), t = double(numSamples);
    syrkUpperPanels(h_.get(), x, columns_, tokens, float(2.0 / (n + t)),
                    float(n / (n + t)));
    numSamples_ += numSamples;
    return;
  }
  if (buffer_.empty())
    resizeLarge(buffer_, static_cast<size_t>(bufferCapacity_ * columns_));
  std::copy(x, x + tokens * columns_,
            buffer_.begin() + bufferedTokens_ * columns_);
  bufferedTokens_ += tokens;
  bufferedSamples_ += numSamples;
}

void GPTQ::flush() {
  if (bufferedTokens_ == 0)
    return;
  const double n = double(numSamples_), t = double(bufferedSamples_);
  syrkUpperPanels(h_.get(), buffer_.data(), columns_, bufferedTokens_,
                  float(2.0 / (n + t)), float(n / (n + t)));
  numSamples_ += bufferedSamples_;
  bufferedTokens_ = 0;
  bufferedSamples_ = 0;
}

std::vector<float> GPTQ::hessian() {
  flush();
  symmetrizeFromUpper(h_.get(), columns_);
  return std::vector<float>(h_.get(), h_.get() + columns_ * columns_);
}

//===----------------------------------------------------------------------===//
// Quantization (fasterquant)
//===----------------------------------------------------------------------===//

GPTQResult GPTQ::quantize(const float *w, int64_t rows,
                          const GPTQConfig &config) {
  config.validate();
  if (!w)
    throw std::invalid_argument("gptq: null weights");
  if (rows < 1)
    throw std::invalid_argument("gptq: the weights need at least one row");
  if (numSamples() == 0)
    throw std::invalid_argument(
        "gptq: no calibration data; call addBatch before quantize");
  const int64_t n = columns_;
  checkFinite(w, rows * n, "weights");
  flush();
  symmetrizeFromUpper(h_.get(), n);

  const QuantizerConfig &qc = config.quantizer;
  const int maxq = qc.maxq();
  const bool grouped = config.groupSize > 0;
  const int64_t gs = grouped ? std::min(config.groupSize, n) : n;
  const int64_t numGroups = (n + gs - 1) / gs;
  const bool staticGroups = grouped && config.staticGroups;
  // Parameters computed during the sweep span all rows unless per channel.
  const bool dynamicGroups = grouped && !staticGroups;
  const bool independentRows = !dynamicGroups || qc.perChannel;

  GPTQResult res;
  res.rows = rows;
  res.cols = n;
  res.groupSize = gs;
  res.numGroups = numGroups;
  resizeLarge(res.codes, static_cast<size_t>(rows * n));
  res.scales.resize(static_cast<size_t>(rows * numGroups));
  res.zeros.resize(static_cast<size_t>(rows * numGroups));
  res.gIdx.resize(static_cast<size_t>(n));
  res.perm.resize(static_cast<size_t>(n));
  resizeLarge(res.dequantized, static_cast<size_t>(rows * n));

  auto storeGroup = [&](int64_t g, int64_t r0, int64_t r1, const float *s,
                        const float *z) {
    for (int64_t r = r0; r < r1; ++r) {
      res.scales[size_t(r * numGroups + g)] = s[r - r0];
      res.zeros[size_t(r * numGroups + g)] = z[r - r0];
    }
  };

  // Parameters over whole rows come from the weights before dead columns
  // are zeroed, as in the reference.
  if (!grouped) {
    std::vector<float> s(static_cast<size_t>(rows)),
        z(static_cast<size_t>(rows));
    findQuantParams(qc, w, rows, n, n, s.data(), z.data());
    storeGroup(0, 0, rows, s.data(), z.data());
  }

  // Dead columns.
  std::vector<float> diag(static_cast<size_t>(n));
  std::vector<char> dead(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float d = h_[size_t(i * n + i)];
    dead[size_t(i)] = d == 0.0f;
    diag[size_t(i)] = d == 0.0f ? 1.0f : d;
  }

  if (staticGroups) {
    // From the original weights with dead columns zeroed.
    std::vector<float> block(static_cast<size_t>(rows * gs)),
        s(static_cast<size_t>(rows)), z(static_cast<size_t>(rows));
    for (int64_t g = 0; g < numGroups; ++g) {
      const int64_t c0 = g * gs, width = std::min(gs, n - c0);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < width; ++j)
          block[size_t(r * width + j)] =
              dead[size_t(c0 + j)] ? 0.0f : w[r * n + c0 + j];
      findQuantParams(qc, block.data(), rows, width, width, s.data(), z.data());
      storeGroup(g, 0, rows, s.data(), z.data());
    }
  }

  // Quantization order.
  std::vector<int32_t> &perm = res.perm;
  std::iota(perm.begin(), perm.end(), 0);
  if (config.actOrder)
    std::sort(perm.begin(), perm.end(), [&](int32_t a, int32_t b) {
      // Descending diagonal; ties keep the natural order.
      const float da = diag[size_t(a)], db = diag[size_t(b)];
      return da != db ? da > db : a < b;
    });
  auto groupOf = [&](int64_t k) -> int64_t {
    if (!grouped)
      return 0;
    return staticGroups ? perm[size_t(k)] / gs : k / gs;
  };
  for (int64_t k = 0; k < n; ++k)
    res.gIdx[size_t(perm[size_t(k)])] = int32_t(groupOf(k));

  // Damped, permuted and reversed Hessian M = J P^T H P J + damp I (lower
  // triangle), with dead columns' diagonal set to 1 before dampening.
  double diagSum = 0.0;
  for (float d : diag)
    diagSum += d;
  const float damp = float(config.percDamp * (diagSum / double(n)));
  LargeBuffer<float> m = uninitialized(n * n);
  parallelFor(0, n, 32, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const int64_t pi = perm[size_t(n - 1 - i)];
      const float *src = h_.get() + pi * n;
      float *dst = m.get() + i * n;
      for (int64_t j = 0; j < i; ++j)
        dst[j] = src[perm[size_t(n - 1 - j)]];
      dst[i] = diag[size_t(pi)] + damp;
    }
  });

  // Working weights in quantization order with dead columns zeroed, in
  // the result's buffer (restored to the original order at the end).
  // `change` gets the same starting weights: after each super-block its
  // columns hold the total change D = W - Q instead.
  float *const wp = res.dequantized.data();
  LargeBuffer<float> change = uninitialized(rows * n);
  parallelFor(0, rows, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float *src = w + r * n;
      float *dst = wp + r * n, *start = change.get() + r * n;
      for (int64_t k = 0; k < n; ++k) {
        const int64_t c = perm[size_t(k)];
        dst[k] = start[k] = dead[size_t(c)] ? 0.0f : src[c];
      }
    }
  });

  // Rows [r0, r1): the whole blocked elimination. `inner` splits the tiles
  // over our threads and lets OpenBLAS thread the sgemm (one chunk of all
  // rows); otherwise the chunk runs on the calling thread alone.
  const int64_t bs = config.blockSize;
  // Super-blocks of about kSuperBlock columns, whole blocks and (with
  // parameters taken during the sweep) whole groups, so that the columns a
  // group's parameters read have all earlier updates, as in the reference.
  int64_t sbs = bs;
  for (int64_t k = std::max<int64_t>(1, kSuperBlock / bs); k > 1; --k)
    if (!dynamicGroups || (k * bs) % gs == 0) {
      sbs = k * bs;
      break;
    }

  factorInPlace(m.get(), n, /*invert=*/false);
  prepareSuperBlocks(m.get(), n, sbs);
  const float *u = m.get();
  std::vector<double> rowLoss(static_cast<size_t>(rows), 0.0);
  auto eliminate = [&](int64_t r0, int64_t r1, bool inner) {
    const int64_t nrows = r1 - r0;
    const int64_t numTiles = (nrows + kTile - 1) / kTile;
    // The super-block's scaled errors (w - q) / U_ii, transposed:
    // errT[(i - s1) * nrows + r].
    LargeBuffer<float> errT = uninitialized(std::min(sbs, n) * nrows);
    std::vector<float> s(static_cast<size_t>(nrows)),
        z(static_cast<size_t>(nrows));
    for (int64_t i1 = 0; i1 < n; i1 += bs) {
      const int64_t i2 = std::min(n, i1 + bs), count = i2 - i1;
      const int64_t s1 = i1 / sbs * sbs, s2 = std::min(n, s1 + sbs);
      // A super-block starts: every earlier column's update at once,
      // W[:, S] += D[:, <S] (G_{<S,S} U_SS).
      if (i1 == s1 && s1 > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(nrows),
                    blasint(s2 - s1), blasint(s1), 1.0f, change.get() + r0 * n,
                    blasint(n), u + s1, blasint(n), 1.0f, wp + r0 * n + s1,
                    blasint(n));

      // Parameters of the groups that start in this block, from the
      // weights as they stand now.
      if (dynamicGroups) {
        for (int64_t k = ((i1 + gs - 1) / gs) * gs; k < i2; k += gs) {
          const int64_t width = std::min(gs, n - k);
          findQuantParams(qc, wp + r0 * n + k, nrows, width, n, s.data(),
                          z.data());
          storeGroup(k / gs, r0, r1, s.data(), z.data());
        }
      }

      auto sweep = [&](int64_t lo, int64_t hi) {
        LargeBuffer<float> tileBuf = uninitialized(count * kTile);
        for (int64_t t = lo; t < hi; ++t) {
          const int64_t t0 = r0 + t * kTile, nr = std::min(kTile, r1 - t0);
          float *wt = tileBuf.get();
          // Rows past the chunk repeat its last row (their results are
          // dropped).
          const float *srcRows[kTile];
          for (int64_t r = 0; r < kTile; ++r)
            srcRows[r] = wp + std::min(t0 + r, r1 - 1) * n + i1;
          transposeIntoTile(srcRows, count, wt);
          uint8_t *codeRows[kTile];
          for (int64_t r = 0; r < kTile; ++r)
            codeRows[r] = res.codes.data() + std::min(t0 + r, r1 - 1) * n + i1;

          float sc[kTile], zc[kTile], lossAcc[kTile] = {};
          int64_t currentGroup = -1;
          // Columns in steps of kStep: each column of a step is quantized
          // and updates the rest of its step, then the step's errors update
          // the block's later columns together (kStep FMAs per load and
          // store of a column; per element, the same operations in the same
          // order as one column at a time).
          for (int64_t i0 = 0; i0 < count; i0 += kStep) {
            const int64_t iEnd = std::min(count, i0 + kStep);
            float e[kStep][kTile];
            for (int64_t i = i0; i < iEnd; ++i) {
              const int64_t g = groupOf(i1 + i);
              if (g != currentGroup) {
                currentGroup = g;
                for (int64_t r = 0; r < kTile; ++r) {
                  const size_t p = static_cast<size_t>(
                      std::min(t0 + r, r1 - 1) * numGroups + g);
                  sc[r] = res.scales[p];
                  zc[r] = res.zeros[p];
                }
              }
              const float *hrow = u + (i1 + i) * n + i1;
              const float d = hrow[i];
              float *col = wt + i * kTile;
              float *ei = e[i - i0];
              int32_t codes[kTile];
              for (int64_t r = 0; r < kTile; ++r) {
                const int code = quantizeCode(col[r], sc[r], zc[r], maxq);
                const float q = dequantizeCode(code, sc[r], zc[r], maxq);
                const float diff = col[r] - q;
                lossAcc[r] += diff * diff / (d * d);
                ei[r] = diff / d;
                codes[r] = code;
                col[r] = q; // The column is done: keep its dequantized value.
              }
              for (int64_t r = 0; r < kTile; ++r)
                codeRows[r][i] = uint8_t(codes[r]);
              float *errRow = errT.get() + (i1 - s1 + i) * nrows + (t0 - r0);
              for (int64_t r = 0; r < nr; ++r)
                errRow[r] = ei[r];
              for (int64_t j = i + 1; j < iEnd; ++j) {
                const float h = hrow[j];
                float *dst = wt + j * kTile;
                for (int64_t r = 0; r < kTile; ++r)
                  dst[r] -= ei[r] * h;
              }
            }
            const float *h0 = u + (i1 + i0) * n + i1;
            if (iEnd - i0 == kStep) {
              rank4Update(wt, e, h0, n, iEnd, count);
            } else {
              for (int64_t k = 0; k < iEnd - i0; ++k)
                for (int64_t j = iEnd; j < count; ++j) {
                  const float h = h0[k * n + j];
                  float *dst = wt + j * kTile;
                  for (int64_t r = 0; r < kTile; ++r)
                    dst[r] -= e[k][r] * h;
                }
            }
          }
          // Dequantized values of the tile, in quantization order: the
          // block's columns of wp are never read again.
          float *dstRows[kTile];
          for (int64_t r = 0; r < kTile; ++r)
            dstRows[r] = r < nr ? wp + (t0 + r) * n + i1 : nullptr;
          transposeFromTile(wt, count, dstRows);
          for (int64_t r = 0; r < nr; ++r)
            rowLoss[size_t(t0 + r)] += double(lossAcc[r]);
        }
      };
      if (inner)
        parallelFor(0, numTiles, 1, sweep);
      else
        sweep(0, numTiles);

      // Lazy updates of the rest of the super-block after each block,
      // W[:, i2:s2] -= Err[:, b] U[b, i2:s2].
      if (i2 < s2)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasint(nrows),
                    blasint(s2 - i2), blasint(count), -1.0f,
                    errT.get() + (i1 - s1) * nrows, blasint(nrows),
                    u + i1 * n + i2, blasint(n), 1.0f, wp + r0 * n + i2,
                    blasint(n));
      // A super-block ends: its total change, for the later ones.
      if (i2 == s2 && s2 < n) {
        parallelFor(r0, r1, 64, [&](int64_t lo, int64_t hi) {
          for (int64_t r = lo; r < hi; ++r) {
            float *d = change.get() + r * n;
            const float *q = wp + r * n;
            for (int64_t k = s1; k < s2; ++k)
              d[k] -= q[k];
          }
        });
      }
    }

    // Back to the original column order, row by row.
    if (!config.actOrder)
      return;
    parallelFor(r0, r1, 16, [&](int64_t lo, int64_t hi) {
      LargeBuffer<float> rowDeq = uninitialized(n);
      std::unique_ptr<uint8_t[]> rowCodes(new uint8_t[static_cast<size_t>(n)]);
      for (int64_t r = lo; r < hi; ++r) {
        float *deq = wp + r * n;
        uint8_t *codes = res.codes.data() + r * n;
        std::copy(deq, deq + n, rowDeq.get());
        std::copy(codes, codes + n, rowCodes.get());
        for (int64_t k = 0; k < n; ++k) {
          const int64_t c = perm[size_t(k)];
          deq[c] = rowDeq[size_t(k)];
          codes[c] = rowCodes[size_t(k)];
        }
      }
    });
  };

  if (independentRows) {
    // One chunk per thread: each sgemm packs its block of U once, so fewer,
    // larger chunks pack less. Rows do not depend on their chunk.
    const int64_t chunkRows = (rows + getNumThreads() * kTile - 1) /
                              (getNumThreads() * kTile) * kTile;
    const int64_t chunks = (rows + chunkRows - 1) / chunkRows;
    SingleThreadedBlas singleThreadedBlas;
    forEachDynamic(chunks, [&](int64_t c) {
      SerialRegion serial; // No threads inside a chunk.
      eliminate(c * chunkRows, std::min(rows, (c + 1) * chunkRows),
                /*inner=*/false);
    });
  } else {
    useBlasThreads();
    eliminate(0, rows, /*inner=*/true);
  }

  double total = 0.0;
  for (double l : rowLoss)
    total += l;
  res.loss = total / 2.0;
  return res;
}

} // namespace quantx
