/*
 * loadgen.c - the customers' side: a small event-driven load generator.
 *
 * It opens --concurrency connections to a pizzeria and keeps each one busy:
 * send a request, read the whole response, check it, send the next (on the
 * same connection with keep-alive, on a new one with --close). Optionally it
 * also holds --idle connections open that never say a word, which is what
 * makes select and poll slow. It stops after --requests answers or
 * --duration seconds, and reports every latency it measured, as
 * percentiles of all the samples (never an average of averages).
 *
 * With --seat-first, every customer is seated before anyone orders: all
 * the connections are opened and their handshakes finished, then every
 * first request is sent in one go, and the clock starts with the first one
 * sent. Opening 10,000 connections takes the load generator itself a good
 * second; without --seat-first that second is in the elapsed time, and the
 * first orders wait for the last connections to open before they are sent.
 *
 * It is itself one thread with epoll, like the servers of chapters 6 and 7:
 * a load generator that blocked on one customer would measure itself.
 *
 *   loadgen --port 8080 --concurrency 200 --requests 200 --order margherita
 *   loadgen --port 8080 --concurrency 10000 --order margherita --seat-first
 *   loadgen --port 8080 --concurrency 1 --duration 5 --idle 1000
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct settings {
    const char *host;
    int port;
    int concurrency;
    long requests;     /* stop after this many answers (0: no limit) */
    double duration_s; /* or after this long (0: no limit) */
    int idle;          /* connections held open without a word */
    const char *pizza; /* POST /order pizza=...; NULL: GET path */
    const char *path;
    bool close_each;   /* a new connection per request */
    int timeout_ms;    /* per request */
    bool seat_first;   /* every connection open before the first request */
};

/* SEATED: connected, and waiting for the word to order (--seat-first). */
enum state { CONNECTING, SEATED, SENDING, RECEIVING, IDLE };

/* How often the customers are looked over for a request that took too
 * long: a look touches every customer, so not after every wake-up. */
enum { TIMEOUT_SCAN_US = 50000 };

struct customer {
    int fd;
    enum state state;
    size_t sent;
    long long started_us; /* when the current request began */
    size_t have;
    char in[65536];
};

struct tally {
    long done, failed, connect_errors;
    long long *latency_us;
    long samples, capacity;
};

static char request[512];
static size_t request_len;
static struct sockaddr_storage server;
static socklen_t server_len;
static volatile sig_atomic_t interrupted;

static long long now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void die(const char *what)
{
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* ---- the request and the answer ---- */

static void build_request(const struct settings *s)
{
    int n;
    if (s->pizza) {
        char body[128];
        int body_len = snprintf(body, sizeof body, "pizza=%s", s->pizza);
        n = snprintf(request, sizeof request,
                     "POST /order HTTP/1.1\r\nHost: %s\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\n"
                     "Content-Length: %d\r\n%s\r\n%s",
                     s->host, body_len,
                     s->close_each ? "Connection: close\r\n" : "", body);
    } else {
        n = snprintf(request, sizeof request,
                     "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", s->path,
                     s->host, s->close_each ? "Connection: close\r\n" : "");
    }
    if (n <= 0 || (size_t)n >= sizeof request) {
        fprintf(stderr, "loadgen: request too long\n");
        exit(2);
    }
    request_len = (size_t)n;
}

enum verdict { INCOMPLETE, GOOD, BAD };

// @snippet check-response
/*
 * Is there a whole response in the buffer, and is it one we wanted: 200,
 * a Content-Length, and a body of that length that looks like what the
 * pizzeria serves (JSON or the front page)?
 */
static enum verdict check_response(const char *in, size_t have, size_t *used)
{
    const char *end = memmem(in, have, "\r\n\r\n", 4);
    if (end == NULL)
        return have >= 16384 ? BAD : INCOMPLETE;
    size_t head = (size_t)(end - in) + 4;
    if (have < 12 || memcmp(in, "HTTP/1.1 200", 12) != 0)
        return BAD;
    const char *cl = memmem(in, head, "\r\nContent-Length: ", 18);
    if (cl == NULL)
        return BAD;
    size_t length = strtoul(cl + 18, NULL, 10);
    if (have < head + length)
        return INCOMPLETE;
    const char *body = in + head;
    bool json = length >= 2 && (body[0] == '{' || body[0] == '[') &&
                (body[length - 1] == '}' || body[length - 1] == ']');
    bool page = length >= 8 && memmem(body, length, "</html>", 7) != NULL;
    *used = head + length;
    return json || page ? GOOD : BAD;
}
// @end check-response

/* ---- connections ---- */

static void watch(int epoll_fd, struct customer *c, int op, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(epoll_fd, op, c->fd, &ev) < 0)
        die("epoll_ctl");
}

