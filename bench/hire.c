/*
 * hire.c - what it costs to hire a cook: create a thread and wait for it to
 * end, or fork a process and wait for it to exit, N times each.
 *
 *   cc -O2 -pthread -o build/bench/hire bench/hire.c && build/bench/hire
 *
 * The cook does nothing at all, so what is timed is the hiring alone. The
 * forking parent first touches MIB mebibytes of heap (default 64) since
 * fork copies page tables, and a real server is not an empty process.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void *idle_cook(void *argument)
{
    return argument;
}

// @snippet hire-loops
static double thread_us(int n, size_t stack_bytes)
{
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    if (stack_bytes)
        pthread_attr_setstacksize(&attributes, stack_bytes);
    double start = now_us();
    for (int i = 0; i < n; i++) {
        pthread_t cook;
        if (pthread_create(&cook, &attributes, idle_cook, NULL) != 0)
            exit(1);
        pthread_join(cook, NULL);
    }
    pthread_attr_destroy(&attributes);
    return (now_us() - start) / n;
}

static double fork_us(int n)
{
    double start = now_us();
    for (int i = 0; i < n; i++) {
        pid_t cook = fork();
        if (cook < 0)
            exit(1);
        if (cook == 0)
            _exit(0);
        waitpid(cook, NULL, 0);
    }
    return (now_us() - start) / n;
}
// @end hire-loops

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    size_t mib = argc > 2 ? (size_t)atoi(argv[2]) : 64;
    char *heap = malloc(mib << 20);
    if (heap == NULL)
        return 1;
    memset(heap, 1, mib << 20); /* resident, as a server's data would be */

    printf("thread (8 MiB stack)  %8.1f us\n", thread_us(n, 0));
    printf("thread (64 KiB stack) %8.1f us\n", thread_us(n, 64 * 1024));
    printf("fork (%zu MiB touched) %8.1f us\n", mib, fork_us(n));
    free(heap);
    return 0;
}
