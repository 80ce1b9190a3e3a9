/*
 * sch_codec_dec.c - msgpack decoding of jobs and results (hostile input).
 *
 * Order of defence: size cap and structural check (sch_msgpack_check), then
 * msgpack-c builds the object tree, then the field tables map each known key
 * into the struct with type and range checks.  Every copy goes into the
 * caller's struct as soon as it is made, so one release on failure frees
 * everything.
 */
#include "sch_codec.h"
#include "sch_codec_int.h"

#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define AT_(base, off, type) ((type *)(void *)((char *)(base) + (off)))

static int sch_dec_record(const msgpack_object *o, const struct sch__record *rec, void *base);

/* A str (or, when allow_bin, bin) object: pointer and length. */
static int sch_dec_raw(const msgpack_object *o, int allow_bin, const char **p, size_t *n)
{
    if (o->type == MSGPACK_OBJECT_STR) {
        *p = o->via.str.ptr;
        *n = o->via.str.size;
        return 0;
    }
    if (allow_bin && o->type == MSGPACK_OBJECT_BIN) {
        *p = o->via.bin.ptr;
        *n = o->via.bin.size;
        return 0;
    }
    return -EINVAL;
}

/* A NUL-terminated heap copy; NUL inside is refused unless allow_nul. */
static int sch_dec_copy(const char *p, size_t n, int allow_nul, char **dst)
{
    if (!allow_nul && n && memchr(p, '\0', n))
        return -EINVAL;
    char *s = malloc(n + 1);
    if (!s)
        return -ENOMEM;
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    *dst = s;
    return 0;
}

static int sch_dec_str(const msgpack_object *o, char **dst)
{
    const char *p;
    size_t n;
    if (sch_dec_raw(o, 0, &p, &n) < 0)
        return -EINVAL;
    return sch_dec_copy(p, n, 0, dst);
}

static int sch_dec_int(const msgpack_object *o, int64_t min, int64_t max, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return -EINVAL;
        *v = (int64_t)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
    } else {
        return -EINVAL;
    }
    return (*v < min || *v > max) ? -EINVAL : 0;
}

/* An array field: `*dst` = n zeroed elements of `elsize` for its n items
 * (left alone when n is 0).  Returns n, -EINVAL (not an array) or -ENOMEM. */
static long sch_dec_array(const msgpack_object *o, size_t elsize, void **dst)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return -EINVAL;
    size_t n = o->via.array.size;
    if (n == 0)
        return 0;
    *dst = calloc(n, elsize);
    return *dst ? (long)n : -ENOMEM;
}

