/*
 * ing_clientip.h - the client address of a request, and trusted proxies.
 *
 * The client IP is the peer address of the TCP connection.  Only when that
 * peer lies in one of the TRUSTED_PROXIES ranges (comma-separated CIDRs,
 * IPv4 or IPv6, e.g. "127.0.0.1/32,10.0.0.0/8") is X-Forwarded-For believed:
 * walking it from the right, the first address that is not itself a trusted
 * proxy is the client.  Every X-Forwarded-For header line counts, joined in
 * the order received (a proxy that adds its own line after the client's
 * cannot be bypassed by a forged first line), and every comma-separated
 * entry of every line is walked.  A malformed entry stops the walk at the last proxy
 * seen (the proxy is then taken as the client), so a forged header can never
 * yield an address the proxies did not vouch for.
 *
 * ing_clientip_init() parses the ranges once before threads start; the rest
 * is thread-safe (read-only tables).
 */
#ifndef ING_CLIENTIP_H
#define ING_CLIENTIP_H

#include <microhttpd.h>
#include <stddef.h>

#define ING_CLIENTIP_MAX_PROXIES 32

/* Parses `csv` (NULL or "" = none).  Returns 0, or -EINVAL naming the bad
 * entry in the log (it is skipped). */
int ing_clientip_init(const char *csv);

/* 1 when the textual address `ip` lies in a trusted range. */
int ing_clientip_trusted(const char *ip);

/* Every X-Forwarded-For line of the request joined with ", " in order
 * (malloc'd, the caller frees), or NULL when there is none. */
char *ing_clientip_forwarded(struct MHD_Connection *conn);

/* Writes the client address of `conn` (text, "unknown" when none) to out.
 * `xff` is the X-Forwarded-For header value or NULL. */
void ing_clientip_resolve(const char *peer, const char *xff, char *out, size_t outsz);

#endif
