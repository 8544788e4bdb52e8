/*
 * Step 01 - the blocking pizzeria: one cook, one customer at a time.
 *
 * The cook takes a customer from the door (accept), serves every order
 * that customer places until they leave, and only then looks at the door
 * again. Everyone else waits outside in the kernel's listen backlog.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "blocking_cook.h"
#include "kitchen.h"

// @snippet step
static const struct step step = {
    .name = "01-blocking",
    .default_bake_ms = 1000,
    .default_max_conns = 1,
    .max_conns_note = "ignored: one customer at a time, the rest wait in "
                      "the listen backlog",
};
// @end step

// @snippet closing-time
/*
 * The door and the customer being served, for the signal handler. Shutting
 * a socket down is a state that stays: an accept or recv that starts after
 * the signal fails at once, so closing time cannot slip in unnoticed.
 */
static volatile sig_atomic_t door = -1;
static volatile sig_atomic_t customer_fd = -1;

static void on_closing_signal(int signal_number)
{
    (void)signal_number;
    closing_ring();
    if (door >= 0)
        shutdown(door, SHUT_RDWR);
    if (customer_fd >= 0)
        shutdown(customer_fd, SHUT_RDWR);
}
// @end closing-time

// @snippet accept-loop
static void serve_one_customer_at_a_time(int listener)
{
    unsigned long customers = 0;
    while (!closing_rung()) {
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof peer;
        int fd = accept4(listener, (struct sockaddr *)&peer, &peer_len,
                         SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
                errno == ENOBUFS)
                usleep(100000); /* out of descriptors or memory: let some
                                   go; retrying at once would spin */
            continue;           /* EINTR, ECONNABORTED, closing time... */
        }
        customer_fd = fd;
        struct customer customer = {.fd = fd, .number = ++customers};
        net_peer_name(&peer, customer.peer, sizeof customer.peer);
        trace_event(customer.number, "accept", "%s", customer.peer);
        if (!closing_rung())
            serve_customer(&customer);
        else
            close(fd);
        customer_fd = -1;
    }
}
// @end accept-loop

// @snippet main
int main(int argc, char **argv)
{
    struct options options;
    options_parse(argc, argv, &step, &options);
    kitchen_open(&step, &options);
    closing_prepare(on_closing_signal);

    int listener = kitchen_open_door(&options);
    door = listener;
    serve_one_customer_at_a_time(listener);
    door = -1; /* the handler must not shut down a number reused later */
    close(listener);
    return 0;
}
// @end main
