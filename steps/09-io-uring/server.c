/*
 * Step 09 - the asynchronous kitchen: a proactor on io_uring.
 *
 * Steps 04 to 08 are readiness kitchens: the tablet says "this table is
 * ready", and the cook still does every read and write himself. Here the
 * cook hands the kernel whole jobs instead, and is told when each is done:
 *
 *   - the door: one job, "let in everyone who comes" (a multishot accept);
 *   - each customer: one job, "whatever they send, put it in a buffer
 *     from the rack and tell me" (a multishot receive into a ring of
 *     provided buffers, so a silent customer holds no buffer);
 *   - each answer: "send these bytes", and again from where it stopped if
 *     the kernel sent only part of them;
 *   - each deadline, the oven's or the customer's patience: "ring me at
 *     this time" (a timeout job);
 *   - closing time: "read the signal that rang the bell" (a read job on
 *     a signalfd: SIGTERM and SIGINT are blocked, no handler runs).
 *
 * Every job goes on the submission queue, every result comes back on the
 * completion queue (ring.c), and one io_uring_enter hands over all the
 * jobs of a round and waits for the next results. There is no select,
 * poll or epoll here, and one thread.
 *
 * The visit is the same state machine as in steps 04 to 08 (event_cook.c),
 * with a wire (struct conn_wire) that answers its recv, send and close
 * from the jobs' results; the buffers it needs between jobs are lent from
 * step 07's shelf (shelf.c). What a customer's table holds is below.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "door.h"
#include "event_cook.h"
#include "kitchen.h"
#include "ring.h"
#include "shelf.h"

// @snippet step
static const struct step step = {
    .name = "09-io-uring",
    .default_bake_ms = 1000,
    .default_max_conns = 10000,
    .max_conns_note = "past it a new customer is told 503",
};
// @end step

// @snippet sizes
enum {
    RING_JOBS = 4096,       /* the submission queue's slots */
    RING_RESULTS = 16384,   /* the completion queue's */
    RACK_BUFFERS = 4096,    /* buffers the kernel may receive into */
    RACK_BUFFER_SIZE = 2048,
    RACK_GROUP = 0,
    HOLD_AT_MOST = 2,       /* buffers a customer may hold unread before
                               their receive is stopped */
    SEATS_PER_TURN = 256,   /* customers let in per turn, by hand */
    CLOSING_GRACE_US = 500000, /* for the kernel to hand back every job */
    EXIT_NO_IO_URING = 3,   /* the kernel refuses io_uring */
};
// @end sizes

// @snippet jobs
/*
 * Every job carries 64 bits the kernel hands back with its result
 * (user_data): here the table it is for, and in the low bits what kind of
 * job it was. Tables come from malloc, so those bits are free.
 */
enum job {
    JOB_RECEIVE,  /* a customer's multishot receive */
    JOB_SEND,     /* an answer, or what is left of it */
    JOB_TIMER,    /* a customer's deadline: the oven, or their patience */
    JOB_ERRAND,   /* a cancel, a close, a timer moved: only counted */
    JOB_DOOR,     /* the door's multishot accept */
    JOB_DOOR_TIMER, /* the door shut for a moment reopens */
    JOB_DOOR_WATCH, /* someone is at the door (a poll, when short-handed) */
    JOB_BELL,     /* SIGTERM or SIGINT, read from a signalfd */
    JOB_KINDS,
};
enum { JOB_BITS = 3, JOB_MASK = (1 << JOB_BITS) - 1 };
_Static_assert(JOB_KINDS <= 1 << JOB_BITS, "a job's kind fits its bits");
_Static_assert(_Alignof(max_align_t) >= 1 << JOB_BITS,
               "malloc leaves a table's low bits free");
// @end jobs

