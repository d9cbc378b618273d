/*
 * replay.c — the corpus replay of `make check`: runs every file of one target's seed corpus
 * (tests/fuzz/NAME/, compiled in as FUZZ_CORPUS) through the target's
 * LLVMFuzzerTestOneInput(), built with the ordinary compiler (no clang, no libFuzzer).
 *
 * Each file runs in a child process, so that a crash, an abort (FUZZ_CHECK) or a sanitizer
 * report names its file and the other files still run; the child's standard output and error
 * go to /dev/null (the targets print much) but for sanitizer reports and FUZZ_CHECK's
 * message, which keep the replay's standard error.  After a child that did not exit 0, whatever shared memory it left
 * under the fuzz.<pid> instance names (fuzz.h, F.2) is removed.
 * It prints one cmocka-style summary line that tests/run.sh counts: the replay of a corpus is
 * one test, failed if any file failed (each failing file is named).
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#ifndef FUZZ_CORPUS
#error "FUZZ_CORPUS (the seed directory) must be defined"
#endif
#ifndef FUZZ_NAME
#error "FUZZ_NAME must be defined"
#endif

/* Sanitizer runtimes (when linked in) send their reports to this fd. */
void __sanitizer_set_report_fd(void *fd) __attribute__((weak));

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *len = (size_t)st.st_size;
    *buf = malloc(*len ? *len : 1);
    size_t got = 0;
    while (*buf && got < *len) {
        ssize_t n = read(fd, *buf + got, *len - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!*buf || got != *len) {
        free(*buf);
        return -1;
    }
    return 0;
}

/* Remove /dev/shm/shmets.fuzz.<pid> and shmets.fuzz.<pid>.* (F.2). */
static void remove_leftovers(pid_t pid)
{
    char prefix[64];
    int n = snprintf(prefix, sizeof prefix, "shmets.fuzz.%d", (int)pid);
    DIR *d = opendir("/dev/shm");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (!strncmp(e->d_name, prefix, (size_t)n) && (e->d_name[n] == 0 || e->d_name[n] == '.')) {
            char name[300];
            snprintf(name, sizeof name, "/%s", e->d_name);
            shm_unlink(name);
        }
    closedir(d);
}

/* Run one input in a child; 0 if it returned normally. */
static int replay_one(const char *path, int report_fd)
{
    uint8_t *buf;
    size_t len;
    if (read_file(path, &buf, &len) != 0) {
        dprintf(report_fd, "fuzz-%s: cannot read %s: %s\n", FUZZ_NAME, path, strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        free(buf);
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        char fdtext[16];
        snprintf(fdtext, sizeof fdtext, "%d", report_fd);
        setenv("FUZZ_REPORT_FD", fdtext, 1);
        if (__sanitizer_set_report_fd)
            __sanitizer_set_report_fd((void *)(intptr_t)report_fd);
        dup2(null, 1);
        dup2(null, 2);
        /* libFuzzer hands the target a buffer of exactly len bytes: so do we (ASan sees a
         * read past it). */
        uint8_t *exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
        free(buf);
        exit(0);
    }
    free(buf);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    remove_leftovers(pid);
    if (WIFSIGNALED(status))
        dprintf(report_fd, "fuzz-%s: %s: killed by signal %d\n", FUZZ_NAME, path, WTERMSIG(status));
    else
        dprintf(report_fd, "fuzz-%s: %s: exit status %d\n", FUZZ_NAME, path, WEXITSTATUS(status));
    return -1;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : FUZZ_CORPUS;
    int report_fd = dup(2);
    DIR *d = opendir(dir);
    if (!d) {
        printf("fuzz-%s: cannot open the corpus %s: %s\n", FUZZ_NAME, dir, strerror(errno));
        printf("[  FAILED  ] 1 test(s), listed below:\n[  FAILED  ] replay %s\n", dir);
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof *names);
            if (!names)
                abort();
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (replay_one(path, report_fd) != 0)
            bad++;
        free(names[i]);
    }
    free(names);
    printf("fuzz-%s: %zu inputs of %s replayed, %zu failed\n", FUZZ_NAME, n, dir, bad);
    if (bad || n == 0) {
        printf("[  FAILED  ] 1 test(s), listed below:\n[  FAILED  ] replay %s%s\n", dir,
               n == 0 ? " (no inputs)" : "");
        return 1;
    }
    printf("[  PASSED  ] 1 test(s).\n");
    return 0;
}
