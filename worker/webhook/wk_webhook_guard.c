/*
 * wk_webhook_guard.c - address classification and allow-list for webhook
 * connections (wk_webhook_guard.h).
 */
#include "wk_webhook_guard.h"

#include "ci_cidr.h"
#include "ci_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WK_GUARD_MAX_ALLOW 32

static struct ci_cidr s_allow[WK_GUARD_MAX_ALLOW];
static int s_nallow;

int wk_guard_init(const char *allow)
{
    s_nallow = 0;
    if (!allow)
        return 0;
    const char *p = allow;
    while (*p) {
        size_t len = strcspn(p, ", ");
        char item[80];
        if (len > 0 && len < sizeof item) {
            memcpy(item, p, len);
            item[len] = '\0';
            struct ci_cidr c;
            if (ci_cidr_parse(item, len, &c) != 0 || s_nallow >= WK_GUARD_MAX_ALLOW) {
                log_error("WEBHOOK_ALLOW_CIDRS: cannot use \"%.*s\"", (int)len, p);
                return -EINVAL;
            }
            s_allow[s_nallow++] = c;
        } else if (len > 0) {
            log_error("WEBHOOK_ALLOW_CIDRS: entry too long");
            return -EINVAL;
        }
        p += len;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return 0;
}

/* Reason an IPv4 address (network order bytes) is refused, or NULL. */
static const char *v4_block(const unsigned char *a)
{
    static const struct {
        unsigned char net[4];
        int bits;
        const char *why;
    } t[] = {
        {{0, 0, 0, 0}, 8, "unspecified"},     {{10, 0, 0, 0}, 8, "private"},
        {{100, 64, 0, 0}, 10, "shared"},      {{127, 0, 0, 0}, 8, "loopback"},
        {{169, 254, 0, 0}, 16, "link-local"}, {{172, 16, 0, 0}, 12, "private"},
        {{192, 0, 0, 0}, 24, "reserved"},     {{192, 168, 0, 0}, 16, "private"},
        {{198, 18, 0, 0}, 15, "reserved"},    {{224, 0, 0, 0}, 4, "multicast"},
        {{240, 0, 0, 0}, 4, "reserved"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (ci_prefix_match(a, t[i].net, t[i].bits))
            return t[i].why;
    return NULL;
}

static const char *v6_block(const unsigned char *a)
{
    static const unsigned char zero[16] = {0};
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
    if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1))
        return a[15] ? "loopback" : "unspecified";
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
        return v4_block(a + 12);
    if ((a[0] & 0xfe) == 0xfc)
        return "private";
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return "link-local";
    if (a[0] == 0xff)
        return "multicast";
    return NULL;
}

int wk_guard_check(const struct sockaddr *sa, char *why, size_t whysz)
{
    const unsigned char *a;
    int family = sa ? sa->sa_family : AF_UNSPEC;
    char text[INET6_ADDRSTRLEN] = "?";
    if (family == AF_INET)
        a = (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else if (family == AF_INET6)
        a = (const unsigned char *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    else {
        if (why)
            snprintf(why, whysz, "address family %d is not allowed", family);
        return 0;
    }
    for (int i = 0; i < s_nallow; i++)
        if (ci_cidr_match(&s_allow[i], family, a))
            return 1;
    const char *block = family == AF_INET ? v4_block(a) : v6_block(a);
    if (!block)
        return 1;
    if (why) {
        inet_ntop(family, a, text, sizeof text);
        snprintf(why, whysz, "address %s is %s (not allowed for webhooks)", text, block);
    }
    return 0;
}

curl_socket_t wk_guard_opensocket(void *clientp, curlsocktype purpose,
                                  struct curl_sockaddr *address)
{
    struct wk_guard_note *note = clientp;
    char why[128];
    if (purpose != CURLSOCKTYPE_IPCXN || !wk_guard_check(&address->addr, why, sizeof why)) {
        if (purpose != CURLSOCKTYPE_IPCXN)
            snprintf(why, sizeof why, "unexpected socket purpose");
        if (note) {
            note->refused++;
            snprintf(note->why, sizeof note->why, "%s", why);
        }
        log_warn("webhook: refused before connecting: %s", why);
        return CURL_SOCKET_BAD;
    }
    if (note)
        note->allowed++;
    return socket(address->family, address->socktype, address->protocol);
}

int wk_guard_refused(const struct wk_guard_note *note)
{
    return note->refused > 0 && note->allowed == 0;
}
