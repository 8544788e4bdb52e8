/*
 * pizzeria.c - the menu, the front page, the order form and the receipts.
 */
#include "pizzeria.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

// @snippet menu
static const struct pizza menu[] = {
    {"margherita", "tomato, mozzarella, basil", 850},
    {"marinara", "tomato, garlic, oregano", 700},
    {"diavola", "tomato, mozzarella, spicy salami", 1050},
    {"quattro formaggi", "mozzarella, gorgonzola, fontina, parmesan", 1150},
    {"capricciosa", "ham, mushrooms, artichokes, olives", 1200},
};
enum { MENU_SIZE = sizeof menu / sizeof menu[0] };
// @end menu

enum { MIN_QTY = 1, MAX_QTY = 20 };

// @snippet order-counter
/*
 * Order numbers. Atomic, so that cooks sharing this memory (threads) never
 * hand out the same number; a forked cook has its own copy and counts alone,
 * unless the counter was moved into memory the processes share
 * (pizzeria_share_order_counter, step 08).
 */
static atomic_ulong orders_here;
static atomic_ulong *orders_taken = &orders_here;
// @end order-counter

void pizzeria_share_order_counter(atomic_ulong *counter)
{
    orders_taken = counter;
}

static char menu_json[1024];
static size_t menu_json_len;
static char front_page[6144];
static size_t front_page_len;

/* Every body the counter hands out fits a response with the longest head. */
enum { LONGEST_BODY = HTTP_MAX_RESPONSE - HTTP_MAX_RESPONSE_HEAD };
_Static_assert(sizeof front_page <= LONGEST_BODY, "the front page fits");
_Static_assert(sizeof menu_json <= LONGEST_BODY, "the menu fits");
_Static_assert(sizeof((struct ticket *)0)->text <= LONGEST_BODY,
               "a ticket's JSON fits");

/* ---- writing text into fixed buffers ---- */

struct text {
    char *at;
    size_t cap, len;
    bool overflow;
};

static void put(struct text *t, const char *s, size_t n)
{
    if (n > t->cap - t->len) {
        t->overflow = true;
        return;
    }
    memcpy(t->at + t->len, s, n);
    t->len += n;
}

static void puts_text(struct text *t, const char *s)
{
    put(t, s, strlen(s));
}

static void printf_text(struct text *t, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void printf_text(struct text *t, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int n = vsnprintf(t->at + t->len, t->cap - t->len, format, args);
    va_end(args);
    if (n < 0 || (size_t)n >= t->cap - t->len)
        t->overflow = true;
    else
        t->len += (size_t)n;
}

/* Length of a valid UTF-8 sequence starting at s, or 0 if it is not one. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (len == 0 || s[0] > 0xf4 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0; /* overlong, surrogate, or past U+10FFFF */
    return len;
}

/* A JSON string body, quotes included. Bytes that are not UTF-8 become
 * U+FFFD, so whatever a customer typed, the JSON stays valid. */
static void put_json_string(struct text *t, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    put(t, "\"", 1);
    for (size_t i = 0; i < n;) {
        if (u[i] == '"' || u[i] == '\\') {
            char escaped[2] = {'\\', s[i]};
            put(t, escaped, 2);
            i++;
        } else if (u[i] < 0x20 || u[i] == 0x7f) {
            printf_text(t, "\\u%04x", u[i]);
            i++;
        } else if (u[i] < 0x80) {
            put(t, s + i, 1);
            i++;
        } else {
            size_t len = utf8_sequence(u + i, n - i);
            if (len) {
                put(t, s + i, len);
                i += len;
            } else {
                puts_text(t, "\\ufffd");
                i++;
            }
        }
    }
    put(t, "\"", 1);
}

static void put_html(struct text *t, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': puts_text(t, "&amp;"); break;
        case '<': puts_text(t, "&lt;"); break;
        case '>': puts_text(t, "&gt;"); break;
        case '"': puts_text(t, "&quot;"); break;
        default: put(t, s, 1);
        }
    }
}

/* ---- the pages, built once ---- */

static void build_menu_json(void)
{
    struct text t = {menu_json, sizeof menu_json, 0, false};
    puts_text(&t, "[");
    for (size_t i = 0; i < MENU_SIZE; i++) {
        puts_text(&t, i ? ",{\"pizza\":" : "{\"pizza\":");
        put_json_string(&t, menu[i].name, strlen(menu[i].name));
        printf_text(&t, ",\"price_cents\":%u}", menu[i].price_cents);
    }
    puts_text(&t, "]");
    if (t.overflow) {
        fprintf(stderr, "pizzeria: the menu does not fit its buffer\n");
        abort();
    }
    menu_json_len = t.len;
}

