/*
 * shmets.h — Erlang ETS tables for Linux processes, in POSIX shared memory.
 *
 * OVERVIEW
 * ========
 * shmets gives C programs on one host what ETS gives Erlang processes: tables of terms
 * (set, ordered_set, bag, duplicate_bag) that any number of OS processes share.  Objects are
 * Erlang terms, exchanged in Erlang's External Term Format (ETF, the bytes of
 * erlang:term_to_binary/1), so every Erlang or Elixir system reads and writes them.
 *
 * This header is the manual.  It is in parts:
 *
 *   1. Errors          — one convention for every call: 0 or a negative SHMETS_E... code.
 *   2. Terms           — validated, canonical ETF values; how to make, read and compare them.
 *   3. The builder     — making terms from C values.
 *   4. Accessors       — reading C values out of terms.
 *   5. Text            — Erlang term syntax in ({a, "b", <<"c">>}), ~w-style text out.
 *   6. Instances and tables — shared tables: the ETS table API, zero-copy and batched reads.
 *   7. Match specifications — compile, test and run them (ets:test_ms, match_spec_run).
 *   8. Table files     — tab2file, file2tab, tabfile_info; counters for `shmets top`.
 *
 * TERMS IN ONE PARAGRAPH
 * ----------------------
 * A shmets_term is a view: a pointer and a length naming one *canonical* ETF encoding
 * (without the leading version byte 131).  Every term that enters the library — from ETF bytes,
 * from text, from the builder — is validated (bounds, nesting depth, sizes, UTF-8) and rewritten
 * into the one canonical encoding of its value, the encoding erlang:term_to_binary(T,
 * [{minor_version,2}]) gives for map-free terms.  Hence two terms are exactly equal (=:=) if and
 * only if their bytes are equal, and a hash of the bytes is a hash of the value.  Terms made by
 * shmets_term_from_etf(), shmets_term_parse() or shmets_builder_finish() own their bytes (free
 * them with shmets_term_free()); terms handed out by accessors point into a parent term and live
 * as long as it does.  A shmets_term whose bytes did not come from this library is not a term:
 * pass foreign bytes through shmets_term_from_etf() first.
 *
 * CAVEATS
 * -------
 * - Limits.  A term may nest SHMETS_TERM_MAX_DEPTH containers deep (lists count one level for
 *   their elements, none for their tails, so long lists are fine), its canonical encoding may be
 *   SHMETS_TERM_MAX_SIZE bytes, and an integer may have SHMETS_BIG_MAX_BYTES bytes of magnitude.
 *   Larger input is refused with SHMETS_ETOODEEP or SHMETS_ETOOBIG, never truncated.
 * - 0.0 and -0.0 are different terms (=:= is false, == is true), as in OTP 27 and later;
 *   OTP 25 and 26 treat them as =:=.
 * - Maps: canonical maps list their keys in Erlang's map-key order (the order maps:to_list/1
 *   gives for maps of up to 32 keys).  For larger maps Erlang's own encoding uses hash order, so
 *   shmets' bytes differ from term_to_binary's while denoting the same (=:=) map.  Comparison of
 *   two maps follows the manual's rule (size, then keys in order, then values) for every size.
 * - Pids, references, ports and funs are opaque: validated and canonicalised, compared as OTP
 *   compares them, but not interpreted.  The text form <0.N.0> denotes a pid of node
 *   nonode@nohost with number N; shmets uses it for OS process N.  Erlang nodes that are not
 *   distributed refuse to decode such pids with N >= 32768 (OTP 25); distributed nodes accept
 *   them.
 * - Text output prints pids, ports and references of other nodes with node number 1, as lossy as
 *   Erlang's own ~w.
 *
 * THREAD AND PROCESS SAFETY
 * -------------------------
 * Every function in this part is reentrant: it touches only its arguments and thread-local
 * error detail.  A shmets_builder must not be used by two threads at once.
 */
#ifndef SHMETS_H
#define SHMETS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ====================================================================================== */
/* 1. Errors                                                                              */
/* ====================================================================================== */

/*
 * Every call returns 0 on success or one of these codes, negated.  shmets_strerror() turns a
 * code into words; shmets_errdetail() adds what the last failing call in this thread knew
 * (the byte offset of a bad tag, the line and column of a syntax error, ...).
 */
enum shmets_error {
    SHMETS_OK = 0,
    SHMETS_EINVAL,      /* an argument is invalid (NULL pointer, bad flag, ...) */
    SHMETS_ENOMEM,      /* out of memory */
    SHMETS_EBADTERM,    /* malformed External Term Format input */
    SHMETS_ETOODEEP,    /* term nests deeper than SHMETS_TERM_MAX_DEPTH */
    SHMETS_ETOOBIG,     /* term, atom or integer larger than its limit */
    SHMETS_ESYNTAX,     /* term text does not parse */
    SHMETS_ETYPE,       /* the term is not of the type the call needs */
    SHMETS_ERANGE,      /* the value does not fit the C type asked for */
    SHMETS_EBADPOS,     /* position out of range (tuple element, keypos) */
    SHMETS_EBUILD,      /* builder misuse: term incomplete, or more terms than announced */
    SHMETS_EEXIST,      /* a segment or table of that name exists already */
    SHMETS_ENOENT,      /* no segment or table of that name */
    SHMETS_EACCES,      /* the kernel refused access (file mode, uid) */
    SHMETS_EBADSEG,     /* not a shmets segment, or a damaged one */
    SHMETS_EVERSION,    /* a segment of another layout version or library ABI */
    SHMETS_ESYS,        /* an unexpected system call failure; the detail names it */
    SHMETS_EAGAIN,      /* a shared resource is exhausted for now (reader slots); retry later */
    SHMETS_EOWNER,      /* the table's protection allows this only to its owner */
    SHMETS_ENOKEY,      /* the key is not in the table (where ETS raises badarg for it) */
    SHMETS_EBADFILE,    /* not a shmets table file, or a truncated or damaged one (part 8) */
    SHMETS_ECOUNT       /* number of codes; not an error */
};

/* Words for a code (positive or negative).  Never NULL; unknown codes get "unknown error". */
const char *shmets_strerror(int err);

/* Detail of the last error in this thread, or "" if the last failing call left none.
 * The string lives until the next failing call in the same thread. */
const char *shmets_errdetail(void);

/* ====================================================================================== */
/* 2. Terms                                                                               */
/* ====================================================================================== */

#define SHMETS_TERM_MAX_DEPTH 1000              /* containers inside containers */
#define SHMETS_TERM_MAX_SIZE  (64u << 20)       /* bytes of one canonical encoding */
#define SHMETS_BIG_MAX_BYTES  65536u            /* bytes of one integer's magnitude */
#define SHMETS_ATOM_MAX_CHARS 255               /* characters of one atom (Erlang's limit) */

/* A view of one canonical term encoding (no leading 131).  See OVERVIEW. */
typedef struct shmets_term {
    const unsigned char *ptr;
    size_t len;
} shmets_term;

/* Types, listed in Erlang's term order: number < atom < reference < fun < port < pid < tuple
 * < map < [] < list < bitstring.  Integers and floats are both numbers in that order. */
enum shmets_type {
    SHMETS_T_INTEGER = 1,
    SHMETS_T_FLOAT,
    SHMETS_T_ATOM,
    SHMETS_T_REF,
    SHMETS_T_FUN,
    SHMETS_T_PORT,
    SHMETS_T_PID,
    SHMETS_T_TUPLE,
    SHMETS_T_MAP,
    SHMETS_T_NIL,
    SHMETS_T_LIST,      /* a non-empty list, proper or improper */
    SHMETS_T_BINARY     /* a binary or bitstring */
};

/* Flags for shmets_term_from_etf(). */
#define SHMETS_ETF_NO_VERSION 0x1u  /* input has no leading 131 version byte */

/*
 * Validate ETF input and make it a canonical term.
 *   buf, len  the encoding: 131 then one term (or just the term with SHMETS_ETF_NO_VERSION);
 *             the whole buffer must be consumed.  A compressed encoding (131, 80, ...) is
 *             accepted and inflated.
 *   out       receives a term that owns its bytes; free it with shmets_term_free().
 * Accepts every tag that can denote a storable term: integers of every size, both float
 * encodings, atoms in Latin-1 and UTF-8, tuples, lists (including improper ones and the string
 * form), binaries and bitstrings, maps, pids, ports, references, funs and exports.  Refuses tags
 * that only make sense inside the distribution protocol (atom cache references,
 * LOCAL_EXT) and the FUN_EXT removed in OTP 23.
 * Returns 0, or -SHMETS_EINVAL (NULL argument), -SHMETS_EBADTERM (malformed: unknown tag, length
 * past the end, trailing bytes, invalid UTF-8 atom, NaN or infinite float, duplicate map key,
 * ...), -SHMETS_ETOODEEP, -SHMETS_ETOOBIG, -SHMETS_ENOMEM.  On error *out is {NULL, 0}.
 */
int shmets_term_from_etf(const void *buf, size_t len, unsigned flags, shmets_term *out);

/* Copy a term into a malloc'd buffer with the leading 131: the bytes binary_to_term/1 reads.
 * Free *buf with free().  Returns 0, -SHMETS_EINVAL or -SHMETS_ENOMEM. */
int shmets_term_to_etf(shmets_term t, unsigned char **buf, size_t *len);

/* Copy a term into memory of its own (for a view into a parent or into a table).
 * Returns 0, -SHMETS_EINVAL or -SHMETS_ENOMEM. */
int shmets_term_dup(shmets_term t, shmets_term *out);

/* Free a term made by this library (from_etf, parse, dup, builder_finish).  Accepts {NULL,0}.
 * Sets *t to {NULL, 0}.  Never call it on a view handed out by an accessor. */
void shmets_term_free(shmets_term *t);

/* The type of a term. */
enum shmets_type shmets_term_type(shmets_term t);

