/*
 * coro.h - stackless coroutines in C: a function that can stop in the
 * middle and, when called again, carry on from where it stopped.
 *
 * The trick is Simon Tatham's ("Coroutines in C", 2000), the one Adam
 * Dunkels' protothreads and Boost.Asio's reenter/yield are made of. The
 * body of the function is one big switch on a number kept in its frame,
 * the resume point. Every place where it may stop stores its own line
 * number there and returns; a `case` with that same number sits right
 * after, so the next call's switch jumps straight back in:
 *
 *     switch (frame->resume) {          CORO_BEGIN(frame)
 *     case 0:                           the first call starts at the top
 *         ...
 *         frame->resume = 42;           CORO_AWAIT(frame, ready), on line 42
 *     case 42:
 *         if (!ready)
 *             return false;             not yet: come back later
 *         ...
 *     }                                 CORO_END(frame)
 *
 * C lets a case label sit anywhere inside its switch, even inside a loop
 * or an if: that is what makes it work, and what makes its traps (see
 * chapter 10). The frame keeps the resume point and every variable that
 * must outlive a return: the function's own locals are gone the moment it
 * returns, as any C function's are. Nothing else is saved, so nothing
 * else costs memory: no stack per coroutine, only its frame.
 *
 * A coroutine here returns true when it stopped with work left (it
 * yielded: call it again soon), false when it waits for something (or
 * has ended).
 */
#ifndef PIZZERIA_CORO_H
#define PIZZERIA_CORO_H

// @snippet coro
/* A frame's resume point before its first call, and after its last. */
enum { CORO_START = 0, CORO_ENDED = -1 };

/* Open the body: jump to where the last call stopped. */
#define CORO_BEGIN(frame)        \
    switch ((frame)->resume) {   \
    case CORO_START:

/* Stop here until `ready` is true. It is tested again on every call:
 * false, and the coroutine returns false ("waiting"). */
#define CORO_AWAIT(frame, ready)         \
    do {                                 \
        (frame)->resume = __LINE__;      \
        __attribute__((fallthrough));    \
    case __LINE__:                       \
        if (!(ready))                    \
            return false;                \
    } while (0)

/* Stop here with work left: return true ("call me again"), go on from
 * the next line when called. */
#define CORO_YIELD(frame)                \
    do {                                 \
        (frame)->resume = __LINE__;      \
        return true;                     \
    case __LINE__:;                      \
    } while (0)

/* Stop for good, from anywhere in the body. */
#define CORO_FINISH(frame)               \
    do {                                 \
        (frame)->resume = CORO_ENDED;    \
        return false;                    \
    } while (0)

/* Close the body: running off its end finishes the coroutine. */
#define CORO_END(frame)                  \
    }                                    \
    (frame)->resume = CORO_ENDED;        \
    return false
// @end coro

#endif
