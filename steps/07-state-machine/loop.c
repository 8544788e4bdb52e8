/*
 * loop.c - the event loop (see loop.h for its phases).
 */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "kitchen.h" /* monotonic_us */

enum { MAX_EVENTS = 256 }; /* per epoll_wait; more wait for the next round */

struct loop {
    int epfd;
    bool stopped;
    struct timer_heap timers;
    struct loop_watch *closed; /* closed this round: handed back in phase 4 */
    struct loop_watch *again;  /* requeued, oldest first: phase 3 calls */
    struct loop_watch *again_tail; /* them after epoll's news */
    struct epoll_event ready[MAX_EVENTS];
};

struct loop *loop_create(void)
{
    struct loop *loop = calloc(1, sizeof *loop);
    if (loop == NULL)
        return NULL;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        free(loop);
        return NULL;
    }
    timer_heap_init(&loop->timers);
    return loop;
}

/* Phase 4: the round is over, no answer from epoll can name these now. */
static void hand_back_closed(struct loop *loop)
{
    while (loop->closed) {
        struct loop_watch *watch = loop->closed;
        loop->closed = watch->next;
        if (watch->on_closed)
            watch->on_closed(watch);
    }
}

void loop_destroy(struct loop *loop)
{
    hand_back_closed(loop);
    timer_heap_free(&loop->timers);
    close(loop->epfd);
    free(loop);
}

/* ---------------------------------------------------------- descriptors */

// @snippet watch
bool loop_watch(struct loop *loop, struct loop_watch *watch, int fd,
                uint32_t events, loop_io_fn *on_news)
{
    *watch = (struct loop_watch){.fd = fd, .on_news = on_news};
    struct epoll_event event = {.events = events | EPOLLET,
                                .data.ptr = watch};
    return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &event) == 0;
}

static void take_off_again(struct loop *loop, struct loop_watch *watch)
{
    if (!watch->requeued)
        return;
    if (watch->prev)
        watch->prev->next = watch->next;
    else
        loop->again = watch->next;
    if (watch->next)
        watch->next->prev = watch->prev;
    else
        loop->again_tail = watch->prev;
    watch->requeued = false;
}

/*
 * Off epoll's list at once, but handed back only at the end of the round:
 * this round's answer from epoll may still hold a pointer to it.
 */
void loop_close(struct loop *loop, struct loop_watch *watch,
                loop_closed_fn *on_closed)
{
    take_off_again(loop, watch);
    /* EBADF or ENOENT when the descriptor is closed already: closing the
     * last descriptor of a socket takes it off epoll by itself. */
    (void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, watch->fd, NULL);
    watch->closed = true;
    watch->on_closed = on_closed;
    watch->next = loop->closed;
    loop->closed = watch;
}
// @end watch

// @snippet again
void loop_again(struct loop *loop, struct loop_watch *watch)
{
    if (watch->requeued || watch->closed)
        return;
    watch->requeued = true;
    watch->next = NULL;
    watch->prev = loop->again_tail;
    if (loop->again_tail)
        loop->again_tail->next = watch;
    else
        loop->again = watch;
    loop->again_tail = watch;
}
// @end again

/* ---------------------------------------------------------------- timers */

void loop_timer_init(struct loop_timer *timer, loop_timer_fn *callback)
{
    timer_init(&timer->timer);
    timer->callback = callback;
}

bool loop_timer_set(struct loop *loop, struct loop_timer *timer,
                    long long when_us)
{
    return timer_heap_set(&loop->timers, &timer->timer, when_us);
}

void loop_timer_cancel(struct loop *loop, struct loop_timer *timer)
{
    timer_heap_cancel(&loop->timers, &timer->timer);
}

/* ---------------------------------------------------------------- a round */

// @snippet wait-time
/* How long phase 1 may sleep: until the first timer, rounded up so that
 * a timer never fires early; 0 when someone is requeued; -1 for ever. */
static int wait_ms(const struct loop *loop)
{
    if (loop->again != NULL)
        return 0;
    const struct timer *first = timer_heap_first(&loop->timers);
    if (first == NULL)
        return -1;
    long long left_us = first->when_us - monotonic_us();
    if (left_us <= 0)
        return 0;
    long long ms = (left_us + 999) / 1000;
    return ms > 60000 ? 60000 : (int)ms;
}
// @end wait-time

// @snippet run-timers
static void run_timers(struct loop *loop)
{
    long long now = monotonic_us();
    struct timer *first;
    while (!loop->stopped && (first = timer_heap_first(&loop->timers)) &&
           first->when_us <= now) {
        struct loop_timer *timer = (struct loop_timer *)first;
        timer_heap_cancel(&loop->timers, first); /* before: it may re-arm */
        timer->callback(loop, timer);
    }
}
// @end run-timers

// @snippet run-ready
static void run_ready(struct loop *loop, int n)
{
    for (int i = 0; i < n && !loop->stopped; i++) {
        struct loop_watch *watch = loop->ready[i].data.ptr;
        if (!watch->closed) /* closed earlier in this round: a stale event */
            watch->on_news(loop, watch, loop->ready[i].events);
    }
    /* Those who stopped early in an earlier round, one turn each. A
     * watch that stops early again goes to the back of the line, and the
     * line's length now bounds the turns: no one is served twice. */
    int turns = 0;
    for (struct loop_watch *w = loop->again; w; w = w->next)
        turns++;
    while (turns-- > 0 && loop->again && !loop->stopped) {
        struct loop_watch *watch = loop->again;
        take_off_again(loop, watch);
        watch->on_news(loop, watch, 0);
    }
}
// @end run-ready

// @snippet run
bool loop_run(struct loop *loop)
{
    while (!loop->stopped) {
        int n = epoll_wait(loop->epfd, loop->ready, MAX_EVENTS,
                           wait_ms(loop));
        if (n < 0) {
            if (errno != EINTR)
                return false; /* a bug (EBADF, EINVAL): nothing to wait on */
            n = 0;
        }
        run_timers(loop);
        run_ready(loop, n);
        hand_back_closed(loop);
    }
    return true;
}
// @end run

void loop_stop(struct loop *loop)
{
    loop->stopped = true;
}
