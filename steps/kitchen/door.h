/*
 * door.h - the front door of a cook who never waits (steps 04 to 07).
 *
 * The listening socket is non-blocking: asking "who is next?" never
 * waits. The answer is one of three, and the loop must treat each
 * differently:
 *
 *   DOOR_SEATED     someone came in: a non-blocking socket, numbered;
 *   DOOR_EMPTY      nobody is waiting: wait for the door to be readable;
 *   DOOR_TRY_LATER  someone is waiting, but the kitchen cannot let them in
 *                   now (no memory for their socket, no descriptor even
 *                   after giving up the spare). The door stays readable,
 *                   so a loop that goes straight back to waiting on it
 *                   would wake at once, again and again, and spin: the
 *                   door shuts itself for a moment instead, and the loop
 *                   leaves it off its list until door_reopens_at().
 *
 * The door also keeps a spare descriptor for the day the kitchen runs out
 * of them (EMFILE): the spare is given up for a moment, the customer at
 * the head of the queue is let in, told 503 and shown out, and the spare
 * is taken back. Without it that customer could not be let in at all, and
 * the queue would never move.
 */
#ifndef PIZZERIA_DOOR_H
#define PIZZERIA_DOOR_H

#include <stdatomic.h>
#include <stdbool.h>

#include "blocking_cook.h" /* struct customer: fd, number, peer */

// @snippet door-api
// @snippet door-news
enum door_news {
    DOOR_SEATED,    /* *customer is filled in */
    DOOR_EMPTY,     /* nobody waiting */
    DOOR_TRY_LATER, /* someone waits; the door is shut for a moment */
};
// @end door-news

struct door {
    int fd;
    int spare_fd;            /* /dev/null, held for the EMFILE case */
    unsigned long customers; /* let in by this door so far */
    atomic_ulong *shared_customers; /* NULL, or the count doors share */
    long long shut_until_us; /* after DOOR_TRY_LATER; 0 while open */
};

/* Make the listening socket non-blocking and take a spare descriptor. */
void door_open(struct door *door, int listener);

/*
 * Number customers on `counter` rather than by door->customers: the doors of
 * cooks in several processes that share it (step 08) hand out one series,
 * in the order the customers came in, as one door would.
 */
void door_share_numbers(struct door *door, atomic_ulong *counter);
void door_close(struct door *door);

/* Let in the next customer waiting at the door, if the kitchen can. */
enum door_news door_accept(struct door *door, struct customer *customer);

/*
 * A customer whom someone else let in on fd (step 09: the kernel, on the
 * cook's behalf): number them as door_accept would have.
 */
void door_let_in(struct door *door, int fd, struct customer *customer);

/*
 * 0 while the door is open; otherwise the moment to watch it again, which
 * the loop must wake up for. Past that moment the door is open again.
 */
long long door_reopens_at(struct door *door, long long now_us);
// @end door-api

#endif
