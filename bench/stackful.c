/*
 * stackful.c - what a customer parked at an await costs: a stackful
 * coroutine (ucontext, a stack of its own) against a stackless one (step
 * 10's macros, coro.h, and a frame).
 *
 * Both run the same small recipe, step 01's shape: serve a customer,
 * which reads a request, which reads more bytes, which waits. The
 * stackful one waits three calls deep, on its own stack, with its locals
 * where C puts them. The stackless one waits at an await in one function,
 * its locals in its frame. N customers of each kind are parked, and the
 * process's proportional set size (PSS, /proc/self/smaps_rollup) is read
 * before and after: what N parked customers cost, divided by N.
 *
 *     stackful [CUSTOMERS [STACK_KIB...]]   one CSV row per kind and stack
 *
 * Stacks are mapped with mmap, as a coroutine library does: only the
 * pages a coroutine touches become memory, so a bigger stack costs
 * address space, not PSS, until something deep uses it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "../steps/10-coroutines/coro.h"

/* What either kind keeps for one customer besides its own stack. */
struct visit_state {
    int fd;
    unsigned long number;
    uint32_t in_start, in_end;
    char *input; /* lent while a request is read: NULL while idle */
    long long deadline_us;
};

/* ---------------------------------------------------------------- stackful */

struct stackful {
    ucontext_t context;
    struct visit_state state;
    void *stack;
    size_t stack_size;
};

static ucontext_t the_loop; /* where a parked coroutine returns to */
static struct stackful *running;

/* Wait for the socket: give the loop the cook, until it gives it back. */
static void park(void)
{
    swapcontext(&running->context, &the_loop);
}

static bool read_more(struct visit_state *s)
{
    char note[64]; /* a local, as recv's caller has: on the stack */
    snprintf(note, sizeof note, "customer %lu waits", s->number);
    park();
    return note[0] != '\0';
}

static bool read_request(struct visit_state *s)
{
    size_t scanned = s->in_end - s->in_start; /* more locals */
    while (read_more(s))
        scanned++;
    return scanned > 0;
}

static void serve_customer(void)
{
    struct visit_state *s = &running->state;
    while (read_request(s))
        ;
}

/* Give the running coroutine its stack, and start it. (Only globals here:
 * getcontext returns twice, and a local could be lost between.) */
static void begin(void)
{
    if (getcontext(&running->context) < 0) {
        perror("getcontext");
        exit(1);
    }
    running->context.uc_stack.ss_sp = running->stack;
    running->context.uc_stack.ss_size = running->stack_size;
    running->context.uc_link = &the_loop;
    makecontext(&running->context, serve_customer, 0);
    swapcontext(&the_loop, &running->context);
}

static struct stackful *start_stackful(unsigned long number, size_t stack)
{
    struct stackful *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->stack = mmap(NULL, stack, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (c->stack == MAP_FAILED) {
        free(c);
        return NULL;
    }
    c->stack_size = stack;
    c->state.number = number;
    running = c;
    begin(); /* runs until it parks */
    return c;
}

/* ---------------------------------------------------------------- stackless */

struct stackless {
    int resume;
    struct visit_state state;
};

static bool socket_ready(const struct stackless *c)
{
    (void)c;
    return false; /* nothing comes: parked */
}

static bool serve_stackless(struct stackless *c)
{
    CORO_BEGIN(c);
    for (;;)
        CORO_AWAIT(c, socket_ready(c));
    CORO_END(c);
}

static struct stackless *start_stackless(unsigned long number)
{
    struct stackless *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->state.number = number;
    serve_stackless(c); /* runs until its first await */
    return c;
}

/* ---------------------------------------------------------------- measuring */

static long pss_kib(void)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (f == NULL) {
        perror("/proc/self/smaps_rollup");
        exit(1);
    }
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Pss: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static void measure(const char *kind, unsigned long customers, size_t stack)
{
    void **parked = calloc(customers, sizeof *parked);
    if (parked == NULL) {
        perror("calloc");
        exit(1);
    }
    long before = pss_kib();
    for (unsigned long i = 0; i < customers; i++) {
        parked[i] = stack ? (void *)start_stackful(i + 1, stack)
                          : (void *)start_stackless(i + 1);
        if (parked[i] == NULL) {
            fprintf(stderr, "stackful: out of memory at customer %lu\n", i);
            exit(1);
        }
    }
    long after = pss_kib();
    printf("%s,%zu,%lu,%zu,%ld,%ld,%.0f\n", kind, stack / 1024, customers,
           stack ? sizeof(struct stackful) : sizeof(struct stackless),
           before, after, (after - before) * 1024.0 / customers);
    for (unsigned long i = 0; i < customers; i++) {
        if (stack) {
            struct stackful *c = parked[i];
            munmap(c->stack, c->stack_size);
        }
        free(parked[i]);
    }
    free(parked);
}

int main(int argc, char **argv)
{
    unsigned long customers = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    if (customers == 0) {
        fprintf(stderr, "usage: stackful [CUSTOMERS [STACK_KIB...]]\n");
        return 2;
    }
    printf("kind,stack_kib,customers,struct_bytes,pss_before_kib,"
           "pss_after_kib,bytes_per_customer\n");
    measure("stackless", customers, 0);
    if (argc <= 2) {
        measure("stackful", customers, 64 * 1024);
        measure("stackful", customers, 8 * 1024 * 1024);
    }
    for (int i = 2; i < argc; i++)
        measure("stackful", customers, strtoul(argv[i], NULL, 10) * 1024);
    return 0;
}
