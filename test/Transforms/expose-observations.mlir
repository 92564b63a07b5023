// RUN: quantx-opt %s -split-input-file -quantx-expose-observations='manifest=%t.json' | FileCheck %s
// RUN: FileCheck %s --check-prefix=JSON < %t.json
// RUN: not quantx-opt %s -quantx-expose-observations='manifest=%t.missing-dir/m.json' 2>&1 | FileCheck %s --check-prefix=NODIR

// Each observed tensor becomes an extra result, once; an observed argument
// is not returned (the manifest names the argument); the observe ops go.
// CHECK-LABEL: func.func @f
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>)
// CHECK-SAME: quantx.observations = [{argument = 0 : i64, kind = "min_max", name = "a.input"}, {kind = "percentile", name = "a.output", percentile = 9.900000e+01 : f64, result = 1 : i64}, {kind = "min_max", name = "b.output", result = 0 : i64}]
// CHECK: %[[Y:.*]] = arith.negf %[[X]]
// CHECK: %[[Z:.*]] = arith.addf %[[Y]], %[[Y]]
// CHECK-NOT: quantx.observe
// CHECK: return %[[Z]], %[[Y]] : tensor<4xf32>, tensor<4xf32>

// JSON: "format": "quantx-observations"
// JSON: "arguments": [
// JSON: "element_type": "f32"
// JSON: "function": "f"
// JSON: "num_all_results": 2
// JSON: "num_results": 1
// JSON: "argument": 0
// JSON: "name": "a.input"
// JSON: "name": "a.output"
// JSON: "percentile": 99
// JSON: "result": 1
// JSON: "name": "b.output"
// JSON: "result": 0

// NODIR: cannot write manifest
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = quantx.observe %x {kind = #quantx.observer<min_max>, name = "a.input"} : tensor<4xf32>
  %y = arith.negf %0 : tensor<4xf32>
  %1 = quantx.observe %y {kind = #quantx.observer<percentile>, name = "a.output", percentile = 99.0 : f64} : tensor<4xf32>
  %z = arith.addf %1, %1 : tensor<4xf32>
  %2 = quantx.observe %z {kind = #quantx.observer<min_max>, name = "b.output"} : tensor<4xf32>
  return %2 : tensor<4xf32>
}

// A function without observations is left alone.
// CHECK-LABEL: func.func @g
// CHECK-SAME: -> tensor<4xf32> {
func.func @g(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
