/*
 * http_parse.c - an incremental HTTP/1.1 request parser (RFC 9112).
 *
 * The head is read a line at a time. memchr finds the end of the line from
 * where the last call stopped, so bytes that already arrived are never
 * searched again; a complete line is checked once and its meaning recorded
 * (as offsets) before the next line is looked at. Nothing is allocated.
 */
#include "http.h"

#include <string.h>
#include <strings.h>

enum phase {
    PHASE_BLANK_LINES,  /* empty lines before the request line are ignored */
    PHASE_REQUEST_LINE, /* (only ever entered through PHASE_BLANK_LINES) */
    PHASE_HEADERS,
    PHASE_BODY,         /* the head is complete; waiting for the body */
    PHASE_ERROR,
};

/* A request line longer than this, CRLF included, is over a limit or junk. */
enum { MAX_REQUEST_LINE = HTTP_MAX_TARGET + 64 };

static enum http_result fail(struct http_parser *p, int status,
                             const char *reason)
{
    p->phase = PHASE_ERROR;
    p->error_status = status;
    p->error_reason = reason;
    return HTTP_ERROR;
}

void http_parser_reset(struct http_parser *p)
{
    memset(p, 0, sizeof *p);
    p->phase = PHASE_BLANK_LINES;
}

/* ---- character classes (RFC 9110, section 5.6.2) ---- */

