/*
 * net.h - socket helpers: the listening socket and names for peers.
 */
#ifndef PIZZERIA_NET_H
#define PIZZERIA_NET_H

#include <stddef.h>
#include <sys/socket.h>

/* A listening TCP socket on an IPv4 or IPv6 literal; -1 with errno set. */
int net_listen(const char *host, int port);

/* The port a socket is bound to (the kernel's choice for port 0). */
int net_local_port(int fd);

/* "127.0.0.1:54321" or "[::1]:54321". */
void net_peer_name(const struct sockaddr_storage *peer, char *out,
                   size_t cap);

#endif
