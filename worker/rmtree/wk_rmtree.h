/*
 * wk_rmtree.h - removing a sandbox's host tree whatever its depth.
 *
 * A program can leave a tree far deeper than PATH_MAX (a 7 KB chain of
 * directories): path-based walkers (nftw) fail on it, and a tree left
 * behind leaks host disk for good.  wk_rmtree() works on descriptors only
 * and never builds a path: it empties the top directory one directory at
 * a time, moving each subdirectory it meets up to the top level under a
 * fresh name (renameat2 RENAME_NOREPLACE) instead of descending, so it
 * holds two descriptors, reads each entry once (linear in the tree's size)
 * and never follows a symlink (symlinks are unlinked like files).
 *
 * Call it only on a tree nothing else writes to any more (the container is
 * gone).  Blocking I/O: run it on a uv threadpool thread, never on the loop.
 * Thread-safe (no shared state).
 */
#ifndef WK_RMTREE_H
#define WK_RMTREE_H

/* Removes `path` and everything below it.  A path that is not a directory
 * (or is a symlink) is unlinked.  Returns 0 (also when `path` does not
 * exist) or a negative errno of the first entry that could not be removed
 * (the rest is still attempted). */
int wk_rmtree(const char *path);

#endif
