/*
 * ycsb_gen.c — what YCSB's CoreWorkload draws: the workloads' mixes, and the record choosers
 * (uniform, zipfian, latest), written from YCSB's definitions (site.ycsb.generator):
 *
 *   ZipfianGenerator     Gray et al., SIGMOD 1994: with zeta(n) = sum_{i=1..n} i^-theta,
 *                        u uniform in [0,1): item 0 if u*zeta(n) < 1, item 1 if below
 *                        1 + 0.5^theta, else n * (eta*u - eta + 1)^(1/(1-theta)), where
 *                        eta = (1 - (2/n)^(1-theta)) / (1 - zeta(2)/zeta(n)).
 *   ScrambledZipfian     (YCSB's requestdistribution=zipfian) the zipfian over 10^10 items,
 *                        its item hashed by FNV-64 and taken modulo the key space, so the
 *                        popular records are scattered over the table instead of being the
 *                        first ones; YCSB keeps zeta(10^10, 0.99) as a constant (26.469...).
 *   SkewedLatest         (requestdistribution=latest) the newest record minus a zipfian rank
 *                        over the records there are, zeta extended as the count grows.
 *
 * zeta(n) for large n: the first 10^6 terms summed, the rest by Euler–Maclaurin (the integral,
 * the half end terms and the first derivative correction): for 10^10 items and theta 0.99 it
 * gives 26.4690282018, YCSB's constant being 26.46902820178302, and for 2,000,000 items and
 * theta 0.5 it agrees with the plain sum to 12 digits.
 */
#include "ycsb.h"

#include <math.h>
#include <stdio.h>

#define ZIPF_ITEMS 10000000000ull       /* YCSB's ScrambledZipfianGenerator.ITEM_COUNT */
#define ZETA_EXACT 1000000ull

double y_zeta(uint64_t n, double theta)
{
    double s = 0;
    uint64_t m = n < ZETA_EXACT ? n : ZETA_EXACT;
    for (uint64_t i = 1; i <= m; i++)
        s += pow((double)i, -theta);
    if (n <= ZETA_EXACT)
        return s;
    /* sum_{i=M+1..n} f(i) = int_M^n f + (f(n) - f(M))/2 + (f'(n) - f'(M))/12 + ... */
    double M = (double)m, N = (double)n, e = 1 - theta;
    double integral = (pow(N, e) - pow(M, e)) / e;
    double f = pow(N, -theta) - pow(M, -theta);
    double d1 = -theta * (pow(N, -theta - 1) - pow(M, -theta - 1));
    return s + integral + f / 2 + d1 / 12;
}

static void zipf_eta(struct zipf *z)
{
    z->eta = (1 - pow(2.0 / (double)z->n, 1 - z->theta)) / (1 - z->zeta2 / z->zetan);
}

void zipf_init(struct zipf *z, uint64_t n, double theta)
{
    z->theta = theta;
    z->alpha = 1 / (1 - theta);
    z->zeta2 = 1 + pow(2, -theta);
    z->n = n < 2 ? 2 : n;
    z->zetan = y_zeta(z->n, theta);
    zipf_eta(z);
}

uint64_t zipf_next(struct zipf *z, uint64_t n, uint64_t *rng)
{
    if (n > z->n) {             /* latest: the records grew; extend zeta term by term */
        for (uint64_t i = z->n + 1; i <= n; i++)
            z->zetan += pow((double)i, -z->theta);
        z->n = n;
        zipf_eta(z);
    }
    double u = rng_double(rng), uz = u * z->zetan;
    if (uz < 1)
        return 0;
    if (uz < 1 + pow(0.5, z->theta))
        return 1;
    uint64_t r = (uint64_t)((double)n * pow(z->eta * u - z->eta + 1, z->alpha));
    return r < n ? r : n - 1;
}

/* YCSB's Utils.fnvhash64: FNV-1a over the 8 bytes, low first, made non-negative. */
uint64_t fnv64(uint64_t v)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (int i = 0; i < 8; i++) {
        h ^= v & 0xff;
        v >>= 8;
        h *= 1099511628211ull;
    }
    return (int64_t)h < 0 ? (uint64_t)0 - h : h;
}

