/*
 * fuzz_scan.c - the code scanner (ing_scan_code) and the client address
 * from X-Forwarded-For (ing_clientip_resolve).
 *
 * Input: byte 0 picks the peer (trusted or not); the rest is both the
 * program text and the header value.  Contract: at most
 * ING_SCAN_MAX_WARNINGS distinct, NUL-terminated warnings, stable across a
 * second scan; the client address is the peer, or - only for a trusted
 * peer - an address that appears literally in the header and parses as an
 * IP address.
 */
#include "ing_clientip.h"
#include "ing_sec.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *const ci_fuzz_dict[] = {
    "import ", "from ", " import ", "os", "subprocess", "sys", ",", "eval", "exec", "(", " (",
    "__import__", "open", "file", "input", "raw_input", "child_process", "\n", ";", ".",
    "10.0.0.1", "127.0.0.1", "::1", "2001:db8::1", ", ", "/", NULL,
};

static void check(int cond)
{
    if (!cond)
        abort();
}

static void free_warnings(char **w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(w[i]);
    free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        ing_clientip_init("127.0.0.0/8,10.0.0.0/8,::1/128");
        init = 1;
    }
    if (size < 1)
        return 0;
    const char *peer = (data[0] & 1) ? "127.0.0.1" : "192.0.2.1";
    const char *code = (const char *)data + 1;
    size_t len = size - 1;

    char **w = NULL, **w2 = NULL;
    size_t n = 0, n2 = 0;
    check(ing_scan_code(code, len, &w, &n) == (int)n);
    check(n <= ING_SCAN_MAX_WARNINGS);
    check(ing_scan_code(code, len, &w2, &n2) == (int)n2 && n2 == n);
    for (size_t i = 0; i < n; i++) {
        check(strcmp(w[i], w2[i]) == 0);
        for (size_t j = 0; j < i; j++)
            check(strcmp(w[i], w[j]) != 0);
    }
    free_warnings(w, n);
    free_warnings(w2, n2);

    char *xff = malloc(len + 1), out[64];
    unsigned char a[16];
    if (!xff)
        return 0;
    memcpy(xff, code, len);
    xff[len] = '\0';
    ing_clientip_resolve(peer, xff, out, sizeof out);
    if (strcmp(out, peer) != 0) {
        check(data[0] & 1); /* an untrusted peer is never replaced */
        check(strstr(xff, out) != NULL);
        check(inet_pton(AF_INET, out, a) == 1 || inet_pton(AF_INET6, out, a) == 1);
    }
    free(xff);
    return 0;
}
