#include "ci_env.h"
#include "ci_log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int dotenv_line(char *line)
{
    char *s = trim(line);
    if (*s == '\0' || *s == '#')
        return 0;
    if (strncmp(s, "export ", 7) == 0)
        s = trim(s + 7);
    char *eq = strchr(s, '=');
    if (!eq || eq == s)
        return 0;
    *eq = '\0';
    char *name = trim(s), *val = trim(eq + 1);
    size_t vlen = strlen(val);
    if (vlen >= 2 && (val[0] == '"' || val[0] == '\'') && val[vlen - 1] == val[0]) {
        val[vlen - 1] = '\0';
        val++;
    } else {
        char *hash = strstr(val, " #");
        if (hash)
            *trim(hash) = '\0', val = trim(val);
    }
    if (getenv(name))
        return 0;
    return setenv(name, val, 0) == 0 ? 1 : 0;
}

int ci_env_load_dotenv(const char *path)
{
    if (!path)
        path = ci_env_str("ENV_FILE", ".env");
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : -errno;
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    while (getline(&line, &cap, f) >= 0)
        n += dotenv_line(line);
    free(line);
    fclose(f);
    return n;
}

const char *ci_env_str(const char *name, const char *def)
{
    const char *v = getenv(name);
    return (v && *v) ? v : def;
}

int64_t ci_env_int(const char *name, int64_t def, int64_t min, int64_t max)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end != '\0') {
        log_warn("%s=%s is not a whole number; using %lld", name, v, (long long)def);
        return def;
    }
    if (x < min)
        x = min;
    if (x > max)
        x = max;
    return x;
}

int ci_env_bool(const char *name, int def)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") ||
        !strcasecmp(v, "on"))
        return 1;
    if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") ||
        !strcasecmp(v, "off"))
        return 0;
    return def;
}