static int sch_dec_strv(const msgpack_object *o, char ***dst, size_t *count)
{
    void *arr = NULL;
    long n = sch_dec_array(o, sizeof **dst, &arr);
    if (n <= 0)
        return (int)n;
    *dst = arr;
    for (size_t i = 0; i < (size_t)n; i++) {
        int rc = sch_dec_str(&o->via.array.ptr[i], &(*dst)[i]);
        *count = i + (rc == 0); /* the caller's release frees what was copied */
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int sch_dec_files(const msgpack_object *o, struct sch_file **dst, size_t *count)
{
    void *arr = NULL;
    long n = sch_dec_array(o, sizeof **dst, &arr);
    if (n <= 0)
        return (int)n;
    *dst = arr;
    *count = (size_t)n; /* zeroed entries release cleanly */
    for (size_t i = 0; i < (size_t)n; i++) {
        int rc = sch_dec_record(&o->via.array.ptr[i], &sch__file_record, &(*dst)[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int sch_dec_name(const msgpack_object *o, char *buf, size_t bufsz)
{
    const char *p;
    size_t n;
    if (sch_dec_raw(o, 0, &p, &n) < 0 || n >= bufsz)
        return -EINVAL;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return 0;
}

/* An enum field sent as its name (SCH__LANG, SCH__STATUS, SCH__FKIND): the
 * name is mapped by the type's own *_from_name and stored with its type;
 * an unknown name is -EINVAL. */
static int sch_dec_enum(const msgpack_object *o, enum sch__kind kind, void *dst)
{
    char name[16];
    if (sch_dec_name(o, name, sizeof name) < 0)
        return -EINVAL;
    int v = kind == SCH__LANG     ? (int)sch_lang_from_name(name)
            : kind == SCH__STATUS ? (int)sch_status_from_name(name)
                                  : (int)sch_file_kind_from_name(name);
    int bad = kind == SCH__LANG     ? (int)SCH_LANG_NONE
              : kind == SCH__STATUS ? (int)SCH_STATUS_COUNT
                                    : (int)SCH_FILE_KIND_COUNT;
    if (v == bad)
        return -EINVAL;
    if (kind == SCH__LANG)
        *(enum sch_lang *)dst = (enum sch_lang)v;
    else if (kind == SCH__STATUS)
        *(enum sch_status *)dst = (enum sch_status)v;
    else
        *(enum sch_file_kind *)dst = (enum sch_file_kind)v;
    return 0;
}

static int sch_dec_value(const msgpack_object *o, const struct sch__field *f, void *base)
{
    int64_t v;
    int rc;

    switch (f->kind) {
    case SCH__VERSION:
        return sch_dec_int(o, SCH_WIRE_VERSION, SCH_WIRE_VERSION, &v);
    case SCH__STR:
        return sch_dec_str(o, AT_(base, f->off, char *));
    case SCH__BYTES: {
        const char *p;
        size_t n;
        if (sch_dec_raw(o, 1, &p, &n) < 0)
            return -EINVAL;
        rc = sch_dec_copy(p, n, 1, AT_(base, f->off, char *));
        if (rc == 0)
            *AT_(base, f->off2, size_t) = n;
        return rc;
    }
    case SCH__STRV:
        return sch_dec_strv(o, AT_(base, f->off, char **), AT_(base, f->off2, size_t));
    case SCH__FILES:
        return sch_dec_files(o, AT_(base, f->off, struct sch_file *), AT_(base, f->off2, size_t));
    case SCH__LANG:
    case SCH__STATUS:
    case SCH__FKIND:
        return sch_dec_enum(o, f->kind, AT_(base, f->off, void));
    case SCH__I64:
    case SCH__U32:
    case SCH__INT:
        if (sch_dec_int(o, f->min, f->max, &v) < 0)
            return -EINVAL;
        if (f->kind == SCH__I64)
            *AT_(base, f->off, int64_t) = v;
        else if (f->kind == SCH__U32)
            *AT_(base, f->off, uint32_t) = (uint32_t)v;
        else
            *AT_(base, f->off, int) = (int)v;
        return 0;
    case SCH__BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            return -EINVAL;
        *AT_(base, f->off, int) = o->via.boolean ? 1 : 0;
        return 0;
    }
    return -EINVAL;
}

static const struct sch__field *sch_dec_find(const struct sch__record *rec, const char *key,
                                             size_t klen, size_t *idx)
{
    for (size_t i = 0; i < rec->nfields; i++) {
        const char *k = rec->fields[i].key;
        if (strlen(k) == klen && memcmp(k, key, klen) == 0) {
            *idx = i;
            return &rec->fields[i];
        }
    }
    return NULL;
}

static int sch_dec_record(const msgpack_object *o, const struct sch__record *rec, void *base)
{
    uint32_t seen = 0;

    if (o->type != MSGPACK_OBJECT_MAP)
        return -EINVAL;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        size_t idx;
        if (kv->key.type != MSGPACK_OBJECT_STR)
            continue; /* not ours: ignored like any unknown key */
        const struct sch__field *f =
            sch_dec_find(rec, kv->key.via.str.ptr, kv->key.via.str.size, &idx);
        if (!f)
            continue;
        if (seen & (1u << idx))
            return -EINVAL; /* duplicate key */
        seen |= 1u << idx;
        int rc = sch_dec_value(&kv->val, f, base);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < rec->nfields; i++)
        if (rec->fields[i].required && !(seen & (1u << i)))
            return -EINVAL;
    return 0;
}

static int sch_decode(const char *buf, size_t len, const struct sch__record *rec, void *base)
{
    msgpack_unpacked u;
    size_t off = 0;
    int rc = sch_msgpack_check(buf, len);

    if (rc < 0)
        return rc;
    msgpack_unpacked_init(&u);
    switch (msgpack_unpack_next(&u, buf, len, &off)) {
    case MSGPACK_UNPACK_SUCCESS:
        rc = off == len ? sch_dec_record(&u.data, rec, base) : -EINVAL;
        break;
    case MSGPACK_UNPACK_NOMEM_ERROR:
        rc = -ENOMEM;
        break;
    default:
        rc = -EINVAL;
        break;
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

int sch_job_decode(const char *buf, size_t len, struct sch_job *out)
{
    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    out->lang = SCH_LANG_NONE;
    int rc = sch_decode(buf, len, &sch__job_record, out);
    if (rc < 0)
        sch_job_release(out);
    return rc;
}

int sch_result_decode(const char *buf, size_t len, struct sch_result *out)
{
    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    int rc = sch_decode(buf, len, &sch__result_record, out);
    if (rc < 0)
        sch_result_release(out);
    return rc;
}
