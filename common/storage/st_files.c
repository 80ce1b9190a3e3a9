/*
 * st_files.c - session file helpers (see st_files.h).
 */
#include "st_files.h"

#include "ci_log.h"
#include "ci_util.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

int st_file_key(char *out, size_t outsz, const char *sid, const char *fid, int meta)
{
    if (!id_ok(sid) || !id_ok(fid))
        return -EINVAL;
    int n = snprintf(out, outsz, "files/%s/%s%s", sid, fid, meta ? ".meta" : "");
    return n < 0 || (size_t)n >= outsz ? -EINVAL : 0;
}

static const struct {
    const char *ext;
    const char *type;
    int upload; /* on the upload whitelist */
} types[] = {
    {"txt", "text/plain", 1},
    {"csv", "text/csv", 1},
    {"json", "application/json", 1},
    {"xml", "application/xml", 1},
    {"yaml", "application/yaml", 1},
    {"yml", "application/yaml", 1},
    {"py", "text/x-python", 1},
    {"js", "text/javascript", 1},
    {"ts", "text/plain", 1},
    {"go", "text/plain", 1},
    {"java", "text/x-java", 1},
    {"c", "text/x-c", 1},
    {"cpp", "text/x-c++", 1},
    {"h", "text/x-c", 1},
    {"hpp", "text/x-c++", 1},
    {"rs", "text/plain", 1},
    {"php", "text/plain", 1},
    {"rb", "text/plain", 1},
    {"r", "text/plain", 1},
    {"f90", "text/plain", 1},
    {"d", "text/plain", 1},
    {"md", "text/markdown", 1},
    {"rst", "text/plain", 1},
    {"html", "text/html", 1},
    {"css", "text/css", 1},
    {"png", "image/png", 1},
    {"jpg", "image/jpeg", 1},
    {"jpeg", "image/jpeg", 1},
    {"gif", "image/gif", 1},
    {"svg", "image/svg+xml", 1},
    {"pdf", "application/pdf", 1},
    {"doc", "application/msword", 1},
    {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 1},
    {"xls", "application/vnd.ms-excel", 1},
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 1},
    /* what LibreChat keeps (librechat-data-provider codeTypeMapping and the
     * agents' CodeExecutor note: .py/.sh/.sql/.md/.json/.csv/.parquet/...) */
    {"zip", "application/zip", 1},
    {"tar", "application/x-tar", 1},
    {"tsv", "text/tab-separated-values", 1},
    {"log", "text/plain", 1},
    {"sh", "application/x-sh", 1},
    {"bash", "text/plain", 1},
    {"sql", "application/sql", 1},
    {"parquet", "application/vnd.apache.parquet", 1},
    {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", 1},
    {"ppt", "application/vnd.ms-powerpoint", 1},
    {"odt", "application/vnd.oasis.opendocument.text", 1},
    {"ods", "application/vnd.oasis.opendocument.spreadsheet", 1},
    {"odp", "application/vnd.oasis.opendocument.presentation", 1},
    {"rtf", "application/rtf", 1},
    {"ipynb", "application/x-ipynb+json", 1},
    {"tex", "text/x-tex", 1},
    {"cs", "text/x-csharp", 1},
    {"kt", "text/plain", 1},
    {"swift", "text/plain", 1},
    {"scala", "text/plain", 1},
    {"lua", "text/plain", 1},
    {"pl", "text/plain", 1},
    {"jl", "text/plain", 1},
    {"toml", "text/plain", 1},
    {"ini", "text/plain", 1},
    {"cfg", "text/plain", 1},
    {"conf", "text/plain", 1},
    {"htm", "text/html", 1},
    {"jsx", "text/plain", 1},
    {"tsx", "text/plain", 1},
    {"ics", "text/calendar", 1},
    {"eml", "message/rfc822", 1},
    {"webp", "image/webp", 1},
    {"bmp", "image/bmp", 1},
    {"tif", "image/tiff", 1},
    {"tiff", "image/tiff", 1},
    {"epub", "application/epub+zip", 1},
    {"npy", "application/octet-stream", 1},
    {"pkl", "application/octet-stream", 1},
    {"h5", "application/octet-stream", 1},
    {"db", "application/octet-stream", 1},
    {"sqlite", "application/vnd.sqlite3", 1},
    {"gz", "application/gzip", 1},
    /* outputs only: none at the moment (UPLOAD_EXTENSIONS can narrow uploads) */
    {"mp3", "audio/mpeg", 0},
    {"wav", "audio/wav", 0},
    {"mp4", "video/mp4", 0},
};

