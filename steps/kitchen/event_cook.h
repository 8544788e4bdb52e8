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

#include "blocking_cook.h" /* struct customer: fd, number, peer */
#include "kitchen.h"

// @snippet conn-states
enum conn_state {
    CONN_READING,   /* waiting for (the rest of) a request */
    CONN_BAKING,    /* an order is in the oven until oven_done_us */
    CONN_WRITING,   /* an answer is going out, maybe a piece at a time */
    CONN_LINGERING, /* we said "close": half-closed, draining what is left */
    CONN_CLOSED,    /* the descriptor is closed: free it */
};

/* What a connection wants the tablet to watch for. */
enum conn_interest {
    WANT_NOTHING = 0, /* the oven, or closed: only the clock can wake it */
    WANT_READ = 1,
    WANT_WRITE = 2,
};
// @end conn-states

enum { CONN_IN_SIZE = 32768 }; /* > HTTP_MAX_REQUEST: a request fits */

// @snippet conn
struct conn {
    struct customer customer; /* fd, number, peer */
    enum conn_state state;

    /* Reading: the request being parsed starts at in + in_start. */
    struct http_parser *parser; /* kept with the input buffer */
    size_t in_start, in_end;
    bool continue_sent; /* "100 Continue" already said for this request */
    bool sending_continue;

    /* The request being served, once the counter has taken it: lent
     * like the buffers (step 07), since an idle customer has none. */
    struct ticket *ticket;
    long long received_us; /* when it was complete, for the access log */
    long long oven_in_us;

    /* Writing: out[out_sent..out_len) is still to go. */
    size_t out_len, out_sent;

    /* When the current state gives up: 0 for never (--idle-timeout-ms 0). */
    long long deadline_us;
    long long request_deadline_us; /* for a whole request: from accept, or
                                      from the end of the last answer */
    size_t drained; /* lingering: bytes read and dropped */
    bool more;      /* stopped at its fair share with work left (step 07) */

    /* The buffers: CONN_IN_SIZE and HTTP_MAX_RESPONSE bytes, allocated
     * with the connection, or lent only while it is busy (step 07). The
     * parser goes with the input: an idle customer needs none of them. */
    char *in;
    char *out;
};
// @end conn

// @snippet conn-api
/*
 * A new customer at a table: their socket must be non-blocking. Returns
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

/* Close the connection if it is still open, and free it. */
void conn_free(struct conn *conn);

/* Connections opened and not yet freed: what --max-conns limits. */
unsigned conn_count(void);
// @end conn-api

// @snippet fair-share
/*
 * Fairness, for a loop that must not let one customer's pipelined stream
 * hold up the others (step 07): an event moves a visit on at most `moves`
 * times (0, the default: until it must wait). A visit stopped that way
 * says so with conn_wants_another_turn(), and conn_continue() gives it its
 * next share; no new event would come for it on an edge-triggered tablet.
 */
void conn_set_fair_share(unsigned moves);
bool conn_wants_another_turn(const struct conn *conn);
void conn_continue(struct conn *conn);
// @end fair-share

// @snippet lend-buffers
/*
 * Buffers only while busy (step 07): a connection holds its input buffer
 * while part of a request is in it, its output buffer while an answer is
 * going out, and gives both back to a small pool of spares when it waits
 * with nothing pending. An idle customer then costs a struct conn and no
 * buffer. Off by default: the buffers come with the connection.
 */
void conn_lend_buffers(bool lend);
// @end lend-buffers

// @snippet door-api
/*
 * The front door of a cook who never waits: a non-blocking listening
 * socket, and a spare descriptor kept for the day the kitchen runs out of
 * them (EMFILE): then the spare is given up for a moment, the customer at
 * the head of the queue is let in, told 503 and shown out, and the spare
 * is taken back. Without it the waiting customer could not be accepted,
 * the door would stay "readable" forever, and the loop would spin.
 */
struct door {
    int fd;
    int spare_fd;            /* /dev/null, held for the EMFILE case */
    unsigned long customers; /* accepted so far: the next one's number */
};

void door_open(struct door *door, int listener);
void door_close(struct door *door);

/*
 * Let in the next customer waiting at the door: true with *customer
 * filled (a non-blocking socket), false when no one is waiting.
 */
bool door_accept(struct door *door, struct customer *customer);
// @end door-api

#endif
