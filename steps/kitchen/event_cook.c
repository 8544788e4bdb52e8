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
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    LINGER_US = 1000000,   /* drain a closing connection for up to 1 s */
    LINGER_BYTES = 65536,  /* or 64 KiB, whichever comes first */
};

static unsigned open_conns;
static unsigned fair_share; /* moves per event; 0 for no bound */
static bool lending;        /* buffers only while busy (step 07) */

/* ---------------------------------------------------------------- buffers */

// @snippet spares
/*
 * Lent buffers come back to a shelf of spares and go out again from it:
 * once the kitchen has seen its busiest moment, serving a request
 * allocates nothing. The shelf is bounded, so a rush leaves no more than
 * SPARES_KEPT of each kind behind; the rest go back to the kernel
 * (munmap), where malloc's free would leave holes in the heap that still
 * count as the process's memory.
 */
enum { SPARES_KEPT = 256 };

/* What a request being read needs: the parser and the bytes so far. */
struct input {
    struct http_parser parser;
    char bytes[CONN_IN_SIZE];
};

struct shelf {
    size_t size;
    void *spares[SPARES_KEPT];
    unsigned count;
};

static struct shelf in_shelf = {.size = sizeof(struct input)};
static struct shelf out_shelf = {.size = HTTP_MAX_RESPONSE};
static struct shelf ticket_shelf = {.size = sizeof(struct ticket)};

/* Below a page, a mapping of its own would cost more than it holds. */
static bool is_small(const struct shelf *shelf)
{
    return shelf->size < 4096;
}

static void *shelf_take(struct shelf *shelf)
{
    if (shelf->count > 0)
        return shelf->spares[--shelf->count];
    if (is_small(shelf))
        return malloc(shelf->size);
    void *buffer = mmap(NULL, shelf->size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return buffer == MAP_FAILED ? NULL : buffer;
}

static void shelf_put(struct shelf *shelf, void *buffer)
{
    if (shelf->count < SPARES_KEPT)
        shelf->spares[shelf->count++] = buffer;
    else if (is_small(shelf))
        free(buffer);
    else
        munmap(buffer, shelf->size);
}
// @end spares

void conn_lend_buffers(bool lend)
{
    lending = lend;
}

/* Borrow what this state needs; false when there is no memory for it. */
static bool have_in(struct conn *c)
{
    if (c->in != NULL)
        return true;
    struct input *input = shelf_take(&in_shelf);
    if (input == NULL)
        return false;
    c->parser = &input->parser;
    c->in = input->bytes;
    http_parser_reset(c->parser); /* it held someone else's */
    return true;
}

static bool have_out(struct conn *c)
{
    if (c->out == NULL)
        c->out = shelf_take(&out_shelf);
    return c->out != NULL;
}

static bool have_ticket(struct conn *c)
{
    if (c->ticket == NULL)
        c->ticket = shelf_take(&ticket_shelf);
    return c->ticket != NULL;
}

/* Give back what the connection holds and does not need now. The input
 * goes back only between requests: no byte of one is in it, and the
 * parser has been reset for the next. */
static void return_in(struct conn *c)
{
    if (lending && c->in != NULL && c->in_start == c->in_end) {
        shelf_put(&in_shelf, c->parser); /* the struct input's start */
        c->parser = NULL;
        c->in = NULL;
        c->in_start = c->in_end = 0;
    }
}

static void return_out(struct conn *c)
{
    if (lending && c->out != NULL) {
        shelf_put(&out_shelf, c->out);
        c->out = NULL;
    }
}

static void return_ticket(struct conn *c)
{
    if (lending && c->ticket != NULL) {
        shelf_put(&ticket_shelf, c->ticket);
        c->ticket = NULL;
    }
}

static long long idle_deadline(long long now_us)
{
    int idle_ms = kitchen_options()->idle_timeout_ms;
    return idle_ms > 0 ? now_us + idle_ms * 1000LL : 0;
}

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
        shutdown(c->customer.fd, SHUT_WR);
        c->drained = 0;
        c->deadline_us = now + LINGER_US;
        break;
    case CONN_CLOSED:
        close(c->customer.fd);
        c->deadline_us = 0;
        trace_event(c->customer.number, "close", NULL);
        break;
    }
    c->state = next;
}
// @end enter

/* ---------------------------------------------------------------- writing */

static void start_writing(struct conn *c, size_t len)
{
    c->out_len = len;
    c->out_sent = 0;
    enter(c, CONN_WRITING);
}