/*
 * Erlang's term order, with == as its equality: returns <0, 0 or >0 as a < b, a == b, a > b.
 * Integers and floats compare by value (1 == 1.0, and a float compares exactly with any
 * integer).  This is the order of ordered_set keys.
 */
int shmets_term_compare(shmets_term a, shmets_term b);

/* a == b: shmets_term_compare(a, b) == 0. */
bool shmets_term_equal(shmets_term a, shmets_term b);

/* a =:= b: the same term (1 =/= 1.0).  The equality of set, bag and duplicate_bag keys.
 * Because terms are canonical this is a byte comparison. */
bool shmets_term_exact_equal(shmets_term a, shmets_term b);

/*
 * A total order consistent with =:=: Erlang's map-key order, in which every integer sorts
 * before every float and -0.0 before 0.0; otherwise as shmets_term_compare().
 */
int shmets_term_compare_exact(shmets_term a, shmets_term b);

/* A 64-bit hash of the term's canonical bytes (XXH3), keyed by seed: equal terms (=:=) hash
 * equally for equal seeds.  Tables use a random seed each, against hash flooding. */
uint64_t shmets_term_hash(shmets_term t, uint64_t seed);

/*
 * The key of an object for {keypos, Pos}: element Pos (1-based) of tuple obj, as a view into
 * obj.  Returns 0, -SHMETS_ETYPE (obj is not a tuple) or -SHMETS_EBADPOS (Pos is 0 or past the
 * tuple's arity) — the cases where ets:insert/2 raises badarg.
 */
int shmets_term_key(shmets_term obj, unsigned pos, shmets_term *key);

/* ====================================================================================== */
/* 3. The builder                                                                         */
/* ====================================================================================== */

/*
 * A builder makes one term from C values, in prefix order: announce a container with its size,
 * then give its parts.  For example {rufsen, dog, 7}:
 *
 *     shmets_builder *b;  shmets_term t;
 *     shmets_builder_create(&b);
 *     shmets_build_tuple(b, 3);
 *     shmets_build_atom(b, "rufsen", 6);
 *     shmets_build_atom(b, "dog", 3);
 *     shmets_build_int(b, 7);
 *     if (shmets_builder_finish(b, &t) == 0) { ...; shmets_term_free(&t); }
 *     shmets_builder_destroy(b);
 *
 * Errors are sticky: every build call returns the first error met so far (0 if none) and,
 * after an error, does nothing; shmets_builder_finish() reports it, so a caller may check only
 * there.  Finish validates and canonicalises the whole term and resets the builder for reuse.
 * Build calls return 0, -SHMETS_EINVAL (bad argument: NULL text with a length, a float that is
 * NaN or infinite, bits not in 1..7, ...), -SHMETS_ETOOBIG, -SHMETS_ENOMEM or -SHMETS_EBUILD (a
 * part given after the term was complete).
 */
typedef struct shmets_builder shmets_builder;

int  shmets_builder_create(shmets_builder **b);
void shmets_builder_destroy(shmets_builder *b);

/* Finish: the term must be complete (else -SHMETS_EBUILD, naming what is missing).
 * *out owns its bytes.  The builder is empty again afterwards, whatever the result. */
int  shmets_builder_finish(shmets_builder *b, shmets_term *out);

/* Finish without a copy: as shmets_builder_finish, but *out is a view of the builder's own
 * memory (do not free it), valid until the next call on this builder (a build call, finish,
 * view or destroy) — long enough to insert it, or to look it up, with no allocation for a
 * term of integers, floats, atoms, binaries and tuples.  Errors as shmets_builder_finish;
 * the builder is empty again afterwards, whatever the result. */
int  shmets_builder_view(shmets_builder *b, shmets_term *out);

int shmets_build_int(shmets_builder *b, int64_t v);
int shmets_build_uint(shmets_builder *b, uint64_t v);
/* An integer of any size: sign (0 for >= 0, 1 for < 0) and magnitude, little-endian bytes. */
int shmets_build_bigint(shmets_builder *b, int negative, const void *mag_le, size_t n);
int shmets_build_float(shmets_builder *b, double v);
/* An atom from UTF-8 text (at most SHMETS_ATOM_MAX_CHARS characters). */
int shmets_build_atom(shmets_builder *b, const char *utf8, size_t len);
int shmets_build_binary(shmets_builder *b, const void *bytes, size_t len);
/* A bitstring of nbytes bytes whose last byte holds only its `bits` high bits (1..7). */
int shmets_build_bitstring(shmets_builder *b, const void *bytes, size_t nbytes, unsigned bits);
/* Containers: give `arity` elements next. */
int shmets_build_tuple(shmets_builder *b, size_t arity);
/* A list: give n elements, then its tail (shmets_build_nil() for a proper list). n >= 1. */
int shmets_build_list(shmets_builder *b, size_t n);
int shmets_build_nil(shmets_builder *b);
/* A proper list of the code points of UTF-8 text, as Erlang's "..." denotes ([] if empty). */
int shmets_build_string(shmets_builder *b, const char *utf8, size_t len);
/* A map: give 2*npairs terms next, key then value.  Duplicate keys make finish fail. */
int shmets_build_map(shmets_builder *b, size_t npairs);
/* The pid written <0.N.0>: OS process N. */
int shmets_build_pid(shmets_builder *b, uint32_t ospid);
/* Any term, copied in. */
int shmets_build_term(shmets_builder *b, shmets_term t);

/* ====================================================================================== */
/* 4. Accessors                                                                           */
/* ====================================================================================== */

/*
 * Each returns 0, -SHMETS_ETYPE when the term is of another type, or as noted.  Views handed
 * out point into t and live as long as t's bytes do.
 */

/* An integer as int64_t: -SHMETS_ERANGE if it does not fit. */
int shmets_term_get_int64(shmets_term t, int64_t *v);
/* A non-negative integer as uint64_t: -SHMETS_ERANGE if negative or too large. */
int shmets_term_get_uint64(shmets_term t, uint64_t *v);
int shmets_term_get_double(shmets_term t, double *v);
/* An atom's text, UTF-8, not NUL-terminated. */
int shmets_term_get_atom(shmets_term t, const char **utf8, size_t *len);
/* A binary's bytes: -SHMETS_ETYPE also for a bitstring whose size is not whole bytes. */
int shmets_term_get_binary(shmets_term t, const void **bytes, size_t *len);
/* Any bitstring: its bytes, and the number of valid high bits of the last byte (8 if whole). */
int shmets_term_get_bitstring(shmets_term t, const void **bytes, size_t *nbytes, unsigned *bits);
/* A pid's number (for <0.N.0>, the OS pid N), serial and node (as an atom view). */
int shmets_term_get_pid(shmets_term t, uint32_t *number, uint32_t *serial, shmets_term *node);

int shmets_term_tuple_arity(shmets_term t, size_t *arity);
/* Element i of a tuple, 1-based as erlang:element/2: -SHMETS_EBADPOS if i is 0 or > arity. */
int shmets_term_tuple_element(shmets_term t, size_t i, shmets_term *el);

/*
 * Walking a list.  shmets_list_begin() accepts [] and non-empty lists; each
 * shmets_list_next() yields the next element and returns 1, or returns 0 at the end of the
 * list, with it->tail set to the tail ([] for a proper list).  An element view is valid until
 * the next call on the same iterator (elements of the compact string form are made in the
 * iterator's own buffer).
 */
typedef struct shmets_list_iter {
    shmets_term tail;               /* after the walk: the list's tail */
    /* private */
    const unsigned char *p, *end;
    size_t left;
    int is_string;
    unsigned char tmp[2];
} shmets_list_iter;

int shmets_list_begin(shmets_term list, shmets_list_iter *it);
int shmets_list_next(shmets_list_iter *it, shmets_term *el);
/* Number of elements of a proper list; -SHMETS_ETYPE for an improper one. */
int shmets_term_list_length(shmets_term t, size_t *len);

/* Walking a map, in key order: 1 with *key and *value set, 0 at the end. */
typedef struct shmets_map_iter {
    const unsigned char *p;
    size_t left;
} shmets_map_iter;

int shmets_map_begin(shmets_term map, shmets_map_iter *it, size_t *size);
int shmets_map_next(shmets_map_iter *it, shmets_term *key, shmets_term *value);

/* ====================================================================================== */
/* 5. Text                                                                                */
/* ====================================================================================== */

/*
 * Parse one term written in Erlang syntax, optionally followed by a full stop:
 *   atoms (rufsen, 'quoted atom'), integers (-7, 16#ff, 1_000, $a), floats (-1.5e3),
 *   strings ("str", a list of code points), binaries (<<"bin">>, <<1,2,3>>, <<"é"/utf8>>,
 *   <<5:3>>), tuples, lists ([1,2|3]), maps (#{a => 1}, later keys win as in Erlang), pids
 *   (<0.N.0> and <0.N.S>), references (#Ref<0.A.B.C>) and ports (#Port<0.N>).
 * Comments (% to end of line) and white space are skipped.  Variables, operators and
 * expressions are not terms and are refused.
 * Returns 0, -SHMETS_ESYNTAX (with line and column in shmets_errdetail()), -SHMETS_ETOODEEP,
 * -SHMETS_ETOOBIG, -SHMETS_EINVAL or -SHMETS_ENOMEM.  *out owns its bytes.
 */
int shmets_term_parse(const char *text, size_t len, shmets_term *out);

/*
 * Write a term as io_lib:format("~w", [T]) does (UTF-8 out), into a malloc'd NUL-terminated
 * string; free it with free().  *len (if not NULL) gets its length.  Erlang parses the text of
 * any term but pids, ports, references and funs of other nodes back to the same term.
 * Returns 0, -SHMETS_EINVAL or -SHMETS_ENOMEM.
 */
int shmets_term_format(shmets_term t, char **text, size_t *len);

