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

/*
 * The sizes every cook shares, written once.
 *
 * A customer's input buffer holds the largest request the contract
 * accepts, whole: a cook never has to refuse a request for its own lack
 * of room. A cook who says "close" lingers (chapter 01): it drains what
 * the customer still sends for up to LINGER_US or LINGER_BYTES, so that
 * closing does not turn into a reset that could destroy the answer.
 */
enum {
    REQUEST_BUFFER_SIZE = 32768,
    LINGER_US = 1000000,
    LINGER_BYTES = 65536,
};
_Static_assert((long)REQUEST_BUFFER_SIZE >= (long)HTTP_MAX_REQUEST,
               "a whole request must fit in a cook's input buffer");

/* Set up everything shared: pages, Server header, logs, the clock. */
void kitchen_open(const struct step *step, const struct options *options);

/* The options the kitchen was opened with. */
const struct options *kitchen_options(void);

/*
 * A fatal error: print "pizzeria: WHAT: REASON" (REASON from errno) and
 * exit 1. For what the whole kitchen cannot work without (its tablet, its
 * door, its bell); one customer's trouble is never fatal.
 */
_Noreturn void kitchen_fail(const char *what);

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
