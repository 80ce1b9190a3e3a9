/*
 * sch_codec_int.h - internal to sch_codec*.c: the field tables that drive
 * both the msgpack encoder and the decoder, so the two can never disagree.
 *
 * A record (job, result, file) is described by an array of sch__field: the
 * wire key, how the value is stored in the C struct (kind, offsets) and,
 * for numbers, the accepted range.  Not part of the public API.
 */
#ifndef SCH_CODEC_INT_H
#define SCH_CODEC_INT_H

#include "sch_types.h"

#include <stddef.h>
#include <stdint.h>

enum sch__kind {
    SCH__VERSION, /* "v": SCH_WIRE_VERSION, no storage */
    SCH__STR,     /* char * at off, NUL-free str */
    SCH__BYTES,   /* char * at off + size_t length at off2; str or bin, may hold NUL */
    SCH__STRV,    /* char ** at off + size_t count at off2; array of str */
    SCH__FILES,   /* struct sch_file * at off + size_t count at off2 */
    SCH__LANG,    /* enum sch_lang at off, as its name */
    SCH__STATUS,  /* enum sch_status at off, as its name */
    SCH__FKIND,   /* enum sch_file_kind at off, as its name; absent = user */
    SCH__I64,     /* int64_t at off */
    SCH__U32,     /* uint32_t at off */
    SCH__INT,     /* int at off */
    SCH__BOOL,    /* int at off, 0/1 as msgpack bool */
};

struct sch__field {
    const char *key;
    enum sch__kind kind;
    size_t off, off2;
    int64_t min, max; /* numbers only */
    int required;
    int as_bin; /* SCH__BYTES: encode as bin (else str) */
};

struct sch__record {
    const struct sch__field *fields;
    size_t nfields; /* <= 32 (a bitmask tracks duplicates) */
};

extern const struct sch__record sch__job_record;
extern const struct sch__record sch__result_record;
extern const struct sch__record sch__file_record;

#endif
