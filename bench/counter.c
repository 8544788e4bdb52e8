/*
 * counter.c - two ways to count orders from several cooks at once: a plain
 * counter, and an atomic one like the kitchen's (steps/kitchen/pizzeria.c).
 *
 *   cc -O2 -pthread -o build/bench/counter bench/counter.c
 *   build/bench/counter [COOKS] [ORDERS_EACH]
 *
 * Each cook takes ORDERS_EACH numbers. At the end the counter should say
 * COOKS x ORDERS_EACH; the plain one usually says less.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static long orders_each;
static pthread_barrier_t opening; /* every cook starts at the same moment */

// @snippet counters
static unsigned long plain_counter;   /* read, add one, write back */
static atomic_ulong atomic_counter;   /* one indivisible step */

static void *cook_with_plain_counter(void *unused)
{
    pthread_barrier_wait(&opening);
    for (long i = 0; i < orders_each; i++) {
        /* What "plain_counter++" is to the processor: three steps. */
        unsigned long seen = *(volatile unsigned long *)&plain_counter;
        *(volatile unsigned long *)&plain_counter = seen + 1;
    }
    return unused;
}

static void *cook_with_atomic_counter(void *unused)
{
    pthread_barrier_wait(&opening);
    for (long i = 0; i < orders_each; i++)
        atomic_fetch_add(&atomic_counter, 1);
    return unused;
}
// @end counters

static void run(const char *name, void *(*cook)(void *), int cooks,
                unsigned long (*result)(void))
{
    pthread_t threads[64];
    pthread_barrier_init(&opening, NULL, (unsigned)cooks);
    for (int i = 0; i < cooks; i++)
        if (pthread_create(&threads[i], NULL, cook, NULL) != 0)
            exit(1);
    for (int i = 0; i < cooks; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&opening);
    unsigned long expected = (unsigned long)cooks * (unsigned long)orders_each;
    printf("%-7s %lu orders counted, %lu taken, %lu lost\n", name, result(),
           expected, expected - result());
}

static unsigned long plain_result(void) { return plain_counter; }
static unsigned long atomic_result(void) { return atomic_counter; }

int main(int argc, char **argv)
{
    int cooks = argc > 1 ? atoi(argv[1]) : 2;
    orders_each = argc > 2 ? atol(argv[2]) : 100000000;
    if (cooks < 1 || cooks > 64 || orders_each < 1) {
        fprintf(stderr, "usage: counter [COOKS 1..64] [ORDERS_EACH]\n");
        return 2;
    }
    run("plain", cook_with_plain_counter, cooks, plain_result);
    run("atomic", cook_with_atomic_counter, cooks, atomic_result);
    return 0;
}
