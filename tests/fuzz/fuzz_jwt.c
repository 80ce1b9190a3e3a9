/*
 * fuzz_jwt.c - the JWT verifier of JWT mode (ingress/security/ing_sec.h): header and
 * claims base64url + JSON, the signature check, every claim rule.
 *
 * Input: the whole buffer is the presented Bearer value.  The verifier is
 * configured with a fixed Ed25519 public key whose private half is not
 * here, and no seed was ever signed by it (the eddsa_tampered seed is one
 * character away from a signature of ANOTHER key: with that key configured
 * the fuzzer once restored the valid signature), so no input can carry a
 * valid signature.  Contract: no crash, leak
 * or sanitizer report; every input is refused with a reason; the shape
 * test and the verifier agree (a value that does not look like a JWT is
 * refused as malformed).
 */
#include "ing_sec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const ci_fuzz_dict[] = {
    ".",
    "eyJ",
    "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9",
    "eyJhbGciOiJub25lIn0",
    "eyJhbGciOiJIUzI1NiJ9",
    "eyJhbGciOiJSUzI1NiJ9",
    "-",
    "_",
    "=",
    "+",
    "/",
    NULL,
};

static const char pub_pem[] = "-----BEGIN PUBLIC KEY-----\n"
                              "MCowBQYDK2VwAyEAqke7hLQ8jqI+ZENeVVHHZFhOs3pkJLMPJTBd1TxoPwA=\n"
                              "-----END PUBLIC KEY-----\n";

static void check(int cond)
{
    if (!cond)
        abort();
}

static void setup(void)
{
    char path[] = "/tmp/ci-fuzz-jwt-XXXXXX";
    int fd = mkstemp(path);
    check(fd >= 0);
    check(write(fd, pub_pem, sizeof pub_pem - 1) == (ssize_t)(sizeof pub_pem - 1));
    close(fd);
    setenv("CODEAPI_JWT_PUBLIC_KEY_FILE", path, 1);
    setenv("CODEAPI_JWT_AUDIENCE", "codeapi", 1);
    check(ing_jwt_init() == 0 && ing_jwt_enabled());
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    struct ing_jwt_claims c;
    const char *why = NULL;
    if (!init) {
        setup();
        init = 1;
    }
    char *tok = malloc(size + 1);
    if (!tok)
        return 0;
    memcpy(tok, data, size);
    tok[size] = '\0';
    int rc = ing_jwt_verify(tok, 1800000000, &c, &why);
    check(rc == -1 && why != NULL);
    if (!ing_jwt_looks_like(tok))
        check(strcmp(why, "malformed token") == 0);
    free(tok);
    return 0;
}
