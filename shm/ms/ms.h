/*
 * ms.h — private to libshmets (not installed): match specifications, compiled.
 *
 * A match specification (ERTS User's Guide, "Match Specifications in Erlang"; the ETS manual's
 * select/2) is compiled once, by ms_compile.c, into a PROGRAM: one flat byte array that holds
 * no address — every reference in it is an offset into the array itself — so it can be copied,
 * kept in shared memory, or sent to another process and run there.  ms_run.c runs a program
 * against one object; ms_verify.c checks that bytes from elsewhere are a program the runner
 * can trust; ms_key.c answers the select family's questions about keys; ms_fmt.c prints terms
 * in error messages as ERTS does.  The public face is the last section of shmets.h (ms_api.c).
 *
 * THE PROGRAM (all integers little-endian; offsets from the start of the program):
 *
 *   header      MS_HDR_SIZE bytes, fields at the MS_H_* offsets below
 *   clauses     nclauses entries of MS_CLAUSE_SIZE bytes: the head's offset and length in the
 *               pool (the head term itself, for key analysis), the clause code's offset and
 *               length in the code section
 *   code        each clause's code, one after another
 *   pool        canonical terms: first the source specification itself; then, only when ERTS
 *               would renumber the spec's variables (ms_compile.c, L.6), the renumbered copy
 *               that was compiled; heads and constants are referenced where they stand in the
 *               compiled one; then constants the compiler built ({{a, {const, b}}} is the
 *               constant {a, b}, which the spec does not contain)
 *
 * A clause's code is:  head ops ... H_END  guard ops ...  B_BEGIN  body ops ...  B_RETURN.
 *
 * HEAD OPS are a pattern in prefix order, matched recursively against the object (recursion
 * depth is the pattern's nesting, at most hdr.depth <= MS_MAX_DEPTH, never the object's):
 *   H_ANY                       '_'
 *   H_BIND v                    first occurrence of a variable: slot v takes the subterm
 *   H_CMP v                     a later occurrence: the subterm must be =:= to slot v
 *   H_CONST c                   a ground subterm without maps: the bytes must be equal
 *   H_TUPLE n  p1..pn           a tuple of arity n
 *   H_LIST k mode v  p1..pk [t] a list of k elements and then: mode MS_TAIL_PAT (exactly k
 *                               elements, the list's own tail matches pattern t), MS_TAIL_ANY
 *                               (at least k), MS_TAIL_BIND (at least k; slot v takes the rest),
 *                               MS_TAIL_CMP (at least k; the rest =:= slot v)
 *   H_MAP n  (c p)*n            a map holding each key c (exactly) with a value matching p
 *   H_END
 *
 * GUARD AND BODY OPS work on a value stack (hdr.stack slots suffice; the verifier checks it).
 * An OPERAND is 8 bytes: u32 0 = "pop it from the stack", else u32 pool offset + 1 and u32
 * length of a constant.  An op with n operands pops its stack operands (the last one is on
 * top), and pushes its result.
 *   E_PUSH d                    push operand d (a constant, or a variable/'$_' via E_VAR/E_OBJ)
 *   E_VAR v / E_OBJ             push slot v / the object ('$_')
 *   E_BINDINGS n v1..vn         push the list of slots v1..vn ('$$': the clause's variables)
 *   E_TUPLE n d1..dn, E_LIST k d1..dk dtail, E_MAP n (dk dv)*n   construct (canonical)
 *   E_CALL f d1..da             guard function f (enum ms_fn) of arity a
 *   E_AND n d.., E_OR n d..     strict boolean operators
 *   E_ANDALSO j, E_ORELSE j     pop; true (false) goes on; false (true) is pushed back and
 *                               jumps j bytes forward (from the next op); anything else fails
 *   E_SELF                      <0.OSPID.0> of the running process
 *   G_TEST d                    a guard: the clause fails unless d is 'true'
 *   B_BEGIN                     the guards passed: from here a failing function gives 'EXIT'
 *   B_RETURN d                  the result
 * In the guards a failing function (badarg, badarith, ...) fails the clause, and the next
 * clause is tried; in the body it gives the atom 'EXIT', as in ERTS.  There are no backward
 * jumps, so each op runs at most once per clause: the work per object is bounded by the
 * program's length times the cost of one op (linear in the terms involved; integers are
 * limited to SHMETS_BIG_MAX_BYTES of magnitude).  Only the last body expression is compiled:
 * in the table dialect the others have no effect.
 */