/* ====================================================================================== */
/* 6. Instances and tables                                                                */
/* ====================================================================================== */

/*
 * An INSTANCE is a namespace of tables on the host (etsmgr's Inst_name): one control segment,
 * /dev/shm/shmets.<instance>, holding the catalog of tables and the registry of readers, and
 * one segment per table, /dev/shm/shmets.<instance>.<id>.  A process opens an instance once
 * (shmets_open) and shares the handle among its threads.
 *
 * A TABLE has a kind (set, ordered_set, bag, duplicate_bag), a
 * protection, a key position, an owner (the OS process that made it, identified by pid and
 * incarnation so that a reused pid is never taken for it) and a name.  As in ETS, a name
 * finds a table only if it was made with `named`.  Every process that attaches a table gets
 * a handle (shmets_tab) of its own.
 *
 * PROTECTION, as in ETS, with the kernel's help:
 *   public     every process of the instance reads and writes.  The segment is mode 0644,
 *              but processes of other uids cannot use the table: opening the instance
 *              needs write access to its control segment (the readers' registry), which
 *              only the uid that made it has (their shmets_open is -SHMETS_EACCES) — unless
 *              the instance was made for a group (shmets_open_ex below): then 0660.
 *   protected  only the owner writes.  Other processes map the segment read-only, so a
 *              stray store faults in that process instead of corrupting the table (0644;
 *              0640 in an instance shared with a group).
 *   private    only the owner reads or writes; the segment is mode 0600, and the library
 *              refuses other processes of the same uid.
 * Between processes of one uid the owner rule is enforced by the library (a process of the
 * same uid could open the segment itself); between uids by the kernel: no segment opens for
 * writing to another uid, a store through a read-only mapping faults, and /dev/shm's sticky
 * bit keeps others from removing segments.  A process never attaches for writing a segment
 * that another uid than its own or root's owns (a name squatted in /dev/shm: -SHMETS_EACCES).
 *
 * READS never lock and never write into the table: a lookup costs a bucket line and the
 * object.  WRITES take the table's writer lock, a robust process-shared mutex.  A writer that
 * dies at any point, even in the middle of a write, leaves the table for the next writer (or
 * shmets_check) to repair before it does anything else: an intent record is replayed,
 * memory nobody reaches is reclaimed, counts are recomputed.  A write that returned 0 is
 * never lost; a write that had not returned is either whole or absent.
 *
 * CAVEATS
 * - A handle and the memory behind the terms a lookup returns are process-local; fork() a
 *   child and let it shmets_open() again.
 * - Memory a write replaces is reclaimed once no reader can hold it (epoch-based RCU across
 *   processes).  A reader killed inside a lookup holds nothing: its slot is cleared when a
 *   writer finds it dead.
 * - The select family of table calls (shmets_select, _count, _delete, _replace, the chunked
 *   shmets_select_limit and _continue; match, match_object and match_delete through
 *   shmets_ms_from_pattern) is in part 7, with the specifications they take.  give_away, managed tables and the heir's transfer
 *   when an owner dies are etsmgr's, in <etsmgr.h>.  write_concurrency stripes the writer
 *   lock of hash tables only; an ordered_set accepts the option and has one writer lock.
 */

typedef struct shmets shmets;
typedef struct tab shmets_tab;

enum shmets_kind { SHMETS_SET = 1, SHMETS_ORDERED_SET, SHMETS_BAG, SHMETS_DUPLICATE_BAG };
enum shmets_access { SHMETS_PUBLIC = 1, SHMETS_PROTECTED, SHMETS_PRIVATE };

/* Options of a new table; start from shmets_opts_init(). */
typedef struct shmets_opts {
    enum shmets_kind kind;          /* SHMETS_SET */
    enum shmets_access access;      /* SHMETS_PROTECTED, as in ETS */
    unsigned keypos;                /* 1 */
    bool named;                     /* false: the name does not find the table */
    bool read_concurrency;          /* accepted; readers never lock anyway (private tables
                                       ignore this and write_concurrency, as ETS does) */
    bool write_concurrency;         /* eight writer locks by key hash instead of one: writers
                                       of different keys proceed in parallel; a write of
                                       several keys still takes them all */
    uint64_t max_bytes;             /* the segment's reservation: the most the table can use;
                                       0: 4 GiB.  Between 1 MiB and 8 TiB. */
    uint64_t max_object_bytes;      /* the largest object; 0: 64 MiB */
    int decentralized_counters;     /* -1 (shmets_opts_init): as ETS, true for an ordered_set
                                       with write_concurrency; 0 or 1 as given.  Reported by
                                       info only: shmets's counters never contend. */
    bool compressed;                /* store objects LZ4-compressed but for the key (those
                                       it makes smaller); the view calls then refuse */
    uint32_t heir_pid;              /* {heir, Pid, Data}: OS pid; 0: {heir, none} */
    shmets_term heir_data;          /* Data (copied); {NULL, 0}: [] */
} shmets_opts;

void shmets_opts_init(shmets_opts *o);
/* The option list ets:new/2 takes, as a term ([bag, public, named_table, {keypos, 2},
 * {heir, Pid, Data}, ...]), into *o (shmets_opts_init first; the heir's data is a view into
 * list).  As ETS, `set` and `protected`, the defaults, never override an earlier choice.
 * Returns 0 or -SHMETS_ETYPE (not a proper list, or a bad option, named in the detail). */
int shmets_opts_from_term(shmets_term list, shmets_opts *o);

/*
 * Open an instance, creating its control segment if it does not exist.
 *   instance  1 to 64 of [A-Za-z0-9_.-]; NULL means "default".
 * As shmets_open_ex with options from the environment: SHMETS_GROUP, if set and not empty,
 * is the group (see INSTANCES SHARED BETWEEN USERS below).
 * Returns 0, -SHMETS_EINVAL, -SHMETS_EACCES, -SHMETS_EBADSEG, -SHMETS_EVERSION (a control
 * segment of another layout), -SHMETS_ENOMEM, -SHMETS_ESYS.  Thread-safe handle.
 */
int shmets_open(const char *instance, shmets **db);

/*
 * INSTANCES SHARED BETWEEN USERS (issue 17).  An instance made for a GROUP is shared by the
 * processes of every uid in that group, with the kernel keeping each table's protection:
 *   - its control segment is mode 0660 in the group (members register as readers there);
 *   - each table segment belongs to its owner's uid and to the group, mode by protection:
 *     public 0660 (members read and write), protected 0640 (members map it read-only: the
 *     kernel refuses them a read-write open, and a stray store faults), private 0600;
 *   - a member may read protected and public tables and write public ones; it may not write
 *     a protected table, read a private one, delete or rename a table whose segment another
 *     uid owns (-SHMETS_EOWNER), nor take one over through etsmgr (run it with --group).
 * Every segment is made owner-only, given to the group (fchown), then given its mode; the
 * creator must be in the group.  An instance made without a group keeps the modes of
 * PROTECTION below, and only its uid can open it.  The group is chosen when the instance is
 * made: opening an existing instance with a group it was not made for is -SHMETS_EACCES.
 * A process that names the group trusts its members: they can write the control segment (the
 * readers' registry and the catalog), so a hostile member can stall reclamation, take every
 * free reader slot, or rewrite catalog entries (hide, rename or misattribute tables in it) —
 * the trust LMDB puts in the readers of its lock file.  It cannot write a protected table's
 * memory or read a private one: the README's Reliability section has the model and its limits.
 */
typedef struct shmets_open_opts {
    const char *group;              /* A group name, or a decimal gid: the instance is (made)
                                       shared with it.  NULL: none named — a new instance gets
                                       no group (today's modes); an existing one stays as it
                                       was made, and only the uid that made it opens it
                                       without naming its group */
} shmets_open_opts;

/* Options for shmets_open_ex: no group (the environment is not read). */
void shmets_open_opts_init(shmets_open_opts *o);

/*
 * shmets_open with options (NULL: as shmets_open_opts_init; SHMETS_GROUP is not read).
 * Returns 0, -SHMETS_EINVAL (bad name, or no such group), -SHMETS_EACCES (the instance belongs
 * to another uid and not to the group named; it was made for another group, or without one;
 * a new instance cannot be given to a group this process is not in), -SHMETS_EBADSEG,
 * -SHMETS_EVERSION, -SHMETS_ENOMEM, -SHMETS_ESYS.  Thread-safe handle.
 */
int shmets_open_ex(const char *instance, const shmets_open_opts *opts, shmets **db);

/* Close an instance: detaches every table handle still open through it. */
void shmets_close(shmets *db);
/* Remove an instance: every table segment it lists and its control segment (tools, tests).
 * Processes that have them mapped keep their mappings.  Returns 0 or -SHMETS_ENOENT. */
int shmets_destroy_instance(const char *instance);

/*
 * ets:new/2.  Makes a table owned by the calling process and attaches it.
 *   name  the table's name (an atom's text, UTF-8, at most 1020 bytes).
 * Returns 0, -SHMETS_EINVAL (bad option: kind, access, keypos 0, sizes), -SHMETS_EEXIST (a
 * named table of that name exists), -SHMETS_ENOMEM (no room in /dev/shm, address space, or
 * the instance's catalog), -SHMETS_ESYS.
 */
int shmets_new(shmets *db, const char *name, const shmets_opts *opts, shmets_tab **t);

/* Attach a table by id, or by name if it was made named (ets:whereis/1, then a handle).
 * Returns 0, -SHMETS_ENOENT (no such table), -SHMETS_EOWNER (a private table of another
 * process), -SHMETS_EACCES, -SHMETS_EBADSEG, -SHMETS_EVERSION, -SHMETS_ENOMEM. */
int shmets_attach(shmets *db, uint64_t id, shmets_tab **t);
int shmets_attach_name(shmets *db, const char *name, shmets_tab **t);
/* Release a handle (the table stays). */
void shmets_detach(shmets_tab *t);
/* The table's id: stable for its life, never reused in an instance. */
uint64_t shmets_id(const shmets_tab *t);

