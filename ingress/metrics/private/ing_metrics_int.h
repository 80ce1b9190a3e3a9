/*
 * ing_metrics_int.h - shared between the two halves of GET /metrics:
 * ing_metrics.c (this process's request figures) and ing_metrics_fleet.c
 * (what Redis knows: queue, workers, fleet counters).
 */
#ifndef ING_METRICS_INT_H
#define ING_METRICS_INT_H

#include <hiredis/hiredis.h>
#include <stdio.h>

/* Writes `s` as a quoted Prometheus label value (escapes \ " newline). */
void ing_prom_label(FILE *f, const char *s);

/* Writes the Redis-derived series.  0, or -EIO when Redis failed (what was
 * written so far stays: each series is complete or absent). */
int ing_metrics_render_fleet(FILE *f, redisContext *c);

#endif
