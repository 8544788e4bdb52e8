/*
 * Step 07 - the event loop: one cook, the order tickets on a rail, and an
 * oven that rings.
 *
 * Step 06 already had one cook, a tablet (epoll) and every visit written
 * down as a state (event_cook.c). What it lacked was a kitchen clock worth
 * the name: a timerfd per order in the oven, and a walk past every table
 * ten times a second for the idle ones. Here the waiting moves into a small
 * event loop of its own (loop.c): descriptors and timers registered with a
 * callback, every deadline on one min-heap (timer_heap.c), and rounds in
 * fixed phases. This file only says what the pizzeria does with it: a
 * watch for the door, one for the closing bell, and for each customer a
 * watch on their socket and a single timer for whatever their visit waits
 * for next (the oven, or their patience running out).
 *
 * The tablet is edge-triggered now: epoll says "ready" once per change, not
 * as long as it stays true. So every callback works until EAGAIN, and a
 * visit that stops early to let the others have a turn must ask for its
 * next turn itself (loop_again): no new edge would ever come for it.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "event_cook.h"
#include "kitchen.h"
#include "loop.h"

// @snippet step
static const struct step step = {
    .name = "07-state-machine",
    .default_bake_ms = 1000,
    .default_max_conns = 10000,
    .max_conns_note = "past it a new customer is told 503",
};
// @end step

enum {
    FAIR_SHARE = 32,      /* moves per turn for one customer */
    SEATS_PER_TURN = 256, /* customers let in per turn of the door */
    DOOR_RETRY_US = 100000, /* out of memory or descriptors: retry later */
};

static void on_closing_signal(int signal_number)
{
    (void)signal_number;
    closing_ring(); /* the bell's pipe is watched: the loop wakes up */
}

// @snippet table
/* A seated customer: the visit, its socket's watch, and its one timer. */
struct table {
    struct conn *conn;
    struct loop_watch *watch;
    struct loop_timer timer;   /* the oven's bell, or the idle deadline */
    struct table *prev, *next; /* everyone seated, for closing time */
};

struct kitchen {
    struct loop *loop;
    struct door door;
    struct loop_watch *door_watch, *bell_watch;
    struct loop_timer door_retry;
    struct table *seated;
};
// @end table

static struct kitchen kitchen;

// @snippet leave
/* The customer left: cancel their timer (an oven that would ring for no
 * one), stop watching, free. The watch itself lives until the round ends. */
static void leave(struct table *table)
{
    loop_timer_cancel(kitchen.loop, &table->timer);
    loop_unwatch(kitchen.loop, table->watch);
    conn_free(table->conn);
    if (table->prev)
        table->prev->next = table->next;
    else
        kitchen.seated = table->next;
    if (table->next)
        table->next->prev = table->prev;
    free(table);
}
// @end leave

// @snippet settle
/*
 * After every event: the visit ended, or it wants another turn, or it waits
 * until its deadline (the oven's, the customer's patience). One timer per
 * table, moved on the heap only when the deadline changed.
 */
static void settle(struct table *table)
{
    struct conn *conn = table->conn;
    if (conn_closed(conn)) {
        leave(table);
        return;
    }
    if (conn_wants_another_turn(conn))
        loop_again(kitchen.loop, table->watch);
    long long deadline = conn_deadline(conn);
    if (deadline == 0)
        loop_timer_cancel(kitchen.loop, &table->timer);
    else if (!timer_armed(&table->timer.timer) ||
             table->timer.timer.when_us != deadline)
        if (!loop_timer_set(kitchen.loop, &table->timer, deadline))
            conn_hangup(conn); /* no memory for the heap: cannot bake */
    if (conn_closed(conn))
        leave(table);
}
// @end settle

// @snippet events
/* The socket's news. Whatever it is, the visit carries on from its state:
 * read, write or drain until EAGAIN, or its fair share. */