/* ets:delete/1: delete the table and release the handle.  Every other handle on it then gets
 * -SHMETS_ENOENT.  Returns 0, -SHMETS_EOWNER (not public and not the owner; or a public table
 * whose segment another uid owns, in an instance shared with a group), -SHMETS_ENOENT. */
int shmets_delete(shmets_tab *t);

/*
 * ets:insert/2 and ets:insert_new/2.  `objects` is one tuple or a proper list of tuples, each
 * with at least keypos elements.  A list is inserted atomically and in isolation: readers see
 * all of it or none of it.  A set keeps one object a key (the last given); a bag keeps distinct
 * objects of a key in insertion order; a duplicate_bag keeps them all.
 * Returns 0, -SHMETS_ETYPE (not a tuple or a list of them), -SHMETS_EBADPOS (a tuple shorter
 * than keypos), -SHMETS_EOWNER, -SHMETS_ENOENT (table deleted), -SHMETS_ETOOBIG (an object
 * larger than the table's max_object_bytes), -SHMETS_ENOMEM (the table is at its max_bytes,
 * or /dev/shm is full: nothing was inserted), -SHMETS_EBADSEG (the table is damaged beyond
 * repair), -SHMETS_ESYS.
 */
int shmets_insert(shmets_tab *t, shmets_term objects);
/* As insert, but only if no key of `objects` is in the table: *inserted is 1 if the objects
 * were inserted, 0 if a key existed (nothing was inserted). */
int shmets_insert_new(shmets_tab *t, shmets_term objects, int *inserted);

/*
 * ets:lookup/2: *objects receives a list term (owning its bytes; free with shmets_term_free)
 * of the objects with this key, [] if none; a bag's in insertion order.
 * Returns 0, -SHMETS_EOWNER (private table of another process), -SHMETS_ENOENT, -SHMETS_ENOMEM,
 * -SHMETS_EAGAIN (no reader slot free).  Lock-free; thread-safe.
 */
int shmets_lookup(shmets_tab *t, shmets_term key, shmets_term *objects);
/* ets:member/2: *found is 1 or 0.  Errors as shmets_lookup. */
int shmets_member(shmets_tab *t, shmets_term key, int *found);
/* ets:delete/2: delete every object with this key (none is not an error).  Errors as insert. */
int shmets_delete_key(shmets_tab *t, shmets_term key);

/* ets:info(T, size): objects in the table. */
int shmets_size(shmets_tab *t, uint64_t *objects);

/* ets:info(T, memory), in bytes: what the table's heap uses (objects, index, memory waiting
 * for readers) and the bytes it holds free for reuse. */
int shmets_memory(shmets_tab *t, uint64_t *used, uint64_t *free_bytes);

/*
 * Verify every invariant of the table's segment — the heap tiles and its counters agree, the
 * free lists hold exactly the free blocks, the index reaches only stored objects, each a
 * canonical term whose key is at keypos and hashed into the right bucket, counts agree, and the
 * memory in use is exactly what the index and the retired list reach — and of the instance's
 * control segment.  Takes the writer lock (repairing the table first if its last writer died).
 * Returns 0, -SHMETS_EBADSEG with the broken invariant in shmets_errdetail(), -SHMETS_EOWNER
 * (a protected or private table not mapped for writing by this process), -SHMETS_ENOENT.
 */
int shmets_check(shmets_tab *t);

/*
 * Salvage a damaged table (issue 20; what `shmets check --salvage TAB NEWTAB` runs, as SQLite's
 * `.recover`): make a new named table `newname` in t's instance, of t's kind, keypos, protection and
 * compression, and copy into it every object of t that still validates — found by a scan of
 * t's heap, not through its index, which may be what is damaged — each checked as
 * shmets_check checks an object (a canonical term whose key is its element keypos).  t is only
 * read.  *out is the new table's handle (owned by the caller); *rep says what happened:
 *   kept      objects copied;
 *   recorded  objects t's header counts (a number the damage may have changed too);
 *   dropped   recorded - kept when that is positive: the objects lost.
 * In a bag a key's objects come in the order of their addresses.  Readers and writers of a
 * damaged table get -SHMETS_EBADSEG with this way out named in shmets_errdetail().
 * Returns 0, -SHMETS_EEXIST (a named table `newname` exists), -SHMETS_ENOMEM, and the errors of
 * shmets_new and shmets_insert; on error no new table is left.
 */
typedef struct shmets_salvage_report {
    uint64_t kept, recorded, dropped;
} shmets_salvage_report;
int shmets_salvage(shmets_tab *t, const char *newname, shmets_tab **out, shmets_salvage_report *rep);

/*
 * Give memory back that readers have finished with: runs one grace period and frees up to
 * `max` retired blocks (0: all that are ready).  Writers do this on their own as retired
 * memory builds up — after 64 retirements, after retiring 1 MiB or a 64th of the table's
 * memory (whichever is more), and at their first write 100 ms after the last reclamation —
 * and etsmgr does it in the background for tables that have gone quiet (etsmgr(8): within
 * about 0.3 s); call it to return memory at once (tests, tools).  Any process that can
 * write the table may call it, whoever deleted or allocated the memory.  *freed (may be
 * NULL) gets the count.  Returns 0 or an error of shmets_insert.
 */
int shmets_reclaim(shmets_tab *t, uint64_t max, uint64_t *freed);

/* ---- the rest of the ETS API ------------------------------------------------------------ */

/*
 * KEYS AND ORDER.  A set, bag or duplicate_bag matches keys by =:= (1 and 1.0 are two keys);
 * an ordered_set by == (1 and 1.0 are one key, and the object keeps the key it was stored
 * with).  Traversal (first/next, foldl, tab2list, slot) visits an ordered_set in Erlang term
 * order, and a hash table in an order of its own that does not change when the table grows
 * or shrinks: a traversal by first/next visits every key that stays in the table throughout
 * exactly once, with or without safe_fixtable, and never loops.  For hash tables last/1 is
 * first/1 and prev/2 is next/2, as in ETS.
 *
 * KEYS OUT.  Calls that hand out a key or objects give a term that owns its bytes (free it
 * with shmets_term_free); "no key" ('$end_of_table') is the term {NULL, 0}.
 *
 * ERRORS shared by every call below: -SHMETS_EINVAL (NULL argument), -SHMETS_ENOENT (the
 * table was deleted), -SHMETS_EOWNER (the table's protection refuses this process: reads of a
 * private table, writes of a protected one), -SHMETS_EAGAIN (readers: no reader slot free),
 * -SHMETS_ENOMEM, -SHMETS_EBADSEG (the table's segment is damaged — a stray write of another
 * process of the uid: the detail names the table, the offset and the broken rule, and the way
 * out, shmets_salvage; readers never abort or read outside the segment on one); writers also
 * -SHMETS_ESYS as shmets_insert.  Where ETS
 * raises badarg for a value, the call returns the code named in its comment and changes
 * nothing.
 */

/* ets:first/1 and ets:last/1. */
int shmets_first(shmets_tab *t, shmets_term *key);
int shmets_last(shmets_tab *t, shmets_term *key);
/* ets:next/2 and ets:prev/2: the key after (before) `key`.  On an ordered_set `key` need not
 * be in the table, but the atom '$end_of_table' is refused (-SHMETS_ENOKEY) as ETS refuses it.
 * On a hash table it must be, unless the table is fixed (safe_fixtable), else -SHMETS_ENOKEY
 * (ETS: badarg).  A fixed table continues after a key deleted meanwhile — and, unlike ETS,
 * which accepts only such keys, after any key at all (shmets keeps no record of deletions). */
int shmets_next(shmets_tab *t, shmets_term key, shmets_term *next);
int shmets_prev(shmets_tab *t, shmets_term key, shmets_term *prev);

/*
 * ets:first_lookup/1, last_lookup/1, next_lookup/2, prev_lookup/2 (OTP 27): the step of
 * first/last/next/prev above, with the same arguments, meaning and errors, and in *objects
 * the objects of the key it found, as shmets_lookup gives them (a list term; in ETS the
 * result is {Key, Objects}).  The key and its objects are read in one read section: the
 * objects are the key's at one moment, never [] for a key the step found.  At the end of the
 * table both *key (*next, *prev) and *objects are {NULL, 0} ('$end_of_table').  Any thread,
 * any process that may read the table; no context needed (each call is its own read section).
 */
int shmets_first_lookup(shmets_tab *t, shmets_term *key, shmets_term *objects);
int shmets_last_lookup(shmets_tab *t, shmets_term *key, shmets_term *objects);
int shmets_next_lookup(shmets_tab *t, shmets_term key, shmets_term *next, shmets_term *objects);
int shmets_prev_lookup(shmets_tab *t, shmets_term key, shmets_term *prev, shmets_term *objects);

/*
 * ets:foldl/3 and ets:foldr/3 with a C function: fn is called with each object in traversal
 * order (foldr: reverse term order for an ordered_set, as foldl for a hash table), outside
 * any read section, so it may call the table (objects it inserts may or may not be visited).
 * fn returns 0 to go on; any other value stops the fold and is returned.  The object's bytes
 * live until fn returns.  Not atomic: like ETS, a fold sees each key as it is when visited.
 */
typedef int (*shmets_fold_fn)(shmets_term object, void *arg);
int shmets_foldl(shmets_tab *t, shmets_fold_fn fn, void *arg);
int shmets_foldr(shmets_tab *t, shmets_fold_fn fn, void *arg);

/* ets:tab2list/1: every object, as one list term, in traversal order. */
int shmets_tab2list(shmets_tab *t, shmets_term *list);

