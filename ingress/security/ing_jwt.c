/*
 * ing_jwt.c - verification of LibreChat's caller tokens (see ing_sec.h).
 */
#include "ing_sec.h"

#include "ci_env.h"
#include "ci_log.h"
#include "ci_util.h"
#include "ing_http.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static EVP_PKEY *s_key;
static const char *s_alg; /* "EdDSA" or "RS256", fixed by the key type */
static char s_issuer[256], s_audience[256], s_default_tenant[256];
static int64_t s_skew, s_max_life;

int ing_jwt_enabled(void)
{
    return s_key != NULL;
}

int ing_jwt_init(void)
{
    const char *path = ci_env_str("CODEAPI_JWT_PUBLIC_KEY_FILE", NULL);
    snprintf(s_issuer, sizeof s_issuer, "%s", ci_env_str("CODEAPI_JWT_ISSUER", "librechat"));
    snprintf(s_audience, sizeof s_audience, "%s", ci_env_str("CODEAPI_JWT_AUDIENCE", ""));
    snprintf(s_default_tenant, sizeof s_default_tenant, "%s",
             ci_env_str("CODEAPI_JWT_DEFAULT_TENANT", "legacy"));
    s_skew = ci_env_int("CODEAPI_JWT_CLOCK_SKEW_SECONDS", 30, 0, 600);
    s_max_life = ci_env_int("CODEAPI_JWT_MAX_LIFETIME_SECONDS", 3600, 1, 86400);
    if (!path || !*path)
        return 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        log_error("CODEAPI_JWT_PUBLIC_KEY_FILE %s: cannot open", path);
        return -1;
    }
    s_key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!s_key) {
        log_error("CODEAPI_JWT_PUBLIC_KEY_FILE %s: not a PEM public key", path);
        return -1;
    }
    if (EVP_PKEY_id(s_key) == EVP_PKEY_ED25519) {
        s_alg = "EdDSA";
    } else if (EVP_PKEY_id(s_key) == EVP_PKEY_RSA && EVP_PKEY_bits(s_key) >= 2048) {
        s_alg = "RS256";
    } else {
        log_error("CODEAPI_JWT_PUBLIC_KEY_FILE %s: need an Ed25519 or RSA (>= 2048 bit) key", path);
        EVP_PKEY_free(s_key);
        s_key = NULL;
        return -1;
    }
    log_info("JWT mode: %s key, issuer %s, audience %s", s_alg, s_issuer,
             s_audience[0] ? s_audience : "(not checked)");
    return 0;
}

static int b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

int ing_jwt_looks_like(const char *token)
{
    size_t n = strlen(token), dots = 0;
    if (n < 5 || n > ING_JWT_MAX_BYTES)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (token[i] == '.')
            dots++;
        else if (!b64url_char(token[i]))
            return 0;
    }
    return dots == 2 && token[0] != '.' && token[n - 1] != '.';
}

/* base64url (no padding) of in[0..n) into a malloc'd buffer: the alphabet
 * translated to standard base64, padded, decoded by OpenSSL. */
static unsigned char *b64url_decode(const char *in, size_t n, size_t *outlen)
{
    if (n == 0 || n % 4 == 1)
        return NULL;
    size_t pad = (4 - n % 4) % 4, m = n + pad;
    char *std = malloc(m + 1);
    unsigned char *out = malloc(m / 4 * 3 + 1);
    if (!std || !out)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (!b64url_char(in[i]))
            goto fail;
        std[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    }
    memset(std + n, '=', pad);
    std[m] = '\0';
    int len = EVP_DecodeBlock(out, (const unsigned char *)std, (int)m);
    if (len < 0 || (size_t)len < pad)
        goto fail;
    free(std);
    *outlen = (size_t)len - pad; /* EVP_DecodeBlock counts the padding as zero bytes */
    out[*outlen] = '\0';
    return out;
fail:
    free(std);
    free(out);
    return NULL;
}

static json_t *decode_json_part(const char *p, size_t n)
{
    size_t len = 0;
    unsigned char *raw = b64url_decode(p, n, &len);
    if (!raw)
        return NULL;
    json_t *j = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static int signature_ok(const char *signed_part, size_t signed_len, const char *sig_b64,
                        size_t sig_b64_len)
{
    size_t siglen = 0;
    unsigned char *sig = b64url_decode(sig_b64, sig_b64_len, &siglen);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = 0;
    if (sig && ctx &&
        EVP_DigestVerifyInit(ctx, NULL, strcmp(s_alg, "RS256") == 0 ? EVP_sha256() : NULL, NULL,
                             s_key) == 1)
        ok =
            EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)signed_part, signed_len) == 1;
    EVP_MD_CTX_free(ctx);
    free(sig);
    return ok;
}

