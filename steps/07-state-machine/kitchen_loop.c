/*
 * kitchen_loop.c - one cook with a tablet (see kitchen_loop.h): a watch
 * for the door, one for the closing bell, and for each customer a table
 * holding the visit, a watch on their socket and a single timer for
 * whatever the visit waits for next (the oven, or their patience). What a
 * visit is, this file does not know: visit.h says what it asks of one.
 */
#include "kitchen_loop.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "kitchen.h"
#include "loop.h"
#include "shelf.h"
#include "visit.h"

enum {
    FAIR_SHARE = 32,      /* moves per turn for one customer */
    SEATS_PER_TURN = 256, /* customers let in per turn of the door */
    LAST_ORDERS_GRACE_US = 1000000, /* to begin a request, at last orders */
};

// @snippet table
/*
 * A seated customer, in one block: its socket's watch, its one timer, and
 * the visit after them. The loop's watch and timer live here rather than
 * in blocks of their own, so an idle customer costs this block and
 * nothing else: sizeof(struct table) + visit_size().
 */
struct table {
    struct loop_watch watch;   /* their socket, on the tablet */
    struct loop_timer timer;   /* the oven's timer, or their patience */
    struct table *prev, *next; /* everyone seated, for closing time */
    max_align_t visit[];       /* the visit (visit.h), whatever it is */
};

struct kitchen {
    struct loop *loop;
    struct door door;
    struct loop_watch door_watch, bell_watch;
    struct loop_timer door_reopens; /* after the door said "try later" */
    struct pantry pantry;           /* the buffers lent to visits */
    struct table *seated;
    bool last_orders; /* the door is shut: stop when the last one leaves */
    uint32_t door_events;     /* EPOLLIN, and EPOLLEXCLUSIVE if asked */
    struct door_tally *tally; /* NULL, or where the door's wake-ups count */
    atomic_ulong *let_in;     /* and where this cook's customers count */
};
// @end table

static struct kitchen kitchen;

static struct visit *visit_at(struct table *table)
{
    return (struct visit *)table->visit;
}

// @snippet seats
/*
 * --max-conns counts the kitchen's seated customers, whichever cook seated
 * them. Each cook counts its own in a slot: a kitchen with one cook keeps
 * its one slot here, one with several (step 08) gives each cook a slot in
 * memory they all share (kitchen_loop_share_seats), and the door adds them
 * up. A seat is taken first and the sum checked after, so that two cooks
 * who seat someone at the same moment can both find the kitchen full and
 * both turn their customer away, but never both seat one past the limit.
 * A slot per cook rather than one shared count: a cook killed outright
 * cannot give its seats back, and whoever replaces it empties its slot.
 */
static atomic_uint seats_here;
static struct {
    atomic_uint *slots; /* one per cook */
    unsigned cooks;
    unsigned mine;
} seats = {&seats_here, 1, 0};

static bool take_a_seat(void)
{
    atomic_fetch_add(&seats.slots[seats.mine], 1);
    unsigned long taken = 0;
    for (unsigned cook = 0; cook < seats.cooks; cook++)
        taken += atomic_load(&seats.slots[cook]);
    if (taken <= (unsigned long)kitchen_options()->max_conns)
        return true;
    atomic_fetch_sub(&seats.slots[seats.mine], 1);
    return false;
}

static void give_back_the_seat(void)
{
    atomic_fetch_sub(&seats.slots[seats.mine], 1);
}
// @end seats

// @snippet fair-share
/*
 * One turn for a visit: move it on at most FAIR_SHARE times, then let the
 * others have the cook. True when it stopped with work left: no new edge
 * will come for that, so it must be called again (loop_again).
 */
static bool take_a_turn(struct visit *visit)
{
    for (int moves = 0; moves < FAIR_SHARE; moves++)
        if (!visit_move(visit))
            return false;
    return !visit_ended(visit);
}
// @end fair-share

static void free_table(struct loop_watch *watch)
{
    free(container_of(watch, struct table, watch));
}

// @snippet leave
/* The customer left: cancel their timer (an oven that would ring for no
 * one), give back what the visit held, stop watching. The table itself is
 * freed when the round ends: this round's news may still name it. */
