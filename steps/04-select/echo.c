/*
 * echo.c - the smallest select loop: every byte a customer sends comes
 * back to them. No pizza, no HTTP, no timers: only the loop of chapter 4,
 * before the event cook's state machine takes over the tables.
 *
 *   make -C steps/04-select echo && steps/04-select/echo 8081
 *   nc 127.0.0.1 8081        (type; each line comes back)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

// @snippet echo-table
/* What the cook keeps per table: bytes read and not yet sent back. */
struct table {
    int fd; /* -1: nobody sits here */
    char pending[4096];
    size_t len;
};

static struct table tables[FD_SETSIZE];
// @end echo-table

/* Let in everyone waiting. Any failure ends the round, "nobody waiting"
 * (EAGAIN) or another: a loop this small has no answer for a kitchen out
 * of descriptors, which would make it spin; the pizzeria's door has
 * (door.c, later in this chapter). */
static void seat_everyone(int door)
{
    int fd;
    while ((fd = accept4(door, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
        if (fd >= FD_SETSIZE) { /* no box for it on the checklist */
            close(fd);
            continue;
        }
        tables[fd] = (struct table){.fd = fd};
    }
}

static void leave(struct table *t)
{
    close(t->fd);
    t->fd = -1;
}

// @snippet echo-serve
/* Readable: take what fits. Writable: send what is pending, from where
 * the last send stopped. EAGAIN is "later", never an error. */
static void read_some(struct table *t)
{
    ssize_t n = recv(t->fd, t->pending + t->len, sizeof t->pending - t->len, 0);
    if (n > 0)
        t->len += (size_t)n;
    else if (n == 0 || (errno != EAGAIN && errno != EINTR))
        leave(t); /* they left, or the connection broke */
}

static void write_some(struct table *t)
{
    ssize_t n = send(t->fd, t->pending, t->len, MSG_NOSIGNAL);
    if (n > 0) {
        t->len -= (size_t)n;
        memmove(t->pending, t->pending + n, t->len);
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        leave(t);
    }
}
// @end echo-serve

/* A non-blocking listening socket on 127.0.0.1:port (0: any free port),
 * and the port it got; -1 if that failed. */
static int open_door(int port, int *got)
{
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons((unsigned short)port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof address;
    int yes = 1;
    int door = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (door < 0 || door >= FD_SETSIZE ||
        setsockopt(door, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes) < 0 ||
        bind(door, (struct sockaddr *)&address, length) < 0 ||
        listen(door, SOMAXCONN) < 0 ||
        getsockname(door, (struct sockaddr *)&address, &length) < 0)
        return -1;
    *got = ntohs(address.sin_port);
    return door;
}

// @snippet echo-loop
int main(int argc, char **argv)
{
    int port;
    int door = open_door(argc > 1 ? atoi(argv[1]) : 8081, &port);
    if (door < 0) {
        perror("echo: opening the door");
        return 1;
    }
    printf("echo on 127.0.0.1:%d\n", port);
    fflush(stdout);
    for (int fd = 0; fd < FD_SETSIZE; fd++)
        tables[fd].fd = -1;
    for (;;) {
        /* 1. Write the checklist: the door, and what each table waits for
         * (room to read into, or something to send back). */
        fd_set readable, writable;
        FD_ZERO(&readable);
        FD_ZERO(&writable);
        FD_SET(door, &readable);
        int highest = door;
        for (int fd = 0; fd < FD_SETSIZE; fd++) {
            struct table *t = &tables[fd];
            if (t->fd < 0)
                continue;
            if (t->len < sizeof t->pending)
                FD_SET(fd, &readable);
            if (t->len > 0)
                FD_SET(fd, &writable);
            highest = fd > highest ? fd : highest;
        }
        /* 2. Wait until something on it is ready. */
        if (select(highest + 1, &readable, &writable, NULL, NULL) < 0) {
            if (errno == EINTR)
                continue;
            perror("echo: select");
            return 1;
        }
        /* 3. Serve what is ready, top to bottom, without ever waiting. */
        if (FD_ISSET(door, &readable))
            seat_everyone(door);
        for (int fd = 0; fd <= highest; fd++) {
            struct table *t = &tables[fd];
            if (t->fd >= 0 && FD_ISSET(fd, &readable))
                read_some(t);
            if (t->fd >= 0 && FD_ISSET(fd, &writable))
                write_some(t);
        }
    }
}
// @end echo-loop
