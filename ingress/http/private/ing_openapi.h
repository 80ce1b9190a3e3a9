/*
 * ing_openapi.h - the API document: GET /openapi.json and GET /docs (both
 * open without a key, like /health).
 *
 * The document is ingress/openapi.json, embedded into the binary at build
 * time (embed.cmake), so the served document is exactly the reviewed file.
 * A unit test (tests/ops_e2e/test_openapi.c) checks that its paths and
 * methods are the route table's (ing_routes[]), both ways: a route added
 * without documenting it fails the build's tests.
 *
 * /docs renders the same document server-side as a plain HTML page: no
 * script, no stylesheet, nothing fetched from elsewhere (the CSP
 * `default-src 'self'` of every response would refuse it anyway).
 *
 * Threads: the handlers run on MHD threads; the parsed document is built
 * once (pthread_once) and only read afterwards.
 */
#ifndef ING_OPENAPI_H
#define ING_OPENAPI_H

#include "ing_http.h"

#include <stddef.h>

extern const char ing_openapi_json[]; /* NUL-terminated */
extern const size_t ing_openapi_json_len;

enum MHD_Result ing_h_openapi(struct ing_request *req);
enum MHD_Result ing_h_docs(struct ing_request *req);

/* The /docs page for `doc` (malloc'd HTML, caller frees), or NULL. */
char *ing_openapi_html(const char *doc, size_t len);

#endif
