/*
 * net.h - socket helpers: the listening socket and names for peers.
 */
#ifndef PIZZERIA_NET_H
#define PIZZERIA_NET_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * A listening TCP socket on an IPv4 or IPv6 literal. There is nothing to
 * serve without one: if it cannot be made, kitchen_fail says which call
 * failed on what, and why ("bind(127.0.0.1 port 8080): Address already in
 * use"), and exits 1.
 */
int net_listen(const char *host, int port);

/*
 * The same, with SO_REUSEPORT: several sockets listen on one port, and
 * the kernel spreads new connections across them (step 08, one per cook).
 * Every socket on the port must ask for it, the first included.
 */
int net_listen_shared(const char *host, int port);

/* The port a socket is bound to (the kernel's choice for port 0); a
 * socket that cannot say is the kitchen's failure (exit 1). */
int net_local_port(int fd);

/* "127.0.0.1:54321" or "[::1]:54321". */
void net_peer_name(const struct sockaddr_storage *peer, char *out,
                   size_t cap);

#endif
