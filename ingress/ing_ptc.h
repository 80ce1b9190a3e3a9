/*
 * ing_ptc.h - programmatic tool calling at the ingress (ing_ptc.c,
 * docs/ptc.md).  The handlers are declared in ing_handlers.h.
 */
#ifndef ING_PTC_H
#define ING_PTC_H

#include <stddef.h>

/* A tool name as LibreChat's client normalises it (Python when bash is 0:
 * normalizeToPythonIdentifier; Bash: normalizeToBashIdentifier) into
 * `out` (NUL-terminated, cut to fit). */
void ing_ptc_normalise(const char *name, int bash, char *out, size_t outsz);

#endif
