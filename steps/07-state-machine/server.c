/*
 * Step 07 - the event loop: one cook, the order tickets on a rail, and an
 * oven that rings.
 *
 * Step 06 already had one cook, a tablet (epoll) and every visit written
 * down as a state (event_cook.c). What it lacked was a kitchen clock worth
 * the name: a timerfd per order in the oven, and a walk past every table
 * ten times a second for the idle ones. Here the waiting moves into a small
 * event loop of its own (loop.c): descriptors and timers registered with a
 * callback, every deadline on one min-heap (timer_heap.c), and rounds in
 * fixed phases. What the pizzeria does with it is kitchen_loop.c: a watch
 * for the door, one for the closing bell, and for each customer a table
 * holding the visit, a watch on their socket and a single timer for
 * whatever the visit waits for next (the oven, or their patience). This
 * file opens that kitchen and runs it: one cook, one tablet. (Step 08
 * runs the same kitchen_loop.c in a process per core.)
 *
 * Three things are new in the way the cook works:
 *
 *   - The tablet is edge-triggered: epoll says "ready" once per change,
 *     not as long as it stays true. So every callback works until EAGAIN.
 *   - A fair share: one turn moves a visit on at most FAIR_SHARE times, so
 *     a customer who pipelines a thousand requests cannot hold the others
 *     up. A visit stopped that way asks for its next turn itself
 *     (loop_again): no new edge would ever come for it.
 *   - Buffers are lent (shelf.c): an idle customer holds none, only its
 *     table.
 */
#include "kitchen.h"
#include "kitchen_loop.h"

// @snippet step
static const struct step step = {
    .name = "07-state-machine",
    .default_bake_ms = 1000,
    .default_max_conns = 10000,
    .max_conns_note = "past it a new customer is told 503",
};
// @end step

static void on_closing_signal(int signal_number)
{
    (void)signal_number;
    closing_ring(); /* the bell's pipe is watched: the loop wakes up */
}

// @snippet main
int main(int argc, char **argv)
{
    struct options options;
    options_parse(argc, argv, &step, &options);
    kitchen_open(&step, &options);
    closing_prepare(on_closing_signal);

    kitchen_loop_open(kitchen_open_door(&options));
    kitchen_loop_run();
    kitchen_loop_close();
    return 0;
}
// @end main
