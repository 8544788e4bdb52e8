/*
 * kitchen.h - everything the steps share, and the few things a kitchen
 * needs before it opens: the clock, the cook's name, the front door.
 *
 * A step's server.c includes this one header. What it adds is its
 * architecture: how it accepts, how many cooks, how a cook waits.
 */
#ifndef PIZZERIA_KITCHEN_H
#define PIZZERIA_KITCHEN_H

#include <stddef.h>

#include "closing.h"
#include "http.h"
#include "log.h"
#include "net.h"
#include "options.h"
#include "pizzeria.h"
#include "response.h"

/* Set up everything shared: pages, Server header, logs, the clock. */
void kitchen_open(const struct step *step, const struct options *options);

/* The options the kitchen was opened with. */
const struct options *kitchen_options(void);

/* Monotonic time, in microseconds: since boot, and since kitchen_open. */
long long monotonic_us(void);
long long kitchen_elapsed_us(void);

/* Who is cooking: "pid P", or "pid P tid T" in a threaded step. */
void kitchen_cook_name(char *out, size_t cap);

/*
 * Listen on --host and --port, then print "listening on http://HOST:PORT"
 * and flush it. Exits 1, with a line naming the port, if it cannot.
 */
int kitchen_open_door(const struct options *options);

/*
 * The kitchen is full (--max-conns): answer 503 without reading the
 * request, and close. Never blocks: the answer is small enough for any
 * socket's send buffer, and what the customer already sent is drained
 * first so the close is a FIN, not a reset that could destroy the 503.
 */
void kitchen_turn_away(int fd, unsigned long conn);

#endif
