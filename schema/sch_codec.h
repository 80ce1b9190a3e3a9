/*
 * sch_codec.h - msgpack wire format of jobs and results (ingress <-> worker).
 *
 * Each record is one msgpack map with short string keys and "v":1
 * (SCH_WIRE_VERSION).  A decoder ignores keys it does not know (forward
 * compatibility) and rejects a record whose "v" is missing or not 1.
 *
 *   job:    v id sid lang code args[] uid eid own rid cb files[] to pri ct
 *   result: v st ec out err dur files[] hs ss warn[] error
 *   file:   id sid name path rs kind rid ver
 *
 * A file's "kind" ("agent", "skill") is written only when not "user", so a
 * job without it (older ingress) decodes as user-kind; "rid" and "ver" are
 * LibreChat's resource_id and skill version (str).
 * "lang" and "st" travel as their names ("py", "completed"), so adding an
 * enum value never renumbers the wire.  "code", "out" and "err" may be str
 * or bin and may hold NUL bytes (length-counted); every other string is str
 * without NUL.  Required: job id, lang, code.  Absent optional strings decode
 * to NULL, absent numbers to 0.
 *
 * Decoding treats the buffer as hostile: input above SCH_WIRE_MAX_BYTES,
 * containers above SCH_WIRE_MAX_ENTRIES entries, more than SCH_WIRE_MAX_NODES
 * values in total, nesting deeper than SCH_WIRE_MAX_DEPTH, trailing bytes,
 * duplicate keys, wrong types and out-of-range numbers are all -EINVAL.  The
 * structure is checked by sch_msgpack_check() *before* msgpack-c sees it,
 * because msgpack-c's C unpacker allocates count * 24 bytes as soon as it
 * reads a container header (a 5-byte input could ask for 96 GiB).
 *
 * Ownership: encoders malloc *out (free() it); decoders fill a caller-owned
 * struct that the caller later passes to sch_job_release() /
 * sch_result_release(); on failure the struct is left released (zeroed).
 * No global state; any thread.
 */
#ifndef SCH_CODEC_H
#define SCH_CODEC_H

#include "sch_types.h"

#include <stddef.h>

#define SCH_WIRE_MAX_BYTES ((size_t)64 * 1024 * 1024)
#define SCH_WIRE_MAX_ENTRIES 100000u
#define SCH_WIRE_MAX_NODES 1000000u
#define SCH_WIRE_MAX_DEPTH 16

/* Returns 0 or -ENOMEM (or -EINVAL for NULL arguments / unencodable lang
 * or status). */
int sch_job_encode(const struct sch_job *job, char **out, size_t *outlen);
int sch_result_encode(const struct sch_result *res, char **out, size_t *outlen);

/* Returns 0, -EINVAL (malformed, see above) or -ENOMEM. */
int sch_job_decode(const char *buf, size_t len, struct sch_job *out);
int sch_result_decode(const char *buf, size_t len, struct sch_result *out);

/* Structural check of one msgpack value filling exactly buf[0..len): every
 * declared length fits in the remaining bytes, the limits above hold, no
 * reserved byte 0xc1.  Returns 0 or -EINVAL.  Never allocates. */
int sch_msgpack_check(const char *buf, size_t len);

#endif
