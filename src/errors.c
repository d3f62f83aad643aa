#include "errors.h"

#include <string.h>

static const struct {
    const char *name;
    int status;
    int from_harness;
} table[] = {
    [ERR_NONE] = {"", 200, 0},
    [ERR_VALIDATION] = {"ValidationError", 400, 1},
    [ERR_NOT_FOUND] = {"NotFound", 404, 0},
    [ERR_METHOD] = {"MethodNotAllowed", 405, 0},
    [ERR_REQUEST_TIMEOUT] = {"RequestTimeout", 408, 0},
    [ERR_TOO_LARGE] = {"PayloadTooLarge", 413, 0},
    [ERR_MEDIA_TYPE] = {"UnsupportedMediaType", 415, 0},
    [ERR_EXECUTION] = {"ExecutionError", 422, 1},
    [ERR_SERIALIZATION] = {"SerializationError", 422, 1},
    [ERR_MEMORY] = {"MemoryLimitError", 422, 1},
    [ERR_OUTPUT] = {"OutputLimitError", 422, 0},
    [ERR_SECURITY] = {"SecurityViolation", 403, 0},
    [ERR_TIMEOUT] = {"TimeoutError", 504, 0},
    [ERR_BUSY] = {"ServerBusy", 503, 0},
    [ERR_UNAVAILABLE] = {"SandboxUnavailable", 503, 0},
    [ERR_INTERNAL] = {"InternalError", 500, 0},
    [ERR_BAD_REQUEST] = {"BadRequest", 400, 0},
    [ERR_URI_TOO_LONG] = {"URITooLong", 414, 0},
    [ERR_HEADERS_TOO_LARGE] = {"HeaderFieldsTooLarge", 431, 0},
    [ERR_NOT_IMPLEMENTED] = {"NotImplemented", 501, 0},
    [ERR_VERSION] = {"HTTPVersionNotSupported", 505, 0},
};
#define NTYPES (sizeof(table) / sizeof(table[0]))

const char *err_name(enum err_type t)
{
    return table[t].name;
}

int err_status(enum err_type t)
{
    return table[t].status;
}

enum err_type err_from_status(int status)
{
    static const enum err_type refusals[] = {
        ERR_BAD_REQUEST,       ERR_REQUEST_TIMEOUT, ERR_TOO_LARGE, ERR_URI_TOO_LONG,
        ERR_HEADERS_TOO_LARGE, ERR_NOT_IMPLEMENTED, ERR_VERSION};
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
        if (table[refusals[i]].status == status)
            return refusals[i];
    return status >= 500 ? ERR_INTERNAL : ERR_BAD_REQUEST;
}

enum err_type err_from_harness(const char *name)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (table[i].from_harness && strcmp(table[i].name, name) == 0)
            return (enum err_type)i;
    return ERR_NONE;
}
