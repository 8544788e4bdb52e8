/*
 * Step 08 - a cook per core, each with a tablet: how nginx really runs.
 *
 * Step 07's cook never waits, but there is one of it, and it works on one
 * core. Here a master process hires --workers cooks (by default one per
 * CPU this process may run on), each a process of its own with one thread,
 * running step 07's kitchen unchanged (kitchen_loop.c). The master cooks
 * nothing: it opens the doors, hires, replaces a cook who dies, and on
 * SIGHUP swaps every cook for a fresh one without turning anyone away.
 *
 * What the cooks share, and how:
 *
 *   - The street: each cook has a door of its own on the one port
 *     (SO_REUSEPORT), and the kernel sends each new customer to one of
 *     them. The master opens the doors before it hires anyone and keeps
 *     them open, so a cook who replaces another (after a crash, or a
 *     reload) takes over the same door, with whoever waits in its queue:
 *     the queue is the socket's, not the cook's.
 *   - The order pad and the customer count: processes share no memory
 *     unless they ask for it, as the forked cooks of step 02 found out.
 *     The counters live in one MAP_SHARED mapping made before the first
 *     fork, and are atomic, as step 03's threads needed.
 *   - --max-conns: the seats are the kitchen's, every cook's customers
 *     counted (kitchen_loop.c, "seats"), in the same mapping.
 *
 * What they must not share: their tablets, timers, tables and buffers.
 * Each cook's kitchen is its own, made after the fork.
 *
 * --door shared and --door exclusive are the other two ways to share a
 * street, for measuring the thundering herd: one door (one listening
 * socket) on every cook's tablet, without and with EPOLLEXCLUSIVE. With
 * --door given, the master says at closing time how often the door woke
 * a cook, and how often for nobody.
 *
 * The master waits for signals on a signalfd, so none of its work runs in
 * a signal handler: SIGCHLD (a cook left: reap it, and hire another if it
 * was not told to go), SIGHUP (reload), SIGTERM or SIGINT (closing time).
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kitchen.h"
#include "kitchen_loop.h"
#include "loop.h"

// @snippet step
static const struct step step = {
    .name = "08-workers",
    .default_bake_ms = 1000,
    .default_max_conns = 10000,
    .max_conns_note = "the whole kitchen's, every worker's customers "
                      "counted; past it a new customer is told 503",
    .worker_processes = true,
};
// @end step

enum {
    /* A reload hires a new cook for every door while the old ones finish:
     * room for a few reloads in a row before the oldest have gone. */
    SLOTS_PER_DOOR = 4,
    COOK_SLOTS = SLOTS_PER_DOOR * MAX_WORKERS,
    GOODBYE_MS = 1500,          /* closing time: then SIGKILL */
    FAILED_START_US = 1000000,  /* a cook who fails this soon cannot start */
    REHIRE_RETRY_MS = 100,      /* fork failed: try again this soon */
};

// @snippet shared
/* What the cooks share, in one MAP_SHARED mapping made before any fork. */
struct shared_kitchen {
    atomic_ulong orders_taken; /* pizzeria.c's order numbers */
    atomic_ulong customers;    /* every door's customer numbers */
    atomic_uint seats[COOK_SLOTS]; /* seated customers, per cook slot */
    struct door_tally tally; /* every cook's door wake-ups (--door) */
    atomic_ulong let_in[COOK_SLOTS]; /* and customers, per cook slot */
};
// @end shared

/* The master's book: one slot per cook alive. */
struct cook {
    pid_t pid;        /* 0: the slot is free */
    int door;         /* which of the doors is theirs */
    bool going_home;  /* told "last orders" by a reload */
    long long hired_us;
};

static struct {
    const struct options *options;
    int doors[MAX_WORKERS]; /* one per cook (or, with --door shared or
                               exclusive, the one door in every entry) */
    int door_count;
    unsigned slots; /* in use of cooks[] and shared->seats[] */
    struct cook cooks[COOK_SLOTS];
    struct shared_kitchen *shared;
    int signals; /* the signalfd */
    pid_t pid;
} master;

/* ------------------------------------------------------------ a worker */

static void on_closing_signal(int signal_number)
{
    (void)signal_number;
    closing_ring(); /* the bell's pipe is watched: the loop wakes up */
}

