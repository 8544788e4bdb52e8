/*
 * Step 05 - poll: one cook with a tablet that lists every table.
 *
 * The cook never waits on one customer. Every table is a line on the
 * tablet (a struct pollfd); the cook hands the whole list to the kernel,
 * which marks the lines that need attention, and the cook reads the list
 * from top to bottom, serving the marked ones. The list is as long as it
 * needs to be (select's was fixed at 1024), but each round costs a pass
 * over every line, busy or not: O(n) per wake-up.
 *
 * What a customer's visit needs is the event cook's (event_cook.c); this
 * file is only the tablet: how to watch, wait and dispatch.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "event_cook.h"
#include "kitchen.h"

// @snippet step
static const struct step step = {
    .name = "05-poll",
    .default_bake_ms = 1000,
    .default_max_conns = 10000,
    .max_conns_note = "past it a new customer is told 503",
};
// @end step

static void on_closing_signal(int signal_number)
{
    (void)signal_number;
    closing_ring(); /* the bell's pipe is on the tablet: poll wakes up */
}

// @snippet tablet
/*
 * The tablet: line 0 is the closing bell, line 1 the door, the rest one
 * line per table. conns[i] is the customer on line i (NULL for the first
 * two), so that poll's answer (fds[i].revents) leads back to a visit.
 */
enum { BELL_LINE, DOOR_LINE, FIRST_TABLE };

struct tablet {
    struct pollfd *fds;
    struct conn **conns;
    size_t len, cap;
};
// @end tablet

// @snippet tablet-add
/* Append a line, doubling the list when it is full. */
static bool tablet_add(struct tablet *t, int fd, struct conn *conn)
{
    if (t->len == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        struct pollfd *fds = realloc(t->fds, cap * sizeof *fds);
        if (fds == NULL)
            return false;
        t->fds = fds;
        struct conn **conns = realloc(t->conns, cap * sizeof *conns);
        if (conns == NULL)
            return false;
        t->conns = conns;
        t->cap = cap;
    }
    t->fds[t->len] = (struct pollfd){.fd = fd, .events = POLLIN};
    t->conns[t->len] = conn;
    t->len++;
    return true;
}
// @end tablet-add

// @snippet tablet-compact
/*
 * Cross out the tables whose customers left, sliding the others up: one
 * pass, and the lines keep their order (an earlier customer is still
 * looked at first).
 */
static void tablet_compact(struct tablet *t)
{
    size_t kept = FIRST_TABLE;
    for (size_t i = FIRST_TABLE; i < t->len; i++) {
        if (conn_closed(t->conns[i])) {
            conn_free(t->conns[i]);
            continue;
        }
        t->fds[kept] = t->fds[i];
        t->conns[kept] = t->conns[i];
        kept++;
    }
    t->len = kept;
}
// @end tablet-compact

// @snippet seat-customers
/* Let in everyone waiting at the door: a table each, or a 503. */
static void seat_customers(struct tablet *t, struct door *door)
{
    struct customer customer;
    while (door_accept(door, &customer) == DOOR_SEATED) {
        if (conn_count() >= (unsigned)kitchen_options()->max_conns) {
            kitchen_turn_away(customer.fd, customer.number);
            continue;
        }
        struct conn *conn = conn_open(&customer);
        if (conn != NULL && !tablet_add(t, customer.fd, conn))
            conn_free(conn);
    }
}
// @end seat-customers

// @snippet watch
/*
 * Before each wait, write on every line what that table waits for, and
 * find the nearest deadline (an order out of the oven, an idle customer,
 * a door shut for a moment): it is how long poll may sleep.
 */
static int watch(struct tablet *t, struct door *door)
{
    long long nearest = door_reopens_at(door, monotonic_us());
    t->fds[DOOR_LINE].events = nearest == 0 ? POLLIN : 0;
    for (size_t i = FIRST_TABLE; i < t->len; i++) {
        enum conn_interest want = conn_interest(t->conns[i]);
        t->fds[i].events = (want & WANT_READ ? POLLIN : 0) |
                           (want & WANT_WRITE ? POLLOUT : 0);
        long long deadline = conn_deadline(t->conns[i]);
        if (deadline && (nearest == 0 || deadline < nearest))
            nearest = deadline;
    }
    if (nearest == 0)
        return -1; /* no deadline: sleep until something happens */
    long long left_us = nearest - monotonic_us();
    return left_us <= 0 ? 0 : (int)((left_us + 999) / 1000);
}
// @end watch

// @snippet dispatch
/* Read the list top to bottom: every line the kernel marked, then the clock. */
static void serve_tables(struct tablet *t)
{
    for (size_t i = FIRST_TABLE; i < t->len; i++) {
        short revents = t->fds[i].revents;
        struct conn *conn = t->conns[i];
        if (revents & (POLLERR | POLLHUP | POLLNVAL))
            conn_hangup(conn);
        if (revents & POLLIN)
            conn_readable(conn);
        if (revents & POLLOUT)
            conn_writable(conn);
    }
    long long now = monotonic_us();
    for (size_t i = FIRST_TABLE; i < t->len; i++)
        conn_timers_due(t->conns[i], now);
}
// @end dispatch

// @snippet loop
static void serve_until_closing(struct door *door)
{
    struct tablet t = {0};
    if (!tablet_add(&t, closing_bell_fd(), NULL) ||
        !tablet_add(&t, door->fd, NULL))
        kitchen_fail("making the list (realloc)");
    while (!closing_rung()) {
        int timeout_ms = watch(&t, door);
        if (poll(t.fds, t.len, timeout_ms) < 0) {
            if (errno == EINTR)
                continue; /* a signal: was it closing time? */
            kitchen_fail("waiting on the list (poll)");
        }
        if (t.fds[BELL_LINE].revents)
            break;
        serve_tables(&t);
        tablet_compact(&t);
        if (t.fds[DOOR_LINE].revents & POLLIN)
            seat_customers(&t, door);
    }
    /* Closing time: orders still in the oven are abandoned. */
    for (size_t i = FIRST_TABLE; i < t.len; i++)
        conn_free(t.conns[i]);
    free(t.fds);
    free(t.conns);
}
// @end loop

// @snippet main
int main(int argc, char **argv)
{
    struct options options;
    options_parse(argc, argv, &step, &options);
    kitchen_open(&step, &options);
    closing_prepare(on_closing_signal);

    struct door door;
    door_open(&door, kitchen_open_door(&options));
    serve_until_closing(&door);
    door_close(&door);
    return 0;
}
// @end main
