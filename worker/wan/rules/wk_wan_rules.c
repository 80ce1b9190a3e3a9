/*
 * wk_wan_rules.c - the WAN chains through libiptc (see wk_wan_rules.h).
 */
#include "wk_wan_rules.h"

#include "ci_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libiptc/libiptc.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

const char *const WK_WAN_BLOCKED[] = {"10.0.0.0/8",     "172.16.0.0/12", "192.168.0.0/16",
                                      "169.254.0.0/16", "127.0.0.0/8",   "224.0.0.0/4",
                                      "240.0.0.0/4"};
const size_t WK_WAN_NBLOCKED = sizeof WK_WAN_BLOCKED / sizeof WK_WAN_BLOCKED[0];

#define XT_LOCK_PATH "/run/xtables.lock"
#define LOCK_WAIT_MS 10000
#define COMMIT_TRIES 5

struct rule {
    struct in_addr dst;
    int dlen;       /* prefix length; -1 = any destination */
    const char *in; /* input interface or NULL */
    int proto;      /* 0, IPPROTO_TCP or IPPROTO_UDP (then dport) */
    uint16_t dport;
    const char *target; /* "DROP", "RETURN" or a chain */
};

/* One ipt_entry with at most one tcp/udp match and a standard target. */
union entry_buf {
    struct ipt_entry e;
    unsigned char raw[XT_ALIGN(sizeof(struct ipt_entry)) + XT_ALIGN(sizeof(struct xt_entry_match)) +
                      XT_ALIGN(sizeof(struct xt_tcp)) +
                      XT_ALIGN(sizeof(struct xt_standard_target))];
};

static void build(const struct rule *r, union entry_buf *b)
{
    memset(b, 0, sizeof *b);
    struct ipt_entry *e = &b->e;
    size_t off = XT_ALIGN(sizeof(struct ipt_entry));
    if (r->dlen >= 0) {
        e->ip.dst = r->dst;
        e->ip.dmsk.s_addr = r->dlen ? htonl(0xffffffffu << (32 - r->dlen)) : 0;
    }
    if (r->in) {
        size_t n = strnlen(r->in, IFNAMSIZ - 1);
        memcpy(e->ip.iniface, r->in, n);
        memset(e->ip.iniface_mask, 0xff, n + 1);
    }
    if (r->proto) {
        e->ip.proto = (uint16_t)r->proto;
        struct xt_entry_match *m = (struct xt_entry_match *)(b->raw + off);
        size_t dsz = r->proto == IPPROTO_TCP ? sizeof(struct xt_tcp) : sizeof(struct xt_udp);
        m->u.user.match_size = (uint16_t)(XT_ALIGN(sizeof *m) + XT_ALIGN(dsz));
        snprintf(m->u.user.name, sizeof m->u.user.name, "%s",
                 r->proto == IPPROTO_TCP ? "tcp" : "udp");
        uint16_t *ports = (uint16_t *)m->data; /* spts[2], dpts[2] lead both structs */
        ports[0] = 0;
        ports[1] = 0xffff;
        ports[2] = ports[3] = r->dport;
        off += m->u.user.match_size;
    }
    e->target_offset = (uint16_t)off;
    struct xt_standard_target *t = (struct xt_standard_target *)(b->raw + off);
    t->target.u.user.target_size = XT_ALIGN(sizeof *t);
    snprintf(t->target.u.user.name, sizeof t->target.u.user.name, "%s", r->target);
    e->next_offset = (uint16_t)(off + t->target.u.user.target_size);
}

static int prefix_len(struct in_addr mask)
{
    return __builtin_popcount(mask.s_addr);
}

