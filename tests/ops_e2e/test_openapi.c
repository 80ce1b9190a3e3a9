/*
 * test_openapi.c - the embedded API document matches the route table
 * (ing_routes[]) both ways, declares the open routes open, and renders as
 * the /docs page.
 */
#include "ci_test.h"
#include "ing_http.h"
#include "ing_openapi.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "/jobs/{id}" -> "/jobs/{}" (the table's pattern form). */
static void norm(const char *path, char *out, size_t outsz)
{
    size_t o = 0;
    for (const char *p = path; *p && o + 3 < outsz; p++) {
        if (*p == '{') {
            out[o++] = '{';
            out[o++] = '}';
            while (*p && *p != '}')
                p++;
            if (!*p)
                break;
            continue;
        }
        out[o++] = *p;
    }
    out[o] = '\0';
}

static void lower(const char *in, char *out, size_t outsz)
{
    size_t i = 0;
    for (; in[i] && i + 1 < outsz; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
    out[i] = '\0';
}

static json_t *load_doc(void)
{
    json_error_t err;
    json_t *d = json_loadb(ing_openapi_json, ing_openapi_json_len, 0, &err);
    if (!d)
        fprintf(stderr, "openapi.json: line %d: %s\n", err.line, err.text);
    ASSERT_NOT_NULL(d);
    return d;
}

/* Every route of the table is documented under its method, with the same
 * openness; every documented operation is a route. */
TEST(document_matches_routes)
{
    json_t *d = load_doc();
    ASSERT(strncmp(json_string_value(json_object_get(d, "openapi")), "3.", 2) == 0);
    json_t *paths = json_object_get(d, "paths");
    ASSERT(json_is_object(paths));
    size_t nroutes = 0, nops = 0;
    for (const struct ing_route *r = ing_routes; r->method; r++, nroutes++) {
        const char *dpath;
        json_t *item, *op = NULL;
        char m[16];
        lower(r->method, m, sizeof m);
        json_object_foreach(paths, dpath, item)
        {
            char n[256];
            norm(dpath, n, sizeof n);
            if (strcmp(n, r->pattern) == 0)
                op = json_object_get(item, m);
        }
        if (!op)
            fprintf(stderr, "route %s %s is not in ingress/openapi.json\n", r->method, r->pattern);
        ASSERT_NOT_NULL(op);
        json_t *sec = json_object_get(op, "security");
        int open = json_is_array(sec) && json_array_size(sec) == 0;
        if (open != r->public_route)
            fprintf(stderr, "%s %s: document says %s, table says %s\n", r->method, r->pattern,
                    open ? "open" : "key", r->public_route ? "open" : "key");
        ASSERT_EQ(open, r->public_route);
    }
    const char *dpath;
    json_t *item;
    json_object_foreach(paths, dpath, item)
    {
        const char *m;
        json_t *op;
        json_object_foreach(item, m, op)
        {
            char n[256], up[16];
            size_t i = 0;
            for (; m[i] && i + 1 < sizeof up; i++)
                up[i] = (char)(m[i] >= 'a' && m[i] <= 'z' ? m[i] - 32 : m[i]);
            up[i] = '\0';
            norm(dpath, n, sizeof n);
            int found = 0;
            for (const struct ing_route *r = ing_routes; r->method && !found; r++)
                found = strcmp(r->pattern, n) == 0 && strcmp(r->method, up) == 0;
            if (!found)
                fprintf(stderr, "documented %s %s is not a route\n", up, dpath);
            ASSERT(found);
            nops++;
        }
    }
    ASSERT_EQ(nops, nroutes);
    json_decref(d);
}

/* /docs: every operation appears, text is escaped, nothing external. */
TEST(docs_page_renders)
{
    char *html = ing_openapi_html(ing_openapi_json, ing_openapi_json_len);
    ASSERT_NOT_NULL(html);
    ASSERT(strstr(html, "<!DOCTYPE html>") == html);
    for (const struct ing_route *r = ing_routes; r->method; r++)
        ASSERT(strstr(html, r->method) != NULL); /* upper-case method headings */
    ASSERT(strstr(html, "/jobs/{id}") != NULL);
    ASSERT(strstr(html, "<script") == NULL);
    ASSERT(strstr(html, "http://") == NULL && strstr(html, "https://") == NULL);
    free(html);
    /* hostile text in a document is escaped, not injected */
    static const char evil[] = "{\"openapi\":\"3.0.3\",\"info\":{\"title\":\"<script>x</script>\"},"
                               "\"paths\":{\"/a\":{\"get\":{\"summary\":\"<b>&\"}}}}";
    html = ing_openapi_html(evil, sizeof evil - 1);
    ASSERT_NOT_NULL(html);
    ASSERT(strstr(html, "<script>") == NULL);
    ASSERT(strstr(html, "&lt;script&gt;x&lt;/script&gt;") != NULL);
    ASSERT(strstr(html, "&lt;b&gt;&amp;") != NULL);
    free(html);
    ASSERT_NULL(ing_openapi_html("{not json", 9));
}

TEST_MAIN(document_matches_routes, docs_page_renders)
