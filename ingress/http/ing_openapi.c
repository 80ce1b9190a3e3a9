/*
 * ing_openapi.c - GET /openapi.json and GET /docs (ing_openapi.h).
 */
#include "ing_openapi.h"

#include "ci_log.h"
#include "ing_http.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const methods[] = {"get", "post", "put", "patch", "delete"};
#define NMETHODS (sizeof methods / sizeof methods[0])

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A schema's type in words: "string", "array of FileRef", "one of ...". */
static void type_words(FILE *f, const json_t *schema)
{
    const char *ref = str(schema, "$ref");
    if (ref) {
        const char *slash = strrchr(ref, '/');
        fputs("<a href=\"#schema-", f);
        esc(f, slash ? slash + 1 : ref);
        fputs("\">", f);
        esc(f, slash ? slash + 1 : ref);
        fputs("</a>", f);
        return;
    }
    const json_t *one = json_object_get(schema, "oneOf");
    if (json_is_array(one)) {
        size_t i;
        const json_t *s;
        json_array_foreach(one, i, s)
        {
            fputs(i ? " or " : "", f);
            type_words(f, s);
        }
        return;
    }
    const char *t = str(schema, "type");
    esc(f, t ? t : "any");
    if (t && strcmp(t, "array") == 0 && json_object_get(schema, "items")) {
        fputs(" of ", f);
        type_words(f, json_object_get(schema, "items"));
    }
    const json_t *en = json_object_get(schema, "enum");
    if (json_is_array(en)) {
        size_t i;
        const json_t *v;
        fputs(": ", f);
        json_array_foreach(en, i, v)
        {
            fputs(i ? ", " : "", f);
            esc(f, json_string_value(v));
        }
    }
}

