/*
 * wk_wan_rules_none.c - stand-in when the worker is built without libip4tc:
 * WAN mode cannot be enabled (the worker refuses to start with it).
 */
#include "wk_wan_rules.h"

#include <errno.h>

const char *const WK_WAN_BLOCKED[] = {"10.0.0.0/8",     "172.16.0.0/12", "192.168.0.0/16",
                                      "169.254.0.0/16", "127.0.0.0/8",   "224.0.0.0/4",
                                      "240.0.0.0/4"};
const size_t WK_WAN_NBLOCKED = sizeof WK_WAN_BLOCKED / sizeof WK_WAN_BLOCKED[0];

int wk_wan_rules_install(const struct wk_wan_rules *r)
{
    return -ENOTSUP;
}

int wk_wan_rules_remove(const char *chain)
{
    return -ENOTSUP;
}

int wk_wan_rules_list(const char *chain, void (*line)(void *arg, const char *text), void *arg)
{
    return -ENOTSUP;
}
