/*
 * Step 06 - epoll: one cook with a tablet that shows only the tables that
 * need attention.
 *
 * select and poll are handed the whole list on every wait, and the cook
 * reads the whole list back. An epoll instance is a list the kernel keeps:
 * a table is written on it once (epoll_ctl), changed only when what it
 * waits for changes, and a wait (epoll_wait) returns just the tables that
 * are ready. A round costs what the ready tables cost, not what the seated
 * ones do.
 *
 * The tablet knows nothing but descriptors, so the clock must become one
 * too: each order in the oven gets a timerfd that turns readable when the
 * pizza is done, and one more timerfd, the kitchen clock, ticks ten times
 * a second while anyone is seated, for the idle and lingering deadlines.
 *
 * Level-triggered: a ready table stays on the tablet's list until it is no
 * longer ready (step 07 goes edge-triggered). What a customer's visit
 * needs is the event cook's (event_cook.c); this file is only the tablet:
 * how to watch, wait and dispatch.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "event_cook.h"
#include "kitchen.h"

// @snippet step
static const struct step step = {
    .name = "06-epoll",
    .default_bake_ms = 1000,
    .default_max_conns = 10000,
    .max_conns_note = "past it a new customer is told 503",
};
// @end step

static void on_closing_signal(int signal_number)
{
    (void)signal_number;
    closing_ring(); /* the bell's pipe is on the tablet: epoll wakes up */
}

enum { CLOCK_TICK_MS = 100 };

// @snippet tablet
/*
 * What epoll hands back with each ready descriptor is the data.ptr we
 * registered it with: a handle saying what kind of thing is ready, and for
 * a customer's socket or oven timer, which table.
 */
enum source { BELL, DOOR, CLOCK, SOCKET, OVEN };

struct table;
struct handle {
    enum source source;
    struct table *table;
};

struct table {
    struct conn *conn;   /* NULL once the customer left (freed later) */
    struct handle socket, oven;
    uint32_t watched;    /* what epoll watches on the socket now */
    int oven_fd;         /* a timerfd while an order bakes, else -1 */
    long long oven_done; /* what oven_fd is set to ring at */
    struct table *prev, *next; /* every seated table, for the clock */
};

struct tablet {
    int epfd;
    int clock_fd;
    bool clock_ticking;
    bool door_watched;     /* false while the door is shut for a moment */
    struct table *seated;  /* everyone, for the clock's round */
    struct table *leaving; /* left during this round: freed after it */
};
// @end tablet

static struct handle bell_handle = {BELL, NULL};
static struct handle door_handle = {DOOR, NULL};
static struct handle clock_handle = {CLOCK, NULL};

static bool tablet_watch(struct tablet *t, int op, int fd, uint32_t events,
                         struct handle *handle)
{
    struct epoll_event event = {.events = events, .data.ptr = handle};
    return epoll_ctl(t->epfd, op, fd, &event) == 0;
}

// @snippet tablet-add
/* Write a new table on the tablet, watching for the customer's request. */
static bool tablet_add(struct tablet *t, int fd, struct conn *conn)
{
    struct table *table = malloc(sizeof *table);
    if (table == NULL)
        return false;
    *table = (struct table){
        .conn = conn,
        .socket = {SOCKET, table},
        .oven = {OVEN, table},
        .watched = EPOLLIN,
        .oven_fd = -1,
    };
    if (!tablet_watch(t, EPOLL_CTL_ADD, fd, EPOLLIN, &table->socket)) {
        free(table);
        return false;
    }
    table->next = t->seated;
    if (t->seated)
        t->seated->prev = table;
    t->seated = table;
    return true;
}
// @end tablet-add

// @snippet oven-timer
/*
 * An order in the oven: a timerfd set to ring (turn readable) at the
 * moment it is done. Setting it again also silences an old ring, so a
 * table whose next pipelined order goes straight in does not wake the
 * cook early. Without a timerfd (out of descriptors) the order still
 * comes out: the kitchen clock's round finds it, at most a tick late.
 */