/*
 * NOTES FOR THE SELECT FAMILY (what ETS does, checked against OTP 25):
 *   N.1 Scan with one struct ms_run per thread and ms_exec() per object; the result is a view
 *       (into the object, the program or the run's arena) valid until the next ms_exec with
 *       that run: copy it into the call's result before going on.  Objects may be views into
 *       a table inside a read section: ms_exec only reads them.
 *   N.2 A body that fails gives 'EXIT', and select/2 returns it like any result
 *       (ets:select(T, [{'$1',[],[{hd,'$1'}]}]) gives ['EXIT', ...]); select_count/2 and
 *       select_delete/2 count or delete the objects whose result is exactly 'true'.
 *   N.3 ets:select(T, []) is [] and select_count(T, []) is 0, although
 *       ets:match_spec_compile([]) is badarg: the table calls accept the empty list before
 *       compiling.
 *   N.4 select_replace/2 is badarg unless ms_keeps_key() (shmets_ms_keeps_key) holds for the
 *       table's keypos; then each replacement has the old object's key by construction.
 *   N.5 Key analysis: ms_clause_key() per clause, or shmets_ms_key_plan() /
 *       shmets_ms_key_span() for the whole spec; ETS dedups the looked-up keys (an object is
 *       visited once even if two clauses name its key) and runs the whole program on each
 *       object found.
 *   N.6 A program kept in memory that other processes can write must be checked and copied
 *       (shmets_ms_load) before it is run: ms_verify() proves a snapshot, not later bytes.
 */
#ifndef SHMETS_MS_H
#define SHMETS_MS_H

#include "shmets.h"
#include "term/term.h"
#include "base/util.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#define MS_MAGIC        "SHMS"
#define MS_VERSION      1
#define MS_MAX_DEPTH    SHMETS_TERM_MAX_DEPTH   /* head pattern nesting */
#define MS_ERR_LEN      99                      /* ERTS's error strings are cut here */
#define MS_MAX_ERRORS   1000                    /* messages kept for one spec */

/* Header fields (u32 unless noted). */
enum {
    MS_H_MAGIC = 0,     /* 4 bytes "SHMS" */
    MS_H_VERSION = 4,   /* u16 */
    MS_H_FLAGS = 6,     /* u16, 0 */
    MS_H_LEN = 8,       /* the whole program */
    MS_H_NCLAUSES = 12,
    MS_H_NVARS = 16,    /* variable slots */
    MS_H_STACK = 20,    /* value-stack slots */
    MS_H_DEPTH = 24,    /* deepest head pattern nesting */
    MS_H_CLAUSES = 28,  /* offset of the clause table */
    MS_H_CODE = 32, MS_H_CODE_LEN = 36,
    MS_H_POOL = 40, MS_H_POOL_LEN = 44,
    MS_H_SPEC_LEN = 48, /* the source spec: pool bytes [0, spec_len) */
    MS_H_EXEC = 52,     /* the spec the code refers to: pool offset (0: the source itself, */
    MS_H_EXEC_LEN = 56, /*   else spec_len, a renumbered copy: see ms_compile.c, L.6) */
    MS_HDR_SIZE = 60
};
#define MS_CLAUSE_SIZE 16   /* head pool offset, head length, code offset, code length */

enum ms_op {
    H_ANY = 1, H_BIND, H_CMP, H_CONST, H_TUPLE, H_LIST, H_MAP, H_END,
    E_PUSH = 16, E_VAR, E_OBJ, E_BINDINGS, E_TUPLE, E_LIST, E_MAP, E_CALL, E_AND, E_OR,
    E_ANDALSO, E_ORELSE, E_SELF,
    G_TEST = 40, B_BEGIN, B_RETURN,
};

enum ms_tail { MS_TAIL_PAT = 0, MS_TAIL_ANY, MS_TAIL_BIND, MS_TAIL_CMP };

/*
 * Guard functions.  Those of OTP 25's table dialect, and those OTP 26 added (marked): the
 * manual of current OTP is the spec (DESIGN.md §2).
 */