static bool start_connection(int epoll_fd, struct customer *c)
{
    c->fd = socket(server.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   0);
    if (c->fd < 0)
        return false;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&server, server_len) < 0 &&
        errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return false;
    }
    c->state = CONNECTING;
    c->have = 0;
    c->started_us = now_us(); /* with --close, connecting is part of it */
    watch(epoll_fd, c, EPOLL_CTL_ADD, EPOLLOUT);
    return true;
}

static void drop(struct customer *c)
{
    if (c->fd >= 0)
        close(c->fd); /* also takes it out of the epoll set */
    c->fd = -1;
}

static void record(struct tally *t, long long latency)
{
    if (t->samples == t->capacity) {
        t->capacity = t->capacity ? t->capacity * 2 : 4096;
        t->latency_us = realloc(t->latency_us,
                                (size_t)t->capacity * sizeof *t->latency_us);
        if (t->latency_us == NULL)
            die("realloc");
    }
    t->latency_us[t->samples++] = latency;
}

static void begin_request(int epoll_fd, struct customer *c, bool fresh)
{
    c->state = SENDING;
    c->sent = 0;
    if (!fresh)
        c->started_us = now_us();
    watch(epoll_fd, c, EPOLL_CTL_MOD, EPOLLOUT);
}

// @snippet send-more
static void send_more(int epoll_fd, struct customer *c, struct tally *t)
{
    while (c->sent < request_len) {
        ssize_t n = send(c->fd, request + c->sent, request_len - c->sent,
                         MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            t->failed++;
            drop(c);
            return;
        }
        c->sent += (size_t)n;
    }
    c->state = RECEIVING;
    watch(epoll_fd, c, EPOLL_CTL_MOD, EPOLLIN);
}
// @end send-more

/* Returns true when an answer was counted. */
static bool receive_more(struct customer *c, struct tally *t)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->in + c->have, sizeof c->in - c->have, 0);
        if (n < 0 && errno == EAGAIN)
            return false;
        if (n <= 0) { /* closed or reset before the whole answer */
            t->failed++;
            drop(c);
            return true;
        }
        c->have += (size_t)n;
        size_t used = 0;
        enum verdict v = check_response(c->in, c->have, &used);
        if (v == INCOMPLETE)
            continue;
        if (v == GOOD) {
            t->done++;
            record(t, now_us() - c->started_us);
        } else {
            t->failed++;
        }
        c->have = 0;
        return true;
    }
}

/* ---- the run ---- */

static bool more_to_start(const struct settings *s, long started,
                          long long stop_at)
{
    if (s->requests && started >= s->requests)
        return false;
    return !(stop_at && now_us() >= stop_at);
}

static int compare(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

// @snippet percentile
static double percentile_ms(const struct tally *t, double p)
{
    if (t->samples == 0)
        return 0;
    long i = (long)(p / 100.0 * (double)(t->samples - 1) + 0.5);
    return (double)t->latency_us[i] / 1000.0;
}
// @end percentile

static void report(const struct settings *s, const struct tally *t,
                   double seating_s, double ordering_s, double elapsed_s)
{
    qsort(t->latency_us, (size_t)t->samples, sizeof *t->latency_us, compare);
    if (s->pizza)
        printf("requests      POST /order pizza=%s\n", s->pizza);
    else
        printf("requests      GET %s\n", s->path);
    printf("concurrency   %d (+%d idle)\n", s->concurrency, s->idle);
    printf("completed     %ld\n", t->done);
    printf("failed        %ld\n", t->failed + t->connect_errors);
    if (s->seat_first) {
        printf("seating_s     %.3f\n", seating_s);
        printf("ordering_s    %.3f\n", ordering_s);
    }
    printf("elapsed_s     %.3f\n", elapsed_s);
    printf("per_second    %.1f\n", elapsed_s > 0 ? t->done / elapsed_s : 0);
    printf("p50_ms        %.3f\n", percentile_ms(t, 50));
    printf("p90_ms        %.3f\n", percentile_ms(t, 90));
    printf("p99_ms        %.3f\n", percentile_ms(t, 99));
    printf("max_ms        %.3f\n",
           t->samples ? t->latency_us[t->samples - 1] / 1000.0 : 0.0);
}

static void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: loadgen [--host ADDR] [--port N] [--concurrency N]\n"
            "               [--requests N] [--duration SECONDS] [--idle N]\n"
            "               [--order PIZZA | --path PATH] [--close]\n"
            "               [--timeout-ms N] [--seat-first]\n"
            "Stops after --requests answers or --duration seconds (default:\n"
            "as many requests as --concurrency). Prints one 'name value'\n"
            "line per figure; exit status 1 if any request failed.\n"
            "--seat-first opens every connection before the first request\n"
            "and sends all the first requests at once: elapsed_s then runs\n"
            "from the first request sent, seating_s is the opening, and\n"
            "ordering_s how long sending all the first requests took.\n");
    exit(status);
}

