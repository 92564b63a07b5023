// A statistics file nested 50,000 levels deep (a 100 KB file) is rejected
// before it is parsed: the JSON parser recurses once per level and would
// overflow the stack. Brackets inside strings do not count.
// RUN: %python -c "open('%t.deep.json', 'w').write('[' * 50000 + ']' * 50000)"
// RUN: not quantx-opt %s -quantx-apply-calibration='stats-file=%t.deep.json' 2>&1 | FileCheck %s --check-prefix=DEEP
// RUN: %python -c "import json; open('%t.ok.json', 'w').write(json.dumps({'format': 'quantx-calibration', 'version': 1, 'model': '[' * 100 + '\\\\\\\\\"{' * 100, 'observations': {'a.input': {'kind': 'min_max', 'min': -1.0, 'max': 2.0}}}))"
// RUN: quantx-opt %s -quantx-apply-calibration='stats-file=%t.ok.json' | FileCheck %s

// DEEP: error: statistics file '{{.*}}deep.json' nests arrays or objects more than 64 levels deep: not a quantx-calibration file
// CHECK: stats = {max = 2.000000e+00 : f64, min = -1.000000e+00 : f64

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = quantx.observe %x {kind = #quantx.observer<min_max>, name = "a.input"} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// Numbers out of range: an error naming the observation and the value.
// RUN: %python -c "import json; [open('%t.%%s.json' %% k, 'w').write(json.dumps({'format': 'quantx-calibration', 'observations': {'a.input': e}}).replace(chr(34) + 'BIG' + chr(34), '1e400')) for k, e in {'inf': {'min': -1.0, 'max': 'BIG'}, 'order': {'min': 2.0, 'max': 1.0}, 'zp': {'min': -1.0, 'max': 1.0, 'zero_point': 1e300}, 'frac': {'min': -1.0, 'max': 1.0, 'zero_point': 1.5}, 'mixed': {'min': -1.0, 'max': [1.0]}}.items()]"
// RUN: not quantx-opt %s -quantx-apply-calibration='stats-file=%t.inf.json' 2>&1 | FileCheck %s --check-prefix=INF
// RUN: not quantx-opt %s -quantx-apply-calibration='stats-file=%t.order.json' 2>&1 | FileCheck %s --check-prefix=ORDER
// RUN: not quantx-opt %s -quantx-apply-calibration='stats-file=%t.zp.json' 2>&1 | FileCheck %s --check-prefix=ZP
// RUN: not quantx-opt %s -quantx-apply-calibration='stats-file=%t.frac.json' 2>&1 | FileCheck %s --check-prefix=ZP
// RUN: not quantx-opt %s -quantx-apply-calibration='stats-file=%t.mixed.json' 2>&1 | FileCheck %s --check-prefix=MIXED
// INF: error: bad statistics for 'a.input': 'max' has a value that is not a finite number
// ORDER: error: bad statistics for 'a.input': min 2.000000e+00 is above max 1.000000e+00
// ZP: error: bad statistics for 'a.input': 'zero_point' must hold integers in the int32 range
// MIXED: error: bad statistics for 'a.input': 'min' and 'max' must both be numbers or both arrays of the same length