/*
 * ets:slot/2: the objects of slot i (from 0) as a list term.  An ordered_set's slot i is its
 * i-th object (O(i) steps); a hash table's slot i is its bucket i, so the slots of a table
 * hold each object once.  *objects is {NULL, 0} ('$end_of_table') when i is the number of
 * slots; -SHMETS_EBADPOS (ETS: badarg) past it.
 */
int shmets_slot(shmets_tab *t, uint64_t i, shmets_term *objects);

/*
 * ets:lookup_element/3,4: element pos (from 1) of the object with this key (set,
 * ordered_set), or the list of element pos of each object with the key (bags).  If the key is
 * absent: *dflt copied when dflt is not NULL (lookup_element/4, with OTP 26's meaning: any pos
 * from 1 up), else -SHMETS_ENOKEY.  -SHMETS_EBADPOS when pos is 0 or an object is shorter.
 */
int shmets_lookup_element(shmets_tab *t, shmets_term key, uint64_t pos, const shmets_term *dflt,
                          shmets_term *out);

/* ets:take/2: the objects with this key, as lookup gives them, removed in the same step. */
int shmets_take(shmets_tab *t, shmets_term key, shmets_term *objects);
/* ets:delete_object/2: delete exactly this object (every copy in a duplicate_bag).
 * -SHMETS_ETYPE / -SHMETS_EBADPOS as insert for something that cannot be an object. */
int shmets_delete_object(shmets_tab *t, shmets_term object);
/* ets:delete_all_objects/1: empty the table, atomically and in isolation. */
int shmets_delete_all_objects(shmets_tab *t);

/*
 * ets:update_counter/3,4.  `ops` is Incr, {Pos, Incr}, {Pos, Incr, Threshold, SetValue}, or a
 * list of these (the result is then the list of the new values, in order), as the manual
 * says: an update that passes the threshold (up: > Threshold, down: < Threshold) stores
 * SetValue instead.  Integers of any size, as Erlang computes them.  If the key is absent and
 * dflt (a default object) is given, dflt is inserted first and updated (its key element is
 * replaced by key); a dflt that is not a tuple is -SHMETS_ETYPE even when the key is there, as
 * ETS checks it first.  Set and ordered_set only.  The update is atomic and isolated.
 * *result: the new value, or the list of them.  Badargs: -SHMETS_ENOKEY (absent, no default),
 * -SHMETS_ETYPE (a bag, an element that is not an integer, a malformed op or default),
 * -SHMETS_EBADPOS (pos 0, the key's position, or past the object's arity).
 */
int shmets_update_counter(shmets_tab *t, shmets_term key, shmets_term ops, const shmets_term *dflt,
                          shmets_term *result);

/*
 * ets:update_element/3: `elems` is {Pos, Value} or a list of them, applied in order to the
 * object with this key; *updated is 1, or 0 if the key is absent.  Set and ordered_set only
 * (-SHMETS_ETYPE otherwise); -SHMETS_EBADPOS for pos 0, past the arity, or the key's position.
 */
int shmets_update_element(shmets_tab *t, shmets_term key, shmets_term elems, int *updated);

/*
 * ets:update_element/4 (OTP 27): as shmets_update_element, but if the key is absent the
 * default object dflt is inserted with the elements applied to it (its key element replaced
 * by key, as update_counter/4 does), in one atomic, isolated write; ETS then returns true,
 * and so this call returns 0 in both cases.  The default is checked whether it is used or not
 * (as the current ETS does): -SHMETS_ETYPE if it is not a tuple, -SHMETS_EBADPOS if it has
 * fewer elements than the keypos.  Other errors as shmets_update_element (-SHMETS_EBADPOS
 * also for a position past the default's arity when it is used); on any error nothing is
 * inserted.  Writers' context: not inside a read section; any thread, the owner or any
 * process the table's protection lets write.
 */
int shmets_update_element_default(shmets_tab *t, shmets_term key, shmets_term elems, shmets_term dflt);

/* ets:safe_fixtable/2: fix (or release one fix of) the table for this process.  Traversals are
 * safe without it (see KEYS AND ORDER); a fix makes next/prev accept a deleted key and shows in
 * info (fixed, safe_fixed).  A process's fixes end with it. */
int shmets_safe_fixtable(shmets_tab *t, bool fix);

/* ets:rename/2: a new name (the table's id does not change).  -SHMETS_EEXIST (ETS: badarg) if
 * the table is named and a named table of that name exists; -SHMETS_EOWNER as shmets_delete. */
int shmets_rename(shmets_tab *t, const char *name);

/* ets:setopts(T, {heir, Pid, Data}) (heir_pid > 0) and {heir, none} (heir_pid 0): only the
 * owner.  etsmgr gives the table to the heir when the owner dies. */
int shmets_set_heir(shmets_tab *t, uint32_t heir_pid, const shmets_term *heir_data);

/* What ets:info/1 says, as C values. */
typedef struct shmets_tab_info {
    uint64_t id;
    char name[1024];                /* UTF-8, NUL-terminated */
    enum shmets_kind kind;
    enum shmets_access access;
    unsigned keypos;
    bool named, read_concurrency, write_concurrency, compressed, decentralized_counters;
    uint32_t owner;                 /* OS pid */
    uint32_t heir;                  /* OS pid, 0: none */
    uint64_t size;                  /* objects */
    uint64_t memory_bytes;          /* the table's segment: header, objects, index, memory
                                       waiting for readers, free blocks it keeps */
    uint64_t memory_words;          /* memory_bytes / 8, what ets:info(T, memory) reports */
    uint32_t fixes;                 /* safe_fixtable fixes held by live processes */
} shmets_tab_info;

int shmets_info(shmets_tab *t, shmets_tab_info *info);
/* ets:info/1 as the list of {Item, Value} ETS gives (id, decentralized_counters,
 * read_concurrency, write_concurrency, compressed, memory, owner, heir, name, size, node,
 * named_table, type, keypos, protection), pids as <0.OSPID.0>, the id as the table's
 * reference (shmets_tab_term). */
int shmets_info_term(shmets_tab *t, shmets_term *list);
/* ets:info/2: one item by name: those above and fixed, safe_fixed, safe_fixed_monotonic_time;
 * binary, always [] (ETS lists the reference-counted binaries, those over 64 bytes, that the
 * table's objects hold, [] when there are none; a shmets table's binaries are stored in its
 * segment, so there are none); and stats, where ETS gives its hash chains'
 * statistics and shmets its own: [{writes, W}, {memory_bytes, B}], W the write calls
 * completed on the table since it was made (what `shmets top` shows per second), B the
 * info's memory_bytes.  -SHMETS_EINVAL (ETS: badarg) for an unknown item. */
int shmets_info_item(shmets_tab *t, const char *item, shmets_term *value);

/* The term ETS uses for a table: its name (an atom) if named, else its reference (below),
 * which shmets_attach_term() takes back. */
int shmets_tab_term(shmets_tab *t, shmets_term *out);
/* The reference of table `id` (what ets:info(T, id) and ets:whereis/1 give): #Ref<0.A.B.C>
 * with C the id's low 18 bits, B the next 32 and A the top 14, so that Erlang, which refuses
 * a local reference whose first word is 2^18 or more, decodes it. */
int shmets_id_term(uint64_t id, shmets_term *out);
/* Attach by such a term: an atom (a named table) or a reference made by shmets_tab_term. */
int shmets_attach_term(shmets *db, shmets_term tab, shmets_tab **t);

/* ets:all/0: the ids of every table of the instance (*ids malloc'd; free() it). */
int shmets_all(shmets *db, uint64_t **ids, size_t *n);
/* ets:whereis/1: the id of the named table, or -SHMETS_ENOENT. */
int shmets_whereis(shmets *db, const char *name, uint64_t *id);

/* ---- zero-copy reads, batched lookups, byte keys ---------------------------------------- */

/*
 * ZERO-COPY READS.  Between shmets_read_begin(db) and shmets_read_end(db) the calling thread
 * is in a read section of the instance: the view calls below hand out shmets_terms that point
 * into the tables themselves, valid until the section ends, copying nothing.  Sections nest
 * (each begin needs its end) and cost two stores; the copying calls work inside them too.
 * Rules: keep a section short (memory that writers retire meanwhile waits for its end);
 * never write a table inside one (writers may wait for every section to end: such a write
 * returns -SHMETS_EINVAL); a view is not yours to free.  Each view call sees a whole write
 * (a list insert is seen all or nothing); two view calls in one section are two moments, as
 * two lookups in ETS are.
 */
int  shmets_read_begin(shmets *db);     /* 0, -SHMETS_EAGAIN (no reader slot), -SHMETS_ENOMEM */
void shmets_read_end(shmets *db);

/* The objects of key as views: up to max into objs[], *n the number there are (may be more
 * than max; 0 if none).  Errors as shmets_lookup, and -SHMETS_EINVAL outside a section. */
int shmets_lookup_view(shmets_tab *t, shmets_term key, shmets_term *objs, size_t max, size_t *n);

/*
 * BATCHED LOOKUPS: n keys in one call, pipelined (every key's hash and bucket first, with
 * prefetches, then the candidate objects, then the key comparisons), so the cache misses of
 * different keys overlap instead of following one another, as DPDK's rte_hash_lookup_bulk
 * does.  objs[i] is a view of the first object of keys[i] ({NULL, 0} if absent; a bag's first
 * in insertion order); *found (may be NULL) the number found.  Inside a read section.  An
 * ordered_set is looked up key by key.  Errors as shmets_lookup_view; after an error objs[]
 * may hold some keys' views (the batch goes in groups) and is not to be read.
 */
int shmets_lookup_bulk_view(shmets_tab *t, const shmets_term *keys, size_t n, shmets_term *objs, size_t *found);
/* The same, copying: lists[i] is what shmets_lookup(t, keys[i]) gives (free each with
 * shmets_term_free).  No section needed. */
int shmets_lookup_bulk(shmets_tab *t, const shmets_term *keys, size_t n, shmets_term *lists);

