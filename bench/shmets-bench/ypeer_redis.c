/*
 * ypeer_redis.c — Redis in the YCSB workloads: a redis-server started for the store on a
 * private Unix socket in the run's directory (no TCP port, no persistence), ended by pid when
 * the store is unloaded, as peer_redis.c does for the read benchmark.  Each client process has
 * its own connection and waits for every reply (no pipelining: one operation, one round trip,
 * as YCSB's Redis binding does).  A record is a hash, as in YCSB's binding: field `v` the
 * value, field `c` the counter; the key is the 8-byte little-endian key.
 *
 *   read    HGET key v
 *   update  HSET key v <value>
 *   insert  HSET key v <value> (and, for e, ZADD of the key to the index; both in one write)
 *   rmw     HINCRBY key c 1: Redis's own read-modify-write of a record's field
 *   scan    YCSB's binding keeps a sorted set of the keys; here its members are the keys
 *           big-endian (so that their byte order is the integer order) under score 0, and a scan
 *           is ZRANGEBYLEX idx [start + LIMIT 0 len, then an HGET of each key, sent at once
 *
 * The check after a run: DBSIZE (less the index) against the records loaded and inserted.
 */
#include "ycsb.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static pid_t server;
static char sockdir[320], sockpath[400];
static int indexed;             /* the store keeps the index (e) */

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

/* ---- a connection: a buffered reader of RESP replies ---------------------------------------- */

struct conn {
    int fd;
    size_t rpos, rlen, wlen, wcap;
    char *w;
    char r[65536];
};

static int c_connect(struct conn *c, int quiet)
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
    c->fd = fd;
    c->rpos = c->rlen = c->wlen = 0;
    return 0;
}

static int c_room(struct conn *c, size_t n)
{
    if (c->wlen + n <= c->wcap)
        return 0;
    size_t cap = c->wcap ? c->wcap : 4096;
    while (cap < c->wlen + n)
        cap *= 2;
    char *w = realloc(c->w, cap);
    if (!w)
        return -1;
    c->w = w;
    c->wcap = cap;
    return 0;
}

/* Append one command of n arguments (each bytes and length). */
static int c_cmd(struct conn *c, int n, const void *const *args, const size_t *lens)
{
    size_t need = 16;
    for (int i = 0; i < n; i++)
        need += lens[i] + 24;
    if (c_room(c, need))
        return -1;
    c->wlen += (size_t)sprintf(c->w + c->wlen, "*%d\r\n", n);
    for (int i = 0; i < n; i++) {
        c->wlen += (size_t)sprintf(c->w + c->wlen, "$%zu\r\n", lens[i]);
        memcpy(c->w + c->wlen, args[i], lens[i]);
        c->wlen += lens[i];
        memcpy(c->w + c->wlen, "\r\n", 2);
        c->wlen += 2;
    }
    return 0;
}

