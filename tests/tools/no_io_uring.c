/*
 * no_io_uring.c - run a program as a container that forbids io_uring
 * would: a seccomp filter makes io_uring_setup fail with the errno given,
 * then the program is started.
 *
 *     no_io_uring EPERM|ENOSYS PROGRAM [ARGS...]
 *
 * For tests/test_step_09_io_uring.py: the kitchen must say what happened
 * and how to check, and exit non-zero.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: no_io_uring EPERM|ENOSYS PROGRAM [ARGS...]\n");
        return 2;
    }
    unsigned error = strcmp(argv[1], "ENOSYS") == 0 ? ENOSYS : EPERM;
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | error),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {
        .len = sizeof filter / sizeof *filter,
        .filter = filter,
    };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) < 0) {
        perror("no_io_uring: seccomp");
        return 2;
    }
    execvp(argv[2], argv + 2);
    perror("no_io_uring: exec");
    return 2;
}
