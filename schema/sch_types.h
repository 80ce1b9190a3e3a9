/*
 * sch_types.h - the job and result records that travel between ingress and
 * workers, and the language table.
 *
 * A job is what a caller asked for (one POST /exec or /jobs body, after
 * validation) plus what the ingress adds (ids, owner, deadlines).  A result is
 * what one execution produced.  Both cross process boundaries as msgpack
 * (sch_codec.h) and reach callers as JSON (sch_json.h).
 *
 * Ownership: every char * in these structs is a heap string owned by the
 * struct; NULL means "absent".  `sch_job_release()` / `sch_result_release()`
 * free the members and zero the struct (the struct itself is the caller's,
 * usually on the stack).  Strings are NUL-terminated; `stdout_buf` and
 * `stderr_buf` are additionally length-counted because program output may
 * hold NUL bytes.
 *
 * Nothing here is thread-affine; no function keeps global state.
 */
#ifndef SCH_TYPES_H
#define SCH_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* Wire version written into every encoded record. */
#define SCH_WIRE_VERSION 1

/* Languages, in the order of DESIGN.md §4.1. */
enum sch_lang {
    SCH_LANG_NONE = -1,
    SCH_LANG_PY = 0,
    SCH_LANG_JS,
    SCH_LANG_TS,
    SCH_LANG_GO,
    SCH_LANG_JAVA,
    SCH_LANG_C,
    SCH_LANG_CPP,
    SCH_LANG_PHP,
    SCH_LANG_RS,
    SCH_LANG_R,
    SCH_LANG_F90,
    SCH_LANG_D,
    SCH_LANG_BASH,
    SCH_LANG_COUNT
};

/* "py" for SCH_LANG_PY ...; NULL for out-of-range values. */
const char *sch_lang_name(enum sch_lang lang);
/* Case-insensitive lookup of a language code; SCH_LANG_NONE if unknown. */
enum sch_lang sch_lang_from_name(const char *name);

/* Terminal and non-terminal states of a job (see queue/q_job.h for the
 * lifecycle) and outcomes of one execution. */
enum sch_status {
    SCH_STATUS_QUEUED = 0,
    SCH_STATUS_RUNNING,
    SCH_STATUS_COMPLETED, /* program ran and exited 0 */
    SCH_STATUS_FAILED,    /* program ran and exited non-zero, or could not run */
    SCH_STATUS_TIMEOUT,   /* wall-clock limit hit, program killed */
    SCH_STATUS_OOM,       /* memory limit hit */
    SCH_STATUS_CANCELLED, /* DELETE /jobs/{id} */
    SCH_STATUS_DEAD,      /* infrastructure failed MAX_ATTEMPTS times */
    SCH_STATUS_COUNT
};

const char *sch_status_name(enum sch_status st);
/* SCH_STATUS_COUNT when unknown. */
enum sch_status sch_status_from_name(const char *name);
/* Non-zero for states after which nothing changes. */
int sch_status_is_terminal(enum sch_status st);

/* Kind of the storage session a file lives in (LIBRECHAT.md "Files"):
 * USER files are private to one (tenant, user); AGENT files are shared by
 * the tenant's users for one agent id; SKILL files are shared within the
 * tenant, versioned and read-only.  Older references (no kind) are USER. */
enum sch_file_kind {
    SCH_FILE_KIND_USER = 0,
    SCH_FILE_KIND_AGENT,
    SCH_FILE_KIND_SKILL,
    SCH_FILE_KIND_COUNT
};

/* "user", "agent", "skill"; NULL for out-of-range values. */
const char *sch_file_kind_name(enum sch_file_kind kind);
/* Exact (lower-case) lookup; SCH_FILE_KIND_COUNT when unknown. */
enum sch_file_kind sch_file_kind_from_name(const char *name);

/* Bounds of a nested relative file name ("dir/sub/file.csv"): at most
 * SCH_FILEPATH_DEPTH components, SCH_FILENAME_MAX bytes in all. */
#define SCH_FILEPATH_DEPTH 8

/* A file reference in a request (input) or a result (output).
 *
 * In a request, LibreChat's shape {id, resource_id, name,
 * storage_session_id, kind, version?} and the older {id, session_id, name,
 * restore_state?} both land here: `session_id` is the STORAGE session the
 * file lives in - the ingress resolved it (storage_session_id, or the older
 * session_id) and authorised it for the job's (owner, user_id) under `kind`
 * before enqueueing (ingress/jobs/private/ing_fileref.h); a worker re-checks it with
 * st_access.h.  `name` may be a nested relative path ("dir/file.csv",
 * sch_valid_relpath()). */
struct sch_file {
    char *id;
    char *session_id;   /* storage session of the file */
    char *name;         /* relative path under /mnt/data */
    char *path;         /* results only: "/mnt/data/<name>" */
    int restore_state;  /* requests only */
    enum sch_file_kind kind; /* requests: kind of the storage session */
    char *resource_id;  /* requests: LibreChat's resource_id (agent/skill id), or NULL */
    char *version;      /* requests: skill version (decimal text), or NULL */
    int inherited;      /* results only: an input echoed back unchanged (id and
                           session_id are the input's own) */
};

struct sch_job {
    char *id;         /* job id, 32 lowercase hex chars */
    char *session_id; /* chosen by the ingress before enqueue */
    enum sch_lang lang;
    char *code;
    size_t code_len;
    char **args; /* argv after the program name; nargs entries */
    size_t nargs;
    char *user_id;
    char *entity_id;
    char *owner;       /* key id of the caller (hash prefix), never the key */
    char *request_id;  /* for logs, carried ingress -> worker */
    char *callback_url;
    struct sch_file *files;
    size_t nfiles;
    uint32_t timeout_ms; /* wall clock limit for the program */
    int priority;        /* 0 normal, 1 high */
    int64_t created_ms;  /* unix epoch milliseconds */
    char **warnings;     /* code-scan findings made at intake (ingress/security/ing_sec.h);
                            the worker copies them into the result */
    size_t nwarnings;
    /* Programmatic tool calling (POST /exec/programmatic, docs/ptc.md): the
     * tools as compact JSON text [{"name": ...}, ...], validated by the
     * ingress; NULL for a plain job. */
    char *tools;
};

struct sch_result {
    enum sch_status status;
    int exit_code;
    char *stdout_buf;
    size_t stdout_len;
    char *stderr_buf;
    size_t stderr_len;
    int64_t duration_ms;
    struct sch_file *files;
    size_t nfiles;
    int has_state;
    int64_t state_size;
    char **warnings;
    size_t nwarnings;
    char *error; /* infrastructure error text for FAILED/DEAD, else NULL */
    /* Inputs (their `name` as the request gave it) that the run removed. */
    char **deleted_files;
    size_t ndeleted_files;
    /* Outputs found (attempted) and stored (delivered); attempted >
     * delivered means some were dropped (limits or storage failure): the
     * response then carries LibreChat's `artifact_delivery` failure. */
    uint32_t outputs_attempted;
    uint32_t outputs_delivered;
};

void sch_file_release(struct sch_file *f);
void sch_job_release(struct sch_job *job);
void sch_result_release(struct sch_result *res);

/* Append a copy of `text` to res->warnings.  Returns 0 or -ENOMEM. */
int sch_result_add_warning(struct sch_result *res, const char *text);

#endif
