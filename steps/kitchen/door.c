/*
 * door.c - the front door of a cook who never waits (see door.h).
 */
#include "door.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kitchen.h"

enum { DOOR_SHUT_US = 100000 }; /* after "try later": 100 ms */

static int open_spare(void)
{
    return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void door_open(struct door *door, int listener)
{
    int flags = fcntl(listener, F_GETFL);
    if (flags < 0 || fcntl(listener, F_SETFL, flags | O_NONBLOCK) < 0)
        kitchen_fail("making the door non-blocking (fcntl)");
    door->fd = listener;
    door->spare_fd = open_spare();
    if (door->spare_fd < 0)
        kitchen_fail("opening the spare descriptor (/dev/null)");
    door->customers = 0;
    door->shared_customers = NULL;
    door->shut_until_us = 0;
}

void door_share_numbers(struct door *door, atomic_ulong *counter)
{
    door->shared_customers = counter;
}

void door_close(struct door *door)
{
    close(door->fd);
    if (door->spare_fd >= 0)
        close(door->spare_fd);
    door->fd = door->spare_fd = -1;
}

/* Number the customer on fd, who came in from peer. */
static void number(struct door *door, int fd,
                   const struct sockaddr_storage *peer,
                   struct customer *customer)
{
    customer->fd = fd;
    unsigned long let_in = ++door->customers;
    customer->number = door->shared_customers
                           ? atomic_fetch_add(door->shared_customers, 1) + 1
                           : let_in;
    customer->before_close = NULL;
    net_peer_name(peer, customer->peer, sizeof customer->peer);
    trace_event(customer->number, "accept", "%s", customer->peer);
}

static int accept_one(struct door *door, struct customer *customer)
{
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    int fd = accept4(door->fd, (struct sockaddr *)&peer, &peer_len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return -1;
    number(door, fd, &peer, customer);
    return fd;
}

void door_let_in(struct door *door, int fd, struct customer *customer)
{
    struct sockaddr_storage peer = {.ss_family = AF_UNSPEC};
    socklen_t peer_len = sizeof peer;
    if (trace_enabled) /* the address is for the trace only: ask for it
                          only when there is one */
        getpeername(fd, (struct sockaddr *)&peer, &peer_len);
    number(door, fd, &peer, customer);
}

// @snippet out-of-descriptors
/*
 * No descriptor left for the customer at the head of the queue: give up
 * the spare, let them in, tell them 503, show them out, take the spare
 * back. Returns false, with accept's errno, if even that failed: the
 * whole system is out of descriptors (ENFILE), or the spare could not be
 * taken back last time.
 */
static bool shed_one(struct door *door)
{
    if (door->spare_fd < 0 && (door->spare_fd = open_spare()) < 0)
        return false;
    close(door->spare_fd);
    struct customer customer;
    bool shed = accept_one(door, &customer) >= 0;
    int accept_errno = errno;
    if (shed)
        kitchen_turn_away(customer.fd, customer.number);
    door->spare_fd = open_spare(); /* if this fails, the next shed retries */
    errno = accept_errno;
    return shed;
}
// @end out-of-descriptors

static enum door_news shut_for_a_moment(struct door *door)
{
    door->shut_until_us = monotonic_us() + DOOR_SHUT_US;
    return DOOR_TRY_LATER;
}

// @snippet door-accept
enum door_news door_accept(struct door *door, struct customer *customer)
{
    for (;;) {
        if (accept_one(door, customer) >= 0)
            return DOOR_SEATED;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return DOOR_EMPTY;
        switch (kitchen_accept_trouble(errno)) {
        case ACCEPT_RETRY: /* a signal, or a customer who left the queue */
            continue;
        case ACCEPT_SHORT:
            /* The kernel looks for a free descriptor before it looks at
             * the queue: EMFILE does not say that anyone is waiting. */
            if ((errno == EMFILE || errno == ENFILE) && shed_one(door))
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return DOOR_EMPTY;
            kitchen_warn_shortage("accept4", errno);
            return shut_for_a_moment(door); /* ENOMEM, ENOBUFS, ENFILE */
        case ACCEPT_BROKEN: /* EBADF, EINVAL, ENOTSOCK: a bug */
            kitchen_fail("accept4 on the door");
        }
    }
}
// @end door-accept

// @snippet reopens
long long door_reopens_at(struct door *door, long long now_us)
{
    if (door->shut_until_us != 0 && now_us >= door->shut_until_us)
        door->shut_until_us = 0;
    return door->shut_until_us;
}
// @end reopens
