/*
 * ci_keys_main.c - ci-keys, the command-line tool for managed API keys.
 *
 *   ci-keys create NAME [--per-second N] [--per-minute N] [--per-hour N] [--per-day N]
 *   ci-keys list
 *   ci-keys show ID
 *   ci-keys disable ID | enable ID | revoke ID
 *
 * Talks to the Redis of REDIS_HOST / REDIS_PORT / REDIS_PASSWORD (environment
 * or .env, like the services).  Prints JSON.  `create` prints the new key
 * once; only its SHA-256 is stored.  disable/revoke publish on
 * ci:keys:revoked, so every running ingress forgets the key at once.
 * Exit status: 0 ok, 1 failure, 2 usage.
 */
#include "ci_env.h"
#include "ci_log.h"
#include "ing_sec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static int usage(void)
{
    fprintf(stderr, "usage: ci-keys create NAME [--per-second N] [--per-minute N] "
                    "[--per-hour N] [--per-day N]\n"
                    "       ci-keys list | show ID | disable ID | enable ID | revoke ID\n");
    return 2;
}

static redisContext *connect_redis(void)
{
    struct timeval tv = {5, 0};
    const char *host = ci_env_str("REDIS_HOST", "127.0.0.1");
    int port = (int)ci_env_int("REDIS_PORT", 6379, 1, 65535);
    const char *pw = ci_env_str("REDIS_PASSWORD", "");
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        fprintf(stderr, "ci-keys: redis %s:%d: %s\n", host, port, c ? c->errstr : "no memory");
        redisFree(c);
        return NULL;
    }
    if (pw && *pw) {
        redisReply *r = redisCommand(c, "AUTH %s", pw);
        int ok = r && r->type != REDIS_REPLY_ERROR;
        freeReplyObject(r);
        if (!ok) {
            fprintf(stderr, "ci-keys: redis AUTH failed\n");
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

static void print_json(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    if (s)
        puts(s);
    free(s);
    json_decref(o);
}

static int parse_rates(int argc, char **argv, long *rate)
{
    for (int i = 0; i < argc; i += 2) {
        int p = -1;
        for (int k = 0; k < ING_RL_COUNT; k++) {
            char opt[32];
            snprintf(opt, sizeof opt, "--per-%s", ing_rl_period_names[k]);
            if (strcmp(argv[i], opt) == 0)
                p = k;
        }
        char *end = NULL;
        long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : -1;
        if (p < 0 || !end || *end || v < 0)
            return -EINVAL;
        rate[p] = v;
    }
    return 0;
}

static int run(redisContext *c, int argc, char **argv)
{
    const char *cmd = argv[1];
    struct ing_key_info info;
    int rc;
    if (strcmp(cmd, "create") == 0) {
        long rate[ING_RL_COUNT] = {0};
        char key[64];
        if (argc < 3 || parse_rates(argc - 3, argv + 3, rate) != 0)
            return usage();
        if ((rc = ing_keys_create(c, argv[2], rate, key, sizeof key, &info)) != 0)
            goto fail;
        json_t *o = ing_key_info_json(&info);
        json_object_set_new(o, "key", json_string(key));
        print_json(o);
        return 0;
    }
    if (strcmp(cmd, "list") == 0) {
        struct ing_key_info *v;
        size_t n;
        if ((rc = ing_keys_list(c, &v, &n)) != 0)
            goto fail;
        for (size_t i = 0; i < n; i++)
            print_json(ing_key_info_json(&v[i]));
        free(v);
        return 0;
    }
    if (argc != 3)
        return usage();
    if (strcmp(cmd, "show") == 0) {
        if ((rc = ing_keys_get(c, argv[2], &info)) != 0)
            goto fail;
        print_json(ing_key_info_json(&info));
        return 0;
    }
    enum ing_key_status st = strcmp(cmd, "disable") == 0  ? ING_KEY_DISABLED
                             : strcmp(cmd, "enable") == 0 ? ING_KEY_ACTIVE
                             : strcmp(cmd, "revoke") == 0 ? ING_KEY_REVOKED
                                                          : ING_KEY_UNKNOWN;
    if (st == ING_KEY_UNKNOWN)
        return usage();
    long long receivers = 0;
    if ((rc = ing_keys_set_status(c, argv[2], st, &receivers)) != 0)
        goto fail;
    print_json(json_pack("{s:s,s:s,s:I}", "id", argv[2], "status", ing_key_status_name(st),
                         "ingress_notified", (json_int_t)receivers));
    return 0;
fail:
    fprintf(stderr, "ci-keys: %s: %s\n", cmd,
            rc == -ENOENT  ? "no such key"
            : rc == -EPERM ? "a revoked key stays revoked"
            : rc == -EINVAL ? "invalid argument"
                            : "redis error");
    return 1;
}

int main(int argc, char **argv)
{
    ci_log_init("ci-keys");
    if (argc < 2)
        return usage();
    ci_env_load_dotenv(NULL);
    redisContext *c = connect_redis();
    if (!c)
        return 1;
    int rc = run(c, argc, argv);
    redisFree(c);
    return rc;
}