static void build_front_page(void)
{
    struct text t = {front_page, sizeof front_page, 0, false};
    puts_text(&t,
              "<!DOCTYPE html>\n"
              "<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
              "<meta name=\"viewport\" content=\"width=device-width\">\n"
              "<title>The Asynchronous Pizzeria</title>\n"
              "<style>body{font-family:sans-serif;max-width:40em;"
              "margin:2em auto;padding:0 1em}table{border-collapse:collapse}"
              "td,th{padding:.3em .8em;border-bottom:1px solid #ddd;"
              "text-align:left}td.price{text-align:right}</style>\n"
              "</head>\n<body>\n<h1>The Asynchronous Pizzeria</h1>\n"
              "<table>\n<tr><th>Pizza</th><th>Toppings</th>"
              "<th>Price</th></tr>\n");
    for (size_t i = 0; i < MENU_SIZE; i++) {
        puts_text(&t, "<tr><td>");
        put_html(&t, menu[i].name);
        puts_text(&t, "</td><td>");
        put_html(&t, menu[i].toppings);
        printf_text(&t, "</td><td class=\"price\">%u.%02u</td></tr>\n",
                    menu[i].price_cents / 100, menu[i].price_cents % 100);
    }
    puts_text(&t, "</table>\n"
                  "<h2>Order</h2>\n"
                  "<form method=\"post\" action=\"/order\">\n"
                  "<label>Pizza <select name=\"pizza\">\n");
    for (size_t i = 0; i < MENU_SIZE; i++) {
        puts_text(&t, "<option value=\"");
        put_html(&t, menu[i].name);
        puts_text(&t, "\">");
        put_html(&t, menu[i].name);
        puts_text(&t, "</option>\n");
    }
    printf_text(&t,
                "</select></label>\n"
                "<label>How many <input name=\"qty\" type=\"number\" "
                "min=\"%d\" max=\"%d\" value=\"1\"></label>\n"
                "<button type=\"submit\" name=\"send\" value=\"1\">Order"
                "</button>\n</form>\n"
                "<p>The receipt comes back as JSON once the pizza is out of "
                "the oven. The menu is also at <a href=\"/menu\">/menu</a>."
                "</p>\n</body>\n</html>\n",
                MIN_QTY, MAX_QTY);
    if (t.overflow) {
        fprintf(stderr, "pizzeria: the front page does not fit its buffer\n");
        abort();
    }
    front_page_len = t.len;
}

void pizzeria_open(void)
{
    build_menu_json();
    build_front_page();
}

/* ---- tickets ---- */

bool pizzeria_status_closes(int status)
{
    switch (status) {
    case 200: case 400: case 404: case 405: case 415:
        return false;
    default:
        return true;
    }
}

static void reply_with(struct ticket *t, int status, const char *type,
                       const char *body, size_t len)
{
    t->response.status = status;
    t->response.content_type = type;
    t->response.body = body;
    t->response.body_len = len;
    if (pizzeria_status_closes(status))
        t->response.connection = CONNECTION_CLOSE;
}

/*
 * How much of an error's message a ticket holds: the reason (our own
 * words, plain ASCII) and at most DETAIL_SHOWN bytes of what the customer
 * wrote, each of which JSON may spell as six ("\u001f", "\ufffd").
 */
enum { MESSAGE_CAP = 160, DETAIL_SHOWN = 64 };
_Static_assert(sizeof "{\"error\":\"\"}" + (MESSAGE_CAP - DETAIL_SHOWN) +
                       6 * DETAIL_SHOWN <= sizeof((struct ticket *)0)->text,
               "a ticket holds the longest error");

/* {"error":"REASON"} or, with what the customer wrote, "REASON: DETAIL". */
static void refuse_with_text(struct ticket *t, int status, const char *reason,
                             const char *detail, size_t detail_len)
{
    char message[MESSAGE_CAP];
    struct text m = {message, sizeof message, 0, false};
    puts_text(&m, reason);
    if (detail) {
        puts_text(&m, ": ");
        put(&m, detail, detail_len > DETAIL_SHOWN ? DETAIL_SHOWN : detail_len);
    }
    struct text text = {t->text, sizeof t->text, 0, false};
    puts_text(&text, "{\"error\":");
    put_json_string(&text, message, m.len);
    puts_text(&text, "}");
    reply_with(t, status, "application/json", t->text, text.len);
}

static void refuse(struct ticket *t, int status, const char *reason)
{
    refuse_with_text(t, status, reason, NULL, 0);
}

void pizzeria_refuse(struct ticket *t, int status, const char *reason)
{
    memset(&t->response, 0, sizeof t->response);
    t->is_order = false;
    strcpy(t->request_line, "-");
    refuse(t, status, reason);
    t->response.connection = CONNECTION_CLOSE;
}

