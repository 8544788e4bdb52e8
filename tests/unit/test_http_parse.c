/*
 * test_http_parse.c - table-driven unit test of the HTTP request parser.
 *
 * Every row of the table is a raw request and what the contract
 * (chapters/appendix-protocol.md) says the parser must make of it. Each row
 * is run five ways, each one a "case" that passes or fails:
 *
 *   one-shot    the whole input at once, in a buffer of exactly that size,
 *               checked against the row's expected result and fields;
 *   splits      for every k: the first k bytes, then the whole input; both
 *               answers must equal a one-shot parse of the same bytes;
 *   trickle     one byte more per call, each call in a freshly malloc'd copy
 *               (the old one freed), so a pointer kept between two calls is a
 *               use-after-free that AddressSanitizer reports;
 *   no-rescan   a trickle in which the bytes the parser says it has already
 *               looked at (parser.scanned, parser.line_start) are replaced by
 *               LFs: a parser that searched them again would see a bare LF;
 *   sticky      once an error is returned, more bytes do not change it.
 *
 * Then a few tests that are not rows (pipelining, the helpers).
 *
 * Output: one line per failure, then "N passed, M failed". Exit status 1 on
 * any failure.
 */
#include "http.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

/* ---- what a row expects ---- */

enum want { WANT_COMPLETE, WANT_HEAD_READY, WANT_NEED_MORE };

enum { ANY_ERROR = -1 }; /* for .status: some error, the split tests decide */

struct row {
    const char *name;
    const char *raw;
    size_t len;
    int status;          /* expected error status; 0: not an error */
    enum want want;      /* when status is 0 */
    /* The rest is checked when the head has been parsed. */
    const char *method;  /* NULL: not checked */
    const char *target;  /* NULL: not checked */
    const char *path;    /* NULL: not checked */
    bool v10;            /* HTTP/1.0 (else HTTP/1.1) */
    bool close;          /* keep_alive is false */
    size_t headers;      /* header count, always checked */
    bool has_cl;
    size_t cl;
    const char *body;    /* on COMPLETE (NULL: empty) */
    size_t body_len;     /* 0: strlen(body) */
    bool cont;           /* expects_continue */
    const char *ctype;   /* NULL: no Content-Type */
    size_t total;        /* total_len; 0: the whole input */
    const char *find;    /* a header to look up with http_find_header */
    const char *value;   /* ... and its expected value */
};

#define RAW(s) .raw = (s), .len = sizeof(s) - 1

/* ---- what a parse gave, with slices as offsets (comparable across buffers) */

struct outcome {
    enum http_result result;
    int status;
    bool refused_head; /* an error to a request line that began "HEAD " */
    enum http_method method;
    size_t method_at, method_len, target_at, target_len;
    bool path_is_root; /* the parser's own "/" for "http://host" */
    size_t path_at, path_len;
    int minor;
    size_t header_count;
    size_t name_at[HTTP_MAX_HEADERS], name_len[HTTP_MAX_HEADERS];
    size_t value_at[HTTP_MAX_HEADERS], value_len[HTTP_MAX_HEADERS];
    bool has_cl, has_ct, cont, keep_alive;
    size_t cl, ct_at, ct_len, head_len, total_len, body_at, body_len;
};

static const char *result_name(enum http_result r)
{
    switch (r) {
    case HTTP_NEED_MORE: return "NEED_MORE";
    case HTTP_HEAD_READY: return "HEAD_READY";
    case HTTP_COMPLETE: return "COMPLETE";
    case HTTP_ERROR: return "ERROR";
    }
    return "?";
}

static void describe(const struct outcome *o, char *out, size_t size)
{
    if (o->result == HTTP_ERROR)
        snprintf(out, size, "ERROR %d", o->status);
    else if (o->result == HTTP_NEED_MORE)
        snprintf(out, size, "NEED_MORE");
    else
        snprintf(out, size, "%s total_len %zu", result_name(o->result),
                 o->total_len);
}

/* A slice must lie inside buf[0..len); its offset is stored in *at. */
static bool inside(struct slice s, const char *buf, size_t len, size_t *at,
                   const char *what, char *why, size_t why_size)
{
    if (s.at < buf || s.at > buf + len || s.len > (size_t)(buf + len - s.at)) {
        snprintf(why, why_size, "%s slice lies outside the buffer", what);
        return false;
    }
    *at = (size_t)(s.at - buf);
    return true;
}

/* Turn what http_parse returned into an outcome; false (and why) if broken. */
static bool take_outcome(const struct http_parser *p, const char *buf,
                         size_t len, enum http_result res,
                         const struct http_request *r, struct outcome *o,
                         char *why, size_t why_size)
{
    memset(o, 0, sizeof *o);
    o->result = res;
    if (res == HTTP_ERROR) {
        o->status = p->error_status;
        o->refused_head = p->method_known && p->request.method == HTTP_HEAD;
        if (p->error_reason == NULL) {
            snprintf(why, why_size, "error without a reason");
            return false;
        }
        return true;
    }
    if (res == HTTP_NEED_MORE)
        return true;
    if (r == NULL) {
        snprintf(why, why_size, "%s without a request", result_name(res));
        return false;
    }
    o->method = r->method;
    o->method_len = r->method_name.len;
    o->target_len = r->target.len;
    o->path_len = r->path.len;
    if (!inside(r->method_name, buf, len, &o->method_at, "method", why,
                why_size) ||
        !inside(r->target, buf, len, &o->target_at, "target", why, why_size))
        return false;
    o->path_is_root = r->path.len == 1 && r->path.at[0] == '/' &&
                      !inside(r->path, buf, len, &o->path_at, "path", why,
                              why_size);
    if (!o->path_is_root &&
        !inside(r->path, buf, len, &o->path_at, "path", why, why_size))
        return false;
    o->minor = r->minor_version;
    o->header_count = r->header_count;
    if (r->header_count > HTTP_MAX_HEADERS) {
        snprintf(why, why_size, "header_count %zu", r->header_count);
        return false;
    }
    for (size_t i = 0; i < r->header_count; i++) {
        o->name_len[i] = r->headers[i].name.len;
        o->value_len[i] = r->headers[i].value.len;
        if (!inside(r->headers[i].name, buf, len, &o->name_at[i], "name", why,
                    why_size) ||
            !inside(r->headers[i].value, buf, len, &o->value_at[i], "value",
                    why, why_size))
            return false;
    }
    o->has_cl = r->has_content_length;
    o->cl = r->content_length;
    o->has_ct = r->has_content_type;
    if (o->has_ct) {
        o->ct_len = r->content_type.len;
        if (!inside(r->content_type, buf, len, &o->ct_at, "content_type", why,
                    why_size))
            return false;
    }
    o->cont = r->expects_continue;
    o->keep_alive = r->keep_alive;
    o->head_len = r->head_len;
    o->total_len = r->total_len;
    if (r->head_len > len || r->total_len != r->head_len + r->content_length) {
        snprintf(why, why_size, "head_len %zu total_len %zu for %zu bytes",
                 r->head_len, r->total_len, len);
        return false;
    }
    if ((res == HTTP_COMPLETE) != (len >= r->total_len)) {
        snprintf(why, why_size, "%s with total_len %zu of %zu bytes",
                 result_name(res), r->total_len, len);
        return false;
    }
    if (res == HTTP_COMPLETE) { /* the body slice is promised only then */
        o->body_len = r->body.len;
        if (!inside(r->body, buf, len, &o->body_at, "body", why, why_size))
            return false;
    } else if (res == HTTP_HEAD_READY) { /* ...but never points past len */
        size_t at;
        if (!inside(r->body, buf, len, &at, "partial body", why, why_size))
            return false;
    }
    return true;
}

/* The first field in which two outcomes differ, or NULL. */
static const char *outcome_diff(const struct outcome *a,
                                const struct outcome *b)
{
#define SAME(f) if (a->f != b->f) return #f
    SAME(result);
    SAME(status);
    SAME(refused_head);
    if (a->result == HTTP_ERROR || a->result == HTTP_NEED_MORE)
        return NULL;
    SAME(method); SAME(method_at); SAME(method_len);
    SAME(target_at); SAME(target_len);
    SAME(path_is_root); SAME(path_at); SAME(path_len);
    SAME(minor); SAME(header_count);
    for (size_t i = 0; i < a->header_count; i++) {
        SAME(name_at[i]); SAME(name_len[i]);
        SAME(value_at[i]); SAME(value_len[i]);
    }
    SAME(has_cl); SAME(cl); SAME(has_ct); SAME(ct_at); SAME(ct_len);
    SAME(cont); SAME(keep_alive); SAME(head_len); SAME(total_len);
    SAME(body_at); SAME(body_len);
#undef SAME
    return NULL;
}

