/*
 * response.h - writing the answer: an HTTP/1.1 response head and body,
 * formatted into a buffer the caller owns.
 */
#ifndef PIZZERIA_RESPONSE_H
#define PIZZERIA_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

/* What the Connection header says, and what the server does after. */
enum http_connection {
    CONNECTION_KEEP_OPEN,  /* HTTP/1.1 default: no header needed */
    CONNECTION_KEEP_ALIVE, /* HTTP/1.0 that asked for it: echo it */
    CONNECTION_CLOSE,      /* "Connection: close", then the server closes */
};

/* The longest Content-Type value a response carries. */
enum { HTTP_MAX_CONTENT_TYPE = 64 };

struct http_response {
    int status;
    const char *content_type;
    const char *allow; /* for 405, else NULL */
    const char *body;
    size_t body_len;
    bool head_only; /* HEAD: every header, Content-Length too, but no body */
    enum http_connection connection;
};

/*
 * The longest head http_format_response writes: every header it knows at
 * its longest (response.c checks the sum at compile time).
 */
enum { HTTP_MAX_RESPONSE_HEAD = 512 };

/*
 * Big enough for any response the pizzeria writes: the longest head, and
 * room for the longest body (pizzeria.c checks its pages and tickets
 * against it at compile time).
 */
enum { HTTP_MAX_RESPONSE = 8192 };

/* Every response says "Server: pizzeria/STEP". Call once, at startup. */
void http_set_server_name(const char *step_name);

/*
 * Format the whole response into out. Returns its length, or 0 if it does
 * not fit in cap bytes (a bug: HTTP_MAX_RESPONSE is enough for any of the
 * pizzeria's). A content type longer than HTTP_MAX_CONTENT_TYPE is cut.
 */
size_t http_format_response(char *out, size_t cap,
                            const struct http_response *response);

/* The interim answer to "Expect: 100-continue", and its length. */
#define HTTP_CONTINUE "HTTP/1.1 100 Continue\r\n\r\n"
enum { HTTP_CONTINUE_LEN = sizeof HTTP_CONTINUE - 1 };

#endif
