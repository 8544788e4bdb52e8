/*
 * event_visit.c - step 07's visit (visit.h): the kitchen's state machine,
 * event_cook.c, one struct conn per table.
 */
#include "visit.h"

// @snippet event-visit
struct visit {
    struct conn conn; /* the state, written down by hand (event_cook.h) */
};

size_t visit_size(void)
{
    return sizeof(struct visit);
}

void visit_start(struct visit *visit, const struct customer *customer,
                 struct conn_lender *lender)
{
    conn_init(&visit->conn, customer, lender);
}

bool visit_move(struct visit *visit)
{
    return conn_move(&visit->conn);
}
// @end event-visit

void visit_time_up(struct visit *visit, long long now_us)
{
    conn_time_up(&visit->conn, now_us);
}

void visit_hangup(struct visit *visit)
{
    conn_hangup(&visit->conn);
}

long long visit_deadline(const struct visit *visit)
{
    return conn_deadline(&visit->conn);
}

bool visit_ended(const struct visit *visit)
{
    return conn_closed(&visit->conn);
}

void visit_finish(struct visit *visit)
{
    conn_finish(&visit->conn);
}

void visit_last_orders(void)
{
    conn_last_orders();
}

void visit_show_out_by(struct visit *visit, long long by_us)
{
    conn_show_out_by(&visit->conn, by_us);
}
