/*
 * wk_state_io.h - the state files in a sandbox's run dir (the container's
 * /run/ci, writable by the sandbox uid: the program may plant symlinks,
 * FIFOs or huge files there).
 *
 * Blocking: call from the threadpool (uv_queue_work).  0 or -errno.
 */
#ifndef WK_STATE_IO_H
#define WK_STATE_IO_H

#include <stddef.h>

/* Reading one: ci_file_read() (common/ci_file.h) has exactly these rules. */

/* Replaces path with a new file (0644, readable by the sandbox uid) holding
 * data: unlink, then O_CREAT|O_EXCL|O_NOFOLLOW. */
int wk_state_io_write(const char *path, const void *data, size_t len);

/* Removes path (a symlink itself, not its target); missing is fine. */
void wk_state_io_unlink(const char *path);

#endif
