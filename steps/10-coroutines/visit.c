/*
 * visit.c - step 10's visit (visit.h): one customer's visit as a stackless
 * coroutine (coro.h), written from top to bottom like step 01's cook and
 * run by step 07's loop, table by table, exactly as step 07's state
 * machine is.
 *
 * The recipe is visit_run(). The functions above it do the work between
 * two waits and never wait themselves: each tries a system call once and
 * says whether the coroutine may go on. Only visit_run() waits, at its
 * CORO_AWAITs: there it returns to the loop, and the loop calls it again
 * when the socket or the table's timer has news.
 */
#include "visit.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coro.h"
#include "kitchen.h"

static bool last_orders; /* visit_last_orders: every answer says "close" */

/* ---------------------------------------------------------------- the frame */

/* What a request being read needs: the parser and the bytes so far. */
struct visit_input {
    struct http_parser parser;
    char bytes[REQUEST_BUFFER_SIZE];
};

// @snippet frame
/*
 * The coroutine's frame: the resume point, and everything visit_run()
 * must still know after an await. Its own C locals are gone each time it
 * returns to the loop, so whatever must outlive a wait lives here.
 */
struct visit {
    int resume; /* where visit_run() goes on (coro.h) */
    int fd;
    unsigned long number; /* in accept order: the trace's CONN */
    bool gone;            /* the socket is closed: the visit is over */
    bool rang;            /* the deadline came (visit_time_up) */
    bool continue_sent;   /* "100 Continue" already said for this request */
    bool between_requests; /* no request under way but the next */
    uint32_t drained;      /* lingering: bytes read and dropped */

    /* The request: its bytes start at input bytes + in_start. */
    struct visit_input *input;
    uint32_t in_start, in_end;
    /* The answer: out[out_sent..out_len) is still to go. */
    char *out;
    uint32_t out_len, out_sent;
    struct ticket *ticket;

    long long deadline_us;         /* for the current wait; 0: never */
    long long request_deadline_us; /* for a whole request */
    long long received_us, oven_in_us;
    struct conn_lender *lender; /* input, answer, ticket: lent while used */
};
// @end frame

/* All an idle customer costs, with the table's watch and timer around it:
 * no buffer, no ticket, no stack. */
_Static_assert(sizeof(struct visit) <= 104, "a visit's frame is small");

_Static_assert((long)REQUEST_BUFFER_SIZE <= UINT32_MAX &&
                   HTTP_MAX_RESPONSE <= UINT32_MAX,
               "a visit's offsets are 32 bits");

size_t visit_size(void)
{
    return sizeof(struct visit);
}

/* What the pantry lends (shelf.c): sized by the visit that borrows. */
size_t conn_supply_size(enum conn_supply what)
{
    switch (what) {
    case SUPPLY_INPUT:
        return sizeof(struct visit_input);
    case SUPPLY_OUTPUT:
        return HTTP_MAX_RESPONSE;
    case SUPPLY_TICKET:
    case SUPPLY_KINDS:
        break;
    }
    return sizeof(struct ticket);
}

/* ---------------------------------------------------------------- supplies */

static void *borrow(struct visit *v, enum conn_supply what)
{
    return v->lender->lend(v->lender, what);
}

static void give_back(struct visit *v, enum conn_supply what, void **supply)
{
    if (*supply != NULL)
        v->lender->take_back(v->lender, what, *supply);
    *supply = NULL;
}

/* The input goes back only between requests: no byte of one is in it. */
static void give_back_input(struct visit *v)
{
    if (v->in_start == v->in_end) {
        give_back(v, SUPPLY_INPUT, (void **)&v->input);
        v->in_start = v->in_end = 0;
    }
}

/* ---------------------------------------------------------------- clocks */

static long long idle_deadline(long long now_us)
{
    int idle_ms = kitchen_options()->idle_timeout_ms;
    return idle_ms > 0 ? now_us + idle_ms * 1000LL : 0;
}

/* The next wait gives up at deadline_us (0: never). */
static void wait_until(struct visit *v, long long deadline_us)
{
    v->deadline_us = deadline_us;
    v->rang = false;
}