// @snippet respond
/* Format the ticket's answer into the write buffer and start sending it. */
static void respond(struct conn *c)
{
    struct http_response *response = &c->ticket->response;
    if (closing_rung())
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

/* The whole answer is out: log it, and go on with the visit or end it. */
static void answered(struct conn *c)
{
    if (c->sending_continue) {
        c->sending_continue = false;
        enter(c, CONN_READING); /* the body comes next */
        return;
    }
    return_out(c);
    const struct http_response *response = &c->ticket->response;
    if (trace_enabled) {
        char cook[64];
        kitchen_cook_name(cook, sizeof cook);
        trace_event(c->customer.number, "response", "%d %s",
                    response->status, cook);
    }
    if (access_log_enabled)
        log_access(c->customer.peer, c->ticket->request_line,
                   response->status, c->out_len,
                   (monotonic_us() - c->received_us) / 1000.0);
    bool closing = response->connection == CONNECTION_CLOSE;
    return_ticket(c);
    if (closing) {
        enter(c, CONN_LINGERING);
        return;
    }
    if (c->parser != NULL)
        http_parser_reset(c->parser);
    c->continue_sent = false;
    c->request_deadline_us = idle_deadline(monotonic_us());
    enter(c, CONN_READING);
}

// @snippet write-some
/*
 * Send what is left of the answer, from where the last send stopped.
 * Returns true when the visit moved on, false when it must wait.
 */
static bool write_some(struct conn *c)
{
    ssize_t n = send(c->customer.fd, c->out + c->out_sent,
                     c->out_len - c->out_sent, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno == EINTR)
            return true;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return false; /* their window is full: wait until writable */
        enter(c, CONN_CLOSED); /* EPIPE, ECONNRESET: they are gone */
        return false;
    }
    c->out_sent += (size_t)n;
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
    if (!have_in(c)) {
        enter(c, CONN_CLOSED); /* no memory: this customer must go */
        return false;
    }
    if (c->in_start > 0) {
        memmove(c->in, c->in + c->in_start, c->in_end - c->in_start);
        c->in_end -= c->in_start;
        c->in_start = 0;
    }
    if (c->in_end == CONN_IN_SIZE) { /* cannot happen: the parser refuses */
        enter(c, CONN_CLOSED);       /* anything longer first */
        return false;
    }
    ssize_t n = recv(c->customer.fd, c->in + c->in_end,
                     CONN_IN_SIZE - c->in_end, 0);
    if (n > 0) {
        c->in_end += (size_t)n;
        return true;
    }
    if (n < 0 && errno == EINTR)
        return true;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return_in(c); /* nothing of a request here: an idle customer */
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
    trace_event(c->customer.number, "request", "%.*s %.*s HTTP/1.%d",
                (int)request->method_name.len, request->method_name.at,
                (int)request->target.len, request->target.at,
                request->minor_version);
    if (!have_ticket(c)) {
        enter(c, CONN_CLOSED);
        return;
    }
    pizzeria_take(request, c->ticket);
    /* The ticket holds all the answer needs: the request's bytes can go. */
    c->in_start += request->total_len;

    if (!c->ticket->is_order) {
        respond(c);
        return;
    }
    const struct order *order = &c->ticket->order;
    trace_event(c->customer.number, "oven-in", "order %lu: %u %s",
                order->number, order->qty, order->pizza->name);
    /* The oven is slow: the input goes back to the shelf while the order
     * bakes, unless the next request is already in it (pipelined). Ten
     * thousand orders baking at once would otherwise hold ten thousand
     * input buffers, each fresh memory to map, fault in and unmap. */
    return_in(c);
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
    if (c->in == NULL) /* lent back while idle: nothing to parse yet */
        return receive(c);
    const char *at = c->in + c->in_start;
    switch (http_parse(c->parser, at, c->in_end - c->in_start, &request)) {
    case HTTP_COMPLETE:
        take(c, request);
        return true;
    case HTTP_ERROR:
        if (!have_ticket(c)) {
            enter(c, CONN_CLOSED);
            return false;
        }
        pizzeria_refuse_request(c->ticket, c->parser);
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
    ssize_t n = recv(c->customer.fd, sink, sizeof sink, 0);
    if (n > 0) {
        c->drained += (size_t)n;
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
    bool moved = true;
    unsigned moves = 0;
    c->more = false;
    while (moved) {
        if (fair_share > 0 && moves++ == fair_share) {
            c->more = true; /* the others' turn: conn_continue() later */
            return;
        }
        switch (c->state) {
        case CONN_READING:
            moved = read_some(c);
            break;
        case CONN_WRITING:
            moved = write_some(c);
            break;
        case CONN_LINGERING:
            moved = drain_some(c);
            break;
        case CONN_BAKING: /* only the clock moves it on */
        case CONN_CLOSED:
            moved = false;
            break;
        }
    }
}
// @end advance

void conn_set_fair_share(unsigned moves)
{
    fair_share = moves;
}

bool conn_wants_another_turn(const struct conn *c)
{
    return c->more && c->state != CONN_CLOSED;
}

void conn_continue(struct conn *c)
{
    advance(c);
}

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

// @snippet oven-out
/* The order's time is up: the receipt is the answer. */
static void out_of_oven(struct conn *c, long long now_us)
{
    long baked_ms = (long)((now_us - c->oven_in_us) / 1000);
    trace_event(c->customer.number, "oven-out", "order %lu: baked %ld ms",
                c->ticket->order.number, baked_ms);
    char cook[64];
    kitchen_cook_name(cook, sizeof cook);
    pizzeria_receipt(c->ticket, baked_ms, cook);
    respond(c);
}
// @end oven-out

// @snippet timers-due
void conn_timers_due(struct conn *c, long long now_us)
{
    if (c->deadline_us == 0 || now_us < c->deadline_us)
        return;
    switch (c->state) {
    case CONN_BAKING:
        out_of_oven(c, now_us);
        advance(c); /* the answer, and any request pipelined behind it */
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
// @end timers-due

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

// @snippet conn-open
/* A visit whose buffers are its own, for as long as it lasts. */
struct kept_visit {
    struct conn conn; /* first: the visit is freed through it */
    struct ticket ticket;
    struct input input;
    char out[HTTP_MAX_RESPONSE];
};

struct conn *conn_open(const struct customer *customer)
{
    /* The ticket and both buffers come with the connection, once, in the
     * same block: a visit allocates nothing more, however many requests it
     * brings. Unless they are lent (step 07): then they come when needed. */
    struct conn *c = malloc(lending ? sizeof *c : sizeof(struct kept_visit));
    if (c == NULL) {
        close(customer->fd);
        trace_event(customer->number, "close", "out of memory");
        return NULL;
    }
    c->customer = *customer;
    c->parser = NULL;
    c->in = c->out = NULL;
    c->ticket = NULL;
    if (!lending) {
        struct kept_visit *kept = (struct kept_visit *)c;
        c->ticket = &kept->ticket;
        c->parser = &kept->input.parser;
        c->in = kept->input.bytes;
        c->out = kept->out;
        http_parser_reset(c->parser);
    }
    c->state = CONN_READING;
    c->in_start = c->in_end = 0;
    c->continue_sent = c->sending_continue = false;
    c->out_len = c->out_sent = 0;
    c->drained = 0;
    c->more = false;
    c->request_deadline_us = idle_deadline(monotonic_us());
    c->deadline_us = c->request_deadline_us;
    open_conns++;
    return c;
}
// @end conn-open

void conn_free(struct conn *c)
{
    if (c->state != CONN_CLOSED)
        enter(c, CONN_CLOSED);
    if (lending) {
        c->in_start = c->in_end; /* whatever is left is dropped */
        return_in(c);
        return_out(c);
        return_ticket(c);
    }
    open_conns--;
    free(c);
}

unsigned conn_count(void)
{
    return open_conns;
}

/* ---------------------------------------------------------------- the door */

static int open_spare(void)
{
    return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void door_open(struct door *door, int listener)
{
    int flags = fcntl(listener, F_GETFL);
    fcntl(listener, F_SETFL, flags | O_NONBLOCK);
    door->fd = listener;
    door->spare_fd = open_spare();
    door->customers = 0;
}

void door_close(struct door *door)
{
    close(door->fd);
    if (door->spare_fd >= 0)
        close(door->spare_fd);
    door->fd = door->spare_fd = -1;
}

static int accept_one(struct door *door, struct customer *customer)
{
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    int fd = accept4(door->fd, (struct sockaddr *)&peer, &peer_len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return -1;
    customer->fd = fd;
    customer->number = ++door->customers;
    net_peer_name(&peer, customer->peer, sizeof customer->peer);
    trace_event(customer->number, "accept", "%s", customer->peer);
    return fd;
}

// @snippet out-of-descriptors
/*
 * No descriptor left for the customer at the head of the queue: give up
 * the spare, let them in, tell them 503, show them out, take the spare
 * back. Returns false if even that failed (the whole system is out of
 * descriptors, ENFILE): the loop then waits for its next wake-up.
 */
static bool shed_one(struct door *door)
{
    if (door->spare_fd < 0)
        return false;
    close(door->spare_fd);
    struct customer customer;
    bool shed = accept_one(door, &customer) >= 0;
    if (shed)
        kitchen_turn_away(customer.fd, customer.number);
    door->spare_fd = open_spare();
    return shed;
}
// @end out-of-descriptors

// @snippet door-accept
bool door_accept(struct door *door, struct customer *customer)
{
    for (;;) {
        if (accept_one(door, customer) >= 0)
            return true;
        switch (errno) {
        case EINTR:
        case ECONNABORTED: /* they left while in the queue */
        case EPROTO:
            continue;
        case EMFILE:
        case ENFILE:
            if (shed_one(door))
                continue;
            return false;
        default: /* EAGAIN: no one is waiting; ENOBUFS, ENOMEM: not now */
            return false;
        }
    }
}
// @end door-accept
