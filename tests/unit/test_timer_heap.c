/*
 * test_timer_heap.c - step 07's timer heap (steps/07-state-machine/
 * timer_heap.c): insert, move, cancel from the middle, pop order, and
 * 10,000 random operations checked against a plain sorted reference.
 *
 * Output: one line per failure, then "N passed, M failed". Exit status 1
 * on any failure.
 */
#include <stdio.h>
#include <stdlib.h>

#include "timer_heap.h"

static int passed, failed;

#define CHECK(cond)                                                    \
    do {                                                               \
        if (cond) {                                                    \
            passed++;                                                  \
        } else {                                                       \
            failed++;                                                  \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                              \
    } while (0)

/* Every timer's index says where it is, and no parent is due after a
 * child: the two invariants everything else rests on. */
static bool heap_is_sound(const struct timer_heap *heap)
{
    for (size_t i = 0; i < heap->count; i++) {
        if (heap->items[i]->index != (long)i)
            return false;
        if (i > 0 && heap->items[(i - 1) / 2]->when_us >
                         heap->items[i]->when_us)
            return false;
    }
    return true;
}

static long long pop(struct timer_heap *heap)
{
    struct timer *first = timer_heap_first(heap);
    timer_heap_cancel(heap, first);
    return first->when_us;
}

static void test_pop_order(void)
{
    struct timer_heap heap;
    timer_heap_init(&heap);
    long long whens[] = {50, 10, 40, 30, 20, 10, 60};
    struct timer timers[7];
    for (int i = 0; i < 7; i++) {
        timer_init(&timers[i]);
        CHECK(timer_heap_set(&heap, &timers[i], whens[i]));
    }
    CHECK(heap_is_sound(&heap));
    long long expected[] = {10, 10, 20, 30, 40, 50, 60};
    for (int i = 0; i < 7; i++)
        CHECK(pop(&heap) == expected[i]);
    CHECK(timer_heap_first(&heap) == NULL);
    for (int i = 0; i < 7; i++)
        CHECK(!timer_armed(&timers[i]));
    timer_heap_free(&heap);
}

static void test_cancel_from_the_middle_and_move(void)
{
    struct timer_heap heap;
    timer_heap_init(&heap);
    struct timer timers[20];
    for (int i = 0; i < 20; i++) {
        timer_init(&timers[i]);
        timer_heap_set(&heap, &timers[i], 100 + i);
    }
    timer_heap_cancel(&heap, &timers[7]);
    timer_heap_cancel(&heap, &timers[7]); /* twice: harmless */
    timer_heap_cancel(&heap, &timers[13]);
    CHECK(heap.count == 18 && heap_is_sound(&heap));
    timer_heap_set(&heap, &timers[19], 1);   /* sooner: to the top */
    timer_heap_set(&heap, &timers[0], 1000); /* later: to the bottom */
    CHECK(heap.count == 18 && heap_is_sound(&heap));
    CHECK(timer_heap_first(&heap) == &timers[19]);
    long long last = 0;
    size_t popped = 0;
    while (timer_heap_first(&heap)) {
        long long when = pop(&heap);
        CHECK(when >= last);
        last = when;
        popped++;
    }
    CHECK(popped == 18 && last == 1000);
    timer_heap_free(&heap);
}

static int by_when(const void *a, const void *b)
{
    long long x = (*(struct timer *const *)a)->when_us;
    long long y = (*(struct timer *const *)b)->when_us;
    return (x > y) - (x < y);
}

/* 10,000 random sets, moves and cancels; after each, the soonest timer
 * must be the reference's soonest, found by sorting all armed timers. */
static void test_random_against_a_sorted_reference(void)
{
    enum { N = 500, OPERATIONS = 10000 };
    struct timer_heap heap;
    timer_heap_init(&heap);
    static struct timer timers[N];
    static struct timer *armed[N];
    for (int i = 0; i < N; i++)
        timer_init(&timers[i]);
    srand(7);
    bool sound = true, soonest_right = true, count_right = true;
    for (int op = 0; op < OPERATIONS; op++) {
        struct timer *t = &timers[rand() % N];
        switch (rand() % 4) {
        case 0:
        case 1: /* set or move */
            timer_heap_set(&heap, t, rand() % 100000);
            break;
        case 2:
            timer_heap_cancel(&heap, t);
            break;
        case 3: /* the soonest is due: pop it */
            if (timer_heap_first(&heap))
                pop(&heap);
            break;
        }
        size_t n = 0;
        for (int i = 0; i < N; i++)
            if (timer_armed(&timers[i]))
                armed[n++] = &timers[i];
        qsort(armed, n, sizeof armed[0], by_when);
        sound = sound && heap_is_sound(&heap);
        count_right = count_right && heap.count == n;
        const struct timer *first = timer_heap_first(&heap);
        soonest_right = soonest_right &&
                        (n == 0 ? first == NULL
                                : first && first->when_us == armed[0]->when_us);
    }
    CHECK(sound);
    CHECK(count_right);
    CHECK(soonest_right);
    /* Drain what is left: it comes out in the reference's order. */
    size_t n = 0;
    for (int i = 0; i < N; i++)
        if (timer_armed(&timers[i]))
            armed[n++] = &timers[i];
    qsort(armed, n, sizeof armed[0], by_when);
    bool in_order = true;
    for (size_t i = 0; i < n; i++)
        in_order = in_order && pop(&heap) == armed[i]->when_us;
    CHECK(in_order);
    CHECK(timer_heap_first(&heap) == NULL);
    timer_heap_free(&heap);
}

int main(void)
{
    test_pop_order();
    test_cancel_from_the_middle_and_move();
    test_random_against_a_sorted_reference();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
