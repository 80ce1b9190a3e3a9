/*
 * ci_cidr.h - IPv4/IPv6 address ranges ("addr" or "addr/bits"): the one
 * parser and matcher used by the ingress (TRUSTED_PROXIES) and the worker's
 * webhook guard (WEBHOOK_ALLOW_CIDRS and its built-in block list).
 *
 * Plain values, no allocation, no global state; thread-safe.
 */
#ifndef CI_CIDR_H
#define CI_CIDR_H

#include <stddef.h>

struct ci_cidr {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network order; 4 bytes used for AF_INET */
    int bits;               /* prefix length, 0..32 or 0..128 */
};

/* Parses s[0..len) as "addr" (a host: 32 or 128 bits) or "addr/bits".
 * Returns 0 and fills *c, or -EINVAL (c then unspecified). */
int ci_cidr_parse(const char *s, size_t len, struct ci_cidr *c);

/* 1 when the first `bits` bits of a and net are equal, else 0. */
int ci_prefix_match(const unsigned char *a, const unsigned char *net, int bits);

/* 1 when address a (network order bytes of `family`) lies in c, else 0. */
int ci_cidr_match(const struct ci_cidr *c, int family, const unsigned char *a);

#endif
