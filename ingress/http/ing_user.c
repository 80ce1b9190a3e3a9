/*
 * ing_user.c - whose request is this inside the tenant (see ing_http.h).
 */
#include "ing_http.h"

#include "sch_output.h"
#include "sch_validate.h"

#include <string.h>

int ing_text_valid(const char *s, size_t n, size_t max_chars)
{
    size_t chars = 0;
    if (!s || n == 0 || !sch_utf8_valid(s, n))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) /* NUL included */
            return 0;
        chars += (c & 0xc0) != 0x80;
    }
    return chars <= max_chars;
}

int ing_user_valid(const char *s)
{
    return s && ing_text_valid(s, strlen(s), 128);
}

int ing_user_of(struct ing_request *req, const char *body_user, const char **user,
                enum MHD_Result *ret)
{
    const char *u = NULL, *field = NULL;
    *user = "";
    if (req->user_fixed) {
        *user = req->jwt_user;
        return 0;
    }
    if (body_user && *body_user) {
        u = body_user;
        field = "user_id";
    }
    if (!u && (u = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "User-Id")) != NULL)
        field = "User-Id";
    const char *kind = ing_query(req, "kind");
    if (!u && kind && strcmp(kind, "user") == 0 && (u = ing_query(req, "id")) != NULL)
        field = "id";
    if (!u && (u = ing_query(req, "user_id")) != NULL)
        field = "user_id";
    if (!u || !*u)
        return 0;
    if (!ing_user_valid(u)) {
        struct sch_errors e;
        sch_errors_init(&e);
        sch_errors_add(&e, field, "must be 1 to 128 characters without control characters");
        *ret = ing_reply_error(req->conn, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_error",
                               "invalid user id", &e, req->request_id, 0);
        return -1;
    }
    *user = u;
    return 0;
}
