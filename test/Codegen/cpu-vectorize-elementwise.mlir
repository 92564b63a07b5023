// RUN: quantx-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(quantx-cpu-vectorize-elementwise))' | FileCheck %s
// RUN: quantx-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(quantx-cpu-vectorize-elementwise{parallel-min-elements=4096}))' | FileCheck %s --check-prefix=PAR

#id = affine_map<(m, n) -> (m, n)>
#col = affine_map<(m, n) -> (n)>
#row = affine_map<(m, n) -> (m)>

// Requantization: i32 accumulator + per-column bias, scaled, rounded,
// clamped, to u8. Every memref operand is read through a 1-d view at a
// linear offset; the per-column inputs are contiguous along n, the per-row
// scale is uniform (a scalar load, broadcast). 20 columns: a loop of two
// 8-lane steps, then a 4-lane step (the output is an argument, which may
// share memory with an input: no overlapping vector, see @overlap). The
// clamped f32 -> i64 conversion becomes f32 -> i32 + sign extension.
// CHECK-LABEL: func.func @requantize
// CHECK-DAG: %[[ACC:.*]] = memref.reinterpret_cast %arg0 to offset: [0], sizes: [60], strides: [1] : memref<3x20xi32> to memref<60xi32>
// CHECK-DAG: %[[BIAS:.*]] = memref.reinterpret_cast %arg1 to offset: [0], sizes: [20], strides: [1]
// CHECK-DAG: %[[SCALE:.*]] = memref.reinterpret_cast %arg2 to offset: [0], sizes: [3], strides: [1]
// CHECK-DAG: %[[OUT:.*]] = memref.reinterpret_cast %arg3 to offset: [0], sizes: [60], strides: [1] : memref<3x20xi8> to memref<60xi8>
// CHECK: scf.for %[[I:.*]] = %c0 to %c3 step %c1
// CHECK: scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step %c8
// CHECK: %[[ROW:.*]] = arith.muli %[[I]], %c20
// CHECK: %[[AI:.*]] = arith.addi %{{.*}}, %[[J]]
// CHECK: vector.load %[[ACC]][%[[AI]]] : memref<60xi32>, vector<8xi32>
// CHECK: vector.load %[[BIAS]][%{{.*}}] : memref<20xi32>, vector<8xi32>
// CHECK: %[[S:.*]] = memref.load %[[SCALE]][%{{.*}}] : memref<3xf32>
// CHECK: vector.broadcast %[[S]] : f32 to vector<8xf32>
// CHECK: arith.divf {{.*}} : vector<8xf32>
// CHECK: math.roundeven {{.*}} : vector<8xf32>
// CHECK: arith.fptosi {{.*}} : vector<8xf32> to vector<8xi32>
// CHECK: arith.extsi {{.*}} : vector<8xi32> to vector<8xi64>
// CHECK: arith.trunci {{.*}} : vector<8xi64> to vector<8xi8>
// CHECK: vector.store {{.*}}, %[[OUT]][%{{.*}}] : memref<60xi8>, vector<8xi8>
// CHECK: scf.for {{.*}} step %c4
// CHECK: vector.load %[[ACC]][%{{.*}}] : memref<60xi32>, vector<4xi32>
// CHECK: vector.store {{.*}}, %[[OUT]][%{{.*}}] : memref<60xi8>, vector<4xi8>
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