// @snippet table
/*
 * A seated customer. Besides the visit, the table keeps what the kernel
 * owes it: how many of its jobs are still in the kernel's hands (the
 * table may not be freed before every one has come back: the kernel would
 * write its results, and read its answer, in memory that is someone
 * else's), what their receive brought that the visit has not read yet,
 * how their send went, and when their timer rings.
 */
enum sending { SEND_NONE, SEND_IN_FLIGHT, SEND_DONE };

struct table {
    struct conn conn;          /* the visit (event_cook.h) */
    unsigned jobs;             /* in the kernel's hands */
    bool receiving;            /* the multishot receive is armed */
    bool stopping;             /* ...and asked to stop (held back) */
    bool starved;              /* it stopped: the rack was empty */
    bool leaving;              /* closed: freed when jobs reach 0 */
    int first, last;           /* buffers received and not yet read */
    unsigned held;             /* how many */
    int end;                   /* 1: they finished sending; < 0: -errno */
    enum sending sending;
    int sent;                  /* the send job's result */
    long long timer_at;        /* 0, or when the timer job rings */
    struct __kernel_timespec when; /* read by the kernel at submission */
    struct table *prev, *next; /* seated, or leaving */
};
// @end table

/* What the rack knows of a buffer the kitchen holds: its bytes, how many
 * the visit has read, and the customer's next buffer after it. */
struct arrival {
    unsigned len, used;
    int next;
};

struct kitchen {
    struct ring ring;
    struct rack rack;
    struct arrival arrivals[RACK_BUFFERS]; /* by buffer id */
    struct door door;
    bool door_armed;
    struct pantry pantry; /* input, output and ticket, lent to visits */
    struct table *seated, *leaving;
    unsigned starved;     /* tables waiting for the rack to refill */
    int signals;  /* the signalfd the bell's job reads */
    struct signalfd_siginfo signal_info;
    struct __kernel_timespec door_reopens;
    bool open;
    bool grace_over; /* closing time: no more waiting for the kernel */
    /* For the report at closing time. */
    unsigned long jobs_handed, results_seen;
    unsigned receiving, most_receiving, most_lent;
};

static struct kitchen kitchen;

/* ------------------------------------------------------------- the jobs */

static struct table *table_of(struct conn *conn)
{
    return (struct table *)((char *)conn - offsetof(struct table, conn));
}

static uint64_t tag(struct table *table, enum job kind)
{
    return (uint64_t)(uintptr_t)table | kind;
}

// @snippet job
/* A blank job for a table (or for the kitchen, with table NULL). */
static struct io_uring_sqe *job(struct table *table, enum job kind)
{
    struct io_uring_sqe *sqe = ring_job(&kitchen.ring);
    if (sqe == NULL)
        kitchen_fail("handing jobs to the ring (io_uring_enter)");
    sqe->user_data = tag(table, kind);
    if (table != NULL)
        table->jobs++;
    kitchen.jobs_handed++;
    return sqe;
}
// @end job

/* ------------------------------------------------------------ receiving */

// @snippet receive
/*
 * One receive for the whole visit: the kernel waits on the socket and,
 * each time bytes come, takes a buffer from the rack, fills it and says
 * so, until something ends it (their end, an error, an empty rack, or
 * us). No buffer is named: an idle customer holds none while it waits.
 */
static void receive(struct table *table)
{
    struct io_uring_sqe *sqe = job(table, JOB_RECEIVE);
    sqe->opcode = IORING_OP_RECV;
    sqe->fd = table->conn.fd;
    sqe->ioprio = IORING_RECV_MULTISHOT;
    sqe->flags = IOSQE_BUFFER_SELECT;
    sqe->buf_group = RACK_GROUP;
    table->receiving = true;
    if (++kitchen.receiving > kitchen.most_receiving)
        kitchen.most_receiving = kitchen.receiving;
}

/*
 * Backpressure: a customer who sends while their visit is not reading
 * (an answer going out, an order in the oven) has their bytes kept, but
 * only HOLD_AT_MOST buffers of them; then the receive is cancelled, and
 * what they send waits in their socket until the visit reads again.
 */
