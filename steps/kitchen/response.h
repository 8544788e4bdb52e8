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

struct http_response {
    int status;
    const char *content_type;
    const char *allow; /* for 405, else NULL */
    const char *body;
    size_t body_len;
    bool head_only; /* HEAD: every header, Content-Length too, but no body */
    enum http_connection connection;
};

/* Big enough for any response the pizzeria writes (checked at startup). */
enum { HTTP_MAX_RESPONSE = 8192 };

/* Every response says "Server: pizzeria/STEP". Call once, at startup. */
void http_set_server_name(const char *step_name);

const char *http_reason_phrase(int status);

/*
 * Format the whole response into out. Returns its length, or 0 if it does
 * not fit in cap bytes (a bug: HTTP_MAX_RESPONSE is meant to be enough).
 */
size_t http_format_response(char *out, size_t cap,
                            const struct http_response *response);

/* The interim answer to "Expect: 100-continue". */
extern const char HTTP_CONTINUE[];
enum { HTTP_CONTINUE_LEN = 25 };

#endif