/*
 * RANGE VIEWS: a cursor's reads, with no cursor to keep.  Inside a read section, the objects
 * of the keys from `from` on, in the table's traversal order (an ordered_set: term order),
 * as views: up to max into objs[], *n how many (0 at the end of the table).  A key's objects
 * are never split: the call stops before a key whose objects do not all fit.  flags:
 *   SHMETS_RANGE_AFTER    the keys after from (as ets:next/2), not from itself
 *   SHMETS_RANGE_REVERSE  backwards (an ordered_set: reverse term order; a hash table has no
 *                         reverse order and is walked forwards, as ets:prev/2 does there)
 * from {NULL, 0}: from the first key (the last, backwards); from need not be in the table.
 * To go on, call again with the last view's key and SHMETS_RANGE_AFTER — in this section or a
 * later one, in this process or another: it is a key, not a place in the index.  One call is
 * one moment (a list insert is seen all or nothing); keys written between two calls may or may
 * not be seen, as in an ets:next/2 walk.  An ordered_set's range is one search and then one
 * link a key; a hash table's, one search a key.  Bounded: at most max objects and one search.
 * Returns 0, -SHMETS_ERANGE (the first key's objects alone are more than max: *n is how many
 * they are, nothing is filled), -SHMETS_EINVAL (NULL argument, unknown flag, outside a
 * section, a compressed table), -SHMETS_ETOOBIG (from is 4 GiB or more), -SHMETS_EOWNER,
 * -SHMETS_ENOENT, -SHMETS_EBADSEG (a stored object is not a term).
 */
#define SHMETS_RANGE_AFTER   1u
#define SHMETS_RANGE_REVERSE 2u
int shmets_range_view(shmets_tab *t, shmets_term from, unsigned flags, shmets_term *objs, size_t max, size_t *n);

/*
 * PREPARED KEYS AND THE SHORT READ PATH.  A lookup spends a good part of its instructions on
 * its key (finding the key term's end, hashing it with the table's seed) and, when it copies,
 * on allocating the result.  A caller who looks keys up often prepares each once — its bytes
 * and its hash for one table — and reads into a buffer of its own:
 *
 *     shmets_key k;
 *     unsigned char buf[256];
 *     shmets_term obj;
 *     shmets_key_prepare(t, key, &k);                  (once; key's bytes must stay valid)
 *     rc = shmets_lookup_into(t, &k, buf, sizeof buf, &obj);   (0: obj is a view into buf)
 *
 * These calls allocate nothing, take no lock and touch one thread-local block; a lookup is
 * then the bucket line, the object and a memcpy (`make bench` reports the instructions).
 * A prepared key belongs to the table it was prepared for (its hash depends on the table's
 * seed): another table's is -SHMETS_EINVAL.  The key's bytes are the caller's, not copied
 * (but for the first 8, in head): like its hash, a prepared key is of the bytes it was
 * prepared from; change them and prepare it again.
 */
typedef struct shmets_key {
    const unsigned char *etf;       /* the key's canonical encoding (the caller's memory) */
    uint32_t len;
    uint64_t hash;                  /* its hash under the table's seed (0 for an ordered_set: its index reads none) */
    uint64_t seed;                  /* the seed it was prepared with (checked by each call) */
    uint64_t head;                  /* its first 8 bytes (zero-padded), kept so that a lookup
                                       compares a short key without reading etf */
} shmets_key;

/* Prepare `key` (a valid canonical term, e.g. from the builder or a parse) for lookups in t.
 * Returns 0, -SHMETS_EINVAL (NULL argument), -SHMETS_ETOOBIG (a key of 4 GiB or more). */
int shmets_key_prepare(shmets_tab *t, shmets_term key, shmets_key *k);

/*
 * ets:lookup/2 for one object, into the caller's buffer: the key's first object (a set's or
 * ordered_set's only one; a bag's oldest) is copied into buf and *obj is a view of it there
 * (valid while buf is); *more (may be NULL) is 1 if the key has further objects (bags).  No
 * read section needed, none is left open.  Returns 0, -SHMETS_ENOKEY (the key is absent:
 * no error detail is set, for speed), -SHMETS_ETOOBIG (cap is too small: obj->len is the
 * size needed, buf untouched), -SHMETS_EINVAL (NULL argument, or a key prepared for another
 * table), -SHMETS_EOWNER (a private table of another process), -SHMETS_ENOENT (deleted),
 * -SHMETS_EAGAIN (no reader slot).  Thread-safe; async-signal-unsafe.
 */
int shmets_lookup_into(shmets_tab *t, const shmets_key *k, void *buf, size_t cap, shmets_term *obj, int *more);

/* shmets_lookup_view with a prepared key (inside a read section; errors as both). */
int shmets_lookup_view_key(shmets_tab *t, const shmets_key *k, shmets_term *objs, size_t max, size_t *n);

/* shmets_lookup_bulk_view with prepared keys: the batch skips hashing too (inside a read
 * section; errors as both). */
int shmets_lookup_bulk_view_keys(shmets_tab *t, const shmets_key *keys, size_t n, shmets_term *objs, size_t *found);

/*
 * BYTE KEYS AND VALUES, for C programs that want a key-value store: the object of key K and
 * value V is {<<K>>, <<V>>}, so Erlang sees the same table.  The table must have keypos 1.
 *   kv_put     insert (replacing in a set)
 *   kv_get     copy the value (of the key's first object) into buf: *vlen gets its length;
 *              -SHMETS_ERANGE (nothing copied) when cap < *vlen; -SHMETS_ENOKEY if absent.
 *   kv_view    the value as a pointer into the table, inside a read section
 *   kv_del     delete the key
 * -SHMETS_ETYPE when the key's object is not {<<K>>, <<V>>}.  Other errors as the calls they
 * stand for.
 */
int shmets_kv_put(shmets_tab *t, const void *key, size_t klen, const void *val, size_t vlen);
int shmets_kv_get(shmets_tab *t, const void *key, size_t klen, void *buf, size_t cap, size_t *vlen);
int shmets_kv_view(shmets_tab *t, const void *key, size_t klen, const void **val, size_t *vlen);
int shmets_kv_del(shmets_tab *t, const void *key, size_t klen);

/* ====================================================================================== */
/* 7. Match specifications                                                                */
/* ====================================================================================== */

/*
 * A MATCH SPECIFICATION is the term ets:select/2 takes: a list of clauses {Head, Guards, Body}
 * (the ERTS User's Guide, "Match Specifications in Erlang", table dialect).  Heads are
 * patterns with '$N' variables and '_' (a head may be '_' or '$N' alone); guards and bodies
 * are expressions: '$N', '$_' (the object), '$$' (the head's variables, in order of N),
 * {const, X}, constructed tuples {{...}}, lists and maps, and calls {F, Arg...} of the guard
 * functions: is_atom is_float is_integer is_list is_number is_pid is_port is_reference
 * is_tuple is_map is_map_key is_binary is_bitstring is_boolean is_function/1,2 is_record/3,
 * the comparisons < =< > >= == /= =:= =/=, + - (unary and binary) * / div rem band bor bxor
 * bnot bsl bsr abs float round trunc floor ceil min max, and andalso orelse (any number of
 * arguments, short-circuit), and or not xor, element size tuple_size byte_size bit_size hd tl
 * length map_size map_get binary_part/2,3 node/0,1 self/0.  Integers have any size, computed
 * as Erlang does (GMP).
 *
 * The first clause whose head matches the object and whose guards are all 'true' gives the
 * result: the value of its last body expression.  A guard function that fails (badarg,
 * badarith, ...) makes its guard false; in a body it gives the atom 'EXIT'.  self() is the
 * pid <0.OSPID.0> of the process that runs the specification, node() is 'nonode@nohost'.
 *
 * COMPILED, a specification is a flat PROGRAM: one byte array with no addresses in it (every
 * reference is an offset into the array, constants are kept as canonical terms inside it).
 * It can be copied, stored in shared memory or a table, sent to another process and run there
 * (shmets_ms_program, shmets_ms_load, shmets_ms_to_term).  Bytes that come from elsewhere are
 * checked whole before they are used: a damaged or forged program is refused, never run.
 *
 * ERRORS.  A bad specification is -SHMETS_EINVAL, with ERTS's first message in
 * shmets_errdetail() (as "match specification: Variable $2 is unbound."); shmets_ms_errors()
 * and shmets_ms_test() give all of them, the list ets:test_ms/2 gives, word for word.
 *
 * DIFFERENCES FROM OTP 25 (whose behaviour is otherwise the reference):
 * - is_boolean/1, is_bitstring/1, is_function/2, tuple_size/1, floor/1, ceil/1, min/2 and
 *   max/2 are accepted, as OTP 26 and later accept them; OTP 25 says "Function tuple_size/1
 *   does_not_exist.".
 * - Integers larger than SHMETS_BIG_MAX_BYTES (in a result or along the way) make the function
 *   fail, as Erlang's system_limit does at its own, larger, limit; 1 bsl 600000 fails here.
 * - 0.0 and -0.0 are different terms (see section 2): a head 0.0 does not match -0.0.
 * - Maps of more than 32 keys are ordered by key (section 2), so a map built by a body with
 *   such keys and equal-valued keys keeps the last in key order, where ERTS uses hash order.
 * - Pids, ports, references and funs in error messages are printed approximately.
 *
 * LIMITS AND COST.  A specification is a term, so it nests at most SHMETS_TERM_MAX_DEPTH deep
 * (deeper input is -SHMETS_ETOODEEP when the term is made).  Compiling is linear in its size;
 * the list of errors keeps the first 1000 messages.  Running against one object does bounded
 * work: each op of the program runs at most once per clause and costs at most linear time in
 * its operands (integers are bounded, above); there are no loops and the recursion follows the
 * head's nesting, not the object's.  A term a body builds may have SHMETS_TERM_MAX_SIZE bytes,
 * and one run may build 2 * SHMETS_TERM_MAX_SIZE in all: more is -SHMETS_ETOOBIG.
 *
 * THREADS.  A compiled specification is immutable: any number of threads may run it at once.
 * Every call below is reentrant.
 */
