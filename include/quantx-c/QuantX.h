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

#ifdef __cplusplus
extern "C" {
#endif

typedef struct quantx_context *quantx_context_t;
typedef struct quantx_module *quantx_module_t;
typedef struct quantx_error *quantx_error_t;

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
quantx_error_t quantxModuleParseFile(quantx_context_t context,
                                     const char *path,
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

#ifdef __cplusplus
}
#endif

#endif /* QUANTX_C_QUANTX_H */
