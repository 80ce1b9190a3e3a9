/*
 * wk_webhook_guard.h - which addresses a webhook may connect to.
 *
 * The sender installs wk_guard_opensocket() as libcurl's
 * CURLOPT_OPENSOCKETFUNCTION: it sees every *resolved* address curl is about
 * to connect to (after DNS, for every address of a name, and for IP
 * literals) and refuses - before any socket exists, so no packet leaves -
 * the ones in these ranges unless WEBHOOK_ALLOW_CIDRS admits them:
 *
 *   IPv4  0/8 unspecified, 10/8, 172.16/12, 192.168/16 private, 100.64/10
 *         shared, 127/8 loopback, 169.254/16 link-local (incl. the metadata
 *         address 169.254.169.254), 192.0.0/24, 198.18/15, 224/4 multicast,
 *         240/4 reserved (incl. broadcast)
 *   IPv6  ::, ::1, fc00::/7 unique-local, fe80::/10 link-local, ff00::/8
 *         multicast, and IPv4-mapped / NAT64 (::ffff:0:0/96, 64:ff9b::/96)
 *         forms of the IPv4 ranges
 *
 * Proxies are off for webhooks (the check must see the receiver, not a
 * proxy), redirects are never followed, only http and https are allowed.
 *
 * State: the allow-list is parsed once by wk_guard_init() on the loop
 * thread and read-only afterwards.
 */
#ifndef WK_WEBHOOK_GUARD_H
#define WK_WEBHOOK_GUARD_H

#include <curl/curl.h>
#include <stddef.h>
#include <sys/socket.h>

/* Parses "a.b.c.d/n,x::y/n,..." (a bare address means /32 or /128).
 * Returns 0, or -EINVAL naming nothing (logged) for a malformed entry. */
int wk_guard_init(const char *allow_cidrs);

/* 1 when `sa` may be connected to; else 0 with a reason such as
 * "10.1.2.3 is private" in why (may be NULL). */
int wk_guard_check(const struct sockaddr *sa, char *why, size_t whysz);

/* What the open-socket callback records for one transfer (its clientp). */
struct wk_guard_note {
    int refused;   /* addresses refused in this attempt */
    int allowed;   /* addresses a socket was opened for in this attempt */
    char why[128]; /* the last refusal */
};

/* The verdict of one attempt whose transfer failed: 1 when it must be
 * recorded "refused" (final), i.e. an address was refused and none was
 * allowed, so nothing could be reached.  A name with several addresses
 * (dual stack, round robin) of which one is refused and another allowed is
 * not refused: a transfer that got an answer is judged by the answer, a
 * failed one is retried like any connection failure. */
int wk_guard_refused(const struct wk_guard_note *note);

/* CURLOPT_OPENSOCKETFUNCTION; clientp is a struct wk_guard_note *. */
curl_socket_t wk_guard_opensocket(void *clientp, curlsocktype purpose,
                                  struct curl_sockaddr *address);

#endif
