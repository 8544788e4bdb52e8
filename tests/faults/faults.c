/*
 * faults.c - the fault-injection build: the system calls a kitchen depends
 * on fail on demand, so that the tests can watch how it copes with the bad
 * days a real kitchen only has now and then (no descriptor left, no memory,
 * a signal in the middle of a read, a network that takes one byte at a
 * time). In the spirit of SQLite's and redis's fault injection.
 *
 * How it is linked. `make faults` builds every step into
 * build/faults/NN-name/pizzeria with this file added and the linker told
 * -Wl,--wrap=malloc,--wrap=accept4,... : every call to malloc that the
 * step's own code makes then goes to __wrap_malloc below, which decides
 * whether this call fails, and otherwise calls the real one
 * (__real_malloc). The steps' sources are not changed at all, and only
 * the step's own calls are wrapped, never libc's internal ones (stdio's
 * buffers, pthread_create's stack): the kitchen's code is what is under
 * test. Unlike an LD_PRELOAD library, nothing has to look the real
 * function up at run time (dlsym may itself allocate). The build also
 * undefines _FORTIFY_SOURCE, whose checked variants (__read_chk, ...)
 * would slip past the wrappers.
 *
 * Which faults: PIZZERIA_FAULTS, read once, before main. Entries are
 * separated by commas:
 *
 *     CALL=FAILURE        every call fails
 *     CALL=FAILURE/N      every Nth call fails (the Nth, the 2Nth, ...)
 *     CALL=FAILURE~N      each call fails with a chance of 1 in N, drawn
 *                         from a hash of the seed and the call's number:
 *                         the same seed and the same calls fail the same
 *     seed=S              the seed for ~N (a number; 1 if not given)
 *
 *     PIZZERIA_FAULTS="accept=EMFILE/3"
 *     PIZZERIA_FAULTS="read=EINTR/2,write=short"
 *     PIZZERIA_FAULTS="malloc=ENOMEM~4,seed=7"
 *
 * CALL is the kind of call, and FAILURE what it does instead:
 *
 *     accept     accept, accept4           EMFILE ENFILE ENOMEM ENOBUFS
 *                                          ECONNABORTED EPROTO EINTR
 *     malloc     malloc, calloc, realloc   ENOMEM (NULL, as the real one)
 *     read       read, recv on a socket    EINTR EAGAIN ECONNRESET short
 *     write      write, send, writev,      EINTR EAGAIN ECONNRESET EPIPE
 *                sendmsg on a socket       short
 *     epoll_ctl  EPOLL_CTL_ADD and MOD     ENOMEM ENOSPC
 *     io_uring_enter  syscall(SYS_io_uring_enter): EINTR EBUSY (step 09:
 *                the jobs are then not handed over, and wait for the next)
 *
 * "short" passes the call through with a length of one byte: a short read
 * or write, as a congested network gives. An injected failure happens
 * before the real call, which is then not made: nothing is consumed. For
 * ECONNABORTED that is as if another customer, ahead in the queue, had
 * given up; the one waiting is let in by the next accept.
 *
 * A call counts (towards /N and ~N) only where its failure can really
 * happen; elsewhere it passes through, uncounted:
 *  - read and write faults concern the customers' sockets only, not the
 *    kitchen's own pipes, timers and log files. (The closing bell is
 *    written from a signal handler: that write is not a socket's, and the
 *    wrapper it goes through only asks fstat, which is safe there.)
 *  - EAGAIN only where the call would not wait: a non-blocking socket, or
 *    MSG_DONTWAIT. On a blocking socket EAGAIN means something else: the
 *    receive or send timeout (SO_RCVTIMEO, SO_SNDTIMEO) ran out, which the
 *    blocking cook rightly takes for a customer who is too slow. Injected
 *    there it would not be a transient failure but a timeout that never
 *    happened.
 *  - ENOSPC only for EPOLL_CTL_ADD: it is the limit on watches
 *    (max_user_watches), which only adding a watch can reach. DEL is never
 *    failed: it frees room, it never needs any.
 *
 * When: faults are off while the server opens (options, kitchen_open, the
 * listening socket, the tablet): a kitchen that cannot open may simply
 * exit, and that is no test of how it serves. They are armed by the first
 * call to accept, which can itself fail, and stay armed; in a kitchen
 * whose accepts are the kernel's (step 09, io_uring), by the first
 * io_uring_enter.
 *
 * At exit (the server's own, not a forked cook's _exit) one line per entry
 * says how often it struck, on stderr, for the tests to check that the
 * fault was really met:
 *
 *     pizzeria-faults: read=EINTR/2: 40 calls, 20 failed
 *
 * Safe where it must be: the wrappers take no lock and allocate nothing
 * (the configuration is parsed into static arrays before main, by a
 * constructor), use only lock-free atomics, fstat and fcntl, so they may
 * run in a signal handler and in any number of threads at once (step 03).
 * The counters live in a shared anonymous mapping, so that the cooks
 * step 02 forks count on from the host's count, and every Nth call is
 * every Nth across the whole kitchen.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

_Static_assert(ATOMIC_LONG_LOCK_FREE == 2 && ATOMIC_BOOL_LOCK_FREE == 2,
               "the wrappers run in signal handlers: atomics must not lock");

enum call { ACCEPT, MALLOC, READ, WRITE, EPOLL_CTL, URING_ENTER };

static const char *const call_names[] = {
    [ACCEPT] = "accept", [MALLOC] = "malloc", [READ] = "read",
    [WRITE] = "write",   [EPOLL_CTL] = "epoll_ctl",
    [URING_ENTER] = "io_uring_enter",
};

enum { SHORT = -1 }; /* a failure that is not an errno: one byte at a time */

