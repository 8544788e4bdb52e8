/*
 * fuzz_http_parse.c - libFuzzer target for the HTTP request parser.
 *
 * The input is parsed three ways and all must agree, since the parser
 * promises that how the bytes arrive never changes its answer:
 *
 *   - one-shot: the whole input in one call;
 *   - split: the first k bytes, then the whole, with k taken from the input,
 *     each call in a fresh copy of exactly that size (the parser may keep no
 *     pointer into an old buffer: ASan would report a use-after-free);
 *   - byte by byte, for short inputs, where every step must also equal a
 *     one-shot parse of the same prefix.
 *
 * It also checks that every slice lies inside the buffer, and a few things
 * the contract (chapters/appendix-protocol.md) says must hold for an
 * accepted request.
 * Any disagreement is a __builtin_trap(), which libFuzzer reports as a crash.
 * A request followed by more bytes (a pipeline) is followed by a parse of
 * the rest, the way a server would go on.
 *
 *   clang -fsanitize=fuzzer,address,undefined -I steps/kitchen \
 *         tests/fuzz/fuzz_http_parse.c steps/kitchen/http_parse.c
 */
#include "http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { BYTE_BY_BYTE_MAX = 384 }; /* longer inputs: one split only */

/* What a parse said, slices as offsets, so buffers can be compared. */
struct outcome {
    enum http_result result;
    int status;
    bool refused_head; /* an error to a request line that began "HEAD " */
    enum http_method method;
    size_t method_at, method_len, target_at, target_len, path_at, path_len;
    int minor;
    size_t header_count;
    size_t name_at[HTTP_MAX_HEADERS], name_len[HTTP_MAX_HEADERS];
    size_t value_at[HTTP_MAX_HEADERS], value_len[HTTP_MAX_HEADERS];
    bool has_cl, has_ct, cont, keep_alive;
    size_t cl, ct_at, ct_len, head_len, total_len, body_at, body_len;
};

#define CHECK(x)                                                               \
    do {                                                                       \
        if (!(x))                                                              \
            __builtin_trap();                                                  \
    } while (0)

/* Where a slice starts in buf[0..len); traps if it is not all inside. */
static size_t offset_in(struct slice s, const char *buf, size_t len)
{
    CHECK(s.at >= buf && s.at <= buf + len);
    CHECK(s.len <= (size_t)(buf + len - s.at));
    return (size_t)(s.at - buf);
}

