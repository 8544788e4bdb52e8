/*
 * Step 03 - the threaded pizzeria: one kitchen, a cook (thread) per customer.
 *
 * The front door is kept by the main thread. Each customer it lets in gets
 * a cook of their own, a thread in this same process, who serves them with
 * the same blocking cook as steps 01 and 02 and leaves with them. The cooks
 * share everything: the menu, the order counter, the trace file, and the
 * list of customers in the dining room that closing time walks through.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "blocking_cook.h"
#include "kitchen.h"

// @snippet step
static const struct step step = {
    .name = "03-threads",
    .default_bake_ms = 1000,
    .default_max_conns = 1024,
    .max_conns_note = "most customers (each with a cook thread) at once; "
                      "past it, 503",
    .threaded = true,
};
// @end step

// @snippet stack-size
/*
 * A thread's stack is fixed when it is created, and glibc's default is the
 * process's stack limit (ulimit -s, usually 8 MiB) of address space per
 * thread. A cook needs far less: its big buffers are in the visit, which
 * serve_customer mallocs. Measured over the whole protocol suite, the
 * deepest a cook went was 12024 bytes, 12584 with AddressSanitizer, the
 * thread's own descriptor and thread-local storage included (chapter 03
 * shows how). 64 KiB is five times that.
 */
enum { COOK_STACK_BYTES = 64 * 1024 };
// @end stack-size

/* How long closing time waits for cooks to finish: within the 2 s rule. */
enum { CLOSING_GRACE_MS = 1500 };

// @snippet dining-room
/*
 * One cook and the customer they serve. Main allocates it; the cook frees
 * it on the way out.
 */
struct cook {
    struct customer customer;
    bool seated;              /* still on the list: fd is still open */
    struct cook *prev, *next; /* the dining room's list */
};

/*
 * Everything the cooks share besides the kitchen: who is in, and how many
 * cooks are still working. One mutex guards it all; the condition variable
 * tells closing time that a cook has left.
 */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cook_left;
    struct cook *first;  /* customers whose sockets are open */
    int cooks;           /* threads hired and not yet done */
} room = {.lock = PTHREAD_MUTEX_INITIALIZER};
// @end dining-room

/* Closing time must be able to reach the door from the signal handler. */
static volatile sig_atomic_t door = -1;

// @snippet closing-time
/*
 * Only the main thread ever runs this (the cooks block the signals). It
 * rings the bell, which wakes any cook at the oven, and shuts the door,
 * which wakes main in accept. Cooks waiting for their customer are woken
 * by main afterwards: see close_the_kitchen.
 */
static void on_closing_signal(int signal_number)
{
    (void)signal_number;
    closing_ring();
    if (door >= 0)
        shutdown(door, SHUT_RDWR);
}
// @end closing-time

static void open_the_room(void)
{
    /* Deadlines are on the monotonic clock, like every timer here. */
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&room.cook_left, &attributes);
    pthread_condattr_destroy(&attributes);
}

// @snippet seating
/* Caller holds room.lock. */
static void unseat(struct cook *cook)
{
    if (!cook->seated)
        return;
    if (cook->prev)
        cook->prev->next = cook->next;
    else
        room.first = cook->next;
    if (cook->next)
        cook->next->prev = cook->prev;
    cook->seated = false;
}

/*
 * serve_customer calls this just before it closes the socket. Once the
 * cook is off the list, closing time no longer touches the number, so the
 * kernel may hand it to the next customer the moment the cook closes it.
 */
static void leave_the_room(const struct customer *customer)
{
    struct cook *cook = (struct cook *)customer; /* customer comes first */
    pthread_mutex_lock(&room.lock);
    unseat(cook);
    pthread_mutex_unlock(&room.lock);
}
// @end seating

// @snippet cook
static void *cook_works(void *argument)
{
    struct cook *cook = argument;
    serve_customer(&cook->customer);

    pthread_mutex_lock(&room.lock);
    unseat(cook); /* already done by leave_the_room; harmless twice */
    room.cooks--;
    pthread_cond_signal(&room.cook_left);
    pthread_mutex_unlock(&room.lock);
    free(cook);
    return NULL;
}
// @end cook

