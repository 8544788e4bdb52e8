/*
 * kitchen_loop.h - one cook with a tablet: the door, the closing bell and
 * every seated customer as callbacks on one event loop (loop.c).
 *
 * This is step 07's kitchen, kept apart from its server.c so that a step
 * with several cooks (step 08: a worker process per core) runs each of
 * them on exactly this code. Everything here belongs to one process and
 * one thread; the step decides how many of them there are.
 */
#ifndef PIZZERIA_KITCHEN_LOOP_H
#define PIZZERIA_KITCHEN_LOOP_H

#include <stdatomic.h>

struct loop;

/*
 * Open the kitchen on the listening socket `listener` (the door is made
 * non-blocking here): the tablet, the bell and the door on it, the
 * pantry of lent buffers. Exits 1 with kitchen_fail if any cannot be had.
 */
void kitchen_loop_open(int listener);

/* Serve until closing time. A tablet that stops working is fatal. */
void kitchen_loop_run(void);

/* Show every customer out and give back the door, the tablet, the pantry. */
void kitchen_loop_close(void);

/* ---------------------------------------- for a kitchen of several cooks */

/*
 * The herd, for a door in every cook's tablet (before kitchen_loop_open):
 * a new customer wakes every cook waiting on it, unless the door is put
 * on the tablet with EPOLLEXCLUSIVE (kitchen_loop_wake_one_cook), when
 * epoll wakes one of them (or a few). kitchen_loop_count_wakeups counts,
 * in *tally, every time the door woke this cook and every time it woke
 * it for nobody: the wasted wake-ups; and in *let_in, how many customers
 * this cook let in, to see how evenly the door spreads them.
 */
struct door_tally {
    atomic_ulong wakeups;
    atomic_ulong for_nobody;
};
void kitchen_loop_wake_one_cook(void);
void kitchen_loop_count_wakeups(struct door_tally *tally,
                                atomic_ulong *let_in);

/*
 * The tablet itself, for a step that watches one more thing on it (step
 * 08's workers: the signal that says "last orders").
 */
struct loop *kitchen_tablet(void);

/*
 * This cook is one of `cooks` sharing one kitchen, in memory they all map:
 * customers are numbered on customer_numbers, and --max-conns counts the
 * seats of every cook, seat_slots[0 .. cooks), this one's being
 * seat_slots[mine]. After kitchen_loop_open, before the first customer.
 */
void kitchen_loop_share(atomic_ulong *customer_numbers, atomic_uint *seat_slots,
                        unsigned cooks, unsigned mine);

/*
 * Go home once the customers seated now are served: shut the door, answer
 * what is under way with "Connection: close", give anyone who has not
 * begun a request a moment to, and make kitchen_loop_run return when the
 * last has left. Closing time (the bell) still stops everything at once.
 */
void kitchen_loop_last_orders(void);

#endif
