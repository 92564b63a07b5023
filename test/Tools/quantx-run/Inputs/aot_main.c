/* Calls the entry points of aot.mlir, compiled ahead of time, from C. The
 * generated header is force-included (-include). */
#include <stdio.h>
#include <stdlib.h>

static int release(void *allocated, const void *argument) {
  if (allocated != argument && allocated != (void *)0xdeadbeef)
    free(allocated);
  return 0;
}

int main(void) {
  float x[2][3] = {{0.25f, 0.75f, -1.25f}, {1000.0f, -1000.0f, 3.1f}};
  quantx_memref_f32_2d arg = {&x[0][0], &x[0][0], 0, {2, 3}, {3, 1}};
  roundtrip_results results;
  _mlir_ciface_roundtrip(&results, &arg);
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      const quantx_memref_u8_2d *q = &results.result0;
      printf("%d ",
             q->aligned[q->offset + i * q->strides[0] + j * q->strides[1]]);
    }
    printf("\n");
  }
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      const quantx_memref_f32_2d *d = &results.result1;
      printf("%g ",
             d->aligned[d->offset + i * d->strides[0] + j * d->strides[1]]);
    }
    printf("\n");
  }
  release(results.result0.allocated, x);
  release(results.result1.allocated, x);

  /* Arguments are read, never written, and may be returned as they are. */
  int32_t a[4] = {1, 2, 3, 4}, b[4] = {10, 20, 30, 40};
  quantx_memref_i32_1d ma = {a, a, 0, {4}, {1}}, mb = {b, b, 0, {4}, {1}};
  quantx_memref_i32_1d sum;
  _mlir_ciface_add(&sum, &ma, &mb);
  for (int i = 0; i < 4; ++i)
    printf("%d:%d ", sum.aligned[sum.offset + i * sum.strides[0]], a[i]);
  printf("\n");
  release(sum.allocated, a);
  return 0;
}