enum ms_fn {
    F_IS_ATOM, F_IS_FLOAT, F_IS_INTEGER, F_IS_LIST, F_IS_NUMBER, F_IS_PID, F_IS_PORT,
    F_IS_REFERENCE, F_IS_TUPLE, F_IS_MAP, F_IS_BINARY, F_IS_FUNCTION, F_IS_RECORD,
    F_IS_MAP_KEY, F_ABS, F_ELEMENT, F_HD, F_TL, F_LENGTH, F_NODE0, F_NODE1, F_ROUND, F_TRUNC,
    F_FLOAT, F_SIZE, F_BIT_SIZE, F_BYTE_SIZE, F_MAP_SIZE, F_MAP_GET, F_BINARY_PART2,
    F_BINARY_PART3, F_PLUS1, F_MINUS1, F_PLUS, F_MINUS, F_TIMES, F_DIVIDE, F_DIV, F_REM,
    F_BAND, F_BOR, F_BXOR, F_BNOT, F_BSL, F_BSR, F_GT, F_GE, F_LT, F_LE, F_EXEQ, F_EQ,
    F_EXNE, F_NE, F_NOT, F_XOR,
    /* OTP 26 */
    F_IS_BOOLEAN, F_IS_BITSTRING, F_IS_FUNCTION2, F_TUPLE_SIZE, F_CEIL, F_FLOOR, F_MIN, F_MAX,
    F_COUNT
};

struct ms_fninfo {
    const char *name;
    unsigned arity;
    unsigned trace_only;    /* known to ERTS, refused in the table dialect */
};
/* By enum ms_fn, then the trace-only entries up to ms_fn_table_len. */
extern const struct ms_fninfo ms_fn_table[];
extern const size_t ms_fn_table_len;

/* ---- little-endian fields ---- */
static inline uint32_t ms_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void ms_put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

/* ---- canonical terms, read (they are trusted: made by term_codec.c or checked) ---- */
static inline int ms_is_tuple(const unsigned char *p) { return p[0] == ETF_SMALL_TUPLE || p[0] == ETF_LARGE_TUPLE; }
static inline uint32_t ms_tuple_arity(const unsigned char *p) { return p[0] == ETF_SMALL_TUPLE ? p[1] : get_be32(p + 1); }
static inline const unsigned char *ms_tuple_first(const unsigned char *p) { return p + (p[0] == ETF_SMALL_TUPLE ? 2 : 5); }
static inline int ms_is_atom(const unsigned char *p) { return p[0] == ETF_SMALL_ATOM_UTF8 || p[0] == ETF_ATOM_UTF8; }
static inline int ms_is_cons(const unsigned char *p) { return p[0] == ETF_LIST || p[0] == ETF_STRING; }
static inline int ms_atom_is(const unsigned char *p, const char *s)
{
    size_t n, m = strlen(s);
    if (!ms_is_atom(p))
        return 0;
    const char *t = term_atom_text(p, &n);
    return n == m && memcmp(t, s, n) == 0;
}
/* '$N' as ERTS reads it (db_is_variable): digits without a leading zero (but '$0'), the number
 * computed in 32-bit arithmetic that wraps; a negative result is no variable.  Returns N or -1. */
int ms_var_number(const unsigned char *p);
/* Is the subterm free of '$N' variables and '_' (maps included)? */
int ms_is_ground(const unsigned char *p);

extern const unsigned char ms_nil[1];

/* ---- compiling (ms_compile.c) ---- */

/* Error messages of a specification, as ERTS's lint gives them: NUL-separated strings of at
 * most MS_ERR_LEN bytes each (bytes, as ERTS's: an atom's UTF-8 is not recoded). */
struct ms_errors {
    struct tbuf text;
    size_t n;
};

/*
 * Validate and compile a canonical specification.  Returns 0 with *prog (malloc'd) and *len,
 * or -SHMETS_EINVAL with errs filled (when errs is not NULL) and the first message in the
 * thread's error detail, or -SHMETS_ENOMEM / -SHMETS_ETOOBIG.
 */
int ms_compile(const unsigned char *spec, size_t spec_len, unsigned char **prog, size_t *len,
               struct ms_errors *errs);
void ms_errors_init(struct ms_errors *e);
void ms_errors_free(struct ms_errors *e);

/* Print a term as ERTS's %T does in its messages (erts_printf), at most `max` bytes. */
void ms_fmt_term(struct tbuf *out, const unsigned char *t, size_t max);

/* ---- checking foreign programs (ms_verify.c) ---- */

/* 0 if bytes[0..len) is a program the runner can trust, else -SHMETS_EINVAL with a detail. */
int ms_verify(const unsigned char *bytes, size_t len);

/* ---- running (ms_run.c) ---- */

/* A value: a canonical term at p (len 0: not yet known), or the tail of the list at p after
 * `skip` elements, made canonical only when needed. */
