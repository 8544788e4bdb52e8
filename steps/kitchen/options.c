/*
 * options.c - getopt_long over the contract's flags, strict about numbers.
 */
#include "options.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The contract's defaults, the same for every step. */
#define DEFAULT_HOST "127.0.0.1"
enum { DEFAULT_PORT = 8080, DEFAULT_IDLE_TIMEOUT_MS = 10000 };

static void usage(FILE *to, const struct step *step)
{
    fprintf(to,
            "usage: pizzeria [--host ADDR] [--port N] [--bake-ms N] "
            "[--max-conns N]\n"
            "                [--idle-timeout-ms N] [--log] [--trace FILE] "
            "[--help]\n"
            "\n"
            "The Asynchronous Pizzeria, step %s.\n"
            "\n"
            "  --host ADDR           address to listen on, IPv4 or IPv6 "
            "literal (default %s)\n"
            "  --port N              TCP port, 0 lets the kernel pick "
            "(default %d)\n"
            "  --bake-ms N           oven time per order, 0..60000 ms "
            "(default %d)\n"
            "  --max-conns N         most connections at once, N >= 1 "
            "(default %d; %s)\n"
            "  --idle-timeout-ms N   deadline to deliver a request, 0 = none "
            "(default %d)\n"
            "  --log                 one access-log line per request on "
            "stderr\n"
            "  --trace FILE          kitchen events, one per line, into FILE\n"
            "%s"
            "  --describe            what this step says about itself, as "
            "JSON\n"
            "  --help                this text\n",
            step->name, DEFAULT_HOST, DEFAULT_PORT, step->default_bake_ms,
            step->default_max_conns, step->max_conns_note,
            DEFAULT_IDLE_TIMEOUT_MS,
            step->worker_processes
                ? "  --workers N           worker processes, 1..64 (default: "
                  "one per CPU it may\n"
                  "                        run on)\n"
                  "  --door KIND           reuseport (a door per worker, the "
                  "default), shared\n"
                  "                        (one door in every worker's epoll) "
                  "or exclusive (the\n"
                  "                        same with EPOLLEXCLUSIVE); at exit, "
                  "the door's wake-ups\n"
                  "                        on stderr\n"
                : "");
}

/*
 * The step's own facts, from struct step, for the tests to hold its
 * step.json to: the manifest says what the server says, not a copy that
 * could drift.
 */
static void describe(const struct step *step)
{
    printf("{\"name\": \"%s\", \"cook\": \"%s\", \"default_bake_ms\": %d, "
           "\"default_max_conns\": %d, \"worker_processes\": %s}\n",
           step->name, step->threaded ? "pid tid" : "pid",
           step->default_bake_ms, step->default_max_conns,
           step->worker_processes ? "true" : "false");
}

static void bad_usage(const struct step *step, const char *what,
                      const char *value)
{
    if (what)
        fprintf(stderr, "pizzeria: bad value for --%s: '%s'\n", what, value);
    usage(stderr, step);
    exit(2);
}

/* A decimal number in [min, max], digits only, nothing after it. */
static int parse_number(const struct step *step, const char *flag,
                        const char *text, long min, long max)
{
    if (text[0] < '0' || text[0] > '9')
        bad_usage(step, flag, text);
    errno = 0;
    char *end;
    long value = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < min || value > max)
        bad_usage(step, flag, text);
    return (int)value;
}

static void parse_host(const struct step *step, const char *text,
                       struct options *o)
{
    unsigned char address[sizeof(struct in6_addr)];
    if (strlen(text) >= sizeof o->host ||
        (inet_pton(AF_INET, text, address) != 1 &&
         inet_pton(AF_INET6, text, address) != 1))
        bad_usage(step, "host", text);
    strcpy(o->host, text);
}

/* --workers and --door mean something only to a step with workers. */
static void only_with_workers(const struct step *step, const char *flag)
{
    if (step->worker_processes)
        return;
    fprintf(stderr, "pizzeria: step %s has no --%s\n", step->name, flag);
    bad_usage(step, NULL, NULL);
}

static enum doors parse_doors(const struct step *step, const char *text)
{
    if (strcmp(text, "reuseport") == 0)
        return DOORS_REUSEPORT;
    if (strcmp(text, "shared") == 0)
        return DOORS_SHARED;
    if (strcmp(text, "exclusive") == 0)
        return DOORS_EXCLUSIVE;
    bad_usage(step, "door", text);
    return DOORS_REUSEPORT; /* not reached: bad_usage exits */
}

void options_parse(int argc, char **argv, const struct step *step,
                   struct options *o)
{
    enum { HOST = 1, PORT, BAKE, MAX_CONNS, IDLE, LOG, TRACE, WORKERS, DOOR,
           DESCRIBE, HELP };
    static const struct option flags[] = {
        {"host", required_argument, NULL, HOST},
        {"port", required_argument, NULL, PORT},
        {"bake-ms", required_argument, NULL, BAKE},
        {"max-conns", required_argument, NULL, MAX_CONNS},
        {"idle-timeout-ms", required_argument, NULL, IDLE},
        {"log", no_argument, NULL, LOG},
        {"trace", required_argument, NULL, TRACE},
        {"workers", required_argument, NULL, WORKERS},
        {"door", required_argument, NULL, DOOR},
        {"describe", no_argument, NULL, DESCRIBE},
        {"help", no_argument, NULL, HELP},
        {NULL, 0, NULL, 0},
    };
    *o = (struct options){
        .host = DEFAULT_HOST,
        .port = DEFAULT_PORT,
        .bake_ms = step->default_bake_ms,
        .max_conns = step->default_max_conns,
        .idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS,
    };

    opterr = 0; /* our own message, then the usage */
    int flag;
    while ((flag = getopt_long(argc, argv, "", flags, NULL)) != -1) {
        switch (flag) {
        case HOST: parse_host(step, optarg, o); break;
        case PORT: o->port = parse_number(step, "port", optarg, 0, 65535);
            break;
        case BAKE: o->bake_ms = parse_number(step, "bake-ms", optarg, 0,
                                             60000);
            break;
        case MAX_CONNS:
            o->max_conns = parse_number(step, "max-conns", optarg, 1,
                                        1000000);
            break;
        case IDLE:
            o->idle_timeout_ms = parse_number(step, "idle-timeout-ms",
                                              optarg, 0, 3600000);
            break;
        case LOG: o->log = true; break;
        case TRACE: o->trace_path = optarg; break;
        case WORKERS:
            only_with_workers(step, "workers");
            o->workers = parse_number(step, "workers", optarg, 1,
                                      MAX_WORKERS);
            break;
        case DOOR:
            only_with_workers(step, "door");
            o->doors = parse_doors(step, optarg);
            o->door_given = true;
            break;
        case DESCRIBE: describe(step); exit(0);
        case HELP: usage(stdout, step); exit(0);
        default:
            fprintf(stderr, "pizzeria: unknown or incomplete flag '%s'\n",
                    argv[optind - 1]);
            bad_usage(step, NULL, NULL);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pizzeria: unexpected argument '%s'\n", argv[optind]);
        bad_usage(step, NULL, NULL);
    }
}