/* SIGQUIT, from the master's reload: finish what is seated, then go. */
static void on_last_orders(struct loop *loop, struct loop_watch *watch,
                           uint32_t events)
{
    (void)loop;
    (void)events;
    struct signalfd_siginfo info;
    ssize_t ignored = read(watch->fd, &info, sizeof info);
    (void)ignored; /* EAGAIN: already read; the news is the same */
    kitchen_loop_last_orders();
}

static void set_signal_mask(int how, const sigset_t *set, const char *what)
{
    if (sigprocmask(how, set, NULL) < 0)
        kitchen_fail("sigprocmask (%s)", what);
}

// @snippet work
/*
 * A cook's whole life, in the child: step 07's kitchen on its own door.
 * It hears closing time as step 07 does (the bell), and "last orders" on
 * a signalfd of its own, watched on its tablet like any other news.
 */
static _Noreturn void work(unsigned slot, int door)
{
    /* If the master dies, its cooks go too: no orphan kitchen. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
        kitchen_fail("prctl(PR_SET_PDEATHSIG)");
    if (getppid() != master.pid)
        _exit(0); /* it died before prctl: nobody to work for */
    close(master.signals);
    for (int i = 0; i < master.door_count; i++)
        if (master.doors[i] != master.doors[door]) /* one door: all alike */
            close(master.doors[i]);

    closing_prepare(on_closing_signal);
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    if (sigaction(SIGHUP, &ignore, NULL) < 0) /* the master's to hear */
        kitchen_fail("sigaction(SIGHUP)");
    sigset_t last_orders;
    sigemptyset(&last_orders);
    sigaddset(&last_orders, SIGQUIT);
    int last_orders_fd = signalfd(-1, &last_orders, SFD_NONBLOCK | SFD_CLOEXEC);
    if (last_orders_fd < 0)
        kitchen_fail("signalfd (SIGQUIT, last orders)");
    set_signal_mask(SIG_SETMASK, &last_orders, "a cook's");

    if (master.options->doors == DOORS_EXCLUSIVE)
        kitchen_loop_wake_one_cook();
    if (master.options->door_given)
        kitchen_loop_count_wakeups(&master.shared->tally,
                                   &master.shared->let_in[slot]);
    kitchen_loop_open(master.doors[door]);
    kitchen_loop_share(&master.shared->customers, master.shared->seats,
                       master.slots, slot);
    struct loop_watch last_orders_watch;
    if (!loop_watch(kitchen_tablet(), &last_orders_watch, last_orders_fd,
                    EPOLLIN, on_last_orders))
        kitchen_fail("putting last orders on the tablet (epoll_ctl)");
    kitchen_loop_run();
    loop_close(kitchen_tablet(), &last_orders_watch, NULL);
    kitchen_loop_close();
    close(last_orders_fd);
    exit(0);
}
// @end work

/* ------------------------------------------------------------ the master */

static int cpus_to_run_on(void)
{
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof cpus, &cpus) < 0)
        kitchen_fail("sched_getaffinity");
    int count = CPU_COUNT(&cpus);
    return count < 1 ? 1 : count > MAX_WORKERS ? MAX_WORKERS : count;
}

static int free_slot(void)
{
    for (unsigned slot = 0; slot < master.slots; slot++)
        if (master.cooks[slot].pid == 0)
            return (int)slot;
    return -1;
}

static bool door_has_a_cook(int door)
{
    for (unsigned slot = 0; slot < master.slots; slot++) {
        const struct cook *cook = &master.cooks[slot];
        if (cook->pid != 0 && cook->door == door && !cook->going_home)
            return true;
    }
    return false;
}

// @snippet hire
/* A new cook for a door. False when none could be hired now (no slot, or
 * fork failed for want of memory or processes): the master tries again. */
static bool hire(int door)
{
    int slot = free_slot();
    if (slot < 0)
        return false;
    /* A cook killed outright left its seats counted: they are empty now. */
    atomic_store(&master.shared->seats[slot], 0);
    pid_t pid = fork();
    if (pid < 0) {
        kitchen_warn_shortage("fork (hiring a cook)", errno);
        return false;
    }
    if (pid == 0)
        work((unsigned)slot, door);
    master.cooks[slot] = (struct cook){
        .pid = pid, .door = door, .hired_us = monotonic_us()};
    return true;
}
// @end hire

/* Every door without a cook gets one. False if one is still missing. */
static bool staff_every_door(void)
{
    bool staffed = true;
    for (int door = 0; door < master.door_count; door++)
        if (!door_has_a_cook(door) && !hire(door))
            staffed = false;
    return staffed;
}