static const struct {
    const char *name;
    int failure;
    unsigned calls; /* the calls it makes sense for: bits of 1 << call */
} failures[] = {
    {"EMFILE", EMFILE, 1 << ACCEPT},
    {"ENFILE", ENFILE, 1 << ACCEPT},
    {"ENOBUFS", ENOBUFS, 1 << ACCEPT},
    {"ECONNABORTED", ECONNABORTED, 1 << ACCEPT},
    {"EPROTO", EPROTO, 1 << ACCEPT},
    {"ENOMEM", ENOMEM, 1 << ACCEPT | 1 << MALLOC | 1 << EPOLL_CTL},
    {"ENOSPC", ENOSPC, 1 << EPOLL_CTL},
    {"EINTR", EINTR, 1 << ACCEPT | 1 << READ | 1 << WRITE | 1 << URING_ENTER},
    {"EBUSY", EBUSY, 1 << URING_ENTER},
    {"EAGAIN", EAGAIN, 1 << READ | 1 << WRITE},
    {"ECONNRESET", ECONNRESET, 1 << READ | 1 << WRITE},
    {"EPIPE", EPIPE, 1 << WRITE},
    {"short", SHORT, 1 << READ | 1 << WRITE},
};

enum { MAX_FAULTS = 16, ENTRY_TEXT = 48 };

struct fault {
    enum call call;
    int failure;         /* an errno, or SHORT */
    unsigned long every; /* N */
    bool random;         /* ~N rather than /N */
    char text[ENTRY_TEXT];
};

/* Written once, before main; only read afterwards. */
static struct fault faults[MAX_FAULTS];
static int fault_count;
static uint64_t seed = 1;
static pid_t parent_pid;

/* Written by every call, in every thread and every forked cook. */
struct tally {
    atomic_ulong calls, failed;
};
static struct shared {
    atomic_bool armed;
    struct tally tally[MAX_FAULTS];
} *shared;

/* ---------------------------------------------------------------- parsing */

static _Noreturn void bad_setting(const char *entry, const char *why)
{
    fprintf(stderr, "pizzeria-faults: PIZZERIA_FAULTS: '%s': %s\n", entry,
            why);
    exit(2);
}

static bool parse_number(const char *text, unsigned long long *out)
{
    if (*text < '0' || *text > '9')
        return false;
    char *end;
    errno = 0;
    *out = strtoull(text, &end, 10);
    return errno == 0 && *end == '\0';
}

/* One entry, NUL-terminated in place: CALL=FAILURE[/N|~N] or seed=S. */
static void parse_entry(char *entry)
{
    char whole[ENTRY_TEXT];
    snprintf(whole, sizeof whole, "%s", entry);
    char *failure_name = strchr(entry, '=');
    if (failure_name == NULL)
        bad_setting(whole, "expected CALL=FAILURE[/N|~N] or seed=S");
    *failure_name++ = '\0';
    unsigned long long number;
    if (strcmp(entry, "seed") == 0) {
        if (!parse_number(failure_name, &number))
            bad_setting(whole, "the seed is a number");
        seed = number;
        return;
    }
    if (fault_count == MAX_FAULTS)
        bad_setting(whole, "too many entries");
    struct fault *f = &faults[fault_count];
    snprintf(f->text, sizeof f->text, "%s", whole);

    size_t call;
    for (call = 0; call < sizeof call_names / sizeof *call_names; call++)
        if (strcmp(entry, call_names[call]) == 0)
            break;
    if (call == sizeof call_names / sizeof *call_names)
        bad_setting(whole, "CALL is accept, malloc, read, write, "
                           "epoll_ctl or io_uring_enter");
    f->call = (enum call)call;

    f->every = 1;
    char *how_often = strpbrk(failure_name, "/~");
    if (how_often != NULL) {
        f->random = *how_often == '~';
        *how_often++ = '\0';
        if (!parse_number(how_often, &number) || number == 0)
            bad_setting(whole, "N is a number, 1 or more");
        f->every = (unsigned long)number;
    }

    size_t i;
    for (i = 0; i < sizeof failures / sizeof *failures; i++)
        if (strcmp(failure_name, failures[i].name) == 0)
            break;
    if (i == sizeof failures / sizeof *failures ||
        !(failures[i].calls & 1u << f->call))
        bad_setting(whole, "this call cannot fail that way (see "
                           "tests/faults/faults.c)");
    f->failure = failures[i].failure;
    fault_count++;
}

