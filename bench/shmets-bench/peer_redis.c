/*
 * peer_redis.c — Redis: a redis-server started for the run on a private Unix socket in the
 * run's directory (`--port 0`: no TCP port; `--save ''`, `--appendonly no`: no persistence),
 * ended by pid when its store is unloaded.  Keys are the 8-byte little-endian key, values the
 * 32 bytes.  Each reader process has its own connection and sends GETs:
 *
 *   redis         one GET, wait for its reply, the next (unpipelined)
 *   redis-pipe16  16 GETs written at once, then their 16 replies (latency: a pipeline / 16)
 *
 * The client is the few lines of RESP these two commands need (a request of fixed shape, a
 * bulk reply of known length), not hiredis: it adds no allocation or parsing of its own to
 * what is measured, which is the server.  Loading pipelines SETs 1,000 at a time.  The R2
 * writer sends SETs, unpipelined.  M: the server's resident set after loading.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define PIPE 16
#define GET_LEN (4 + 4 + 5 + 4 + 8 + 2)        /* *2 $3 GET $8 <key> */
#define REPLY_LEN (5 + VALUE_BYTES + 2)        /* $32\r\n <value> \r\n */

static pid_t server;
static char sockdir[320], sockpath[400];

static const char *redis_binary(void)
{
    static const char *const where[] = { "/usr/bin/redis-server", "/usr/local/bin/redis-server",
                                         "/usr/sbin/redis-server" };
    for (size_t i = 0; i < sizeof where / sizeof *where; i++)
        if (access(where[i], X_OK) == 0)
            return where[i];
    return NULL;
}

static bool r_available(const char **why)
{
    *why = "redis-server is not installed (apt-get install redis-server, or make bench)";
    return redis_binary() != NULL;
}

