/*
 * closing.c - the closing bell (a self-pipe) and the signals that ring it.
 */
#include "closing.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// @snippet bell-flag
/*
 * Atomic, not merely volatile sig_atomic_t: the signal handler may run in
 * one thread while cooks read the flag in others (step 03), and only an
 * atomic makes that well-defined. A lock-free atomic is safe in a handler.
 */
static atomic_bool rung;
// @end bell-flag
static int bell[2] = {-1, -1};

void closing_prepare(void (*handler)(int))
{
    /* A customer who hangs up mid-answer must cost an EPIPE, not the server. */
    signal(SIGPIPE, SIG_IGN);

    if (pipe2(bell, O_CLOEXEC | O_NONBLOCK) < 0) {
        fprintf(stderr, "pizzeria: pipe: %s\n", strerror(errno));
        exit(1);
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; /* no SA_RESTART: blocked calls return EINTR */
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
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