__attribute__((constructor)) static void read_the_faults(void)
{
    const char *setting = getenv("PIZZERIA_FAULTS");
    if (setting == NULL || *setting == '\0')
        return;
    char copy[1024];
    if (strlen(setting) >= sizeof copy)
        bad_setting("...", "too long");
    strcpy(copy, setting);
    char *rest = copy;
    for (char *entry; (entry = strsep(&rest, ",")) != NULL;)
        if (*entry != '\0')
            parse_entry(entry);
    if (fault_count == 0)
        return;
    void *map = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        perror("pizzeria-faults: mmap");
        exit(2);
    }
    shared = map; /* zero-filled: unarmed, nothing counted */
    parent_pid = getpid();
}

__attribute__((destructor)) static void report_the_faults(void)
{
    if (shared == NULL || getpid() != parent_pid)
        return;
    for (int i = 0; i < fault_count; i++)
        fprintf(stderr, "pizzeria-faults: %s: %lu calls, %lu failed\n",
                faults[i].text, atomic_load(&shared->tally[i].calls),
                atomic_load(&shared->tally[i].failed));
}

/* ---------------------------------------------------------------- deciding */

/* Where a call stands, for failures that can only happen in some places. */
enum {
    WOULD_NOT_WAIT = 1, /* non-blocking: EAGAIN is possible */
    ADDING = 2,         /* EPOLL_CTL_ADD: ENOSPC is possible */
};

static bool possible_here(int failure, unsigned where)
{
    if (failure == EAGAIN)
        return where & WOULD_NOT_WAIT;
    if (failure == ENOSPC)
        return where & ADDING;
    return true;
}

/* splitmix64: a good spread from consecutive numbers, and no state. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* The failure this call meets: 0 for none, an errno, or SHORT. Entries
 * are tried in order; the first that strikes decides. */
static int fault_for(enum call call, unsigned where)
{
    if (shared == NULL || !atomic_load(&shared->armed))
        return 0;
    for (int i = 0; i < fault_count; i++) {
        const struct fault *f = &faults[i];
        if (f->call != call || !possible_here(f->failure, where))
            continue;
        struct tally *t = &shared->tally[i];
        unsigned long n = atomic_fetch_add(&t->calls, 1) + 1;
        bool strikes = f->random ? mix(seed ^ mix(n + ((uint64_t)i << 48))) %
                                           f->every == 0
                                 : n % f->every == 0;
        if (strikes) {
            atomic_fetch_add(&t->failed, 1);
            return f->failure;
        }
    }
    return 0;
}

static void arm(void)
{
    if (shared != NULL)
        atomic_store(&shared->armed, true);
}

/* read and write faults: the customers' sockets only (see above). */
static int socket_fault(enum call call, int fd, int msg_flags)
{
    if (shared == NULL || !atomic_load(&shared->armed))
        return 0;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
        return 0;
    int flags = fcntl(fd, F_GETFL);
    bool would_not_wait = (flags >= 0 && (flags & O_NONBLOCK)) ||
                          (msg_flags & MSG_DONTWAIT);
    return fault_for(call, would_not_wait ? WOULD_NOT_WAIT : 0);
}

static int fail(int failure)
{
    errno = failure;
    return -1;
}

/* ---------------------------------------------------------------- the door */

int __real_accept(int fd, struct sockaddr *peer, socklen_t *peer_len);
int __real_accept4(int fd, struct sockaddr *peer, socklen_t *peer_len,
                   int flags);

int __wrap_accept(int fd, struct sockaddr *peer, socklen_t *peer_len)
{
    arm();
    int failure = fault_for(ACCEPT, 0);
    return failure ? fail(failure) : __real_accept(fd, peer, peer_len);
}