typedef struct shmets_ms shmets_ms;

/*
 * ets:match_spec_compile/1: validate and compile.  *ms is freed with shmets_ms_free().
 * Returns 0, -SHMETS_EINVAL (a bad specification, see ERRORS; ETS: badarg), -SHMETS_ENOMEM,
 * -SHMETS_ETOOBIG (the program would pass 4 GiB).  On error *ms is NULL.
 */
int shmets_ms_compile(shmets_term spec, shmets_ms **ms);
/* Free a compiled specification (NULL is fine). */
void shmets_ms_free(shmets_ms *ms);

/*
 * The errors of a specification as a term: [] if it is valid, else [{error, Message}, ...]
 * with each Message a string (a list of bytes), in ERTS's order and words, as in
 * ets:test_ms/2's {error, Errors}.  *errors owns its bytes.  Returns 0, -SHMETS_EINVAL (NULL
 * argument), -SHMETS_ENOMEM.
 */
int shmets_ms_errors(shmets_term spec, shmets_term *errors);

/*
 * ets:test_ms/2: *result is {ok, Result} (Result the body's value, or false when no clause
 * matched object), or {error, Errors} as shmets_ms_errors() gives them.  object may be any
 * term.  Returns 0 (also for a bad specification: the answer is the term), -SHMETS_EINVAL
 * (NULL argument), -SHMETS_ENOMEM, -SHMETS_ETOOBIG.
 */
int shmets_ms_test(shmets_term object, shmets_term spec, shmets_term *result);

/*
 * Run a compiled specification against one object (ets:match_spec_run/2 for one element):
 * *matched is true and *result (owning its bytes) the result, or *matched is false and
 * *result {NULL, 0} when no clause matched.  Returns 0, -SHMETS_EINVAL (NULL argument),
 * -SHMETS_ENOMEM, -SHMETS_ETOOBIG (see LIMITS).
 */
int shmets_ms_run(const shmets_ms *ms, shmets_term object, bool *matched, shmets_term *result);

/*
 * ets:match_spec_run/2: run against each element of the proper list objects, in order;
 * *results is the list of the results of those that matched.  Returns 0, -SHMETS_ETYPE
 * (objects is not a proper list), or an error of shmets_ms_run.
 */
int shmets_ms_run_list(const shmets_ms *ms, shmets_term objects, shmets_term *results);

/* The program's bytes (a view into ms, valid while ms lives). */
int shmets_ms_program(const shmets_ms *ms, const void **bytes, size_t *len);
/* A program from bytes (copied): every part is checked first.  Returns 0, -SHMETS_EINVAL (not
 * a program of this version, or a damaged one; the detail says what does not hold),
 * -SHMETS_ENOMEM. */
int shmets_ms_load(const void *bytes, size_t len, shmets_ms **ms);
/* The program as a binary term, to store in a table or send; shmets_ms_from_term() takes it
 * back (checked as shmets_ms_load does).  The binary is not portable across versions of
 * this library's program format (shmets_ms_from_term refuses other versions). */
int shmets_ms_to_term(const shmets_ms *ms, shmets_term *bin);
int shmets_ms_from_term(shmets_term bin, shmets_ms **ms);
/* ets:is_compiled_ms/1: is t a binary holding a program shmets_ms_from_term() accepts? */
bool shmets_is_compiled_ms(shmets_term t);
/* The source specification the program was compiled from (a view into ms). */
int shmets_ms_source(const shmets_ms *ms, shmets_term *spec);

/*
 * KEY ANALYSIS, for select and its family, as ETS does it.  For a table's keypos, a clause
 * whose head is
 *   NONE     not '_', not a variable, and not a tuple with at least keypos elements: matches
 *            no object of the table;
 *   BOUND    a tuple whose key element is ground (no '$N' or '_' in it): only objects with
 *            that key (*key is the key, a view into ms).  As in ETS, a map in a ground key is
 *            looked up as it is, although as a pattern it would match larger maps too;
 *   PARTIAL  a tuple whose key element is a structure with variables in it ({a, '$1'}):
 *            on an ordered_set, the keys it can match form one range (*key is the pattern);
 *   ANY      '_', a variable, or a tuple whose key element is one: every key.
 */
enum shmets_ms_keykind {
    SHMETS_MS_KEY_NONE = 0,
    SHMETS_MS_KEY_BOUND,
    SHMETS_MS_KEY_PARTIAL,
    SHMETS_MS_KEY_ANY
};

/* The number of clauses. */
size_t shmets_ms_clauses(const shmets_ms *ms);
/* Clause i's key for keypos (from 1).  Returns 0, -SHMETS_EINVAL (NULL argument),
 * -SHMETS_EBADPOS (no such clause, or keypos 0). */
int shmets_ms_clause_key(const shmets_ms *ms, size_t clause, unsigned keypos,
                         enum shmets_ms_keykind *kind, shmets_term *key);

/*
 * The plan for the whole specification:
 *   NOTHING  every clause is NONE: no object can match;
 *   LOOKUP   every other clause is BOUND: only the keys keys[0..nkeys) (distinct: by =:= for
 *            a hash table, by == for an ordered_set, as ordered says) need be looked up;
 *   RANGE    (ordered only) no clause is ANY, some are PARTIAL: walk the keys for which
 *            shmets_ms_key_span() says 0, in order (keys is empty);
 *   SCAN     some clause is ANY (or PARTIAL on a hash table): every object.
 * plan->keys (views into ms) is malloc'd; free it with shmets_ms_plan_free().  Returns 0,
 * -SHMETS_EINVAL, -SHMETS_EBADPOS (keypos 0), -SHMETS_ENOMEM.
 */
enum shmets_ms_plan_kind {
    SHMETS_MS_PLAN_NOTHING = 0,
    SHMETS_MS_PLAN_LOOKUP,
    SHMETS_MS_PLAN_RANGE,
    SHMETS_MS_PLAN_SCAN
};
typedef struct shmets_ms_plan {
    enum shmets_ms_plan_kind kind;
    size_t nkeys;
    shmets_term *keys;
} shmets_ms_plan;

int shmets_ms_key_plan(const shmets_ms *ms, unsigned keypos, bool ordered, shmets_ms_plan *plan);
void shmets_ms_plan_free(shmets_ms_plan *plan);

/*
 * Where key lies, in the term order of an ordered_set, against the span of keys the clauses
 * can match: *where is -1 when key is below every key any clause can match, +1 when above
 * every one, else 0.  As key grows, *where goes from -1 to 0 to +1 and never back, so an
 * ordered walk can seek the first key with *where >= 0 and stop at the first with +1; every
 * object that can match lies in between (it still has to be run: 0 does not promise a match).
 * ANY clauses make the span everything, NONE clauses add nothing (no clause at all: +1).
 * Returns 0, -SHMETS_EINVAL, -SHMETS_EBADPOS (keypos 0).
 */
int shmets_ms_key_span(const shmets_ms *ms, unsigned keypos, shmets_term key, int *where);

/*
 * ets:select_replace/2 refuses (badarg) a specification that might change an object's key.
 * *keeps is true when every clause keeps the key at keypos, as OTP decides it: the body is
 * '$_', or one constructed tuple {{...}} whose element keypos rebuilds the head's key pattern
 * (the same variables, equal constants, {const, X} for a ground part, the same shapes), or
 * {const, Tuple} whose element keypos is the head's ground key.  A map or '_' in the key
 * never keeps it.  Returns 0, -SHMETS_EINVAL, -SHMETS_EBADPOS (keypos 0).
 */
int shmets_ms_keeps_key(const shmets_ms *ms, unsigned keypos, bool *keeps);

/*
 * ets:match/2, match_object/2 and match_delete/2 patterns as specifications: *spec is
 * [{Pattern, [], ['$$']}] (MATCH: each match gives its variables' values in order of their
 * numbers), [{Pattern, [], ['$_']}] (MATCH_OBJECT), or [{Pattern, [], [true]}]
 * (MATCH_DELETE, for select_delete).  Compile it with shmets_ms_compile() (which reports a bad
 * pattern).  Returns 0, -SHMETS_EINVAL, -SHMETS_ENOMEM.
 */
enum shmets_ms_match_kind {
    SHMETS_MS_MATCH = 1,
    SHMETS_MS_MATCH_OBJECT,
    SHMETS_MS_MATCH_DELETE
};
int shmets_ms_from_pattern(shmets_term pattern, enum shmets_ms_match_kind kind, shmets_term *spec);

/* ---- the select family over a table ------------------------------------------------------ */

/*
 * Which objects a call visits follows the specification's key plan (shmets_ms_key_plan), as
 * in ETS: keys its clauses bind are looked up; on an ordered_set a bound prefix walks only its
 * range; anything else scans the table, a few keys per read section (a long select never
 * holds back memory reclamation), so like ETS a select is not a snapshot.  ms NULL stands for
 * the empty specification [] (ETS: select(T, []) is []).  Errors as the reading and writing
 * calls of section 6, and those of shmets_ms_run.
 */
/* ets:select/2 (reverse: ets:select_reverse/2, backwards on an ordered_set): the list of the
 * results, 'EXIT' included, in traversal order. */
int shmets_select(shmets_tab *t, const shmets_ms *ms, bool reverse, shmets_term *results);
/* ets:select_count/2: the objects whose result is true. */
int shmets_select_count(shmets_tab *t, const shmets_ms *ms, uint64_t *n);
/* ets:select_delete/2: delete the objects whose result is true, each atomically (an object
 * replaced meanwhile by another is not deleted); *n the number deleted. */
