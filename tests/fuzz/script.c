/*
 * script.c — fuzz target: the script interpreter (tools/script.c, `shmets script`).
 *
 * The input is a script: ets calls in Erlang syntax.  script_run_buffer() runs it against a
 * fresh instance named fuzz_inst() (F.2) and removes the instance, every table in it, at the
 * end; so the calls reach the whole table layer (new, insert, lookup, the select family,
 * update_counter, rename, info, ...) through the script's argument checks, and nothing lives
 * from one input to the next.  Properties: no crash, no leak, no sanitizer report, and the
 * instance is gone afterwards (checked here: its control segment no longer opens).
 * Results go to standard output and messages to standard error: run with -close_fd_mask=3
 * (tests/fuzz/run.sh does; the replay sends them to /dev/null).
 * Seeds (tests/fuzz/script/): calls of the script tests and slices of the differential
 * scripts (tests/diff/gen.escript), each slice starting with the ets:new of its tables.
 */
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>

int script_run_buffer(const void *buf, size_t len, const char *inst);   /* tools/tool.h */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* etsmgr's calls (etsmgr:new_table/4, ...) find no daemon and fail: none is started. */
    setenv("SHMETS_NO_AUTOSTART", "1", 1);
    int status = script_run_buffer(data, size, fuzz_inst());
    FUZZ_CHECK(status == 0 || status == 1);
    char seg[64];
    snprintf(seg, sizeof seg, "/shmets.%s", fuzz_inst());
    int fd = shm_open(seg, O_RDONLY, 0);
    FUZZ_CHECK(fd < 0 && errno == ENOENT);
    return 0;
}
