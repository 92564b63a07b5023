//===- GGUFSearch.cpp - Scale searches of the GGUF quantizers -------------===//
//
// The scale/min searches that the K-quants and the importance-weighted legacy
// quantizers run per group of 16 or 32 values. Each follows ggml's algorithm
// step by step, including the order of every float operation, the int/float
// conversions and the strictness of every comparison, because the chosen
// levels (and so the output bytes) depend on the last bit of each sum.
//
//===----------------------------------------------------------------------===//

#pragma STDC FP_CONTRACT OFF

#include "GGUFKernels.h"

#include <algorithm>
#include <cstring>

namespace quantx::gguf {

/// Groups whose largest magnitude is below this are treated as all zero.
static constexpr float kGroupZeroEps = 1e-15f;

/// Index of the first element of largest magnitude (NaNs never win), and
/// that element's value; value 0 when every magnitude is 0 or NaN.
static float signedAbsMax(int n, const float *x, float &absMax) {
  float best = 0;
  absMax = 0;
  for (int i = 0; i < n; ++i) {
    float a = std::fabs(x[i]);
    if (a > absMax) {
      absMax = a;
      best = x[i];
    }
  }
  return best;
}

float searchSymmetricScale(int n, int nmax, const float *x, int8_t *levels,
                           const float *weights) {
  float absMax;
  float peak = signedAbsMax(n, x, absMax);
  if (absMax < kGroupZeroEps) {
    std::memset(levels, 0, size_t(n));
    return 0.f;
  }
  auto weightOf = [&](int i) { return weights ? weights[i] : x[i] * x[i]; };
  auto clampLevel = [&](int l) { return std::max(-nmax, std::min(nmax - 1, l)); };

  // Plain rounding at the scale that maps the peak onto level -nmax.
  float invScale = float(-nmax) / peak;
  float sumLX = 0, sumL2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = clampLevel(nearestInt(invScale * x[i]));
    levels[i] = int8_t(l + nmax);
    float w = weightOf(i);
    sumLX += w * x[i] * float(l);
    sumL2 += w * float(l) * float(l);
  }
  float scale = sumL2 != 0 ? sumLX / sumL2 : 0.0f;
  float best = scale * sumLX;
  // Try 18 nearby inverse scales; keep the one with the best weighted fit.
  for (int step = -9; step <= 9; ++step) {
    if (step == 0)
      continue;
    invScale = -(float(nmax) + 0.1f * float(step)) / peak;
    sumLX = sumL2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = clampLevel(nearestInt(invScale * x[i]));
      float w = weightOf(i);
      sumLX += w * x[i] * float(l);
      sumL2 += w * float(l) * float(l);
    }
    if (sumL2 > 0 && sumLX * sumLX > best * sumL2) {
      for (int i = 0; i < n; ++i)
        levels[i] = int8_t(nmax + clampLevel(nearestInt(invScale * x[i])));
      scale = sumLX / sumL2;
      best = scale * sumLX;
    }
  }
  return scale;
}

