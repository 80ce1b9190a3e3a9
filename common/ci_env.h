/*
 * ci_env.h - configuration from the environment and an optional .env file.
 *
 * Precedence: a variable already in the process environment wins over the
 * same name in .env.  ci_env_load_dotenv() runs once from main() before any
 * thread starts (it calls setenv); the getters may be called from any thread
 * afterwards.
 */
#ifndef CI_ENV_H
#define CI_ENV_H

#include <stdint.h>

/* Reads KEY=VALUE lines ('#' comments, optional quotes, optional `export `)
 * from `path` (ENV_FILE, else ./.env when NULL) and setenv()s each name that
 * is not yet set.  A missing file is not an error.  Returns the number of
 * variables set, or -errno when the file exists but cannot be read. */
int ci_env_load_dotenv(const char *path);

/* The value of `name`, or `def` when unset or empty.  Not copied. */
const char *ci_env_str(const char *name, const char *def);

/* The integer value of `name` clamped to [min, max]; `def` when unset,
 * empty or not a whole number (a warning is logged). */
int64_t ci_env_int(const char *name, int64_t def, int64_t min, int64_t max);

/* true/1/yes/on -> 1, false/0/no/off -> 0, anything else -> def. */
int ci_env_bool(const char *name, int def);

#endif