static void oven_off(struct table *table)
{
    if (table->oven_fd >= 0)
        close(table->oven_fd); /* closing also takes it off the tablet */
    table->oven_fd = -1;
}

static void oven_set(struct tablet *t, struct table *table, long long done)
{
    if (table->oven_fd < 0) {
        table->oven_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
                                                             TFD_CLOEXEC);
        if (table->oven_fd < 0)
            return;
        if (!tablet_watch(t, EPOLL_CTL_ADD, table->oven_fd, EPOLLIN,
                          &table->oven)) {
            close(table->oven_fd);
            table->oven_fd = -1;
            return;
        }
    }
    struct itimerspec ring = {
        .it_value = {done / 1000000, done % 1000000 * 1000},
    };
    if (timerfd_settime(table->oven_fd, TFD_TIMER_ABSTIME, &ring, NULL) < 0) {
        oven_off(table); /* the kitchen clock's round will find it */
        return;
    }
    table->oven_done = done;
}

// @end oven-timer

// @snippet tablet-remove
/*
 * The customer left: take the table off every list now, free it after
 * the round, since this round's answer from epoll may still name it.
 */
static void tablet_remove(struct tablet *t, struct table *table)
{
    oven_off(table);
    conn_free(table->conn); /* closing the socket takes it off the tablet */
    table->conn = NULL;
    if (table->prev)
        table->prev->next = table->next;
    else
        t->seated = table->next;
    if (table->next)
        table->next->prev = table->prev;
    table->next = t->leaving;
    t->leaving = table;
}
// @end tablet-remove

// @snippet watch
/*
 * After every event, tell the tablet what this table waits for now, if
 * that changed: one epoll_ctl per change, nothing for the tables that
 * did not move. An order in the oven sets its timer.
 */
static void watch(struct tablet *t, struct table *table)
{
    struct conn *conn = table->conn;
    if (conn_closed(conn)) {
        tablet_remove(t, table);
        return;
    }
    enum conn_interest want = conn_interest(conn);
    uint32_t events = (want & WANT_READ ? EPOLLIN : 0) |
                      (want & WANT_WRITE ? EPOLLOUT : 0);
    if (events != table->watched) {
        if (!tablet_watch(t, EPOLL_CTL_MOD, conn->fd, events,
                          &table->socket)) {
            tablet_remove(t, table); /* it would wait for the wrong news */
            return;
        }
        table->watched = events;
    }
    if (conn->state == CONN_BAKING) {
        long long done = conn_deadline(conn);
        if (table->oven_fd < 0 || table->oven_done != done)
            oven_set(t, table, done);
    } else {
        oven_off(table);
    }
}
// @end watch

// @snippet clock
/*
 * The kitchen clock ticks while anyone is seated; each tick the cook
 * walks past every table for the deadlines that have no timer of their
 * own (idle customers, lingering closes). O(n) ten times a second, where
 * select and poll paid O(n) on every wake-up; step 07 keeps the deadlines
 * in order instead and looks only at the first.
 */
static void clock_keep_time(struct tablet *t)
{
    bool needed = t->seated != NULL;
    if (needed == t->clock_ticking)
        return;
    long tick_ns = CLOCK_TICK_MS * 1000000L;
    struct itimerspec setting = {{0, 0}, {0, 0}};
    if (needed)
        setting.it_interval = setting.it_value = (struct timespec){0, tick_ns};
    if (timerfd_settime(t->clock_fd, 0, &setting, NULL) < 0)
        kitchen_fail("setting the kitchen clock (timerfd_settime)");
    t->clock_ticking = needed;
}

static void clock_round(struct tablet *t)
{
    uint64_t ticks;
    ssize_t ignored = read(t->clock_fd, &ticks, sizeof ticks); /* silence */
    (void)ignored;
    long long now = monotonic_us();
    struct table *next;
    for (struct table *table = t->seated; table != NULL; table = next) {
        next = table->next;
        conn_timers_due(table->conn, now);
        watch(t, table);
    }
}
// @end clock

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