static bool is_token_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* What the contract says about any request the parser accepts. */
static void check_accepted(const struct http_request *r, const char *buf)
{
    static const char *const methods[] = {"GET", "HEAD", "POST", "PUT",
                                          "DELETE", "CONNECT", "OPTIONS",
                                          "TRACE", "PATCH"};
    bool known = false;
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
        known |= slice_equals(r->method_name, methods[i]);
    CHECK(known);
    CHECK(r->minor_version == 0 || r->minor_version == 1);
    CHECK(r->target.len >= 1 && r->target.len <= HTTP_MAX_TARGET);
    for (size_t i = 0; i < r->target.len; i++) {
        unsigned char c = (unsigned char)r->target.at[i];
        CHECK(c > 0x20 && c < 0x7f && c != '#');
    }
    CHECK(r->path.len >= 1 && r->path.at[0] == '/');
    CHECK(r->header_count <= HTTP_MAX_HEADERS);
    CHECK(r->content_length <= HTTP_MAX_BODY);
    CHECK(r->has_content_length || r->content_length == 0);
    CHECK(r->total_len == r->head_len + r->content_length);
    CHECK(r->head_len <= HTTP_MAX_BLANK + HTTP_MAX_HEAD + 2);
    CHECK(r->total_len <= HTTP_MAX_REQUEST);

    /* Empty lines, request line, header lines, empty line: all CRLF. */
    CHECK(r->head_len >= 4 &&
          memcmp(buf + r->head_len - 4, "\r\n\r\n", 4) == 0);
    for (size_t i = 0; i < r->head_len; i++)
        if (buf[i] == '\n')
            CHECK(i > 0 && buf[i - 1] == '\r');
    size_t blank = 0;
    while (buf[blank] == '\r' && buf[blank + 1] == '\n')
        blank += 2;
    CHECK(blank <= HTTP_MAX_BLANK);
    CHECK(r->method_name.at == buf + blank);
    CHECK(r->head_len - blank - 2 <= HTTP_MAX_HEAD);

    unsigned hosts = 0, lengths = 0;
    for (size_t i = 0; i < r->header_count; i++) {
        struct slice name = r->headers[i].name, value = r->headers[i].value;
        CHECK(name.len > 0);
        for (size_t j = 0; j < name.len; j++)
            CHECK(is_token_char((unsigned char)name.at[j]));
        for (size_t j = 0; j < value.len; j++) {
            unsigned char c = (unsigned char)value.at[j];
            CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
        }
        if (value.len > 0) {
            CHECK(value.at[0] != ' ' && value.at[0] != '\t');
            CHECK(value.at[value.len - 1] != ' ' &&
                  value.at[value.len - 1] != '\t');
        }
        hosts += slice_equals_nocase(name, "host");
        lengths += slice_equals_nocase(name, "content-length");
        CHECK(!slice_equals_nocase(name, "transfer-encoding"));
        if (slice_equals_nocase(name, "expect"))
            CHECK(slice_equals_nocase(value, "100-continue") &&
                  r->expects_continue);
        if (slice_equals_nocase(name, "content-length"))
            for (size_t j = 0; j < value.len; j++)
                CHECK(value.at[j] >= '0' && value.at[j] <= '9');
    }
    CHECK(hosts <= 1 && lengths <= 1);
    /* Past HTTP_MAX_HEADERS, headers are read but not kept as slices. */
    if (r->header_count < HTTP_MAX_HEADERS) {
        CHECK(r->minor_version == 0 || hosts == 1);
        CHECK(lengths == (r->has_content_length ? 1u : 0u));
    }
}

/* One call of http_parse on buf[0..len), its outcome in *o. */
static void parse_call(struct http_parser *p, const char *buf, size_t len,
                       struct outcome *o)
{
    const struct http_request *r = NULL;
    memset(o, 0, sizeof *o);
    o->result = http_parse(p, buf, len, &r);
    if (o->result == HTTP_ERROR) {
        o->status = p->error_status;
        o->refused_head = p->method_known && p->request.method == HTTP_HEAD;
        CHECK(p->error_reason != NULL);
        CHECK(o->status == 400 || o->status == 413 || o->status == 414 ||
              o->status == 417 || o->status == 431 || o->status == 501 ||
              o->status == 505);
        return;
    }
    if (o->result == HTTP_NEED_MORE)
        return;
    CHECK(o->result == HTTP_HEAD_READY || o->result == HTTP_COMPLETE);
    CHECK(r != NULL);
    CHECK(r->head_len <= len);
    CHECK((o->result == HTTP_COMPLETE) == (len >= r->total_len));
    o->method = r->method;
    o->method_at = offset_in(r->method_name, buf, len);
    o->method_len = r->method_name.len;
    o->target_at = offset_in(r->target, buf, len);
    o->target_len = r->target.len;
    /* "http://host" has the path "/", which is not in the buffer. */
    if (r->path.at < buf || r->path.at >= buf + len)
        CHECK(slice_equals(r->path, "/"));
    else
        o->path_at = offset_in(r->path, buf, len);
    o->path_len = r->path.len;
    o->minor = r->minor_version;
    o->header_count = r->header_count;
    CHECK(r->header_count <= HTTP_MAX_HEADERS);
    for (size_t i = 0; i < r->header_count; i++) {
        o->name_at[i] = offset_in(r->headers[i].name, buf, len);
        o->name_len[i] = r->headers[i].name.len;
        o->value_at[i] = offset_in(r->headers[i].value, buf, len);
        o->value_len[i] = r->headers[i].value.len;
    }
    o->has_cl = r->has_content_length;
    o->cl = r->content_length;
    o->has_ct = r->has_content_type;
    if (r->has_content_type) {
        o->ct_at = offset_in(r->content_type, buf, len);
        o->ct_len = r->content_type.len;
    }
    o->cont = r->expects_continue;
    o->keep_alive = r->keep_alive;
    o->head_len = r->head_len;
    o->total_len = r->total_len;
    if (o->result == HTTP_COMPLETE) {
        o->body_at = offset_in(r->body, buf, len);
        o->body_len = r->body.len;
        CHECK(o->body_at == r->head_len && o->body_len == r->content_length);
    }
    check_accepted(r, buf);
}