void pizzeria_refuse_partial(struct ticket *t,
                             const struct http_parser *parser, int status,
                             const char *reason)
{
    pizzeria_refuse(t, status, reason);
    /* Refusing starts a fresh response; a HEAD the parser read before it
     * failed still gets only the head. */
    t->response.head_only =
        parser->method_known && parser->request.method == HTTP_HEAD;
}

void pizzeria_refuse_request(struct ticket *t,
                             const struct http_parser *parser)
{
    pizzeria_refuse_partial(t, parser, parser->error_status,
                            parser->error_reason);
}

/* Start a ticket from what the request says about the connection. */
static void open_ticket(const struct http_request *r, struct ticket *t)
{
    memset(&t->response, 0, sizeof t->response);
    t->is_order = false;
    t->response.head_only = r->method == HTTP_HEAD;
    if (!r->keep_alive)
        t->response.connection = CONNECTION_CLOSE;
    else if (r->minor_version == 0)
        t->response.connection = CONNECTION_KEEP_ALIVE;
    else
        t->response.connection = CONNECTION_KEEP_OPEN;
    snprintf(t->request_line, sizeof t->request_line, "%.*s %.*s HTTP/1.%d",
             (int)r->method_name.len, r->method_name.at,
             (int)(r->target.len > 48 ? 48 : r->target.len), r->target.at,
             r->minor_version);
}

enum route { ROUTE_NONE, ROUTE_FRONT, ROUTE_MENU, ROUTE_ORDER };

static enum route find_route(struct slice path)
{
    if (slice_equals(path, "/"))
        return ROUTE_FRONT;
    if (slice_equals(path, "/menu"))
        return ROUTE_MENU;
    if (slice_equals(path, "/order"))
        return ROUTE_ORDER;
    return ROUTE_NONE;
}

/* "application/x-www-form-urlencoded", any case, perhaps "; charset=...". */
static bool is_form_type(struct slice type)
{
    static const char form[] = "application/x-www-form-urlencoded";
    size_t n = sizeof form - 1;
    if (type.len < n || strncasecmp(type.at, form, n) != 0)
        return false;
    size_t i = n;
    while (i < type.len && (type.at[i] == ' ' || type.at[i] == '\t'))
        i++;
    return i == type.len || type.at[i] == ';';
}

bool pizzeria_check_head(const struct http_request *r, struct ticket *t)
{
    open_ticket(r, t);
    enum route route = find_route(r->path);
    bool get_or_head = r->method == HTTP_GET || r->method == HTTP_HEAD;

    if (route == ROUTE_NONE) {
        refuse_with_text(t, 404, "no such page", r->path.at, r->path.len);
    } else if (route != ROUTE_ORDER && !get_or_head) {
        refuse(t, 405, "this page can only be read");
        t->response.allow = "GET, HEAD";
    } else if (route == ROUTE_ORDER && r->method != HTTP_POST) {
        refuse(t, 405, "orders are placed with POST");
        t->response.allow = "POST";
    } else if (route == ROUTE_ORDER && !r->has_content_length) {
        refuse(t, 411, "an order needs a Content-Length");
    } else if (route == ROUTE_ORDER && r->has_content_type &&
               !is_form_type(r->content_type)) {
        refuse(t, 415, "orders come as an HTML form "
                                "(application/x-www-form-urlencoded)");
    } else {
        return true;
    }
    return false;
}

/* ---- the order form ---- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/*
 * The next byte of a form field, decoded: "+" is a space, "%XX" a byte.
 * Returns false for a bad escape. Fields are decoded as they are read, a
 * byte at a time, so no field needs a buffer as long as itself.
 */
static bool next_form_byte(struct slice field, size_t *at, char *byte)
{
    char c = field.at[*at];
    if (c == '+') {
        c = ' ';
    } else if (c == '%') {
        if (*at + 2 >= field.len)
            return false;
        int hi = hex_value(field.at[*at + 1]);
        int lo = hex_value(field.at[*at + 2]);
        if (hi < 0 || lo < 0)
            return false;
        c = (char)(hi * 16 + lo);
        *at += 2;
    }
    *at += 1;
    *byte = c;
    return true;
}

/* Decode into out (cap bytes at most); the full length, or -1. */
static long decode_field(struct slice field, char *out, size_t cap)
{
    size_t len = 0;
    for (size_t at = 0; at < field.len; len++) {
        char byte;
        if (!next_form_byte(field, &at, &byte))
            return -1;
        if (len < cap)
            out[len] = byte;
    }
    return (long)len;
}

/* The two fields an order reads, still encoded, as the customer sent them. */
struct order_form {
    bool has_pizza, has_qty;
    struct slice pizza, qty;
};