// @snippet hire
/*
 * A new thread starts with its creator's signal mask. Blocking SIGINT and
 * SIGTERM around pthread_create therefore gives every cook a mask that
 * leaves the signals to the main thread, with no moment at which a cook
 * exists without it.
 */
static int start_thread(pthread_attr_t *attributes, struct cook *cook)
{
    sigset_t closing_signals, before;
    sigemptyset(&closing_signals);
    sigaddset(&closing_signals, SIGINT);
    sigaddset(&closing_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &closing_signals, &before);
    pthread_t thread;
    int error = pthread_create(&thread, attributes, cook_works, cook);
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    return error;
}

/*
 * Seat the customer and start their cook. False when the kitchen is full
 * (--max-conns) or no thread can be made: the caller turns them away.
 */
static bool hire_cook(pthread_attr_t *attributes, const struct customer *c)
{
    struct cook *cook = malloc(sizeof *cook);
    if (cook == NULL)
        return false;
    *cook = (struct cook){.customer = *c};
    cook->customer.before_close = leave_the_room;

    pthread_mutex_lock(&room.lock);
    bool full = room.cooks >= kitchen_options()->max_conns;
    if (!full) {
        /* Seated before the thread exists: the cook may leave at once. */
        cook->next = room.first;
        if (room.first)
            room.first->prev = cook;
        room.first = cook;
        cook->seated = true;
        room.cooks++;
    }
    pthread_mutex_unlock(&room.lock);
    if (full) {
        free(cook);
        return false;
    }

    int error = start_thread(attributes, cook);
    if (error == 0)
        return true;
    /* EAGAIN: out of threads (or of memory for a stack). Not fatal:
     * this customer gets a 503, and the next may find a cook again. */
    pthread_mutex_lock(&room.lock);
    unseat(cook);
    room.cooks--;
    pthread_mutex_unlock(&room.lock);
    free(cook);
    return false;
}
// @end hire

// @snippet accept-loop
static void let_customers_in(int listener)
{
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    /* Nobody waits for a cook's result: its resources go when it ends. */
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    int error = pthread_attr_setstacksize(&attributes, COOK_STACK_BYTES);
    if (error != 0) {
        fprintf(stderr, "pizzeria: stack size: %s\n", strerror(error));
        exit(1);
    }

    unsigned long customers = 0;
    while (!closing_rung()) {
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof peer;
        int fd = accept4(listener, (struct sockaddr *)&peer, &peer_len,
                         SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
                errno == ENOBUFS)
                usleep(100000); /* out of descriptors or memory: let some
                                   go; retrying at once would spin */
            continue;           /* EINTR, ECONNABORTED, closing time... */
        }
        struct customer customer = {.fd = fd, .number = ++customers};
        net_peer_name(&peer, customer.peer, sizeof customer.peer);
        trace_event(customer.number, "accept", "%s", customer.peer);
        if (closing_rung())
            close(fd);
        else if (!hire_cook(&attributes, &customer))
            kitchen_turn_away(fd, customer.number);
    }
    pthread_attr_destroy(&attributes);
}
// @end accept-loop

// @snippet close-the-kitchen
/*
 * The door is shut. Wake every cook still waiting for their customer by
 * shutting that customer's socket down (cooks at the oven hear the bell),
 * then give them CLOSING_GRACE_MS to leave.
 */
static void close_the_kitchen(void)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += CLOSING_GRACE_MS / 1000;
    deadline.tv_nsec += CLOSING_GRACE_MS % 1000 * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }

    pthread_mutex_lock(&room.lock);
    for (struct cook *cook = room.first; cook; cook = cook->next)
        shutdown(cook->customer.fd, SHUT_RDWR);
    while (room.cooks > 0)
        if (pthread_cond_timedwait(&room.cook_left, &room.lock,
                                   &deadline) == ETIMEDOUT)
            break; /* exit anyway: the kernel closes what is left */
    pthread_mutex_unlock(&room.lock);
}
// @end close-the-kitchen

// @snippet main
int main(int argc, char **argv)
{
    struct options options;
    options_parse(argc, argv, &step, &options);
    kitchen_open(&step, &options);
    closing_prepare(on_closing_signal);
    open_the_room();

    int listener = kitchen_open_door(&options);
    door = listener;
    let_customers_in(listener);
    door = -1;
    close(listener);
    close_the_kitchen();
    return 0;
}
// @end main