static int r_connect(int quiet)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    size_t len = strlen(sockpath);
    if (len < sizeof a.sun_path)
        memcpy(a.sun_path, sockpath, len + 1);
    if (fd < 0 || len >= sizeof a.sun_path || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (!quiet)
            perror("shmets-bench: redis: connect");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static size_t put_get(char *b, uint64_t k)
{
    memcpy(b, "*2\r\n$3\r\nGET\r\n$8\r\n", 17);
    memcpy(b + 17, &k, 8);
    memcpy(b + 25, "\r\n", 2);
    return GET_LEN;
}

static size_t put_set(char *b, uint64_t k, const unsigned char v[VALUE_BYTES])
{
    memcpy(b, "*3\r\n$3\r\nSET\r\n$8\r\n", 17);
    memcpy(b + 17, &k, 8);
    memcpy(b + 25, "\r\n$32\r\n", 7);
    memcpy(b + 32, v, VALUE_BYTES);
    memcpy(b + 32 + VALUE_BYTES, "\r\n", 2);
    return 34 + VALUE_BYTES;
}

static int r_load(const struct cfg *c, int ordered, uint64_t *mem)
{
    (void)ordered;
    const char *bin = redis_binary();
    snprintf(sockdir, sizeof sockdir, "%s/redis", c->dir);
    snprintf(sockpath, sizeof sockpath, "%s/redis.sock", sockdir);
    remove_path(sockdir);
    if (mkdir(sockdir, 0700) != 0) {
        perror("shmets-bench: redis: mkdir");
        return -1;
    }
    server = bench_fork();
    if (server == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        execl(bin, "redis-server", "--port", "0", "--unixsocket", sockpath, "--unixsocketperm", "700",
              "--save", "", "--appendonly", "no", "--dir", sockdir, "--daemonize", "no", "--loglevel",
              "warning", "--logfile", "", (char *)NULL);
        _exit(127);
    }
    if (server < 0)
        return -1;
    int fd = -1;
    for (double until = now_s() + 10; fd < 0 && now_s() < until; sleep_s(0.01))
        fd = r_connect(1);
    if (fd < 0) {
        fprintf(stderr, "shmets-bench: redis: the server did not come up on %s\n", sockpath);
        return -1;
    }
    enum { BATCH = 1000 };
    char *buf = malloc(BATCH * (34 + VALUE_BYTES));
    char ok[BATCH * 5];
    unsigned char v[VALUE_BYTES];
    int rc = buf ? 0 : -1;
    for (uint64_t i = 0; i < c->objects && !rc; i += BATCH) {
        size_t len = 0, m = 0;
        for (uint64_t k = i; k < c->objects && k < i + BATCH; k++, m++) {
            make_value(k, 0, v);
            len += put_set(buf + len, k, v);
        }
        if (write_all(fd, buf, len) || read_all(fd, ok, m * 5) || memcmp(ok, "+OK\r\n", 5)) {
            fprintf(stderr, "shmets-bench: redis: loading failed\n");
            rc = -1;
        }
    }
    free(buf);
    close(fd);
    *mem = rss_bytes(server);
    return rc;
}

static void r_unload(const struct cfg *c, int ordered)
{
    (void)c;
    (void)ordered;
    if (server > 0) {
        kill(server, SIGTERM);
        bench_reap(server, 10);
    }
    server = 0;
    remove_path(sockdir);
}

struct rconn {
    int fd;
    char out[PIPE * GET_LEN];
    char in[PIPE * REPLY_LEN];
};

static void *r_open(const struct cfg *c, int ordered, int idx)
{
    (void)c;
    (void)ordered;
    (void)idx;
    struct rconn *r = calloc(1, sizeof *r);
    if (!r || (r->fd = r_connect(0)) < 0) {
        free(r);
        return NULL;
    }
    return r;
}

static void r_close(void *p)
{
    struct rconn *r = p;
    close(r->fd);
    free(r);
}

/* Look up keys[0..n) with pipelines of `depth` GETs. */
static long r_get(struct rconn *r, const uint64_t *keys, unsigned n, unsigned depth, uint64_t *sum)
{
    long bad = 0;
    for (unsigned g = 0; g < n; g += depth) {
        unsigned m = n - g < depth ? n - g : depth;
        size_t len = 0;
        for (unsigned i = 0; i < m; i++)
            len += put_get(r->out + len, keys[g + i]);
        if (write_all(r->fd, r->out, len) || read_all(r->fd, r->in, m * REPLY_LEN)) {
            fprintf(stderr, "shmets-bench: redis: connection lost\n");
            return -1;
        }
        for (unsigned i = 0; i < m; i++) {
            const char *p = r->in + i * REPLY_LEN;
            if (memcmp(p, "$32\r\n", 5)) {
                fprintf(stderr, "shmets-bench: redis: unexpected reply %.5s\n", p);
                return -1;
            }
            bad += fold_value(keys[g + i], (const unsigned char *)p + 5, sum);
        }
    }
    return bad;
}

static long r_lookup(void *p, const uint64_t *keys, unsigned n, uint64_t *sum)
{
    return r_get(p, keys, n, 1, sum);
}

static long r_lookup_pipe(void *p, const uint64_t *keys, unsigned n, uint64_t *sum)
{
    return r_get(p, keys, n, PIPE, sum);
}

static void *r_writer_open(const struct cfg *c, int ordered)
{
    return r_open(c, ordered, 0);
}

static int r_write(void *p, uint64_t key, const unsigned char val[VALUE_BYTES])
{
    struct rconn *r = p;
    char req[34 + VALUE_BYTES], ok[5];
    size_t len = put_set(req, key, val);
    if (write_all(r->fd, req, len) || read_all(r->fd, ok, sizeof ok) || memcmp(ok, "+OK\r\n", 5)) {
        fprintf(stderr, "shmets-bench: redis: SET failed\n");
        return -1;
    }
    return 0;
}

static pid_t r_server(void)
{
    return server;
}

const struct peer peer_redis = {
    .name = "redis", .store = "redis", .cases = C_R1 | C_R2 | C_M, .unit = 1,
    .note = "redis-server on a private Unix socket, no persistence; one connection a reader process, unpipelined GETs",
    .available = r_available, .load = r_load, .unload = r_unload, .reader_open = r_open, .lookup = r_lookup,
    .reader_close = r_close, .writer_open = r_writer_open, .write = r_write, .writer_close = r_close,
    .server = r_server,
};

const struct peer peer_redis_pipe = {
    .name = "redis-pipe16", .store = "redis", .cases = C_R1, .unit = PIPE,
    .note = "the same server; 16 GETs written at once, then their replies (latency: a pipeline / 16)",
    .available = r_available, .load = r_load, .unload = r_unload, .reader_open = r_open,
    .lookup = r_lookup_pipe, .reader_close = r_close, .server = r_server,
};
