/*
 * blocking_cook.c - a cook who waits: for the customer to speak, at the
 * oven while the pizza bakes, and for the customer to take the answer.
 *
 * Every wait is a blocking system call. While this cook waits, this cook
 * does nothing else; whether anyone else serves the other customers is up
 * to the step that hired the cook.
 */
#include "blocking_cook.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "kitchen.h"

/* What the cook keeps for one customer. */
struct visit {
    const struct customer *customer;
    struct http_parser parser;
    struct ticket ticket;
    long long deadline_us;   /* for a complete request; 0: no deadline */
    long long received_us;   /* when the current request was complete */
    size_t in_len;
    char in[REQUEST_BUFFER_SIZE];
    char out[HTTP_MAX_RESPONSE];
};

/* How a visit goes on after one request. */
enum next {
    NEXT_REQUEST,   /* keep-alive: read the next request */
    CUSTOMER_LEFT,  /* they closed, reset, or stopped answering: just close */
    SERVER_CLOSES,  /* we said "Connection: close": half-close and drain */
};

_Static_assert(sizeof((struct visit *)0)->in > HTTP_MAX_REQUEST,
               "a visit's buffer holds the largest request");

// @snippet deadline
/*
 * The idle timeout is a deadline, not a per-read timer: before every recv
 * the receive timeout is set to what is left, so a customer who trickles a
 * byte at a time cannot stretch it.
 */
static bool set_receive_timeout(int fd, long long deadline_us)
{
    if (deadline_us == 0)
        return true;
    long long left = deadline_us - monotonic_us();
    if (left <= 0)
        return false;
    struct timeval tv = {left / 1000000, left % 1000000};
    return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0;
}
// @end deadline

// @snippet read-more
/* Wait for more bytes from the customer. False: they are gone, or silent. */
static bool read_more(struct visit *v)
{
    int fd = v->customer->fd;
    for (;;) {
        if (closing_rung() || !set_receive_timeout(fd, v->deadline_us))
            return false;
        ssize_t n = recv(fd, v->in + v->in_len, sizeof v->in - v->in_len, 0);
        if (n > 0) {
            v->in_len += (size_t)n;
            return true;
        }
        if (n == 0)
            return false; /* they finished sending: no request will come */
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
            return false; /* ECONNRESET and friends */
        /* EINTR: a signal (closing time?); EAGAIN: the timeout. Look again. */
    }
}
// @end read-more

// @snippet send-all
/*
 * send() may take only part of the buffer; the rest goes in the next call,
 * from where the last one stopped.
 */
static bool send_all(int fd, const char *data, size_t len)
{
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, data + sent, len - sent, MSG_NOSIGNAL);
        if (n > 0)
            sent += (size_t)n;
        else if (n < 0 && errno == EINTR && !closing_rung())
            continue;
        else
            return false; /* EPIPE, ECONNRESET, or the send timeout */
    }
    return true;
}
// @end send-all

// @snippet oven
/*
 * Wait at the oven for bake_ms. The wait is a poll on the closing bell
 * alone: a sleep that closing time can cut short.
 */
static bool bake(struct visit *v)
{
    unsigned long conn = v->customer->number;
    struct order *order = &v->ticket.order;
    trace_event(conn, "oven-in", "order %lu: %u %s", order->number,
                order->qty, order->pizza->name);

    long long put_in = monotonic_us();
    long long done = put_in + kitchen_options()->bake_ms * 1000LL;
    struct pollfd bell = {.fd = closing_bell_fd(), .events = POLLIN};
    long long now;
    while ((now = monotonic_us()) < done) {
        int wait_ms = (int)((done - now + 999) / 1000);
        if (poll(&bell, 1, wait_ms) > 0)
            return false; /* closing time: the order is abandoned */
    }
    long baked_ms = (long)((now - put_in) / 1000);
    trace_event(conn, "oven-out", "order %lu: baked %ld ms", order->number,
                baked_ms);

    char cook[64];
    kitchen_cook_name(cook, sizeof cook);
    pizzeria_receipt(&v->ticket, baked_ms, cook);
    return true;
}
// @end oven

// @snippet answer
/* Write the ticket's reply; log it; say how the visit goes on. */
static enum next answer(struct visit *v)
{
    const struct customer *c = v->customer;
    struct http_response *response = &v->ticket.response;
    if (closing_rung())
        response->connection = CONNECTION_CLOSE;
    size_t len = http_format_response(v->out, sizeof v->out, response);
    if (len == 0 || !send_all(c->fd, v->out, len))
        return CUSTOMER_LEFT;

    if (trace_enabled) {
        char cook[64];
        kitchen_cook_name(cook, sizeof cook);
        trace_event(c->number, "response", "%d %s", response->status, cook);
    }
    if (access_log_enabled)
        log_access(c->peer, v->ticket.request_line, response->status, len,
                   (monotonic_us() - v->received_us) / 1000.0);
    if (response->connection == CONNECTION_CLOSE)
        return SERVER_CLOSES;
    return NEXT_REQUEST;
}
// @end answer