static struct cook *cook_of(pid_t pid)
{
    for (unsigned slot = 0; slot < master.slots; slot++)
        if (master.cooks[slot].pid == pid)
            return &master.cooks[slot];
    return NULL;
}

static bool anyone_working(void)
{
    for (unsigned slot = 0; slot < master.slots; slot++)
        if (master.cooks[slot].pid != 0)
            return true;
    return false;
}

static void tell_everyone(int signal_number)
{
    for (unsigned slot = 0; slot < master.slots; slot++)
        if (master.cooks[slot].pid != 0)
            kill(master.cooks[slot].pid, signal_number); /* ESRCH: gone,
                                                       reaped next */
}

// @snippet reap
/*
 * SIGCHLD: reap every cook who left (several may have, for one signal).
 * A cook who fails as it starts (exit status 1: kitchen_fail said why)
 * would fail again: the kitchen cannot open.
 */
static void reap(void)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct cook *cook = cook_of(pid);
        if (cook == NULL)
            continue;
        bool failed_to_start = WIFEXITED(status) && WEXITSTATUS(status) != 0
            && monotonic_us() - cook->hired_us < FAILED_START_US;
        cook->pid = 0;
        if (failed_to_start) {
            tell_everyone(SIGTERM);
            fprintf(stderr, "pizzeria: a cook could not open its kitchen "
                            "(exit status %d)\n", WEXITSTATUS(status));
            exit(1);
        }
    }
    if (pid < 0 && errno != ECHILD)
        kitchen_fail("waitpid");
}
// @end reap

// @snippet reload
/*
 * SIGHUP: a fresh cook for every door, then "last orders" (SIGQUIT) for
 * the ones they replace. The door stays open all along, held by the
 * master and now by two cooks: the old one stops taking customers from
 * it, the new one takes them, and nobody in its queue is turned away.
 */
static void reload(void)
{
    unsigned going_home = 0, free = 0;
    for (unsigned slot = 0; slot < master.slots; slot++)
        if (master.cooks[slot].pid == 0)
            free++;
        else if (master.cooks[slot].going_home)
            going_home++;
    if (free < (unsigned)master.door_count) {
        fprintf(stderr, "pizzeria: reload: %u cooks of the last reloads "
                        "still finishing; try again soon\n", going_home);
        return;
    }
    pid_t old[COOK_SLOTS];
    unsigned old_count = 0;
    for (unsigned slot = 0; slot < master.slots; slot++) {
        struct cook *cook = &master.cooks[slot];
        if (cook->pid != 0 && !cook->going_home) {
            cook->going_home = true;
            old[old_count++] = cook->pid;
        }
    }
    staff_every_door();
    for (unsigned i = 0; i < old_count; i++)
        kill(old[i], SIGQUIT); /* ESRCH: gone already, reaped next */
}
// @end reload

/* The signals the master waits for, on a signalfd: never in a handler. */
static int listen_for_signals(void)
{
    sigset_t signals;
    sigemptyset(&signals);
    int heard[] = {SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGQUIT};
    for (size_t i = 0; i < sizeof heard / sizeof heard[0]; i++)
        sigaddset(&signals, heard[i]);
    /* Blocked before the first fork: a cook inherits the mask, so a signal
     * sent to it before it is ready waits for it instead of killing it. */
    set_signal_mask(SIG_BLOCK, &signals, "the master's");
    int fd = signalfd(-1, &signals, SFD_CLOEXEC);
    if (fd < 0)
        kitchen_fail("signalfd");
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    if (sigaction(SIGPIPE, &ignore, NULL) < 0)
        kitchen_fail("sigaction(SIGPIPE)");
    return fd;
}

/* The next signal, or 0 if none came within timeout_ms (-1: no limit). */
static int next_signal(int timeout_ms)
{
    struct pollfd news = {.fd = master.signals, .events = POLLIN};
    int ready = poll(&news, 1, timeout_ms);
    if (ready < 0 && errno == EINTR)
        return 0;
    if (ready < 0)
        kitchen_fail("poll (the master's signals)");
    if (ready == 0)
        return 0;
    struct signalfd_siginfo info;
    ssize_t n = read(master.signals, &info, sizeof info);
    if (n < 0 && errno == EINTR)
        return 0;
    if (n != (ssize_t)sizeof info)
        kitchen_fail("read (the master's signalfd)");
    return (int)info.ssi_signo;
}