int __wrap_accept4(int fd, struct sockaddr *peer, socklen_t *peer_len,
                   int flags)
{
    arm();
    int failure = fault_for(ACCEPT, 0);
    return failure ? fail(failure) : __real_accept4(fd, peer, peer_len, flags);
}

/* io_uring has no libc wrapper: step 09 makes its calls with syscall(2),
 * whose arguments are all longs. */
long __real_syscall(long number, ...);

long __wrap_syscall(long number, ...)
{
    va_list ap;
    va_start(ap, number);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (number == SYS_io_uring_enter) {
        arm();
        int failure = fault_for(URING_ENTER, 0);
        if (failure)
            return fail(failure);
    }
    return __real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* ---------------------------------------------------------------- memory */

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *old, size_t size);

void *__wrap_malloc(size_t size)
{
    if (fault_for(MALLOC, 0)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size)
{
    if (fault_for(MALLOC, 0)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_calloc(count, size);
}

void *__wrap_realloc(void *old, size_t size)
{
    if (fault_for(MALLOC, 0)) {
        errno = ENOMEM;
        return NULL; /* the old block stays, as with the real realloc */
    }
    return __real_realloc(old, size);
}

/* ---------------------------------------------------------------- reading */

ssize_t __real_read(int fd, void *buffer, size_t len);
ssize_t __real_recv(int fd, void *buffer, size_t len, int flags);

ssize_t __wrap_read(int fd, void *buffer, size_t len)
{
    int failure = socket_fault(READ, fd, 0);
    if (failure > 0)
        return fail(failure);
    return __real_read(fd, buffer, failure == SHORT && len > 1 ? 1 : len);
}

ssize_t __wrap_recv(int fd, void *buffer, size_t len, int flags)
{
    int failure = socket_fault(READ, fd, flags);
    if (failure > 0)
        return fail(failure);
    return __real_recv(fd, buffer, failure == SHORT && len > 1 ? 1 : len,
                       flags);
}

/* ---------------------------------------------------------------- writing */

ssize_t __real_write(int fd, const void *data, size_t len);
ssize_t __real_send(int fd, const void *data, size_t len, int flags);
ssize_t __real_writev(int fd, const struct iovec *iov, int count);
ssize_t __real_sendmsg(int fd, const struct msghdr *message, int flags);

ssize_t __wrap_write(int fd, const void *data, size_t len)
{
    int failure = socket_fault(WRITE, fd, 0);
    if (failure > 0)
        return fail(failure);
    return __real_write(fd, data, failure == SHORT && len > 1 ? 1 : len);
}

ssize_t __wrap_send(int fd, const void *data, size_t len, int flags)
{
    int failure = socket_fault(WRITE, fd, flags);
    if (failure > 0)
        return fail(failure);
    return __real_send(fd, data, failure == SHORT && len > 1 ? 1 : len,
                       flags);
}

/* The first byte of a gather list, as a list of its own. */
static int first_byte(const struct iovec *iov, int count, struct iovec *one)
{
    for (int i = 0; i < count; i++)
        if (iov[i].iov_len > 0) {
            *one = (struct iovec){.iov_base = iov[i].iov_base, .iov_len = 1};
            return 1;
        }
    return 0;
}

ssize_t __wrap_writev(int fd, const struct iovec *iov, int count)
{
    int failure = socket_fault(WRITE, fd, 0);
    if (failure > 0)
        return fail(failure);
    struct iovec one;
    if (failure == SHORT && first_byte(iov, count, &one))
        return __real_writev(fd, &one, 1);
    return __real_writev(fd, iov, count);
}

ssize_t __wrap_sendmsg(int fd, const struct msghdr *message, int flags)
{
    int failure = socket_fault(WRITE, fd, flags);
    if (failure > 0)
        return fail(failure);
    struct iovec one;
    if (failure == SHORT &&
        first_byte(message->msg_iov, (int)message->msg_iovlen, &one)) {
        struct msghdr shorter = *message;
        shorter.msg_iov = &one;
        shorter.msg_iovlen = 1;
        return __real_sendmsg(fd, &shorter, flags);
    }
    return __real_sendmsg(fd, message, flags);
}

/* ---------------------------------------------------------------- the tablet */

int __real_epoll_ctl(int epfd, int op, int fd, struct epoll_event *event);

int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
    if (op != EPOLL_CTL_DEL) {
        int failure = fault_for(EPOLL_CTL, op == EPOLL_CTL_ADD ? ADDING : 0);
        if (failure)
            return fail(failure);
    }
    return __real_epoll_ctl(epfd, op, fd, event);
}