// @snippet dispatch
/* One ready customer: the socket's news, or the oven's. */
static void serve_table(struct tablet *t, struct handle *handle,
                        uint32_t events)
{
    struct table *table = handle->table;
    if (table->conn == NULL)
        return; /* left earlier in this round */
    if (handle->source == OVEN) {
        conn_timers_due(table->conn, monotonic_us());
    } else {
        /* Unlike select, epoll (like poll) reports an error or a hangup
         * even on a table that waits for nothing, such as one whose order
         * is in the oven: it must be handled, or it is reported forever. */
        if (events & (EPOLLERR | EPOLLHUP))
            conn_hangup(table->conn);
        if (events & EPOLLIN)
            conn_readable(table->conn);
        if (events & EPOLLOUT)
            conn_writable(table->conn);
    }
    watch(t, table);
}
// @end dispatch

// @snippet door-shut
/*
 * A door shut for a moment (door.h) comes off the tablet until it opens
 * again: level-triggered, it would wake the cook at once, over and over.
 * Returns how long the wait may last: until the door opens, or for ever.
 */
static int keep_door(struct tablet *t, struct door *door)
{
    long long now = monotonic_us();
    long long reopens = door_reopens_at(door, now);
    bool open = reopens == 0;
    if (open != t->door_watched) {
        if (!tablet_watch(t, EPOLL_CTL_MOD, door->fd, open ? EPOLLIN : 0,
                          &door_handle))
            kitchen_fail("watching the door (epoll_ctl)");
        t->door_watched = open;
    }
    return open ? -1 : (int)((reopens - now + 999) / 1000);
}
// @end door-shut

static void free_leaving(struct tablet *t)
{
    while (t->leaving) {
        struct table *table = t->leaving;
        t->leaving = table->next;
        free(table);
    }
}

// @snippet loop
static void serve_until_closing(struct door *door)
{
    struct tablet t = {.epfd = epoll_create1(EPOLL_CLOEXEC),
                       .door_watched = true};
    if (t.epfd < 0)
        kitchen_fail("making the tablet (epoll_create1)");
    t.clock_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (t.clock_fd < 0)
        kitchen_fail("making the kitchen clock (timerfd_create)");
    if (!tablet_watch(&t, EPOLL_CTL_ADD, closing_bell_fd(), EPOLLIN,
                      &bell_handle) ||
        !tablet_watch(&t, EPOLL_CTL_ADD, door->fd, EPOLLIN, &door_handle) ||
        !tablet_watch(&t, EPOLL_CTL_ADD, t.clock_fd, EPOLLIN, &clock_handle))
        kitchen_fail("putting the bell, door and clock on the tablet "
                     "(epoll_ctl)");
    struct epoll_event ready[256];
    while (!closing_rung()) {
        clock_keep_time(&t);
        int n = epoll_wait(t.epfd, ready, 256, keep_door(&t, door));
        if (n < 0) {
            if (errno == EINTR)
                continue; /* a signal: was it closing time? */
            kitchen_fail("waiting on the tablet (epoll_wait)");
        }
        bool door_ready = false, clock_ready = false;
        for (int i = 0; i < n && !closing_rung(); i++) {
            struct handle *handle = ready[i].data.ptr;
            if (handle->source == DOOR)
                door_ready = true;
            else if (handle->source == CLOCK)
                clock_ready = true;
            else if (handle->source != BELL)
                serve_table(&t, handle, ready[i].events);
        }
        if (clock_ready)
            clock_round(&t);
        free_leaving(&t);
        if (door_ready)
            seat_customers(&t, door);
    }
    /* Closing time: orders still in the oven are abandoned. */
    while (t.seated)
        tablet_remove(&t, t.seated);
    free_leaving(&t);
    close(t.clock_fd);
    close(t.epfd);
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