static int c_flush(struct conn *c)
{
    const char *p = c->w;
    size_t n = c->wlen;
    while (n) {
        ssize_t w = write(c->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    c->wlen = 0;
    return 0;
}

static int c_fill(struct conn *c)
{
    if (c->rpos == c->rlen)
        c->rpos = c->rlen = 0;
    else if (c->rpos > sizeof c->r / 2) {
        memmove(c->r, c->r + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    if (c->rlen == sizeof c->r)
        return -1;
    for (;;) {
        ssize_t r = read(c->fd, c->r + c->rlen, sizeof c->r - c->rlen);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c->rlen += (size_t)r;
        return 0;
    }
}

/* One line of a reply (without \r\n) in line[cap]. */
static int c_line(struct conn *c, char *line, size_t cap)
{
    for (;;) {
        char *e = memchr(c->r + c->rpos, '\n', c->rlen - c->rpos);
        if (e) {
            size_t n = (size_t)(e - (c->r + c->rpos)) + 1;
            if (n < 2 || n - 2 >= cap)
                return -1;
            memcpy(line, c->r + c->rpos, n - 2);
            line[n - 2] = 0;
            c->rpos += n;
            return 0;
        }
        if (c_fill(c))
            return -1;
    }
}

static int c_bytes(struct conn *c, void *out, size_t n)
{
    char *o = out;
    while (n) {
        if (c->rpos == c->rlen && c_fill(c))
            return -1;
        size_t m = c->rlen - c->rpos < n ? c->rlen - c->rpos : n;
        if (o) {
            memcpy(o, c->r + c->rpos, m);
            o += m;
        }
        c->rpos += m;
        n -= m;
    }
    return 0;
}

/* An integer or status reply: 0 (*v the integer, 0 for +OK), or -1. */
static int c_int(struct conn *c, long long *v)
{
    char line[128];
    if (c_line(c, line, sizeof line))
        return -1;
    if (line[0] == ':') {
        *v = atoll(line + 1);
        return 0;
    }
    if (line[0] == '+') {
        *v = 0;
        return 0;
    }
    fprintf(stderr, "shmets-bench: redis: unexpected reply %.100s\n", line);
    return -1;
}

/* A bulk reply into out (cap bytes): its length, -2 for nil, -1 on error. */
static long c_bulk(struct conn *c, void *out, size_t cap)
{
    char line[64];
    if (c_line(c, line, sizeof line) || line[0] != '$') {
        fprintf(stderr, "shmets-bench: redis: unexpected reply %.60s\n", line);
        return -1;
    }
    long n = atol(line + 1);
    if (n < 0)
        return -2;
    if ((size_t)n > cap) {
        if (c_bytes(c, NULL, (size_t)n + 2))
            return -1;
        return (long)cap + 1;
    }
    if (c_bytes(c, out, (size_t)n) || c_bytes(c, NULL, 2))
        return -1;
    return n;
}

static void key_le(uint64_t k, unsigned char b[8])
{
    memcpy(b, &k, 8);
}

static void key_be(uint64_t k, unsigned char b[9])
{
    b[0] = '[';
    for (int i = 0; i < 8; i++)
        b[1 + i] = (unsigned char)(k >> (56 - 8 * i));
}

/* HSET key v value [; ZADD idx 0 member] appended. */
static int c_hset(struct conn *c, uint64_t k, const unsigned char *v, unsigned b, int index)
{
    unsigned char kb[8], mb[9];
    key_le(k, kb);
    const void *a[] = { "HSET", kb, "v", v };
    size_t l[] = { 4, 8, 1, b };
    if (c_cmd(c, 4, a, l))
        return -1;
    if (index) {
        key_be(k, mb);
        const void *z[] = { "ZADD", "idx", "0", mb + 1 };
        size_t zl[] = { 4, 3, 1, 8 };
        return c_cmd(c, 4, z, zl);
    }
    return 0;
}

/* ---- the store ---------------------------------------------------------------------------- */

static int r_load(const struct ycfg *y, int ordered)
{
    const char *bin = redis_binary();
    indexed = ordered;
    snprintf(sockdir, sizeof sockdir, "%s/ycsb-redis", y->c.dir);
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
        execl(bin, "redis-server", "--port", "0", "--unixsocket", sockpath, "--unixsocketperm", "700", "--save", "",
              "--appendonly", "no", "--dir", sockdir, "--daemonize", "no", "--loglevel", "warning", "--logfile", "",
              (char *)NULL);
        _exit(127);
    }
    if (server < 0)
        return -1;
    struct conn *c = calloc(1, sizeof *c);
    int up = -1;
    for (double until = now_s() + 10; c && up && now_s() < until; sleep_s(0.01))
        up = c_connect(c, 1);
    if (up) {
        fprintf(stderr, "shmets-bench: redis: the server did not come up on %s\n", sockpath);
        free(c);
        return -1;
    }
    unsigned char *v = malloc(y->value_bytes);
    int rc = v ? 0 : -1;
    enum { BATCH = 1000 };
    for (uint64_t i = 0; i < y->c.objects && !rc; i += BATCH) {
        uint64_t m = 0;
        for (uint64_t n = i; n < y->c.objects && n < i + BATCH && !rc; n++, m++) {
            uint64_t k = y_key(y, n);
            y_value(k, 0, v, y->value_bytes);
            rc = c_hset(c, k, v, y->value_bytes, ordered);
        }
        if (!rc)
            rc = c_flush(c);
        long long r;
        for (uint64_t j = 0; j < m * (ordered ? 2 : 1) && !rc; j++)
            rc = c_int(c, &r);
    }
    if (rc)
        fprintf(stderr, "shmets-bench: redis: loading failed\n");
    free(v);
    close(c->fd);
    free(c->w);
    free(c);
    return rc;
}

static void r_unload(const struct ycfg *y, int ordered)
{
    (void)y;
    (void)ordered;
    if (server > 0) {
        kill(server, SIGTERM);
        bench_reap(server, 10);
    }
    server = 0;
    remove_path(sockdir);
}

static int r_check(const struct ycfg *y, int ordered, uint64_t *count)
{
    (void)y;
    struct conn *c = calloc(1, sizeof *c);
    long long n = 0, z = 0;
    int rc = !c || c_connect(c, 0) ? -1 : 0;
    if (!rc) {
        const void *a[] = { "DBSIZE" };
        size_t l[] = { 6 };
        rc = c_cmd(c, 1, a, l) || c_flush(c) || c_int(c, &n) ? -1 : 0;
        if (!rc && ordered) {
            const void *b[] = { "ZCARD", "idx" };
            size_t bl[] = { 5, 3 };
            rc = c_cmd(c, 2, b, bl) || c_flush(c) || c_int(c, &z) ? -1 : 0;
            if (!rc && z != n - 1) {
                fprintf(stderr, "shmets-bench: redis: the index holds %lld keys, the store %lld\n", z, n - 1);
                rc = -1;
            }
            n--;
        }
        close(c->fd);
    }
    if (c)
        free(c->w);
    free(c);
    *count = (uint64_t)n;
    return rc;
}

struct rh {
    struct conn c;
    unsigned b;
    unsigned char keys[Y_SCANMAX][9];
};

static void *r_open(const struct ycfg *y, int ordered, int idx)
{
    (void)ordered;
    (void)idx;
    struct rh *h = calloc(1, sizeof *h);
    if (!h || c_connect(&h->c, 0)) {
        free(h);
        return NULL;
    }
    h->b = y->value_bytes;
    return h;
}

static void r_close(void *p)
{
    struct rh *h = p;
    close(h->c.fd);
    free(h->c.w);
    free(h);
}

static int get_value(struct rh *h, uint64_t k, unsigned char *val)
{
    long n = c_bulk(&h->c, val, h->b);
    if (n == -1)
        return -1;
    return n == (long)h->b ? y_bad(k, val) : 1;
}

static int r_read(void *p, uint64_t k, unsigned char *val)
{
    struct rh *h = p;
    unsigned char kb[8];
    key_le(k, kb);
    const void *a[] = { "HGET", kb, "v" };
    size_t l[] = { 4, 8, 1 };
    if (c_cmd(&h->c, 3, a, l) || c_flush(&h->c))
        return -1;
    return get_value(h, k, val);
}

static int r_write(void *p, uint64_t k, const unsigned char *val, int index)
{
    struct rh *h = p;
    long long r;
    if (c_hset(&h->c, k, val, h->b, index) || c_flush(&h->c) || c_int(&h->c, &r) || (index && c_int(&h->c, &r)))
        return -1;
    return 0;
}

static int r_update(void *p, uint64_t k, const unsigned char *val)
{
    return r_write(p, k, val, 0);
}

static int r_insert(void *p, uint64_t k, const unsigned char *val)
{
    return r_write(p, k, val, indexed);
}

static int r_rmw(void *p, uint64_t k, uint64_t *counter)
{
    struct rh *h = p;
    unsigned char kb[8];
    key_le(k, kb);
    const void *a[] = { "HINCRBY", kb, "c", "1" };
    size_t l[] = { 7, 8, 1, 1 };
    long long r;
    if (c_cmd(&h->c, 4, a, l) || c_flush(&h->c) || c_int(&h->c, &r))
        return -1;
    *counter = (uint64_t)r;
    return 0;
}

static int r_scan(void *p, uint64_t k, unsigned len, unsigned char *val, unsigned *found)
{
    struct rh *h = p;
    unsigned char mb[9];
    char cnt[16], line[64];
    key_be(k, mb);
    int nc = snprintf(cnt, sizeof cnt, "%u", len);
    const void *a[] = { "ZRANGEBYLEX", "idx", mb, "+", "LIMIT", "0", cnt };
    size_t l[] = { 11, 3, 9, 1, 5, 1, (size_t)nc };
    if (c_cmd(&h->c, 7, a, l) || c_flush(&h->c) || c_line(&h->c, line, sizeof line) || line[0] != '*')
        return -1;
    unsigned n = (unsigned)atoi(line + 1);
    if (n > Y_SCANMAX)
        return -1;
    for (unsigned i = 0; i < n; i++)
        if (c_bulk(&h->c, h->keys[i], 8) != 8)
            return -1;
    uint64_t keys[Y_SCANMAX];
    for (unsigned i = 0; i < n; i++) {
        keys[i] = 0;
        for (int j = 0; j < 8; j++)
            keys[i] = keys[i] << 8 | h->keys[i][j];
        unsigned char kb[8];
        key_le(keys[i], kb);
        const void *g[] = { "HGET", kb, "v" };
        size_t gl[] = { 4, 8, 1 };
        if (c_cmd(&h->c, 3, g, gl))
            return -1;
    }
    if (n && c_flush(&h->c))
        return -1;
    int bad = 0;
    for (unsigned i = 0; i < n; i++) {
        int rc = get_value(h, keys[i], val);
        if (rc < 0)
            return -1;
        bad |= rc;
    }
    *found = n;
    return bad;
}

static pid_t r_server(void)
{
    return server;
}

const struct ypeer ypeer_redis = {
    .name = "redis",
    .note = "redis-server on a private Unix socket, no persistence, one connection a client process, no pipelining; "
            "a record is a hash (HGET/HSET of field v, HINCRBY of field c for rmw); e: a sorted set of the keys, "
            "ZRANGEBYLEX then the HGETs sent at once",
    .available = r_available, .load = r_load, .unload = r_unload, .open = r_open, .close = r_close, .read = r_read,
    .update = r_update, .insert = r_insert, .scan = r_scan, .rmw = r_rmw, .check = r_check, .server = r_server,
};