static int type_index(const char *name)
{
    const char *base = name ? strrchr(name, '/') : NULL; /* nested names: the last part */
    name = base ? base + 1 : name;
    const char *dot = name ? strrchr(name, '.') : NULL;
    if (!dot || dot == name || !dot[1])
        return -1;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(dot + 1, types[i].ext) == 0)
            return (int)i;
    return -1;
}

const char *st_content_type(const char *name)
{
    int i = type_index(name);
    return i < 0 ? "application/octet-stream" : types[i].type;
}

/* The upload allow-list from the environment, read once (st_files.h). */
#define ST_EXT_ENV_MAX 256
static char s_ext_only[ST_EXT_ENV_MAX][16], s_ext_extra[ST_EXT_ENV_MAX][16];
static size_t s_n_only, s_n_extra;
static int s_only_set;
static pthread_once_t s_ext_once = PTHREAD_ONCE_INIT;

static size_t ext_list(const char *v, char out[][16])
{
    size_t n = 0;
    while (v && *v && n < ST_EXT_ENV_MAX) {
        v += strspn(v, " ,.");
        size_t len = strcspn(v, " ,");
        if (len > 0 && len < 16) {
            memcpy(out[n], v, len);
            out[n++][len] = '\0';
        }
        v += len;
    }
    return n;
}

static void ext_env(void)
{
    const char *only = getenv("UPLOAD_EXTENSIONS"), *extra = getenv("UPLOAD_EXTENSIONS_EXTRA");
    s_only_set = only && *only;
    s_n_only = s_only_set ? ext_list(only, s_ext_only) : 0;
    s_n_extra = ext_list(extra, s_ext_extra);
}

static int ext_in(const char *ext, char list[][16], size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(ext, list[i]) == 0)
            return 1;
    return 0;
}

int st_extension_allowed(const char *name)
{
    const char *base = name ? strrchr(name, '/') : NULL;
    const char *dot;
    base = base ? base + 1 : name;
    dot = base ? strrchr(base, '.') : NULL;
    if (!dot || dot == base || !dot[1])
        return 0;
    pthread_once(&s_ext_once, ext_env);
    if (ext_in(dot + 1, s_ext_extra, s_n_extra))
        return 1;
    if (s_only_set)
        return ext_in(dot + 1, s_ext_only, s_n_only);
    int i = type_index(base);
    return i >= 0 && types[i].upload;
}

static int meta_put(struct st_store *st, const struct st_file_meta *m)
{
    char key[160];
    int rc = st_file_key(key, sizeof key, m->session_id, m->id, 1);
    if (rc != 0)
        return rc;
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "id", m->id, "session_id",
                          m->session_id, "name", m->name, "content_type", m->content_type, "size",
                          (json_int_t)m->size, "created_ms", (json_int_t)m->created_ms, "etag",
                          m->etag, "source", m->source);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return -ENOMEM;
    rc = st_put(st, key, text, strlen(text), "application/json");
    free(text);
    return rc;
}

int st_file_store(struct st_store *st, struct st_file_meta *m, const char *path)
{
    char key[160];
    struct st_object_info info;
    int rc = st_file_key(key, sizeof key, m->session_id, m->id, 0);
    if (rc != 0)
        return rc;
    if (!m->content_type[0])
        snprintf(m->content_type, sizeof m->content_type, "%s", st_content_type(m->name));
    rc = st_put_file(st, key, path, m->content_type);
    if (rc == 0)
        rc = st_head(st, key, &info);
    if (rc == 0) {
        m->size = info.size;
        snprintf(m->etag, sizeof m->etag, "%s", info.etag);
        if (!m->created_ms)
            m->created_ms = ci_now_ms();
        rc = meta_put(st, m);
    }
    if (rc != 0)
        st_delete(st, key);
    return rc;
}

