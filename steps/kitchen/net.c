/*
 * net.c - socket helpers.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kitchen.h"

static int listen_on(const char *host, int port, bool share_the_port)
{
    struct sockaddr_storage address;
    memset(&address, 0, sizeof address);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&address;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&address;
    socklen_t length;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((unsigned short)port);
        length = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((unsigned short)port);
        length = sizeof *v6;
    } else {
        errno = EINVAL; /* options.c lets only literals through */
        kitchen_fail("inet_pton(%s)", host);
    }

    // @snippet listen
    int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        kitchen_fail("socket");
    /* Restarting the server must not wait for old connections' TIME_WAIT. */
    int yes = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes) < 0)
        kitchen_fail("setsockopt(SO_REUSEADDR)");
    /* Step 08's cooks each have a door of their own on the one port. */
    if (share_the_port &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &yes, sizeof yes) < 0)
        kitchen_fail("setsockopt(SO_REUSEPORT)");
    if (bind(fd, (struct sockaddr *)&address, length) < 0)
        kitchen_fail("bind(%s port %d)", host, port);
    if (listen(fd, SOMAXCONN) < 0)
        kitchen_fail("listen(%s port %d)", host, port);
    return fd;
    // @end listen
}

int net_listen(const char *host, int port)
{
    return listen_on(host, port, false);
}

int net_listen_shared(const char *host, int port)
{
    return listen_on(host, port, true);
}

int net_local_port(int fd)
{
    struct sockaddr_storage address;
    socklen_t length = sizeof address;
    if (getsockname(fd, (struct sockaddr *)&address, &length) < 0)
        kitchen_fail("getsockname");
    if (address.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&address)->sin6_port);
    return ntohs(((struct sockaddr_in *)&address)->sin_port);
}

void net_peer_name(const struct sockaddr_storage *peer, char *out, size_t cap)
{
    char text[INET6_ADDRSTRLEN] = "?";
    if (peer->ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)peer;
        inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
        snprintf(out, cap, "[%s]:%d", text, ntohs(v6->sin6_port));
    } else {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)peer;
        inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
        snprintf(out, cap, "%s:%d", text, ntohs(v4->sin_port));
    }
}
