/*
 * kitchen.c - opening the kitchen: shared setup, the clock, the door, and
 * what the kitchen says when something fails.
 */
#include "kitchen.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const struct step *the_step;
static const struct options *the_options;
static long long opened_at_us;

_Noreturn void kitchen_fail(const char *what_format, ...)
{
    int error = errno; /* before anything below can change it */
    char what[256];
    va_list args;
    va_start(args, what_format);
    vsnprintf(what, sizeof what, what_format, args);
    va_end(args);
    fprintf(stderr, "pizzeria: %s: %s\n", what, strerror(error));
    _exit(1);
}

long long monotonic_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now); /* cannot fail: the clock exists */
    return (long long)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

long long kitchen_elapsed_us(void)
{
    return monotonic_us() - opened_at_us;
}

void kitchen_open(const struct step *step, const struct options *options)
{
    the_step = step;
    the_options = options;
    opened_at_us = monotonic_us();
    http_set_server_name(step->name);
    pizzeria_open();
    log_open(options->log, options->trace_path);
}

const struct options *kitchen_options(void)
{
    return the_options;
}

void kitchen_cook_name(char *out, size_t cap)
{
    if (the_step->threaded)
        snprintf(out, cap, "pid %ld tid %ld", (long)getpid(), (long)gettid());
    else
        snprintf(out, cap, "pid %ld", (long)getpid());
}

void kitchen_warn_shortage(const char *what, int error)
{
    static long long warned_at_us;
    long long now = monotonic_us();
    if (warned_at_us != 0 && now - warned_at_us < 1000000)
        return; /* said a moment ago: a flood of lines helps no one */
    warned_at_us = now;
    fprintf(stderr, "pizzeria: %s: %s\n", what, strerror(error));
}

static void say_listening(const char *host, int port)
{
    if (strchr(host, ':'))
        printf("listening on http://[%s]:%d\n", host, port);
    else
        printf("listening on http://%s:%d\n", host, port);
    if (fflush(stdout) == EOF)
        kitchen_fail("writing the listening line to stdout");
}

int kitchen_open_door(const struct options *o)
{
    int fd = net_listen(o->host, o->port);
    say_listening(o->host, net_local_port(fd));
    return fd;
}

void kitchen_open_doors(const struct options *o, int *doors, int count)
{
    doors[0] = net_listen_shared(o->host, o->port);
    int port = net_local_port(doors[0]); /* the kernel's pick, for --port 0 */
    for (int i = 1; i < count; i++)
        doors[i] = net_listen_shared(o->host, port);
    say_listening(o->host, port);
}

enum accept_trouble kitchen_accept_trouble(int error)
{
    switch (error) {
    case EINTR:        /* a signal: closing time, or a cook who went home */
    case ECONNABORTED: /* the customer gave up while waiting in line */
    case EAGAIN:       /* a non-blocking door with no one at it */
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    /* Linux hands a new connection's pending network error to accept:
     * that customer is lost, the door is fine (accept(2), "Error
     * handling"). */
    case EPROTO: case ENOPROTOOPT: case ENETDOWN: case ENONET:
    case EHOSTDOWN: case EHOSTUNREACH: case ENETUNREACH: case EOPNOTSUPP:
    case EPERM: /* a firewall rule refused this one */
        return ACCEPT_RETRY;
    case EMFILE: case ENFILE: case ENOMEM: case ENOBUFS:
        return ACCEPT_SHORT;
    default:
        return ACCEPT_BROKEN;
    }
}

void kitchen_accept_failed(void)
{
    if (closing_rung())
        return; /* the shut door fails with EINVAL: that is closing time */
    switch (kitchen_accept_trouble(errno)) {
    case ACCEPT_RETRY:
        return;
    case ACCEPT_SHORT:
        kitchen_warn_shortage("accept", errno);
        usleep(100000); /* a signal (a cook who left) cuts it short */
        return;
    case ACCEPT_BROKEN:
        kitchen_fail("accept");
    }
}

void kitchen_turn_away(int fd, unsigned long conn)
{
    struct ticket ticket;
    char out[512];
    pizzeria_refuse(&ticket, 503, "the kitchen is full, try again soon");
    size_t len = http_format_response(out, sizeof out, &ticket.response);
    ssize_t ignored = send(fd, out, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)ignored; /* a customer who left already is no one to tell */
    trace_event(conn, "response", "503");
    shutdown(fd, SHUT_WR);
    char sink[4096];
    for (int i = 0; i < 16; i++)
        if (recv(fd, sink, sizeof sink, MSG_DONTWAIT) <= 0)
            break;
    close(fd);
    trace_event(conn, "close", "503");
}

void kitchen_log_answer(int fd, const char *request_line, int status,
                        unsigned long bytes, long long received_us)
{
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    char peer_name[64] = "-"; /* they are gone already: no address */
    if (getpeername(fd, (struct sockaddr *)&peer, &peer_len) == 0)
        net_peer_name(&peer, peer_name, sizeof peer_name);
    log_access(peer_name, request_line, status, bytes,
               (monotonic_us() - received_us) / 1000.0);
}
