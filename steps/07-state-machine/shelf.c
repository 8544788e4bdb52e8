/*
 * shelf.c - buffers lent only while a visit needs them (see shelf.h).
 */
#include "shelf.h"

#include <stdlib.h>
#include <sys/mman.h>

/* Below a page, a mapping of its own would cost more than it holds. */
static bool is_small(const struct shelf *shelf)
{
    return shelf->size < 4096;
}

// @snippet spares
static void *shelf_take(struct shelf *shelf)
{
    if (shelf->count > 0)
        return shelf->spares[--shelf->count];
    if (is_small(shelf))
        return malloc(shelf->size);
    void *buffer = mmap(NULL, shelf->size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return buffer == MAP_FAILED ? NULL : buffer;
}

static void give_to_kernel(const struct shelf *shelf, void *buffer)
{
    if (is_small(shelf))
        free(buffer);
    else
        munmap(buffer, shelf->size);
}

static void shelf_put(struct shelf *shelf, void *buffer)
{
    if (shelf->count < SPARES_KEPT)
        shelf->spares[shelf->count++] = buffer;
    else
        give_to_kernel(shelf, buffer);
}
// @end spares

/* The lender's two calls: the pantry is the lender it starts with. */
static void *lend(struct conn_lender *lender, enum conn_supply what)
{
    struct pantry *pantry = (struct pantry *)lender;
    return shelf_take(&pantry->shelves[what]);
}

static void take_back(struct conn_lender *lender, enum conn_supply what,
                      void *supply)
{
    struct pantry *pantry = (struct pantry *)lender;
    shelf_put(&pantry->shelves[what], supply);
}

void pantry_open(struct pantry *pantry)
{
    pantry->lender = (struct conn_lender){.lend = lend,
                                          .take_back = take_back};
    for (enum conn_supply what = 0; what < SUPPLY_KINDS; what++)
        pantry->shelves[what] = (struct shelf){
            .size = conn_supply_size(what),
        };
}

void pantry_close(struct pantry *pantry)
{
    for (enum conn_supply what = 0; what < SUPPLY_KINDS; what++) {
        struct shelf *shelf = &pantry->shelves[what];
        while (shelf->count > 0)
            give_to_kernel(shelf, shelf->spares[--shelf->count]);
    }
}
