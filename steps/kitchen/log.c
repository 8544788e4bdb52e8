/*
 * log.c - access log and kitchen trace.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kitchen.h"

bool trace_enabled;
bool access_log_enabled;
static int trace_fd = -1;

void log_open(bool access_log, const char *trace_path)
{
    access_log_enabled = access_log;
    if (trace_path == NULL)
        return;
    /* O_APPEND: every write lands at the end, whoever (which process) writes. */
    trace_fd = open(trace_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND |
                    O_CLOEXEC, 0644);
    if (trace_fd < 0)
        kitchen_fail("open(%s) for --trace", trace_path);
    trace_enabled = true;
}

/* One line, one write: a short write to a file only happens when it is full. */
static void write_line(int fd, const char *line, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, line, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* a lost log line must not stop the kitchen */
        line += n;
        len -= (size_t)n;
    }
}

void trace_event(unsigned long conn, const char *event, const char *format,
                 ...)
{
    if (!trace_enabled)
        return;
    char line[256];
    long long us = kitchen_elapsed_us();
    int n = snprintf(line, sizeof line, "%lld.%06lld %s %lu", us / 1000000,
                     us % 1000000, event, conn);
    if (format && n > 0 && (size_t)n < sizeof line - 2) {
        line[n++] = ' ';
        va_list args;
        va_start(args, format);
        int more = vsnprintf(line + n, sizeof line - 1 - (size_t)n, format,
                             args);
        va_end(args);
        if (more > 0)
            n += more;
        if ((size_t)n > sizeof line - 2)
            n = sizeof line - 2; /* cut a long detail short */
    }
    line[n++] = '\n';
    write_line(trace_fd, line, (size_t)n);
}

void log_access(const char *peer, const char *request_line, int status,
                unsigned long bytes, double ms)
{
    char line[256];
    int n = snprintf(line, sizeof line, "%s \"%s\" %d %lu %.3fms\n", peer,
                     request_line, status, bytes, ms);
    if (n > 0)
        write_line(STDERR_FILENO, line,
                   (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
