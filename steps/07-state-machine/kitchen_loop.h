/*
 * kitchen_loop.h - one cook with a tablet: the door, the closing bell and
 * every seated customer as callbacks on one event loop (loop.c).
 *
 * This is step 07's kitchen, kept apart from its server.c so that a step
 * with several cooks (step 08: a worker process per core) runs each of
 * them on exactly this code. Everything here belongs to one process and
 * one thread; the step decides how many of them there are.
 */
#ifndef PIZZERIA_KITCHEN_LOOP_H
#define PIZZERIA_KITCHEN_LOOP_H

/*
 * Open the kitchen on the listening socket `listener` (the door is made
 * non-blocking here): the tablet, the bell and the door on it, the
 * pantry of lent buffers. Exits 1 with kitchen_fail if any cannot be had.
 */
void kitchen_loop_open(int listener);

/* Serve until closing time. A tablet that stops working is fatal. */
void kitchen_loop_run(void);

/* Show every customer out and give back the door, the tablet, the pantry. */
void kitchen_loop_close(void);

#endif