static const char *read_field(struct order_form *form, struct slice field)
{
    const char *equals = memchr(field.at, '=', field.len);
    struct slice name = {field.at, equals ? (size_t)(equals - field.at)
                                          : field.len};
    struct slice value = {name.at + name.len + (equals ? 1 : 0),
                          field.len - name.len - (equals ? 1 : 0)};

    char decoded[8];
    long name_len = decode_field(name, decoded, sizeof decoded);
    if (name_len < 0 || decode_field(value, NULL, 0) < 0)
        return "bad %-escape in the form";
    struct slice decoded_name = {decoded, (size_t)name_len};
    if (slice_equals(decoded_name, "pizza")) {
        if (form->has_pizza)
            return "pizza given twice";
        form->has_pizza = true;
        form->pizza = value;
    } else if (slice_equals(decoded_name, "qty")) {
        if (form->has_qty)
            return "qty given twice";
        form->has_qty = true;
        form->qty = value;
    } /* any other field, such as a submit button, is not ours to judge */
    return NULL;
}

static const char *read_form(struct slice body, struct order_form *form)
{
    memset(form, 0, sizeof *form);
    size_t i = 0;
    while (i < body.len) {
        const char *amp = memchr(body.at + i, '&', body.len - i);
        size_t end = amp ? (size_t)(amp - body.at) : body.len;
        if (end > i) {
            const char *error =
                read_field(form, (struct slice){body.at + i, end - i});
            if (error)
                return error;
        }
        i = end + 1;
    }
    return NULL;
}

/* Decimal digits only, 1..20; "05" is 5, and so is "0005". 0 if not. */
static unsigned parse_qty(const struct order_form *form)
{
    if (!form->has_qty)
        return 1;
    if (form->qty.len == 0)
        return 0;
    unsigned qty = 0;
    for (size_t at = 0; at < form->qty.len;) {
        char digit;
        if (!next_form_byte(form->qty, &at, &digit) || digit < '0' ||
            digit > '9')
            return 0;
        qty = qty * 10 + (unsigned)(digit - '0');
        if (qty > MAX_QTY)
            return 0;
    }
    return qty >= MIN_QTY ? qty : 0;
}

static const struct pizza *find_pizza(const char *name, long len)
{
    for (size_t i = 0; i < MENU_SIZE; i++)
        if (len >= 0 && slice_equals((struct slice){name, (size_t)len},
                                     menu[i].name))
            return &menu[i];
    return NULL;
}

static void take_order(const struct http_request *r, struct ticket *t)
{
    struct order_form form;
    const char *error = read_form(r->body, &form);
    if (error) {
        refuse(t, 400, error);
        return;
    }
    if (!form.has_pizza) {
        refuse(t, 400, "the order names no pizza");
        return;
    }
    char name[32];
    long name_len = decode_field(form.pizza, name, sizeof name);
    const struct pizza *pizza =
        name_len <= (long)sizeof name ? find_pizza(name, name_len) : NULL;
    if (pizza == NULL) {
        size_t shown = name_len < (long)sizeof name ? (size_t)name_len
                                                    : sizeof name;
        refuse_with_text(t, 400, "not on the menu", name, shown);
        return;
    }
    unsigned qty = parse_qty(&form);
    if (qty == 0) {
        refuse(t, 400, "qty must be a whole number from 1 to 20");
        return;
    }
    t->is_order = true;
    t->order.pizza = pizza;
    t->order.qty = qty;
    // @snippet order-number
    t->order.number = atomic_fetch_add(orders_taken, 1) + 1;
    // @end order-number
}

void pizzeria_take(const struct http_request *r, struct ticket *t)
{
    if (!pizzeria_check_head(r, t))
        return;
    switch (find_route(r->path)) {
    case ROUTE_FRONT:
        reply_with(t, 200, "text/html; charset=utf-8", front_page,
                   front_page_len);
        break;
    case ROUTE_MENU:
        reply_with(t, 200, "application/json", menu_json, menu_json_len);
        break;
    default:
        take_order(r, t);
    }
}

void pizzeria_receipt(struct ticket *t, long baked_ms, const char *cook)
{
    const struct order *o = &t->order;
    struct text text = {t->text, sizeof t->text, 0, false};
    printf_text(&text, "{\"order\":%lu,\"pizza\":", o->number);
    put_json_string(&text, o->pizza->name, strlen(o->pizza->name));
    printf_text(&text, ",\"qty\":%u,\"total_cents\":%u,\"baked_ms\":%ld,",
                o->qty, o->qty * o->pizza->price_cents, baked_ms);
    puts_text(&text, "\"cook\":");
    put_json_string(&text, cook, strlen(cook));
    puts_text(&text, "}");
    t->is_order = false;
    reply_with(t, 200, "application/json", t->text, text.len);
}