/* A numeric claim as whole seconds; 0 absent, 1 present, -1 not a number. */
static int num_claim(const json_t *claims, const char *name, int64_t *v)
{
    json_t *x = json_object_get(claims, name);
    if (!x)
        return 0;
    if (!json_is_number(x))
        return -1;
    double d = json_number_value(x);
    if (!(d > -1e15 && d < 1e15))
        return -1;
    *v = (int64_t)d;
    return 1;
}

static int audience_ok(const json_t *claims)
{
    if (!s_audience[0])
        return 1;
    json_t *aud = json_object_get(claims, "aud");
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), s_audience) == 0;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v) if (json_is_string(v) &&
                                      strcmp(json_string_value(v), s_audience) == 0) return 1;
    return 0;
}

/* 1 when x is a string of 1..max UTF-8 characters without control characters. */
static int text_ok(const json_t *x, size_t max)
{
    return json_is_string(x) && ing_text_valid(json_string_value(x), json_string_length(x), max);
}

static const char *check_times(const json_t *claims, int64_t now)
{
    int64_t exp = 0, nbf = 0, iat = 0;
    int has_exp = num_claim(claims, "exp", &exp), has_nbf = num_claim(claims, "nbf", &nbf),
        has_iat = num_claim(claims, "iat", &iat);
    if (has_exp != 1 || has_nbf < 0 || has_iat < 0)
        return "exp missing, or a time claim is not a number";
    if (now > exp + s_skew)
        return "expired";
    if (has_nbf && nbf > now + s_skew)
        return "not valid yet (nbf)";
    if (has_iat && iat > now + s_skew)
        return "issued in the future (iat)";
    int64_t start = has_iat ? iat : has_nbf ? nbf : now;
    if (exp - start > s_max_life)
        return "lifetime longer than CODEAPI_JWT_MAX_LIFETIME_SECONDS";
    return NULL;
}

static void owner_of(const char *tenant, char out[17])
{
    char buf[600];
    int n = snprintf(buf, sizeof buf, "jwt-tenant:%s", tenant);
    if (n < 0 || (size_t)n >= sizeof buf)
        n = (int)sizeof buf - 1; /* as before: the digest of what fitted */
    ci_sha256_hex(buf, (size_t)n, 8, out);
}

int ing_jwt_verify(const char *token, int64_t now_s, struct ing_jwt_claims *out, const char **why)
{
    json_t *hdr = NULL, *claims = NULL;
    const char *reason = "JWT mode is not configured";
    memset(out, 0, sizeof *out);
    if (!s_key)
        goto out;
    reason = "malformed token";
    if (!ing_jwt_looks_like(token))
        goto out;
    const char *d1 = strchr(token, '.'), *d2 = strchr(d1 + 1, '.');
    hdr = decode_json_part(token, (size_t)(d1 - token));
    if (!hdr)
        goto out;
    json_t *alg = json_object_get(hdr, "alg");
    reason = "algorithm does not match the configured key";
    if (!json_is_string(alg) || strcmp(json_string_value(alg), s_alg) != 0)
        goto out;
    reason = "unsupported header (crit)";
    if (json_object_get(hdr, "crit"))
        goto out;
    reason = "bad signature";
    if (!signature_ok(token, (size_t)(d2 - token), d2 + 1, strlen(d2 + 1)))
        goto out;
    reason = "malformed claims";
    claims = decode_json_part(d1 + 1, (size_t)(d2 - d1 - 1));
    if (!claims)
        goto out;
    json_t *iss = json_object_get(claims, "iss");
    reason = "wrong issuer";
    if (!json_is_string(iss) || strcmp(json_string_value(iss), s_issuer) != 0)
        goto out;
    reason = "wrong audience";
    if (!audience_ok(claims))
        goto out;
    if ((reason = check_times(claims, now_s)) != NULL)
        goto out;
    json_t *sub = json_object_get(claims, "sub"), *ten = json_object_get(claims, "tenant_id");
    reason = "sub missing or invalid";
    if (!text_ok(sub, ING_JWT_SUB_MAX))
        goto out;
    reason = "tenant_id invalid";
    if (ten && !json_is_null(ten) && !text_ok(ten, ING_JWT_SUB_MAX))
        goto out;
    snprintf(out->sub, sizeof out->sub, "%s", json_string_value(sub));
    snprintf(out->tenant, sizeof out->tenant, "%s",
             json_is_string(ten) ? json_string_value(ten) : s_default_tenant);
    owner_of(out->tenant, out->owner);
    reason = NULL;
out:
    json_decref(hdr);
    json_decref(claims);
    if (why)
        *why = reason;
    return reason ? -1 : 0;
}
