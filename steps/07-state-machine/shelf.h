/*
 * shelf.h - buffers lent only while a visit needs them: an idle customer
 * holds none.
 *
 * In steps 04 to 06 every connection carries its input buffer, its output
 * buffer, its parser and its order ticket for as long as it is open, and
 * most of that time a keep-alive customer is doing nothing. Here they are
 * lent, like order tickets from a pad: the event cook borrows each one
 * when its visit needs it and gives it back when it is done with it
 * (struct conn_lender, event_cook.h). They go to a shelf of spares and
 * come from it, so a busy kitchen allocates nothing per request once it
 * has seen its busiest moment.
 */
#ifndef PIZZERIA_SHELF_H
#define PIZZERIA_SHELF_H

#include "event_cook.h"

// @snippet shelf
/*
 * The shelf is bounded: a rush leaves no more than SPARES_KEPT of each
 * kind behind. The rest go back to the kernel (munmap), where malloc's
 * free would leave holes in the heap that still count as the process's
 * memory.
 */
enum { SPARES_KEPT = 256 };

struct shelf {
    size_t size; /* of each thing on it */
    void *spares[SPARES_KEPT];
    unsigned count;
};

/* Three shelves, one per kind of supply, and the lender that uses them. */
struct pantry {
    struct conn_lender lender; /* what conn_init is handed */
    struct shelf shelves[SUPPLY_KINDS]; /* by enum conn_supply */
};

void pantry_open(struct pantry *pantry);
/* Closing time: every spare back to the kernel. */
void pantry_close(struct pantry *pantry);
// @end shelf

#endif
