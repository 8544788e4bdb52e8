/*
 * pizzeria.h - the front counter: what each request means for the pizzeria.
 *
 * Every step's cook hands a parsed request to the counter and gets back a
 * ticket: either a reply ready to write, or an order that must spend
 * --bake-ms in the oven first. How the cook waits for the oven is the whole
 * difference between the steps; what the counter says is the same for all.
 */
#ifndef PIZZERIA_PIZZERIA_H
#define PIZZERIA_PIZZERIA_H

#include <stdatomic.h>
#include <stdbool.h>

#include "http.h"
#include "response.h"

struct pizza {
    const char *name;
    const char *toppings;
    unsigned price_cents;
};

struct order {
    unsigned long number; /* 1, 2, ... per counter (see pizzeria.c) */
    const struct pizza *pizza;
    unsigned qty;
};

struct ticket {
    struct http_response response;
    bool is_order;      /* bake first, then pizzeria_receipt() */
    struct order order;
    char request_line[80]; /* "POST /order" for the logs, maybe cut short */
    char text[640];        /* room for a JSON body */
};

/* Build the menu and the front page. Once, at startup, before any cook. */
void pizzeria_open(void);

/*
 * Count orders on `counter` from now on, rather than in this process's own
 * memory: cooks in several processes that map the same counter (a
 * MAP_SHARED mapping made before they were forked) never hand out the
 * same order number. Before any order is taken.
 */
void pizzeria_share_order_counter(atomic_ulong *counter);

/*
 * The parts of a request the counter can judge from its head alone (404,
 * 405, 411, 415). Returns true when the request may go on; otherwise fills
 * the ticket with the refusal. Used for "Expect: 100-continue".
 */
bool pizzeria_check_head(const struct http_request *request,
                         struct ticket *ticket);

/* Judge a complete request: a reply, a refusal, or an order to bake. */
void pizzeria_take(const struct http_request *request, struct ticket *ticket);

/*
 * Fill the ticket with an error reply, {"error":"reason"}, to a request
 * nothing is known of (a customer turned away at the door): a fresh
 * response, with a body.
 */
void pizzeria_refuse(struct ticket *ticket, int status, const char *reason);

/*
 * The parser refused the request: fill the ticket with its error. When the
 * request said HEAD, the reply keeps the Content-Length of its error but
 * sends no body, as every answer to HEAD (RFC 9110, 9.3.2).
 */
void pizzeria_refuse_request(struct ticket *ticket,
                             const struct http_parser *parser);

/* The same for a refusal of the cook's own (a request that took too long):
 * what the parser has read so far says whether it was a HEAD. */
void pizzeria_refuse_partial(struct ticket *ticket,
                             const struct http_parser *parser, int status,
                             const char *reason);

/* The order is out of the oven: turn the ticket into the receipt. */
void pizzeria_receipt(struct ticket *ticket, long baked_ms, const char *cook);

/* The connection closes after this status (chapters/appendix-protocol.md). */
bool pizzeria_status_closes(int status);

#endif