struct ms_val {
    const unsigned char *p;
    size_t len;
    uint32_t skip;
    int tail;
};

struct ms_chunk;

/* What a run needs besides the program: one per thread, reused from object to object. */
struct ms_run {
    struct ms_val *vars, *stack;
    size_t nvars_cap, stack_cap;
    struct ms_chunk *chunks;    /* the arena: results and temporaries of one object */
    size_t arena_used;
    const unsigned char *obj, *obj_end;
    unsigned char self[32];
    size_t self_len;
    pid_t self_pid;
};

/* ms_arena.c: a run's memory. */
void ms_run_init(struct ms_run *r);
void ms_run_free(struct ms_run *r);
/* Empty the arena for the next object (all: free every chunk; else keep one small chunk). */
void ms_arena_reset(struct ms_run *r, int all);

/*
 * Run a (trusted) program against one canonical object.  Returns 1 with *result a view of the
 * result (valid until the next ms_exec with r, and while the object and program live), 0 if
 * no clause matched, or -SHMETS_ETOOBIG (the results of one object would pass
 * SHMETS_TERM_MAX_SIZE) / -SHMETS_ENOMEM.
 */
int ms_exec(const unsigned char *prog, struct ms_run *r, const unsigned char *obj, size_t obj_len,
            shmets_term *result);

/* Memory for one object's results (ms_arena.c); NULL with *err set past the limit. */
unsigned char *ms_alloc(struct ms_run *r, size_t n, int *err);
/* A value's canonical bytes (a list tail is made in the arena); NULL with *err on failure. */
const unsigned char *ms_val_bytes(struct ms_run *r, struct ms_val *v, size_t *len, int *err);

/* Guard functions (ms_bif.c): 0 with *out set, 1 if the function raises (badarg, badarith,
 * system_limit, ...), or a negative SHMETS_E code. */
int ms_call(struct ms_run *r, enum ms_fn f, struct ms_val *args, struct ms_val *out);

/* Canonical constructors shared by the compiler and the runner (ms_build.c).  Parts are
 * canonical terms; the result is written to dst, which has room for the size the *_size
 * function gave. */
struct ms_part { const unsigned char *p; size_t len; };
size_t ms_tuple_size(const struct ms_part *el, size_t n);
void ms_tuple_write(unsigned char *dst, const struct ms_part *el, size_t n);
/* A list of n elements and a tail (a tail that is a list is spliced in: [a | [b]] is [a, b]). */
size_t ms_list_size(const struct ms_part *el, size_t n, struct ms_part tail);
void ms_list_write(unsigned char *dst, const struct ms_part *el, size_t n, struct ms_part tail);
/* A map from n pairs in order (keys k[i], values v[i]); a later equal key wins.  Sorts
 * order[] (n indexes, caller's scratch) and returns the size. */
size_t ms_map_size(const struct ms_part *k, const struct ms_part *v, size_t n, size_t *order, size_t *npairs);
void ms_map_write(unsigned char *dst, const struct ms_part *k, const struct ms_part *v, const size_t *order, size_t npairs);

/* ---- key analysis (ms_key.c) ---- */

/* The kind of key a clause's head gives at keypos (enum shmets_ms_keykind), and the key term
 * (BOUND) or key pattern (PARTIAL) as a view into the program. */
int ms_clause_key(const unsigned char *prog, uint32_t clause, unsigned keypos, shmets_term *key);
/* Compare a key pattern with a key in term order (==): -1 / +1 when every key the pattern can
 * match is smaller / greater than key, 0 when the pattern's bound part cannot decide. */
int ms_pattern_cmp(const unsigned char *pattern, const unsigned char *key);
/* The length of the pattern's bytes before its first hole, when a key whose encoding starts
 * with them is inside its interval (ms_pattern_cmp 0) for that reason alone: every container
 * on the way a tuple, every element before the hole ground.  0: no such bytes (a key is then
 * placed by ms_pattern_cmp only).  {B, '_'} gives B's tuple header and B. */
size_t ms_pattern_prefix(const unsigned char *pattern);

/* Does every clause keep the key at keypos (what ets:select_replace/2 requires)? 1 or 0. */
int ms_keeps_key(const unsigned char *prog, unsigned keypos);

static inline uint32_t ms_nclauses(const unsigned char *prog) { return ms_le32(prog + MS_H_NCLAUSES); }
static inline const unsigned char *ms_pool(const unsigned char *prog) { return prog + ms_le32(prog + MS_H_POOL); }

#endif
