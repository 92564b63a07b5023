/*===- QuantX.h - The QuantX C embedding API -----------------------*- C -*-===
 *
 * A small, stable C API over the compiler, in the style of IREE's embedding
 * API: opaque handles, explicit ownership, and error objects instead of
 * aborts. Every function that can fail returns a `quantx_error_t`, which is
 * NULL on success; a non-NULL error owns a message and must be released with
 * quantxErrorDestroy.
 *
 * Threading: a context and everything made from it must be used from one
 * thread at a time.
 *
 *===----------------------------------------------------------------------===*/

#ifndef QUANTX_C_QUANTX_H
#define QUANTX_C_QUANTX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct quantx_context *quantx_context_t;
typedef struct quantx_module *quantx_module_t;
typedef struct quantx_error *quantx_error_t;
typedef struct quantx_executable *quantx_executable_t;
typedef struct quantx_function *quantx_function_t;
typedef struct quantx_buffer *quantx_buffer_t;

/* The API version; bumped on incompatible changes. */
#define QUANTX_C_API_VERSION 1
int quantxGetApiVersion(void);

/*--- Errors ---------------------------------------------------------------*/

/* The error's message (diagnostics joined by newlines), owned by the error. */
const char *quantxErrorGetMessage(quantx_error_t error);
void quantxErrorDestroy(quantx_error_t error);

/*--- Contexts -------------------------------------------------------------*/

/* A context with every upstream MLIR dialect and the quantx dialect loaded
 * lazily, and every upstream and QuantX pass registered. */
quantx_context_t quantxContextCreate(void);
void quantxContextDestroy(quantx_context_t context);

/*--- Modules --------------------------------------------------------------*/

/* Parses MLIR text or bytecode (`size` bytes at `data`) and verifies it.
 * `name` labels diagnostics (a file name, or NULL). */
quantx_error_t quantxModuleParse(quantx_context_t context, const char *data,
                                 size_t size, const char *name,
                                 quantx_module_t *out_module);
/* Reads and parses a file. */
quantx_error_t quantxModuleParseFile(quantx_context_t context, const char *path,
                                     quantx_module_t *out_module);
void quantxModuleDestroy(quantx_module_t module);

/* Runs the verifier. */
quantx_error_t quantxModuleVerify(quantx_module_t module);

/* Prints the module. `generic` selects the generic op form. The returned
 * string is malloc'ed; free it with quantxStringDestroy. */
quantx_error_t quantxModulePrint(quantx_module_t module, int generic,
                                 char **out_text);
/* Writes MLIR bytecode; the buffer is malloc'ed (quantxStringDestroy). */
quantx_error_t quantxModuleWriteBytecode(quantx_module_t module,
                                         char **out_data, size_t *out_size);
void quantxStringDestroy(char *text);

/* Runs a textual pass pipeline, e.g. "builtin.module(canonicalize)" or
 * "convert-quant-to-quantx,canonicalize" (anchored on the module), on the
 * module in place. On failure the module may be partially transformed. */
quantx_error_t quantxModuleRunPipeline(quantx_module_t module,
                                       const char *pipeline);

/*--- Compiled modules (JIT) ------------------------------------------------*/

/* Element types at the call boundary. Quantized tensors are passed as their
 * integer storage (storage of up to 8 bits as one byte per element); f16
 * and bf16 as their 16 raw bits; i1 as one byte (0 or 1) per element. */
typedef enum quantx_element_type_e {
  QUANTX_ELEMENT_TYPE_F16 = 1,
  QUANTX_ELEMENT_TYPE_BF16 = 2,
  QUANTX_ELEMENT_TYPE_F32 = 3,
  QUANTX_ELEMENT_TYPE_F64 = 4,
  QUANTX_ELEMENT_TYPE_I1 = 5,
  QUANTX_ELEMENT_TYPE_I8 = 6,
  QUANTX_ELEMENT_TYPE_I16 = 7,
  QUANTX_ELEMENT_TYPE_I32 = 8,
  QUANTX_ELEMENT_TYPE_I64 = 9,
  QUANTX_ELEMENT_TYPE_U8 = 10,
  QUANTX_ELEMENT_TYPE_U16 = 11,
  QUANTX_ELEMENT_TYPE_U32 = 12,
  QUANTX_ELEMENT_TYPE_U64 = 13,
} quantx_element_type_t;

