// RUN: quantx-opt %s -quantx-insert-observers | FileCheck %s --check-prefix=OBS
// RUN: quantx-opt %s -quantx-insert-observers -quantx-apply-calibration='stats-file=%S/Inputs/residual-add-stats.json' -quantx-ptq='report=%t.json' -canonicalize -cse | FileCheck %s
// RUN: FileCheck %s --check-prefix=REPORT < %t.json
// RUN: quantx-opt %s -quantx-insert-observers -quantx-apply-calibration='stats-file=%S/Inputs/residual-add-stats.json' -quantx-ptq='keep-float=^add$' -canonicalize -cse | FileCheck %s --check-prefix=KEEP
// RUN: quantx-opt %s -quantx-ptq='mode=dynamic-int8' -canonicalize | FileCheck %s --check-prefix=DYN

// A residual block, relu(h + fc2(h)) with h = relu(fc1(x)), read by fc3:
// every reader of h (fc2 and the addition), of fc2's output (the
// addition) and of the sum (fc3) is quantized, so the block stays in uint8:
// fc1 and fc2 requantize to the addition's operand parameters, the
// addition (quantx.add) to fc3's input parameters, and the ReLU after it
// is the saturation of a result with zero point 0. In @float_reader the
// sum goes to a tanh: the addition stays float. Observations of the
// addition's operands and result are only added where no layer's
// observation covers them.

// OBS-LABEL: func.func @residual
// OBS: quantx.observe {{.*}} name = "fc1.input"
// OBS: quantx.observe {{.*}} name = "fc1.output"
// OBS: quantx.observe {{.*}} name = "fc2.output"
// OBS: quantx.observe {{.*}} name = "fc3.input"
// OBS-NOT: name = "add.
// OBS-LABEL: func.func @float_reader
// OBS: quantx.observe %arg1 {{.*}} name = "add_f.lhs"
// OBS: quantx.observe {{.*}} name = "tail.output"
// OBS: quantx.observe {{.*}} name = "add_f.output"

// CHECK-LABEL: func.func @residual
// CHECK: %[[X:.*]] = quantx.quantize %arg0
// CHECK: %[[H:.*]] = quantx.matmul %[[X]], %{{.*}} bias(%{{.*}}) {relu} : {{.*}} -> tensor<2x4x!quantx.uniform<u8:f32, scale = 0.0078431{{[0-9]*}}, zero_point = 0>>
// CHECK: %[[Y:.*]] = quantx.matmul %[[H]], %{{.*}} : {{.*}} -> tensor<2x4x!quantx.uniform<u8:f32, scale = 0.0156862{{[0-9]*}}, zero_point = 127>>
// CHECK: %[[S:.*]] = quantx.add %[[H]], %[[Y]] : {{.*}} -> tensor<2x4x!quantx.uniform<u8:f32, scale = 0.0117647{{[0-9]*}}, zero_point = 0>>
// CHECK-NOT: linalg.generic
// CHECK: %[[O:.*]] = quantx.matmul %[[S]], %{{.*}} : {{.*}} -> tensor<2x3xf32>
// CHECK: return %[[O]]
// CHECK-LABEL: func.func @float_reader
// CHECK: %[[T:.*]] = quantx.matmul {{.*}} -> tensor<2x4xf32>
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} ins(%arg1, %[[T]] : tensor<2x4xf32>, tensor<2x4xf32>)
// CHECK: arith.addf
// CHECK: math.tanh

// REPORT: "adds": [
// REPORT: "lhs_scale": 0.0078431{{[0-9]*}}
// REPORT: "name": "add"
// REPORT: "observation": "fc3.input"
// REPORT: "output": "requantized to fc3"
// REPORT: "relu_fused": true
// REPORT: "rhs_zero_point": 127
// REPORT: "status": "quantized"
// REPORT: "name": "add_f"
// REPORT: "reason": "no reader of its result is quantized"
// REPORT: "status": "float"
// REPORT: "layers": [
// REPORT: "name": "fc1"
// REPORT: "output": "requantized to fc2, add"
// REPORT: "name": "fc2"
// REPORT: "output": "requantized to add"

// With the addition kept float, h has a float reader: fc1's output is f32.
// KEEP-LABEL: func.func @residual
// KEEP: %[[H:.*]] = quantx.matmul {{.*}} {relu} : {{.*}} -> tensor<2x4xf32>
// KEEP: quantx.matmul {{.*}} -> tensor<2x4xf32>
// KEEP: linalg.generic
// KEEP: arith.addf