/* ---- running the parser ---- */

/* A copy of buf[0..len) in a block of exactly len bytes (ASan sees over-reads). */
static char *copy_of(const char *buf, size_t len)
{
    char *copy = malloc(len ? len : 1);
    if (copy == NULL) {
        perror("malloc");
        exit(2);
    }
    if (len)
        memcpy(copy, buf, len);
    return copy;
}

/* One call of http_parse, its outcome stored in *o. */
static bool parse_call(struct http_parser *p, const char *buf, size_t len,
                       struct outcome *o, char *why, size_t why_size)
{
    const struct http_request *r = NULL;
    enum http_result res = http_parse(p, buf, len, &r);
    return take_outcome(p, buf, len, res, r, o, why, why_size);
}

/* A fresh parser on buf[0..len) at once, in a copy of exactly that size. */
static bool one_shot(const char *raw, size_t len, struct outcome *o, char *why,
                     size_t why_size)
{
    struct http_parser p;
    http_parser_reset(&p);
    char *buf = copy_of(raw, len);
    bool ok = parse_call(&p, buf, len, o, why, why_size);
    free(buf);
    return ok;
}

/* ---- reporting ---- */

static void report(bool ok, const char *test, const char *fmt, ...)
{
    if (ok) {
        passed++;
        return;
    }
    failed++;
    printf("FAIL %s: ", test);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* ---- checking a row's one-shot outcome against the row ---- */

static bool slice_is(const char *buf, size_t at, size_t len, const char *text,
                     size_t text_len)
{
    return len == text_len && memcmp(buf + at, text, len) == 0;
}

static enum http_method method_of(const char *name)
{
    if (strcmp(name, "GET") == 0)
        return HTTP_GET;
    if (strcmp(name, "HEAD") == 0)
        return HTTP_HEAD;
    if (strcmp(name, "POST") == 0)
        return HTTP_POST;
    return HTTP_OTHER_KNOWN;
}

/* NULL if the outcome is what the row says, else what is wrong. */
static const char *check_fields(const struct row *w, const struct outcome *o,
                                const struct http_request *r, const char *buf,
                                char *why, size_t why_size)
{
    if (w->status != 0) {
        if (o->result != HTTP_ERROR)
            return "expected an error";
        if (w->status != ANY_ERROR && o->status != w->status) {
            snprintf(why, why_size, "expected status %d, got %d", w->status,
                     o->status);
            return why;
        }
        return NULL;
    }
    enum http_result want = w->want == WANT_COMPLETE     ? HTTP_COMPLETE
                            : w->want == WANT_HEAD_READY ? HTTP_HEAD_READY
                                                         : HTTP_NEED_MORE;
    if (o->result != want) {
        char got[64];
        describe(o, got, sizeof got);
        snprintf(why, why_size, "expected %s, got %s", result_name(want), got);
        return why;
    }
    if (want == HTTP_NEED_MORE)
        return NULL;
    if (w->method && (!slice_is(buf, o->method_at, o->method_len, w->method,
                                strlen(w->method)) ||
                      o->method != method_of(w->method)))
        return "method";
    if (w->target && !slice_is(buf, o->target_at, o->target_len, w->target,
                               strlen(w->target)))
        return "target";
    if (w->path && !(o->path_is_root
                         ? strcmp(w->path, "/") == 0
                         : slice_is(buf, o->path_at, o->path_len, w->path,
                                    strlen(w->path))))
        return "path";
    if (o->minor != (w->v10 ? 0 : 1))
        return "minor_version";
    if (o->keep_alive == w->close)
        return "keep_alive";
    if (o->header_count != w->headers) {
        snprintf(why, why_size, "header_count %zu, expected %zu",
                 o->header_count, w->headers);
        return why;
    }
    if (o->has_cl != w->has_cl || o->cl != w->cl) {
        snprintf(why, why_size, "content_length %d/%zu, expected %d/%zu",
                 o->has_cl, o->cl, w->has_cl, w->cl);
        return why;
    }
    if (o->cont != w->cont)
        return "expects_continue";
    if (o->has_ct != (w->ctype != NULL) ||
        (w->ctype && !slice_is(buf, o->ct_at, o->ct_len, w->ctype,
                               strlen(w->ctype))))
        return "content_type";
    size_t total = w->total ? w->total : w->len;
    if (want == HTTP_COMPLETE && o->total_len != total) {
        snprintf(why, why_size, "total_len %zu, expected %zu", o->total_len,
                 total);
        return why;
    }
    if (want == HTTP_COMPLETE) {
        const char *body = w->body ? w->body : "";
        size_t body_len = w->body_len ? w->body_len : strlen(body);
        if (!slice_is(buf, o->body_at, o->body_len, body, body_len))
            return "body";
        if (o->head_len + o->body_len != o->total_len)
            return "head_len + body";
    }
    if (w->find) {
        struct slice value;
        if (!http_find_header(r, w->find, &value))
            return "http_find_header found nothing";
        if (value.len != strlen(w->value) ||
            memcmp(value.at, w->value, value.len) != 0)
            return "http_find_header value";
    }
    return NULL;
}

static void case_one_shot(const struct row *w)
{
    char why[160] = "", what[160] = "";
    struct http_parser p;
    http_parser_reset(&p);
    char *buf = copy_of(w->raw, w->len);
    const struct http_request *r = NULL;
    enum http_result res = http_parse(&p, buf, w->len, &r);
    struct outcome o;
    const char *wrong = NULL;
    if (!take_outcome(&p, buf, w->len, res, r, &o, why, sizeof why))
        wrong = why;
    else
        wrong = check_fields(w, &o, r, buf, what, sizeof what);
    report(wrong == NULL, w->name, "one-shot: %s", wrong);
    free(buf);
}

/* ---- the split cases: every prefix must agree with a one-shot parse ---- */

/* One-shot outcomes of every prefix raw[0..k), k = 0..len. */
static struct outcome *prefix_outcomes(const struct row *w, bool *ok)
{
    struct outcome *all = calloc(w->len + 1, sizeof *all);
    char why[160];
    *ok = true;
    for (size_t k = 0; k <= w->len && *ok; k++)
        if (!one_shot(w->raw, k, &all[k], why, sizeof why)) {
            report(false, w->name, "one-shot of %zu bytes: %s", k, why);
            *ok = false;
        }
    return all;
}

static bool agree(const struct row *w, const char *how, size_t k,
                  const struct outcome *got, const struct outcome *want)
{
    const char *field = outcome_diff(got, want);
    if (field == NULL)
        return true;
    char a[64], b[64];
    describe(got, a, sizeof a);
    describe(want, b, sizeof b);
    report(false, w->name, "%s at %zu bytes: %s differs (%s, one-shot %s)",
           how, k, field, a, b);
    return false;
}

/* First k bytes, then all of them: both answers as a one-shot's. */
static void case_splits(const struct row *w, const struct outcome *prefix)
{
    char why[160];
    char *buf = copy_of(w->raw, w->len);
    bool ok = true;
    for (size_t k = 0; k <= w->len && ok; k++) {
        struct http_parser p;
        struct outcome first, second;
        http_parser_reset(&p);
        ok = parse_call(&p, buf, k, &first, why, sizeof why) &&
             parse_call(&p, buf, w->len, &second, why, sizeof why);
        if (!ok)
            report(false, w->name, "split at %zu: %s", k, why);
        else
            ok = agree(w, "split, first call", k, &first, &prefix[k]) &&
                 agree(w, "split, second call", k, &second, &prefix[w->len]);
    }
    if (ok)
        report(true, w->name, "");
    free(buf);
}

/* One byte more per call, each time in a new buffer, the old one freed. */
static void case_trickle(const struct row *w, const struct outcome *prefix)
{
    char why[160];
    struct http_parser p;
    http_parser_reset(&p);
    bool ok = true;
    for (size_t k = 1; k <= w->len && ok; k++) {
        char *buf = copy_of(w->raw, k);
        struct outcome o;
        ok = parse_call(&p, buf, k, &o, why, sizeof why);
        if (!ok)
            report(false, w->name, "trickle at %zu: %s", k, why);
        else
            ok = agree(w, "trickle", k, &o, &prefix[k]);
        free(buf);
    }
    if (ok)
        report(true, w->name, "");
}

/*
 * A trickle in which the bytes the parser has finished with are LFs. Bytes
 * before line_start belong to lines already taken; bytes of the unfinished
 * line before scanned were searched for its end already. Those may be read
 * once more when the line is complete (the call that adds its LF) or when
 * the parser gives up on it (an error), so they stay real then.
 */
static void case_no_rescan(const struct row *w, const struct outcome *prefix)
{
    char why[160];
    struct http_parser p;
    http_parser_reset(&p);
    bool ok = true;
    for (size_t k = 1; k <= w->len && ok; k++) {
        char *buf = copy_of(w->raw, k);
        size_t line_start = p.line_start, scanned = p.scanned;
        bool rereads_line =
            w->raw[k - 1] == '\n' || prefix[k].result == HTTP_ERROR;
        size_t poison = rereads_line ? line_start : scanned;
        if (poison > k - 1)
            poison = k - 1;
        memset(buf, '\n', poison);
        struct outcome o;
        ok = parse_call(&p, buf, k, &o, why, sizeof why);
        if (!ok)
            report(false, w->name, "no-rescan at %zu: %s", k, why);
        else
            ok = agree(w, "no-rescan", k, &o, &prefix[k]);
        if (ok && o.result == HTTP_NEED_MORE && p.scanned != k) {
            report(false, w->name, "no-rescan at %zu: scanned is %zu", k,
                   p.scanned);
            ok = false;
        }
        free(buf);
    }
    if (ok)
        report(true, w->name, "");
}

/* After an error, the same error whatever else arrives. */
static void case_sticky(const struct row *w, const struct outcome *prefix)
{
    char why[160];
    const struct outcome *end = &prefix[w->len];
    if (end->result != HTTP_ERROR) {
        report(true, w->name, "");
        return;
    }
    static const char more[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t len = w->len + sizeof more - 1;
    char *buf = malloc(len);
    memcpy(buf, w->raw, w->len);
    memcpy(buf + w->len, more, sizeof more - 1);
    struct http_parser p;
    struct outcome first, again;
    http_parser_reset(&p);
    bool ok = parse_call(&p, buf, w->len, &first, why, sizeof why) &&
              parse_call(&p, buf, len, &again, why, sizeof why);
    if (!ok)
        report(false, w->name, "sticky: %s", why);
    else
        report(again.result == HTTP_ERROR && again.status == end->status,
               w->name, "sticky: %s then %d", result_name(again.result),
               again.status);
    free(buf);
}

static void run_row(const struct row *w)
{
    case_one_shot(w);
    bool ok;
    struct outcome *prefix = prefix_outcomes(w, &ok);
    if (ok) {
        case_splits(w, prefix);
        case_trickle(w, prefix);
        case_no_rescan(w, prefix);
        case_sticky(w, prefix);
    }
    free(prefix);
}

/* ---- the table ---- */

#define H11 " HTTP/1.1\r\nHost: x\r\n"

static const struct row rows[] = {
    /* -- valid requests -- */
    {.name = "GET /", RAW("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
     .method = "GET", .target = "/", .path = "/", .headers = 1,
     .find = "host", .value = "x"},
    {.name = "HEAD /menu", RAW("HEAD /menu" H11 "\r\n"), .method = "HEAD",
     .target = "/menu", .path = "/menu", .headers = 1},
    {.name = "POST /order with a form",
     RAW("POST /order HTTP/1.1\r\nHost: localhost:8080\r\n"
         "Content-Type: application/x-www-form-urlencoded\r\n"
         "Content-Length: 16\r\n\r\npizza=margherita"),
     .method = "POST", .target = "/order", .path = "/order", .headers = 3,
     .has_cl = true, .cl = 16, .body = "pizza=margherita",
     .ctype = "application/x-www-form-urlencoded"},
    {.name = "query string cut from the path", RAW("GET /menu?x=1&y" H11 "\r\n"),
     .method = "GET", .target = "/menu?x=1&y", .path = "/menu", .headers = 1},
    {.name = "empty query", RAW("GET /menu? HTTP/1.1\r\nHost: x\r\n\r\n"),
     .target = "/menu?", .path = "/menu", .headers = 1},
    {.name = "absolute form", RAW("GET http://host/menu?x" H11 "\r\n"),
     .target = "http://host/menu?x", .path = "/menu", .headers = 1},
    {.name = "absolute form, no path", RAW("GET http://host" H11 "\r\n"),
     .target = "http://host", .path = "/", .headers = 1},
    {.name = "absolute form, query and no path", RAW("GET http://h?q" H11 "\r\n"),
     .target = "http://h?q", .path = "/", .headers = 1},
    {.name = "absolute form, https and port, upper case scheme",
     RAW("GET HTTPS://h:8080/a/b" H11 "\r\n"), .path = "/a/b", .headers = 1},
    {.name = "target with escapes and sub-delims",
     RAW("GET /a%20b/~c;d=e!$&'()*+,@: HTTP/1.1\r\nHost: x\r\n\r\n"),
     .target = "/a%20b/~c;d=e!$&'()*+,@:", .headers = 1},
    {.name = "HTTP/1.0 without Host", RAW("GET / HTTP/1.0\r\n\r\n"),
     .v10 = true, .close = true},
    {.name = "HTTP/1.0 with one Host", RAW("GET / HTTP/1.0\r\nHost: x\r\n\r\n"),
     .v10 = true, .close = true, .headers = 1},
    {.name = "HTTP/1.0 keep-alive",
     RAW("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), .v10 = true,
     .headers = 1},
    {.name = "HTTP/1.0 keep-alive and close",
     RAW("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"),
     .v10 = true, .close = true, .headers = 1},
    {.name = "HTTP/1.1 close", RAW("GET /" H11 "Connection: close\r\n\r\n"),
     .close = true, .headers = 2},
    {.name = "HTTP/1.1 close in a token list",
     RAW("GET /" H11 "Connection: Upgrade,  CLOSE ,x\r\n\r\n"),
     .close = true, .headers = 2},
    {.name = "HTTP/1.1 not closed by a longer token",
     RAW("GET /" H11 "Connection: closed, close-me\r\n\r\n"), .headers = 2},
    {.name = "HTTP/1.1 keep-alive", RAW("GET /" H11 "Connection: keep-alive\r\n\r\n"),
     .headers = 2},
    {.name = "Expect: 100-continue",
     RAW("POST /order" H11 "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"
         "pizza"),
     .method = "POST", .headers = 3, .has_cl = true, .cl = 5, .body = "pizza",
     .cont = true},
    /* An HTTP/1.0 client cannot know 100 Continue (RFC 9110, 10.1.1). */
    {.name = "HTTP/1.0 Expect: 100-continue is ignored",
     RAW("POST /order HTTP/1.0\r\nExpect: 100-continue\r\n"
         "Content-Length: 5\r\n\r\npizza"),
     .method = "POST", .v10 = true, .close = true, .headers = 2,
     .has_cl = true, .cl = 5, .body = "pizza"},
    {.name = "Expect: 100-Continue, any case",
     RAW("POST /order" H11 "expect:100-CONTINUE\r\nContent-Length: 0\r\n\r\n"),
     .headers = 3, .has_cl = true, .cont = true},
    {.name = "value trimmed of blanks", RAW("GET / HTTP/1.1\r\nHost: \t x \t \r\n\r\n"),
     .headers = 1, .find = "HOST", .value = "x"},
    {.name = "value with inner blanks", RAW("GET /" H11 "X-A: a \t b\r\n\r\n"),
     .headers = 2, .find = "x-a", .value = "a \t b"},
    {.name = "empty value", RAW("GET /" H11 "X-Empty:\r\n\r\n"), .headers = 2,
     .find = "x-empty", .value = ""},
    {.name = "blank value", RAW("GET /" H11 "X-Empty:   \r\n\r\n"), .headers = 2,
     .find = "x-empty", .value = ""},
    {.name = "obs-text in a value", RAW("GET /" H11 "X-A: caf\xc3\xa9\xff\x80\r\n\r\n"),
     .headers = 2, .find = "X-A", .value = "caf\xc3\xa9\xff\x80"},
    {.name = "header names are case-insensitive",
     RAW("GET / HTTP/1.1\r\nhOsT: x\r\n\r\n"), .headers = 1},
    {.name = "token characters in a name",
     RAW("GET /" H11 "!#$%&'*+-.^_`|~09aZ: v\r\n\r\n"), .headers = 2,
     .find = "!#$%&'*+-.^_`|~09az", .value = "v"},
    {.name = "Content-Length: 0", RAW("GET /" H11 "content-length: 0\r\n\r\n"),
     .headers = 2, .has_cl = true},
    {.name = "Content-Length with leading zeros",
     RAW("POST /order" H11 "Content-Length: 0005\r\n\r\nabcde"), .headers = 2,
     .has_cl = true, .cl = 5, .body = "abcde"},
    {.name = "Content-Length with blanks around",
     RAW("POST /order" H11 "Content-Length: \t 3 \r\n\r\nabc"), .headers = 2,
     .has_cl = true, .cl = 3, .body = "abc"},
    {.name = "body on a GET", RAW("GET /" H11 "Content-Length: 2\r\n\r\nhi"),
     .headers = 2, .has_cl = true, .cl = 2, .body = "hi"},
    {.name = "body with CRLF, NUL and control bytes",
     RAW("POST /order" H11 "Content-Length: 8\r\n\r\n\r\n\0\x01\n\r\x7f\xff"),
     .headers = 2, .has_cl = true, .cl = 8, .body = "\r\n\0\x01\n\r\x7f\xff",
     .body_len = 8},
    {.name = "first Content-Type wins",
     RAW("POST /order" H11 "Content-Type: a/b\r\ncontent-type: c/d\r\n"
         "Content-Length: 0\r\n\r\n"),
     .headers = 4, .has_cl = true, .ctype = "a/b"},
    {.name = "empty lines before the request line",
     RAW("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"), .method = "GET",
     .headers = 1},
    {.name = "PUT is known", RAW("PUT /x" H11 "\r\n"), .method = "PUT", .headers = 1},
    {.name = "DELETE is known", RAW("DELETE /x" H11 "\r\n"), .method = "DELETE",
     .headers = 1},
    {.name = "OPTIONS is known", RAW("OPTIONS /" H11 "\r\n"), .method = "OPTIONS",
     .headers = 1},
    {.name = "TRACE is known", RAW("TRACE /" H11 "\r\n"), .method = "TRACE",
     .headers = 1},
    {.name = "PATCH is known", RAW("PATCH /" H11 "\r\n"), .method = "PATCH",
     .headers = 1},
    {.name = "CONNECT is known", RAW("CONNECT /" H11 "\r\n"), .method = "CONNECT",
     .headers = 1},
    {.name = "64 header lines",
     RAW("GET / HTTP/1.1\r\nHost: x\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n\r\n"),
     .headers = 64},
    /* Only the 8 KiB limit bounds the count; past 64, not kept. */
    {.name = "65 header lines: all read, 64 kept",
     RAW("GET / HTTP/1.1\r\nHost: x\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n\r\n"),
     .headers = 64},

    {.name = "Host, Content-Length and Expect after 64 header lines",
     RAW("POST /order HTTP/1.1\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "Host: x\r\nContent-Type: a/b\r\nExpect: 100-continue\r\n"
         "Connection: close\r\nContent-Length: 2\r\n\r\nhi"),
     .headers = 64, .has_cl = true, .cl = 2, .body = "hi", .cont = true,
     .close = true, .ctype = "a/b"},
    {.name = "a second Host after 64 header lines",
     RAW("GET / HTTP/1.1\r\nHost: x\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n"
         "A:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\nHost: y\r\n\r\n"),
     .status = 400},

    /* -- pipelining: total_len is exactly the first request -- */
    {.name = "two GETs in one buffer",
     RAW("GET /a" H11 "\r\nGET /b" H11 "\r\n"), .target = "/a", .headers = 1,
     .total = 28},
    {.name = "POST then GET in one buffer",
     RAW("POST /order" H11 "Content-Length: 3\r\n\r\nabcGET /" H11 "\r\n"),
     .headers = 2, .has_cl = true, .cl = 3, .body = "abc", .total = 55},
    {.name = "a request then junk", RAW("GET /" H11 "\r\n\x00\x01junk\n"),
     .headers = 1, .total = 27},

    /* -- not complete yet -- */
    {.name = "nothing", RAW(""), .want = WANT_NEED_MORE},
    {.name = "head without its empty line", RAW("GET /" H11),
     .want = WANT_NEED_MORE},
    {.name = "head with half its empty line", RAW("GET /" H11 "\r"),
     .want = WANT_NEED_MORE},
    {.name = "only empty lines", RAW("\r\n\r\n\r\n\r"), .want = WANT_NEED_MORE},
    {.name = "body still coming",
     RAW("POST /order" H11 "Content-Length: 5\r\n\r\npi"),
     .want = WANT_HEAD_READY, .method = "POST", .headers = 2, .has_cl = true,
     .cl = 5},
    {.name = "body not started, 100-continue",
     RAW("POST /order" H11 "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"),
     .want = WANT_HEAD_READY, .headers = 3, .has_cl = true, .cl = 5,
     .cont = true},

    /* -- the request line -- */
    {.name = "no version", RAW("GET /\r\nHost: x\r\n\r\n"), .status = 400},
    {.name = "only a method", RAW("GET\r\n\r\n"), .status = 400},
    {.name = "empty request line after blank lines",
     RAW("\r\n \r\n"), .status = 400},
    {.name = "space before the method", RAW(" GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
     .status = 400},
    {.name = "two spaces after the method",
     RAW("GET  / HTTP/1.1\r\nHost: x\r\n\r\n"), .status = 400},
    {.name = "two spaces before the version",
     RAW("GET /  HTTP/1.1\r\nHost: x\r\n\r\n"), .status = 400},
    {.name = "space after the version", RAW("GET / HTTP/1.1 \r\nHost: x\r\n\r\n"),
     .status = 400},
    {.name = "tab as a separator", RAW("GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n"),
     .status = 400},
    {.name = "HTTP/2.0", RAW("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), .status = 505},
    {.name = "HTTP/1.2", RAW("GET / HTTP/1.2\r\nHost: x\r\n\r\n"), .status = 505},
    {.name = "HTTP/0.9", RAW("GET / HTTP/0.9\r\n\r\n"), .status = 505},
    {.name = "HTTP/3.0", RAW("GET / HTTP/3.0\r\n\r\n"), .status = 505},
    {.name = "HTTP/9.9", RAW("GET / HTTP/9.9\r\n\r\n"), .status = 505},
    {.name = "lower-case version", RAW("GET / http/1.1\r\nHost: x\r\n\r\n"),
     .status = 400},
    {.name = "version HTTP/1.10", RAW("GET / HTTP/1.10\r\nHost: x\r\n\r\n"),
     .status = 400},
    {.name = "version HTTP/1", RAW("GET / HTTP/1\r\nHost: x\r\n\r\n"), .status = 400},
    {.name = "version HTTP/11", RAW("GET / HTTP/11\r\nHost: x\r\n\r\n"),
     .status = 400},
    {.name = "version HTTP/a.b", RAW("GET / HTTP/a.b\r\nHost: x\r\n\r\n"),
     .status = 400},
    {.name = "version HTTP/1,1", RAW("GET / HTTP/1,1\r\nHost: x\r\n\r\n"),
     .status = 400},
    {.name = "version FTP/1.1", RAW("GET / FTP/1.1\r\nHost: x\r\n\r\n"),
     .status = 400},
    {.name = "lower-case method", RAW("get / HTTP/1.1\r\nHost: x\r\n\r\n"),
     .status = 501},
    {.name = "Get is not GET", RAW("Get / HTTP/1.1\r\nHost: x\r\n\r\n"),
     .status = 501},
    {.name = "unknown method", RAW("BREW / HTTP/1.1\r\nHost: x\r\n\r\n"),
     .status = 501},
    {.name = "GET with a suffix", RAW("GETS / HTTP/1.1\r\nHost: x\r\n\r\n"),
     .status = 501},
    {.name = "method not a token", RAW("GE@T / HTTP/1.1\r\nHost: x\r\n\r\n"),
     .status = 400},
    {.name = "asterisk form", RAW("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"),
     .status = 400},
    {.name = "authority form", RAW("CONNECT h:443 HTTP/1.1\r\nHost: x\r\n\r\n"),
     .status = 400},
    {.name = "target without a slash", RAW("GET menu HTTP/1.1\r\nHost: x\r\n\r\n"),
     .status = 400},
    {.name = "target with a fragment", RAW("GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n"),
     .status = 400},
    /* Not a URI character, but visible ASCII: let through, as nginx does. */
    {.name = "target with a quote", RAW("GET /a\"b{} HTTP/1.1\r\nHost: x\r\n\r\n"),
     .target = "/a\"b{}", .headers = 1},
    {.name = "target with a non-ASCII byte",
     RAW("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n"), .status = 400},
    {.name = "scheme without a host", RAW("GET http:///x HTTP/1.1\r\nHost: x\r\n\r\n"),
     .status = 400},
    {.name = "scheme alone", RAW("GET http:// HTTP/1.1\r\nHost: x\r\n\r\n"),
     .status = 400},
    {.name = "ftp scheme", RAW("GET ftp://h/ HTTP/1.1\r\nHost: x\r\n\r\n"),
     .status = 400},

    /* -- Host -- */
    {.name = "HTTP/1.1 without Host", RAW("GET / HTTP/1.1\r\n\r\n"), .status = 400},
    {.name = "HTTP/1.1 with two Hosts",
     RAW("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), .status = 400},
    {.name = "HTTP/1.0 with two Hosts",
     RAW("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n"), .status = 400},
    {.name = "absolute form still needs Host",
     RAW("GET http://h/ HTTP/1.1\r\n\r\n"), .status = 400},

    /* -- header lines -- */
    {.name = "header without a colon", RAW("GET /" H11 "NoColon\r\n\r\n"),
     .status = 400},
    {.name = "space before the colon", RAW("GET / HTTP/1.1\r\nHost : x\r\n\r\n"),
     .status = 400},
    {.name = "tab before the colon", RAW("GET / HTTP/1.1\r\nHost\t: x\r\n\r\n"),
     .status = 400},
    {.name = "obs-fold with a space", RAW("GET /" H11 "X-A: a\r\n b\r\n\r\n"),
     .status = 400},
    {.name = "obs-fold with a tab", RAW("GET /" H11 "X-A: a\r\n\tb\r\n\r\n"),
     .status = 400},
    {.name = "blank first header line", RAW("GET / HTTP/1.1\r\n Host: x\r\n\r\n"),
     .status = 400},
    {.name = "empty header name", RAW("GET /" H11 ": v\r\n\r\n"), .status = 400},
    {.name = "bad character in a name", RAW("GET /" H11 "X(A): v\r\n\r\n"),
     .status = 400},

    /* -- Content-Length, Transfer-Encoding, Expect -- */
    {.name = "Content-Length not a number",
     RAW("POST /order" H11 "Content-Length: abc\r\n\r\n"), .status = 400},
    {.name = "Content-Length empty", RAW("POST /order" H11 "Content-Length:\r\n\r\n"),
     .status = 400},
    {.name = "Content-Length negative",
     RAW("POST /order" H11 "Content-Length: -1\r\n\r\n"), .status = 400},
    {.name = "Content-Length with a plus",
     RAW("POST /order" H11 "Content-Length: +5\r\n\r\n"), .status = 400},
    {.name = "Content-Length in hex",
     RAW("POST /order" H11 "Content-Length: 0x10\r\n\r\n"), .status = 400},
    {.name = "Content-Length as a list",
     RAW("POST /order" H11 "Content-Length: 5, 5\r\n\r\n"), .status = 400},
    {.name = "Content-Length with a space inside",
     RAW("POST /order" H11 "Content-Length: 1 2\r\n\r\n"), .status = 400},
    {.name = "Content-Length twice, same value",
     RAW("POST /order" H11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\nabcde"),
     .status = 400},
    {.name = "Content-Length twice, any case",
     RAW("POST /order" H11 "Content-Length: 1\r\ncontent-LENGTH: 2\r\n\r\nab"),
     .status = 400},
    {.name = "Content-Length far too big",
     RAW("POST /order" H11 "Content-Length: 99999999999999999999999999\r\n\r\n"),
     .status = 413},
    {.name = "Transfer-Encoding",
     RAW("POST /order" H11 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
     .status = 501},
    {.name = "Transfer-Encoding with Content-Length",
     RAW("POST /order" H11 "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
     .status = 501},
    {.name = "Transfer-Encoding: identity",
     RAW("GET /" H11 "transfer-encoding: identity\r\n\r\n"), .status = 501},
    {.name = "Expect something else",
     RAW("POST /order" H11 "Expect: 200-ok\r\nContent-Length: 0\r\n\r\n"),
     .status = 417},
    {.name = "Expect empty", RAW("GET /" H11 "Expect:\r\n\r\n"), .status = 417},
    {.name = "Expect 100-continue plus more",
     RAW("GET /" H11 "Expect: 100-continue, x\r\n\r\n"), .status = 417},

    /* -- line ends -- */
    {.name = "bare LF after the request line",
     RAW("GET / HTTP/1.1\nHost: x\r\n\r\n"), .status = 400},
    {.name = "bare LF after a header", RAW("GET / HTTP/1.1\r\nHost: x\n\r\n"),
     .status = 400},
    {.name = "bare LF as the empty line", RAW("GET /" H11 "\n"), .status = 400},
    {.name = "bare LF before the request", RAW("\nGET /" H11 "\r\n"),
     .status = 400},
    {.name = "bare LF among empty lines", RAW("\r\n\nGET /" H11 "\r\n"),
     .status = 400},
    {.name = "only LFs", RAW("\n\n"), .status = 400},
    {.name = "CR inside a value", RAW("GET /" H11 "X-A: a\rb\r\n\r\n"),
     .status = 400},
    {.name = "CR CR LF", RAW("GET /" H11 "X-A: a\r\r\n\r\n"), .status = 400},
    {.name = "CR CR LF as the empty line", RAW("GET /" H11 "\r\r\n"),
     .status = 400},
    {.name = "CR alone before the request", RAW("\rGET /" H11 "\r\n"),
     .status = 400},

    /*
     * -- picohttpparser's request tests --
     *
     * The request strings of the test suite of picohttpparser (the
     * h2o/picohttpparser project, file test.c: test_request, and
     * test_headers' one error), each named after its note there, with what
     * our contract says of it. Where the verdicts differ, the contract
     * refuses what that parser lets through: obs-fold, more than one space
     * between the parts of the request line, and a byte past 0x7e in the
     * target are all 400 here (RFC 9112, 3 and 5.2). Its "incomplete" and
     * "slowloris" strings are heads cut short: not an error, more to come.
     */
    {.name = "picohttpparser: simple", RAW("GET / HTTP/1.0\r\n\r\n"),
     .method = "GET", .target = "/", .path = "/", .v10 = true, .close = true},
    {.name = "picohttpparser: partial", RAW("GET / HTTP/1.0\r\n\r"),
     .want = WANT_NEED_MORE},
    {.name = "picohttpparser: parse headers",
     RAW("GET /hoge HTTP/1.1\r\nHost: example.com\r\nCookie: \r\n\r\n"),
     .method = "GET", .target = "/hoge", .path = "/hoge", .headers = 2,
     .find = "cookie", .value = ""},
    {.name = "picohttpparser: multibyte included",
     RAW("GET /hoge HTTP/1.1\r\nHost: example.com\r\n"
         "User-Agent: \343\201\262\343/1.0\r\n\r\n"),
     .method = "GET", .path = "/hoge", .headers = 2, .find = "user-agent",
     .value = "\343\201\262\343/1.0"},
    {.name = "picohttpparser: parse multiline (obs-fold)",
     RAW("GET / HTTP/1.0\r\nfoo: \r\nfoo: b\r\n  \tc\r\n\r\n"),
     .status = 400},
    {.name = "picohttpparser: parse header name with trailing space",
     RAW("GET / HTTP/1.0\r\nfoo : ab\r\n\r\n"), .status = 400},
    {.name = "picohttpparser: incomplete 1", RAW("GET"), .want = WANT_NEED_MORE},
    {.name = "picohttpparser: incomplete 2", RAW("GET "), .want = WANT_NEED_MORE},
    {.name = "picohttpparser: incomplete 3", RAW("GET /"),
     .want = WANT_NEED_MORE},
    {.name = "picohttpparser: incomplete 4", RAW("GET / "),
     .want = WANT_NEED_MORE},
    {.name = "picohttpparser: incomplete 5", RAW("GET / H"),
     .want = WANT_NEED_MORE},
    {.name = "picohttpparser: incomplete 6", RAW("GET / HTTP/1."),
     .want = WANT_NEED_MORE},
    {.name = "picohttpparser: incomplete 7", RAW("GET / HTTP/1.0"),
     .want = WANT_NEED_MORE},
    {.name = "picohttpparser: incomplete 8", RAW("GET / HTTP/1.0\r"),
     .want = WANT_NEED_MORE},
    {.name = "picohttpparser: slowloris (incomplete)",
     RAW("GET /hoge HTTP/1.0\r\n\r"), .want = WANT_NEED_MORE},
    {.name = "picohttpparser: slowloris (complete)",
     RAW("GET /hoge HTTP/1.0\r\n\r\n"), .method = "GET", .path = "/hoge",
     .v10 = true, .close = true},
    {.name = "picohttpparser: empty method", RAW(" / HTTP/1.0\r\n\r\n"),
     .status = 400},
    {.name = "picohttpparser: empty request-target",
     RAW("GET  HTTP/1.0\r\n\r\n"), .status = 400},
    {.name = "picohttpparser: empty header name",
     RAW("GET / HTTP/1.0\r\n:a\r\n\r\n"), .status = 400},
    {.name = "picohttpparser: header name (space only)",
     RAW("GET / HTTP/1.0\r\n :a\r\n\r\n"), .status = 400},
    {.name = "picohttpparser: NUL in method", RAW("G\0T / HTTP/1.0\r\n\r\n"),
     .status = 400},
    {.name = "picohttpparser: tab in method", RAW("G\tT / HTTP/1.0\r\n\r\n"),
     .status = 400},
    {.name = "picohttpparser: invalid method", RAW(":GET / HTTP/1.0\r\n\r\n"),
     .status = 400},
    {.name = "picohttpparser: DEL in uri-path",
     RAW("GET /\x7fhello HTTP/1.0\r\n\r\n"), .status = 400},
    {.name = "picohttpparser: NUL in header name",
     RAW("GET / HTTP/1.0\r\na\0b: c\r\n\r\n"), .status = 400},
    {.name = "picohttpparser: NUL in header value",
     RAW("GET / HTTP/1.0\r\nab: c\0d\r\n\r\n"), .status = 400},
    {.name = "picohttpparser: CTL in header name",
     RAW("GET / HTTP/1.0\r\na\033b: c\r\n\r\n"), .status = 400},
    {.name = "picohttpparser: CTL in header value",
     RAW("GET / HTTP/1.0\r\nab: c\033\r\n\r\n"), .status = 400},
    {.name = "picohttpparser: invalid char in header value (a / in the name)",
     RAW("GET / HTTP/1.0\r\n/: 1\r\n\r\n"), .status = 400},
    {.name = "picohttpparser: accept MSB chars (but not in the target)",
     RAW("GET /\xa0 HTTP/1.0\r\nh: c\xa2y\r\n\r\n"), .status = 400},
    {.name = "picohttpparser: accept MSB chars, in a value",
     RAW("GET / HTTP/1.0\r\nh: c\xa2y\r\n\r\n"), .v10 = true,
     .close = true, .headers = 1, .find = "h", .value = "c\xa2y"},
    {.name = "picohttpparser: accept |~ (though forbidden by SSE)",
     RAW("GET / HTTP/1.0\r\n\x7c\x7e: 1\r\n\r\n"), .v10 = true,
     .close = true, .headers = 1, .find = "|~", .value = "1"},
    {.name = "picohttpparser: disallow {",
     RAW("GET / HTTP/1.0\r\n\x7b: 1\r\n\r\n"), .status = 400},
    {.name = "picohttpparser: exclude leading and trailing spaces in header "
             "value",
     RAW("GET / HTTP/1.0\r\nfoo: a \t \r\n\r\n"), .v10 = true,
     .close = true, .headers = 1, .find = "foo", .value = "a"},
    {.name = "picohttpparser: accept multiple spaces between tokens",
     RAW("GET   /   HTTP/1.0\r\n\r\n"), .status = 400},
    /* test_headers' error: "\7f" there is BEL then "f", so both bytes. */
    {.name = "picohttpparser: headers error (BEL in a value)",
     RAW("GET / HTTP/1.1\r\nHost: e\7fample.com\r\nCookie: \r\n\r"),
     .status = 400},
    {.name = "picohttpparser: headers error (DEL in a value)",
     RAW("GET / HTTP/1.1\r\nHost: e\x7f" "ample.com\r\nCookie: \r\n\r"),
     .status = 400},
};

/* ---- rows built at run time: the limits, and a byte in every place ---- */

static struct row *built;
static size_t built_count, built_cap;
static void **buffers; /* everything built, freed at the end */
static size_t buffer_count, buffer_cap;

static void keep(void *block)
{
    if (buffer_count == buffer_cap) {
        buffer_cap = buffer_cap ? buffer_cap * 2 : 256;
        buffers = realloc(buffers, buffer_cap * sizeof *buffers);
        if (buffers == NULL) {
            perror("realloc");
            exit(2);
        }
    }
    buffers[buffer_count++] = block;
}

struct text {
    char *at;
    size_t len, cap;
};

static void add_bytes(struct text *t, const char *s, size_t n)
{
    if (t->len + n > t->cap) {
        t->cap = (t->len + n) * 2;
        t->at = realloc(t->at, t->cap);
        if (t->at == NULL) {
            perror("realloc");
            exit(2);
        }
    }
    memcpy(t->at + t->len, s, n);
    t->len += n;
}

static void add(struct text *t, const char *s)
{
    add_bytes(t, s, strlen(s));
}

static void add_repeat(struct text *t, char c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        add_bytes(t, &c, 1);
}

/* Append a row; the row takes t's bytes and a copy of the name. */
static struct row *add_row(struct row r, struct text *t, const char *fmt, ...)
{
    if (built_count == built_cap) {
        built_cap = built_cap ? built_cap * 2 : 64;
        built = realloc(built, built_cap * sizeof *built);
        if (built == NULL) {
            perror("realloc");
            exit(2);
        }
    }
    char *name = malloc(120);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, 120, fmt, ap);
    va_end(ap);
    r.name = name;
    r.raw = t->at ? t->at : "";
    r.len = t->len;
    keep(name);
    keep(t->at);
    *t = (struct text){0};
    built[built_count] = r;
    return &built[built_count++];
}

/*
 * A head of exactly `size` bytes (request line and header lines with their
 * CRLFs, not the empty line): a filler header takes up what the request line
 * and Host leave.
 */
static void add_head_of_size(struct text *t, size_t size)
{
    static const char start[] = "GET / HTTP/1.1\r\nHost: x\r\nX-Filler: ";
    size_t fixed = sizeof start - 1 + 2;
    add(t, start);
    add_repeat(t, 'f', size - fixed);
    add(t, "\r\n");
}

static void build_limit_rows(void)
{
    struct text t = {0};

    /* Empty lines before the request line: 64 bytes of them, not 66. */
    for (size_t n = 31; n <= 34; n++) {
        for (size_t i = 0; i < n; i++)
            add(&t, "\r\n");
        add(&t, "GET /" H11 "\r\n");
        add_row((struct row){.status = 2 * n > HTTP_MAX_BLANK ? 400 : 0,
                             .method = "GET", .headers = 1},
                &t, "%zu bytes of empty lines", 2 * n);
    }

    /* The target: 2048 bytes, then one more. */
    for (size_t n = 2046; n <= 2050; n++) {
        add(&t, "GET /");
        add_repeat(&t, 't', n - 1);
        add(&t, H11 "\r\n");
        add_row((struct row){.status = n > HTTP_MAX_TARGET ? 414 : 0,
                             .headers = 1},
                &t, "target of %zu bytes", n);
    }
    add(&t, "OPTIONS /");
    add_repeat(&t, 't', HTTP_MAX_TARGET - 3);
    add(&t, "?q" H11 "\r\n");
    add_row((struct row){.method = "OPTIONS", .headers = 1}, &t,
            "longest method, target of 2048 bytes with a query");
    add(&t, "GET http://h/");
    add_repeat(&t, 't', HTTP_MAX_TARGET - 8);
    add(&t, H11 "\r\n");
    add_row((struct row){.status = 414}, &t,
            "absolute target of 2049 bytes");
    add(&t, "GET /");
    add_repeat(&t, 't', 3 * HTTP_MAX_TARGET);
    add(&t, H11 "\r\n");
    add_row((struct row){.status = 414}, &t, "target of 6145 bytes");
    add(&t, "GET /");
    add_repeat(&t, 't', 3 * HTTP_MAX_TARGET);
    add_row((struct row){.status = 414}, &t,
            "target of 6145 bytes, line not ended");
    add(&t, "GET /");
    add_repeat(&t, 't', HTTP_MAX_TARGET);
    add(&t, " HTTP/2.0\r\n\r\n");
    add_row((struct row){.status = ANY_ERROR}, &t,
            "target of 2049 bytes and HTTP/2.0");

    /*
     * Request lines around the point where the parser stops waiting for
     * their end: whatever it answers, it must answer it however the bytes
     * arrive. With and without a version, ended by CRLF or a bare LF.
     */
    for (size_t n = 2106; n <= 2118; n++) {
        static const char *const ends[] = {"\r\n", "\n", "\r\r\n"};
        for (size_t e = 0; e < 3; e++) {
            add(&t, "GET /");
            add_repeat(&t, 't', n - 5);
            add(&t, ends[e]);
            add(&t, "Host: x\r\n\r\n");
            add_row((struct row){.status = ANY_ERROR}, &t,
                    "request line of %zu bytes without a version, end %zu", n,
                    e);
        }
        add(&t, "GET /");
        add_repeat(&t, 't', n - 14);
        add(&t, " HTTP/1.1\n\r\n");
        add_row((struct row){.status = ANY_ERROR}, &t,
                "request line of %zu bytes and a bare LF", n);
        add(&t, "X");
        add_repeat(&t, 'x', n - 1);
        add(&t, " / HTTP/1.1\r\n\r\n");
        add_row((struct row){.status = ANY_ERROR}, &t,
                "method of %zu bytes", n);
        add(&t, "GET /");
        add_repeat(&t, 't', 10);
        add(&t, " HTTP/1.1");
        add_repeat(&t, '1', n - 24);
        add(&t, "\r\n\r\n");
        add_row((struct row){.status = 400}, &t,
                "request line of %zu bytes, long version", n);
    }

    /*
     * Found by the fuzzer (corpus/crash_long_request_line_bare_lf): a long
     * line ended by a bare LF was a 400 when it came at once, but a 414 (or
     * 431 in the head) when the parser gave up on it before its LF came.
     */
    add(&t, "GET /");
    add_repeat(&t, 't', 2400);
    add(&t, "\n\n");
    add_row((struct row){.status = 414}, &t,
            "target of 2401 bytes ended by a bare LF");
    add(&t, "GET / HTTP/1.1\r\nHost: x\r\nX-Long: ");
    add_repeat(&t, 'v', HTTP_MAX_HEAD);
    add(&t, "\n\n");
    add_row((struct row){.status = 431}, &t,
            "header line of 8200 bytes ended by a bare LF");

    /* The head: 8192 bytes, then one more; the empty line is not counted. */
    for (size_t n = HTTP_MAX_HEAD - 2; n <= HTTP_MAX_HEAD + 2; n++) {
        add_head_of_size(&t, n);
        add(&t, "\r\n");
        add_row((struct row){.status = n > HTTP_MAX_HEAD ? 431 : 0,
                             .headers = 2},
                &t, "head of %zu bytes", n);
    }
    for (size_t n = HTTP_MAX_HEAD - 1; n <= HTTP_MAX_HEAD + 1; n++) {
        add(&t, "\r\n\r\n");
        add_head_of_size(&t, n);
        add(&t, "\r\n");
        add_row((struct row){.status = n > HTTP_MAX_HEAD ? 431 : 0,
                             .headers = 2},
                &t, "head of %zu bytes after empty lines", n);
    }
    /* One more short header line at the end, ended well or badly. */
    for (size_t n = HTTP_MAX_HEAD - 3; n <= HTTP_MAX_HEAD - 1; n++) {
        static const char *const lines[] = {"A:\r\n", "A:\n", "Ab\n", "\n",
                                            "A:\r\r\n", "\r\r\n", "\rA\r\n"};
        for (size_t l = 0; l < sizeof lines / sizeof *lines; l++) {
            add_head_of_size(&t, n);
            add(&t, lines[l]);
            add(&t, "\r\n");
            add_row((struct row){.status = ANY_ERROR}, &t,
                    "head of %zu bytes, then line %zu", n, l);
        }
    }
    add(&t, "GET / HTTP/1.1\r\nHost: x\r\nX-Long: ");
    add_repeat(&t, 'v', 2 * HTTP_MAX_HEAD);
    add(&t, "\r\n\r\n");
    add_row((struct row){.status = 431}, &t, "one header line of 16 KiB");
    add(&t, "GET / HTTP/1.1\r\nHost: x\r\nX-Long: ");
    add_repeat(&t, 'v', 2 * HTTP_MAX_HEAD);
    add_row((struct row){.status = 431}, &t,
            "one header line of 16 KiB, not ended");

    /* The body: 16384 bytes, then one more (refused from the head alone). */
    for (size_t n = HTTP_MAX_BODY - 1; n <= HTTP_MAX_BODY + 1; n++) {
        char head[160];
        snprintf(head, sizeof head,
                 "POST /order" H11 "Content-Length: %zu\r\n\r\n", n);
        add(&t, head);
        if (n <= HTTP_MAX_BODY)
            add_repeat(&t, 'b', n);
        add_row((struct row){.status = n > HTTP_MAX_BODY ? 413 : 0,
                             .headers = 2, .has_cl = true, .cl = n,
                             .body_len = n},
                &t, "body of %zu bytes", n);
    }
    add(&t, "POST /order" H11 "Content-Length: 0000000000000016385\r\n\r\n");
    add_row((struct row){.status = 413}, &t, "body of 16385, leading zeros");
}

/* The largest request there can be: HTTP_MAX_REQUEST bytes exactly. */
static void build_largest_row(void)
{
    struct text t = {0};
    for (size_t i = 0; i < HTTP_MAX_BLANK / 2; i++)
        add(&t, "\r\n");
    static const char start[] = "POST /order HTTP/1.1\r\nHost: x\r\n"
                                "Content-Length: 16384\r\nX-Filler: ";
    add(&t, start);
    add_repeat(&t, 'f', HTTP_MAX_HEAD - (sizeof start - 1) - 2);
    add(&t, "\r\n\r\n");
    add_repeat(&t, 'b', HTTP_MAX_BODY);
    struct row *r = add_row((struct row){.method = "POST", .headers = 3,
                                         .has_cl = true, .cl = HTTP_MAX_BODY,
                                         .body_len = HTTP_MAX_BODY},
                            &t, "largest request (HTTP_MAX_REQUEST bytes)");
    if (r->len != HTTP_MAX_REQUEST)
        report(false, r->name, "built %zu bytes, not %d", r->len,
               HTTP_MAX_REQUEST);
}

/* A body of n 'b's: the rows above that expect one point here. */
static char body_bytes[HTTP_MAX_BODY + 1];

/*
 * A NUL or control byte (or LF, CR, tab, DEL) put in each place of a request.
 * '@' in a template marks the place. Only the body may hold any byte; a tab
 * may also stand in a header value.
 */
static void build_byte_rows(void)
{
    static const struct {
        const char *where, *template;
    } places[] = {
        {"method", "G@T / HTTP/1.1\r\nHost: x\r\n\r\n"},
        {"method start", "@GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
        {"target", "GET /a@b HTTP/1.1\r\nHost: x\r\n\r\n"},
        {"target end", "GET /@ HTTP/1.1\r\nHost: x\r\n\r\n"},
        {"absolute target host", "GET http://h@/ HTTP/1.1\r\nHost: x\r\n\r\n"},
        {"version", "GET / HTTP/1.@\r\nHost: x\r\n\r\n"},
        {"after the version", "GET / HTTP/1.1@\r\nHost: x\r\n\r\n"},
        {"empty lines", "\r\n@\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"},
        {"header name", "GET / HTTP/1.1\r\nHo@st: x\r\n\r\n"},
        {"header name start", "GET / HTTP/1.1\r\n@Host: x\r\n\r\n"},
        {"before the colon", "GET / HTTP/1.1\r\nHost@: x\r\n\r\n"},
        {"header value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a@b\r\n\r\n"},
        {"header value end", "GET / HTTP/1.1\r\nHost: x@\r\n\r\n"},
        {"empty line", "GET / HTTP/1.1\r\nHost: x\r\n@\r\n"},
    };
    static const char bytes[] = {0x00, 0x01, 0x07, 0x08, 0x09, 0x0a, 0x0b,
                                 0x0c, 0x0d, 0x1b, 0x1f, 0x7f};
    for (size_t i = 0; i < sizeof places / sizeof *places; i++)
        for (size_t b = 0; b < sizeof bytes; b++) {
            struct text t = {0};
            const char *s = places[i].template;
            add_bytes(&t, s, strlen(s));
            *(char *)memchr(t.at, '@', t.len) = bytes[b];
            bool tab_in_value = bytes[b] == '\t' &&
                                strncmp(places[i].where, "header value", 12) == 0;
            add_row((struct row){.status = tab_in_value ? 0 : 400,
                                 .headers = strcmp(places[i].where,
                                                   "header value end") == 0
                                                ? 1
                                                : 2},
                    &t, "byte 0x%02x in the %s", (unsigned char)bytes[b],
                    places[i].where);
        }
    for (unsigned b = 0; b < 256; b += 17) {
        struct text t = {0};
        add(&t, "POST /order" H11 "Content-Length: 1\r\n\r\n");
        char c = (char)b;
        add_bytes(&t, &c, 1);
        char *body = malloc(1);
        body[0] = c;
        keep(body);
        add_row((struct row){.headers = 2, .has_cl = true, .cl = 1,
                             .body = body, .body_len = 1},
                &t, "byte 0x%02x in the body", b);
    }
}

/* ---- tests that are not rows ---- */

/* Each request of a pipeline parsed in turn from where the last one ended. */
static void test_pipeline(void)
{
#define ONE "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
#define TWO "POST /order HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nq=1&"
#define THREE "\r\nHEAD /menu HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    static const char in[] = ONE TWO THREE "GET /partial HTTP/1.1\r\nHo";
    static const char *const paths[] = {"/a", "/order", "/menu"};
    static const size_t totals[] = {sizeof ONE - 1, sizeof TWO - 1,
                                    sizeof THREE - 1};
#undef ONE
#undef TWO
#undef THREE
    size_t at = 0, len = sizeof in - 1;
    for (size_t i = 0; i < 3; i++) {
        struct http_parser p;
        const struct http_request *r = NULL;
        http_parser_reset(&p);
        enum http_result res = http_parse(&p, in + at, len - at, &r);
        report(res == HTTP_COMPLETE && r->total_len == totals[i] &&
                   slice_equals(r->path, paths[i]),
               "pipeline", "request %zu: %s", i + 1, result_name(res));
        if (res != HTTP_COMPLETE)
            return;
        at += r->total_len;
    }
    struct http_parser p;
    const struct http_request *r = NULL;
    http_parser_reset(&p);
    enum http_result res = http_parse(&p, in + at, len - at, &r);
    report(res == HTTP_NEED_MORE, "pipeline", "last request: %s",
           result_name(res));
}

/* HEAD_READY, then COMPLETE once the body is in, then COMPLETE again. */
static void test_body_arrival(void)
{
    static const char in[] =
        "POST /order HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET";
    size_t head = sizeof in - 1 - 6;
    struct http_parser p;
    const struct http_request *r = NULL;
    http_parser_reset(&p);
    enum http_result a = http_parse(&p, in, head, &r);
    enum http_result b = http_parse(&p, in, head + 2, &r);
    enum http_result c = http_parse(&p, in, head + 3, &r);
    enum http_result d = http_parse(&p, in, sizeof in - 1, &r);
    report(a == HTTP_HEAD_READY && b == HTTP_HEAD_READY && c == HTTP_COMPLETE &&
               d == HTTP_COMPLETE && r->head_len == head &&
               r->total_len == head + 3 && slice_equals(r->body, "abc"),
           "body arrival", "%s %s %s %s", result_name(a), result_name(b),
           result_name(c), result_name(d));
}

/* A parser is reusable after http_parser_reset, whatever state it was in. */
static void test_reset(void)
{
    static const char bad[] = "BREW / HTTP/1.1\r\n\r\n";
    static const char good[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    struct http_parser p;
    const struct http_request *r = NULL;
    http_parser_reset(&p);
    enum http_result a = http_parse(&p, bad, sizeof bad - 1, &r);
    http_parser_reset(&p);
    enum http_result b = http_parse(&p, good, 10, &r);
    http_parser_reset(&p);
    enum http_result c = http_parse(&p, good, sizeof good - 1, &r);
    report(a == HTTP_ERROR && p.error_status == 0 && b == HTTP_NEED_MORE &&
               c == HTTP_COMPLETE && r->total_len == sizeof good - 1,
           "reset", "%s %s %s", result_name(a), result_name(b),
           result_name(c));
}

/*
 * A request refused after its method was read still says whether it was a
 * HEAD: its error answer must have no body then. The method is the request
 * line's first word, known once the space after it has come, however the
 * bytes arrive (at once, or a byte at a time).
 */
static void test_refused_head(void)
{
    static const struct {
        const char *raw;
        int status;
        bool head;
    } cases[] = {
        {"HEAD / HTTP/2.0\r\nHost: x\r\n\r\n", 505, true},
        {"HEAD / HTTP/1.1\r\n\r\n", 400, true},
        {"HEAD /menu\r\nHost: x\r\n\r\n", 400, true},
        {"HEAD  / HTTP/1.1\r\nHost: x\r\n\r\n", 400, true},
        {"HEAD / HTTP/1.1\nHost: x\r\n\r\n", 400, true},
        {"HEAD / HTTP/1.1\r\nHost: x\r\nX : y\r\n\r\n", 400, true},
        {"HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\n",
         413, true},
        {"HEAD / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: a\r\n\r\n",
         501, true},
        {"HEAD / HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n", 417, true},
        {NULL, 414, true}, /* a line too long to wait for: built below */
        {"HEAD\r\n\r\n", 400, false},
        {"head / HTTP/1.1\r\nHost: x\r\n\r\n", 501, false},
        {"HEADS / HTTP/1.1\r\nHost: x\r\n\r\n", 501, false},
        {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, false},
        {"\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\n", 400, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct text t = {0};
        if (cases[i].raw) {
            add(&t, cases[i].raw);
        } else {
            add(&t, "HEAD /");
            add_repeat(&t, 't', 3 * HTTP_MAX_TARGET);
            add(&t, " HTTP/1.1\r\n\r\n");
        }
        size_t steps[] = {t.len, 1}; /* at once, then a byte at a time */
        for (size_t j = 0; j < 2; j++) {
            size_t step = steps[j];
            struct http_parser p;
            const struct http_request *r = NULL;
            enum http_result res = HTTP_NEED_MORE;
            http_parser_reset(&p);
            for (size_t k = step; k <= t.len && res == HTTP_NEED_MORE;
                 k += step)
                res = http_parse(&p, t.at, k, &r);
            bool head = p.method_known && p.request.method == HTTP_HEAD;
            report(res == HTTP_ERROR && p.error_status == cases[i].status &&
                       head == cases[i].head,
                   "refused HEAD", "case %zu, %s: %s %d, HEAD %d", i,
                   step == 1 ? "a byte at a time" : "at once",
                   result_name(res), p.error_status, head);
        }
        free(t.at);
    }
}

static void test_helpers(void)
{
    struct slice s = {"Content-Length: 5", 14};
    report(slice_equals(s, "Content-Length") && !slice_equals(s, "content-length") &&
               slice_equals_nocase(s, "CONTENT-length") &&
               !slice_equals_nocase(s, "Content-Lengt") &&
               !slice_equals_nocase(s, "Content-Length:") &&
               slice_equals((struct slice){"", 0}, ""),
           "slice helpers", "wrong answer");

    static const char in[] = "GET / HTTP/1.1\r\nHost: a\r\nX-B: 1\r\nx-b: 2\r\n\r\n";
    struct http_parser p;
    const struct http_request *r = NULL;
    struct slice v = {0};
    http_parser_reset(&p);
    bool ok = http_parse(&p, in, sizeof in - 1, &r) == HTTP_COMPLETE &&
              http_find_header(r, "X-b", &v) && slice_equals(v, "1") &&
              !http_find_header(r, "X", &v) && !http_find_header(r, "X-B:", &v);
    report(ok, "http_find_header", "wrong answer");
}

int main(void)
{
    memset(body_bytes, 'b', HTTP_MAX_BODY);
    build_limit_rows();
    build_largest_row();
    build_byte_rows();
    /* Rows with a long body of 'b's: point their expected body at ours. */
    for (size_t i = 0; i < built_count; i++)
        if (built[i].body == NULL && built[i].body_len > 0)
            built[i].body = body_bytes;

    size_t row_count = sizeof rows / sizeof *rows;
    for (size_t i = 0; i < row_count; i++)
        run_row(&rows[i]);
    for (size_t i = 0; i < built_count; i++)
        run_row(&built[i]);
    test_pipeline();
    test_body_arrival();
    test_reset();
    test_refused_head();
    test_helpers();

    for (size_t i = 0; i < buffer_count; i++)
        free(buffers[i]);
    free(buffers);
    free(built);

    printf("%zu rows\n", row_count + built_count);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