static void hold_back(struct table *table)
{
    struct io_uring_sqe *sqe = job(table, JOB_ERRAND);
    sqe->opcode = IORING_OP_ASYNC_CANCEL;
    sqe->addr = tag(table, JOB_RECEIVE);
    table->stopping = true;
}
// @end receive

// @snippet received
/* A receive's result: a buffer to keep for the visit, their end, or why
 * the receive stopped. Without IORING_CQE_F_MORE it has stopped. */
static void received(struct table *table, int res, unsigned flags)
{
    if (!(flags & IORING_CQE_F_MORE)) {
        table->receiving = table->stopping = false;
        kitchen.receiving--;
    }
    if (flags & IORING_CQE_F_BUFFER) {
        int id = (int)(flags >> IORING_CQE_BUFFER_SHIFT);
        rack_took(&kitchen.rack);
        if (kitchen.rack.lent > kitchen.most_lent)
            kitchen.most_lent = kitchen.rack.lent;
        if (table->leaving || res <= 0) {
            rack_return(&kitchen.rack, (unsigned)id);
        } else {
            kitchen.arrivals[id] = (struct arrival){.len = (unsigned)res,
                                                    .next = -1};
            if (table->last >= 0)
                kitchen.arrivals[table->last].next = id;
            else
                table->first = id;
            table->last = id;
            if (++table->held >= HOLD_AT_MOST && table->receiving &&
                !table->stopping)
                hold_back(table);
        }
    }
    if (res == 0)
        table->end = 1; /* they finished sending */
    else if (res == -ENOBUFS) {
        table->starved = true; /* the rack was empty: again when it is not */
        kitchen.starved++;
    } else if (res < 0 && res != -ECANCELED)
        table->end = res;
}
// @end received

// @snippet wire-recv
/*
 * The visit's recv: the bytes the kernel already put in this customer's
 * buffers, copied into the visit's input and each buffer put back on the
 * rack once read. Nothing there: "not yet", and a receive armed if none
 * is (the kernel ended the last one, or we stopped it).
 */
static ssize_t wire_recv(struct conn *conn, void *into, size_t len)
{
    struct table *table = table_of(conn);
    if (table->first >= 0) {
        struct arrival *arrival = &kitchen.arrivals[table->first];
        size_t n = arrival->len - arrival->used;
        if (n > len)
            n = len;
        memcpy(into, rack_buffer(&kitchen.rack, (unsigned)table->first) +
                         arrival->used, n);
        arrival->used += (unsigned)n;
        if (arrival->used == arrival->len) {
            int id = table->first;
            table->first = arrival->next;
            if (table->first < 0)
                table->last = -1;
            table->held--;
            rack_return(&kitchen.rack, (unsigned)id);
        }
        return (ssize_t)n;
    }
    if (table->end == 1)
        return 0;
    if (table->end < 0) {
        errno = -table->end;
        return -1;
    }
    if (!table->receiving && !table->starved)
        receive(table);
    errno = EAGAIN;
    return -1;
}
// @end wire-recv

/* -------------------------------------------------------------- sending */

// @snippet wire-send
/*
 * The visit's send: hand the kernel a send job and say "not yet"; when
 * its result is in, the visit asks again with the same bytes and is told
 * how many went. The visit then asks for the rest from there, exactly as
 * it would after a short send(2). From the job until its result, the
 * answer's buffer is the kernel's: nothing may touch or free it.
 */
