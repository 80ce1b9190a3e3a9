/*
 * ci_wan_rules.c - the `ci-wan-rules` admin tool: reads the WAN firewall
 * back through libiptc, or removes it.
 *
 *   ci-wan-rules --list [CHAIN]     prints the rules, `iptables -S` style
 *   ci-wan-rules --remove [CHAIN]   removes hooks and chains
 *
 * CHAIN defaults to WAN_CHAIN or "CI-WAN".  Exit 0, 1 on error, 3 when the
 * chain does not exist (--list).
 */
#include "ci_env.h"
#include "ci_log.h"
#include "wk_wan_rules.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void print_line(void *arg, const char *text)
{
    printf("%s\n", text);
}

int main(int argc, char **argv)
{
    ci_log_init("ci-wan-rules");
    if (argc < 2 || (strcmp(argv[1], "--list") && strcmp(argv[1], "--remove"))) {
        fprintf(stderr, "usage: %s --list|--remove [CHAIN]\n", argv[0]);
        return 2;
    }
    const char *chain = argc > 2 ? argv[2] : ci_env_str("WAN_CHAIN", "CI-WAN");
    if (!strcmp(argv[1], "--remove")) {
        int rc = wk_wan_rules_remove(chain);
        if (rc != 0)
            fprintf(stderr, "remove %s: %s\n", chain, strerror(-rc));
        return rc ? 1 : 0;
    }
    int rc = wk_wan_rules_list(chain, print_line, NULL);
    if (rc == -ENOENT)
        return 3;
    if (rc != 0)
        fprintf(stderr, "list %s: %s\n", chain, strerror(-rc));
    return rc ? 1 : 0;
}