static void parse(int argc, char **argv, struct settings *s)
{
    static const struct option flags[] = {
        {"host", required_argument, NULL, 'h'},
        {"port", required_argument, NULL, 'p'},
        {"concurrency", required_argument, NULL, 'c'},
        {"requests", required_argument, NULL, 'n'},
        {"duration", required_argument, NULL, 'd'},
        {"idle", required_argument, NULL, 'i'},
        {"order", required_argument, NULL, 'o'},
        {"path", required_argument, NULL, 'P'},
        {"close", no_argument, NULL, 'x'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"seat-first", no_argument, NULL, 's'},
        {"help", no_argument, NULL, '?'},
        {NULL, 0, NULL, 0},
    };
    *s = (struct settings){.host = "127.0.0.1", .port = 8080,
                           .concurrency = 1, .path = "/",
                           .timeout_ms = 30000};
    int f;
    while ((f = getopt_long(argc, argv, "", flags, NULL)) != -1) {
        switch (f) {
        case 'h': s->host = optarg; break;
        case 'p': s->port = atoi(optarg); break;
        case 'c': s->concurrency = atoi(optarg); break;
        case 'n': s->requests = atol(optarg); break;
        case 'd': s->duration_s = atof(optarg); break;
        case 'i': s->idle = atoi(optarg); break;
        case 'o': s->pizza = optarg; break;
        case 'P': s->path = optarg; break;
        case 'x': s->close_each = true; break;
        case 't': s->timeout_ms = atoi(optarg); break;
        case 's': s->seat_first = true; break;
        default: usage(strcmp(argv[optind - 1], "--help") != 0 ? 2 : 0);
        }
    }
    if (s->concurrency < 1 || s->idle < 0 || s->port <= 0 || optind < argc)
        usage(2);
    if (s->requests == 0 && s->duration_s == 0)
        s->requests = s->concurrency;
}

static void resolve(const struct settings *s)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)&server;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&server;
    memset(&server, 0, sizeof server);
    if (inet_pton(AF_INET, s->host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((unsigned short)s->port);
        server_len = sizeof *v4;
    } else if (inet_pton(AF_INET6, s->host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((unsigned short)s->port);
        server_len = sizeof *v6;
    } else {
        fprintf(stderr, "loadgen: --host takes an IPv4 or IPv6 literal\n");
        exit(2);
    }
}

/* Hold n connections open in silence; they only need to be accepted. */
static int *open_idle(int n)
{
    int *fds = calloc((size_t)n + 1, sizeof *fds);
    if (fds == NULL)
        die("calloc");
    for (int i = 0; i < n; i++) {
        fds[i] = socket(server.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fds[i] < 0 ||
            connect(fds[i], (struct sockaddr *)&server, server_len) < 0)
            die("opening idle connections");
    }
    return fds;
}

// @snippet seat-first
/*
 * --seat-first: wait until every connection begun has finished its
 * handshake (or failed), asking nothing yet. The kernel finishes a
 * handshake before the server accepts, so a seated customer may still be
 * in the server's queue: letting it in is the server's work, and is
 * measured.
 */
static void seat_everyone(int epoll_fd, struct customer *customers, int n,
                          const struct settings *s, struct tally *t)
{
    int waiting = 0;
    for (int i = 0; i < n; i++)
        waiting += customers[i].fd >= 0;
    long long give_up = now_us() + s->timeout_ms * 1000LL;
    struct epoll_event events[256];
    while (waiting > 0 && !interrupted && now_us() < give_up) {
        int ready = epoll_wait(epoll_fd, events, 256, 100);
        if (ready < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < ready; i++) {
            struct customer *c = events[i].data.ptr;
            if (c->fd < 0 || c->state != CONNECTING)
                continue;
            int error = 0;
            socklen_t len = sizeof error;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len);
            waiting--;
            if (error) {
                t->connect_errors++;
                drop(c);
                continue;
            }
            c->state = SEATED;
            watch(epoll_fd, c, EPOLL_CTL_MOD, 0); /* nothing to say yet */
        }
    }
    for (int i = 0; i < n; i++) { /* still connecting: they count as lost */
        if (customers[i].fd >= 0 && customers[i].state == CONNECTING) {
            t->connect_errors++;
            drop(&customers[i]);
        }
    }
}