static ssize_t wire_send(struct conn *conn, const void *from, size_t len)
{
    struct table *table = table_of(conn);
    switch (table->sending) {
    case SEND_DONE:
        table->sending = SEND_NONE;
        if (table->sent < 0) {
            errno = -table->sent; /* EPIPE, ECONNRESET: they are gone */
            return -1;
        }
        return table->sent;
    case SEND_NONE: {
        struct io_uring_sqe *sqe = job(table, JOB_SEND);
        sqe->opcode = IORING_OP_SEND;
        sqe->fd = conn->fd;
        sqe->addr = (uintptr_t)from;
        sqe->len = (unsigned)len;
        sqe->msg_flags = MSG_NOSIGNAL;
        table->sending = SEND_IN_FLIGHT;
        break;
    }
    case SEND_IN_FLIGHT:
        break;
    }
    errno = EAGAIN;
    return -1;
}
// @end wire-send

/* ---------------------------------------------------------------- timers */

// @snippet timer
/*
 * One timer job per table, for whatever the visit waits for next. It is
 * moved only when the deadline comes sooner (an order into the oven);
 * a deadline that moves later (the customer's patience, renewed with
 * every answer) is left to the timer already set, which rings early,
 * finds nothing due, and is set again. Keep-alive requests thus cost no
 * timer job at all.
 */
static void set_timer(struct table *table, long long at_us)
{
    table->when = (struct __kernel_timespec){
        .tv_sec = at_us / 1000000,
        .tv_nsec = (at_us % 1000000) * 1000,
    };
    struct io_uring_sqe *sqe;
    if (table->timer_at == 0) {
        sqe = job(table, JOB_TIMER);
        sqe->opcode = IORING_OP_TIMEOUT;
        sqe->addr = (uintptr_t)&table->when;
        sqe->len = 1;
    } else { /* the timer job already in the kernel: move it */
        sqe = job(table, JOB_ERRAND);
        sqe->opcode = IORING_OP_TIMEOUT_REMOVE;
        sqe->addr = tag(table, JOB_TIMER);
        sqe->addr2 = (uintptr_t)&table->when;
        sqe->timeout_flags = IORING_TIMEOUT_UPDATE;
    }
    sqe->timeout_flags |= IORING_TIMEOUT_ABS; /* on CLOCK_MONOTONIC */
    table->timer_at = at_us;
}
// @end timer

/* ---------------------------------------------------------------- closing */

// @snippet wire-close
/*
 * The visit's close. Closing the descriptor alone would not do: the
 * kernel holds the socket for every job still on it, and a receive
 * would wait on it for ever. So: cancel every job on the socket, then
 * close it (linked, in this order, whatever the cancel finds), and
 * remove the timer. Their results come back like any other's; the table
 * is freed when the last has.
 */
static void wire_close(struct conn *conn)
{
    struct table *table = table_of(conn);
    struct io_uring_sqe *sqe = job(table, JOB_ERRAND);
    sqe->opcode = IORING_OP_ASYNC_CANCEL;
    sqe->fd = conn->fd;
    sqe->cancel_flags = IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL;
    sqe->flags = IOSQE_IO_HARDLINK; /* the close runs after it, always */
    sqe = job(table, JOB_ERRAND);
    sqe->opcode = IORING_OP_CLOSE;
    sqe->fd = conn->fd;
    if (table->timer_at != 0) {
        sqe = job(table, JOB_ERRAND);
        sqe->opcode = IORING_OP_TIMEOUT_REMOVE;
        sqe->addr = tag(table, JOB_TIMER);
    }
}
// @end wire-close

static struct conn_wire wire = {
    .recv = wire_recv,
    .send = wire_send,
    .close = wire_close,
};

/* ---------------------------------------------------------------- tables */

static void unlink_table(struct table **list, struct table *table)
{
    if (table->prev)
        table->prev->next = table->next;
    else
        *list = table->next;
    if (table->next)
        table->next->prev = table->prev;
}

static void link_table(struct table **list, struct table *table)
{
    table->prev = NULL;
    table->next = *list;
    if (*list)
        (*list)->prev = table;
    *list = table;
}

/* Every job has come back: the kernel is done with the table's memory. */
static void free_table(struct table *table)
{
    unlink_table(&kitchen.leaving, table);
    conn_finish(&table->conn); /* the input, output and ticket go back */
    free(table);
}

