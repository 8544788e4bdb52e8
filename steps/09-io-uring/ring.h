/*
 * ring.h - io_uring, spoken directly: two queues shared with the kernel,
 * and a rack of buffers it may fill.
 *
 * The kitchen talks to the kernel through three system calls and the
 * header <linux/io_uring.h>, with nothing in between: io_uring_setup
 * makes the rings, mmap shows them to us, io_uring_enter says "there are
 * new jobs" and "wake me when something is done". Everything else is
 * memory both sides read and write:
 *
 *   submission queue (SQ)   we write jobs (SQEs) at its tail; the kernel
 *                           takes them from its head
 *   completion queue (CQ)   the kernel writes results (CQEs) at its tail;
 *                           we take them from its head
 *
 * Each side only ever moves its own end of each queue, so no lock is
 * needed: only the order in which the two sides see each other's writes,
 * which ring.c keeps with acquire and release (see ring_publish and
 * ring_next).
 */
#ifndef PIZZERIA_RING_H
#define PIZZERIA_RING_H

#include <linux/io_uring.h>
#include <stdbool.h>
#include <stddef.h>

// @snippet ring
struct ring {
    int fd;
    /* The submission queue: the kernel's head, our tail, and the SQEs. */
    unsigned *sq_head, *sq_tail, *sq_flags;
    unsigned sq_mask, sq_entries;
    struct io_uring_sqe *sqes;
    unsigned sqe_tail; /* SQEs filled in; sq_tail says how many published */
    /* The completion queue: our head, the kernel's tail, the CQEs. */
    unsigned *cq_head, *cq_tail;
    unsigned cq_mask;
    struct io_uring_cqe *cqes;
    /* The mappings, to give back at the end. */
    void *sq_map, *cq_map;
    size_t sq_map_len, cq_map_len, sqes_len;
    unsigned long enters; /* io_uring_enter calls: the system calls */
};
// @end ring

/*
 * Make a ring with room for `entries` jobs and `cq_entries` results in
 * flight. Returns 0, or the error io_uring_setup gave (ENOSYS: a kernel
 * without it; EPERM: one that refuses it, by sysctl or seccomp).
 */
int ring_open(struct ring *ring, unsigned entries, unsigned cq_entries);
void ring_close(struct ring *ring);

/*
 * A blank job to fill in, at the submission queue's tail. When the queue
 * is full, what is in it is handed over first. NULL only if that fails.
 */
struct io_uring_sqe *ring_job(struct ring *ring);

/*
 * Hand every job filled in since the last call to the kernel and, if
 * wait is true, sleep until at least one result is in: one system call
 * for all of it. Returns 0 or the error (EINTR: a signal came).
 */
int ring_enter(struct ring *ring, bool wait);

/* The next result, or NULL when the kernel has none for us yet. */
struct io_uring_cqe *ring_next(struct ring *ring);
/* Done with the result ring_next gave: its slot is the kernel's again. */
void ring_seen(struct ring *ring);

// @snippet rack
/*
 * The rack: buffers lent to the kernel for it to receive into, in a
 * ring of their own (a provided-buffer ring). A receive job names no
 * buffer, only the rack: the kernel takes one when bytes arrive, and the
 * result says which (its id) and how much it holds. It is ours from then
 * until rack_return puts it back on the rack.
 */
struct rack {
    struct io_uring_buf_ring *slots; /* shared with the kernel */
    char *memory;                    /* count buffers of size bytes */
    unsigned count, size;
    unsigned short group; /* the rack's number, in a receive job */
    unsigned short tail;  /* slots published to the kernel */
    unsigned lent;        /* buffers the kitchen holds, off the rack */
};
// @end rack

/* Make and register a rack of count (a power of two) buffers of size
 * bytes as buffer group `group`. Returns 0 or the error. */
int rack_open(struct ring *ring, struct rack *rack, unsigned count,
              unsigned size, unsigned short group);
void rack_close(struct ring *ring, struct rack *rack);

/* The buffer a result names, and putting it back on the rack. */
char *rack_buffer(const struct rack *rack, unsigned id);
void rack_took(struct rack *rack); /* a result handed us one */
void rack_return(struct rack *rack, unsigned id);

#endif
