/*
 * visit.h - what a table holds, as the kitchen's loop (kitchen_loop.c)
 * sees it: a customer's visit, moved on when their socket or their timer
 * has news, and asked when to wake it next.
 *
 * The loop never looks inside a visit. Step 07's is the kitchen's state
 * machine (event_cook.c, through event_visit.c); step 10 links its own
 * instead, a coroutine, and runs on this same loop unchanged. Which one a
 * step gets is which file its Makefile links.
 */
#ifndef PIZZERIA_VISIT_H
#define PIZZERIA_VISIT_H

#include <stdbool.h>
#include <stddef.h>

#include "door.h"       /* struct customer, as the door lets them in */
#include "event_cook.h" /* struct conn_lender: the buffers it borrows */

// @snippet visit-api
struct visit; /* whatever the linked visit keeps: the loop only points */

/* How many bytes a table keeps for one visit. */
size_t visit_size(void);

/* A new customer at a table, with buffers borrowed from lender. */
void visit_start(struct visit *visit, const struct customer *customer,
                 struct conn_lender *lender);

/* Go on one step without waiting: false when it must wait (or ended). */
bool visit_move(struct visit *visit);

/* The visit's timer rang: its deadline may have come. */
void visit_time_up(struct visit *visit, long long now_us);

/* The tablet says the connection is broken: close it. */
void visit_hangup(struct visit *visit);

/* When to wake it even if nothing happens (0: never), and whether over. */
long long visit_deadline(const struct visit *visit);
bool visit_ended(const struct visit *visit);

/* Close it if need be and give back what it borrowed. */
void visit_finish(struct visit *visit);

/* Last orders (step 08's reload): see event_cook.h. */
void visit_last_orders(void);
void visit_show_out_by(struct visit *visit, long long by_us);
// @end visit-api

#endif
