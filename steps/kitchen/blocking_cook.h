/*
 * blocking_cook.h - one cook serving one customer on a blocking socket,
 * from the first byte of the first request until the customer leaves.
 *
 * The blocking step calls it for one customer at a time; the fork and
 * threads steps hand each customer to a cook of their own who calls it.
 */
#ifndef PIZZERIA_BLOCKING_COOK_H
#define PIZZERIA_BLOCKING_COOK_H

struct customer {
    int fd;
    unsigned long number; /* 1, 2, ... in accept order: the trace's CONN */
    char peer[64];        /* "127.0.0.1:54321", for the access log */
    /*
     * Optional (NULL: nothing). Called just before the cook closes fd, the
     * last moment the number still names this customer's socket: a step
     * that keeps a list of open sockets (threads) takes it off the list
     * here, so it never shuts down a number the kernel has given to
     * someone else.
     */
    void (*before_close)(const struct customer *customer);
};

/*
 * Serve every request on the connection (keep-alive and pipelining
 * included), then close it. Returns early at closing time.
 */
void serve_customer(const struct customer *customer);

#endif
