/*
 * response.c - status lines, headers and the Date a response carries.
 */
#include "response.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* How long each part of a head can be. */
enum {
    SERVER_NAME_CAP = 64, /* "pizzeria/STEP", cut to fit */
    DATE_CAP = 80,        /* 29 used; room for any int */
    ALLOW_CAP = 64,       /* "Allow: GET, HEAD\r\n" */
    LONGEST_REASON = sizeof "Request Header Fields Too Large" - 1,
    LONGEST_CONNECTION = sizeof "Connection: keep-alive\r\n" - 1,
    LONGEST_SIZE_T = 20,  /* 18446744073709551615 */
};

/* The format below with every %s and number at its longest: fits. */
_Static_assert(sizeof "HTTP/1.1 999 \r\nServer: \r\nDate: \r\n"
                      "Content-Type: \r\nContent-Length: \r\n\r\n" +
                   LONGEST_REASON + (SERVER_NAME_CAP - 1) + (DATE_CAP - 1) +
                   HTTP_MAX_CONTENT_TYPE + LONGEST_SIZE_T + (ALLOW_CAP - 1) +
                   LONGEST_CONNECTION <= HTTP_MAX_RESPONSE_HEAD,
               "HTTP_MAX_RESPONSE_HEAD holds the longest head");

static char server_header[SERVER_NAME_CAP] = "pizzeria";

void http_set_server_name(const char *step_name)
{
    snprintf(server_header, sizeof server_header, "pizzeria/%s", step_name);
}

/* A longer phrase than LONGEST_REASON needs LONGEST_REASON changed too. */
static const char *http_reason_phrase(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Internal Server Error";
    }
}

/*
 * "Sun, 06 Nov 1994 08:49:37 GMT" (IMF-fixdate, RFC 9110 section 5.6.7).
 * Formatting a date costs more than the rest of a small response, and it
 * changes once a second, so each thread keeps the last one it made.
 */
static const char *http_date_now(void)
{
    static _Thread_local char cached[DATE_CAP];
    static _Thread_local time_t cached_second = -1;
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                    "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    if (now != cached_second) {
        struct tm tm;
        gmtime_r(&now, &tm);
        snprintf(cached, sizeof cached, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                 days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
                 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached_second = now;
    }
    return cached;
}

static const char *connection_header(enum http_connection c)
{
    switch (c) {
    case CONNECTION_KEEP_ALIVE: return "Connection: keep-alive\r\n";
    case CONNECTION_CLOSE: return "Connection: close\r\n";
    default: return "";
    }
}

size_t http_format_response(char *out, size_t cap,
                            const struct http_response *r)
{
    char allow[ALLOW_CAP] = "";
    if (r->allow)
        snprintf(allow, sizeof allow, "Allow: %s\r\n", r->allow);

    int head = snprintf(out, cap,
                        "HTTP/1.1 %d %s\r\n"
                        "Server: %s\r\n"
                        "Date: %s\r\n"
                        "Content-Type: %.*s\r\n"
                        "Content-Length: %zu\r\n"
                        "%s%s\r\n",
                        r->status, http_reason_phrase(r->status),
                        server_header, http_date_now(),
                        (int)HTTP_MAX_CONTENT_TYPE, r->content_type,
                        r->body_len, allow, connection_header(r->connection));
    if (head < 0 || (size_t)head >= cap)
        return 0;
    size_t len = (size_t)head;
    if (!r->head_only) {
        if (r->body_len > cap - len)
            return 0;
        memcpy(out + len, r->body, r->body_len);
        len += r->body_len;
    }
    return len;
}