static void copy_str(json_t *o, const char *k, char *out, size_t outsz)
{
    const char *v = json_string_value(json_object_get(o, k));
    snprintf(out, outsz, "%s", v ? v : "");
}

static int meta_parse(const char *text, size_t len, struct st_file_meta *m)
{
    json_t *j = json_loadb(text, len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return -EIO;
    }
    memset(m, 0, sizeof *m);
    copy_str(j, "id", m->id, sizeof m->id);
    copy_str(j, "session_id", m->session_id, sizeof m->session_id);
    copy_str(j, "name", m->name, sizeof m->name);
    copy_str(j, "content_type", m->content_type, sizeof m->content_type);
    copy_str(j, "etag", m->etag, sizeof m->etag);
    copy_str(j, "source", m->source, sizeof m->source);
    m->size = json_integer_value(json_object_get(j, "size"));
    m->created_ms = json_integer_value(json_object_get(j, "created_ms"));
    json_decref(j);
    return m->id[0] && m->name[0] ? 0 : -EIO;
}

int st_meta_get(struct st_store *st, const char *sid, const char *fid, struct st_file_meta *m)
{
    char key[160], *text = NULL;
    size_t len = 0;
    int rc = st_file_key(key, sizeof key, sid, fid, 1);
    if (rc != 0)
        return -ENOENT;
    rc = st_get(st, key, ST_META_MAX, &text, &len);
    if (rc == 0)
        rc = meta_parse(text, len, m);
    free(text);
    return rc;
}

static int by_created(const void *a, const void *b)
{
    const struct st_file_meta *x = a, *y = b;
    if (x->created_ms != y->created_ms)
        return x->created_ms < y->created_ms ? -1 : 1;
    return strcmp(x->id, y->id);
}

int st_session_files(struct st_store *st, const char *sid, struct st_file_meta **out, size_t *n)
{
    char prefix[96], **keys = NULL;
    size_t nkeys = 0, cnt = 0;
    *out = NULL;
    *n = 0;
    if (!id_ok(sid))
        return -EINVAL;
    snprintf(prefix, sizeof prefix, "files/%s/", sid);
    int rc = st_list(st, prefix, &keys, &nkeys);
    if (rc != 0)
        return rc;
    struct st_file_meta *arr = ci_xcalloc(nkeys ? nkeys : 1, sizeof *arr);
    for (size_t i = 0; i < nkeys; i++) {
        const char *fid = keys[i] + strlen(prefix);
        size_t fl = strlen(fid);
        char id[65];
        if (fl <= 5 || fl - 5 >= sizeof id || strcmp(fid + fl - 5, ".meta") != 0)
            continue;
        memcpy(id, fid, fl - 5);
        id[fl - 5] = '\0';
        if (st_meta_get(st, sid, id, &arr[cnt]) == 0)
            cnt++;
    }
    st_list_free(keys, nkeys);
    qsort(arr, cnt, sizeof *arr, by_created);
    *out = arr;
    *n = cnt;
    return 0;
}

int st_file_delete(struct st_store *st, const char *sid, const char *fid)
{
    char key[160], mkey[160];
    struct st_object_info info;
    if (st_file_key(key, sizeof key, sid, fid, 0) != 0 ||
        st_file_key(mkey, sizeof mkey, sid, fid, 1) != 0)
        return -ENOENT;
    int rc = st_head(st, mkey, &info);
    if (rc != 0)
        return rc;
    rc = st_delete(st, key);
    if (rc == 0)
        rc = st_delete(st, mkey);
    return rc;
}

int st_session_purge(struct st_store *st, const char *sid)
{
    char prefix[96], **keys = NULL;
    size_t n = 0;
    if (!id_ok(sid))
        return -EINVAL;
    snprintf(prefix, sizeof prefix, "files/%s/", sid);
    int rc = st_list(st, prefix, &keys, &n);
    if (rc != 0)
        return rc;
    int done = 0;
    for (size_t i = 0; i < n; i++) /* bytes first, metadata last */
        if (!strstr(keys[i], ".meta") && st_delete(st, keys[i]) == 0)
            done++;
    for (size_t i = 0; i < n; i++)
        if (strstr(keys[i], ".meta") && st_delete(st, keys[i]) == 0)
            done++;
    st_list_free(keys, n);
    return done;
}