static void on_socket(struct loop *loop, struct loop_watch *watch,
                      uint32_t events)
{
    (void)loop;
    struct table *table = watch->data;
    if (events & (EPOLLERR | EPOLLHUP))
        conn_hangup(table->conn); /* nothing we write can arrive */
    else
        conn_continue(table->conn);
    settle(table);
}

/* The table's timer rang: the pizza is done, or the customer's time up. */
static void on_timer(struct loop *loop, struct loop_timer *timer)
{
    (void)loop;
    struct table *table = timer->data;
    conn_timers_due(table->conn, monotonic_us());
    settle(table);
}
// @end events

// @snippet seat
static void seat(const struct customer *customer)
{
    struct table *table = malloc(sizeof *table);
    struct conn *conn = table ? conn_open(customer) : NULL;
    if (conn == NULL) { /* conn_open closed the socket */
        if (table == NULL)
            kitchen_turn_away(customer->fd, customer->number);
        free(table);
        return;
    }
    table->conn = conn;
    loop_timer_init(&table->timer, on_timer, table);
    table->watch = loop_watch(kitchen.loop, customer->fd,
                              EPOLLIN | EPOLLOUT | EPOLLRDHUP, on_socket,
                              table);
    if (table->watch == NULL) {
        conn_free(conn);
        free(table);
        return;
    }
    table->prev = NULL;
    table->next = kitchen.seated;
    if (kitchen.seated)
        kitchen.seated->prev = table;
    kitchen.seated = table;
    settle(table); /* the idle deadline */
}
// @end seat

// @snippet door
/*
 * Let in everyone waiting, a turn's worth at a time. With an edge-triggered
 * door the queue must be emptied (EAGAIN), or no new edge will say it is
 * not; a door that stopped for another reason asks to be looked at again.
 */
static void on_door(struct loop *loop, struct loop_watch *watch,
                    uint32_t events)
{
    (void)events;
    struct customer customer;
    for (int seated = 0; seated < SEATS_PER_TURN; seated++) {
        if (!door_accept(&kitchen.door, &customer)) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                loop_timer_set(loop, &kitchen.door_retry,
                               monotonic_us() + DOOR_RETRY_US);
            return;
        }
        if (conn_count() >= (unsigned)kitchen_options()->max_conns)
            kitchen_turn_away(customer.fd, customer.number);
        else
            seat(&customer);
    }
    loop_again(loop, watch); /* more may be waiting: after the others */
}

static void on_door_retry(struct loop *loop, struct loop_timer *timer)
{
    (void)timer;
    on_door(loop, kitchen.door_watch, 0);
}
// @end door

static void on_bell(struct loop *loop, struct loop_watch *watch,
                    uint32_t events)
{
    (void)watch;
    (void)events;
    loop_stop(loop); /* closing time: the orders in the oven are abandoned */
}

// @snippet main
int main(int argc, char **argv)
{
    struct options options;
    options_parse(argc, argv, &step, &options);
    kitchen_open(&step, &options);
    closing_prepare(on_closing_signal);
    conn_set_fair_share(FAIR_SHARE);
    conn_lend_buffers(true); /* an idle customer holds no buffer */

    door_open(&kitchen.door, kitchen_open_door(&options));
    kitchen.loop = loop_create();
    loop_timer_init(&kitchen.door_retry, on_door_retry, NULL);
    if (kitchen.loop == NULL ||
        !(kitchen.bell_watch = loop_watch(kitchen.loop, closing_bell_fd(),
                                          EPOLLIN, on_bell, NULL)) ||
        !(kitchen.door_watch = loop_watch(kitchen.loop, kitchen.door.fd,
                                          EPOLLIN, on_door, NULL)))
        exit(1);

    loop_run(kitchen.loop);

    while (kitchen.seated)
        leave(kitchen.seated);
    loop_timer_cancel(kitchen.loop, &kitchen.door_retry);
    loop_unwatch(kitchen.loop, kitchen.door_watch);
    loop_unwatch(kitchen.loop, kitchen.bell_watch);
    door_close(&kitchen.door);
    loop_destroy(kitchen.loop);
    return 0;
}
// @end main
