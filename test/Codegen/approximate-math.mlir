// RUN: quantx-opt %s -quantx-cpu-approximate-math | FileCheck %s
// RUN: quantx-opt %s -quantx-cpu-pipeline | FileCheck %s --check-prefix=PIPE
// RUN: quantx-opt %s -quantx-cpu-pipeline=approximate-math=false | FileCheck %s --check-prefix=LIBM

// f32 exponentials, scalar and vector, become polynomial approximations:
// arithmetic and a bit cast that puts the exponent back, no math.exp.
// Other element types and other math ops are left alone.
// CHECK-LABEL: func.func @exp
// CHECK-NOT: math.exp
// CHECK: arith.bitcast {{.*}} : i32 to f32
// CHECK: arith.bitcast {{.*}} : vector<16xi32> to vector<16xf32>
// CHECK-NOT: math.exp {{.*}} : f32
// CHECK-NOT: math.exp {{.*}} : vector<16xf32>
// CHECK: math.exp {{.*}} : f64
// CHECK: math.sqrt {{.*}} : vector<16xf32>
// CHECK: return
func.func @exp(%s: f32, %v: vector<16xf32>, %d: f64) -> (f32, vector<16xf32>, f64, vector<16xf32>) {
  %a = math.exp %s : f32
  %b = math.exp %v : vector<16xf32>
  %c = math.exp %d : f64
  %e = math.sqrt %v : vector<16xf32>
  return %a, %b, %c, %e : f32, vector<16xf32>, f64, vector<16xf32>
}

// In the pipeline the f32 exponentials reach LLVM as arithmetic; with
// approximate-math=false as LLVM's exp intrinsic (libm's expf per lane).
// PIPE-LABEL: llvm.func @exp
// PIPE-NOT: llvm.intr.exp({{.*}}) : (f32)
// PIPE-NOT: llvm.intr.exp({{.*}}) : (vector<16xf32>)
// PIPE: llvm.intr.exp({{.*}}) : (f64)
// LIBM-LABEL: llvm.func @exp
// LIBM: llvm.intr.exp({{.*}}) : (f32) -> f32
// LIBM: llvm.intr.exp({{.*}}) : (vector<16xf32>) -> vector<16xf32>
