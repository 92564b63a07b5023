/*===- CAPITestC.c - The C API used from C ------------------------------===*
 *
 * Compiles the header as C and runs the documented flow from C: parse,
 * compile, look up, invoke, read the result, release everything.
 *
 *===--------------------------------------------------------------------===*/

#include "quantx-c/QuantX.h"

#include <string.h>

/* Returns 0 on success, else the number of the failed step. */
int quantxTestFromC(void) {
  static const char text[] =
      "func.func @scale(%x: tensor<2x2xf32>) -> tensor<2x2xf32> {\n"
      "  %s = arith.addf %x, %x : tensor<2x2xf32>\n"
      "  return %s : tensor<2x2xf32>\n"
      "}\n";
  int step = 0;
  quantx_context_t ctx = quantxContextCreate();
  quantx_module_t module = NULL;
  quantx_executable_t exe = NULL;
  quantx_function_t fn = NULL;
  quantx_buffer_t result = NULL;
  quantx_error_t err =
      quantxModuleParse(ctx, text, strlen(text), "c-test", &module);
  if (!err && ++step)
    err = quantxExecutableCreate(module, NULL, &exe);
  if (!err && ++step)
    err = quantxExecutableLookupFunction(exe, "scale", &fn);
  float x[4] = {1.0f, -2.5f, 3.0f, 0.25f};
  int64_t shape[2] = {2, 2};
  quantx_buffer_view_t arg = {QUANTX_ELEMENT_TYPE_F32, 2, shape, NULL, x};
  if (!err && ++step)
    err = quantxFunctionInvoke(fn, &arg, 1, &result, 1);
  if (!err && ++step) {
    const float *y = (const float *)quantxBufferGetData(result);
    if (quantxBufferGetByteSize(result) != sizeof(x) || y[0] != 2.0f ||
        y[1] != -5.0f || y[2] != 6.0f || y[3] != 0.5f)
      step = 100;
    else
      step = 0;
    quantxBufferDestroy(result);
  }
  if (err)
    quantxErrorDestroy(err);
  quantxExecutableDestroy(exe);
  quantxModuleDestroy(module);
  quantxContextDestroy(ctx);
  return err ? step + 1 : step;
}
