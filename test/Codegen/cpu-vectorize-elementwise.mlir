// RUN: quantx-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(quantx-cpu-vectorize-elementwise))' | FileCheck %s

#id = affine_map<(m, n) -> (m, n)>
#col = affine_map<(m, n) -> (n)>
#row = affine_map<(m, n) -> (m)>

// Requantization: i32 accumulator + per-column bias, scaled, rounded,
// clamped, to u8. The per-column inputs are contiguous along n, the
// per-row scale is uniform (a scalar load, broadcast); 20 columns: two
// 8-lane steps, then a scalar remainder of 4. The clamped f32 -> i64
// conversion becomes f32 -> i32 + sign extension.
// CHECK-LABEL: func.func @requantize
// CHECK: scf.for %[[I:.*]] = %c0 to %c3 step %c1
// CHECK: scf.for %[[J:.*]] = %{{.*}} to %c16 step %c8
// CHECK-DAG: vector.load %arg0[%[[I]], %[[J]]] : memref<3x20xi32>, vector<8xi32>
// CHECK-DAG: vector.load %arg1[%[[J]]] : memref<20xi32>, vector<8xi32>
// CHECK-DAG: %[[S:.*]] = memref.load %arg2[%[[I]]] : memref<3xf32>
// CHECK: vector.broadcast %[[S]] : f32 to vector<8xf32>
// CHECK: arith.divf {{.*}} : vector<8xf32>
// CHECK: math.roundeven {{.*}} : vector<8xf32>
// CHECK: arith.fptosi {{.*}} : vector<8xf32> to vector<8xi32>
// CHECK: arith.extsi {{.*}} : vector<8xi32> to vector<8xi64>
// CHECK: arith.trunci {{.*}} : vector<8xi64> to vector<8xi8>
// CHECK: vector.store {{.*}}, %arg3[%[[I]], %[[J]]] : memref<3x20xi8>, vector<8xi8>
// CHECK: scf.for %[[K:.*]] = %c16 to %c20 step %{{.*}}
// CHECK: memref.load %arg0[%[[I]], %[[K]]] : memref<3x20xi32>
// CHECK: arith.fptosi {{.*}} : f32 to i64
// CHECK: memref.store {{.*}}, %arg3[%[[I]], %[[K]]] : memref<3x20xi8>
// CHECK-NOT: linalg.generic
func.func @requantize(%acc: memref<3x20xi32>, %bias: memref<20xi32>, %s: memref<3xf32>, %out: memref<3x20xi8>) {
  %scale = arith.constant 0.0722 : f32
  linalg.generic {indexing_maps = [#id, #col, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%acc, %bias, %s : memref<3x20xi32>, memref<20xi32>, memref<3xf32>) outs(%out : memref<3x20xi8>) {
  ^bb0(%a: i32, %b: i32, %r: f32, %o: i8):
    %0 = arith.addi %a, %b : i32
    %1 = arith.sitofp %0 : i32 to f32
    %2 = arith.mulf %1, %r : f32
    %3 = arith.divf %2, %scale : f32
    %4 = math.roundeven %3 : f32
    %lo = arith.constant 0.0 : f32
    %hi = arith.constant 255.0 : f32
    %5 = arith.maximumf %4, %lo : f32
    %6 = arith.minimumf %5, %hi : f32
    %7 = arith.fptosi %6 : f32 to i64
    %8 = arith.trunci %7 : i64 to i8
    linalg.yield %8 : i8
  }
  return
}

// -----

#id = affine_map<(m, n) -> (m, n)>

// Unclamped f32 -> i64 keeps its i64 conversion.
// CHECK-LABEL: func.func @unclamped
// CHECK: arith.fptosi {{.*}} : vector<8xf32> to vector<8xi64>
func.func @unclamped(%x: memref<2x8xf32>, %out: memref<2x8xi64>) {
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<2x8xf32>) outs(%out : memref<2x8xi64>) {
  ^bb0(%a: f32, %o: i64):
    %0 = arith.fptosi %a : f32 to i64
    linalg.yield %0 : i64
  }
  return
}

// -----

#id = affine_map<(m, n) -> (m, n)>
#all = affine_map<(m, n) -> ()>

// Dynamic quantization's range: a min over the whole buffer, per lane,
// then across lanes, then the remainder (3 * 7 = 21 = 2 * 8 + 5).
// CHECK-LABEL: func.func @range_min
// CHECK: %[[F:.*]] = memref.collapse_shape %arg0 {{\[\[}}0, 1]] : memref<3x7xf32> into memref<21xf32>
// CHECK: %[[INIT:.*]] = memref.load %arg1[] : memref<f32>
// CHECK: vector.broadcast %[[INIT]] : f32 to vector<8xf32>
// CHECK: scf.for {{.*}} = %c0 to %c16 step %c8 iter_args
// CHECK: vector.load %[[F]]
// CHECK: arith.minimumf {{.*}} : vector<8xf32>
// CHECK: vector.reduction <minimumf>
// CHECK: scf.for {{.*}} = %c16{{.*}} to %c21 step %{{.*}} iter_args
// CHECK: memref.store {{.*}}, %arg1[] : memref<f32>
func.func @range_min(%x: memref<3x7xf32>, %out: memref<f32>) {
  linalg.generic {indexing_maps = [#id, #all], iterator_types = ["reduction", "reduction"]}
      ins(%x : memref<3x7xf32>) outs(%out : memref<f32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = arith.minimumf %a, %o : f32
    linalg.yield %0 : f32
  }
  return
}

// -----

#id = affine_map<(m, n) -> (m, n)>
#t = affine_map<(m, n) -> (n, m)>
#all = affine_map<(m, n) -> ()>

// Not rewritten: a transposed read (not contiguous along n), fewer columns
// than lanes, a sum (its order would change the rounding), sub-byte
// elements in memory (vectors of them are stored packed, scalars one byte
// each).
// CHECK-LABEL: func.func @left_alone
// CHECK-COUNT-4: linalg.generic
// CHECK-NOT: vector<
func.func @left_alone(%x: memref<16x16xf32>, %y: memref<3x4xf32>, %o: memref<16x16xf32>, %p: memref<3x4xf32>, %s: memref<f32>, %c: memref<2x16xi8>, %c4: memref<2x16xi4>) {
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<2x16xi8>) outs(%c4 : memref<2x16xi4>) {
  ^bb0(%a: i8, %b: i4):
    %0 = arith.trunci %a : i8 to i4
    linalg.yield %0 : i4
  }
  linalg.generic {indexing_maps = [#t, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<16x16xf32>) outs(%o : memref<16x16xf32>) {
  ^bb0(%a: f32, %b: f32):
    linalg.yield %a : f32
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%y : memref<3x4xf32>) outs(%p : memref<3x4xf32>) {
  ^bb0(%a: f32, %b: f32):
    %0 = arith.negf %a : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [#id, #all], iterator_types = ["reduction", "reduction"]}
      ins(%o : memref<16x16xf32>) outs(%s : memref<f32>) {
  ^bb0(%a: f32, %b: f32):
    %0 = arith.addf %a, %b : f32
    linalg.yield %0 : f32
  }
  return
}
