/* JSON out (yajl_gen): success {"result", "stdout", "stderr"}, failure {"error": {...}, ...}. */
#ifndef PYEXECD_RESPONSE_H
#define PYEXECD_RESPONSE_H

#include <event2/buffer.h>

#include "errors.h"
#include "result.h"

/* Appends the response body for r to out. -1 if it could not be generated. */
int response_build(const struct exec_result *r, struct evbuffer *out);

/* A body for an error found before any script ran. */
int response_error(enum err_type t, const char *message, struct evbuffer *out);

#endif
