/*
 * Step 02 - the forking pizzeria: a cook for every customer.
 *
 * The host (the parent process) only minds the door. For each customer who
 * comes in, the host hires a cook (fork) who starts with a full copy of the
 * kitchen, serves that one customer until they leave, and goes home
 * (_exit). The host keeps a staff book: who is at work, so that it can
 * turn customers away when --max-conns cooks are busy, cross out each cook
 * who went home (waitpid, so no zombie is left), and send everyone home at
 * closing time.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blocking_cook.h"
#include "kitchen.h"

// @snippet step
static const struct step step = {
    .name = "02-fork",
    .default_bake_ms = 1000,
    .default_max_conns = 1024,
    .max_conns_note = "cooks (child processes) at work at once; past it, "
                      "a new customer gets 503",
};
// @end step

// @snippet closing-time
/*
 * The door, for the signal handler. Shutting a socket down is a state that
 * stays: an accept that starts after the signal fails at once, so closing
 * time cannot slip in unnoticed. Only the host runs this handler: a cook
 * puts the default back the moment it is hired.
 */
static volatile sig_atomic_t door = -1;

static void on_closing_signal(int signal_number)
{
    (void)signal_number;
    closing_ring();
    if (door >= 0)
        shutdown(door, SHUT_RDWR);
}
// @end closing-time

// @snippet staff-book
/*
 * The staff book: the pid of every cook at work, 0 for a free place. The
 * host writes in it only while SIGCHLD is blocked; the SIGCHLD handler
 * crosses cooks out. So the two never write in it at the same moment.
 */
static pid_t *staff;
static int staff_places; /* --max-conns */
static volatile sig_atomic_t cooks_at_work;

/* The signals whose handlers touch the book or must not run in a new cook. */
static sigset_t host_signals;

static void write_in(pid_t cook)
{
    for (int i = 0; i < staff_places; i++)
        if (staff[i] == 0) {
            staff[i] = cook;
            cooks_at_work++;
            return;
        }
}

static void cross_out(pid_t cook)
{
    for (int i = 0; i < staff_places; i++)
        if (staff[i] == cook) {
            staff[i] = 0;
            cooks_at_work--;
            return;
        }
}
// @end staff-book

// @snippet cook-gone
/*
 * SIGCHLD: a cook went home. Signals do not queue, so one SIGCHLD may stand
 * for several cooks: reap until there is no one left to reap. Reaping here
 * rather than after accept returns means a cook who leaves while the host
 * waits at the door is never left a zombie until the next customer comes.
 */
static void on_cook_gone(int signal_number)
{
    (void)signal_number;
    int saved = errno; /* a handler must not change errno under the host */
    pid_t cook;
    while ((cook = waitpid(-1, NULL, WNOHANG)) > 0)
        cross_out(cook);
    errno = saved;
}

static void open_staff_book(int places)
{
    staff_places = places;
    staff = calloc((size_t)places, sizeof *staff);
    if (staff == NULL) {
        fprintf(stderr, "pizzeria: no memory for %d cooks\n", places);
        exit(1);
    }
    sigemptyset(&host_signals);
    sigaddset(&host_signals, SIGCHLD);
    sigaddset(&host_signals, SIGINT);
    sigaddset(&host_signals, SIGTERM);

    struct sigaction action = {.sa_handler = on_cook_gone};
    sigemptyset(&action.sa_mask);
    /* No SA_RESTART: a blocked accept returns EINTR when a cook leaves.
     * SA_NOCLDSTOP: a cook stopped by a debugger has not gone home. */
    action.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &action, NULL);
}
// @end cook-gone

// @snippet cook
/*
 * The new cook's first moments: forget the host's duties, then serve. The
 * closing-time handler would ring the host's bell and shut the host's
 * door (both shared with the host), so a cook dies of SIGTERM as any
 * process does; SIGCHLD is the host's business. The door is closed too:
 * a cook who kept it open would keep the port open after the host left.
 * _exit, not exit: the copy of the host's stdio buffers and atexit
 * handlers belongs to the host.
 */
