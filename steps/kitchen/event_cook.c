/*
 * event_cook.c - one visit as a state machine (see event_cook.h).
 *
 * The shape of every event handler is the same: do the work the event
 * allows, then advance() the visit for as long as it can move without
 * waiting. A state changes only in enter(), so the whole life of a
 * connection can be read in one switch.
 */
#include "event_cook.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned open_conns;
static bool last_orders; /* conn_last_orders: every answer says "close" */

/* ---------------------------------------------------------------- supplies */

/* What a request being read needs: the parser and the bytes so far. */
struct conn_input {
    struct http_parser parser;
    char bytes[REQUEST_BUFFER_SIZE];
};

_Static_assert((long)REQUEST_BUFFER_SIZE <= UINT32_MAX &&
                   HTTP_MAX_RESPONSE <= UINT32_MAX &&
                   LINGER_BYTES <= UINT32_MAX,
               "a connection's offsets are 32 bits");

size_t conn_supply_size(enum conn_supply what)
{
    switch (what) {
    case SUPPLY_INPUT:
        return sizeof(struct conn_input);
    case SUPPLY_OUTPUT:
        return HTTP_MAX_RESPONSE;
    case SUPPLY_TICKET:
    case SUPPLY_KINDS:
        break;
    }
    return sizeof(struct ticket);
}

/*
 * Borrow what a state needs when the connection does not hold it yet, and
 * give it back when the visit is done with it for now. A connection
 * without a lender holds everything from the start, and keeps it: for it
 * borrowing finds it held, and giving back does nothing.
 */
static void *borrow(struct conn *c, enum conn_supply what)
{
    return c->lender != NULL ? c->lender->lend(c->lender, what) : NULL;
}

static bool lent(const struct conn *c, const void *supply)
{
    return c->lender != NULL && supply != NULL;
}

static bool have_input(struct conn *c)
{
    if (c->input == NULL) {
        c->input = borrow(c, SUPPLY_INPUT);
        if (c->input == NULL)
            return false;
        http_parser_reset(&c->input->parser); /* it held someone else's */
    }
    return true;
}

static bool have_out(struct conn *c)
{
    if (c->out == NULL)
        c->out = borrow(c, SUPPLY_OUTPUT);
    return c->out != NULL;
}

static bool have_ticket(struct conn *c)
{
    if (c->ticket == NULL)
        c->ticket = borrow(c, SUPPLY_TICKET);
    return c->ticket != NULL;
}

/* The input goes back only between requests: no byte of one is in it. */
static void give_back_input(struct conn *c)
{
    if (lent(c, c->input) && c->in_start == c->in_end) {
        c->lender->take_back(c->lender, SUPPLY_INPUT, c->input);
        c->input = NULL;
        c->in_start = c->in_end = 0;
    }
}

static void give_back_out(struct conn *c)
{
    if (lent(c, c->out)) {
        c->lender->take_back(c->lender, SUPPLY_OUTPUT, c->out);
        c->out = NULL;
    }
}

static void give_back_ticket(struct conn *c)
{
    if (lent(c, c->ticket)) {
        c->lender->take_back(c->lender, SUPPLY_TICKET, c->ticket);
        c->ticket = NULL;
    }
}

/* ---------------------------------------------------------------- the wire */

/* The socket's own calls, or the wire's when the visit has one (step 09). */
static ssize_t socket_recv(struct conn *c, void *into, size_t len)
{
    return c->wire ? c->wire->recv(c, into, len) : recv(c->fd, into, len, 0);
}

static ssize_t socket_send(struct conn *c, const void *from, size_t len)
{
    return c->wire ? c->wire->send(c, from, len)
                   : send(c->fd, from, len, MSG_NOSIGNAL);
}

static void socket_close(struct conn *c)
{
    if (c->wire)
        c->wire->close(c);
    else
        close(c->fd);
}

// @snippet idle-deadline
static long long idle_deadline(long long now_us)
{
    int idle_ms = kitchen_options()->idle_timeout_ms;
    return idle_ms > 0 ? now_us + idle_ms * 1000LL : 0;
}
// @end idle-deadline

// @snippet enter
/*
 * Every state change, with what it costs on the way in. READING's deadline
 * is set elsewhere, once per request (at accept, at the end of the previous
 * answer): a "100 Continue" in between must not extend it.
 */
