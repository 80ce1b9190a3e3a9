#include "wk_curl_uv.h"

#include "ci_log.h"
#include "ci_util.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

/* One pending transfer: stored in CURLOPT_PRIVATE of its easy handle. */
struct xfer {
    CURL *easy;
    wk_curl_done_cb cb;
    void *arg;
    struct xfer *prev, *next;
};

/* One socket curl asked us to watch: assigned with curl_multi_assign(). */
struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct wk_curl_uv *cu;
    struct sock *prev, *next;
};

struct wk_curl_uv {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct xfer *xfers;
    struct sock *socks;
    unsigned npending;
    unsigned nclosing; /* uv handles whose close callback has not run yet */
    int closing;
    void (*closed_cb)(void *arg);
    void *closed_arg;
};

#define WK_CONTAINER_OF(ptr, type, field) ((type *)((char *)(ptr)-offsetof(type, field)))

#define LIST_ADD(head, e)                                                                          \
    do {                                                                                           \
        (e)->prev = NULL;                                                                          \
        (e)->next = (head);                                                                        \
        if (head)                                                                                  \
            (head)->prev = (e);                                                                    \
        (head) = (e);                                                                              \
    } while (0)
#define LIST_DEL(head, e)                                                                          \
    do {                                                                                           \
        if ((e)->prev)                                                                             \
            (e)->prev->next = (e)->next;                                                           \
        else                                                                                       \
            (head) = (e)->next;                                                                    \
        if ((e)->next)                                                                             \
            (e)->next->prev = (e)->prev;                                                           \
        (e)->prev = (e)->next = NULL;                                                              \
    } while (0)

static void maybe_finish_close(struct wk_curl_uv *cu)
{
    if (!cu->closing || cu->nclosing > 0)
        return;
    void (*cb)(void *) = cu->closed_cb;
    void *arg = cu->closed_arg;
    free(cu);
    if (cb)
        cb(arg);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct wk_curl_uv *cu = h->data;
    if (h->type == UV_POLL)
        free(WK_CONTAINER_OF((uv_poll_t *)h, struct sock, poll));
    cu->nclosing--;
    maybe_finish_close(cu);
}

static void sock_close(struct wk_curl_uv *cu, struct sock *s)
{
    LIST_DEL(cu->socks, s);
    /* uv_close stops the poll synchronously, before curl closes the fd. */
    cu->nclosing++;
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

/* Hands finished transfers to their callbacks. */
static void check_multi_info(struct wk_curl_uv *cu)
{
    CURLMsg *msg;
    int left;
    while (!cu->closing && (msg = curl_multi_info_read(cu->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode res = msg->data.result;
        struct xfer *x = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(cu->multi, easy);
        if (!x)
            continue;
        LIST_DEL(cu->xfers, x);
        cu->npending--;
        wk_curl_done_cb cb = x->cb;
        void *arg = x->arg;
        free(x);
        cb(arg, easy, res); /* may add, remove or close */
    }
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct sock *s = WK_CONTAINER_OF(p, struct sock, poll);
    struct wk_curl_uv *cu = s->cu;
    int flags = 0, running = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(cu->multi, s->fd, flags, &running);
    check_multi_info(cu);
}

static void on_timer(uv_timer_t *t)
{
    struct wk_curl_uv *cu = t->data;
    int running = 0;
    curl_multi_socket_action(cu->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_multi_info(cu);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct wk_curl_uv *cu = userp;
    struct sock *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(cu->multi, fd, NULL);
            sock_close(cu, s);
        }
        return 0;
    }
    if (!s) {
        s = ci_xcalloc(1, sizeof *s);
        s->fd = fd;
        s->cu = cu;
        if (uv_poll_init_socket(cu->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->poll.data = cu;
        LIST_ADD(cu->socks, s);
        curl_multi_assign(cu->multi, fd, s);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    return uv_poll_start(&s->poll, events, on_poll) == 0 ? 0 : -1;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct wk_curl_uv *cu = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&cu->timer);
    else /* 0 too: curl must not be re-entered from here, so go via the loop */
        uv_timer_start(&cu->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int wk_curl_uv_new(uv_loop_t *loop, struct wk_curl_uv **out)
{
    static uv_once_t once = UV_ONCE_INIT;
    struct wk_curl_uv *cu = ci_xcalloc(1, sizeof *cu);
    int rc = 0;

    uv_once(&once, global_init);
    cu->loop = loop;
    cu->multi = curl_multi_init();
    if (!cu->multi) {
        rc = -ENOMEM;
        goto out;
    }
    uv_timer_init(loop, &cu->timer);
    cu->timer.data = cu;
    curl_multi_setopt(cu->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(cu->multi, CURLMOPT_SOCKETDATA, cu);
    curl_multi_setopt(cu->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(cu->multi, CURLMOPT_TIMERDATA, cu);
    *out = cu;
out:
    if (rc < 0)
        free(cu);
    return rc;
}

int wk_curl_uv_add(struct wk_curl_uv *cu, CURL *easy, wk_curl_done_cb cb, void *arg)
{
    if (cu->closing)
        return -ESHUTDOWN;
    struct xfer *x = ci_xcalloc(1, sizeof *x);
    x->easy = easy;
    x->cb = cb;
    x->arg = arg;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
    if (curl_multi_add_handle(cu->multi, easy) != CURLM_OK) {
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        free(x);
        return -EIO;
    }
    LIST_ADD(cu->xfers, x);
    cu->npending++;
    return 0;
}

int wk_curl_uv_remove(struct wk_curl_uv *cu, CURL *easy)
{
    struct xfer *x = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    if (!x || x->easy != easy)
        return -ENOENT;
    curl_multi_remove_handle(cu->multi, easy);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    LIST_DEL(cu->xfers, x);
    cu->npending--;
    free(x);
    return 0;
}

unsigned wk_curl_uv_pending(const struct wk_curl_uv *cu)
{
    return cu->npending;
}

void wk_curl_uv_close(struct wk_curl_uv *cu, void (*closed_cb)(void *arg), void *arg)
{
    /* Abort pending transfers first; their callbacks may still use `cu`
     * (wk_curl_uv_add fails with -ESHUTDOWN from now on). */
    cu->closing = 1;
    cu->closed_cb = closed_cb;
    cu->closed_arg = arg;
    while (cu->xfers) {
        struct xfer *x = cu->xfers;
        CURL *easy = x->easy;
        wk_curl_done_cb cb = x->cb;
        void *cb_arg = x->arg;
        wk_curl_uv_remove(cu, easy);
        cb(cb_arg, easy, CURLE_ABORTED_BY_CALLBACK);
    }
    /* Cached connections are closed by curl_multi_cleanup; we close the polls
     * ourselves, so curl must not call back into us from there. */
    curl_multi_setopt(cu->multi, CURLMOPT_SOCKETFUNCTION, NULL);
    curl_multi_setopt(cu->multi, CURLMOPT_TIMERFUNCTION, NULL);
    while (cu->socks)
        sock_close(cu, cu->socks);
    curl_multi_cleanup(cu->multi);
    cu->multi = NULL;
    cu->nclosing++;
    uv_close((uv_handle_t *)&cu->timer, on_handle_closed);
}
