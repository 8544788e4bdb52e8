/*
 * event_cook.h - a cook who never waits: one customer's visit as a state
 * machine driven by events, for the steps where one thread serves every
 * table (04 select, 05 poll, 06 epoll, and 07 after them).
 *
 * The blocking cook (blocking_cook.c) keeps its place in a visit on its own
 * stack: "I am reading", "I am at the oven", "I am writing" is simply where
 * the cook's code is blocked. A cook serving many tables cannot block, so
 * that place is written down, per customer, in a struct conn: which state
 * the visit is in, what has been read, what is left to write, when it next
 * needs attention. The step's loop only asks the tablet (select, poll,
 * epoll) which tables are ready and hands each event to the connection:
 *
 *     conn_readable()   the socket has bytes (or an end) to read
 *     conn_writable()   the socket has room to write
 *     conn_hangup()     the tablet says the connection is broken
 *     conn_timers_due() the clock passed the connection's deadline
 *
 * and then asks what the connection wants next: conn_interest() (read,
 * write, nothing) and conn_deadline() (when to wake it even if nothing
 * happens). Every state change happens inside event_cook.c.
 */
#ifndef PIZZERIA_EVENT_COOK_H
#define PIZZERIA_EVENT_COOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h> /* ssize_t */

#include "door.h" /* struct customer, as the door lets them in */
#include "kitchen.h"

// @snippet conn-states
enum conn_state {
    CONN_READING,   /* waiting for (the rest of) a request */
    CONN_BAKING,    /* an order is in the oven until its deadline */
    CONN_WRITING,   /* an answer is going out, maybe a piece at a time */
    CONN_LINGERING, /* we said "close": half-closed, draining what is left */
    CONN_CLOSED,    /* the descriptor is closed: free it */
};
// @end conn-states

// @snippet conn-interest
/* What a connection wants the tablet to watch for. */
enum conn_interest {
    WANT_NOTHING = 0, /* the oven, or closed: only the clock can wake it */
    WANT_READ = 1,
    WANT_WRITE = 2,
};
// @end conn-interest

struct conn_input;  /* the parser and the request's bytes */
struct conn_lender; /* where the buffers come from, when lent */
struct conn_wire;   /* who carries the bytes, when not the cook himself */

// @snippet conn
struct conn {
    int fd;
    enum conn_state state;
    unsigned long number; /* in accept order: the trace's CONN */

    /* Reading: the request being parsed starts at input bytes + in_start. */
    struct conn_input *input;
    uint32_t in_start, in_end;
    bool continue_sent; /* "100 Continue" already said for this request */
    bool sending_continue;

    /* Writing: out[out_sent..out_len) is still to go. */
    uint32_t out_len, out_sent;
    char *out;

    uint32_t drained; /* lingering: bytes read and dropped */

    /* The request being served, once the counter has taken it. */
    struct ticket *ticket;
    long long received_us; /* when it was complete, for the access log */
    long long oven_in_us;

    /* When the current state gives up: 0 for never (--idle-timeout-ms 0). */
    long long deadline_us;
    long long request_deadline_us; /* for a whole request: from accept, or
                                      from the end of the last answer */

    /* NULL: the buffers and the ticket came with the connection and stay
     * until it ends. Otherwise they are borrowed from the lender only
     * while the visit needs them (see conn_init). */
    struct conn_lender *lender;
    /* NULL: the cook calls recv, send and close on the socket himself.
     * Otherwise they go through the wire (see conn_use_wire). */
    struct conn_wire *wire;
};
// @end conn

// @snippet conn-api
/*
 * A new customer at a table: their socket must be non-blocking. The
 * connection comes in one block with its buffers and its ticket, so a
 * visit allocates nothing more, however many requests it brings. Returns
 * NULL (the socket closed) when there is no memory for the visit.
 */
struct conn *conn_open(const struct customer *customer);

/* The events: each does all the work it can without blocking. */
void conn_readable(struct conn *conn);
void conn_writable(struct conn *conn);
void conn_hangup(struct conn *conn);
void conn_timers_due(struct conn *conn, long long now_us);

/* What the connection waits for next, and until when (0: no deadline). */
enum conn_interest conn_interest(const struct conn *conn);
long long conn_deadline(const struct conn *conn);
bool conn_closed(const struct conn *conn);

/* Close a connection from conn_open if it is still open, and free it. */
void conn_free(struct conn *conn);

/* Connections opened and not yet freed: what --max-conns limits. */
unsigned conn_count(void);
// @end conn-api

/* ------------------------------------------------ for a loop of its own */

// @snippet conn-lender
/*
 * What a visit needs, and only while it needs it: the input (parser and
 * bytes) while part of a request is in it, the output while an answer is
 * going out, the ticket from a request taken to its answer sent. A lender
 * hands them out and takes them back; what it does with them in between
 * (a shelf of spares, the kernel) is its own business.
 */
enum conn_supply { SUPPLY_INPUT, SUPPLY_OUTPUT, SUPPLY_TICKET, SUPPLY_KINDS };

struct conn_lender {
    void *(*lend)(struct conn_lender *lender, enum conn_supply what);
    void (*take_back)(struct conn_lender *lender, enum conn_supply what,
                      void *supply);
};

/* How many bytes a lender must hand out for each kind of supply. */
size_t conn_supply_size(enum conn_supply what);

/*
 * Start a visit in memory the caller owns (inside its own table), with
 * buffers borrowed from lender while they are needed; an idle customer
 * then holds none. conn_finish() closes it if need be and gives back what
 * it holds; the memory is the caller's to free.
 */
void conn_init(struct conn *conn, const struct customer *customer,
               struct conn_lender *lender);
void conn_finish(struct conn *conn);
// @end conn-lender

// @snippet conn-wire
/*
 * Who carries the bytes. A cook with a tablet (steps 04 to 08) calls recv,
 * send and close on the socket himself, when the tablet says they will not
 * wait. A cook who hands whole jobs to the kernel instead (step 09) gives
 * the visit a wire: the same three calls, answered from the jobs' results.
 * recv and send return what the socket calls would, and -1 with EAGAIN
 * for "not yet": the visit then waits, as it waits for a tablet, until the
 * wire's owner moves it on (conn_move) when the kernel says a job is done.
 */
struct conn_wire {
    ssize_t (*recv)(struct conn *conn, void *into, size_t len);
    ssize_t (*send)(struct conn *conn, const void *from, size_t len);
    void (*close)(struct conn *conn); /* the descriptor, and what is on it */
};

/* After conn_init: from now on this visit's bytes go through wire. */
void conn_use_wire(struct conn *conn, struct conn_wire *wire);
// @end conn-wire

// @snippet conn-move
/*
 * The events above move a visit on for as long as it can go without
 * waiting. A loop that rations its cook's time moves it one step at a
 * time instead: conn_move() reads, parses, writes or drains once, and
 * returns false when the visit must wait (or has ended). conn_time_up()
 * is conn_timers_due() without moving on: the oven's pizza becomes the
 * answer to send, or an overdue customer is shown out.
 */
bool conn_move(struct conn *conn);
void conn_time_up(struct conn *conn, long long now_us);
// @end conn-move

/*
 * Last orders, for a cook about to go home while others carry on (step
 * 08's reload): from now on every answer in this process says
 * "Connection: close". conn_show_out_by() gives a visit with no request
 * under way until by_us to begin one; past it, the customer is shown out
 * as an idle one is. A visit with a request under way ends with its answer.
 */
void conn_last_orders(void);
void conn_show_out_by(struct conn *conn, long long by_us);

#endif
