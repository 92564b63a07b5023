// RUN: quantx-opt %s -quantx-cpu-buffer-deallocation -split-input-file | FileCheck %s

// An intermediate buffer is freed after its last use; the result is not.
// CHECK-LABEL: func.func @intermediate
// CHECK: %[[T:.*]] = memref.alloc() : memref<64xf32>
// CHECK: %[[R:.*]] = memref.alloc() : memref<64xf32>
// CHECK: linalg.generic {{.*}} ins(%[[T]] : memref<64xf32>) outs(%[[R]] : memref<64xf32>)
// CHECK: memref.dealloc %[[T]]
// CHECK-NOT: memref.dealloc
// CHECK: return %[[R]]
#id = affine_map<(d0) -> (d0)>
func.func @intermediate(%a: memref<64xf32>) -> memref<64xf32> {
  %t = memref.alloc() : memref<64xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%a : memref<64xf32>) outs(%t : memref<64xf32>) {
  ^bb0(%x: f32, %o: f32):
    %n = arith.negf %x : f32
    linalg.yield %n : f32
  }
  %r = memref.alloc() : memref<64xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%t : memref<64xf32>) outs(%r : memref<64xf32>) {
  ^bb0(%x: f32, %o: f32):
    %m = arith.mulf %x, %x : f32
    linalg.yield %m : f32
  }
  return %r : memref<64xf32>
}

// -----

// Returning an argument returns an owned copy.
// CHECK-LABEL: func.func @identity
// CHECK: %[[C:.*]] = bufferization.clone %arg0
// CHECK: return %[[C]]
func.func @identity(%a: memref<8xf32>) -> memref<8xf32> {
  return %a : memref<8xf32>
}

// -----

// A function that frees its own buffers is left as it is.
// CHECK-LABEL: func.func @managed
// CHECK: %[[T:.*]] = memref.alloc
// CHECK: memref.store
// CHECK-NEXT: memref.dealloc %[[T]]
// CHECK-NEXT: return
func.func @managed(%v: f32) {
  %t = memref.alloc() : memref<4xf32>
  %c0 = arith.constant 0 : index
  memref.store %v, %t[%c0] : memref<4xf32>
  memref.dealloc %t : memref<4xf32>
  return
}