/* Every seated customer orders now, one after the other, as fast as the
 * sends go; an order that does not fit at once finishes on EPOLLOUT. */
static void everyone_orders(int epoll_fd, struct customer *customers, int n,
                            struct tally *t)
{
    for (int i = 0; i < n; i++) {
        struct customer *c = &customers[i];
        if (c->fd < 0)
            continue;
        c->state = SENDING;
        c->sent = 0;
        c->started_us = now_us();
        send_more(epoll_fd, c, t); /* on to RECEIVING if it all went */
        if (c->fd >= 0 && c->state == SENDING)
            watch(epoll_fd, c, EPOLL_CTL_MOD, EPOLLOUT);
    }
}
// @end seat-first

static void raise_descriptor_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

int main(int argc, char **argv)
{
    struct settings s;
    parse(argc, argv, &s);
    resolve(&s);
    build_request(&s);
    raise_descriptor_limit();
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_interrupt);

    int *idle = open_idle(s.idle);
    int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0)
        die("epoll_create1");
    struct customer *customers = calloc((size_t)s.concurrency,
                                        sizeof *customers);
    if (customers == NULL)
        die("calloc");

    struct tally t = {0};
    long started = 0; /* requests begun */
    long long begin = now_us();
    long long stop_at = s.duration_s > 0
                            ? begin + (long long)(s.duration_s * 1e6)
                            : 0;
    for (int i = 0; i < s.concurrency; i++)
        customers[i].fd = -1;
    for (int i = 0; i < s.concurrency; i++) {
        if (s.requests && started >= s.requests)
            break;
        if (!start_connection(epoll_fd, &customers[i]))
            t.connect_errors++;
        else
            started++;
    }
    double seating_s = 0, ordering_s = 0;
    if (s.seat_first) {
        seat_everyone(epoll_fd, customers, s.concurrency, &s, &t);
        long long seated = now_us();
        seating_s = (double)(seated - begin) / 1e6;
        begin = seated; /* the clock starts with the first order */
        if (stop_at)
            stop_at = begin + (long long)(s.duration_s * 1e6);
        everyone_orders(epoll_fd, customers, s.concurrency, &t);
        ordering_s = (double)(now_us() - begin) / 1e6;
    }
    long long next_scan = begin + TIMEOUT_SCAN_US;

// @snippet main-loop
    struct epoll_event events[256];
    for (;;) {
        long finished = t.done + t.failed + t.connect_errors;
        if (interrupted || (s.requests && finished >= s.requests))
            break;
        long long now = now_us();
        if (stop_at && now >= stop_at)
            break;
        int wait_ms = 100;
        int n = epoll_wait(epoll_fd, events, 256, wait_ms);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < n; i++) {
            struct customer *c = events[i].data.ptr;
            if (c->fd < 0)
                continue;
            if (c->state == CONNECTING) {
                int error = 0;
                socklen_t len = sizeof error;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len);
                if (error) {
                    t.connect_errors++;
                    drop(c);
                    continue;
                }
                begin_request(epoll_fd, c, true);
            }
            if (c->state == SENDING) {
                send_more(epoll_fd, c, &t);
            } else if (c->state == RECEIVING && receive_more(c, &t)) {
                if (c->fd >= 0 && !s.close_each &&
                    more_to_start(&s, started, stop_at)) {
                    started++;
                    begin_request(epoll_fd, c, false);
                    continue;
                }
                drop(c);
            }
            if (c->fd < 0 && more_to_start(&s, started, stop_at) &&
                start_connection(epoll_fd, c))
                started++;
        }
        /* A request that takes too long counts as failed. */
        now = now_us();
        if (now < next_scan)
            continue;
        next_scan = now + TIMEOUT_SCAN_US;
        for (int i = 0; i < s.concurrency; i++) {
            struct customer *c = &customers[i];
            if (c->fd >= 0 && now - c->started_us > s.timeout_ms * 1000LL) {
                t.failed++;
                drop(c);
                if (more_to_start(&s, started, stop_at) &&
                    start_connection(epoll_fd, c))
                    started++;
            }
        }
    }
// @end main-loop
    double elapsed = (double)(now_us() - begin) / 1e6;
    report(&s, &t, seating_s, ordering_s, elapsed);
    for (int i = 0; i < s.idle; i++)
        close(idle[i]);
    free(idle);
    free(customers);
    free(t.latency_us);
    return t.failed + t.connect_errors ? 1 : 0;
}
