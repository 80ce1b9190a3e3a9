/*
 * ing_scan.h - checks of untrusted content that warn or refuse.
 *
 * Code scan (SECURITY.md "Code Validation"): the program text is searched
 * for the spec's dangerous patterns - system imports (import os /
 * subprocess / sys / shutil / socket / ctypes / pty, from X import,
 * require('child_process')), dynamic evaluation (eval( exec( __import__( ),
 * file functions (open( file( ), input functions (input( raw_input( ).  A
 * name matches only as a whole word (reopen( or my_eval( do not), spaces
 * before '(' allowed.  Findings become warnings in the result and the audit
 * log; they never block a job (the code runs in a sandbox anyway).
 *
 * File names (SECURITY.md "Filename Validation"): sch_valid_filename()
 * (length 1..255, no '/', '\\', NUL or control characters, not . or ..,
 * UTF-8) plus no dangerous characters (< > : " | ? * ; & $ `) and an
 * extension from the spec's whitelist (case-insensitive, st_files.h).
 *
 * Pure functions, thread-safe, no I/O.
 */
#ifndef ING_SCAN_H
#define ING_SCAN_H

#include <stddef.h>

#define ING_SCAN_MAX_WARNINGS 16

/* Appends one malloc'd warning per distinct finding to (*warnings, *n)
 * (at most ING_SCAN_MAX_WARNINGS in all).  Returns the number added, or
 * -ENOMEM. */
int ing_scan_code(const char *code, size_t len, char ***warnings, size_t *n);

#define ING_FNAME_DANGEROUS "<>:\"|?*;&$`"

/* 1 when `name` is a safe file name whatever its extension:
 * sch_valid_filename() and none of ING_FNAME_DANGEROUS.  Else 0 with *why
 * (when not NULL) pointing to a static reason. */
int ing_fname_safe(const char *name, const char **why);

/* 1 when the extension of `name` is on the upload whitelist
 * (st_extension_allowed(): the one list, shared with the file store). */
int ing_fname_ext_allowed(const char *name);

/* ing_fname_safe() and ing_fname_ext_allowed(): an acceptable upload name. */
int ing_fname_ok(const char *name, const char **why);

#endif
