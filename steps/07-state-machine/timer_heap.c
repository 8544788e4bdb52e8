/*
 * timer_heap.c - a binary min-heap of timers (see timer_heap.h).
 *
 * The heap property: no timer is due later than its children. A timer
 * that became sooner climbs (sift_up), one that became later sinks
 * (sift_down); each step swaps it with one neighbour and updates both
 * their indexes, so every timer always knows where it is.
 */
#include "timer_heap.h"

#include <assert.h>
#include <stdlib.h>

void timer_init(struct timer *timer)
{
    timer->when_us = 0;
    timer->index = TIMER_IDLE;
}

void timer_heap_init(struct timer_heap *heap)
{
    *heap = (struct timer_heap){0};
}

void timer_heap_free(struct timer_heap *heap)
{
    for (size_t i = 0; i < heap->count; i++)
        heap->items[i]->index = TIMER_IDLE;
    free(heap->items);
    timer_heap_init(heap);
}

static void place(struct timer_heap *heap, struct timer *timer, size_t at)
{
    heap->items[at] = timer;
    timer->index = (long)at;
}

// @snippet sift
static void sift_up(struct timer_heap *heap, size_t at)
{
    struct timer *timer = heap->items[at];
    while (at > 0) {
        size_t parent = (at - 1) / 2;
        if (heap->items[parent]->when_us <= timer->when_us)
            break;
        place(heap, heap->items[parent], at);
        at = parent;
    }
    place(heap, timer, at);
}

static void sift_down(struct timer_heap *heap, size_t at)
{
    struct timer *timer = heap->items[at];
    for (;;) {
        size_t child = 2 * at + 1;
        if (child >= heap->count)
            break;
        if (child + 1 < heap->count &&
            heap->items[child + 1]->when_us < heap->items[child]->when_us)
            child++; /* the sooner of the two children */
        if (timer->when_us <= heap->items[child]->when_us)
            break;
        place(heap, heap->items[child], at);
        at = child;
    }
    place(heap, timer, at);
}
// @end sift

static bool grow(struct timer_heap *heap)
{
    size_t capacity = heap->capacity ? heap->capacity * 2 : 64;
    struct timer **items = realloc(heap->items, capacity * sizeof *items);
    if (items == NULL)
        return false;
    heap->items = items;
    heap->capacity = capacity;
    return true;
}

bool timer_heap_set(struct timer_heap *heap, struct timer *timer,
                    long long when_us)
{
    if (timer_armed(timer)) {
        long long was = timer->when_us;
        timer->when_us = when_us;
        if (when_us < was)
            sift_up(heap, (size_t)timer->index);
        else
            sift_down(heap, (size_t)timer->index);
        return true;
    }
    /* The array only ever grows: once the kitchen has been as busy as it
     * gets, setting a timer allocates nothing. */
    if (heap->count == heap->capacity && !grow(heap))
        return false;
    timer->when_us = when_us;
    place(heap, timer, heap->count++);
    sift_up(heap, heap->count - 1);
    return true;
}

// @snippet cancel
/* The last timer takes the cancelled one's place, then climbs or sinks. */
void timer_heap_cancel(struct timer_heap *heap, struct timer *timer)
{
    if (!timer_armed(timer))
        return;
    size_t at = (size_t)timer->index;
    assert(at < heap->count && heap->items[at] == timer);
    timer->index = TIMER_IDLE;
    struct timer *last = heap->items[--heap->count];
    if (last == timer)
        return;
    place(heap, last, at);
    if (at > 0 && heap->items[(at - 1) / 2]->when_us > last->when_us)
        sift_up(heap, at);
    else
        sift_down(heap, at);
}
// @end cancel

struct timer *timer_heap_first(const struct timer_heap *heap)
{
    return heap->count > 0 ? heap->items[0] : NULL;
}