float searchQ3Scale(int n, int nmax, const float *x, int8_t *levels) {
  float absMax;
  float peak = signedAbsMax(n, x, absMax);
  if (absMax < kGroupZeroEps) {
    std::memset(levels, 0, size_t(n));
    return 0.f;
  }
  auto clampLevel = [&](int l) { return std::max(-nmax, std::min(nmax - 1, l)); };
  float invScale = float(-nmax) / peak;
  float sumLX = 0, sumL2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = clampLevel(nearestInt(invScale * x[i]));
    levels[i] = int8_t(l);
    float w = x[i] * x[i];
    sumLX += w * x[i] * float(l);
    sumL2 += w * float(l) * float(l);
  }
  // Coordinate descent: move one level at a time to the value that is
  // optimal given the others, if that improves sumLX^2 / sumL2.
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      float w = x[i] * x[i];
      float slx = sumLX - w * x[i] * float(levels[i]);
      if (slx > 0) {
        float sl2 = sumL2 - w * float(levels[i]) * float(levels[i]);
        int newL = clampLevel(nearestInt(x[i] * sl2 / slx));
        if (newL != levels[i]) {
          slx += w * x[i] * float(newL);
          sl2 += w * float(newL) * float(newL);
          if (sl2 > 0 && slx * slx * sumL2 > sumLX * sumLX * sl2) {
            levels[i] = int8_t(newL);
            sumLX = slx;
            sumL2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (!changed)
      break;
  }
  for (int i = 0; i < n; ++i)
    levels[i] = int8_t(levels[i] + nmax);
  return sumLX / sumL2;
}

float searchAffineScale(int n, int nmax, const float *x, const float *weights,
                        uint8_t *levels, float *negMin, uint8_t *scratch,
                        float rmin, float rdelta, int nstep, bool useMad) {
  float lo = x[0], hi = x[0];
  float sumW = weights[0];
  float sumX = sumW * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < lo)
      lo = x[i];
    if (x[i] > hi)
      hi = x[i];
    float w = weights[i];
    sumW += w;
    sumX += w * x[i];
  }
  if (lo > 0)
    lo = 0;
  if (hi <= lo) { // constant group: all levels 0
    std::memset(levels, 0, size_t(n));
    *negMin = -lo;
    return 0.f;
  }
  auto errorOf = [&](float diff) { return useMad ? std::fabs(diff) : diff * diff; };
  auto clampLevel = [&](int l) { return std::max(0, std::min(nmax, l)); };

  // `min` moves to the best candidate's min as the search goes on, and the
  // later candidates are measured from it (as in ggml).
  float min = lo;
  float invScale = float(nmax) / (hi - min);
  float scale = 1 / invScale;
  float bestError = 0;
  for (int i = 0; i < n; ++i) {
    levels[i] = uint8_t(clampLevel(nearestInt(invScale * (x[i] - min))));
    float diff = scale * float(levels[i]) + min - x[i];
    bestError += weights[i] * errorOf(diff);
  }
  if (nstep < 1) {
    *negMin = -min;
    return scale;
  }
  for (int step = 0; step <= nstep; ++step) {
    invScale = (rmin + rdelta * float(step) + float(nmax)) / (hi - min);
    float sumL = 0, sumL2 = 0, sumXL = 0;
    for (int i = 0; i < n; ++i) {
      int l = clampLevel(nearestInt(invScale * (x[i] - min)));
      scratch[i] = uint8_t(l);
      float w = weights[i];
      sumL += w * float(l);
      sumL2 += w * float(l) * float(l);
      sumXL += w * float(l) * x[i];
    }
    // Weighted least squares for x ~ scale * l + min over these levels.
    float det = sumW * sumL2 - sumL * sumL;
    if (det > 0) {
      float thisScale = (sumW * sumXL - sumX * sumL) / det;
      float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = sumXL / sumL2;
      }
      float error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = thisScale * float(scratch[i]) + thisMin - x[i];
        error += weights[i] * errorOf(diff);
      }
      if (error < bestError) {
        std::memcpy(levels, scratch, size_t(n));
        bestError = error;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  *negMin = -min;
  return scale;
}

float searchPositiveScale(int n, int nmax, const float *x, uint8_t *levels,
                          const float *weights) {
  float peak = 0;
  for (int i = 0; i < n; ++i)
    peak = peak > x[i] ? peak : x[i];
  if (peak == 0) {
    std::memset(levels, 0, size_t(n));
    return 0.f;
  }
  float invScale = float(nmax) / peak;
  for (int i = 0; i < n; ++i)
    levels[i] = uint8_t(nearestInt(invScale * x[i]));
  float scale = 1 / invScale;
  float bestMse = 0;
  for (int i = 0; i < n; ++i) {
    float diff = x[i] - scale * float(levels[i]);
    bestMse += weights[i] * diff * diff;
  }
  for (int step = -4; step <= 4; ++step) {
    if (step == 0)
      continue;
    float tryInv = (0.1f * float(step) + float(nmax)) / peak;
    float tryScale = 1 / tryInv;
    float mse = 0;
    for (int i = 0; i < n; ++i) {
      int l = std::min(nmax, nearestInt(tryInv * x[i]));
      float diff = x[i] - tryScale * float(l);
      mse += weights[i] * diff * diff;
    }
    if (mse < bestMse) {
      bestMse = mse;
      invScale = tryInv;
    }
  }
  float sumLX = 0, sumL2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = std::min(nmax, nearestInt(invScale * x[i]));
    levels[i] = uint8_t(l);
    float w = weights[i];
    sumLX += w * x[i] * float(l);
    sumL2 += w * float(l) * float(l);
  }
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      float w = weights[i];
      float slx = sumLX - w * x[i] * float(levels[i]);
      float sl2 = sumL2 - w * float(levels[i]) * float(levels[i]);
      if (slx > 0 && sl2 > 0) {
        int newL = std::min(nmax, nearestInt(x[i] * sl2 / slx));
        if (newL != levels[i]) {
          slx += w * x[i] * float(newL);
          sl2 += w * float(newL) * float(newL);
          if (slx * slx * sumL2 > sumLX * sumLX * sl2) {
            levels[i] = uint8_t(newL);
            sumLX = slx;
            sumL2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (!changed)
      break;
  }
  return sumLX / sumL2;
}

} // namespace quantx::gguf
