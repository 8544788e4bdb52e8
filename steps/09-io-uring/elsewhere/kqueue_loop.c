/*
 * kqueue_loop.c - the shape of a kitchen's loop on kqueue, the readiness
 * API of FreeBSD, OpenBSD, NetBSD and macOS, for chapter 09. No pizzeria
 * is built from it (the kitchens are Linux-only); on a BSD it compiles
 * against <sys/event.h>, and here against kqueue_stub.h, which declares
 * the same names so that the test can check it compiles.
 *
 * Beside epoll: one call, kevent, both hands over changes to the interest
 * list and waits for events, and a timer is an event like any other
 * (EVFILT_TIMER), so the oven needs neither a timerfd nor a heap.
 */
#ifdef __linux__
#include "kqueue_stub.h"
#else
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#endif
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

struct table;                            /* a customer's visit */
void let_in(int door, int kq);           /* accept, and watch_table() */
void serve(struct table *table);         /* the table has bytes to read */
void out_of_oven(struct table *table);   /* its oven's timer rang */

enum { MAX_CHANGES = 256, MAX_EVENTS = 64 };

// @snippet kqueue-changes
/* Changes wait here, and go to the kernel with the next wait: the same
 * call that waits hands them over, as io_uring_enter hands over jobs. */
static struct kevent changes[MAX_CHANGES];
static int pending;

static void change(uintptr_t ident, short filter, unsigned short flags,
                   intptr_t data, void *udata)
{
    if (pending < MAX_CHANGES)
        EV_SET(&changes[pending++], ident, filter, flags, 0, data, udata);
}

void watch_table(int fd, struct table *table)
{
    change((uintptr_t)fd, EVFILT_READ, EV_ADD, 0, table);
}

/* An oven is a one-shot timer with a number of its own (the order's),
 * ringing bake_ms milliseconds from now. */
void start_oven(uintptr_t order, int bake_ms, struct table *table)
{
    change(order, EVFILT_TIMER, EV_ADD | EV_ONESHOT, bake_ms, table);
}
// @end kqueue-changes

// @snippet kqueue-loop
int kitchen_day(int door)
{
    int kq = kqueue();
    if (kq < 0)
        return -1;
    change((uintptr_t)door, EVFILT_READ, EV_ADD, 0, NULL);
    struct kevent events[MAX_EVENTS];
    for (;;) {
        /* Hand over every change, and wait: one system call. */
        int n = kevent(kq, changes, pending, events, MAX_EVENTS, NULL);
        if (n < 0 && errno != EINTR)
            return -1;
        pending = 0;
        for (int i = 0; i < n; i++) {
            if (events[i].filter == EVFILT_TIMER)
                out_of_oven(events[i].udata);
            else if (events[i].ident == (uintptr_t)door)
                let_in(door, kq);
            else
                serve(events[i].udata);
        }
    }
}
// @end kqueue-loop
