/*
 * wk_wan_rules.h - the WAN firewall: two chains in the legacy ip_tables
 * `filter` table, written with libiptc (libip4tc).
 *
 *   <chain>       (hooked from FORWARD: traffic a sandbox sends elsewhere)
 *     -d <dns>/32 -p udp --dport 53 -j RETURN      one pair per DNS server
 *     -d <dns>/32 -p tcp --dport 53 -j RETURN
 *     -d <gateway>/32 -j DROP                      the Docker host on the bridge
 *     -d 10.0.0.0/8 ... 240.0.0.0/4 -j DROP        WK_WAN_BLOCKED, in order
 *   <chain>-HOST  (hooked from INPUT: traffic a sandbox sends to this host)
 *     the same DNS RETURN pairs, then -j DROP      (any address of the host)
 *   FORWARD: -i <bridge> -j <chain>                inserted first, exactly once
 *   INPUT:   -i <bridge> -j <chain>-HOST           inserted first, exactly once
 *
 * Hooks match the input interface (the network's bridge), so everything a
 * sandbox sends passes the chains whatever source address it claims.
 *
 * Invariants: install is idempotent (creates or flushes both chains,
 * refills them, drops any older hook rule jumping to them, inserts one hook
 * each) and is one libiptc commit, so the table never shows half a rule
 * set.  Every change takes the xtables lock (/run/xtables.lock, as iptables
 * and dockerd do) and retries a commit that raced another writer (EAGAIN).
 *
 * Thread: blocking (milliseconds); call from one thread at a time.  Needs
 * CAP_NET_ADMIN.  Returns 0 or a negative errno; -ENOTSUP when the worker
 * was built without libip4tc.
 */
#ifndef WK_WAN_RULES_H
#define WK_WAN_RULES_H

#include <netinet/in.h>
#include <stddef.h>

#define WK_WAN_MAX_DNS 3
#define WK_WAN_CHAIN_MAX 20 /* leaves room for "-HOST" in a 28-char chain name */

/* Destinations a sandbox may never reach, "addr/len". */
extern const char *const WK_WAN_BLOCKED[];
extern const size_t WK_WAN_NBLOCKED;

struct wk_wan_rules {
    char chain[WK_WAN_CHAIN_MAX + 1]; /* e.g. "CI-WAN" */
    char bridge[16];                  /* the network's bridge interface */
    struct in_addr gateway;           /* host address on that bridge */
    struct in_addr dns[WK_WAN_MAX_DNS];
    int ndns;
};

int wk_wan_rules_install(const struct wk_wan_rules *r);

/* Removes both hooks and both chains; 0 also when nothing was there. */
int wk_wan_rules_remove(const char *chain);

/* Calls `line` for every rule of <chain>, <chain>-HOST and every FORWARD and
 * INPUT rule jumping to them, spelled as `iptables -S` does ("-A FORWARD -i
 * br-x -j CI-WAN").  -ENOENT when the chain does not exist. */
int wk_wan_rules_list(const char *chain, void (*line)(void *arg, const char *text), void *arg);

#endif