static void leave(struct table *table)
{
    loop_timer_cancel(kitchen.loop, &table->timer);
    visit_finish(visit_at(table));
    if (table->prev)
        table->prev->next = table->next;
    else
        kitchen.seated = table->next;
    if (table->next)
        table->next->prev = table->prev;
    loop_close(kitchen.loop, &table->watch, free_table);
    give_back_the_seat();
    if (kitchen.last_orders && kitchen.seated == NULL)
        loop_stop(kitchen.loop); /* the last customer left: go home */
}
// @end leave

// @snippet settle
/*
 * After every event: the visit ended, or it wants another turn, or it waits
 * until its deadline (the oven's, the customer's patience). One timer per
 * table, moved on the heap only when the deadline changed.
 */
static void settle(struct table *table, bool another_turn)
{
    struct visit *visit = visit_at(table);
    if (visit_ended(visit)) {
        leave(table);
        return;
    }
    if (another_turn)
        loop_again(kitchen.loop, &table->watch);
    long long deadline = visit_deadline(visit);
    if (deadline == 0)
        loop_timer_cancel(kitchen.loop, &table->timer);
    else if (!timer_armed(&table->timer.timer) ||
             table->timer.timer.when_us != deadline)
        if (!loop_timer_set(kitchen.loop, &table->timer, deadline))
            visit_hangup(visit); /* no memory for the heap: cannot bake */
    if (visit_ended(visit))
        leave(table);
}
// @end settle

// @snippet events
/* The socket's news, or another turn. Whatever it is, the visit carries on
 * from its state: read, write or drain until EAGAIN, or its fair share. */
static void on_socket(struct loop *loop, struct loop_watch *watch,
                      uint32_t events)
{
    (void)loop;
    struct table *table = container_of(watch, struct table, watch);
    bool another_turn = false;
    if (events & (EPOLLERR | EPOLLHUP))
        visit_hangup(visit_at(table)); /* nothing we write can arrive */
    else
        another_turn = take_a_turn(visit_at(table));
    settle(table, another_turn);
}

/* The table's timer rang: the pizza is done, or the customer's time up. */
static void on_timer(struct loop *loop, struct loop_timer *timer)
{
    (void)loop;
    struct table *table = container_of(timer, struct table, timer);
    visit_time_up(visit_at(table), monotonic_us());
    settle(table, take_a_turn(visit_at(table)));
}
// @end events

// @snippet seat
static void seat(const struct customer *customer)
{
    struct table *table = malloc(sizeof *table + visit_size());
    if (table == NULL) {
        give_back_the_seat();
        kitchen_turn_away(customer->fd, customer->number);
        return;
    }
    visit_start(visit_at(table), customer, &kitchen.pantry.lender);
    loop_timer_init(&table->timer, on_timer);
    if (!loop_watch(kitchen.loop, &table->watch, customer->fd,
                    EPOLLIN | EPOLLOUT | EPOLLRDHUP, on_socket)) {
        visit_finish(visit_at(table)); /* no room on the tablet: closed */
        free(table);
        give_back_the_seat();
        return;
    }
    table->prev = NULL;
    table->next = kitchen.seated;
    if (kitchen.seated)
        kitchen.seated->prev = table;
    kitchen.seated = table;
    settle(table, false); /* the idle deadline */
}
// @end seat

// @snippet door
/*
 * Let in everyone waiting, a turn's worth at a time. With an edge-triggered
 * door the queue must be emptied (DOOR_EMPTY), or no new edge will say it
 * is not: a door that stopped for another reason is looked at again, on
 * the next round or when it reopens.
 */
static void on_door(struct loop *loop, struct loop_watch *watch,
                    uint32_t events)
{
    (void)events;
    struct customer customer;
    for (int seated = 0; seated < SEATS_PER_TURN; seated++) {
        switch (door_accept(&kitchen.door, &customer)) {
        case DOOR_SEATED:
            if (!take_a_seat())
                kitchen_turn_away(customer.fd, customer.number);
            else
                seat(&customer);
            continue;
        case DOOR_EMPTY:
            return;
        case DOOR_TRY_LATER:
            if (!loop_timer_set(loop, &kitchen.door_reopens,
                                door_reopens_at(&kitchen.door,
                                                monotonic_us())))
                loop_again(loop, watch); /* no memory even for a timer */
            return;
        }
    }
    loop_again(loop, watch); /* more may be waiting: after the others */
}

// @snippet door-tally
/*
 * The door's news, counted, for a step that measures its herd (step 08
 * with one door in every cook's tablet): a wake-up that let nobody in
 * found the customer gone, taken by another cook woken for the same one.
 */