int shmets_select_delete(shmets_tab *t, const shmets_ms *ms, uint64_t *n);
/* ets:select_replace/2: replace each matching object by the result, each atomically and only
 * if the object is still there (in a duplicate_bag, one copy, in its place); *n the number
 * replaced.  Not on a bag (-SHMETS_ETYPE), as in ETS; -SHMETS_EINVAL (ETS: badarg) when a
 * clause may change the key (shmets_ms_keeps_key) or a result is not an object with the same
 * key. */
int shmets_select_replace(shmets_tab *t, const shmets_ms *ms, uint64_t *n);

/*
 * ets:select/3 (reverse: select_reverse/3): the results of the first keys visited, stopping
 * after the first key that brings them to `limit` or more (a key's objects are never split,
 * so a bag may give a few more), and *cont a continuation that shmets_select_continue()
 * resumes, or {NULL, 0} ('$end_of_table') when the walk reached the end with fewer than
 * `limit` results.  As in ETS, a chunk of `limit` results or more comes with a continuation
 * even when it reached the last object (that continuation then gives '$end_of_table'), except
 * where the specification binds whole keys: on a hash table (set, bag, duplicate_bag) a full
 * chunk comes with a continuation only if a later key gives a result, and a single key of an
 * ordered_set always comes with {NULL, 0}.  *results is {NULL, 0}
 * ('$end_of_table' alone) when nothing at all was found.  The continuation is a
 * plain term — the table's reference, the program, the limit and where to go on — so any
 * process of the instance can resume it (as ets:repair_continuation/2 intends); keys inserted
 * or deleted between chunks may or may not be seen, as in ETS.  -SHMETS_EINVAL for limit 0.
 */
int shmets_select_limit(shmets_tab *t, const shmets_ms *ms, size_t limit, bool reverse,
                        shmets_term *results, shmets_term *cont);
/* ets:select/1: the next chunk of a continuation.  Errors: -SHMETS_ETYPE (not a
 * continuation), -SHMETS_EINVAL (its program does not check), -SHMETS_ENOENT (the table is
 * gone), and those of shmets_select. */
int shmets_select_continue(shmets *db, shmets_term cont, shmets_term *results, shmets_term *next);


/* ====================================================================================== */
/* 8. Table files and counters                                                            */
/* ====================================================================================== */

/*
 * TABLE FILES, as ets:tab2file/2,3, ets:file2tab/1,2 and ets:tabfile_info/1: a table's
 * options, name and objects in one file, in the format man/shmets-tabfile.5 specifies
 * (versioned: magic, version word, header, objects as ETF, a trailer with the object count and
 * an optional MD5).  shmets's format is not Erlang's (OTP writes disk_log files); these calls
 * read both, and write Erlang's on request (ERLANG'S FORMAT below).
 *
 * - A dump is written under no name (or a temporary one) in the target's directory and
 *   renamed over the target when it is whole: a crash mid-dump leaves the old file (or no
 *   file), never a half one, under the name.  A dump is not a snapshot: as in ETS, writes
 *   that happen meanwhile may or may not be in it (each key is seen once).
 * - A load checks the header first, streams the objects in batches (memory stays bounded,
 *   whatever the file's size), validates every object, and always checks that the file ends
 *   in its trailer and that the trailer's count is the number of objects read — so a
 *   truncated file is refused with or without verify (stricter than OTP, which loads what
 *   it can without verify).  verify adds the MD5 check (for files dumped with md5sum): any
 *   flipped bit is then found.  A load that fails deletes what it made: no half-loaded table
 *   is left, and a named table gets its name only once every object is in.  A process killed
 *   while loading leaves its half table, owned by the dead process, under a temporary name
 *   ("shmets-file2tab.PID.N"; an unnamed table under its own): it goes as every table whose
 *   owner died without an heir (etsmgr).
 * - ERLANG'S FORMAT.  file2tab and tabfile_info also read the files Erlang's ets:tab2file/2,3
 *   writes (a disk_log of internal format: its info tuple, then one term per object, then
 *   ['$end_of_table', [{count, N}, {md5, MD5}]] with extended_info), and tab2file writes them
 *   when asked (opts.erlang), for ets:file2tab/1,2 to read: the same header items
 *   (name, type, protection, named_table, keypos, size, compressed, read/write_concurrency),
 *   the same MD5 (over each item's term_to_binary bytes, header first).  Verification
 *   follows OTP: with md5sum the MD5, with object_count the count, with neither the
 *   header's size.  A file whose writer died (disk_log "not closed") is refused.  Such
 *   files carry no max_bytes or max_object_bytes: the defaults are used.
 * - The loaded table belongs to the caller, has no heir, and has the file's kind, protection,
 *   keypos, named, compressed, read/write_concurrency, decentralized_counters,
 *   max_object_bytes and max_bytes.
 *
 * THREADS AND PROCESSES.  The calls are reentrant; a dump reads the table as shmets_foldl
 * does (no lock held between sections); a load writes as shmets_insert does.
 */
typedef struct shmets_tabfile_opts {
    bool object_count;          /* tab2file {extended_info, [object_count]}: recorded in the
                                   header and reported; the count is always in the trailer */
    bool md5sum;                /* tab2file {extended_info, [md5sum]}: an MD5 of the file */
    bool sync;                  /* tab2file {sync, true}: fsync the file and its directory */
    bool verify;                /* file2tab {verify, true}: check the MD5 if there is one
                                   (an Erlang file without extended_info: the object count) */
    bool erlang;                /* tab2file: write Erlang's own format (see ERLANG'S FORMAT)
                                   instead of shmets's */
    /* Called every few thousand objects and once at the end (may be NULL): done so far, and
     * the total if known (0 if not: a load from a pipe). */
    void (*progress)(uint64_t done, uint64_t total, void *arg);
    void *progress_arg;
} shmets_tabfile_opts;

/* All false, no progress callback. */
void shmets_tabfile_opts_init(shmets_tabfile_opts *o);

/*
 * ets:tab2file/3: dump table t to the file path (o may be NULL: no options).  Any process
 * that may read the table may dump it.
 * Returns 0, -SHMETS_EINVAL (NULL argument, a path that names a directory or is too long),
 * -SHMETS_ENOENT (the directory does not exist, the path is empty, or the table was deleted),
 * -SHMETS_EACCES (the directory is not writable), -SHMETS_EOWNER (a private table of another
 * process), -SHMETS_ENOMEM, -SHMETS_ESYS (a write, fsync, link or rename failed: the detail
 * names it; the target is then untouched; or, with sync, the fsync of the directory after
 * the rename: the new file is then in place but perhaps not yet durable), -SHMETS_EAGAIN (no
 * reader slot).
 */
int shmets_tab2file(shmets_tab *t, const char *path, const shmets_tabfile_opts *o);

/*
 * ets:file2tab/2: make a table from the file path in instance db and attach it (*t).
 * Returns 0, -SHMETS_EINVAL (NULL argument), -SHMETS_ENOENT (no such file), -SHMETS_EACCES,
 * -SHMETS_EBADFILE (not a table file, truncated, damaged, an object that is not a valid term
 * or not a tuple with the table's keypos, an MD5 that does not match under verify: the
 * detail says which and where), -SHMETS_EVERSION (a table file of another format version),
 * -SHMETS_EEXIST (the file's table is named and a named table of that name exists: ETS's
 * {error, cannot_create_table}), -SHMETS_ENOMEM (no room for the table: nothing is left),
 * -SHMETS_ESYS.
 */
int shmets_file2tab(shmets *db, const char *path, const shmets_tabfile_opts *o, shmets_tab **t);
/* The same from an open fd, read from its current offset to its end (a regular file, a pipe
 * or a memfd; progress has a total only for a regular file).  The fd stays open.  This is the
 * loader's entry for fuzzing: every byte it reads is checked before it is trusted. */
int shmets_file2tab_fd(shmets *db, int fd, const shmets_tabfile_opts *o, shmets_tab **t);

/* ets:tabfile_info/1 as C values: the header and the trailer's count (objects are not read,
 * so a damaged object is found only by file2tab). */
typedef struct shmets_tabfile_info {
    char name[1024];            /* UTF-8, NUL-terminated */
    enum shmets_kind kind;
    enum shmets_access access;
    unsigned keypos;
    bool named, compressed, read_concurrency, write_concurrency, decentralized_counters;
    bool object_count, md5sum;  /* the extended_info it was dumped with */
    uint64_t size;              /* objects in the file (the trailer's count) */
    uint64_t max_object_bytes, max_bytes;
    uint32_t version;           /* the format version (1); tabfile_info's {version, {V, 0}} */
    bool erlang;                /* a file in Erlang's format (size: its header's count) */
} shmets_tabfile_desc;

/* Returns 0, -SHMETS_EINVAL, -SHMETS_ENOENT, -SHMETS_EACCES, -SHMETS_EBADFILE (not a table
 * file, or one without its trailer: truncated), -SHMETS_EVERSION, -SHMETS_ESYS. */
int shmets_tabfile_info(const char *path, shmets_tabfile_desc *info);
/* The same for an open regular file (read with pread and read from its current offset). */
int shmets_tabfile_info_fd(int fd, shmets_tabfile_desc *info);

/*
 * COUNTERS, for `shmets top`.  writes: write calls completed on the table since it was made
 * (a counter the writer already holds the lock for: it costs readers nothing).  Reads are not
 * counted: a shared counter on the read path would make every lookup write a contended cache
 * line, which is what the read path is built to avoid.  readers: reader slots of the instance
 * held by live threads (registered) and those inside a read section now (active).
 * Returns 0 or the errors of shmets_size.
 */
typedef struct shmets_tab_stats {
    uint64_t writes;
} shmets_tab_stats;
int shmets_tab_stats_get(shmets_tab *t, shmets_tab_stats *st);
int shmets_readers(shmets *db, uint32_t *registered, uint32_t *active);

#ifdef __cplusplus
}
#endif

#endif /* SHMETS_H */