static void enter(struct conn *c, enum conn_state next)
{
    long long now = monotonic_us();
    switch (next) {
    case CONN_READING:
        c->deadline_us = c->request_deadline_us;
        break;
    case CONN_BAKING:
        c->oven_in_us = now;
        c->deadline_us = now + kitchen_options()->bake_ms * 1000LL;
        break;
    case CONN_WRITING:
        /* A customer who stops taking the answer gets as long as one who
         * stops sending: the idle timeout, counted from the last progress. */
        c->deadline_us = idle_deadline(now);
        break;
    case CONN_LINGERING:
        shutdown(c->fd, SHUT_WR);
        c->drained = 0;
        c->deadline_us = now + LINGER_US;
        break;
    case CONN_CLOSED:
        socket_close(c);
        c->deadline_us = 0;
        trace_event(c->number, "close", NULL);
        break;
    }
    c->state = next;
}
// @end enter

/* ---------------------------------------------------------------- writing */

static void start_writing(struct conn *c, size_t len)
{
    c->out_len = (uint32_t)len;
    c->out_sent = 0;
    enter(c, CONN_WRITING);
}

// @snippet respond
/* Format the ticket's answer into the write buffer and start sending it. */
static void respond(struct conn *c)
{
    struct http_response *response = &c->ticket->response;
    if (closing_rung() || last_orders)
        response->connection = CONNECTION_CLOSE;
    size_t len = have_out(c) ? http_format_response(c->out,
                                                    HTTP_MAX_RESPONSE,
                                                    response)
                             : 0;
    if (len == 0) {
        enter(c, CONN_CLOSED); /* no memory, or a bug: HTTP_MAX_RESPONSE
                                  too small */
        return;
    }
    c->sending_continue = false;
    start_writing(c, len);
}
// @end respond

static void refuse(struct conn *c)
{
    c->ticket->response.connection = CONNECTION_CLOSE;
    c->received_us = monotonic_us();
    respond(c);
}

/* The access log's line (kitchen_log_answer asks for the address). */
static void log_answer(const struct conn *c,
                       const struct http_response *response)
{
    kitchen_log_answer(c->fd, c->ticket->request_line, response->status,
                       c->out_len, c->received_us);
}

// @snippet answered
/* The whole answer is out: log it, and go on with the visit or end it. */
static void answered(struct conn *c)
{
    if (c->sending_continue) {
        c->sending_continue = false;
        enter(c, CONN_READING); /* the body comes next */
        return;
    }
    give_back_out(c);
    const struct http_response *response = &c->ticket->response;
    if (trace_enabled) {
        char cook[64];
        kitchen_cook_name(cook, sizeof cook);
        trace_event(c->number, "response", "%d %s",
                    response->status, cook);
    }
    if (access_log_enabled)
        log_answer(c, response);
    bool closing = response->connection == CONNECTION_CLOSE;
    give_back_ticket(c);
    if (closing) {
        enter(c, CONN_LINGERING);
        return;
    }
    if (c->input != NULL)
        http_parser_reset(&c->input->parser);
    c->continue_sent = false;
    c->request_deadline_us = idle_deadline(monotonic_us());
    enter(c, CONN_READING);
}
// @end answered

// @snippet write-some
/*
 * Send what is left of the answer, from where the last send stopped.
 * Returns true when the visit moved on, false when it must wait.
 */
static bool write_some(struct conn *c)
{
    ssize_t n = socket_send(c, c->out + c->out_sent,
                            c->out_len - c->out_sent);
    if (n < 0) {
        if (errno == EINTR)
            return true;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return false; /* their window is full: wait until writable */
        enter(c, CONN_CLOSED); /* EPIPE, ECONNRESET: they are gone */
        return false;
    }
    c->out_sent += (uint32_t)n;
    c->deadline_us = idle_deadline(monotonic_us());
    if (c->out_sent == c->out_len)
        answered(c);
    return true;
}
// @end write-some

/* ---------------------------------------------------------------- reading */

// @snippet receive
/*
 * The parser needs more bytes: read what the kernel has. Returns true when
 * bytes arrived, false when the visit must wait (or has ended).
 *
 * The request being parsed is first moved to the buffer's start, so the
 * room left is always enough for a whole request; moving it only here, and
 * not after every request, keeps a pipelined batch from being copied once
 * per request.
 */
static bool receive(struct conn *c)
{
    if (!have_input(c)) {
        enter(c, CONN_CLOSED); /* no memory: this customer must go */
        return false;
    }
    char *bytes = c->input->bytes;
    if (c->in_start > 0) {
        memmove(bytes, bytes + c->in_start, c->in_end - c->in_start);
        c->in_end -= c->in_start;
        c->in_start = 0;
    }
    if (c->in_end == REQUEST_BUFFER_SIZE) { /* cannot happen: the parser */
        enter(c, CONN_CLOSED); /* refuses anything longer first */
        return false;
    }
    ssize_t n = socket_recv(c, bytes + c->in_end,
                            REQUEST_BUFFER_SIZE - c->in_end);
    if (n > 0) {
        c->in_end += (uint32_t)n;
        return true;
    }
    if (n < 0 && errno == EINTR)
        return true;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        give_back_input(c); /* nothing of a request: an idle customer */
        return false; /* nothing yet: wait until readable */
    }
    /* 0: they finished sending, and no whole request is left to answer;
     * otherwise ECONNRESET and friends. */
    enter(c, CONN_CLOSED);
    return false;
}
// @end receive