// Not rewritten: a transposed read (a step of 16 elements along n), fewer
// elements than 4 lanes, a sum (its order would change the rounding),
// sub-byte elements in memory (vectors of them are stored packed, scalars
// one byte each).
// CHECK-LABEL: func.func @left_alone
// CHECK-COUNT-4: linalg.generic
// CHECK-NOT: vector<
func.func @left_alone(%x: memref<16x16xf32>, %y: memref<1x3xf32>, %o: memref<16x16xf32>, %p: memref<1x3xf32>, %s: memref<f32>, %c: memref<2x16xi8>, %c4: memref<2x16xi4>) {
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
      ins(%y : memref<1x3xf32>) outs(%p : memref<1x3xf32>) {
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

// -----

#id4 = affine_map<(a, b, c, d) -> (a, b, c, d)>
#ch = affine_map<(a, b, c, d) -> (b)>

// Dimensions every operand walks row-major merge: the per-channel scale
// varies along b only, so (c, d) merge into one vector dimension of 40
// elements (five 8-lane steps), under loops over a and b.
// CHECK-LABEL: func.func @merged
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c3 step %c1
// CHECK: %[[END:.*]] = arith.addi
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[END]] step %c8
// CHECK: vector.load {{.*}} : memref<240xf32>, vector<8xf32>
// CHECK: memref.load {{.*}} : memref<3xf32>
// CHECK: vector.store {{.*}} : memref<240xf32>, vector<8xf32>
func.func @merged(%x: memref<2x3x5x8xf32>, %s: memref<3xf32>, %o: memref<2x3x5x8xf32>) {
  linalg.generic {indexing_maps = [#id4, #ch, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %s : memref<2x3x5x8xf32>, memref<3xf32>) outs(%o : memref<2x3x5x8xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %0 = arith.mulf %a, %b : f32
    linalg.yield %0 : f32
  }
  return
}

// -----

// im2col: rows of the input at offsets (oh + kh, ow + kw) are contiguous
// along ow; i8 data takes up to 32 lanes, 8 for rows of 12, then 4.
#gather = affine_map<(kh, kw, oh, ow) -> (oh + kh, ow + kw)>
#id4 = affine_map<(kh, kw, oh, ow) -> (kh, kw, oh, ow)>
// CHECK-LABEL: func.func @gather
// CHECK: %[[IN:.*]] = memref.reinterpret_cast %arg0 to offset: [0], sizes: [196], strides: [1]
// CHECK: vector.load %[[IN]][%{{.*}}] : memref<196xi8>, vector<8xi8>
// CHECK: vector.load %[[IN]][%{{.*}}] : memref<196xi8>, vector<4xi8>
func.func @gather(%x: memref<14x14xi8>, %p: memref<3x3x12x12xi8>) {
  linalg.generic {indexing_maps = [#gather, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : memref<14x14xi8>) outs(%p : memref<3x3x12x12xi8>) {
  ^bb0(%a: i8, %b: i8):
    linalg.yield %a : i8
  }
  return
}

// -----

// Max pooling 2x2, stride 2: parallel (n, oh, ow) then the window (kh, kw)
// unrolled in the scalar loops' order on vectors of the output. A read of
// stride 2 loads twice the lanes and keeps the even ones; where that load
// would pass the end of the buffer the same points run as scalars.
#in = affine_map<(n, oh, ow, kh, kw) -> (n, oh * 2 + kh, ow * 2 + kw)>
#win = affine_map<(n, oh, ow, kh, kw) -> (kh, kw)>
#out = affine_map<(n, oh, ow, kh, kw) -> (n, oh, ow)>
// CHECK-LABEL: func.func @max_pool
// CHECK: %[[IN:.*]] = memref.reinterpret_cast %arg0 to offset: [0], sizes: [512], strides: [1]
// CHECK: %[[OUT:.*]] = memref.reinterpret_cast %arg2 to offset: [0], sizes: [128], strides: [1]
// CHECK: scf.for {{.*}} step %c8
// CHECK: %[[OK:.*]] = arith.cmpi sle, %{{.*}}, %c512
// CHECK: scf.if %[[OK]]
// CHECK: %[[ACC:.*]] = vector.load %[[OUT]][%{{.*}}] : memref<128xi8>, vector<8xi8>
// CHECK: %[[W0:.*]] = vector.load %[[IN]][%{{.*}}] : memref<512xi8>, vector<16xi8>
// CHECK: %[[E0:.*]] = vector.shuffle %[[W0]], %[[W0]] [0, 2, 4, 6, 8, 10, 12, 14]
// CHECK: %[[M0:.*]] = arith.maxui %[[E0]], %[[ACC]] : vector<8xi8>
// CHECK-COUNT-3: arith.maxui {{.*}} : vector<8xi8>
// CHECK: vector.store {{.*}}, %[[OUT]][%{{.*}}] : memref<128xi8>, vector<8xi8>
// CHECK: } else {
// CHECK: arith.maxui {{.*}} : i8
func.func @max_pool(%x: memref<2x16x16xi8>, %w: memref<2x2xf32>, %o: memref<2x8x8xi8>) {
  linalg.generic {indexing_maps = [#in, #win, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"]}
      ins(%x, %w : memref<2x16x16xi8>, memref<2x2xf32>) outs(%o : memref<2x8x8xi8>) {
  ^bb0(%a: i8, %b: f32, %c: i8):
    %0 = arith.maxui %a, %c : i8
    linalg.yield %0 : i8
  }
  return
}

// -----

// A copy into the interior of a padded buffer: the output is a strided
// subview, addressed from the aligned pointer with its offset (1 * 10 + 1).
#id2 = affine_map<(h, w) -> (h, w)>
// CHECK-LABEL: func.func @pad_interior
// CHECK: %[[DST:.*]] = memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [89], strides: [1] : memref<8x8xf32, strided<[10, 1], offset: 11>> to memref<89xf32>
// CHECK: arith.constant 11 : index
// CHECK: vector.store {{.*}}, %[[DST]][%{{.*}}] : memref<89xf32>, vector<8xf32>
func.func @pad_interior(%x: memref<8x8xf32>, %p: memref<10x10xf32>) {
  %sub = memref.subview %p[1, 1] [8, 8] [1, 1] : memref<10x10xf32> to memref<8x8xf32, strided<[10, 1], offset: 11>>
  linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<8x8xf32>) outs(%sub : memref<8x8xf32, strided<[10, 1], offset: 11>>) {
  ^bb0(%a: f32, %b: f32):
    linalg.yield %a : f32
  }
  return
}

// -----

// Large ops run their outer loops in parallel (64 rows scaled per row);
// a single row is cut into chunks of whole vectors (4096 f32 in 64 chunks
// of 64).
// PAR-LABEL: func.func @parallel_rows
// PAR: scf.parallel (%[[H:.*]]) = (%c0) to (%c64) step (%c1)
// PAR: arith.muli %[[H]], %c1024
// PAR: scf.reduce
// PAR-LABEL: func.func @parallel_chunks
// PAR: scf.parallel (%[[C:.*]]) = (%c0) to (%c64) step (%c1)
// PAR: arith.muli %[[C]], %c64
// PAR: arith.minui
#id2 = affine_map<(h, w) -> (h, w)>
#id1 = affine_map<(w) -> (w)>
#row = affine_map<(h, w) -> (h)>
func.func @parallel_rows(%x: memref<64x1024xf32>, %s: memref<64xf32>, %o: memref<64x1024xf32>) {
  linalg.generic {indexing_maps = [#id2, #row, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%x, %s : memref<64x1024xf32>, memref<64xf32>) outs(%o : memref<64x1024xf32>) {
  ^bb0(%a: f32, %r: f32, %b: f32):
    %0 = arith.mulf %a, %r : f32
    linalg.yield %0 : f32
  }
  return
}
func.func @parallel_chunks(%x: memref<4096xf32>, %o: memref<4096xf32>) {
  linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%x : memref<4096xf32>) outs(%o : memref<4096xf32>) {
  ^bb0(%a: f32, %b: f32):
    %0 = arith.negf %a : f32
    linalg.yield %0 : f32
  }
  return
}

// -----

// An output of its own (an allocation that no input views) of an op that
// does not read it: each row of 12 ends with an 8-lane vector over 4..11,
// overlapping the first (points 4..7 computed twice, same values).
#id2 = affine_map<(h, w) -> (h, w)>
// CHECK-LABEL: func.func @overlap
// CHECK: %[[O:.*]] = memref.alloc() : memref<3x12xf32>
// CHECK: %[[V:.*]] = memref.reinterpret_cast %[[O]] to offset: [0], sizes: [36], strides: [1]
// CHECK: scf.for %[[I:.*]] = %c0 to %c3 step %c1
// CHECK: scf.for
// CHECK: vector.store {{.*}}, %[[V]][%{{.*}}] : memref<36xf32>, vector<8xf32>
// CHECK: }
// CHECK: arith.constant 4 : index
// CHECK: vector.store {{.*}}, %[[V]][%{{.*}}] : memref<36xf32>, vector<8xf32>
// CHECK-NOT: memref.store
func.func @overlap(%x: memref<3x12xf32>, %s: memref<3xf32>) -> memref<3x12xf32> {
  %o = memref.alloc() : memref<3x12xf32>
  linalg.generic {indexing_maps = [#id2, affine_map<(h, w) -> (h)>, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%x, %s : memref<3x12xf32>, memref<3xf32>) outs(%o : memref<3x12xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %0 = arith.mulf %a, %b : f32
    linalg.yield %0 : f32
  }
  return %o : memref<3x12xf32>
}
