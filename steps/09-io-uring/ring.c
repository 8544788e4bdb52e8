/*
 * ring.c - io_uring, spoken directly (see ring.h).
 *
 * liburing would do all of this, and more; it is left out so that the
 * chapter can read every line between the kitchen and the kernel, and so
 * that the pizzeria needs nothing at run time but libc. The three system
 * calls have no wrappers in glibc: they are made with syscall(2).
 */
#include "ring.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int io_uring_setup(unsigned entries, struct io_uring_params *params)
{
    return (int)syscall(__NR_io_uring_setup, entries, params);
}

static int io_uring_enter(int fd, unsigned to_submit, unsigned min_complete,
                          unsigned flags)
{
    return (int)syscall(__NR_io_uring_enter, fd, to_submit, min_complete,
                        flags, NULL, 0);
}

static int io_uring_register(int fd, unsigned opcode, void *arg,
                             unsigned nr_args)
{
    return (int)syscall(__NR_io_uring_register, fd, opcode, arg, nr_args);
}

/*
 * One cook, one thread: the kernel may run the jobs' last steps when the
 * cook next enters the ring rather than interrupting him for each
 * (DEFER_TASKRUN, which needs SINGLE_ISSUER). Kernels older than 6.1 do
 * not know these; the ring works without them.
 */
static const unsigned PREFERRED_FLAGS =
    IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;

static void *map_ring(int fd, size_t len, off_t offset)
{
    void *at = mmap(NULL, len, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_POPULATE, fd, offset);
    return at == MAP_FAILED ? NULL : at;
}

// @snippet open
int ring_open(struct ring *ring, unsigned entries, unsigned cq_entries)
{
    struct io_uring_params params = {
        .flags = IORING_SETUP_CQSIZE | PREFERRED_FLAGS,
        .cq_entries = cq_entries,
    };
    int fd = io_uring_setup(entries, &params);
    if (fd < 0 && errno == EINVAL) { /* an older kernel: the plain ring */
        params = (struct io_uring_params){.flags = IORING_SETUP_CQSIZE,
                                          .cq_entries = cq_entries};
        fd = io_uring_setup(entries, &params);
    }
    if (fd < 0)
        return errno;
    *ring = (struct ring){.fd = fd};
    /* Two mappings of the rings' heads, tails and slots (one, where the
     * kernel shares them), and one of the SQEs themselves. */
    ring->sq_map_len = params.sq_off.array + params.sq_entries * sizeof(unsigned);
    ring->cq_map_len = params.cq_off.cqes +
                       params.cq_entries * sizeof(struct io_uring_cqe);
    bool one_map = params.features & IORING_FEAT_SINGLE_MMAP;
    if (one_map && ring->cq_map_len > ring->sq_map_len)
        ring->sq_map_len = ring->cq_map_len;
    ring->sq_map = map_ring(fd, ring->sq_map_len, IORING_OFF_SQ_RING);
    ring->cq_map = one_map ? ring->sq_map
                           : map_ring(fd, ring->cq_map_len, IORING_OFF_CQ_RING);
    ring->sqes_len = params.sq_entries * sizeof(struct io_uring_sqe);
    ring->sqes = map_ring(fd, ring->sqes_len, IORING_OFF_SQES);
    if (ring->sq_map == NULL || ring->cq_map == NULL || ring->sqes == NULL) {
        int error = errno;
        ring_close(ring);
        return error;
    }
    char *sq = ring->sq_map, *cq = ring->cq_map;
    ring->sq_head = (unsigned *)(sq + params.sq_off.head);
    ring->sq_tail = (unsigned *)(sq + params.sq_off.tail);
    ring->sq_flags = (unsigned *)(sq + params.sq_off.flags);
    ring->sq_mask = *(unsigned *)(sq + params.sq_off.ring_mask);
    ring->sq_entries = params.sq_entries;
    ring->cq_head = (unsigned *)(cq + params.cq_off.head);
    ring->cq_tail = (unsigned *)(cq + params.cq_off.tail);
    ring->cq_mask = *(unsigned *)(cq + params.cq_off.ring_mask);
    ring->cqes = (struct io_uring_cqe *)(cq + params.cq_off.cqes);
    /* The SQ's slots name SQEs by index; ours are always in ring order,
     * so slot i names SQE i, once and for all. */
    unsigned *slots = (unsigned *)(sq + params.sq_off.array);
    for (unsigned i = 0; i < params.sq_entries; i++)
        slots[i] = i;
    ring->sqe_tail = *ring->sq_tail;
    return 0;
}
// @end open

void ring_close(struct ring *ring)
{
    if (ring->sqes)
        munmap(ring->sqes, ring->sqes_len);
    if (ring->cq_map && ring->cq_map != ring->sq_map)
        munmap(ring->cq_map, ring->cq_map_len);
    if (ring->sq_map)
        munmap(ring->sq_map, ring->sq_map_len);
    if (ring->fd >= 0)
        close(ring->fd);
    *ring = (struct ring){.fd = -1, .enters = ring->enters};
}

