/*
 * http.h - reading a customer's order slip: an incremental HTTP/1.1
 * request parser.
 *
 * The parser never allocates and never copies. The caller owns a buffer that
 * starts at the first byte of the request, appends bytes as they arrive and
 * calls http_parse() again with the longer buffer. The parser remembers how
 * far it has looked, so a customer trickling one byte at a time costs one
 * byte of work per byte, not a rescan of everything so far.
 *
 * The same parser serves a blocking read loop and a non-blocking state
 * machine: it does no I/O and keeps no pointer into the buffer between calls
 * (only offsets), so the caller may move its buffer between two calls.
 */
#ifndef PIZZERIA_HTTP_H
#define PIZZERIA_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* The contract's limits (chapters/appendix-protocol.md, "Errors"). */
enum {
    HTTP_MAX_HEAD = 8192,   /* request line + header lines, with their CRLFs */
    HTTP_MAX_TARGET = 2048, /* raw request target, query included */
    HTTP_MAX_BODY = 16384,  /* Content-Length */
    HTTP_MAX_HEADERS = 64,  /* header lines kept as slices (more are read) */
    HTTP_MAX_BLANK = 64,    /* bytes of empty lines allowed before a request */
    /* Enough for the largest acceptable request: head, blank line, body. */
    HTTP_MAX_REQUEST = HTTP_MAX_BLANK + HTTP_MAX_HEAD + 2 + HTTP_MAX_BODY,
};

/* A run of bytes inside the caller's buffer. Not NUL-terminated. */
struct slice {
    const char *at;
    size_t len;
};

struct http_header {
    struct slice name;
    struct slice value; /* without leading or trailing blanks */
};

enum http_method {
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_OTHER_KNOWN, /* PUT, DELETE, ...: a real method no route allows */
};

/* What a complete head tells, as slices of the caller's buffer. */
struct http_request {
    enum http_method method;
    struct slice method_name;
    struct slice target; /* raw, as sent */
    struct slice path;   /* origin path, query and absolute-form prefix cut */
    int minor_version;   /* HTTP/1.0 or HTTP/1.1 */
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t header_count;

    /* What the headers mean, worked out once while parsing. */
    bool has_content_length;
    size_t content_length;
    bool has_content_type;
    struct slice content_type;
    bool expects_continue; /* Expect: 100-continue */
    bool keep_alive;       /* by version and Connection header */

    size_t head_len;  /* bytes from the buffer's start to the body */
    size_t total_len; /* head_len + content_length */
    struct slice body;
};

/* Where a piece of the head lies, as an offset from the request's start. */
struct span {
    size_t start, len;
};

/* Where the parser is. Reset it (http_parser_reset) before each request. */
struct http_parser {
    int phase;         /* private: which part of the head comes next */
    size_t scanned;    /* bytes already looked at: never looked at again */
    size_t line_start; /* where the line being read begins */
    size_t head_start; /* after any empty lines before the request line */

    struct span method, target, path;
    /* request.method holds a known method. Read as soon as the request
     * line's first space is, before the line is judged: an error answered
     * to a HEAD must know it was one. */
    bool method_known;
    struct span header_name[HTTP_MAX_HEADERS];
    struct span header_value[HTTP_MAX_HEADERS];
    size_t header_count;
    struct span content_type;
    unsigned host_count;
    bool connection_close, connection_keep_alive;
    bool transfer_encoding, expect_unknown, content_length_too_big;

    struct http_request request; /* what is known; slices filled on return */

    int error_status;         /* 400, 413, 414, 417, 431, 501, 505 */
    const char *error_reason; /* a short human sentence for the body */
};

// @snippet parse-api
enum http_result {
    HTTP_NEED_MORE,  /* the head is not complete yet */
    HTTP_HEAD_READY, /* head complete and valid; the body is still coming */
    HTTP_COMPLETE,   /* the whole request (head and body) is in the buffer */
    HTTP_ERROR,      /* refuse it: see parser.error_status and error_reason */
};

void http_parser_reset(struct http_parser *parser);

/*
 * Look at buf[0..len), where buf[0] is the first byte of this request and
 * len only ever grows between two calls. On HTTP_HEAD_READY and
 * HTTP_COMPLETE, *request describes the head (and on HTTP_COMPLETE the
 * body) as slices of buf; request->total_len is how many bytes to consume.
 * Once an error is returned, every further call returns it again.
 */
enum http_result http_parse(struct http_parser *parser, const char *buf,
                            size_t len, const struct http_request **request);
// @end parse-api

/* The value of the first header called name (case-insensitive), if any. */
bool http_find_header(const struct http_request *request, const char *name,
                      struct slice *value);

/* Case-insensitive comparison of a slice with a C string. */
bool slice_equals_nocase(struct slice s, const char *text);
bool slice_equals(struct slice s, const char *text);

#endif