static bool is_tchar(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return true;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Bytes allowed in a field value: visible ASCII, space, tab and obs-text. */
static bool is_field_byte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_blank(unsigned char c)
{
    return c == ' ' || c == '\t';
}

bool slice_equals_nocase(struct slice s, const char *text)
{
    size_t n = strlen(text);
    return s.len == n && strncasecmp(s.at, text, n) == 0;
}

bool slice_equals(struct slice s, const char *text)
{
    size_t n = strlen(text);
    return s.len == n && memcmp(s.at, text, n) == 0;
}

static struct slice slice_of(const char *buf, struct span span)
{
    return (struct slice){buf + span.start, span.len};
}

/* ---- the request line: METHOD SP TARGET SP HTTP/1.x ---- */

static const char *const other_known_methods[] = {
    "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
};

static bool method_is_known(struct slice m, enum http_method *method)
{
    if (slice_equals(m, "GET"))
        *method = HTTP_GET;
    else if (slice_equals(m, "HEAD"))
        *method = HTTP_HEAD;
    else if (slice_equals(m, "POST"))
        *method = HTTP_POST;
    else {
        size_t n = sizeof other_known_methods / sizeof *other_known_methods;
        for (size_t i = 0; i < n; i++)
            if (slice_equals(m, other_known_methods[i])) {
                *method = HTTP_OTHER_KNOWN;
                return true;
            }
        return false;
    }
    return true;
}

/*
 * The path of an origin-form ("/menu?x") or absolute-form
 * ("http://host/menu?x") target: what routing looks at. An absolute target
 * with no path at all means "/" (path.len == 0 says so).
 */
static bool find_path(const char *buf, struct span target, struct span *path)
{
    const char *t = buf + target.start;
    size_t i = 0;

    if (t[0] != '/') {
        size_t scheme = 0;
        if (target.len > 7 && strncasecmp(t, "http://", 7) == 0)
            scheme = 7;
        else if (target.len > 8 && strncasecmp(t, "https://", 8) == 0)
            scheme = 8;
        else
            return false;
        i = scheme;
        while (i < target.len && t[i] != '/' && t[i] != '?')
            i++;
        if (i == scheme)
            return false; /* no host */
    }
    size_t start = i;
    while (i < target.len && t[i] != '?')
        i++;
    *path = (struct span){target.start + start, i - start};
    return true;
}

/*
 * The request line's first word, up to its first space, is the method: read
 * it before anything else on the line is judged. An answer to HEAD has no
 * body, and that holds for the error that refuses the rest of the request
 * too (RFC 9110, 9.3.2). Returns where that space is, or NULL.
 */
static const char *read_method(struct http_parser *p, const char *buf,
                               size_t start, size_t end)
{
    const char *line = buf + start;
    const char *sp = memchr(line, ' ', end - start);
    if (sp != NULL) {
        p->method = (struct span){start, (size_t)(sp - line)};
        p->method_known =
            method_is_known(slice_of(buf, p->method), &p->request.method);
    }
    return sp;
}

static enum http_result parse_request_line(struct http_parser *p,
                                           const char *buf, size_t start,
                                           size_t end)
{
    const char *line = buf + start;
    size_t len = end - start;
    const char *sp1 = read_method(p, buf, start, end);
    if (sp1 == NULL || sp1 == line)
        return fail(p, 400, "malformed request line");
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', (size_t)(line + len - target));
    if (sp2 == NULL || sp2 == target)
        return fail(p, 400, "malformed request line");
    const char *version = sp2 + 1;
    size_t version_len = (size_t)(line + len - version);

    for (const char *c = line; c < sp1; c++)
        if (!is_tchar((unsigned char)*c))
            return fail(p, 400, "malformed method");

    if (version_len != 8 || memcmp(version, "HTTP/", 5) != 0 ||
        version[5] < '0' || version[5] > '9' || version[6] != '.' ||
        version[7] < '0' || version[7] > '9')
        return fail(p, 400, "malformed HTTP version");
    if (version[5] != '1' || version[7] > '1')
        return fail(p, 505, "only HTTP/1.0 and HTTP/1.1 are served here");
    p->request.minor_version = version[7] - '0';

    if (!p->method_known)
        return fail(p, 501, "unknown method");

    size_t target_len = (size_t)(sp2 - target);
    if (target_len > HTTP_MAX_TARGET)
        return fail(p, 414, "request target longer than 2048 bytes");
    for (const char *c = target; c < sp2; c++)
        if (*c <= 0x20 || *c >= 0x7f || *c == '#')
            return fail(p, 400, "bad character in request target");
    p->target = (struct span){start + (size_t)(target - line), target_len};
    if (!find_path(buf, p->target, &p->path))
        return fail(p, 400, "bad request target");

    p->phase = PHASE_HEADERS;
    return HTTP_NEED_MORE;
}

/*
 * A request line past any sane length, ended or not: say why now rather than
 * wait for the rest. Only its first MAX_REQUEST_LINE + 1 bytes are looked
 * at: every call that gets here has them, so the answer is the same however
 * the line arrived.
 */
static enum http_result refuse_long_request_line(struct http_parser *p,
                                                 const char *buf)
{
    const char *line = buf + p->line_start;
    size_t n = MAX_REQUEST_LINE + 1;
    const char *sp1 = read_method(p, buf, p->line_start, p->line_start + n);
    if (sp1 == NULL)
        return fail(p, 400, "malformed request line");
    const char *target = sp1 + 1;
    size_t seen = (size_t)(line + n - target);
    const char *sp2 = memchr(target, ' ', seen);
    size_t target_len = sp2 ? (size_t)(sp2 - target) : seen;
    if (target_len > HTTP_MAX_TARGET)
        return fail(p, 414, "request target longer than 2048 bytes");
    if (sp2 == NULL)
        return fail(p, 400, "malformed request line");
    return fail(p, 400, "malformed HTTP version");
}

/* ---- header lines: NAME ":" OWS VALUE OWS ---- */

static bool parse_content_length(struct slice value, size_t *length,
                                 bool *too_big)
{
    if (value.len == 0)
        return false;
    size_t n = 0;
    for (size_t i = 0; i < value.len; i++) {
        if (value.at[i] < '0' || value.at[i] > '9')
            return false;
        if (n <= HTTP_MAX_BODY)
            n = n * 10 + (size_t)(value.at[i] - '0');
    }
    *too_big = n > HTTP_MAX_BODY;
    *length = n;
    return true;
}

/* Connection: a comma-separated list of case-insensitive tokens. */
static void read_connection_tokens(struct http_parser *p, struct slice value)
{
    size_t i = 0;
    while (i < value.len) {
        while (i < value.len && (is_blank((unsigned char)value.at[i]) ||
                                 value.at[i] == ','))
            i++;
        size_t start = i;
        while (i < value.len && value.at[i] != ',' &&
               !is_blank((unsigned char)value.at[i]))
            i++;
        struct slice token = {value.at + start, i - start};
        if (slice_equals_nocase(token, "close"))
            p->connection_close = true;
        else if (slice_equals_nocase(token, "keep-alive"))
            p->connection_keep_alive = true;
    }
}

/* Record what one header means for the request as a whole. */
static enum http_result note_header(struct http_parser *p, const char *buf,
                                    struct span name_span,
                                    struct span value_span)
{
    struct http_request *r = &p->request;
    struct slice name = slice_of(buf, name_span);
    struct slice value = slice_of(buf, value_span);

    if (slice_equals_nocase(name, "content-length")) {
        if (r->has_content_length)
            return fail(p, 400, "Content-Length given twice");
        if (!parse_content_length(value, &r->content_length,
                                  &p->content_length_too_big))
            return fail(p, 400, "Content-Length is not a number");
        r->has_content_length = true;
    } else if (slice_equals_nocase(name, "host")) {
        p->host_count++;
    } else if (slice_equals_nocase(name, "transfer-encoding")) {
        p->transfer_encoding = true;
    } else if (slice_equals_nocase(name, "connection")) {
        read_connection_tokens(p, value);
    } else if (slice_equals_nocase(name, "expect")) {
        if (slice_equals_nocase(value, "100-continue"))
            r->expects_continue = true;
        else
            p->expect_unknown = true;
    } else if (slice_equals_nocase(name, "content-type")) {
        if (!r->has_content_type) {
            r->has_content_type = true;
            p->content_type = value_span;
        }
    }
    return HTTP_NEED_MORE;
}

static enum http_result parse_header_line(struct http_parser *p,
                                          const char *buf, size_t start,
                                          size_t end)
{
    const unsigned char *line = (const unsigned char *)buf + start;
    size_t len = end - start;

    if (is_blank(line[0]))
        return fail(p, 400, "folded header line (obs-fold)");
    size_t colon = 0;
    while (colon < len && line[colon] != ':') {
        if (is_blank(line[colon]))
            return fail(p, 400, "space before the colon in a header");
        if (!is_tchar(line[colon]))
            return fail(p, 400, "malformed header name");
        colon++;
    }
    if (colon == len)
        return fail(p, 400, "header line without a colon");
    if (colon == 0)
        return fail(p, 400, "empty header name");

    size_t value_start = colon + 1, value_end = len;
    for (size_t i = value_start; i < len; i++)
        if (!is_field_byte(line[i]))
            return fail(p, 400, "control character in a header value");
    while (value_start < value_end && is_blank(line[value_start]))
        value_start++;
    while (value_end > value_start && is_blank(line[value_end - 1]))
        value_end--;

    struct span name = {start, colon};
    struct span value = {start + value_start, value_end - value_start};
    /* Only the 8 KiB limit bounds the header count; past the first
     * HTTP_MAX_HEADERS a header is understood but not kept as a slice. */
    if (p->header_count < HTTP_MAX_HEADERS) {
        p->header_name[p->header_count] = name;
        p->header_value[p->header_count] = value;
        p->header_count++;
    }
    return note_header(p, buf, name, value);
}

/* ---- the end of the head ---- */

static enum http_result finish_head(struct http_parser *p)
{
    struct http_request *r = &p->request;

    if (p->host_count > 1 || (r->minor_version == 1 && p->host_count == 0))
        return fail(p, 400, "an HTTP/1.1 request needs exactly one Host");
    if (p->transfer_encoding)
        return fail(p, 501, "Transfer-Encoding is not supported");
    if (p->content_length_too_big)
        return fail(p, 413, "body larger than 16384 bytes");
    if (p->expect_unknown)
        return fail(p, 417, "only Expect: 100-continue is understood");

    /* An HTTP/1.0 client cannot know about 100 Continue (RFC 9110, 10.1.1). */
    if (r->minor_version == 0)
        r->expects_continue = false;
    if (r->minor_version == 1)
        r->keep_alive = !p->connection_close;
    else
        r->keep_alive = p->connection_keep_alive && !p->connection_close;
    r->header_count = p->header_count;
    r->head_len = p->scanned;
    r->total_len = r->head_len + r->content_length;
    p->phase = PHASE_BODY;
    return HTTP_HEAD_READY;
}

/* Offsets become pointers into the buffer the caller handed us this time. */
static void fill_slices(struct http_parser *p, const char *buf, size_t len)
{
    struct http_request *r = &p->request;

    r->method_name = slice_of(buf, p->method);
    r->target = slice_of(buf, p->target);
    r->path = p->path.len ? slice_of(buf, p->path) : (struct slice){"/", 1};
    for (size_t i = 0; i < p->header_count; i++) {
        r->headers[i].name = slice_of(buf, p->header_name[i]);
        r->headers[i].value = slice_of(buf, p->header_value[i]);
    }
    if (r->has_content_type)
        r->content_type = slice_of(buf, p->content_type);
    /* Until the request is complete, the body is as much as has arrived. */
    size_t arrived = len - r->head_len;
    r->body = (struct slice){buf + r->head_len, arrived < r->content_length
                                                    ? arrived
                                                    : r->content_length};
}

/* ---- the driver: one line at a time ---- */

/*
 * Bytes of head up to buf[end - 1], inside the line being read. The empty
 * line that ends the head is not counted, so neither is a line that may
 * still turn out to be it: nothing yet, a CR, or CR LF.
 */
static bool head_too_big(const struct http_parser *p, const char *buf,
                         size_t end)
{
    size_t n = end - p->line_start;
    if (n <= 2 && memcmp(buf + p->line_start, "\r\n", n) == 0)
        return false;
    return end - p->head_start > HTTP_MAX_HEAD;
}

/*
 * Hold the line being read, as far as buf[end - 1], to the size limits.
 * This runs while the line's end has not arrived (end is len) and again
 * once it has (end is just past its LF), before anything else is checked.
 * A line only grows, so a line refused early would have been refused for
 * the same reason had it arrived at once: how the bytes are split never
 * changes the answer.
 */
static enum http_result check_line_size(struct http_parser *p,
                                        const char *buf, size_t end)
{
    if (p->phase == PHASE_HEADERS) {
        if (head_too_big(p, buf, end))
            return fail(p, 431, "request head larger than 8192 bytes");
    } else if (end - p->line_start > MAX_REQUEST_LINE) {
        return refuse_long_request_line(p, buf);
    }
    return HTTP_NEED_MORE;
}

static enum http_result wait_for_line_end(struct http_parser *p,
                                          const char *buf, size_t len)
{
    p->scanned = len;
    return check_line_size(p, buf, len);
}

static enum http_result take_line(struct http_parser *p, const char *buf,
                                  size_t start, size_t end)
{
    if (p->phase == PHASE_BLANK_LINES || p->phase == PHASE_REQUEST_LINE) {
        if (end == start && p->phase == PHASE_BLANK_LINES) {
            p->head_start = p->scanned;
            if (p->head_start > HTTP_MAX_BLANK)
                return fail(p, 400, "too many empty lines before the request");
            return HTTP_NEED_MORE;
        }
        p->phase = PHASE_REQUEST_LINE;
        return parse_request_line(p, buf, start, end);
    }
    if (end == start)
        return finish_head(p);
    return parse_header_line(p, buf, start, end);
}

static enum http_result parse_head(struct http_parser *p, const char *buf,
                                   size_t len)
{
    while (p->phase != PHASE_BODY) {
        const char *lf = memchr(buf + p->scanned, '\n', len - p->scanned);
        if (lf == NULL)
            return wait_for_line_end(p, buf, len);
        size_t eol = (size_t)(lf - buf);
        p->scanned = eol + 1;
        if (check_line_size(p, buf, p->scanned) == HTTP_ERROR)
            return HTTP_ERROR;
        if (eol == p->line_start || buf[eol - 1] != '\r') {
            if (p->phase != PHASE_HEADERS) /* still, a HEAD is a HEAD */
                read_method(p, buf, p->line_start, eol);
            return fail(p, 400, "a line ends in a bare LF, not CRLF");
        }

        enum http_result r = take_line(p, buf, p->line_start, eol - 1);
        p->line_start = p->scanned;
        if (r == HTTP_ERROR)
            return r;
    }
    return HTTP_HEAD_READY;
}

enum http_result http_parse(struct http_parser *p, const char *buf,
                            size_t len, const struct http_request **request)
{
    if (p->phase == PHASE_ERROR)
        return HTTP_ERROR;
    if (p->phase != PHASE_BODY) {
        enum http_result r = parse_head(p, buf, len);
        if (r != HTTP_HEAD_READY)
            return r;
    }
    fill_slices(p, buf, len);
    *request = &p->request;
    return len >= p->request.total_len ? HTTP_COMPLETE : HTTP_HEAD_READY;
}

bool http_find_header(const struct http_request *r, const char *name,
                      struct slice *value)
{
    for (size_t i = 0; i < r->header_count; i++)
        if (slice_equals_nocase(r->headers[i].name, name)) {
            *value = r->headers[i].value;
            return true;
        }
    return false;
}
