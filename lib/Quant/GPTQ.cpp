//===- GPTQ.cpp - GPTQ weight quantization --------------------------------===//
//
// See GPTQ.h. Implementation notes (docs/GPTQ.md has the full story):
//
//  - Calibration batches are copied into a buffer of about 16 MiB and folded
//    into the upper triangle of H with one ssyrk per full buffer:
//    H = N/(N+n) H + 2/(N+n) X^T X, the reference's running average applied
//    to n buffered samples at once.
//  - The upper Cholesky factor U of H^-1 (U^T U = H^-1) comes from one
//    Cholesky factorisation and one triangular inverse: with J the reversal
//    permutation, J H J = V^T V (V upper) gives H^-1 = (J V^-1 J)(J V^-1 J)^T
//    and U = J V^-T J. Read as a row-major array, U is the column-major
//    V^-1 reversed end to end. The reference runs cholesky, cholesky_inverse
//    and a second cholesky for the same matrix.
//  - Inside a block of columns every output row is independent: row r needs
//    only its own weights, the block of U and its group parameters. Group
//    parameters depend on the weights as they stand at the start of the
//    block (the reference computes them from W, which it updates only at
//    block ends), so they are computed first and the rows are then swept
//    in parallel, each kept in L1 while its block is eliminated.
//  - The lazy update of the remaining columns is one sgemm per block.
//
//===----------------------------------------------------------------------===//

#include "quantx/Quant/GPTQ.h"
#include "quantx/Quant/Parallel.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

extern "C" {
// LAPACK (OpenBLAS's optimised implementations).
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
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i]))
      throw std::invalid_argument(std::string("gptq: ") + what +
                                  " contain a NaN or infinite value");
}

void useBlasThreads() { openblas_set_num_threads(getNumThreads()); }

/// Runs OpenBLAS single-threaded while alive (our own threads split the
/// work instead), restoring the thread count on exit, exceptions included.
struct SingleThreadedBlas {
  SingleThreadedBlas() { openblas_set_num_threads(1); }
  ~SingleThreadedBlas() { useBlasThreads(); }
};

/// Rows per SIMD tile of the column sweep (one AVX-512 register of float).
constexpr int64_t kTile = 16;

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

} // namespace

//===----------------------------------------------------------------------===//
// Hessian accumulation
//===----------------------------------------------------------------------===//

GPTQ::GPTQ(int64_t columns) : columns_(columns) {
  if (columns <= 0)
    throw std::invalid_argument("gptq: the layer must have at least one "
                                "input column");
  h_.assign(static_cast<size_t>(columns * columns), 0.0f);
  // About 16 MiB of buffered activations, between 256 and 2048 tokens.
  bufferCapacity_ =
      std::clamp<int64_t>((int64_t(1) << 22) / columns, 256, 2048);
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
    useBlasThreads();
    const double n = double(numSamples_), t = double(numSamples);
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(columns_),
                blasint(tokens), float(2.0 / (n + t)), x, blasint(columns_),
                float(n / (n + t)), h_.data(), blasint(columns_));
    numSamples_ += numSamples;
    return;
  }
  if (buffer_.empty())
    buffer_.resize(static_cast<size_t>(bufferCapacity_ * columns_));
  std::copy(x, x + tokens * columns_,
            buffer_.begin() + bufferedTokens_ * columns_);
  bufferedTokens_ += tokens;
  bufferedSamples_ += numSamples;
}

void GPTQ::flush() {
  if (bufferedTokens_ == 0)
    return;
  useBlasThreads();
  const double n = double(numSamples_), t = double(bufferedSamples_);
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(columns_),
              blasint(bufferedTokens_), float(2.0 / (n + t)), buffer_.data(),
              blasint(columns_), float(n / (n + t)), h_.data(),
              blasint(columns_));
  numSamples_ += bufferedSamples_;
  bufferedTokens_ = 0;
  bufferedSamples_ = 0;
}