static _Noreturn void work_as_cook(int listener,
                                   const struct customer *customer,
                                   const sigset_t *host_mask)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    sigprocmask(SIG_SETMASK, host_mask, NULL);
    close(listener);
    serve_customer(customer);
    _exit(0);
}
// @end cook

// @snippet hire
/*
 * fork() happens with the host's signals blocked: a cook must not run the
 * host's handlers in the moment before it resets them, and the host must
 * not reap a cook before it is written in the book. After the fork each
 * side closes what it does not own: the customer is the cook's now.
 */
static void hire_cook(int listener, const struct customer *customer)
{
    sigset_t host_mask;
    sigprocmask(SIG_BLOCK, &host_signals, &host_mask);
    pid_t cook = fork();
    if (cook == 0)
        work_as_cook(listener, customer, &host_mask);
    if (cook > 0)
        write_in(cook);
    sigprocmask(SIG_SETMASK, &host_mask, NULL);

    if (cook < 0) /* EAGAIN, ENOMEM: no cook to be had, the host carries on */
        kitchen_turn_away(customer->fd, customer->number);
    else
        close(customer->fd);
}
// @end hire

// @snippet left-already
/*
 * A customer may give up while waiting in the listen backlog. Hiring a
 * cook costs a fork, so the host first peeks: an end of stream (0) or a
 * reset means there is no one left to serve. Nothing is read: whatever the
 * customer did send stays for the cook.
 */
static bool customer_left_already(int fd)
{
    char peek;
    ssize_t n = recv(fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                      errno != EINTR);
}
// @end left-already

// @snippet accept-loop
static void hire_a_cook_per_customer(int listener)
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
            continue; /* EINTR (a cook went home, closing time), ... */
        }
        /* Numbered here, at the door, so the trace's CONN is unique
         * across every cook's copy of the kitchen. */
        struct customer customer = {.fd = fd, .number = ++customers};
        net_peer_name(&peer, customer.peer, sizeof customer.peer);
        trace_event(customer.number, "accept", "%s", customer.peer);
        if (closing_rung())
            close(fd);
        else if (customer_left_already(fd)) {
            close(fd);
            trace_event(customer.number, "close", "left before a cook came");
        } else if (cooks_at_work >= staff_places)
            kitchen_turn_away(fd, customer.number);
        else
            hire_cook(listener, &customer);
    }
}
// @end accept-loop

// @snippet send-cooks-home
/*
 * Signal every cook in the book. SIGCHLD is blocked meanwhile, so no cook
 * is reaped during the round: a pid in the book is still one of ours (a
 * zombie keeps its pid), never a stranger who was given a recycled one.
 */
static void tell_every_cook(int signal_number)
{
    sigset_t host_mask;
    sigprocmask(SIG_BLOCK, &host_signals, &host_mask);
    for (int i = 0; i < staff_places; i++)
        if (staff[i] != 0)
            kill(staff[i], signal_number);
    sigprocmask(SIG_SETMASK, &host_mask, NULL);
}

/* Wait up to ms for the book to empty; each SIGCHLD cuts a nap short. */
static void wait_for_cooks(int ms)
{
    long long deadline = monotonic_us() + ms * 1000LL;
    while (cooks_at_work > 0 && monotonic_us() < deadline)
        usleep(10000);
}

/* Closing time: SIGTERM, a second to go, then SIGKILL for the rest. */
static void send_cooks_home(void)
{
    tell_every_cook(SIGTERM);
    wait_for_cooks(1000);
    if (cooks_at_work > 0) {
        tell_every_cook(SIGKILL);
        wait_for_cooks(500);
    }
}
// @end send-cooks-home

// @snippet main
int main(int argc, char **argv)
{
    struct options options;
    options_parse(argc, argv, &step, &options);
    kitchen_open(&step, &options);
    closing_prepare(on_closing_signal);
    open_staff_book(options.max_conns);

    int listener = kitchen_open_door(&options);
    door = listener;
    hire_a_cook_per_customer(listener);
    door = -1;
    close(listener);
    send_cooks_home();
    free(staff);
    return 0;
}
// @end main
