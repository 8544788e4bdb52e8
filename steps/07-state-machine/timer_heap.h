/*
 * timer_heap.h - the kitchen's timers: every deadline (an order in the
 * oven, an idle customer's patience) on one binary min-heap, the soonest
 * at the top.
 *
 * Step 06 gave every order a timerfd and walked past every table ten
 * times a second for the idle deadlines. Here a deadline is a small struct
 * that lives inside whatever it belongs to (a connection), and the heap
 * only holds pointers to them: adding, moving and cancelling one costs
 * O(log n), and "when is the next one due?" costs nothing. Each timer
 * knows its own place in the heap (index), which is what makes cancelling
 * one from the middle O(log n) instead of a search.
 */
#ifndef PIZZERIA_TIMER_HEAP_H
#define PIZZERIA_TIMER_HEAP_H

#include <stdbool.h>
#include <stddef.h>

enum { TIMER_IDLE = -1 }; /* index of a timer that is not on the heap */

// @snippet timer
struct timer {
    long long when_us; /* monotonic time it is due */
    long index;        /* where it sits in heap.items, or TIMER_IDLE */
};

struct timer_heap {
    struct timer **items; /* items[0] is the soonest; items[i]'s children
                             are items[2i+1] and items[2i+2] */
    size_t count, capacity;
};
// @end timer

void timer_init(struct timer *timer);
void timer_heap_init(struct timer_heap *heap);
void timer_heap_free(struct timer_heap *heap);

/* Put the timer on the heap for when_us, or move it there if it already
 * is. False only when the heap could not grow (out of memory). */
bool timer_heap_set(struct timer_heap *heap, struct timer *timer,
                    long long when_us);

/* Take the timer off the heap; harmless if it is not on it. */
void timer_heap_cancel(struct timer_heap *heap, struct timer *timer);

/* The soonest timer, or NULL when the heap is empty. */
struct timer *timer_heap_first(const struct timer_heap *heap);

static inline bool timer_armed(const struct timer *timer)
{
    return timer->index != TIMER_IDLE;
}

#endif