std::vector<float> GPTQ::hessian() {
  flush();
  symmetrizeFromUpper(h_.data(), columns_);
  return h_;
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
  symmetrizeFromUpper(h_.data(), n);
  useBlasThreads();

  const QuantizerConfig &qc = config.quantizer;
  const int maxq = qc.maxq();
  const bool grouped = config.groupSize > 0;
  const int64_t gs = grouped ? std::min(config.groupSize, n) : n;
  const int64_t numGroups = (n + gs - 1) / gs;
  const bool staticGroups = grouped && config.staticGroups;

  GPTQResult res;
  res.rows = rows;
  res.cols = n;
  res.groupSize = gs;
  res.numGroups = numGroups;
  res.codes.resize(static_cast<size_t>(rows * n));
  res.scales.resize(static_cast<size_t>(rows * numGroups));
  res.zeros.resize(static_cast<size_t>(rows * numGroups));
  res.gIdx.resize(static_cast<size_t>(n));
  res.perm.resize(static_cast<size_t>(n));

  std::vector<float> colScale(static_cast<size_t>(rows)),
      colZero(static_cast<size_t>(rows));
  auto storeGroup = [&](int64_t g) {
    for (int64_t r = 0; r < rows; ++r) {
      res.scales[size_t(r * numGroups + g)] = colScale[size_t(r)];
      res.zeros[size_t(r * numGroups + g)] = colZero[size_t(r)];
    }
  };

  // Parameters over whole rows come from the weights before dead columns
  // are zeroed, as in the reference.
  if (!grouped) {
    findQuantParams(qc, w, rows, n, n, colScale.data(), colZero.data());
    storeGroup(0);
  }

  // Dead columns.
  std::vector<float> diag(static_cast<size_t>(n));
  std::vector<char> dead(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    float &d = h_[size_t(i * n + i)];
    dead[size_t(i)] = d == 0.0f;
    if (d == 0.0f)
      d = 1.0f;
    diag[size_t(i)] = d;
  }

  if (staticGroups) {
    // From the original weights with dead columns zeroed.
    std::vector<float> block(static_cast<size_t>(rows * gs));
    for (int64_t g = 0; g < numGroups; ++g) {
      const int64_t c0 = g * gs, width = std::min(gs, n - c0);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < width; ++j)
          block[size_t(r * width + j)] =
              dead[size_t(c0 + j)] ? 0.0f : w[r * n + c0 + j];
      findQuantParams(qc, block.data(), rows, width, width, colScale.data(),
                      colZero.data());
      storeGroup(g);
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

  // Working weights in quantization order, dead columns zeroed.
  std::vector<float> wp(static_cast<size_t>(rows * n));
  parallelFor(0, rows, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r)
      for (int64_t k = 0; k < n; ++k) {
        const int64_t c = perm[size_t(k)];
        wp[size_t(r * n + k)] = dead[size_t(c)] ? 0.0f : w[r * n + c];
      }
  });

  // Damped, permuted and reversed Hessian M = J P^T H P J + damp I.
  double diagSum = 0.0;
  for (float d : diag)
    diagSum += d;
  const float damp = float(config.percDamp * (diagSum / double(n)));
  std::vector<float> m(static_cast<size_t>(n * n));
  parallelFor(0, n, 32, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const float *src = h_.data() + int64_t(perm[size_t(n - 1 - i)]) * n;
      float *dst = m.data() + i * n;
      for (int64_t j = 0; j < n; ++j)
        dst[j] = src[perm[size_t(n - 1 - j)]];
      dst[i] += damp;
    }
  });
  // Restore H's diagonal (dead columns were set to 1 above).
  for (int64_t i = 0; i < n; ++i)
    if (dead[size_t(i)])
      h_[size_t(i * n + i)] = 0.0f;

  // Column-major M = V^T V (V upper), then V^-1 in place.
  {
    const blasint nn = blasint(n);
    blasint info = 0;
    spotrf_("U", &nn, m.data(), &nn, &info);
    if (info > 0)
      throw std::runtime_error(
          "gptq: the damped Hessian is not positive definite (Cholesky "
          "failed at column " +
          std::to_string(info) + "); increase percdamp");
    if (info < 0)
      throw std::runtime_error("gptq: spotrf rejected argument " +
                               std::to_string(-info));
    strtri_("U", "N", &nn, m.data(), &nn, &info);
    if (info != 0)
      throw std::runtime_error("gptq: strtri failed with info " +
                               std::to_string(info));
  }
  // Reversed end to end, the buffer is U (row-major, upper).
  {
    const int64_t total = n * n, half = total / 2;
    float *base = m.data();
    parallelFor(0, half, 1 << 20, [&](int64_t lo, int64_t hi) {
      for (int64_t k = lo; k < hi; ++k)
        std::swap(base[k], base[total - 1 - k]);
    });
  }
  const float *u = m.data();

  // Blocks of columns. Inside a block, tiles of kTile rows are eliminated
  // with the rows in SIMD lanes: the tile is stored column by column
  // (tile[i][r]), so quantizing column i and updating column j > i are
  // kTile-wide vector operations. The block's errors are stored transposed
  // (errT[i][r]) for the sgemm.
  const int64_t bs = config.blockSize;
  std::vector<float> hb(static_cast<size_t>(bs * bs));
  std::vector<float> errT(static_cast<size_t>(bs * rows));
  std::vector<double> rowLoss(static_cast<size_t>(rows), 0.0);
  const int64_t numTiles = (rows + kTile - 1) / kTile;
  // Dequantized values and codes in quantization order (restored below).
  // A finished block's columns of wp are never read again, so each tile
  // stores its dequantized values there.
  std::vector<float> &deqP = wp;
  // Codes are written in quantization order and restored row by row.
  std::vector<uint8_t> &codesP = res.codes;
  // OpenBLAS runs single-threaded from here; the sgemm is split by columns
  // over our threads, so no BLAS worker spins while the sweep runs.
  SingleThreadedBlas singleThreadedBlas;
  for (int64_t i1 = 0; i1 < n; i1 += bs) {
    const int64_t i2 = std::min(n, i1 + bs), count = i2 - i1;

    // Group parameters for the groups that start in this block, from the
    // weights as they stand now.
    if (grouped && !staticGroups) {
      for (int64_t k = ((i1 + gs - 1) / gs) * gs; k < i2; k += gs) {
        const int64_t width = std::min(gs, n - k);
        findQuantParams(qc, wp.data() + k, rows, width, n, colScale.data(),
                        colZero.data());
        storeGroup(k / gs);
      }
    }
    for (int64_t i = 0; i < count; ++i)
      std::copy(u + (i1 + i) * n + i1, u + (i1 + i) * n + i2,
                hb.begin() + i * count);

    parallelFor(0, numTiles, 1, [&](int64_t lo, int64_t hi) {
      std::vector<float> tileBuf(static_cast<size_t>(count * kTile));
      std::vector<uint8_t> codeBuf(static_cast<size_t>(count * kTile));
      for (int64_t t = lo; t < hi; ++t) {
        const int64_t r0 = t * kTile, nr = std::min(kTile, rows - r0);
        float *tile = tileBuf.data();
        for (int64_t i = 0; i < count; ++i)
          for (int64_t r = 0; r < kTile; ++r)
            tile[i * kTile + r] =
                r < nr ? wp[static_cast<size_t>((r0 + r) * n + i1 + i)] : 0.0f;
        float s[kTile], z[kTile], lossAcc[kTile] = {};
        int64_t currentGroup = -1;
        for (int64_t i = 0; i < count; ++i) {
          const int64_t g = groupOf(i1 + i);
          if (g != currentGroup) {
            currentGroup = g;
            for (int64_t r = 0; r < kTile; ++r) {
              const size_t p = static_cast<size_t>(
                  std::min(r0 + r, rows - 1) * numGroups + g);
              s[r] = res.scales[p];
              z[r] = res.zeros[p];
            }
          }
          const float *hrow = hb.data() + i * count;
          const float d = hrow[i];
          float *col = tile + i * kTile;
          uint8_t *codeCol = codeBuf.data() + i * kTile;
          float *errRow = errT.data() + i * rows + r0;
          float e[kTile];
          for (int64_t r = 0; r < kTile; ++r) {
            const int code = quantizeCode(col[r], s[r], z[r], maxq);
            const float q = dequantizeCode(code, s[r], z[r], maxq);
            const float diff = col[r] - q;
            lossAcc[r] += diff * diff / (d * d);
            e[r] = diff / d;
            codeCol[r] = uint8_t(code);
            col[r] = q; // The column is done: keep its dequantized value.
          }
          for (int64_t r = 0; r < nr; ++r)
            errRow[r] = e[r];
          for (int64_t j = i + 1; j < count; ++j) {
            const float h = hrow[j];
            float *dst = tile + j * kTile;
            for (int64_t r = 0; r < kTile; ++r)
              dst[r] -= e[r] * h;
          }
        }
        // Results of the tile, in quantization order.
        for (int64_t r = 0; r < nr; ++r) {
          const size_t base = static_cast<size_t>((r0 + r) * n + i1);
          for (int64_t i = 0; i < count; ++i) {
            deqP[base + size_t(i)] = tile[i * kTile + r];
            codesP[base + size_t(i)] = codeBuf[size_t(i * kTile + r)];
          }
          rowLoss[static_cast<size_t>(r0 + r)] += double(lossAcc[r]);
        }
      }
    });

    // Lazy update of the columns after the block, split by columns.
    if (i2 < n) {
      const int64_t rest = n - i2;
      parallelFor(0, rest, 256, [&](int64_t lo, int64_t hi) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasint(rows),
                    blasint(hi - lo), blasint(count), -1.0f, errT.data(),
                    blasint(rows), u + i1 * n + i2 + lo, blasint(n), 1.0f,
                    wp.data() + i2 + lo, blasint(n));
      });
    }
  }
  // Back to the original column order, row by row in place; the working
  // matrix becomes the dequantized result.
  if (config.actOrder) {
    parallelFor(0, rows, 16, [&](int64_t lo, int64_t hi) {
      std::vector<float> rowDeq(static_cast<size_t>(n));
      std::vector<uint8_t> rowCodes(static_cast<size_t>(n));
      for (int64_t r = lo; r < hi; ++r) {
        float *deq = deqP.data() + r * n;
        uint8_t *codes = codesP.data() + r * n;
        std::copy(deq, deq + n, rowDeq.begin());
        std::copy(codes, codes + n, rowCodes.begin());
        for (int64_t k = 0; k < n; ++k) {
          const int64_t c = perm[size_t(k)];
          deq[c] = rowDeq[size_t(k)];
          codes[c] = rowCodes[size_t(k)];
        }
      }
    });
  }
  res.dequantized = std::move(wp);
  double total = 0.0;
  for (double l : rowLoss)
    total += l;
  res.loss = total / 2.0;
  return res;
}

} // namespace quantx