static void same(const struct outcome *a, const struct outcome *b)
{
    CHECK(a->result == b->result);
    CHECK(a->status == b->status);
    CHECK(a->refused_head == b->refused_head);
    if (a->result == HTTP_ERROR || a->result == HTTP_NEED_MORE)
        return;
    CHECK(a->method == b->method && a->method_at == b->method_at &&
          a->method_len == b->method_len);
    CHECK(a->target_at == b->target_at && a->target_len == b->target_len);
    CHECK(a->path_at == b->path_at && a->path_len == b->path_len);
    CHECK(a->minor == b->minor && a->header_count == b->header_count);
    for (size_t i = 0; i < a->header_count; i++)
        CHECK(a->name_at[i] == b->name_at[i] &&
              a->name_len[i] == b->name_len[i] &&
              a->value_at[i] == b->value_at[i] &&
              a->value_len[i] == b->value_len[i]);
    CHECK(a->has_cl == b->has_cl && a->cl == b->cl);
    CHECK(a->has_ct == b->has_ct && a->ct_at == b->ct_at &&
          a->ct_len == b->ct_len);
    CHECK(a->cont == b->cont && a->keep_alive == b->keep_alive);
    CHECK(a->head_len == b->head_len && a->total_len == b->total_len);
    CHECK(a->body_at == b->body_at && a->body_len == b->body_len);
}

/* A copy of data[0..len) in a block of exactly len bytes. */
static char *copy_of(const uint8_t *data, size_t len)
{
    char *copy = malloc(len ? len : 1);
    CHECK(copy != NULL);
    if (len)
        memcpy(copy, data, len);
    return copy;
}

static void one_shot(const uint8_t *data, size_t len, struct outcome *o)
{
    struct http_parser p;
    http_parser_reset(&p);
    char *buf = copy_of(data, len);
    parse_call(&p, buf, len, o);
    free(buf);
}

/* Parse data as one request every way; its total_len if it is complete. */
static size_t check_request(const uint8_t *data, size_t size)
{
    struct outcome whole;
    one_shot(data, size, &whole);

    /* A split point that the fuzzer can steer, from the input's ends. */
    size_t k = 0;
    if (size > 0)
        k = ((size_t)data[0] * 131 + (size_t)data[size - 1] * 7 + size / 3) %
            (size + 1);
    struct outcome first, prefix, second;
    one_shot(data, k, &prefix);
    struct http_parser p;
    http_parser_reset(&p);
    char *buf = copy_of(data, k);
    parse_call(&p, buf, k, &first);
    free(buf);
    buf = copy_of(data, size);
    parse_call(&p, buf, size, &second);
    free(buf);
    same(&first, &prefix);
    same(&second, &whole);

    if (size <= BYTE_BY_BYTE_MAX) {
        http_parser_reset(&p);
        for (size_t n = 1; n <= size; n++) {
            struct outcome step;
            buf = copy_of(data, n);
            parse_call(&p, buf, n, &step);
            free(buf);
            one_shot(data, n, &prefix);
            same(&step, &prefix);
        }
    }
    return whole.result == HTTP_COMPLETE ? whole.total_len : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A pipeline: go on after each complete request, as a server does. */
    for (int requests = 0; requests < 8; requests++) {
        size_t used = check_request(data, size);
        if (used == 0)
            break;
        CHECK(used <= size);
        data += used;
        size -= used;
    }
    return 0;
}
