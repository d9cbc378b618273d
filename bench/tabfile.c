/*
 * bench/tabfile.c — table files at scale: a 1,000,000-object set dumped with tab2file and
 * loaded with file2tab, the time of each, with and without md5sum/verify, in shmets's format
 * and in Erlang's, and the file's size.
 *
 *   build/bench/tabfile [--objects N] [--keep]
 *
 * It also prints how much the load raised the process's peak resident memory, next to the
 * size of the table it made and of the file: the loader streams objects in batches, so the
 * growth is the new table's segment pages plus a few MiB, not the file.
 *
 * Objects are {I, <<"value-I">>, [I, I*2], {tag, I}} (about 50 bytes of ETF each).  The file is
 * written to $TMPDIR (or /tmp) and removed afterwards unless --keep (then its path is printed:
 * `build/shmets load` on it shows the progress bar).  Output: TSV lines (case, seconds,
 * objects_per_s, file_bytes) on stdout, a sentence on stderr.  Figures, never pass/fail.
 */
#include "shmets.h"
#include "benchutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Peak resident memory so far, in KiB (shared segment pages the process touched count too). */
static long peak_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

#define die(what, rc) bench_die("tabfile", what, rc)

int main(int argc, char **argv)
{
    long n = 1000000;
    int keep = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--objects") && i + 1 < argc)
            n = atol(argv[++i]);
        else if (!strcmp(argv[i], "--keep"))
            keep = 1;
        else {
            fprintf(stderr, "usage: tabfile [--objects N] [--keep]\n");
            return 2;
        }
    }
    char inst[64], path[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(inst, sizeof inst, "bench_tabfile.%d", (int)getpid());
    snprintf(path, sizeof path, "%s/bench_tabfile.%d.tab", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    shmets *db;
    shmets_tab *t, *u;
    int rc;
    if ((rc = shmets_open(inst, &db)))
        die("open", rc);
    shmets_opts o;
    shmets_opts_init(&o);
    o.access = SHMETS_PUBLIC;
    o.named = true;
    if ((rc = shmets_new(db, "bench", &o, &t)))
        die("new", rc);
    shmets_builder *b;
    shmets_builder_create(&b);
    double t0 = bench_now();
    for (long base = 0; base < n; base += 10000) {
        long m = n - base < 10000 ? n - base : 10000;
        shmets_term list;
        shmets_build_list(b, (size_t)m);
        for (long i = base; i < base + m; i++) {
            char v[32];
            int k = snprintf(v, sizeof v, "value-%ld", i);
            shmets_build_tuple(b, 4);
            shmets_build_int(b, i);
            shmets_build_binary(b, v, (size_t)k);
            shmets_build_list(b, 2);
            shmets_build_int(b, i);
            shmets_build_int(b, 2 * i);
            shmets_build_nil(b);
            shmets_build_tuple(b, 2);
            shmets_build_atom(b, "tag", 3);
            shmets_build_int(b, i);
        }
        shmets_build_nil(b);
        if ((rc = shmets_builder_finish(b, &list)) || (rc = shmets_insert(t, list)))
            die("fill", rc);
        shmets_term_free(&list);
    }
    shmets_builder_destroy(b);
    fprintf(stderr, "tabfile: %ld objects inserted in %.2f s\n", n, bench_now() - t0);
    printf("case\tseconds\tobjects_per_s\tfile_bytes\n");
    for (int run = 0; run < 4; run++) {
        int md5 = run & 1, erl = run >> 1;
        shmets_tabfile_opts fo;
        shmets_tabfile_opts_init(&fo);
        fo.md5sum = md5;
        fo.verify = md5;
        fo.erlang = erl;
        double a = bench_now();
        if ((rc = shmets_tab2file(t, path, &fo)))
            die("tab2file", rc);
        double dump = bench_now() - a;
        struct stat st;
        stat(path, &st);
        if ((rc = shmets_rename(t, "bench_was")))
            die("rename", rc);
        long peak0 = peak_kib();
        a = bench_now();
        if ((rc = shmets_file2tab(db, path, &fo, &u)))
            die("file2tab", rc);
        double load = bench_now() - a;
        shmets_tab_info in;
        shmets_info(u, &in);
        if (run == 0)   /* the first load: later ones reuse memory the first one touched */
            fprintf(stderr, "tabfile: the load raised peak RSS by %.1f MiB; the loaded table's segment "
                "holds %.1f MiB and the file is %.1f MiB (objects stream in batches)\n",
                (peak_kib() - peak0) / 1024.0, in.memory_bytes / 1048576.0, st.st_size / 1048576.0);
        uint64_t size;
        shmets_size(u, &size);
        if ((long)size != n)
            die("the loaded table's size differs", -SHMETS_EINVAL);
        const char *f = erl ? "_erlang" : "";
        printf("tab2file%s%s\t%.3f\t%.0f\t%lld\n", f, md5 ? "_md5sum" : "", dump, n / dump, (long long)st.st_size);
        printf("file2tab%s%s\t%.3f\t%.0f\t%lld\n", f, md5 ? "_verify" : "", load, n / load, (long long)st.st_size);
        fprintf(stderr, "tabfile: %s format, %s: dump %.2f s, load %.2f s, %lld bytes (%.1f bytes/object)\n",
                erl ? "Erlang's" : "shmets", md5 ? "md5sum + verify" : "plain", dump, load,
                (long long)st.st_size, (double)st.st_size / n);
        shmets_delete(u);
        shmets_rename(t, "bench");
    }
    shmets_close(db);
    shmets_destroy_instance(inst);
    if (keep)
        fprintf(stderr, "tabfile: kept %s\n", path);
    else
        unlink(path);
    return 0;
}