static void properties_table(FILE *f, const json_t *schema)
{
    const json_t *props = json_object_get(schema, "properties");
    const json_t *req = json_object_get(schema, "required");
    if (!json_is_object(props) || json_object_size(props) == 0)
        return;
    fputs("<table border=\"1\" cellpadding=\"4\"><tr><th>field</th><th>type</th><th>required</th>"
          "<th>notes</th></tr>\n",
          f);
    const char *name;
    const json_t *p;
    json_object_foreach((json_t *)props, name, p)
    {
        int required = 0;
        size_t i;
        const json_t *r;
        json_array_foreach(req, i, r) required |=
            json_string_value(r) && strcmp(json_string_value(r), name) == 0;
        fputs("<tr><td><code>", f);
        esc(f, name);
        fputs("</code></td><td>", f);
        type_words(f, p);
        fprintf(f, "</td><td>%s</td><td>", required ? "yes" : "");
        esc(f, str(p, "description"));
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void operation(FILE *f, const char *path, const char *method, const json_t *op)
{
    const json_t *sec = json_object_get(op, "security");
    int open = json_is_array(sec) && json_array_size(sec) == 0;
    fputs("<h3 id=\"", f);
    esc(f, method);
    esc(f, path);
    fputs("\"><code>", f);
    for (const char *m = method; *m; m++)
        fputc(*m >= 'a' && *m <= 'z' ? *m - 32 : *m, f);
    fputc(' ', f);
    esc(f, path);
    fputs("</code> &mdash; ", f);
    esc(f, str(op, "summary"));
    fputs("</h3>\n<p>", f);
    esc(f, str(op, "description"));
    fprintf(f, "</p>\n<p><b>API key:</b> %s</p>\n", open ? "not needed" : "required");
    const json_t *params = json_object_get(op, "parameters");
    if (json_array_size(params)) {
        fputs("<p><b>Parameters</b></p><ul>\n", f);
        size_t i;
        const json_t *p;
        json_array_foreach(params, i, p)
        {
            fputs("<li><code>", f);
            esc(f, str(p, "name"));
            fputs("</code> (", f);
            esc(f, str(p, "in"));
            fputs(json_is_true(json_object_get(p, "required")) ? ", required) " : ") ", f);
            esc(f, str(p, "description"));
            fputs("</li>\n", f);
        }
        fputs("</ul>\n", f);
    }
    const json_t *body = json_object_get(
        json_object_get(json_object_get(json_object_get(op, "requestBody"), "content"),
                        "application/json"),
        "schema");
    if (body) {
        fputs("<p><b>Request body</b> (application/json): ", f);
        type_words(f, body);
        fputs("</p>\n", f);
        properties_table(f, body);
    }
    fputs("<p><b>Responses</b></p><ul>\n", f);
    const char *code;
    const json_t *r;
    json_object_foreach(json_object_get(op, "responses"), code, r)
    {
        fputs("<li><code>", f);
        esc(f, code);
        fputs("</code> ", f);
        const char *d = str(r, "description");
        esc(f, d ? d : "an error, in the error shape (see Error)");
        fputs("</li>\n", f);
    }
    fputs("</ul>\n", f);
}

char *ing_openapi_html(const char *doc, size_t len)
{
    json_error_t jerr;
    json_t *d = json_loadb(doc, len, 0, &jerr);
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = d ? open_memstream(&buf, &blen) : NULL;
    if (!f) {
        json_decref(d);
        return NULL;
    }
    const json_t *info = json_object_get(d, "info");
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", f);
    esc(f, str(info, "title"));
    fputs(" API</title></head><body>\n<h1>", f);
    esc(f, str(info, "title"));
    fputs(" API <small>", f);
    esc(f, str(info, "version"));
    fputs("</small></h1>\n<p>", f);
    esc(f, str(info, "description"));
    fputs("</p>\n<p>Machine-readable: <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI ", f);
    esc(f, str(d, "openapi"));
    fputs(").</p>\n<h2>Routes</h2>\n<ul>\n", f);
    const char *path;
    const json_t *item;
    json_t *paths = json_object_get(d, "paths");
    json_object_foreach(paths, path, item) for (size_t m = 0; m < NMETHODS; m++)
    {
        const json_t *op = json_object_get(item, methods[m]);
        if (!op)
            continue;
        fprintf(f, "<li><a href=\"#%s", methods[m]);
        esc(f, path);
        fputs("\"><code>", f);
        esc(f, path);
        fprintf(f, "</code></a> %s &mdash; ", methods[m]);
        esc(f, str(op, "summary"));
        fputs("</li>\n", f);
    }
    fputs("</ul>\n", f);
    json_object_foreach(paths, path, item) for (size_t m = 0; m < NMETHODS; m++)
    {
        const json_t *op = json_object_get(item, methods[m]);
        if (op)
            operation(f, path, methods[m], op);
    }
    fputs("<h2>Schemas</h2>\n", f);
    const char *name;
    const json_t *schema;
    json_object_foreach(json_object_get(json_object_get(d, "components"), "schemas"), name, schema)
    {
        fputs("<h3 id=\"schema-", f);
        esc(f, name);
        fputs("\">", f);
        esc(f, name);
        fputs("</h3>\n", f);
        properties_table(f, schema);
    }
    fputs("</body></html>\n", f);
    json_decref(d);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static pthread_once_t html_once = PTHREAD_ONCE_INIT;
static char *html;

static void html_build(void)
{
    html = ing_openapi_html(ing_openapi_json, ing_openapi_json_len);
    if (!html)
        log_error("cannot render the API document (ingress/openapi.json is not valid JSON?)");
}

enum MHD_Result ing_h_openapi(struct ing_request *req)
{
    char *body = malloc(ing_openapi_json_len + 1);
    if (!body)
        return MHD_NO;
    memcpy(body, ing_openapi_json, ing_openapi_json_len + 1);
    return ing_reply_buf(req->conn, MHD_HTTP_OK, body, ing_openapi_json_len, "application/json",
                         req->request_id, 0);
}

enum MHD_Result ing_h_docs(struct ing_request *req)
{
    pthread_once(&html_once, html_build);
    char *body = html ? strdup(html) : NULL;
    if (!body)
        return ing_reply_error(req->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal_error",
                               "the API page is not available", NULL, req->request_id, 0);
    return ing_reply_buf(req->conn, MHD_HTTP_OK, body, strlen(body), "text/html; charset=utf-8",
                         req->request_id, 0);
}