/* Bytes per element (0 for an unknown value). */
size_t quantxElementTypeGetSize(quantx_element_type_t type);
/* A short name: "f32", "u8", ... ("?" for an unknown value). */
const char *quantxElementTypeGetName(quantx_element_type_t type);

/* An argument or result of a function: a ranked tensor of static shape.
 * The pointers are owned by the executable. */
typedef struct quantx_tensor_info {
  quantx_element_type_t element_type;
  size_t rank;
  const int64_t *shape;
  /* The MLIR type, e.g. "tensor<2x3xf32>", for messages. */
  const char *type_name;
} quantx_tensor_info_t;

/* Caller memory holding one argument. `strides` are in elements (NULL:
 * contiguous row-major); `data` may be NULL only for an empty tensor. */
typedef struct quantx_buffer_view {
  quantx_element_type_t element_type;
  size_t rank;
  const int64_t *shape;
  const int64_t *strides;
  const void *data;
} quantx_buffer_view_t;

/* Compiles every public function of `module` for the host CPU and loads it
 * in-process. `pipeline` is the textual pass pipeline that lowers the module
 * to the LLVM dialect (as in quantxModuleRunPipeline), or NULL for the
 * quantx CPU pipeline. `module` itself is not changed; the executable does
 * not depend on it afterwards, nor on the context. */
quantx_error_t quantxExecutableCreate(quantx_module_t module,
                                      const char *pipeline,
                                      quantx_executable_t *out_executable);
void quantxExecutableDestroy(quantx_executable_t executable);

/* The public functions with a body, in module order (including those whose
 * signature cannot be called: lookup says why). The name is owned by the
 * executable. */
size_t quantxExecutableGetNumFunctions(quantx_executable_t executable);
const char *quantxExecutableGetFunctionName(quantx_executable_t executable,
                                            size_t index);

/* Looks up a function by name; the handle is owned by the executable and
 * valid while it lives. Fails for an unknown function and for one whose
 * arguments or results are not ranked tensors of static shape. */
quantx_error_t quantxExecutableLookupFunction(quantx_executable_t executable,
                                              const char *name,
                                              quantx_function_t *out_function);

size_t quantxFunctionGetNumArguments(quantx_function_t function);
size_t quantxFunctionGetNumResults(quantx_function_t function);
quantx_error_t quantxFunctionGetArgument(quantx_function_t function,
                                         size_t index,
                                         quantx_tensor_info_t *out_info);
quantx_error_t quantxFunctionGetResult(quantx_function_t function, size_t index,
                                       quantx_tensor_info_t *out_info);

/* Calls the function. `num_args` must equal its number of arguments, each
 * with the argument's element type and shape; arguments are only read.
 * `out_results` receives `num_results` (its number of results) new buffers
 * the caller releases with quantxBufferDestroy; on error none is returned.
 * Calls of one executable must not overlap in time. */
quantx_error_t quantxFunctionInvoke(quantx_function_t function,
                                    const quantx_buffer_view_t *args,
                                    size_t num_args,
                                    quantx_buffer_t *out_results,
                                    size_t num_results);

/* Times `repetitions` calls after `warmup` untimed ones, with the arguments
 * prepared once; writes the seconds of each timed call to `out_seconds`
 * (`repetitions` entries). Results are discarded. */
quantx_error_t quantxFunctionBenchmark(quantx_function_t function,
                                       const quantx_buffer_view_t *args,
                                       size_t num_args, size_t warmup,
                                       size_t repetitions, double *out_seconds);

/*--- Buffers ----------------------------------------------------------------*/

/* A result: contiguous row-major data owned by the buffer. */
quantx_element_type_t quantxBufferGetElementType(quantx_buffer_t buffer);
size_t quantxBufferGetRank(quantx_buffer_t buffer);
const int64_t *quantxBufferGetShape(quantx_buffer_t buffer);
size_t quantxBufferGetByteSize(quantx_buffer_t buffer);
void *quantxBufferGetData(quantx_buffer_t buffer);
void quantxBufferDestroy(quantx_buffer_t buffer);

#ifdef __cplusplus
}
#endif

#endif /* QUANTX_C_QUANTX_H */
