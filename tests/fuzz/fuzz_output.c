/*
 * fuzz_output.c - sch_output_sanitize on arbitrary bytes.
 *
 * Input layout: byte 0 picks the cap (0..62, or 63 = no cap), byte 1 bit 0
 * the upstream-truncated flag, the rest is the program output.  Checks the
 * promised properties of the result, not just the absence of crashes.
 */
#include "sch_output.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *out, *again;
    size_t outlen, againlen;

    if (size < 2)
        return 0;
    size_t cap = data[0] % 64 == 63 ? SCH_OUTPUT_NO_CAP : data[0] % 64;
    int upstream = data[1] & 1;
    const char *in = (const char *)data + 2;
    size_t len = size - 2;

    check(sch_output_sanitize(in, len, cap, upstream, &out, &outlen) == 0);
    check(out[outlen] == '\0' && strlen(out) == outlen);
    check(sch_utf8_valid(out, outlen));
    check(outlen == 0 || out[outlen - 1] == '\n');
    if (cap != SCH_OUTPUT_NO_CAP)
        check(outlen <= cap + SCH_OUTPUT_MARKER_MAX);
    for (size_t i = 0; i < outlen; i++) {
        unsigned char c = (unsigned char)out[i];
        check(c >= 0x20 || c == '\n' || c == '\t');
        check(c != 0x7f);
        if (c == 0xc2 && i + 1 < outlen)
            check((unsigned char)out[i + 1] < 0x80 || (unsigned char)out[i + 1] > 0x9f);
    }
    int marked = strstr(out, "[output truncated") != NULL;
    if (upstream)
        check(marked);
    /* sanitizing sanitized text changes nothing */
    check(sch_output_sanitize(out, outlen, SCH_OUTPUT_NO_CAP, 0, &again, &againlen) == 0);
    check(againlen == outlen && memcmp(again, out, outlen) == 0);
    /* clean, newline-terminated input that fits comes back unchanged */
    if (!upstream && len > 0 && len <= cap && in[len - 1] == '\n' && sch_utf8_valid(in, len)) {
        int clean = 1;
        for (size_t i = 0; i < len && clean; i++) {
            unsigned char c = (unsigned char)in[i];
            clean = (c >= 0x20 && c != 0x7f && c != 0xc2) || c == '\n' || c == '\t' || c >= 0x80;
        }
        if (clean && !memchr(in, 0xc2, len))
            check(outlen == len && memcmp(out, in, len) == 0);
    }
    free(out);
    free(again);
    return 0;
}