// @snippet closing
/* Closing time: every cook stops (step 07's bell), and the master waits
 * for them; one who does not stop within GOODBYE_MS is killed. */
static void close_kitchen(void)
{
    tell_everyone(SIGTERM);
    long long deadline = monotonic_us() + GOODBYE_MS * 1000LL;
    reap();
    while (anyone_working()) {
        long long left_ms = (deadline - monotonic_us()) / 1000;
        if (left_ms <= 0) {
            tell_everyone(SIGKILL);
            deadline = monotonic_us() + GOODBYE_MS * 1000LL;
            continue;
        }
        next_signal((int)left_ms);
        reap();
    }
}
// @end closing

/*
 * A door per cook (SO_REUSEPORT), or, for the herd, one door that every
 * cook's tablet watches: the same listening socket in every worker.
 */
static void open_the_street(const struct options *options, int cooks)
{
    if (options->doors == DOORS_REUSEPORT) {
        master.door_count = cooks;
        kitchen_open_doors(options, master.doors, cooks);
        return;
    }
    int door = kitchen_open_door(options);
    for (int i = 0; i < cooks; i++)
        master.doors[i] = door;
    master.door_count = cooks; /* a cook per "door", all the same socket */
}

/*
 * At closing time, with --door: how hard the herd ran. The cooks count
 * the wake-ups they saw (kitchen_loop.c); most of a herd they never see:
 * epoll looks at the door again before it reports it, and a cook woken
 * for a customer another cook already let in goes back to sleep inside
 * epoll_wait. The kernel counts those too, as the cooks' voluntary
 * context switches, which the master reads once every cook is reaped.
 */
static void report_the_herd(const struct options *options)
{
    static const char *const names[] = {
        [DOORS_REUSEPORT] = "reuseport", [DOORS_SHARED] = "shared",
        [DOORS_EXCLUSIVE] = "exclusive"};
    struct rusage cooks;
    if (getrusage(RUSAGE_CHILDREN, &cooks) < 0)
        kitchen_fail("getrusage (the cooks' context switches)");
    fprintf(stderr, "pizzeria: door %s: %lu wake-ups, %lu for nobody, "
                    "%lu customers, %ld cook context switches\n",
            names[options->doors],
            atomic_load(&master.shared->tally.wakeups),
            atomic_load(&master.shared->tally.for_nobody),
            atomic_load(&master.shared->customers), cooks.ru_nvcsw);
    /* How evenly the door spread them: the customers each cook let in
     * (the first cooks' slots, and any later cook's a reload hired). */
    unsigned shown = (unsigned)master.door_count;
    for (unsigned slot = shown; slot < master.slots; slot++)
        if (atomic_load(&master.shared->let_in[slot]) > 0)
            shown = slot + 1;
    fprintf(stderr, "pizzeria: door %s: customers per cook:",
            names[options->doors]);
    for (unsigned slot = 0; slot < shown; slot++)
        fprintf(stderr, " %lu", atomic_load(&master.shared->let_in[slot]));
    fputc('\n', stderr);
}

// @snippet master
/* Hire, replace, reload, until closing time. */
static void supervise(void)
{
    bool staffed = staff_every_door();
    for (;;) {
        switch (next_signal(staffed ? -1 : REHIRE_RETRY_MS)) {
        case SIGCHLD:
            reap();
            break;
        case SIGHUP:
            reload();
            break;
        case SIGTERM:
        case SIGINT:
        case SIGQUIT:
            close_kitchen();
            return;
        }
        staffed = staff_every_door(); /* whoever left is replaced */
    }
}

int main(int argc, char **argv)
{
    struct options options;
    options_parse(argc, argv, &step, &options);
    kitchen_open(&step, &options);
    master.pid = getpid();
    master.signals = listen_for_signals();

    master.shared = mmap(NULL, sizeof *master.shared, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (master.shared == MAP_FAILED)
        kitchen_fail("mmap (the memory the cooks share)");
    pizzeria_share_order_counter(&master.shared->orders_taken);

    int cooks = options.workers ? options.workers : cpus_to_run_on();
    master.options = &options;
    master.slots = (unsigned)cooks * SLOTS_PER_DOOR;
    open_the_street(&options, cooks);
    supervise();
    if (options.door_given)
        report_the_herd(&options);
    return 0;
}
// @end master