// @snippet take
/* A whole request is in: hand it to the counter, bake or answer. */
static void take(struct conn *c, const struct http_request *request)
{
    c->received_us = monotonic_us();
    trace_event(c->number, "request", "%.*s %.*s HTTP/1.%d",
                (int)request->method_name.len, request->method_name.at,
                (int)request->target.len, request->target.at,
                request->minor_version);
    if (!have_ticket(c)) {
        enter(c, CONN_CLOSED);
        return;
    }
    pizzeria_take(request, c->ticket);
    /* The ticket holds all the answer needs: the request's bytes can go. */
    c->in_start += (uint32_t)request->total_len;

    if (!c->ticket->is_order) {
        respond(c);
        return;
    }
    const struct order *order = &c->ticket->order;
    trace_event(c->number, "oven-in", "order %lu: %u %s",
                order->number, order->qty, order->pizza->name);
    /* The oven is slow: the input goes back to the shelf while the order
     * bakes, unless the next request is already in it (pipelined). Ten
     * thousand orders baking at once would otherwise hold ten thousand
     * input buffers, each fresh memory to map, fault in and unmap. */
    give_back_input(c);
    enter(c, CONN_BAKING);
}
// @end take

// @snippet read-some
/*
 * Parse what has arrived; read more when the parser needs it. Returns true
 * when the visit moved on, false when it must wait.
 */
static bool read_some(struct conn *c)
{
    const struct http_request *request = NULL;
    if (c->input == NULL) /* given back while idle: nothing to parse yet */
        return receive(c);
    struct http_parser *parser = &c->input->parser;
    const char *at = c->input->bytes + c->in_start;
    switch (http_parse(parser, at, c->in_end - c->in_start, &request)) {
    case HTTP_COMPLETE:
        take(c, request);
        return true;
    case HTTP_ERROR:
        if (!have_ticket(c)) {
            enter(c, CONN_CLOSED);
            return false;
        }
        pizzeria_refuse_request(c->ticket, parser);
        refuse(c);
        return true;
    case HTTP_HEAD_READY:
        if (request->expects_continue && !c->continue_sent) {
            c->continue_sent = true;
            if (!have_ticket(c)) {
                enter(c, CONN_CLOSED);
                return false;
            }
            if (!pizzeria_check_head(request, c->ticket)) {
                refuse(c);
                return true;
            }
            if (!have_out(c)) {
                enter(c, CONN_CLOSED);
                return false;
            }
            memcpy(c->out, HTTP_CONTINUE, HTTP_CONTINUE_LEN);
            start_writing(c, HTTP_CONTINUE_LEN);
            c->sending_continue = true;
            return true;
        }
        break;
    case HTTP_NEED_MORE:
        break;
    }
    return receive(c);
}
// @end read-some

/* ---------------------------------------------------------------- lingering */

// @snippet drain
/* Read and drop what a customer we are closing on still sends. */
static bool drain_some(struct conn *c)
{
    char sink[4096];
    ssize_t n = socket_recv(c, sink, sizeof sink);
    if (n > 0) {
        c->drained += (uint32_t)n;
        if (c->drained >= LINGER_BYTES)
            enter(c, CONN_CLOSED);
        return true;
    }
    if (n < 0 && errno == EINTR)
        return true;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return false;
    enter(c, CONN_CLOSED); /* their FIN (or a reset): the visit is over */
    return false;
}
// @end drain

/* ---------------------------------------------------------------- events */

// @snippet advance
/*
 * One step of the visit, whatever its state: returns true when the visit
 * moved on, false when it must wait (or has ended).
 */
bool conn_move(struct conn *c)
{
    switch (c->state) {
    case CONN_READING:
        return read_some(c);
    case CONN_WRITING:
        return write_some(c);
    case CONN_LINGERING:
        return drain_some(c);
    case CONN_BAKING: /* only the clock moves it on */
    case CONN_CLOSED:
        break;
    }
    return false;
}

/*
 * Move the visit on for as long as it can go without waiting: a pipelined
 * batch is answered request after request, until the kernel has no more
 * bytes for us (EAGAIN), no more room for our answer (EAGAIN), or an order
 * goes into the oven. Only reading until EAGAIN tells us for sure that the
 * tablet will say "readable" again; that is what an edge-triggered tablet
 * (step 07) relies on.
 *
 * Backpressure comes for free: while an answer is being written the cook
 * reads nothing more from that customer, so one who never reads costs one
 * answer and one input buffer, never more.
 */