/* The visit is over: close the socket, once. */
static void show_out(struct visit *v, const char *why)
{
    if (v->gone)
        return;
    v->gone = true;
    v->deadline_us = 0;
    close(v->fd);
    if (why != NULL)
        trace_event(v->number, "close", "%s", why);
    else
        trace_event(v->number, "close", NULL);
}

// @snippet waits
/*
 * What the awaits test. Each tries once and never blocks: true when the
 * visit may go on (or the customer is gone: the visit then ends), false
 * when it must wait for the socket's news or its timer.
 */
static bool received(struct visit *v)
{
    if (v->gone)
        return true;
    if (v->rang) {
        show_out(v, NULL); /* no whole request in time: idle, or trickling */
        return true;
    }
    if (v->input == NULL) {
        v->input = borrow(v, SUPPLY_INPUT);
        if (v->input == NULL) {
            show_out(v, "out of memory");
            return true;
        }
        http_parser_reset(&v->input->parser); /* it held someone else's */
    }
    char *bytes = v->input->bytes;
    if (v->in_start > 0) { /* the request being read to the start: room */
        memmove(bytes, bytes + v->in_start, v->in_end - v->in_start);
        v->in_end -= v->in_start;
        v->in_start = 0;
    }
    ssize_t n;
    do
        n = recv(v->fd, bytes + v->in_end, REQUEST_BUFFER_SIZE - v->in_end, 0);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        v->in_end += (uint32_t)n;
        return true;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        give_back_input(v); /* nothing of a request: an idle customer */
        return false;
    }
    show_out(v, NULL); /* 0: they finished sending; or ECONNRESET... */
    return true;
}

