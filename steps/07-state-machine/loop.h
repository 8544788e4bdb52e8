/*
 * loop.h - a small event loop: the cook's whole working day in one
 * function, loop_run().
 *
 * Three kinds of things can need the cook, and the loop keeps one list
 * for each:
 *
 *   descriptors  loop_watch(): a descriptor and a callback, called with
 *                what epoll reported (edge-triggered: once per change,
 *                so the callback must read or write until EAGAIN);
 *   timers       loop_timer_set(): a callback at a moment, kept on a
 *                min-heap (timer_heap.h), cancelled with loop_timer_cancel;
 *   requeued     loop_again(): a watch that stopped early to let others
 *                have their turn is called again on the next round, even
 *                though no new edge will come for it.
 *
 * One round of loop_run() goes through fixed phases:
 *
 *   1. wait     epoll_wait, no longer than until the first timer is due
 *               (not at all when a watch was requeued);
 *   2. timers   every timer that is due, soonest first;
 *   3. ready    the descriptors epoll reported, then the requeued ones;
 *   4. closed   watches closed during the round are handed back to
 *               their owners (loop_close's callback), who may free them.
 *
 * Phase 4 is why a stale event is harmless: epoll's answer may name a
 * descriptor that a timer (phase 2) or an earlier descriptor (phase 3)
 * closed a moment ago. The watch it points to is only marked closed until
 * the round ends, so phase 3 sees the mark and skips it.
 *
 * The loop allocates nothing per watch or timer: both live inside what
 * they belong to (a table), as in libuv, and a callback finds its table
 * from the watch or timer it is handed (container_of). An idle customer
 * then costs one block of memory, not three.
 *
 * The shape is redis's ae.c and libuv's uv_run, shrunk: no threads, no
 * other backend than epoll, nothing the pizzeria does not use.
 */
#ifndef PIZZERIA_LOOP_H
#define PIZZERIA_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timer_heap.h"

/* The struct that holds member at ptr: from a watch back to its table. */
#define container_of(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct loop;
struct loop_watch;
struct loop_timer;

/* events: EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLERR, EPOLLHUP; 0 when the
 * call is a requeued turn (loop_again) rather than news from epoll. */
typedef void loop_io_fn(struct loop *loop, struct loop_watch *watch,
                        uint32_t events);
typedef void loop_closed_fn(struct loop_watch *watch);
typedef void loop_timer_fn(struct loop *loop, struct loop_timer *timer);

// @snippet loop-types
struct loop_watch {
    int fd;
    bool closed;   /* loop_close'd: handed back at the round's end */
    bool requeued; /* on the again line */
    union {
        loop_io_fn *on_news;       /* while watched */
        loop_closed_fn *on_closed; /* once closed (NULL: nothing to do) */
    };
    struct loop_watch *prev, *next; /* the again line, or once closed the
                                       round's closed list */
};

struct loop_timer {
    struct timer timer; /* first: the heap's pointer is the loop_timer's */
    loop_timer_fn *callback;
};
// @end loop-types

struct loop *loop_create(void);
/* Hands back every watch still closing; the others are the caller's. */
void loop_destroy(struct loop *loop);

/* Watch fd for events (EPOLLIN, EPOLLOUT...; EPOLLET is added), with a
 * watch the caller owns. False, with errno, if epoll refused. */
bool loop_watch(struct loop *loop, struct loop_watch *watch, int fd,
                uint32_t events, loop_io_fn *on_news);
/* Stop watching (before closing the descriptor, or after: closing took it
 * off epoll already). The watch is handed back to on_closed when the
 * round ends; until then its memory must stay. */
void loop_close(struct loop *loop, struct loop_watch *watch,
                loop_closed_fn *on_closed);
/* Call the watch again on the next round (events 0). */
void loop_again(struct loop *loop, struct loop_watch *watch);

void loop_timer_init(struct loop_timer *timer, loop_timer_fn *callback);
bool loop_timer_set(struct loop *loop, struct loop_timer *timer,
                    long long when_us);
void loop_timer_cancel(struct loop *loop, struct loop_timer *timer);

/* Run rounds until loop_stop() is called (from a callback): true. False,
 * with errno, if epoll_wait failed for a reason other than a signal. */
bool loop_run(struct loop *loop);
void loop_stop(struct loop *loop);

#endif