/* `iptables -S` spelling of one rule. */
static void format_entry(const char *chain, const struct ipt_entry *e, const char *target,
                         char *out, size_t outsz)
{
    char a[INET_ADDRSTRLEN];
    int n = snprintf(out, outsz, "-A %s", chain);
    if (e->ip.smsk.s_addr && n >= 0 && (size_t)n < outsz)
        n += snprintf(out + n, outsz - n, " -s %s/%d", inet_ntop(AF_INET, &e->ip.src, a, sizeof a),
                      prefix_len(e->ip.smsk));
    if (e->ip.dmsk.s_addr && n >= 0 && (size_t)n < outsz)
        n += snprintf(out + n, outsz - n, " -d %s/%d", inet_ntop(AF_INET, &e->ip.dst, a, sizeof a),
                      prefix_len(e->ip.dmsk));
    if (e->ip.iniface[0] && n >= 0 && (size_t)n < outsz)
        n += snprintf(out + n, outsz - n, " -i %.*s", IFNAMSIZ, e->ip.iniface);
    if (e->ip.proto && n >= 0 && (size_t)n < outsz) {
        const char *p = e->ip.proto == IPPROTO_TCP   ? "tcp"
                        : e->ip.proto == IPPROTO_UDP ? "udp"
                                                     : "?";
        n += snprintf(out + n, outsz - n, " -p %s", p);
    }
    for (size_t off = sizeof(struct ipt_entry); off < e->target_offset;) {
        const struct xt_entry_match *m = (const void *)((const char *)e + off);
        if (m->u.match_size == 0)
            break;
        const uint16_t *ports = (const uint16_t *)m->data;
        if (n >= 0 && (size_t)n < outsz)
            n += snprintf(out + n, outsz - n, " -m %s", m->u.user.name);
        if ((!strcmp(m->u.user.name, "tcp") || !strcmp(m->u.user.name, "udp")) && n >= 0 &&
            (size_t)n < outsz && ports[2] == ports[3])
            n += snprintf(out + n, outsz - n, " --dport %u", ports[2]);
        off += m->u.match_size;
    }
    if (n >= 0 && (size_t)n < outsz)
        snprintf(out + n, outsz - n, " -j %s", target && *target ? target : "?");
}

