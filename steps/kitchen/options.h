/*
 * options.h - the command line every step shares (the contract,
 * chapters/appendix-protocol.md).
 */
#ifndef PIZZERIA_OPTIONS_H
#define PIZZERIA_OPTIONS_H

#include <stdbool.h>

/* What a step says about itself: its name and its own defaults. */
struct step {
    const char *name;           /* "01-blocking": the Server header's STEP */
    int default_bake_ms;
    int default_max_conns;
    const char *max_conns_note; /* how this step uses --max-conns */
    bool threaded;              /* cooks are threads: "pid P tid T" */
    bool worker_processes;      /* cooks are --workers processes under a
                                   master: "pid P" is a worker's */
};

enum { MAX_WORKERS = 64 }; /* --workers */

/* --door, for a step with worker processes: how the cooks share the street. */
enum doors {
    DOORS_REUSEPORT, /* a door per cook on the one port (SO_REUSEPORT) */
    DOORS_SHARED,    /* one door, on every cook's tablet */
    DOORS_EXCLUSIVE, /* the same, with EPOLLEXCLUSIVE */
};

struct options {
    char host[64];
    int port;
    int bake_ms;
    int max_conns;
    int idle_timeout_ms; /* 0: no deadline */
    bool log;
    const char *trace_path; /* NULL: no trace */
    int workers; /* --workers, for a step with worker_processes; 0: one
                    per CPU this process may run on */
    enum doors doors;  /* --door */
    bool door_given;   /* --door was said: report the door's wake-ups */
};

/*
 * Parse argv; on --help print usage, on --describe the step's name, cook
 * and defaults as JSON, and exit 0; on a bad flag say which and exit 2.
 */
void options_parse(int argc, char **argv, const struct step *step,
                   struct options *options);

#endif
