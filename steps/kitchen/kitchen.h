/*
 * kitchen.h - everything the steps share, and the few things a kitchen
 * needs before it opens: the clock, the cook's name, the front door, and
 * what to say when something fails.
 *
 * A step's server.c includes this one header. What it adds is its
 * architecture: how it accepts, how many cooks, how a cook waits.
 *
 * The pizzeria is Linux-only: steps 06 and 07 wait with epoll, step 06's
 * ovens are timerfds, step 03 names its cooks with gettid, and every step
 * uses accept4, pipe2, MSG_NOSIGNAL and the SOCK_CLOEXEC flag (from step
 * 04 SOCK_NONBLOCK too), which Linux has and macOS, for one, lacks (built
 * with _GNU_SOURCE, as step.mk does). The tests read /proc.
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

/*
 * Something the kitchen cannot open (or go on) without has failed: print
 * "pizzeria: WHAT: REASON" on stderr, REASON being strerror(errno) as it
 * was when kitchen_fail was called, and exit 1. WHAT names the call and
 * what it was called on, printf-style: "sigaction(SIGTERM)",
 * "bind(127.0.0.1 port 8080)". For calls that return their error instead
 * of setting errno (pthread_*), set errno to it first.
 *
 * It ends with _exit, so a forked cook may call it too: the stdio buffers
 * and atexit handlers it would otherwise run are the host's. Nothing the
 * kitchen writes waits in a stdio buffer (stderr has none, and the
 * listening line is flushed when it is written).
 *
 * Only for the kitchen's own setup, and for a door that no longer works:
 * what goes wrong with one customer's socket costs that customer only.
 */
_Noreturn void kitchen_fail(const char *what_format, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * The kitchen is short of something that comes back when customers leave
 * (descriptors, memory, processes, threads): say so on stderr, as
 * "pizzeria: WHAT: strerror(error)", at most once a second, and carry on.
 * For the one thread that minds the door.
 */
void kitchen_warn_shortage(const char *what, int error);

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
 * The same with `count` doors on one port (SO_REUSEPORT): the kernel
 * spreads new customers across them (step 08, a door per cook).
 */
void kitchen_open_doors(const struct options *options, int *doors, int count);

/* What a failed accept() means for the door (see kitchen_accept_failed). */
enum accept_trouble {
    ACCEPT_RETRY, /* EINTR, ECONNABORTED, the network errors of a new
                       connection (EPROTO, ENETDOWN...): nothing wrong here */
    ACCEPT_SHORT,     /* EMFILE, ENFILE, ENOMEM, ENOBUFS: no room for another
                       customer until some leave */
    ACCEPT_BROKEN,    /* anything else (EBADF, EINVAL...): a bug, or closing */
};
enum accept_trouble kitchen_accept_trouble(int error);

/*
 * accept() failed in a blocking step's door loop: decide from errno what
 * the door does next. At closing time, nothing (the loop is about to
 * stop). ACCEPT_RETRY: return at once. ACCEPT_SHORT: warn and pause
 * 100 ms, so the loop does not spin while it waits for customers to leave
 * (the ones in the listen backlog keep waiting). ACCEPT_BROKEN: exit 1 with
 * kitchen_fail: a door that fails this way would fail forever.
 */
void kitchen_accept_failed(void);

/*
 * The kitchen is full (--max-conns): answer 503 without reading the
 * request, and close. Never blocks: the answer is small enough for any
 * socket's send buffer, and what the customer already sent is drained
 * first so the close is a FIN, not a reset that could destroy the 503.
 */
void kitchen_turn_away(int fd, unsigned long conn);

/*
 * The access log's line for an answer of `bytes` sent on socket fd, to a
 * request complete at received_us. The customer's address is asked of the
 * kernel only now, when a line is written: keeping it with every
 * connection would cost each idle customer 64 bytes for a log that is
 * usually off.
 */
void kitchen_log_answer(int fd, const char *request_line, int status,
                        unsigned long bytes, long long received_us);

#endif
