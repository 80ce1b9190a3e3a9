/*
 * ci_file.h - the file-system helpers several components need.
 *
 * Blocking calls: from a worker's loop, run them in the threadpool
 * (uv_queue_work).  Thread-safe; no global state.  0 or a negative errno.
 */
#ifndef CI_FILE_H
#define CI_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p: creates every missing component of path; new ones get `mode`,
 * existing ones are left as they are.  -ENAMETOOLONG past 4095 bytes. */
int ci_mkdir_p(const char *path, mode_t mode);

/* Reads the regular file at path (O_NOFOLLOW, O_NONBLOCK: never a FIFO or
 * a symlink; -ELOOP for a symlink, -EINVAL for anything not regular) into
 * a new NUL-terminated buffer (*data, the caller frees; *len bytes before
 * the NUL).  At most the size the file had when opened is read (a file that
 * grows meanwhile is cut there, one that shrinks ends early).  -ENOENT when
 * missing; -EFBIG (with *len = its size) when larger than max. */
int ci_file_read(const char *path, size_t max, char **data, size_t *len);

#endif
