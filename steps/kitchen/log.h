/*
 * log.h - what the kitchen says about itself: the access log (--log) and
 * the kitchen trace (--trace FILE).
 *
 * Both write each line with one write(2), so lines from several cooks
 * (threads, or forked processes sharing the file) never interleave.
 */
#ifndef PIZZERIA_LOG_H
#define PIZZERIA_LOG_H

#include <stdbool.h>

/* Read before formatting anything, so a kitchen without --trace pays nothing. */
extern bool trace_enabled;
extern bool access_log_enabled;

/* Open the trace file (exit 1 if it cannot be opened). */
void log_open(bool access_log, const char *trace_path);

/*
 * "SECONDS EVENT CONN [DETAIL]": event is one of accept, request, oven-in,
 * oven-out, response, close; conn the connection's number in accept order.
 */
void trace_event(unsigned long conn, const char *event, const char *format,
                 ...) __attribute__((format(printf, 3, 4)));

/* PEER "REQUEST LINE" STATUS BYTES MILLISECONDS, on stderr. */
void log_access(const char *peer, const char *request_line, int status,
                unsigned long bytes, double ms);

#endif