static void advance(struct conn *c)
{
    while (conn_move(c))
        ;
}
// @end advance

// @snippet events
void conn_readable(struct conn *c)
{
    if (c->state == CONN_READING || c->state == CONN_LINGERING)
        advance(c);
}

void conn_writable(struct conn *c)
{
    if (c->state == CONN_WRITING)
        advance(c);
}

void conn_hangup(struct conn *c)
{
    /* An error or a hangup on both sides: nothing we write can arrive. */
    if (c->state != CONN_CLOSED)
        enter(c, CONN_CLOSED);
}
// @end events

// @snippet oven-out
/* The order's time is up: the receipt is the answer. */
static void out_of_oven(struct conn *c, long long now_us)
{
    long baked_ms = (long)((now_us - c->oven_in_us) / 1000);
    trace_event(c->number, "oven-out", "order %lu: baked %ld ms",
                c->ticket->order.number, baked_ms);
    char cook[64];
    kitchen_cook_name(cook, sizeof cook);
    pizzeria_receipt(c->ticket, baked_ms, cook);
    respond(c);
}
// @end oven-out

// @snippet timers-due
void conn_time_up(struct conn *c, long long now_us)
{
    if (c->deadline_us == 0 || now_us < c->deadline_us)
        return;
    switch (c->state) {
    case CONN_BAKING:
        out_of_oven(c, now_us);
        break;
    case CONN_READING:   /* no whole request in time: idle, or trickling */
    case CONN_WRITING:   /* they stopped taking the answer */
    case CONN_LINGERING: /* drained long enough */
        enter(c, CONN_CLOSED);
        break;
    case CONN_CLOSED:
        break;
    }
}

void conn_timers_due(struct conn *c, long long now_us)
{
    conn_time_up(c, now_us);
    advance(c); /* the answer, and any request pipelined behind it */
}
// @end timers-due

// @snippet interest
enum conn_interest conn_interest(const struct conn *c)
{
    switch (c->state) {
    case CONN_READING:
    case CONN_LINGERING:
        return WANT_READ;
    case CONN_WRITING:
        return WANT_WRITE;
    case CONN_BAKING:
    case CONN_CLOSED:
        break;
    }
    return WANT_NOTHING;
}

long long conn_deadline(const struct conn *c)
{
    return c->state == CONN_CLOSED ? 0 : c->deadline_us;
}

bool conn_closed(const struct conn *c)
{
    return c->state == CONN_CLOSED;
}
// @end interest

// @snippet conn-open
static void start_visit(struct conn *c, const struct customer *customer,
                        struct conn_lender *lender)
{
    *c = (struct conn){
        .fd = customer->fd,
        .number = customer->number,
        .state = CONN_READING,
        .lender = lender,
    };
    c->request_deadline_us = idle_deadline(monotonic_us());
    c->deadline_us = c->request_deadline_us;
    open_conns++;
}

/* A visit whose buffers are its own, for as long as it lasts. */
struct kept_visit {
    struct conn conn; /* first: the visit is freed through it */
    struct ticket ticket;
    struct conn_input input;
    char out[HTTP_MAX_RESPONSE];
};

struct conn *conn_open(const struct customer *customer)
{
    struct kept_visit *kept = malloc(sizeof *kept);
    if (kept == NULL) {
        close(customer->fd);
        trace_event(customer->number, "close", "out of memory");
        return NULL;
    }
    struct conn *c = &kept->conn;
    start_visit(c, customer, NULL);
    c->ticket = &kept->ticket;
    c->input = &kept->input;
    c->out = kept->out;
    http_parser_reset(&c->input->parser);
    return c;
}
// @end conn-open

void conn_init(struct conn *c, const struct customer *customer,
               struct conn_lender *lender)
{
    start_visit(c, customer, lender);
}

void conn_use_wire(struct conn *c, struct conn_wire *wire)
{
    c->wire = wire;
}

void conn_finish(struct conn *c)
{
    if (c->state != CONN_CLOSED)
        enter(c, CONN_CLOSED);
    c->in_start = c->in_end; /* whatever is left is dropped */
    give_back_input(c);
    give_back_out(c);
    give_back_ticket(c);
    open_conns--;
}

void conn_free(struct conn *c)
{
    conn_finish(c);
    free(c); /* the kept_visit it starts */
}

unsigned conn_count(void)
{
    return open_conns;
}

void conn_last_orders(void)
{
    last_orders = true;
}

void conn_show_out_by(struct conn *c, long long by_us)
{
    bool request_under_way = c->input != NULL && c->in_end > c->in_start;
    if (c->state != CONN_READING || request_under_way)
        return; /* it ends with an answer that says "close" */
    if (c->request_deadline_us == 0 || by_us < c->request_deadline_us)
        c->request_deadline_us = c->deadline_us = by_us;
}
