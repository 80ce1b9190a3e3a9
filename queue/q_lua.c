/*
 * q_lua.c - EVALSHA with EVAL on NOSCRIPT, blocking and on a link (q_lua.h).
 */
#include "q_lua.h"

#include "ci_util.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t sha_lock = PTHREAD_MUTEX_INITIALIZER;

const char *q_lua_text(const struct q_lua *s)
{
    return s->text;
}

const char *q_lua_sha(struct q_lua *s)
{
    if (atomic_load_explicit(&s->ready, memory_order_acquire))
        return s->sha;
    pthread_mutex_lock(&sha_lock);
    if (!atomic_load_explicit(&s->ready, memory_order_relaxed)) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        if (EVP_Digest(s->text, strlen(s->text), md, &mdlen, EVP_sha1(), NULL) == 1 && mdlen == 20)
            ci_hex_encode(md, 20, s->sha);
        else
            memset(s->sha, '0', 40); /* EVALSHA then meets NOSCRIPT -> EVAL */
        s->sha[40] = '\0';
        atomic_store_explicit(&s->ready, 1, memory_order_release);
    }
    pthread_mutex_unlock(&sha_lock);
    return s->sha;
}

int q_lua_is_noscript(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && r->str && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

/* A command: EVALSHA|EVAL, sha|text, nkeys, then the caller's n values. */
struct q_lua_cmd {
    const char **av;
    size_t *al;
    int argc;
    char num[16];
};

static void cmd_init(struct q_lua_cmd *k, int nkeys, int n, const char **argv, const size_t *lens)
{
    k->argc = n + 3;
    k->av = ci_xcalloc((size_t)k->argc, sizeof *k->av);
    k->al = ci_xcalloc((size_t)k->argc, sizeof *k->al);
    snprintf(k->num, sizeof k->num, "%d", nkeys);
    k->av[2] = k->num;
    k->al[2] = strlen(k->num);
    for (int i = 0; i < n; i++) {
        k->av[3 + i] = argv[i];
        k->al[3 + i] = lens ? lens[i] : strlen(argv[i]);
    }
}

static void cmd_head(struct q_lua_cmd *k, struct q_lua *s, int eval)
{
    k->av[0] = eval ? "EVAL" : "EVALSHA";
    k->av[1] = eval ? q_lua_text(s) : q_lua_sha(s);
    k->al[0] = strlen(k->av[0]);
    k->al[1] = strlen(k->av[1]);
}

static void cmd_release(struct q_lua_cmd *k)
{
    free(k->av);
    free(k->al);
}

redisReply *q_lua_call(redisContext *c, struct q_lua *s, int nkeys, int n, const char **argv,
                       const size_t *lens)
{
    struct q_lua_cmd k;
    redisReply *r = NULL;
    cmd_init(&k, nkeys, n, argv, lens);
    for (int eval = 0; eval < 2; eval++) {
        cmd_head(&k, s, eval);
        r = redisCommandArgv(c, k.argc, k.av, k.al);
        if (!q_lua_is_noscript(r))
            break;
        freeReplyObject(r);
        r = NULL;
    }
    cmd_release(&k);
    return r;
}

/* An asynchronous call in flight: owns copies of the values. */
struct q_lua_async {
    struct q_link *link;
    struct q_lua *s;
    redisCallbackFn *fn;
    void *priv;
    struct q_lua_cmd k;
    char **copies;
    int n;
};

static void async_free(struct q_lua_async *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->copies[i]);
    free(a->copies);
    cmd_release(&a->k);
    free(a);
}

static void on_evalsha(redisAsyncContext *ac, void *reply, void *priv)
{
    struct q_lua_async *a = priv;
    if (q_lua_is_noscript(reply)) {
        cmd_head(&a->k, a->s, 1);
        if (q_link_command_argv(a->link, a->fn, a->priv, a->k.argc, a->k.av, a->k.al) != 0 && a->fn)
            a->fn(ac, NULL, a->priv); /* accepted once: fn hears the end */
    } else if (a->fn) {
        a->fn(ac, reply, a->priv);
    }
    async_free(a); /* hiredis copied the EVAL's arguments when it was sent */
}

int q_lua_link_call(struct q_link *l, struct q_lua *s, redisCallbackFn *fn, void *priv, int nkeys,
                    int n, const char **argv, const size_t *lens)
{
    struct q_lua_async *a = ci_xcalloc(1, sizeof *a);
    a->link = l;
    a->s = s;
    a->fn = fn;
    a->priv = priv;
    a->n = n;
    a->copies = ci_xcalloc((size_t)(n > 0 ? n : 1), sizeof *a->copies);
    size_t *cl = ci_xcalloc((size_t)(n > 0 ? n : 1), sizeof *cl);
    for (int i = 0; i < n; i++) {
        cl[i] = lens ? lens[i] : strlen(argv[i]);
        a->copies[i] = ci_xmalloc(cl[i] + 1);
        memcpy(a->copies[i], argv[i], cl[i]);
        a->copies[i][cl[i]] = '\0';
    }
    cmd_init(&a->k, nkeys, n, (const char **)a->copies, cl);
    free(cl);
    cmd_head(&a->k, s, 0);
    if (q_link_command_argv(l, on_evalsha, a, a->k.argc, a->k.av, a->k.al) != 0) {
        async_free(a);
        return -EIO;
    }
    return 0;
}