/* The request was refused from its head: answer now, skip the body. */
static enum next refuse(struct visit *v)
{
    v->ticket.response.connection = CONNECTION_CLOSE;
    v->received_us = monotonic_us();
    return answer(v);
}

// @snippet read-request
/*
 * Read until the parser has a whole request, answering "100 Continue" or an
 * early refusal on the way. Returns the request, or NULL with *next set.
 */
static const struct http_request *read_request(struct visit *v,
                                               enum next *next)
{
    const struct http_request *request = NULL;
    bool continue_sent = false;
    http_parser_reset(&v->parser);
    for (;;) {
        switch (http_parse(&v->parser, v->in, v->in_len, &request)) {
        case HTTP_COMPLETE:
            return request;
        case HTTP_ERROR:
            pizzeria_refuse_request(&v->ticket, &v->parser);
            *next = refuse(v);
            return NULL;
        case HTTP_HEAD_READY:
            if (request->expects_continue && !continue_sent) {
                if (!pizzeria_check_head(request, &v->ticket)) {
                    *next = refuse(v);
                    return NULL;
                }
                if (!send_all(v->customer->fd, HTTP_CONTINUE,
                              HTTP_CONTINUE_LEN)) {
                    *next = CUSTOMER_LEFT;
                    return NULL;
                }
                continue_sent = true;
            }
            break;
        case HTTP_NEED_MORE:
            break;
        }
        if (!read_more(v)) {
            *next = CUSTOMER_LEFT;
            return NULL;
        }
    }
}
// @end read-request

// @snippet serve-request
static enum next serve_request(struct visit *v)
{
    enum next next;
    const struct http_request *request = read_request(v, &next);
    if (request == NULL)
        return next;
    v->received_us = monotonic_us();
    trace_event(v->customer->number, "request", "%.*s %.*s HTTP/1.%d",
                (int)request->method_name.len, request->method_name.at,
                (int)request->target.len, request->target.at,
                request->minor_version);

    pizzeria_take(request, &v->ticket);
    /* The ticket holds all the answer needs: the request's bytes can go. */
    size_t used = request->total_len;
    memmove(v->in, v->in + used, v->in_len - used);
    v->in_len -= used;

    if (v->ticket.is_order && !bake(v))
        return CUSTOMER_LEFT;
    next = answer(v);
    if (kitchen_options()->idle_timeout_ms > 0)
        v->deadline_us =
            monotonic_us() + kitchen_options()->idle_timeout_ms * 1000LL;
    return next;
}
// @end serve-request

/* The cook is done with the socket: tell the step, then close it. */
static void hang_up(const struct customer *c)
{
    if (c->before_close)
        c->before_close(c);
    close(c->fd);
}

// @snippet lingering-close
/*
 * Closing a socket that still has unread bytes makes the kernel send a
 * reset, which can destroy the answer we just wrote before the customer
 * reads it. So: stop sending (FIN), read and drop what they still send for
 * up to a second or 64 KiB, then close.
 */
static void close_gracefully(const struct customer *c)
{
    int fd = c->fd;
    shutdown(fd, SHUT_WR);
    long long deadline = monotonic_us() + LINGER_US;
    size_t drained = 0;
    char sink[4096];
    while (drained < LINGER_BYTES && !closing_rung() &&
           set_receive_timeout(fd, deadline)) {
        ssize_t n = recv(fd, sink, sizeof sink, 0);
        if (n > 0)
            drained += (size_t)n;
        else if (n == 0 || errno != EINTR)
            break;
    }
    hang_up(c);
}
// @end lingering-close

/* The visit cannot even begin: close, and say why in the trace. */
static void turn_out(const struct customer *c, const char *why)
{
    hang_up(c);
    trace_event(c->number, "close", "%s", why);
}

// @snippet serve-customer
void serve_customer(const struct customer *c)
{
    /* A customer who stops reading our answer is given as long as one who
     * stops sending: the send timeout is the idle timeout. Without it, one
     * who never reads would keep this cook forever. */
    int idle_ms = kitchen_options()->idle_timeout_ms;
    struct timeval send_timeout = {idle_ms / 1000, idle_ms % 1000 * 1000};
    if (setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout,
                   sizeof send_timeout) < 0) {
        turn_out(c, "no send timeout");
        return;
    }
    struct visit *v = malloc(sizeof *v);
    if (v == NULL) {
        turn_out(c, "out of memory");
        return;
    }
    v->customer = c;
    v->in_len = 0;
    v->deadline_us = idle_ms ? monotonic_us() + idle_ms * 1000LL : 0;

    enum next next;
    do
        next = serve_request(v);
    while (next == NEXT_REQUEST);

    if (next == SERVER_CLOSES)
        close_gracefully(c);
    else
        hang_up(c);
    trace_event(c->number, "close", NULL);
    free(v);
}
// @end serve-customer