// @snippet leave
/* The visit ended (its close is on its way to the kernel): what it
 * received and never read goes back on the rack, and the table waits
 * for the rest of its jobs to come back. */
static void leave(struct table *table)
{
    unlink_table(&kitchen.seated, table);
    while (table->first >= 0) {
        int id = table->first;
        table->first = kitchen.arrivals[id].next;
        rack_return(&kitchen.rack, (unsigned)id);
    }
    table->last = -1;
    table->held = 0;
    if (table->starved) {
        table->starved = false;
        kitchen.starved--;
    }
    table->leaving = true;
    link_table(&kitchen.leaving, table);
    if (table->jobs == 0)
        free_table(table);
}
// @end leave

// @snippet settle
/* After every result: move the visit on as far as it goes without
 * waiting, then see that its timer will ring by its deadline. */
static void settle(struct table *table)
{
    struct conn *conn = &table->conn;
    while (conn_move(conn))
        ;
    if (conn_closed(conn)) {
        leave(table);
        return;
    }
    long long deadline = conn_deadline(conn);
    if (deadline != 0 && (table->timer_at == 0 || deadline < table->timer_at))
        set_timer(table, deadline);
}
// @end settle

// @snippet result
/* A result for a table. A multishot job stays the kernel's until a
 * result comes without IORING_CQE_F_MORE. */
static void on_result(struct table *table, enum job kind, int res,
                      unsigned flags)
{
    if (!(flags & IORING_CQE_F_MORE))
        table->jobs--;
    switch (kind) {
    case JOB_RECEIVE:
        received(table, res, flags);
        break;
    case JOB_SEND:
        table->sending = SEND_DONE;
        table->sent = res;
        break;
    case JOB_TIMER:
        table->timer_at = 0; /* rang, or removed */
        if (!table->leaving)
            conn_time_up(&table->conn, monotonic_us());
        break;
    default: /* an errand: nothing to do but count it back, */
        /* unless it was a hold-back that came too late to stop the
         * receive (already running in the kernel's worker): let the next
         * buffer it takes ask again. Any other errand that says so asks
         * for nothing, and a second cancel of a stopped receive is
         * answered -ENOENT and harms nothing. */
        if (res == -EALREADY && table->stopping && table->receiving)
            table->stopping = false;
        break;
    }
    if (table->leaving) {
        if (table->jobs == 0)
            free_table(table);
        return;
    }
    if (kind != JOB_ERRAND)
        settle(table);
}
// @end result

/* ---------------------------------------------------------------- the door */

static void seat(const struct customer *customer)
{
    if (conn_count() >= (unsigned)kitchen_options()->max_conns) {
        kitchen_turn_away(customer->fd, customer->number);
        return;
    }
    struct table *table = malloc(sizeof *table);
    if (table == NULL) {
        kitchen_turn_away(customer->fd, customer->number);
        return;
    }
    *table = (struct table){.first = -1, .last = -1};
    conn_init(&table->conn, customer, &kitchen.pantry.lender);
    conn_use_wire(&table->conn, &wire);
    link_table(&kitchen.seated, table);
    settle(table); /* the first receive, and the customer's patience */
}

// @snippet door
/* One job lets in everyone who comes, until it stops. */
static void arm_door(void)
{
    struct io_uring_sqe *sqe = job(NULL, JOB_DOOR);
    sqe->opcode = IORING_OP_ACCEPT;
    sqe->fd = kitchen.door.fd;
    sqe->ioprio = IORING_ACCEPT_MULTISHOT;
    sqe->accept_flags = SOCK_CLOEXEC;
    kitchen.door_armed = true;
}