// DYN-LABEL: func.func @residual
// DYN-NOT: quantx.add
// DYN: arith.addf

#id2 = affine_map<(d0, d1) -> (d0, d1)>
#ch2 = affine_map<(d0, d1) -> (d1)>
func.func @residual(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
  %zero = arith.constant 0.0 : f32
  %w1 = arith.constant dense<[[0.5, -0.25, 0.125, 0.25], [0.25, 0.5, -0.5, 0.125], [-0.125, 0.25, 0.5, -0.25], [0.5, 0.5, 0.25, 0.5]]> : tensor<4x4xf32>
  %b1 = arith.constant dense<[0.1, -0.1, 0.2, 0.05]> : tensor<4xf32>
  %w2 = arith.constant dense<[[0.5, -0.5, 0.25, 0.125], [0.25, 0.25, -0.5, 0.5], [-0.25, 0.5, 0.125, -0.125], [0.5, 0.125, 0.25, -0.5]]> : tensor<4x4xf32>
  %w3 = arith.constant dense<[[0.5, -0.5, 0.25], [0.25, 0.25, -0.5], [-0.25, 0.5, 0.125], [0.5, 0.125, 0.25]]> : tensor<4x3xf32>
  %e = tensor.empty() : tensor<2x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<2x4xf32>) -> tensor<2x4xf32>
  %m1 = linalg.matmul ins(%x, %w1 : tensor<2x4xf32>, tensor<4x4xf32>) outs(%f : tensor<2x4xf32>) -> tensor<2x4xf32> loc("fc1")
  %a1 = linalg.generic {indexing_maps = [#id2, #ch2, #id2], iterator_types = ["parallel", "parallel"]} ins(%m1, %b1 : tensor<2x4xf32>, tensor<4xf32>) outs(%e : tensor<2x4xf32>) {
  ^bb0(%in: f32, %b: f32, %o: f32):
    %s = arith.addf %in, %b : f32
    linalg.yield %s : f32
  } -> tensor<2x4xf32>
  %h = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%a1 : tensor<2x4xf32>) outs(%e : tensor<2x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    %z = arith.constant 0.0 : f32
    %r = arith.maximumf %in, %z : f32
    linalg.yield %r : f32
  } -> tensor<2x4xf32>
  %y = linalg.matmul ins(%h, %w2 : tensor<2x4xf32>, tensor<4x4xf32>) outs(%f : tensor<2x4xf32>) -> tensor<2x4xf32> loc("fc2")
  %sum = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%h, %y : tensor<2x4xf32>, tensor<2x4xf32>) outs(%e : tensor<2x4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<2x4xf32> loc("add")
  %r = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%sum : tensor<2x4xf32>) outs(%e : tensor<2x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    %z = arith.constant 0.0 : f32
    %m = arith.maximumf %in, %z : f32
    linalg.yield %m : f32
  } -> tensor<2x4xf32>
  %e3 = tensor.empty() : tensor<2x3xf32>
  %f3 = linalg.fill ins(%zero : f32) outs(%e3 : tensor<2x3xf32>) -> tensor<2x3xf32>
  %o = linalg.matmul ins(%r, %w3 : tensor<2x4xf32>, tensor<4x3xf32>) outs(%f3 : tensor<2x3xf32>) -> tensor<2x3xf32> loc("fc3")
  return %o : tensor<2x3xf32>
}

// The sum's reader is a float tanh; the skip operand is an argument.
func.func @float_reader(%x: tensor<2x4xf32>, %skip: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<[[0.5, -0.25, 0.125, 0.25], [0.25, 0.5, -0.5, 0.125], [-0.125, 0.25, 0.5, -0.25], [0.5, 0.5, 0.25, 0.5]]> : tensor<4x4xf32>
  %e = tensor.empty() : tensor<2x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<2x4xf32>) -> tensor<2x4xf32>
  %t = linalg.matmul ins(%x, %w : tensor<2x4xf32>, tensor<4x4xf32>) outs(%f : tensor<2x4xf32>) -> tensor<2x4xf32> loc("tail")
  %sum = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%skip, %t : tensor<2x4xf32>, tensor<2x4xf32>) outs(%e : tensor<2x4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<2x4xf32> loc("add_f")
  %th = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%sum : tensor<2x4xf32>) outs(%e : tensor<2x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    %v = math.tanh %in : f32
    linalg.yield %v : f32
  } -> tensor<2x4xf32>
  return %th : tensor<2x4xf32>
}