void chooser_init(struct chooser *ch, const struct ycfg *y)
{
    ch->dist = y->dist;
    /* YCSB's key space for the scrambled zipfian: the records and twice the inserts expected
     * (insertproportion * operationcount * 2); a time-bound run expects a tenth of the records. */
    uint64_t expect = 0;
    if (y->prop[Y_INSERT] > 0)
        expect = y->ops ? (uint64_t)((double)y->ops * y->prop[Y_INSERT] * 2) : y->c.objects / 10;
    ch->space = y->c.objects + expect;
    if (ch->dist == D_ZIPFIAN) {
        static double zeta_cached = -1, theta_cached = -1;
        if (y->theta == 0.99) {
            /* YCSB's constant (ScrambledZipfianGenerator.ZETAN) for 10^10 items, 0.99 */
            ch->z = (struct zipf){ .theta = 0.99, .alpha = 100, .zeta2 = 1 + pow(2, -0.99),
                                   .zetan = 26.46902820178302, .n = ZIPF_ITEMS };
            zipf_eta(&ch->z);
        } else {
            if (theta_cached != y->theta) {
                zeta_cached = y_zeta(ZIPF_ITEMS, y->theta);
                theta_cached = y->theta;
            }
            ch->z = (struct zipf){ .theta = y->theta, .alpha = 1 / (1 - y->theta),
                                   .zeta2 = 1 + pow(2, -y->theta), .zetan = zeta_cached, .n = ZIPF_ITEMS };
            zipf_eta(&ch->z);
        }
    } else if (ch->dist == D_LATEST) {
        zipf_init(&ch->z, y->c.objects, y->theta);
    }
}

uint64_t chooser_next(struct chooser *ch, uint64_t limit, uint64_t *rng)
{
    switch (ch->dist) {
    case D_ZIPFIAN:
        /* A record not inserted yet is drawn again, as YCSB's CoreWorkload does. */
        for (int tries = 0;; tries++) {
            uint64_t n = fnv64(zipf_next(&ch->z, ZIPF_ITEMS, rng)) % ch->space;
            if (n < limit)
                return n;
            if (tries > 1000)
                return n % limit;
        }
    case D_LATEST:
        return limit - 1 - zipf_next(&ch->z, limit, rng);
    default:
        return rng_key(rng, limit);
    }
}

int y_workload(struct ycfg *y, char name)
{
    static const struct { char name; double read, update, insert, scan, rmw; enum y_dist dist; } W[] = {
        { 'a', 0.50, 0.50, 0, 0, 0, D_ZIPFIAN },
        { 'b', 0.95, 0.05, 0, 0, 0, D_ZIPFIAN },
        { 'c', 1.00, 0, 0, 0, 0, D_ZIPFIAN },
        { 'd', 0.95, 0, 0.05, 0, 0, D_LATEST },
        { 'e', 0, 0, 0.05, 0.95, 0, D_ZIPFIAN },
        { 'f', 0.50, 0, 0, 0, 0.50, D_ZIPFIAN },
    };
    for (size_t i = 0; i < sizeof W / sizeof *W; i++)
        if (W[i].name == name) {
            y->workload = name;
            y->prop[Y_READ] = W[i].read;
            y->prop[Y_UPDATE] = W[i].update;
            y->prop[Y_INSERT] = W[i].insert;
            y->prop[Y_SCAN] = W[i].scan;
            y->prop[Y_RMW] = W[i].rmw;
            if (y->dist == D_DEFAULT)
                y->dist = W[i].dist;
            return 0;
        }
    return -1;
}

const char *y_dist_name(enum y_dist d)
{
    return d == D_UNIFORM ? "uniform" : d == D_ZIPFIAN ? "zipfian" : d == D_LATEST ? "latest" : "default";
}

const char *y_op_name(enum y_op o)
{
    static const char *const n[] = { "read", "update", "insert", "scan", "rmw", "all" };
    return o <= Y_NOPS ? n[o] : "?";
}