/*
 * Short of descriptors, the door cannot be handed to the kernel: an
 * accept job takes its descriptor before it looks at the queue, so with
 * every descriptor in use and nobody waiting it would fail at once, be
 * handed over again, fail again, and the cook would spin. Until a walk to
 * the door seats someone, the cook only watches it (a poll job: readiness,
 * as steps 04 to 08 watch it) and walks there himself when someone comes.
 */
static void watch_the_door(void)
{
    struct io_uring_sqe *sqe = job(NULL, JOB_DOOR_WATCH);
    sqe->opcode = IORING_OP_POLL_ADD;
    sqe->fd = kitchen.door.fd;
    sqe->poll32_events = POLLIN;
}

/*
 * The multishot accept stopped on an error (most often EMFILE: no
 * descriptor for the next customer). The cook goes to the door himself,
 * as steps 04 to 08 do, with the spare descriptor for shedding (door.c),
 * until nobody is waiting; then the kernel minds the door again if he
 * could seat someone, and he watches it if not. If the door shuts for a
 * moment, a timer job reopens it.
 */
static void walk_to_the_door(void)
{
    struct customer customer;
    bool seated_any = false;
    for (int seated = 0; seated < SEATS_PER_TURN; seated++) {
        switch (door_accept(&kitchen.door, &customer)) {
        case DOOR_SEATED:
            seat(&customer);
            seated_any = true;
            continue;
        case DOOR_EMPTY:
            if (seated_any)
                arm_door();
            else
                watch_the_door(); /* still short: wait for a customer */
            return;
        case DOOR_TRY_LATER: {
            long long at = door_reopens_at(&kitchen.door, monotonic_us());
            kitchen.door_reopens = (struct __kernel_timespec){
                .tv_sec = at / 1000000, .tv_nsec = (at % 1000000) * 1000};
            struct io_uring_sqe *sqe = job(NULL, JOB_DOOR_TIMER);
            sqe->opcode = IORING_OP_TIMEOUT;
            sqe->addr = (uintptr_t)&kitchen.door_reopens;
            sqe->len = 1;
            sqe->timeout_flags = IORING_TIMEOUT_ABS;
            return;
        }
        }
    }
    arm_door(); /* a turn's worth let in: the kernel has the rest */
}

static void on_door(int res, unsigned flags)
{
    if (!(flags & IORING_CQE_F_MORE))
        kitchen.door_armed = false;
    if (!kitchen.open)
        return;
    if (res >= 0) {
        struct customer customer;
        door_let_in(&kitchen.door, res, &customer);
        seat(&customer);
        if (!kitchen.door_armed)
            arm_door();
    } else if (!kitchen.door_armed) {
        walk_to_the_door(); /* it says what the error means, as for 07 */
    }
}
// @end door

/* ---------------------------------------------------------------- the bell */

// @snippet bell
/*
 * Closing time is a job like any other: read the next SIGTERM or SIGINT
 * from a signalfd. The two signals are blocked, so no handler runs: the
 * kernel keeps them for the signalfd, and the read completes. (A handler
 * that rings a bell would need io_uring_enter to be interrupted; a
 * process run under valgrind is not, while it waits there.)
 */
static void hear_the_bell(void)
{
    sigset_t closing;
    sigemptyset(&closing);
    sigaddset(&closing, SIGTERM);
    sigaddset(&closing, SIGINT);
    if (sigprocmask(SIG_BLOCK, &closing, NULL) < 0)
        kitchen_fail("sigprocmask (SIGTERM, SIGINT)");
    kitchen.signals = signalfd(-1, &closing, SFD_CLOEXEC);
    if (kitchen.signals < 0)
        kitchen_fail("signalfd (SIGTERM, SIGINT)");
}

static void listen_for_the_bell(void)
{
    struct io_uring_sqe *sqe = job(NULL, JOB_BELL);
    sqe->opcode = IORING_OP_READ;
    sqe->fd = kitchen.signals;
    sqe->addr = (uintptr_t)&kitchen.signal_info;
    sqe->len = sizeof kitchen.signal_info;
}
// @end bell

