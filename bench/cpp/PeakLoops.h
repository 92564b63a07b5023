//===- PeakLoops.h - Timed runs of independent x86 vector instructions ----===//
//
// C interface of libquantx_peaks (PeakLoops.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_BENCH_PEAKLOOPS_H
#define QUANTX_BENCH_PEAKLOOPS_H

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when this CPU runs the loops (x86-64 with AVX2 and FMA), else 0.
int quantx_peaks_supported(void);

/// 1 when this CPU runs the `kind` loop: "fp32_fma" (vfmadd231ps ymm),
/// "int8_dot" (vpmaddwd + vpaddd ymm), "fp32_fma_zmm" (AVX-512),
/// "int8_vnni" (vpdpbusd ymm) or "int8_vnni_zmm" (AVX512-VNNI); else 0.
int quantx_peak_kind_supported(const char *kind);

/// Operations (2 per multiply-add) per iteration of the `kind` loop on one
/// thread; 0 for an unknown kind.
double quantx_peak_ops_per_iteration(const char *kind);

/// Operations per second (2 per multiply-add) of one run of the `kind` loop
/// for `iterations` iterations on each of `threads` threads; 0 for an
/// unknown kind or an unsupported CPU.
double quantx_peak_rate(const char *kind, unsigned threads, long iterations);

#ifdef __cplusplus
}
#endif

#endif // QUANTX_BENCH_PEAKLOOPS_H
