/*
 * kitchen.c - opening the kitchen: shared setup, the clock, the door.
 */
#include "kitchen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const struct step *the_step;
static const struct options *the_options;
static long long opened_at_us;

void kitchen_fail(const char *what)
{
    fprintf(stderr, "pizzeria: %s: %s\n", what, strerror(errno));
    exit(1);
}

long long monotonic_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
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

int kitchen_open_door(const struct options *o)
{
    int fd = net_listen(o->host, o->port);
    if (fd < 0) {
        if (errno == EADDRINUSE)
            fprintf(stderr, "pizzeria: port %d is already in use\n", o->port);
        else
            fprintf(stderr, "pizzeria: cannot listen on %s port %d: %s\n",
                    o->host, o->port, strerror(errno));
        exit(1);
    }
    int port = net_local_port(fd);
    if (strchr(o->host, ':'))
        printf("listening on http://[%s]:%d\n", o->host, port);
    else
        printf("listening on http://%s:%d\n", o->host, port);
    fflush(stdout);
    return fd;
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