/* -------------------------------------------------------------- the round */

/* Customers whose receive found the rack empty get one again once at
 * least half of it is back. */
static void feed_the_starved(void)
{
    if (kitchen.starved == 0 || kitchen.rack.lent > RACK_BUFFERS / 2)
        return;
    for (struct table *t = kitchen.seated; t && kitchen.starved; t = t->next)
        if (t->starved) {
            t->starved = false;
            kitchen.starved--;
            if (!t->receiving)
                receive(t);
        }
}

// @snippet results
static void on_any_result(uint64_t user_data, int res, unsigned flags)
{
    enum job kind = (enum job)(user_data & JOB_MASK);
    struct table *table = (struct table *)(uintptr_t)(user_data & ~(uint64_t)JOB_MASK);
    kitchen.results_seen++;
    switch (kind) {
    case JOB_DOOR:
        on_door(res, flags);
        return;
    case JOB_DOOR_TIMER:
    case JOB_DOOR_WATCH:
        if (kitchen.open)
            walk_to_the_door();
        return;
    case JOB_BELL:
        if (res == (int)sizeof kitchen.signal_info)
            kitchen.open = false;
        else if (kitchen.open)
            listen_for_the_bell();
        return;
    default:
        if (table != NULL)
            on_result(table, kind, res, flags);
        else if (kind == JOB_ERRAND && res == -ETIME)
            kitchen.grace_over = true; /* closing time's wait is over */
        return;
    }
}
// @end results

// @snippet round
/*
 * The cook's day: hand over every job the last round made and sleep until
 * a result comes (one system call), then take every result there is.
 * Each moves one table on, and may make new jobs: they wait for the next
 * round's io_uring_enter, all together.
 */
static void run(void)
{
    while (kitchen.open) {
        int error = ring_enter(&kitchen.ring, true);
        if (error != 0 && error != EINTR && error != EAGAIN && error != EBUSY) {
            errno = error;
            kitchen_fail("waiting on the ring (io_uring_enter)");
        }
        struct io_uring_cqe *cqe;
        while ((cqe = ring_next(&kitchen.ring)) != NULL) {
            uint64_t user_data = cqe->user_data;
            int res = cqe->res;
            unsigned flags = cqe->flags;
            ring_seen(&kitchen.ring); /* copied out: the slot is free */
            on_any_result(user_data, res, flags);
        }
        feed_the_starved();
    }
}
// @end round

/* ------------------------------------------------------ opening, closing */

// @snippet refused
/*
 * A kernel may refuse io_uring: built without it, switched off by
 * sysctl, or forbidden by a container's seccomp filter. Say which and
 * how to check, and stop: this kitchen cannot work any other way.
 */
static _Noreturn void refused(const char *what, int error)
{
    fprintf(stderr, "pizzeria: %s: %s\n", what, strerror(error));
    if (error == ENOSYS)
        fprintf(stderr,
                "pizzeria: this kernel has no io_uring (built without "
                "CONFIG_IO_URING), or a seccomp filter answers ENOSYS for "
                "it.\n");
    else if (error == EPERM || error == EACCES)
        fprintf(stderr,
                "pizzeria: this kernel refuses io_uring to this process. "
                "Check 'sysctl kernel.io_uring_disabled' (0: allowed; 1: "
                "only for the group in kernel.io_uring_group; 2: for no "
                "one), and whether a container's seccomp filter refuses "
                "io_uring_setup ('grep Seccomp /proc/self/status': 2 means "
                "a filter).\n");
    else if (error == EINVAL)
        fprintf(stderr,
                "pizzeria: this kernel's io_uring is too old: step 09 "
                "needs Linux 6.0 or later (a ring of provided buffers, "
                "multishot accept and receive).\n");
    fprintf(stderr, "pizzeria: every other step runs without io_uring.\n");
    exit(EXIT_NO_IO_URING);
}
// @end refused