static bool sent(struct visit *v)
{
    if (v->gone)
        return true;
    while (!v->rang && v->out_sent < v->out_len) {
        ssize_t n = send(v->fd, v->out + v->out_sent,
                         v->out_len - v->out_sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return false; /* their window is full: wait until writable */
        if (n < 0)
            break; /* EPIPE, ECONNRESET: they are gone */
        v->out_sent += (uint32_t)n;
        wait_until(v, idle_deadline(monotonic_us())); /* progress */
    }
    if (v->out_sent < v->out_len)
        show_out(v, NULL); /* they stopped taking the answer, or left */
    give_back(v, SUPPLY_OUTPUT, (void **)&v->out);
    return true;
}

static bool drained(struct visit *v)
{
    char sink[4096];
    if (v->gone)
        return true;
    while (!v->rang && v->drained < LINGER_BYTES) {
        ssize_t n = recv(v->fd, sink, sizeof sink, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return false;
        if (n <= 0)
            break; /* their FIN (or a reset) */
        v->drained += (uint32_t)n;
    }
    show_out(v, NULL); /* drained long enough, or enough */
    return true;
}
// @end waits

/* ---------------------------------------------------------------- the work */

/* A slip for the answer; the customer goes if there is no memory for it. */
static bool have_ticket(struct visit *v)
{
    if (v->ticket == NULL)
        v->ticket = borrow(v, SUPPLY_TICKET);
    if (v->ticket == NULL)
        show_out(v, "out of memory");
    return v->ticket != NULL;
}

/* A whole request is in: the counter writes its answer on the ticket. */
static void take(struct visit *v, const struct http_request *request)
{
    trace_event(v->number, "request", "%.*s %.*s HTTP/1.%d",
                (int)request->method_name.len, request->method_name.at,
                (int)request->target.len, request->target.at,
                request->minor_version);
    if (!have_ticket(v))
        return;
    pizzeria_take(request, v->ticket);
    /* The ticket holds all the answer needs: the request's bytes can go. */
    v->in_start += (uint32_t)request->total_len;
}

/* The request cannot be served: the answer says so, and "close". */
static void refuse(struct visit *v)
{
    v->ticket->response.connection = CONNECTION_CLOSE;
}

// @snippet hear
enum heard {
    HEARD_NOT_ENOUGH, /* no whole request yet: read more */
    HEARD_CONTINUE,   /* say "100 Continue", then read the body */
    HEARD_ALL,        /* the ticket holds the answer, or the order */
};

/* Parse what has arrived, and say what the visit does next. */
static enum heard hear(struct visit *v)
{
    if (v->input == NULL)
        return HEARD_NOT_ENOUGH; /* given back while idle */
    const struct http_request *request = NULL;
    struct http_parser *parser = &v->input->parser;
    switch (http_parse(parser, v->input->bytes + v->in_start,
                       v->in_end - v->in_start, &request)) {
    case HTTP_COMPLETE:
        take(v, request);
        return HEARD_ALL;
    case HTTP_ERROR:
        if (have_ticket(v)) {
            pizzeria_refuse_request(v->ticket, parser);
            refuse(v);
        }
        return HEARD_ALL;
    case HTTP_HEAD_READY:
        if (!request->expects_continue || v->continue_sent)
            break;
        v->continue_sent = true;
        if (!have_ticket(v))
            return HEARD_ALL;
        if (!pizzeria_check_head(request, v->ticket)) {
            refuse(v); /* 404, 405...: answered now, the body never read */
            return HEARD_ALL;
        }
        return HEARD_CONTINUE;
    case HTTP_NEED_MORE:
        break;
    }
    return HEARD_NOT_ENOUGH;
}
// @end hear

/* The answer to send: "100 Continue", or the ticket's response. */
static void say(struct visit *v, const char *what, size_t len)
{
    v->out_len = (uint32_t)len;
    v->out_sent = 0;
    if (v->out != NULL)
        memcpy(v->out, what, len);
    wait_until(v, idle_deadline(monotonic_us()));
}

static void say_continue(struct visit *v)
{
    v->out = borrow(v, SUPPLY_OUTPUT);
    if (v->out == NULL)
        show_out(v, "out of memory");
    else
        say(v, HTTP_CONTINUE, HTTP_CONTINUE_LEN);
}

static void respond(struct visit *v)
{
    struct http_response *response = &v->ticket->response;
    if (closing_rung() || last_orders)
        response->connection = CONNECTION_CLOSE;
    v->out = borrow(v, SUPPLY_OUTPUT);
    size_t len = v->out == NULL ? 0
                                : http_format_response(v->out,
                                                       HTTP_MAX_RESPONSE,
                                                       response);
    if (len == 0) {
        show_out(v, "no answer"); /* no memory, or HTTP_MAX_RESPONSE */
        return;
    }
    v->out_len = (uint32_t)len;
    v->out_sent = 0;
    wait_until(v, idle_deadline(monotonic_us()));
}

/* Into the oven: the input goes back unless a request waits behind. */
static void oven_in(struct visit *v)
{
    const struct order *order = &v->ticket->order;
    trace_event(v->number, "oven-in", "order %lu: %u %s", order->number,
                order->qty, order->pizza->name);
    give_back_input(v);
    v->oven_in_us = monotonic_us();
    wait_until(v, v->oven_in_us + kitchen_options()->bake_ms * 1000LL);
}

static void oven_out(struct visit *v)
{
    long baked_ms = (long)((monotonic_us() - v->oven_in_us) / 1000);
    trace_event(v->number, "oven-out", "order %lu: baked %ld ms",
                v->ticket->order.number, baked_ms);
    char cook[64];
    kitchen_cook_name(cook, sizeof cook);
    pizzeria_receipt(v->ticket, baked_ms, cook);
}

/* The answer is out: log it. True when the visit goes on. */
static bool answered(struct visit *v)
{
    const struct http_response *response = &v->ticket->response;
    if (trace_enabled) {
        char cook[64];
        kitchen_cook_name(cook, sizeof cook);
        trace_event(v->number, "response", "%d %s", response->status, cook);
    }
    if (access_log_enabled)
        kitchen_log_answer(v->fd, v->ticket->request_line, response->status,
                           v->out_len, v->received_us);
    bool goes_on = response->connection != CONNECTION_CLOSE;
    give_back(v, SUPPLY_TICKET, (void **)&v->ticket);
    return goes_on;
}

/* A new request begins: its deadline counts from now (or from accept). */
static void next_request(struct visit *v)
{
    v->continue_sent = false;
    v->between_requests = true;
    if (v->input != NULL)
        http_parser_reset(&v->input->parser);
    wait_until(v, v->request_deadline_us);
}

/* Half-close, and drop what they still send, for a while. */
static void linger(struct visit *v)
{
    shutdown(v->fd, SHUT_WR);
    v->drained = 0;
    wait_until(v, monotonic_us() + LINGER_US);
}

/* ---------------------------------------------------------------- the recipe */

// @snippet visit-run
/* Wait at an await for the customer; if they are gone, the visit ends. */
#define AWAIT_CUSTOMER(v, ready)   \
    do {                           \
        CORO_AWAIT(v, ready);      \
        if ((v)->gone)             \
            CORO_FINISH(v);        \
    } while (0)

/*
 * The whole visit, in order. Each call goes on from the last await (or
 * yield) and returns at the next one that must wait: false, "wake me
 * when my socket or my timer has news". After each answer it yields,
 * true: "I can go on, but let the others have the cook first".
 */
static bool visit_run(struct visit *v)
{
    enum heard heard; /* a C local: never read across an await */
    CORO_BEGIN(v);
    for (;;) {
        next_request(v);
        while ((heard = hear(v)) != HEARD_ALL) {
            if (heard == HEARD_CONTINUE) {
                say_continue(v);
                AWAIT_CUSTOMER(v, sent(v));
                wait_until(v, v->request_deadline_us); /* not extended */
            } else {
                AWAIT_CUSTOMER(v, received(v));
            }
        }
        if (v->gone) /* no memory for a ticket */
            CORO_FINISH(v);
        v->between_requests = false;
        v->received_us = monotonic_us();

        if (v->ticket->is_order) {
            oven_in(v);
            CORO_AWAIT(v, v->rang); /* the oven's timer */
            oven_out(v);
        }
        respond(v);
        AWAIT_CUSTOMER(v, sent(v));
        if (!answered(v))
            break;
        v->request_deadline_us = idle_deadline(monotonic_us());
        CORO_YIELD(v); /* the fair share: one answer per move */
    }
    linger(v);
    AWAIT_CUSTOMER(v, drained(v));
    CORO_END(v);
}
// @end visit-run

/* ---------------------------------------------------------------- visit.h */

// @snippet visit-api-10
void visit_start(struct visit *v, const struct customer *customer,
                 struct conn_lender *lender)
{
    *v = (struct visit){
        .resume = CORO_START,
        .fd = customer->fd,
        .number = customer->number,
        .lender = lender,
    };
    v->request_deadline_us = idle_deadline(monotonic_us());
    v->deadline_us = v->request_deadline_us;
}

bool visit_move(struct visit *v)
{
    return !v->gone && visit_run(v);
}

void visit_time_up(struct visit *v, long long now_us)
{
    if (v->deadline_us != 0 && now_us >= v->deadline_us)
        v->rang = true; /* the next visit_run's await sees it */
}
// @end visit-api-10

void visit_hangup(struct visit *v)
{
    show_out(v, NULL); /* nothing we write can arrive */
}

long long visit_deadline(const struct visit *v)
{
    return v->gone ? 0 : v->deadline_us;
}

bool visit_ended(const struct visit *v)
{
    return v->gone;
}

void visit_finish(struct visit *v)
{
    show_out(v, NULL);
    v->in_start = v->in_end; /* whatever is left is dropped */
    give_back_input(v);
    give_back(v, SUPPLY_OUTPUT, (void **)&v->out);
    give_back(v, SUPPLY_TICKET, (void **)&v->ticket);
}

void visit_last_orders(void)
{
    last_orders = true;
}

void visit_show_out_by(struct visit *v, long long by_us)
{
    bool request_under_way = v->input != NULL && v->in_end > v->in_start;
    if (!v->between_requests || request_under_way)
        return; /* it ends with an answer that says "close" */
    if (v->request_deadline_us == 0 || by_us < v->request_deadline_us)
        v->request_deadline_us = by_us;
    wait_until(v, v->request_deadline_us);
}
