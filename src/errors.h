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
};

const char *err_name(enum err_type t);
int err_status(enum err_type t);
/* The types a sandbox's harness may report; anything else is ERR_NONE. */
enum err_type err_from_harness(const char *name);

#endif
