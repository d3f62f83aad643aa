/* The error types of the API and their HTTP statuses (README, "API"). */
#ifndef PYEXECD_ERRORS_H
#define PYEXECD_ERRORS_H

enum err_type {
    ERR_NONE,
    ERR_VALIDATION,
    ERR_NOT_FOUND,
    ERR_METHOD,
    ERR_REQUEST_TIMEOUT,
    ERR_TOO_LARGE,
    ERR_MEDIA_TYPE,
    ERR_EXECUTION,
    ERR_SERIALIZATION,
    ERR_MEMORY,
    ERR_OUTPUT,
    ERR_SECURITY,
    ERR_TIMEOUT,
    ERR_BUSY,
    ERR_UNAVAILABLE,
    ERR_INTERNAL,
    /* HTTP-level refusals, answered before a request reaches a route (http_reject.c) */
    ERR_BAD_REQUEST,
    ERR_URI_TOO_LONG,
    ERR_HEADERS_TOO_LARGE,
    ERR_NOT_IMPLEMENTED,
    ERR_VERSION,
};

const char *err_name(enum err_type t);
int err_status(enum err_type t);
/* The type that answers an HTTP status the HTTP layer refuses a request with (400, 408, 413,
 * 414, 431, 501, 505); ERR_BAD_REQUEST for any other 4xx, ERR_INTERNAL for a 5xx. */
enum err_type err_from_status(int status);
/* The types a sandbox's harness may report; anything else is ERR_NONE. */
enum err_type err_from_harness(const char *name);

#endif
