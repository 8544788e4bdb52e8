/*
 * kqueue_stub.h - the few names of the BSDs' <sys/event.h> that
 * kqueue_loop.c uses, declared so that it can be compiled, for its types
 * only, on Linux (tests/test_build.py: cc -fsyntax-only). Nothing here
 * works, and nothing links against it.
 */
#ifndef PIZZERIA_KQUEUE_STUB_H
#define PIZZERIA_KQUEUE_STUB_H

#include <stdint.h>
#include <time.h>

struct kevent {
    uintptr_t ident;     /* a descriptor, or a timer's own number */
    short filter;        /* EVFILT_READ, EVFILT_TIMER, ... */
    unsigned short flags; /* EV_ADD, EV_ONESHOT; EV_EOF, EV_ERROR back */
    unsigned int fflags;
    intptr_t data;       /* a timer's period (ms); bytes readable back */
    void *udata;         /* ours: handed back with the event */
};

enum { EVFILT_READ = -1, EVFILT_WRITE = -2, EVFILT_TIMER = -7 };
enum { EV_ADD = 0x1, EV_DELETE = 0x2, EV_ONESHOT = 0x10, EV_EOF = 0x8000,
       EV_ERROR = 0x4000 };

#define EV_SET(kevp, a, b, c, d, e, f) \
    (*(kevp) = (struct kevent){(a), (b), (c), (d), (e), (f)})

int kqueue(void);
int kevent(int kq, const struct kevent *changelist, int nchanges,
           struct kevent *eventlist, int nevents,
           const struct timespec *timeout);

#endif
