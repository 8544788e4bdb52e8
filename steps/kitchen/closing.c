/*
 * closing.c - the closing bell (a self-pipe) and the signals that ring it.
 */
#include "closing.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "kitchen.h"

// @snippet bell-flag
/*
 * Atomic, not merely volatile sig_atomic_t: the signal handler may run in
 * one thread while cooks read the flag in others (step 03), and only an
 * atomic makes that well-defined. A lock-free atomic is safe in a handler.
 */
static atomic_bool rung;
// @end bell-flag
static int bell[2] = {-1, -1};

/* Set a signal's handler, or stop: a kitchen deaf to closing time (or
 * killed by its first EPIPE) must not open. */
static void handle(int signal_number, const char *name, void (*handler)(int))
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; /* no SA_RESTART: blocked calls return EINTR */
    if (sigaction(signal_number, &action, NULL) < 0)
        kitchen_fail("sigaction(%s)", name);
}

void closing_prepare(void (*handler)(int))
{
    /* A customer who hangs up mid-answer must cost an EPIPE, not the server. */
    handle(SIGPIPE, "SIGPIPE", SIG_IGN);

    if (pipe2(bell, O_CLOEXEC | O_NONBLOCK) < 0)
        kitchen_fail("pipe2 (the closing bell)");
    handle(SIGINT, "SIGINT", handler);
    handle(SIGTERM, "SIGTERM", handler);
}

void closing_ring(void)
{
    int saved = errno; /* a handler must not change errno under the cook */
    atomic_store(&rung, true);
    ssize_t ignored = write(bell[1], "!", 1); /* full pipe: already rung */
    (void)ignored;
    errno = saved;
}

bool closing_rung(void)
{
    return atomic_load(&rung);
}

int closing_bell_fd(void)
{
    return bell[0];
}
