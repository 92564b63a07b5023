//===- TargetFeatures.cpp - The target features code generation uses ------===//
//
// resolveTargetFeatures, shared by the CPU pipeline, quantx-cpu-gemm and
// quantx-pack-weight-only (a library of its own so that the conversion
// passes need not link the code generation).
//
//===----------------------------------------------------------------------===//

#include "quantx/Codegen/TargetFeatures.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/X86TargetParser.h"

#include <algorithm>

llvm::SmallVector<std::string>
mlir::quantx::resolveTargetFeatures(llvm::StringRef override) {
  llvm::SmallVector<std::string> features;
  override = override.trim();
  if (override.empty() || override == "host") {
    for (const auto &entry : llvm::sys::getHostCPUFeatures())
      if (entry.second)
        features.push_back(entry.first().str());
  } else {
    // The listed features and, on x86, those they imply (avx512f implies
    // avx2, for instance).
    llvm::SmallVector<llvm::StringRef> parts;
    override.split(parts, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
    llvm::StringMap<bool> enabled;
    for (llvm::StringRef p : parts) {
      p = p.trim();
      if (p.consume_front("-"))
        continue;
      p.consume_front("+");
      if (p.empty())
        continue;
      enabled[p] = true;
      llvm::X86::updateImpliedFeatures(p, true, enabled);
    }
    for (const auto &entry : enabled)
      if (entry.second)
        features.push_back(entry.first().str());
  }
  llvm::sort(features);
  features.erase(std::unique(features.begin(), features.end()), features.end());
  return features;
}

bool mlir::quantx::getTargetFeaturesForCPU(llvm::StringRef cpu,
                                           llvm::StringRef extra,
                                           std::string &features,
                                           std::string &error) {
  if (llvm::X86::parseArchX86(cpu, /*Only64Bit=*/true) == llvm::X86::CK_None) {
    llvm::SmallVector<llvm::StringRef> valid;
    llvm::X86::fillValidCPUArchList(valid, /*Only64Bit=*/true);
    error = "unknown x86-64 CPU '" + cpu.str() + "' (known: ";
    for (auto [i, name] : llvm::enumerate(valid))
      error += (i ? ", " : "") + name.str();
    error += ")";
    return false;
  }
  llvm::SmallVector<llvm::StringRef> base;
  llvm::X86::getFeaturesForCPU(cpu, base);
  llvm::StringMap<bool> enabled;
  for (llvm::StringRef f : base)
    enabled[f] = true;
  llvm::SmallVector<llvm::StringRef> parts;
  extra.split(parts, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  for (llvm::StringRef p : parts) {
    p = p.trim();
    bool on = !p.consume_front("-");
    p.consume_front("+");
    if (p.empty())
      continue;
    enabled[p] = on;
    llvm::X86::updateImpliedFeatures(p, on, enabled);
  }
  llvm::SmallVector<std::string> names;
  for (const auto &entry : enabled)
    if (entry.second)
      names.push_back(entry.first().str());
  llvm::sort(names);
  features.clear();
  for (auto [i, name] : llvm::enumerate(names))
    features += (i ? ",+" : "+") + name;
  return true;
}