static void kitchen_ring_open(void)
{
    int error = ring_open(&kitchen.ring, RING_JOBS, RING_RESULTS);
    if (error != 0)
        refused("making the ring (io_uring_setup)", error);
    error = rack_open(&kitchen.ring, &kitchen.rack, RACK_BUFFERS,
                      RACK_BUFFER_SIZE, RACK_GROUP);
    if (error == EINVAL || error == ENOSYS || error == EPERM)
        refused("registering the rack (IORING_REGISTER_PBUF_RING)", error);
    if (error != 0) {
        errno = error;
        kitchen_fail("registering the rack (IORING_REGISTER_PBUF_RING)");
    }
}

/*
 * Closing time: every customer's jobs cancelled, the kitchen's too, and
 * their results waited for (half a second at most), so that nothing the
 * kernel may still write into is freed under it.
 */
static void kitchen_ring_close(void)
{
    while (kitchen.seated) {
        struct table *table = kitchen.seated;
        conn_hangup(&table->conn); /* the close, and its cancels */
        leave(table);
    }
    struct io_uring_sqe *sqe = job(NULL, JOB_ERRAND);
    sqe->opcode = IORING_OP_ASYNC_CANCEL; /* the door's job, the bell's */
    sqe->cancel_flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
    static struct __kernel_timespec grace = {.tv_nsec = CLOSING_GRACE_US * 1000};
    sqe = job(NULL, JOB_ERRAND);
    sqe->opcode = IORING_OP_TIMEOUT;
    sqe->addr = (uintptr_t)&grace;
    sqe->len = 1;
    while (kitchen.leaving && !kitchen.grace_over) {
        int error = ring_enter(&kitchen.ring, true);
        if (error != 0 && error != EINTR && error != EAGAIN && error != EBUSY)
            break;
        struct io_uring_cqe *cqe;
        while ((cqe = ring_next(&kitchen.ring)) != NULL) {
            uint64_t user_data = cqe->user_data;
            int res = cqe->res;
            unsigned flags = cqe->flags;
            ring_seen(&kitchen.ring);
            on_any_result(user_data, res, flags);
        }
    }
    /* Whatever the kernel has not given back dies with the ring. */
    ring_close(&kitchen.ring);
    while (kitchen.leaving)
        free_table(kitchen.leaving);
    rack_close(NULL, &kitchen.rack);
    door_close(&kitchen.door);
    pantry_close(&kitchen.pantry);
    close(kitchen.signals);
}

// @snippet report
/* What the ring did, on stderr at closing time: the system calls it took,
 * and the most buffers the kitchen ever held off the rack. */
static void report(void)
{
    fprintf(stderr,
            "pizzeria: the ring: %lu io_uring_enter calls for %lu jobs and "
            "%lu results; rack buffers held: %u now, %u at most; receives "
            "armed at most: %u\n",
            kitchen.ring.enters, kitchen.jobs_handed, kitchen.results_seen,
            kitchen.rack.lent, kitchen.most_lent, kitchen.most_receiving);
}
// @end report

static void on_closing_signal(int signal_number)
{
    (void)signal_number;
    closing_ring(); /* only before the signals are blocked */
}

// @snippet main
int main(int argc, char **argv)
{
    struct options options;
    options_parse(argc, argv, &step, &options);
    kitchen_ring_open(); /* before the door: a refusal is said at once */
    kitchen_open(&step, &options);
    closing_prepare(on_closing_signal); /* SIGPIPE ignored, among others */
    hear_the_bell();

    door_open(&kitchen.door, kitchen_open_door(&options));
    pantry_open(&kitchen.pantry);
    kitchen.open = true;
    listen_for_the_bell();
    arm_door();
    run();
    unsigned lent = kitchen.rack.lent;
    kitchen_ring_close();
    kitchen.rack.lent = lent; /* as the last round left it */
    report();
    return 0;
}
// @end main
