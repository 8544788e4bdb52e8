/*
 * Step 10 - coroutines: step 07's kitchen, with every visit written from
 * top to bottom.
 *
 * Step 07's cook never waits, and pays for it in the way the visit is
 * written: a state enum and a function per event, the recipe cut into
 * pieces (event_cook.c). Step 01's cook reads like a recipe, and pays for
 * it by waiting: one customer at a time. Here each visit is a stackless
 * coroutine (visit.c, with the macros of coro.h): it reads like step 01's
 * serve_customer, await the request, await the oven, await the answer
 * going out, and every await returns to step 07's loop until the socket
 * or the table's timer has news. The loop, the tables, the door, the
 * timers and the lent buffers are step 07's own files, linked as they
 * are (see the Makefile): only the visit is new.
 */
#include "kitchen.h"
#include "kitchen_loop.h"

// @snippet step
static const struct step step = {
    .name = "10-coroutines",
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