// @snippet job
/*
 * The kernel moves the SQ's head as it takes jobs, so reading it needs
 * acquire: once we see a slot taken, the kernel is done reading it.
 */
static unsigned jobs_waiting(const struct ring *ring)
{
    return ring->sqe_tail - __atomic_load_n(ring->sq_head, __ATOMIC_ACQUIRE);
}

struct io_uring_sqe *ring_job(struct ring *ring)
{
    if (jobs_waiting(ring) >= ring->sq_entries) {
        int error = ring_enter(ring, false); /* full: hand them over now */
        if (error != 0 || jobs_waiting(ring) >= ring->sq_entries) {
            errno = error ? error : EBUSY;
            return NULL;
        }
    }
    struct io_uring_sqe *sqe = &ring->sqes[ring->sqe_tail & ring->sq_mask];
    memset(sqe, 0, sizeof *sqe);
    ring->sqe_tail++;
    return sqe;
}
// @end job

// @snippet enter
/*
 * The tail is published with release: the kernel, seeing the new tail,
 * must also see every byte of the jobs before it. Then one system call
 * hands over all of them and, if asked, waits for a result.
 */
int ring_enter(struct ring *ring, bool wait)
{
    __atomic_store_n(ring->sq_tail, ring->sqe_tail, __ATOMIC_RELEASE);
    unsigned to_submit = jobs_waiting(ring);
    if (to_submit == 0 && !wait)
        return 0;
    ring->enters++;
    if (io_uring_enter(ring->fd, to_submit, wait ? 1 : 0,
                       wait ? IORING_ENTER_GETEVENTS : 0) < 0)
        return errno;
    return 0;
}
// @end enter

// @snippet next
/*
 * The CQ's tail is the kernel's: read it with acquire, so that the result
 * it covers is read only after it is whole. Our head goes back with
 * release: the kernel may then write that slot again.
 */
struct io_uring_cqe *ring_next(struct ring *ring)
{
    unsigned head = *ring->cq_head; /* ours: no one else writes it */
    if (head == __atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE))
        return NULL;
    return &ring->cqes[head & ring->cq_mask];
}

void ring_seen(struct ring *ring)
{
    __atomic_store_n(ring->cq_head, *ring->cq_head + 1, __ATOMIC_RELEASE);
}
// @end next

/* ------------------------------------------------------------- the rack */

// @snippet rack-return
char *rack_buffer(const struct rack *rack, unsigned id)
{
    return rack->memory + (size_t)id * rack->size;
}

void rack_took(struct rack *rack)
{
    rack->lent++;
}

/* Put buffer `id` back in the next slot, and publish the slot with
 * release, as the SQ's tail is: the kernel may take it at once. */
void rack_return(struct rack *rack, unsigned id)
{
    struct io_uring_buf *slot =
        &rack->slots->bufs[rack->tail & (rack->count - 1)];
    slot->addr = (unsigned long)rack_buffer(rack, id);
    slot->len = rack->size;
    slot->bid = (unsigned short)id;
    rack->tail++;
    __atomic_store_n(&rack->slots->tail, rack->tail, __ATOMIC_RELEASE);
    rack->lent--;
}
// @end rack-return

static void *map_memory(size_t len)
{
    void *at = mmap(NULL, len, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return at == MAP_FAILED ? NULL : at;
}

/*
 * The buffers and their slots are mapped, not malloc'ed: pages the kernel
 * writes into stay untouched, and cost nothing, until it does; and a
 * checker such as valgrind, which never sees the kernel write them, finds
 * them defined (zeroes) from the start.
 */
int rack_open(struct ring *ring, struct rack *rack, unsigned count,
              unsigned size, unsigned short group)
{
    *rack = (struct rack){.count = count, .size = size, .group = group};
    rack->slots = map_memory(count * sizeof(struct io_uring_buf));
    rack->memory = map_memory((size_t)count * size);
    if (rack->slots == NULL || rack->memory == NULL) {
        int error = errno;
        rack_close(NULL, rack);
        return error;
    }
    struct io_uring_buf_reg reg = {
        .ring_addr = (unsigned long)rack->slots,
        .ring_entries = count,
        .bgid = group,
    };
    if (io_uring_register(ring->fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0) {
        int error = errno;
        rack_close(NULL, rack);
        return error;
    }
    rack->lent = count; /* returned below, one by one: all on the rack */
    for (unsigned id = 0; id < count; id++)
        rack_return(rack, id);
    return 0;
}

void rack_close(struct ring *ring, struct rack *rack)
{
    if (ring != NULL) {
        struct io_uring_buf_reg reg = {.bgid = rack->group};
        io_uring_register(ring->fd, IORING_UNREGISTER_PBUF_RING, &reg, 1);
    }
    if (rack->slots)
        munmap(rack->slots, rack->count * sizeof(struct io_uring_buf));
    if (rack->memory)
        munmap(rack->memory, (size_t)rack->count * rack->size);
    rack->slots = NULL;
    rack->memory = NULL;
}
