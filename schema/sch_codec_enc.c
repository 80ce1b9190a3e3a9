/*
 * sch_codec_enc.c - msgpack encoding of jobs and results, driven by the
 * field tables in sch_codec_tables.c.
 */
#include "sch_codec.h"
#include "sch_codec_int.h"

#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

struct sch_enc {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int err; /* non-zero once any pack call failed */
};

#define CAT_(base, off, type) ((type const *)(const void *)((const char *)(base) + (off)))

static void sch_enc_str(struct sch_enc *e, const char *s, size_t n)
{
    e->err |= msgpack_pack_str(&e->pk, n);
    e->err |= msgpack_pack_str_body(&e->pk, s, n);
}

static int sch_enc_record(struct sch_enc *e, const struct sch__record *rec, const void *base);

/* Non-zero when the field carries a value worth writing. */
static int sch_enc_present(const struct sch__field *f, const void *base)
{
    switch (f->kind) {
    case SCH__STR:
    case SCH__BYTES:
        return *CAT_(base, f->off, char *) != NULL;
    case SCH__STRV:
    case SCH__FILES:
        return *CAT_(base, f->off2, size_t) != 0;
    case SCH__FKIND: /* user is the default: older decoders never see the key */
        return *CAT_(base, f->off, enum sch_file_kind) != SCH_FILE_KIND_USER;
    default:
        return 1;
    }
}

static int sch_enc_value(struct sch_enc *e, const struct sch__field *f, const void *base)
{
    const char *name;
    switch (f->kind) {
    case SCH__VERSION:
        e->err |= msgpack_pack_int(&e->pk, SCH_WIRE_VERSION);
        return 0;
    case SCH__STR: {
        const char *s = *CAT_(base, f->off, char *);
        sch_enc_str(e, s, strlen(s));
        return 0;
    }
    case SCH__BYTES: {
        const char *s = *CAT_(base, f->off, char *);
        size_t n = *CAT_(base, f->off2, size_t);
        if (f->as_bin) {
            e->err |= msgpack_pack_bin(&e->pk, n);
            e->err |= msgpack_pack_bin_body(&e->pk, s, n);
        } else {
            sch_enc_str(e, s, n);
        }
        return 0;
    }
    case SCH__STRV: {
        char *const *v = *CAT_(base, f->off, char **);
        size_t n = *CAT_(base, f->off2, size_t);
        if (!v)
            return -EINVAL;
        e->err |= msgpack_pack_array(&e->pk, n);
        for (size_t i = 0; i < n; i++) {
            if (!v[i])
                return -EINVAL;
            sch_enc_str(e, v[i], strlen(v[i]));
        }
        return 0;
    }
    case SCH__FILES: {
        const struct sch_file *files = *CAT_(base, f->off, struct sch_file *);
        size_t n = *CAT_(base, f->off2, size_t);
        if (!files)
            return -EINVAL;
        e->err |= msgpack_pack_array(&e->pk, n);
        for (size_t i = 0; i < n; i++) {
            int rc = sch_enc_record(e, &sch__file_record, &files[i]);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    case SCH__LANG:
        name = sch_lang_name(*CAT_(base, f->off, enum sch_lang));
        if (!name)
            return -EINVAL;
        sch_enc_str(e, name, strlen(name));
        return 0;
    case SCH__STATUS:
        name = sch_status_name(*CAT_(base, f->off, enum sch_status));
        if (!name)
            return -EINVAL;
        sch_enc_str(e, name, strlen(name));
        return 0;
    case SCH__FKIND:
        name = sch_file_kind_name(*CAT_(base, f->off, enum sch_file_kind));
        if (!name)
            return -EINVAL;
        sch_enc_str(e, name, strlen(name));
        return 0;
    case SCH__I64:
        e->err |= msgpack_pack_int64(&e->pk, *CAT_(base, f->off, int64_t));
        return 0;
    case SCH__U32:
        e->err |= msgpack_pack_uint32(&e->pk, *CAT_(base, f->off, uint32_t));
        return 0;
    case SCH__INT:
        e->err |= msgpack_pack_int(&e->pk, *CAT_(base, f->off, int));
        return 0;
    case SCH__BOOL:
        e->err |= *CAT_(base, f->off, int) ? msgpack_pack_true(&e->pk) : msgpack_pack_false(&e->pk);
        return 0;
    }
    return -EINVAL;
}

static int sch_enc_record(struct sch_enc *e, const struct sch__record *rec, const void *base)
{
    size_t n = 0;
    for (size_t i = 0; i < rec->nfields; i++)
        n += sch_enc_present(&rec->fields[i], base) ? 1 : 0;
    e->err |= msgpack_pack_map(&e->pk, n);
    for (size_t i = 0; i < rec->nfields; i++) {
        const struct sch__field *f = &rec->fields[i];
        if (!sch_enc_present(f, base)) {
            if (f->required)
                return -EINVAL;
            continue;
        }
        sch_enc_str(e, f->key, strlen(f->key));
        int rc = sch_enc_value(e, f, base);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int sch_encode(const struct sch__record *rec, const void *base, char **out, size_t *outlen)
{
    struct sch_enc e;
    int rc;

    if (!base || !out || !outlen)
        return -EINVAL;
    *out = NULL;
    *outlen = 0;
    msgpack_sbuffer_init(&e.sb);
    msgpack_packer_init(&e.pk, &e.sb, msgpack_sbuffer_write);
    e.err = 0;
    rc = sch_enc_record(&e, rec, base);
    if (rc == 0 && e.err)
        rc = -ENOMEM;
    if (rc < 0)
        goto out;
    *outlen = e.sb.size;
    *out = msgpack_sbuffer_release(&e.sb);
out:
    msgpack_sbuffer_destroy(&e.sb);
    return rc;
}

int sch_job_encode(const struct sch_job *job, char **out, size_t *outlen)
{
    return sch_encode(&sch__job_record, job, out, outlen);
}

int sch_result_encode(const struct sch_result *res, char **out, size_t *outlen)
{
    return sch_encode(&sch__result_record, res, out, outlen);
}