static void on_door_counted(struct loop *loop, struct loop_watch *watch,
                            uint32_t events)
{
    unsigned long before = kitchen.door.customers;
    on_door(loop, watch, events);
    unsigned long let_in = kitchen.door.customers - before;
    atomic_fetch_add_explicit(kitchen.let_in, let_in, memory_order_relaxed);
    if (events == 0)
        return; /* another turn, not a wake-up */
    atomic_fetch_add_explicit(&kitchen.tally->wakeups, 1,
                              memory_order_relaxed);
    if (let_in == 0)
        atomic_fetch_add_explicit(&kitchen.tally->for_nobody, 1,
                                  memory_order_relaxed);
}
// @end door-tally

static void on_door_reopens(struct loop *loop, struct loop_timer *timer)
{
    (void)timer;
    on_door(loop, &kitchen.door_watch, 0);
}
// @end door

static void on_bell(struct loop *loop, struct loop_watch *watch,
                    uint32_t events)
{
    (void)watch;
    (void)events;
    loop_stop(loop); /* closing time: the orders in the oven are abandoned */
}

/* The loop, the door and the bell: without any of them, no kitchen. */
void kitchen_loop_open(int listener)
{
    door_open(&kitchen.door, listener);
    pantry_open(&kitchen.pantry);
    kitchen.loop = loop_create();
    if (kitchen.loop == NULL)
        kitchen_fail("making the tablet (epoll_create1)");
    if (!loop_watch(kitchen.loop, &kitchen.bell_watch, closing_bell_fd(),
                    EPOLLIN, on_bell) ||
        !loop_watch(kitchen.loop, &kitchen.door_watch, kitchen.door.fd,
                    EPOLLIN | kitchen.door_events,
                    kitchen.tally ? on_door_counted : on_door))
        kitchen_fail("putting the bell and the door on the tablet "
                     "(epoll_ctl)");
    loop_timer_init(&kitchen.door_reopens, on_door_reopens);
}

void kitchen_loop_run(void)
{
    if (!loop_run(kitchen.loop))
        kitchen_fail("waiting on the tablet (epoll_wait)");
}

void kitchen_loop_wake_one_cook(void)
{
    kitchen.door_events = EPOLLEXCLUSIVE;
}

void kitchen_loop_count_wakeups(struct door_tally *tally,
                                atomic_ulong *let_in)
{
    kitchen.tally = tally;
    kitchen.let_in = let_in;
}

struct loop *kitchen_tablet(void)
{
    return kitchen.loop;
}

void kitchen_loop_share(atomic_ulong *customer_numbers, atomic_uint *seat_slots,
                        unsigned cooks, unsigned mine)
{
    door_share_numbers(&kitchen.door, customer_numbers);
    seats.slots = seat_slots;
    seats.cooks = cooks;
    seats.mine = mine;
}

// @snippet last-orders
/*
 * Last orders: shut the door, let every order in the oven bake and be
 * answered, with "Connection: close"; a customer with no request under way
 * gets a moment to begin one, then is shown out. The loop stops when the
 * last one has left. The customers still in the door's queue are not
 * this cook's to lose: the door is only closed here, and whoever else
 * holds the same listening socket lets them in.
 */
void kitchen_loop_last_orders(void)
{
    if (kitchen.last_orders)
        return;
    kitchen.last_orders = true;
    loop_timer_cancel(kitchen.loop, &kitchen.door_reopens);
    loop_close(kitchen.loop, &kitchen.door_watch, NULL);
    door_close(&kitchen.door);
    visit_last_orders();
    long long by = monotonic_us() + LAST_ORDERS_GRACE_US;
    for (struct table *table = kitchen.seated, *next; table; table = next) {
        next = table->next; /* settle may free this table */
        visit_show_out_by(visit_at(table), by);
        settle(table, false);
    }
    if (kitchen.seated == NULL)
        loop_stop(kitchen.loop);
}
// @end last-orders

void kitchen_loop_close(void)
{
    while (kitchen.seated)
        leave(kitchen.seated);
    if (!kitchen.last_orders) {
        loop_timer_cancel(kitchen.loop, &kitchen.door_reopens);
        loop_close(kitchen.loop, &kitchen.door_watch, NULL);
        door_close(&kitchen.door);
    }
    loop_close(kitchen.loop, &kitchen.bell_watch, NULL);
    loop_destroy(kitchen.loop); /* frees the tables left */
    pantry_close(&kitchen.pantry);
}