static int xt_lock(void)
{
    int fd = open(XT_LOCK_PATH, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    for (int waited = 0; flock(fd, LOCK_EX | LOCK_NB) != 0; waited += 10) {
        if (errno != EWOULDBLOCK || waited >= LOCK_WAIT_MS) {
            int err = errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
            close(fd);
            return err;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return fd;
}

static void host_chain(const char *chain, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s-HOST", chain);
}

/* Deletes every rule of builtin `hook` that jumps to `chain`. */
static int drop_hooks(struct xtc_handle *h, const char *hook, const char *chain)
{
    for (;;) {
        unsigned idx = 0;
        const struct ipt_entry *e = iptc_first_rule(hook, h);
        for (; e; e = iptc_next_rule(e, h), idx++)
            if (!strcmp(iptc_get_target(e, h), chain))
                break;
        if (!e)
            return 0;
        char text[256];
        format_entry(hook, e, chain, text, sizeof text);
        if (!iptc_delete_num_entry(hook, idx, h))
            return -1;
        log_info("wan firewall: delete %s", text);
    }
}

static int add(struct xtc_handle *h, const char *chain, const struct rule *r, int insert_first)
{
    union entry_buf b;
    char text[256];
    build(r, &b);
    int ok =
        insert_first ? iptc_insert_entry(chain, &b.e, 0, h) : iptc_append_entry(chain, &b.e, h);
    if (!ok)
        return -1;
    format_entry(chain, &b.e, r->target, text, sizeof text);
    log_info("wan firewall: add %s", text);
    return 0;
}

static int ensure_empty_chain(struct xtc_handle *h, const char *chain)
{
    if (iptc_is_chain(chain, h)) {
        log_info("wan firewall: flush %s", chain);
        return iptc_flush_entries(chain, h) ? 0 : -1;
    }
    log_info("wan firewall: create %s", chain);
    return iptc_create_chain(chain, h) ? 0 : -1;
}

static int fill(struct xtc_handle *h, const struct wk_wan_rules *r)
{
    char host[32];
    host_chain(r->chain, host, sizeof host);
    if (ensure_empty_chain(h, r->chain) || ensure_empty_chain(h, host))
        return -1;
    const char *chains[2] = {r->chain, host};
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < r->ndns; i++) {
            struct rule u = {r->dns[i], 32, NULL, IPPROTO_UDP, 53, "RETURN"};
            struct rule t = {r->dns[i], 32, NULL, IPPROTO_TCP, 53, "RETURN"};
            if (add(h, chains[c], &u, 0) || add(h, chains[c], &t, 0))
                return -1;
        }
    struct rule gw = {r->gateway, 32, NULL, 0, 0, "DROP"};
    if (add(h, r->chain, &gw, 0))
        return -1;
    for (size_t i = 0; i < WK_WAN_NBLOCKED; i++) {
        char net[32];
        snprintf(net, sizeof net, "%s", WK_WAN_BLOCKED[i]);
        char *slash = strchr(net, '/');
        *slash = '\0';
        struct rule d = {{0}, (int)strtol(slash + 1, NULL, 10), NULL, 0, 0, "DROP"};
        inet_pton(AF_INET, net, &d.dst);
        if (add(h, r->chain, &d, 0))
            return -1;
    }
    struct rule all = {{0}, -1, NULL, 0, 0, "DROP"};
    if (add(h, host, &all, 0))
        return -1;
    struct rule fwd = {{0}, -1, r->bridge, 0, 0, r->chain};
    struct rule in = {{0}, -1, r->bridge, 0, 0, host};
    if (drop_hooks(h, "FORWARD", r->chain) || drop_hooks(h, "INPUT", host) ||
        add(h, "FORWARD", &fwd, 1) || add(h, "INPUT", &in, 1))
        return -1;
    return 0;
}

static int unfill(struct xtc_handle *h, const struct wk_wan_rules *r)
{
    char host[32];
    host_chain(r->chain, host, sizeof host);
    if (drop_hooks(h, "FORWARD", r->chain) || drop_hooks(h, "INPUT", host))
        return -1;
    const char *chains[2] = {r->chain, host};
    for (int c = 0; c < 2; c++)
        if (iptc_is_chain(chains[c], h)) {
            if (!iptc_flush_entries(chains[c], h) || !iptc_delete_chain(chains[c], h))
                return -1;
            log_info("wan firewall: delete chain %s", chains[c]);
        }
    return 0;
}

/* Runs `change` on a fresh handle and commits, under the xtables lock,
 * retrying when another writer changed the table in between (EAGAIN). */
static int transact(int (*change)(struct xtc_handle *, const struct wk_wan_rules *),
                    const struct wk_wan_rules *r, const char *what)
{
    int lock = xt_lock();
    if (lock < 0) {
        log_error("wan firewall: cannot take %s (%s)", XT_LOCK_PATH, strerror(-lock));
        return lock;
    }
    int rc = -EIO;
    for (int attempt = 0; attempt < COMMIT_TRIES; attempt++) {
        struct xtc_handle *h = iptc_init("filter");
        if (!h) {
            rc = errno ? -errno : -EIO;
            log_error("wan firewall: cannot open the ip_tables filter table: %s",
                      iptc_strerror(errno));
            break;
        }
        if (change(h, r) != 0) {
            rc = errno ? -errno : -EIO;
            log_error("wan firewall: %s failed: %s", what, iptc_strerror(errno));
            iptc_free(h);
            break;
        }
        int ok = iptc_commit(h);
        int err = errno;
        iptc_free(h);
        if (ok) {
            rc = 0;
            log_info("wan firewall: %s committed", what);
            break;
        }
        rc = err ? -err : -EIO;
        if (err != EAGAIN) {
            log_error("wan firewall: %s commit failed: %s", what, iptc_strerror(err));
            break;
        }
    }
    close(lock);
    return rc;
}

int wk_wan_rules_install(const struct wk_wan_rules *r)
{
    if (!r->chain[0] || !r->bridge[0] || r->ndns > WK_WAN_MAX_DNS)
        return -EINVAL;
    return transact(fill, r, "install");
}

int wk_wan_rules_remove(const char *chain)
{
    struct wk_wan_rules r;
    memset(&r, 0, sizeof r);
    if (!chain || strlen(chain) > WK_WAN_CHAIN_MAX)
        return -EINVAL;
    snprintf(r.chain, sizeof r.chain, "%s", chain);
    return transact(unfill, &r, "remove");
}

static void list_chain(struct xtc_handle *h, const char *chain, const char *only_target,
                       void (*line)(void *, const char *), void *arg)
{
    char text[256];
    for (const struct ipt_entry *e = iptc_first_rule(chain, h); e; e = iptc_next_rule(e, h)) {
        const char *t = iptc_get_target(e, h);
        if (only_target && strcmp(t, only_target))
            continue;
        format_entry(chain, e, t, text, sizeof text);
        line(arg, text);
    }
}

int wk_wan_rules_list(const char *chain, void (*line)(void *arg, const char *text), void *arg)
{
    char host[32];
    host_chain(chain, host, sizeof host);
    struct xtc_handle *h = iptc_init("filter");
    if (!h)
        return errno ? -errno : -EIO;
    int rc = -ENOENT;
    if (iptc_is_chain(chain, h)) {
        list_chain(h, "FORWARD", chain, line, arg);
        list_chain(h, "INPUT", host, line, arg);
        list_chain(h, chain, NULL, line, arg);
        if (iptc_is_chain(host, h))
            list_chain(h, host, NULL, line, arg);
        rc = 0;
    }
    iptc_free(h);
    return rc;
}
