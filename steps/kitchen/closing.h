/*
 * closing.h - closing time: how a kitchen learns that SIGINT or SIGTERM came.
 *
 * The signal handler rings a bell: it sets a flag and writes a byte into a
 * pipe that nobody ever reads. From then on the pipe's read end stays
 * readable, so any cook who waits on it (with poll, or in a readiness set)
 * wakes up, now or later: the bell cannot be missed by arriving just
 * before someone starts to wait.
 */
#ifndef PIZZERIA_CLOSING_H
#define PIZZERIA_CLOSING_H

#include <stdbool.h>

/*
 * Ignore SIGPIPE, make the bell, and run handler on SIGINT and SIGTERM.
 * The handler is installed without SA_RESTART, so a blocked accept, recv or
 * send returns EINTR instead of carrying on. It must call closing_ring().
 * If the bell or a handler cannot be set up, exits 1 saying why.
 */
void closing_prepare(void (*handler)(int));

/* From a signal handler (async-signal-safe): it is closing time. */
void closing_ring(void);

bool closing_rung(void);

/* Readable once the bell has rung; never drained. */
int closing_bell_fd(void);

#endif
