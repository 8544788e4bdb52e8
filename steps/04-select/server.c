/*
 * Step 04 - select: one cook with a checklist of 1024 tables.
 *
 * The cook never waits on one customer. The tablet is a checklist with a
 * box for every descriptor number from 0 to FD_SETSIZE - 1 (1024): the
 * cook ticks the boxes of the tables to watch, hands the list to the
 * kernel, which leaves ticked only the ones that need attention, and the
 * cook reads the list from top to bottom, serving those. A table whose
 * number is past the last box cannot be watched at all: that customer is
 * told 503. Each round costs a pass over every box up to the highest one.
 *
 * What a customer's visit needs is the event cook's (event_cook.c); this
 * file is only the tablet: how to watch, wait and dispatch.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/select.h>

#include "event_cook.h"
#include "kitchen.h"

// @snippet step
static const struct step step = {
    .name = "04-select",
    .default_bake_ms = 1000,
    /* Every table needs a box below FD_SETSIZE, and the kitchen keeps a
     * few boxes for itself (standard streams, bell, door, spare, trace). */
    .default_max_conns = FD_SETSIZE - 24,
    .max_conns_note = "past it, or past descriptor FD_SETSIZE - 1, a new "
                      "customer is told 503",
};
// @end step

static void on_closing_signal(int signal_number)
{
    (void)signal_number;
    closing_ring(); /* the bell's pipe is on the tablet: select wakes up */
}

// @snippet tablet
/*
 * The tablet: one box per descriptor number. tables[fd] is the customer
 * at table fd (NULL: nobody), so that select's answer (the boxes still
 * ticked) leads back to a visit. highest is the last box in use: the
 * kernel and the cook read every box up to it.
 */
struct tablet {
    struct conn *tables[FD_SETSIZE];
    fd_set readable, writable;
    int bell, highest;
    struct door *door;
};
// @end tablet

// @snippet tablet-add
/* Seat a customer at the table their descriptor number names. */
static bool tablet_add(struct tablet *t, int fd, struct conn *conn)
{
    if (fd >= FD_SETSIZE)
        return false; /* no box for it: FD_SET would write past the set */
    t->tables[fd] = conn;
    if (fd > t->highest)
        t->highest = fd;
    return true;
}
// @end tablet-add

// @snippet tablet-compact
/* Clear the tables whose customers left, and the highest box in use. */
static void tablet_compact(struct tablet *t)
{
    int highest = t->bell > t->door->fd ? t->bell : t->door->fd;
    for (int fd = 0; fd <= t->highest; fd++) {
        struct conn *conn = t->tables[fd];
        if (conn != NULL && conn_closed(conn)) {
            conn_free(conn);
            t->tables[fd] = NULL;
        } else if (conn != NULL) {
            highest = fd;
        }
    }
    t->highest = highest;
}
// @end tablet-compact

// @snippet seat-customers
/* Let in everyone waiting at the door: a table each, or a 503. */
static void seat_customers(struct tablet *t, struct door *door)
{
    struct customer customer;
    while (door_accept(door, &customer) == DOOR_SEATED) {
        if (conn_count() >= (unsigned)kitchen_options()->max_conns ||
            customer.fd >= FD_SETSIZE) {
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
 * Before each wait, tick on the checklist what every table waits for, and
 * find the nearest deadline (an order out of the oven, an idle customer,
 * a door shut for a moment): it is how long select may sleep. select
 * crosses out boxes as it answers, so the list is written anew every time.
 */
static struct timeval *watch(struct tablet *t, struct timeval *timeout)
{
    FD_ZERO(&t->readable);
    FD_ZERO(&t->writable);
    FD_SET(t->bell, &t->readable);
    long long nearest = door_reopens_at(t->door, monotonic_us());
    if (nearest == 0)
        FD_SET(t->door->fd, &t->readable);
    for (int fd = 0; fd <= t->highest; fd++) {
        struct conn *conn = t->tables[fd];
        if (conn == NULL)
            continue;
        enum conn_interest want = conn_interest(conn);
        if (want & WANT_READ)
            FD_SET(fd, &t->readable);
        if (want & WANT_WRITE)
            FD_SET(fd, &t->writable);
        long long deadline = conn_deadline(conn);
        if (deadline && (nearest == 0 || deadline < nearest))
            nearest = deadline;
    }
    if (nearest == 0)
        return NULL; /* no deadline: sleep until something happens */
    long long left_us = nearest - monotonic_us();
    if (left_us < 0)
        left_us = 0;
    timeout->tv_sec = left_us / 1000000;
    timeout->tv_usec = left_us % 1000000;
    return timeout;
}
// @end watch

// @snippet dispatch
/* Read the list top to bottom: every box still ticked, then the clock. */
static void serve_tables(struct tablet *t)
{
    for (int fd = 0; fd <= t->highest; fd++) {
        struct conn *conn = t->tables[fd];
        if (conn == NULL)
            continue;
        /* select has no box for "hung up": an error or an end shows as
         * readable (or writable), and the read or write then finds it. */
        if (FD_ISSET(fd, &t->readable))
            conn_readable(conn);
        if (FD_ISSET(fd, &t->writable))
            conn_writable(conn);
    }
    long long now = monotonic_us();
    for (int fd = 0; fd <= t->highest; fd++)
        if (t->tables[fd] != NULL)
            conn_timers_due(t->tables[fd], now);
}
// @end dispatch

// @snippet loop
static void serve_until_closing(struct door *door)
{
    /* Too big for the stack of a cook who may be a thread one day. */
    struct tablet *t = calloc(1, sizeof *t);
    if (t == NULL)
        kitchen_fail("making the checklist (calloc)");
    t->bell = closing_bell_fd();
    t->door = door;
    if (t->bell >= FD_SETSIZE || door->fd >= FD_SETSIZE) {
        errno = EMFILE;
        kitchen_fail("no box on the checklist for the bell or the door");
    }
    t->highest = t->bell > door->fd ? t->bell : door->fd;
    while (!closing_rung()) {
        struct timeval timeout;
        struct timeval *wait = watch(t, &timeout);
        if (select(t->highest + 1, &t->readable, &t->writable, NULL,
                   wait) < 0) {
            if (errno == EINTR)
                continue; /* a signal: was it closing time? */
            kitchen_fail("waiting on the checklist (select)");
        }
        if (FD_ISSET(t->bell, &t->readable))
            break;
        serve_tables(t);
        tablet_compact(t);
        if (FD_ISSET(door->fd, &t->readable))
            seat_customers(t, door);
    }
    /* Closing time: orders still in the oven are abandoned. */
    for (int fd = 0; fd <= t->highest; fd++)
        if (t->tables[fd] != NULL)
            conn_free(t->tables[fd]);
    free(t);
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
