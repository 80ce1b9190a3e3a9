/*
 * The WAN firewall through libiptc (wk_wan_rules.h), against the kernel's
 * real legacy ip_tables filter table.  The hooks name a bridge that does not
 * exist ("ciwt-nobr<pid>"), so these rules match no packet on this machine.
 * Needs root (CAP_NET_ADMIN); exits 77 (skipped) without it.
 */
#include "ci_test.h"
#include "wk_wan_rules.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct lines {
    char text[64][160];
    int n;
};

static void collect(void *arg, const char *text)
{
    struct lines *l = arg;
    if (l->n < 64)
        snprintf(l->text[l->n++], sizeof l->text[0], "%s", text);
}

static char cleanup_chain[WK_WAN_CHAIN_MAX + 1];

static void cleanup(void)
{
    if (cleanup_chain[0])
        wk_wan_rules_remove(cleanup_chain); /* also after a failed ASSERT */
}

static void setup(struct wk_wan_rules *r)
{
    if (geteuid() != 0) {
        printf("skip: needs root\n");
        exit(77);
    }
    memset(r, 0, sizeof *r);
    snprintf(r->chain, sizeof r->chain, "CIT%d", (int)getpid());
    snprintf(r->bridge, sizeof r->bridge, "ciwt-nobr%d", (int)getpid() % 100000);
    inet_pton(AF_INET, "172.31.250.1", &r->gateway);
    inet_pton(AF_INET, "10.250.0.53", &r->dns[0]);
    inet_pton(AF_INET, "198.51.100.53", &r->dns[1]);
    r->ndns = 2;
    snprintf(cleanup_chain, sizeof cleanup_chain, "%s", r->chain);
    atexit(cleanup);
}

/* The spec of wk_wan_rules.h, spelled out independently. */
static void expected(const struct wk_wan_rules *r, struct lines *l)
{
    const char *dns[2] = {"10.250.0.53", "198.51.100.53"};
    char host[40];
    snprintf(host, sizeof host, "%s-HOST", r->chain);
    l->n = 0;
    snprintf(l->text[l->n++], 160, "-A FORWARD -i %s -j %s", r->bridge, r->chain);
    snprintf(l->text[l->n++], 160, "-A INPUT -i %s -j %s", r->bridge, host);
    const char *chains[2] = {r->chain, host};
    for (int c = 0; c < 2; c++) {
        for (int i = 0; i < 2; i++) {
            snprintf(l->text[l->n++], 160, "-A %s -d %s/32 -p udp -m udp --dport 53 -j RETURN",
                     chains[c], dns[i]);
            snprintf(l->text[l->n++], 160, "-A %s -d %s/32 -p tcp -m tcp --dport 53 -j RETURN",
                     chains[c], dns[i]);
        }
        if (c == 0) {
            snprintf(l->text[l->n++], 160, "-A %s -d 172.31.250.1/32 -j DROP", r->chain);
            const char *nets[] = {"10.0.0.0/8",     "172.16.0.0/12", "192.168.0.0/16",
                                  "169.254.0.0/16", "127.0.0.0/8",   "224.0.0.0/4",
                                  "240.0.0.0/4"};
            for (int i = 0; i < 7; i++)
                snprintf(l->text[l->n++], 160, "-A %s -d %s -j DROP", r->chain, nets[i]);
        } else {
            snprintf(l->text[l->n++], 160, "-A %s -j DROP", host);
        }
    }
}

static void assert_same(const struct lines *got, const struct lines *want)
{
    for (int i = 0; i < got->n && i < want->n; i++)
        ASSERT_STR_EQ(got->text[i], want->text[i]);
    ASSERT_EQ(got->n, want->n);
}

/* `iptables-legacy -S <chain>` lines without the "-N" line, when the tool
 * is installed: an independent reader of the same kernel table. */
static int legacy_lines(const char *chain, struct lines *l)
{
    char cmd[128], buf[200];
    snprintf(cmd, sizeof cmd, "iptables-legacy -w -S %s 2>/dev/null", chain);
    FILE *p = popen(cmd, "r");
    l->n = 0;
    if (!p)
        return -1;
    while (fgets(buf, sizeof buf, p) && l->n < 64) {
        buf[strcspn(buf, "\n")] = '\0';
        if (strncmp(buf, "-N ", 3) && strncmp(buf, "-P ", 3))
            snprintf(l->text[l->n++], 160, "%.159s", buf);
    }
    return pclose(p) == 0 ? 0 : -1;
}

TEST(install_list_idempotent_remove)
{
    struct wk_wan_rules r;
    struct lines got = {0}, want, legacy;
    setup(&r);
    expected(&r, &want);
    ASSERT_EQ(wk_wan_rules_install(&r), 0);
    ASSERT_EQ(wk_wan_rules_list(r.chain, collect, &got), 0);
    assert_same(&got, &want);

    /* a second install (a restart) leaves exactly the same rules: one hook each */
    ASSERT_EQ(wk_wan_rules_install(&r), 0);
    got.n = 0;
    ASSERT_EQ(wk_wan_rules_list(r.chain, collect, &got), 0);
    assert_same(&got, &want);

    /* the hook is the first FORWARD rule, and iptables reads the chain the same */
    if (system("command -v iptables-legacy >/dev/null") == 0) {
        ASSERT_EQ(legacy_lines(r.chain, &legacy), 0);
        ASSERT_EQ(legacy.n, 12);
        for (int i = 0; i < legacy.n; i++)
            ASSERT_STR_EQ(legacy.text[i], want.text[2 + i]);
        ASSERT_EQ(legacy_lines("FORWARD", &legacy), 0);
        ASSERT(legacy.n >= 1);
        ASSERT_STR_EQ(legacy.text[0], want.text[0]);
    }

    ASSERT_EQ(wk_wan_rules_remove(r.chain), 0);
    ASSERT_EQ(wk_wan_rules_list(r.chain, collect, &got), -ENOENT);
    ASSERT_EQ(wk_wan_rules_remove(r.chain), 0); /* nothing left: still fine */
}

TEST(bad_input)
{
    struct wk_wan_rules r;
    setup(&r);
    r.bridge[0] = '\0';
    ASSERT_EQ(wk_wan_rules_install(&r), -EINVAL);
    ASSERT_EQ(wk_wan_rules_remove("A-CHAIN-NAME-FAR-TOO-LONG-FOR-IPTABLES"), -EINVAL);
    ASSERT_EQ(wk_wan_rules_list("CIT-NO-SUCH", collect, &(struct lines){0}), -ENOENT);
}

TEST_MAIN(install_list_idempotent_remove, bad_input)
