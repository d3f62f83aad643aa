/* The HTTP layer (libevhtp on one event loop): exact routes, request limits, replies. */
#ifndef PYEXECD_HTTP_H
#define PYEXECD_HTTP_H

struct config;
struct jail_probe;

/* Serves until SIGTERM or SIGINT, then drains. Returns 0 on a clean stop. */
int http_serve(const struct config *cfg, const struct jail_probe *probe);

#endif
