/*
 * test_term_text.c — term text in and out: shmets_term_parse() and shmets_term_format().
 *
 * Covers: parsing of every syntax the header names (atoms, quoted atoms and their escapes,
 * integers in every radix, with underscores, character literals, bignums, floats, strings with
 * escapes and UTF-8, binaries, bitstrings, tuples, lists, improper lists, maps where later keys
 * win, pids, references, ports, the optional full stop, comments and white space); syntax errors
 * (each -SHMETS_ESYNTAX with a detail); the ~w printer on a table of terms (floats in their
 * shortest round-trip form, atoms that need quotes and escapes, lists as integer lists,
 * binaries, bitstrings, maps, pids, ports, references, funs, nesting) and parse(format(t)) == t.
 *
 * Every expected term and string comes from Erlang/OTP 25: erl_scan + erl_parse:parse_term/1
 * (list_to_pid/1, list_to_ref/1, list_to_port/1 for the opaque types) and
 * io_lib:format("~w", [T]).  The tables were generated with erl and pasted here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "shmets.h"

#define E(...) ((const unsigned char[]){__VA_ARGS__}), sizeof((const unsigned char[]){__VA_ARGS__})

struct text_case {
    const char *text;
    const unsigned char *etf;
    size_t n;
};

/* Text -> term: term_to_binary(T, [{minor_version,2}]) of what OTP 25 parses. */
static const struct text_case parse_cases[] = {
    { "abc", E(131,119,3,97,98,99) },
    { "'quoted atom'", E(131,119,11,113,117,111,116,101,100,32,97,116,111,109) },
    { "'a\\nb'", E(131,119,3,97,10,98) },
    { "'it\\'s'", E(131,119,4,105,116,39,115) },
    { "'a\\\\b'", E(131,119,3,97,92,98) },
    { "'\\x{65E5}'", E(131,119,3,230,151,165) },
    { "'\346\227\245\346\234\254'", E(131,119,6,230,151,165,230,156,172) },
    { "\303\251", E(131,119,2,195,169) },
    { "'\303\251'", E(131,119,2,195,169) },
    { "'\\101\\x41\\^A\\s\\e\\d'", E(131,119,6,65,65,1,32,27,127) },
    { "a@b", E(131,119,3,97,64,98) },
    { "a_B9", E(131,119,4,97,95,66,57) },
    { "''", E(131,119,0) },
    { "true", E(131,119,4,116,114,117,101) },
    { "0", E(131,97,0) },
    { "7", E(131,97,7) },
    { "-7", E(131,98,255,255,255,249) },
    { "16#ff", E(131,97,255) },
    { "16#FF", E(131,97,255) },
    { "2#101", E(131,97,5) },
    { "36#zz", E(131,98,0,0,5,15) },
    { "-16#10", E(131,98,255,255,255,240) },
    { "1_000", E(131,98,0,0,3,232) },
    { "$a", E(131,97,97) },
    { "$\\n", E(131,97,10) },
    { "$ ", E(131,97,32) },
    { "$\\x41", E(131,97,65) },
    { "$\303\251", E(131,97,233) },
    { "$\346\227\245", E(131,98,0,0,101,229) },
    { "$\\377", E(131,97,255) },
    { "255", E(131,97,255) },
    { "256", E(131,98,0,0,1,0) },
    { "-2147483648", E(131,98,128,0,0,0) },
    { "2147483648", E(131,110,4,0,0,0,0,128) },
    { "123456789012345678901234567890", E(131,110,13,0,210,10,63,78,238,224,115,195,246,15,233,
        142,1) },
    { "-123456789012345678901234567890", E(131,110,13,1,210,10,63,78,238,224,115,195,246,15,233,
        142,1) },
    { "18446744073709551616", E(131,110,9,0,0,0,0,0,0,0,0,0,1) },
    { "-1.5e3", E(131,70,192,151,112,0,0,0,0,0) },
    { "1.0e-10", E(131,70,61,219,124,223,217,215,189,187) },
    { "1.0E3", E(131,70,64,143,64,0,0,0,0,0) },
    { "0.1e1", E(131,70,63,240,0,0,0,0,0,0) },
    { "1.0e+3", E(131,70,64,143,64,0,0,0,0,0) },
    { "1_0.0_1", E(131,70,64,36,5,30,184,81,235,133) },
    { "-0.0", E(131,70,128,0,0,0,0,0,0,0) },
    { "0.0", E(131,70,0,0,0,0,0,0,0,0) },
    { "3.14", E(131,70,64,9,30,184,81,235,133,31) },
    { "\"str\"", E(131,107,0,3,115,116,114) },
    { "\"\"", E(131,106) },
    { "\"a\\nb\\t\\\\\\\"\\'\"", E(131,107,0,7,97,10,98,9,92,34,39) },
    { "\"\\x{65E5}\"", E(131,108,0,0,0,1,98,0,0,101,229,106) },
    { "\"\\101\"", E(131,107,0,1,65) },
    { "\"\\^A\"", E(131,107,0,1,1) },
    { "\"\\s\\e\\d\"", E(131,107,0,3,32,27,127) },
    { "\"\346\227\245\346\234\254\"", E(131,108,0,0,0,2,98,0,0,101,229,98,0,0,103,44,106) },
    { "\"\303\251\"", E(131,107,0,1,233) },
    { "\"\\400\"", E(131,108,0,0,0,1,98,0,0,1,0,106) },
    { "<<\"bin\">>", E(131,109,0,0,0,3,98,105,110) },
    { "<<1,2,3>>", E(131,109,0,0,0,3,1,2,3) },
    { "<<\"\303\251\"/utf8>>", E(131,109,0,0,0,2,195,169) },
    { "<<\"\303\251\">>", E(131,109,0,0,0,1,233) },
    { "<<5:3>>", E(131,77,0,0,0,1,3,160) },
    { "<<256>>", E(131,109,0,0,0,1,0) },
    { "<<>>", E(131,109,0,0,0,0) },
    { "<<\"a\", 1, \"b\">>", E(131,109,0,0,0,3,97,1,98) },
    { "<<\"\346\227\245\346\234\254\"/utf8>>", E(131,109,0,0,0,6,230,151,165,230,156,172) },
    { "{}", E(131,104,0) },
    { "{a}", E(131,104,1,119,1,97) },
    { "{rufsen, dog, 7}", E(131,104,3,119,6,114,117,102,115,101,110,119,3,100,111,103,97,7) },
    { "{a,{b,{c}}}", E(131,104,2,119,1,97,104,2,119,1,98,104,1,119,1,99) },
    { "[]", E(131,106) },
    { "[1,2,3]", E(131,107,0,3,1,2,3) },
    { "[a,b]", E(131,108,0,0,0,2,119,1,97,119,1,98,106) },
    { "[1,2|3]", E(131,108,0,0,0,2,97,1,97,2,97,3) },
    { "[1|[2]]", E(131,107,0,2,1,2) },
    { "[a|b]", E(131,108,0,0,0,1,119,1,97,119,1,98) },
    { "[[],[[]]]", E(131,108,0,0,0,2,106,108,0,0,0,1,106,106,106) },
    { "[$a|b]", E(131,108,0,0,0,1,97,97,119,1,98) },
    { "#{}", E(131,116,0,0,0,0) },
    { "#{a => 1}", E(131,116,0,0,0,1,119,1,97,97,1) },
    { "#{b => 1, a => 2}", E(131,116,0,0,0,2,119,1,97,97,2,119,1,98,97,1) },
    { "#{a=>1,a=>2}", E(131,116,0,0,0,1,119,1,97,97,2) },
    { "#{a=>1,b=>2,a=>3}", E(131,116,0,0,0,2,119,1,97,97,3,119,1,98,97,2) },
    { "#{1.5 => a, 2 => b}", E(131,116,0,0,0,2,97,2,119,1,98,70,63,248,0,0,0,0,0,0,119,1,97) },
    { "#{{k} => [v], \"s\" => <<>>}", E(131,116,0,0,0,2,104,1,119,1,107,108,0,0,0,1,119,1,118,106,
        107,0,1,115,109,0,0,0,0) },
    { "<0.5.0>", E(131,88,119,13,110,111,110,111,100,101,64,110,111,104,111,115,116,0,0,0,5,0,0,0,
        0,0,0,0,0) },
    { "<0.5.3>", E(131,88,119,13,110,111,110,111,100,101,64,110,111,104,111,115,116,0,0,0,5,0,0,0,
        3,0,0,0,0) },
    { "#Ref<0.1.2.3>", E(131,90,0,3,119,13,110,111,110,111,100,101,64,110,111,104,111,115,116,0,0,
        0,0,0,0,0,3,0,0,0,2,0,0,0,1) },
    { "#Port<0.9>", E(131,89,119,13,110,111,110,111,100,101,64,110,111,104,111,115,116,0,0,0,9,0,
        0,0,0) },
    { "a.", E(131,119,1,97) },
    { "{a, b}.", E(131,104,2,119,1,97,119,1,98) },
    { "1.", E(131,97,1) },
    { "1.5.", E(131,70,63,248,0,0,0,0,0,0) },
    { "  \012\011 {a , \012 b }  ", E(131,104,2,119,1,97,119,1,98) },
    { "% comment\012{a, % another\012 b} % end", E(131,104,2,119,1,97,119,1,98) },
    { "[1 , 2 ]", E(131,107,0,2,1,2) },
    { "{a,b}.  % trailing comment", E(131,104,2,119,1,97,119,1,98) },
    { "{1, 2.5, \"x\", <<\"y\">>, [a|b], #{k => v}}", E(131,104,6,97,1,70,64,4,0,0,0,0,0,0,107,0,
        1,120,109,0,0,0,1,121,108,0,0,0,1,119,1,97,119,1,98,116,0,0,0,1,119,1,107,119,1,118) },
    { "$\\^a", E(131,97,1) },
    { "$\\s", E(131,97,32) },
    { "$\\'", E(131,97,39) },
    { "$\\\"", E(131,97,34) },
    { "$\\\\", E(131,97,92) },
    { "\"\\z\"", E(131,107,0,1,122) },
    { "'\\z'", E(131,119,1,122) },
    { "[1,2,3|[]]", E(131,107,0,3,1,2,3) },
    { "{ }", E(131,104,0) },
    { "#{ }", E(131,116,0,0,0,0) },
    { "<< >>", E(131,109,0,0,0,0) },
    { "0.5e0", E(131,70,63,224,0,0,0,0,0,0) },
    { "1.0e0010", E(131,70,66,2,160,95,32,0,0,0) },
    { "$\\x{10FFFF}", E(131,98,0,16,255,255) },
    { "<<\"\\x{65E5}\"/utf8>>", E(131,109,0,0,0,3,230,151,165) },
    { "<<1:1,0:1,1:1>>", E(131,77,0,0,0,1,3,160) },
    { "<<255:4>>", E(131,77,0,0,0,1,4,240) },
    { "<<1,2:3>>", E(131,77,0,0,0,2,3,1,64) },
    { "<<65:8, \"b\">>", E(131,109,0,0,0,2,65,98) },
    { "'\\x{1F600}'", E(131,119,4,240,159,152,128) },
    { "\"\\x{1F600}\"", E(131,108,0,0,0,1,98,0,1,246,0,106) },
    { "\"\\1\\12\\123\\1234\"", E(131,107,0,5,1,10,83,83,52) },
    { "<<\"\">>", E(131,109,0,0,0,0) },
    { "[a|[b|[c|[]]]]", E(131,108,0,0,0,3,119,1,97,119,1,98,119,1,99,106) },
    { "\"\\b\\f\\v\\r\"", E(131,107,0,4,8,12,11,13) },
    { "'\\''", E(131,119,1,39) },
    { "-0", E(131,97,0) },
    { "- 16#ff", E(131,98,255,255,255,1) },
    { "#{\"ab\"=>1,[97,98]=>2}", E(131,116,0,0,0,1,107,0,2,97,98,97,2) },
    { "#{1=>a,1.0=>b,1=>c}", E(131,116,0,0,0,2,97,1,119,1,99,70,63,240,0,0,0,0,0,0,119,1,98) },
    { "#{{a,\"x\"}=>1, {a,[$x]}=>2}", E(131,116,0,0,0,1,104,2,119,1,97,107,0,1,120,97,2) },
};

/* Text OTP 25 refuses (erl_scan:string/1 + erl_parse:parse_term/1 fail). */
static const char *const syntax_errors[] = {
    "[1,2",
    "{a",
    "{a}}",
    "X",
    "_",
    "Abc",
    "1 + 2",
    "\"abc",
    "'abc",
    "1e5",
    "case",
    "end",
    "a b",
    "[1,]",
    "{,}",
    "<<1,2",
    "#{a}",
    "#{a => }",
    "",
    "   ",
    "% only a comment",
    "2#102",
    "1__0",
    "1_",
    "1.5.5",
    "[1|2|3]",
    "[|2]",
    "{a,b,}",
    "a..",
    ".",
    "$",
    "<<1:>>",
    "#{a => 1,}",
    "'a' 'b'",
    "fun",
    "1.e5",
    "16#",
    "0x10",
    "f(x)",
    "a:b",
    "#",
    "<<",
    "}",
};

/* Term -> io_lib:format("~w", [T]) of OTP 25. */
static const struct text_case format_cases[] = {
    { "1.0", E(131,70,63,240,0,0,0,0,0,0) },
    { "0.1", E(131,70,63,185,153,153,153,153,153,154) },
    { "1.0e20", E(131,70,68,21,175,29,120,181,140,64) },
    { "1.0e15", E(131,70,67,12,107,245,38,52,0,0) },
    { "1.0e16", E(131,70,67,65,195,121,55,224,128,0) },
    { "123456789.0", E(131,70,65,157,111,52,84,0,0,0) },
    { "1.0e-5", E(131,70,62,228,248,181,136,227,104,241) },
    { "0.001", E(131,70,63,80,98,77,210,241,169,252) },
    { "1.2345678901234568e16", E(131,70,67,69,238,42,46,181,165,196) },
    { "9.007199254740992e15", E(131,70,67,64,0,0,0,0,0,0) },
    { "-0.0", E(131,70,128,0,0,0,0,0,0,0) },
    { "0.0", E(131,70,0,0,0,0,0,0,0,0) },
    { "5.0e-324", E(131,70,0,0,0,0,0,0,0,1) },
    { "1.7976931348623157e308", E(131,70,127,239,255,255,255,255,255,255) },
    { "2.2250738585072014e-308", E(131,70,0,16,0,0,0,0,0,0) },
    { "-1.5e3", E(131,70,192,151,112,0,0,0,0,0) },
    { "1.0e-10", E(131,70,61,219,124,223,217,215,189,187) },
    { "100.0", E(131,70,64,89,0,0,0,0,0,0) },
    { "0.5", E(131,70,63,224,0,0,0,0,0,0) },
    { "3.14", E(131,70,64,9,30,184,81,235,133,31) },
    { "2.5e-8", E(131,70,62,90,215,242,154,188,175,72) },
    { "1.0e21", E(131,70,68,75,26,228,214,226,239,80) },
    { "1.0e22", E(131,70,68,128,240,207,6,77,213,146) },
    { "123.456", E(131,70,64,94,221,47,26,159,190,119) },
    { "-2.5", E(131,70,192,4,0,0,0,0,0,0) },
    { "0", E(131,97,0) },
    { "7", E(131,97,7) },
    { "-5", E(131,98,255,255,255,251) },
    { "255", E(131,97,255) },
    { "256", E(131,98,0,0,1,0) },
    { "2147483647", E(131,98,127,255,255,255) },
    { "-2147483648", E(131,98,128,0,0,0) },
    { "2147483648", E(131,110,4,0,0,0,0,128) },
    { "1180591620717411303424", E(131,110,9,0,0,0,0,0,0,0,0,0,64) },
    { "-1180591620717411303424", E(131,110,9,1,0,0,0,0,0,0,0,0,64) },
    { "a", E(131,119,1,97) },
    { "'hello world'", E(131,119,11,104,101,108,108,111,32,119,111,114,108,100) },
    { "'and'", E(131,119,3,97,110,100) },
    { "'Abc'", E(131,119,3,65,98,99) },
    { "''", E(131,119,0) },
    { "'a\\nb'", E(131,119,3,97,10,98) },
    { "'it\\'s'", E(131,119,4,105,116,39,115) },
    { "'a\\\\b'", E(131,119,3,97,92,98) },
    { "'\\001'", E(131,119,1,1) },
    { "'\\d'", E(131,119,1,127) },
    { "\303\251", E(131,119,2,195,169) },
    { "'\\x{65E5}'", E(131,119,3,230,151,165) },
    { "'a\\x{65E5}b'", E(131,119,5,97,230,151,165,98) },
    { "a@b", E(131,119,3,97,64,98) },
    { "'a.b'", E(131,119,3,97,46,98) },
    { "a_B9", E(131,119,4,97,95,66,57) },
    { "'_a'", E(131,119,2,95,97) },
    { "\303\274", E(131,119,2,195,188) },
    { "\303\277", E(131,119,2,195,191) },
    { "'\302\240'", E(131,119,2,194,160) },
    { "'\\200'", E(131,119,2,194,128) },
    { "'\\237'", E(131,119,2,194,159) },
    { "\303\237", E(131,119,2,195,159) },
    { "'\303\227'", E(131,119,2,195,151) },
    { "'\303\204'", E(131,119,2,195,132) },
    { "'a b\\tc'", E(131,119,5,97,32,98,9,99) },
    { "'\\e'", E(131,119,1,27) },
    { "'\\b\\v\\f\\r \"\\''", E(131,119,7,8,11,12,13,32,34,39) },
    { "'\"'", E(131,119,1,34) },
    { "'case'", E(131,119,4,99,97,115,101) },
    { "'of'", E(131,119,2,111,102) },
    { "'end'", E(131,119,3,101,110,100) },
    { "'fun'", E(131,119,3,102,117,110) },
    { "'when'", E(131,119,4,119,104,101,110) },
    { "'orelse'", E(131,119,6,111,114,101,108,115,101) },
    { "'bnot'", E(131,119,4,98,110,111,116) },
    { "'div'", E(131,119,3,100,105,118) },
    { "'receive'", E(131,119,7,114,101,99,101,105,118,101) },
    { "'catch'", E(131,119,5,99,97,116,99,104) },
    { "'cond'", E(131,119,4,99,111,110,100) },
    { "'let'", E(131,119,3,108,101,116) },
    { "'rem'", E(131,119,3,114,101,109) },
    { "'xor'", E(131,119,3,120,111,114) },
    { "'not'", E(131,119,3,110,111,116) },
    { "true", E(131,119,4,116,114,117,101) },
    { "false", E(131,119,5,102,97,108,115,101) },
    { "nil", E(131,119,3,110,105,108) },
    { "ok", E(131,119,2,111,107) },
    { "[104,105]", E(131,107,0,2,104,105) },
    { "[]", E(131,106) },
    { "[233]", E(131,107,0,1,233) },
    { "[26085]", E(131,108,0,0,0,1,98,0,0,101,229,106) },
    { "[0]", E(131,107,0,1,0) },
    { "[[]]", E(131,108,0,0,0,1,106,106) },
    { "[a,b|c]", E(131,108,0,0,0,2,119,1,97,119,1,98,119,1,99) },
    { "[97|b]", E(131,108,0,0,0,1,97,97,119,1,98) },
    { "[1,2|3]", E(131,108,0,0,0,2,97,1,97,2,97,3) },
    { "[1,a,[98],{c}]", E(131,108,0,0,0,4,97,1,119,1,97,107,0,1,98,104,1,119,1,99,106) },
    { "<<104,105>>", E(131,109,0,0,0,2,104,105) },
    { "<<1,2:3>>", E(131,77,0,0,0,2,3,1,64) },
    { "<<>>", E(131,109,0,0,0,0) },
    { "<<5:3>>", E(131,77,0,0,0,1,3,160) },
    { "<<0:1>>", E(131,77,0,0,0,1,1,0) },
    { "<<255,255,127:7>>", E(131,77,0,0,0,3,7,255,255,254) },
    { "<<195,169>>", E(131,109,0,0,0,2,195,169) },
    { "#{1 => 2,a => 1}", E(131,116,0,0,0,2,97,1,97,2,119,1,97,97,1) },
    { "#{}", E(131,116,0,0,0,0) },
    { "#{2 => b,1.5 => a}", E(131,116,0,0,0,2,97,2,119,1,98,70,63,248,0,0,0,0,0,0,119,1,97) },
    { "#{[1] => {x},<<>> => #{}}", E(131,116,0,0,0,2,107,0,1,1,104,1,119,1,120,109,0,0,0,0,116,0,
        0,0,0) },
    { "{}", E(131,104,0) },
    { "{a,{b,[c]}}", E(131,104,2,119,1,97,104,2,119,1,98,108,0,0,0,1,119,1,99,106) },
    { "{1,2.5,[120],<<121>>}", E(131,104,4,97,1,70,64,4,0,0,0,0,0,0,107,0,1,120,109,0,0,0,1,121) },
    { "<0.5.0>", E(131,88,119,13,110,111,110,111,100,101,64,110,111,104,111,115,116,0,0,0,5,0,0,0,
        0,0,0,0,0) },
    { "<0.5.3>", E(131,88,119,13,110,111,110,111,100,101,64,110,111,104,111,115,116,0,0,0,5,0,0,0,
        3,0,0,0,0) },
    { "<0.0.0>", E(131,88,119,13,110,111,110,111,100,101,64,110,111,104,111,115,116,0,0,0,0,0,0,0,
        0,0,0,0,0) },
    { "#Port<0.9>", E(131,89,119,13,110,111,110,111,100,101,64,110,111,104,111,115,116,0,0,0,9,0,
        0,0,0) },
    { "#Ref<0.3.2.1>", E(131,90,0,3,119,13,110,111,110,111,100,101,64,110,111,104,111,115,116,0,0,
        0,0,0,0,0,1,0,0,0,2,0,0,0,3) },
    { "fun erlang:length/1", E(131,113,119,6,101,114,108,97,110,103,119,6,108,101,110,103,116,104,
        97,1) },
    { "#Fun<genfmt.1.76758202>", E(131,112,0,0,0,74,0,146,103,151,94,107,57,134,77,61,230,36,209,
        6,127,250,28,0,0,0,1,0,0,0,1,119,6,103,101,110,102,109,116,97,1,98,4,147,60,186,88,119,13,
        110,111,110,111,100,101,64,110,111,104,111,115,116,0,0,0,9,0,0,0,0,0,0,0,0,97,42) },
    { "a\303\251", E(131,119,3,97,195,169) },
    { "\303\251a", E(131,119,3,195,169,97) },
    { "'a\303\227b'", E(131,119,4,97,195,151,98) },
    { "\303\237a", E(131,119,3,195,159,97) },
    { "'\303\211a'", E(131,119,3,195,137,97) },
    { "'a\\x{100}'", E(131,119,3,97,196,128) },
    { "'a@b.c'", E(131,119,5,97,64,98,46,99) },
    { "a1", E(131,119,2,97,49) },
    { "'A'", E(131,119,1,65) },
    { "'_'", E(131,119,1,95) },
    { "'a-b'", E(131,119,3,97,45,98) },
    { "'a\302\255'", E(131,119,3,97,194,173) },
    { "'\\x{1F600}'", E(131,119,4,240,159,152,128) },
    { "'a\\d'", E(131,119,2,97,127) },
    { "'\302\252'", E(131,119,2,194,170) },
    { "'\302\272a'", E(131,119,3,194,186,97) },
    { "'\302\265'", E(131,119,2,194,181) },
    { "a\303\236", E(131,119,3,97,195,158) },
    { "'\303\200\303\277\303\236'", E(131,119,6,195,128,195,191,195,158) },
    { "'\303\277\\x{20AC}'", E(131,119,5,195,191,226,130,172) },
    { "[1|2]", E(131,108,0,0,0,1,97,1,97,2) },
    { "[[1|2]|3]", E(131,108,0,0,0,1,108,0,0,0,1,97,1,97,2,97,3) },
    { "{[]}", E(131,104,1,106) },
    { "[#{}]", E(131,108,0,0,0,1,116,0,0,0,0,106) },
    { "#{#{} => #{}}", E(131,116,0,0,0,1,116,0,0,0,0,116,0,0,0,0) },
    { "<<0,0:7>>", E(131,77,0,0,0,2,7,0,0) },
    /* Other nodes print as node 1 (documented; Erlang prints its own node index). */
    { "<1.5.1>", E(131, 88, 119, 3, 'x', '@', 'y', 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 3) },
    { "#Port<1.9>", E(131, 89, 119, 3, 'x', '@', 'y', 0, 0, 0, 9, 0, 0, 0, 3) },
    { "#Ref<1.9.8.7>", E(131, 90, 0, 3, 119, 3, 'x', '@', 'y', 0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 8,
                         0, 0, 0, 9) },
};

/* Floats: bit pattern -> io_lib:format("~w", [F]) of OTP 25 (random and chosen values). */
static const struct {
    uint64_t bits;
    const char *text;
} float_cases[] = {
    { 0x2a6a6ce32c1a0ed0ULL, "2.3043695068794426e-104" },
    { 0x28e69bf5ac5a2176ULL, "1.1751603981349682e-111" },
    { 0xa880a74ae362ffa9ULL, "-1.3524985602560558e-113" },
    { 0x38502ed70de63853ULL, "1.9022988601546975e-37" },
    { 0xc3437f5f8b14688aULL, "-1.0976145778987284e16" },
    { 0xd8b7a88e5a097279ULL, "-2.386404594582852e119" },
    { 0x980fbf4635217cfcULL, "-8.697966640227551e-193" },
    { 0x2691d8b17b23aa5dULL, "6.749223586165827e-123" },
    { 0x6380214705a27a4aULL, "1.947967232682318e171" },
    { 0xac4126f024cb325cULL, "-1.6060117888363187e-95" },
    { 0x74d4de3adc2622d6ULL, "6.119824377526386e254" },
    { 0xcf820951f62ea5ecULL, "-1.019762322074424e75" },
    { 0x0d5a22c0da0e3278ULL, "2.3923162096635723e-244" },
    { 0x365140c5a5709d95ULL, "4.72199699315855e-47" },
    { 0x4f4eaaf62d39c446ULL, "1.0837069146400602e74" },
    { 0x5bd8ef4aaf46ffbfULL, "2.8318015276747277e134" },
    { 0x75fcd5f8d883f920ULL, "2.2168111769361642e260" },
    { 0x05b617e462f53be8ULL, "3.803515684813692e-281" },
    { 0xdb92a88ce026ece7ULL, "-1.324379624619132e133" },
    { 0x7a68023cf5cdbf32ULL, "4.358081825445801e281" },
    { 0xdff241a7142fb15fULL, "-1.5298690694867896e154" },
    { 0xdf4394910bb4d0aaULL, "-8.011761904482869e150" },
    { 0x507c430c6e64071eULL, "5.236008677685683e79" },
    { 0x0bd217c74e2dd3d6ULL, "9.871234161252267e-252" },
    { 0x5762c12e0a0cdef7ULL, "9.020620243042722e112" },
    { 0x1fca99ee0fbf3339ULL, "1.550011528227777e-155" },
    { 0xed7f7cd2c269a844ULL, "-2.7787936350810414e219" },
    { 0x4625877974590e61ULL, "8.528593592934572e29" },
    { 0x7f3bc9dfb180e4cbULL, "7.622577009535267e304" },
    { 0xdf25e09fe95a5560ULL, "-2.237918962667208e150" },
    { 0x32ef1d01303cb648ULL, "2.363507536755051e-63" },
    { 0x879c39123b8320a3ULL, "-5.217063173048692e-272" },
    { 0x89d40417a0d7a4bbULL, "-2.5426158557459773e-261" },
    { 0xea4c44e15558cd3dULL, "-1.1078947398388547e204" },
    { 0xdc40ff283b3e9306ULL, "-2.4707730586107884e136" },
    { 0x67e13a4b20392767ULL, "2.4562624535565637e192" },
    { 0x11b60faf868b5c31ULL, "2.3840413092763187e-223" },
    { 0x20f8b2bcdcdba1adULL, "7.545141193026292e-150" },
    { 0x4d4b9a9262bbf94cULL, "2.271108619708943e64" },
    { 0xca983e309c86f18cULL, "-2.2675891708760186e51" },
    { 0x43b4bdc8c4556fc7ULL, "1.4945713969294067e18" },
    { 0xc9be7c5622a8afd6ULL, "-1.7404251897974689e47" },
    { 0x95f9a2956bf56922ULL, "-8.176318863397341e-203" },
    { 0xfad51b33b1af9833ULL, "-4.903962786781236e283" },
    { 0x2b460239c0b0d99bULL, "3.1444574298900757e-100" },
    { 0x0142eddc53aaf8b6ULL, "1.3801469258240012e-302" },
    { 0x35d8b0b3eb4f4b79ULL, "2.639648658071194e-49" },
    { 0x3a5e9f281fc51b24ULL, "1.5460010694901899e-27" },
    { 0x4e956cf3a78e0a46ULL, "3.696850183439863e70" },
    { 0x73b0363894235d4bULL, "1.8136258050160192e249" },
    { 0x9c796cd530563b98ULL, "-1.644771712768886e-171" },
    { 0x7f370afc9d0fd1d6ULL, "6.320815099418196e304" },
    { 0xdffbf7a96e62c001ULL, "-2.3436369824741467e154" },
    { 0x0743ae614f38a3f6ULL, "1.1369069308992784e-273" },
    { 0x3aa6b6c8b7058990ULL, "3.6696446428639244e-26" },
    { 0xe0a57cc9bc14cb45ULL, "-3.6876754658918415e157" },
    { 0x57e1c6149d460391ULL, "2.1885046512742085e115" },
    { 0x2f8e2391b16bf7a6ULL, "1.2709227631109062e-79" },
    { 0x4406b24848ce03e0ULL, "5.233437095104374e19" },
    { 0xcec2ed5d24dc000cULL, "-2.612615016170754e71" },
    { 0x69ab218510797373ULL, "1.0383694746998562e201" },
    { 0xd958bd1079a21aefULL, "-2.555242915802312e122" },
    { 0xcdee24ee0c2df7f5ULL, "-2.5396486550236058e67" },
    { 0xb02709f5e162d528ULL, "-9.948394678395668e-77" },
    { 0x415feb97e3280b78ULL, "8367711.549319141" },
    { 0x0b3ac0a01b814a07ULL, "1.4253683957408988e-254" },
    { 0xe6745a0a25489e98ULL, "-3.459062490399433e185" },
    { 0x39ddfc0bd8a5c14cULL, "5.913410949846385e-30" },
    { 0xff85bef5b3ddd8ceULL, "-1.9088145010001662e306" },
    { 0x9a1c08ae517cdb32ULL, "-6.597605110508129e-183" },
    { 0x11d6169522fa51c6ULL, "9.547810742189598e-223" },
    { 0xea82cff8135f5459ULL, "-1.1796435191063832e205" },
    { 0x19bd46dd3a585589ULL, "1.0765804084065974e-184" },
    { 0x38368e3c7d2a5b90ULL, "6.628498176935246e-38" },
    { 0x2dca87117ec7ef61ULL, "4.167248651760785e-88" },
    { 0x715deabe1501312eULL, "1.217570437934207e238" },
    { 0xf96c0539e007eb4dULL, "-7.761051864799002e276" },
    { 0x66fe546e1419c9a2ULL, "1.319674803997604e188" },
    { 0x2fd21e4b193ab8a8ULL, "2.4448903326842286e-78" },
    { 0x8227c5aee0dcab39ULL, "-2.8397733241743917e-298" },
    { 0xb939ccd3f12e308fULL, "-4.968920245297045e-33" },
    { 0x5ff714d0477f701cULL, "1.9341854912489998e154" },
    { 0x328e8096fa2b8bf0ULL, "3.6204586433340515e-65" },
    { 0xe3fda7bff82dabdaULL, "-4.584156606115796e173" },
    { 0xdc83c588a339524dULL, "-4.598648408745407e137" },
    { 0xcd21480dc21ddb3aULL, "-3.554590134925081e63" },
    { 0xfa0167bf5906a2ecULL, "-4.936584682237485e279" },
    { 0x5aff4b39f7cf1d02ULL, "2.169187964456988e130" },
    { 0xeffe298106bdd86fULL, "-2.926702801252144e231" },
    { 0xbc2cebf5ad248d21ULL, "-7.839247229177311e-19" },
    { 0x47efc61ff5ea085dULL, "3.3787832708279536e38" },
    { 0x3d449af254825937ULL, "1.4640917928042832e-13" },
    { 0x624c77e1226b2c9cULL, "3.278754130705915e165" },
    { 0x85cf0030444e314dULL, "-1.0673972161328479e-280" },
    { 0x7f4d7c78c0d3f223ULL, "1.6176504778846518e305" },
    { 0x2d851bdaac271c7cULL, "2.072501975650401e-89" },
    { 0x17c107ccfa3299e4ULL, "2.916214574616206e-194" },
    { 0x9c77d48310116767ULL, "-1.5415896932790144e-171" },
    { 0xe507a9d4682a6b47ULL, "-4.794513457051999e178" },
    { 0x7de3ed4a5c5a9a93ULL, "2.606428455445046e298" },
    { 0x5a9d39c0a4d42c8bULL, "3.165348580550625e128" },
    { 0x567345e1a020d361ULL, "2.828962511699054e108" },
    { 0x50ad892163840d96ULL, "4.377595444383036e80" },
    { 0xe0d1e62ab75d7ab5ULL, "-2.4574725267038486e158" },
    { 0xdde876f2dbc905aeULL, "-2.3866395165134317e144" },
    { 0x305a3a78376bd481ULL, "9.060514247840867e-76" },
    { 0xe2f98cf176daba11ULL, "-6.0266782066669736e168" },
    { 0xfe2b849da44d0bf1ULL, "-5.7589465724687984e299" },
    { 0xb48ac387becf6b12ULL, "-1.3643896785713291e-55" },
    { 0xfced356a3f53fa73ULL, "-5.829580595944585e293" },
    { 0x20547f09449b120fULL, "6.114716223686337e-153" },
    { 0x630aeba3e6047d98ULL, "1.2699605111276989e169" },
    { 0xc6f66866cee6b3cdULL, "-7.27175292449603e33" },
    { 0x30c920ae6df4df18ULL, "1.111074410639519e-73" },
    { 0x1458e8e08c3094fdULL, "1.183889389501288e-210" },
    { 0x195fdff684fb89b9ULL, "1.83143251127013e-186" },
    { 0xfba57b6f6882d2b4ULL, "-4.088876556160144e287" },
    { 0x35eafaeeee1cf72aULL, "5.7689398858884316e-49" },
    { 0xa321c26dbe8caaa8ULL, "-1.8641567787644052e-139" },
    { 0x4af1f1953efc0f02ULL, "1.0741646503182872e53" },
    { 0x14c265b5b0bfa614ULL, "1.119198680502171e-208" },
    { 0x1bde6cae510af77bULL, "1.9220579207141406e-174" },
    { 0xa4f83d108540842bULL, "-1.3659293212321037e-130" },
    { 0x1c5714b97d511d43ULL, "3.7328133068919065e-172" },
    { 0x7dcaea728e039a5dULL, "8.801429011356011e297" },
    { 0x6390edbb0ffda604ULL, "4.0888342173038325e171" },
    { 0xbe9fddbee64e750dULL, "-4.748432956227276e-7" },
    { 0x9da7694999367cf2ULL, "-7.940311560436206e-166" },
    { 0x1ad23c37ba16007cULL, "1.7578172702123496e-179" },
    { 0x29e2ec1fec444f1dULL, "6.445652633715531e-107" },
    { 0xd8da4dd730043b86ULL, "-1.0613073124711881e120" },
    { 0x212251726bdaeeb3ULL, "4.476863136696698e-149" },
    { 0x8878bd57640e55c4ULL, "-7.492673354090793e-268" },
    { 0x944f3b66f47b473bULL, "-7.421870913431911e-211" },
    { 0x30449c08904e5f0eULL, "3.559743296347189e-76" },
    { 0x365d06ab0b3e5c14ULL, "7.944171031134644e-47" },
    { 0xf459bcb74e9980e6ULL, "-2.9483375891254348e252" },
    { 0x6d7ad6714916dd56ULL, "2.3684357401405047e219" },
    { 0x8c23c3970f17f88bULL, "-3.450555192869914e-250" },
    { 0x6b77312bebfe0a99ULL, "4.7653700756028154e209" },
    { 0xa6106e84b70f6f73ULL, "-2.427418413205406e-125" },
    { 0x08b3809ce6d39465ULL, "9.45043456421948e-267" },
    { 0xf66264582cdfb8d7ULL, "-1.8098163240694424e262" },
    { 0x52fcdc4a7c237e55ULL, "5.8789900322014375e91" },
    { 0xda8a86fe013f1662ULL, "-1.4365522982808023e128" },
    { 0xb73a97c3967e67a1ULL, "-1.1924636574811407e-42" },
    { 0x877f36e21b1a7a95ULL, "-1.4425097457886166e-272" },
    { 0xaec0e0895ebe8e81ULL, "-1.7375164824891385e-83" },
    { 0x5079a011d44c609fULL, "4.747526061337097e79" },
    { 0xabe507287a31ab12ULL, "-3.076440925094884e-97" },
    { 0x44b52d02c7e14af6ULL, "1.0e23" },
    { 0x4480f0cf064dd592ULL, "1.0e22" },
    { 0x44b52d02c7e14af6ULL, "1.0e23" },
    { 0x3e7ad7f29abcaf48ULL, "1.0e-7" },
    { 0x3eb0c6f7a0b5ed8dULL, "1.0e-6" },
    { 0x3f1a36e2eb1c432dULL, "0.0001" },
    { 0x40c81cd6c8b43958ULL, "12345.678" },
    { 0x4376345785d8a000ULL, "1.0e17" },
    { 0x4341c37937e08000ULL, "1.0e16" },
    { 0x4011666666666666ULL, "4.35" },
    { 0x3fd3333333333333ULL, "0.3" },
    { 0x3fe5555555555555ULL, "0.6666666666666666" },
    { 0x4059200000000000ULL, "100.5" },
    { 0x7e41eb2d66005835ULL, "1.5e300" },
    { 0x01a56e1fc2f8f359ULL, "1.0e-300" },
    { 0x00000000000013c4ULL, "2.5e-320" },
    { 0x437b69b4ba630f35ULL, "1.2345678901234568e17" },
    { 0x7fefffffffffffffULL, "1.7976931348623157e308" },
    { 0x0000000000000001ULL, "5.0e-324" },
    { 0x4040800000000000ULL, "33.0" },
    { 0x54b249ad2594c37dULL, "1.0e100" },
    { 0x40f0000000000000ULL, "65536.0" },
    { 0x3fc999999999999aULL, "0.2" },
    { 0x3e080d43de9cc603ULL, "7.0e-10" },
    { 0x3eff75104d551d69ULL, "3.0e-5" },
};

static void dump(const char *what, const unsigned char *p, size_t n)
{
    print_message("%s (%zu bytes):", what, n);
    for (size_t i = 0; i < n && i < 64; i++)
        print_message(" %u", p[i]);
    print_message("%s\n", n > 64 ? " ..." : "");
}

/* Parse text from a buffer of exactly its length (no NUL after it), so that ASan sees any read
 * past the end. */
static int parse(const char *text, shmets_term *t)
{
    size_t len = strlen(text);
    char *copy = malloc(len ? len : 1);
    int rc;

    assert_non_null(copy);
    memcpy(copy, text, len);
    rc = shmets_term_parse(copy, len, t);
    free(copy);
    return rc;
}

/* format(t) must be `expect`. */
static void check_format(shmets_term t, const char *expect)
{
    char *out = NULL;
    size_t len = 0;
    int rc = shmets_term_format(t, &out, &len);
    if (rc != 0 || strcmp(out, expect) != 0 || len != strlen(expect)) {
        print_message("format: rc %d, got \"%s\" (%zu), expected \"%s\"\n", rc, out ? out : "",
                      len, expect);
        dump("term", t.ptr, t.len);
        fail();
    }
    free(out);
}

/* parse(format(t)) must be t. */
static void check_reparse(shmets_term t)
{
    char *out = NULL;
    shmets_term u = { NULL, 0 };
    int rc;

    assert_int_equal(shmets_term_format(t, &out, NULL), 0);
    rc = parse(out, &u);
    if (rc != 0 || !shmets_term_exact_equal(t, u)) {
        print_message("parse(format(t)) differs for \"%s\": rc %d (%s)\n", out, rc,
                      shmets_errdetail());
        dump("t", t.ptr, t.len);
        if (rc == 0)
            dump("u", u.ptr, u.len);
        fail();
    }
    shmets_term_free(&u);
    free(out);
}

static void test_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
        const struct text_case *c = &parse_cases[i];
        shmets_term t = { NULL, 0 };
        int rc = parse(c->text, &t);
        if (rc != 0 || t.len + 1 != c->n || memcmp(t.ptr, c->etf + 1, t.len) != 0) {
            print_message("parse \"%s\": rc %d (%s)\n", c->text, rc, shmets_errdetail());
            dump("expected", c->etf + 1, c->n - 1);
            if (rc == 0)
                dump("got     ", t.ptr, t.len);
            fail();
        }
        check_reparse(t);
        shmets_term_free(&t);
    }
}

static void test_syntax_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof syntax_errors / sizeof syntax_errors[0]; i++) {
        shmets_term t = { (const unsigned char *)"x", 1 };
        int rc = parse(syntax_errors[i], &t);
        if (rc != -SHMETS_ESYNTAX || t.ptr != NULL || t.len != 0 ||
            strlen(shmets_errdetail()) == 0) {
            print_message("parse \"%s\": rc %d, detail \"%s\", expected -SHMETS_ESYNTAX\n",
                          syntax_errors[i], rc, shmets_errdetail());
            if (rc == 0) {
                dump("got", t.ptr, t.len);
                shmets_term_free(&t);
            }
            fail();
        }
    }
}

/* The detail names the line of the error. */
static void test_error_position(void **state)
{
    shmets_term t;
    const char *text = "{a,\n b,\n X}";
    (void)state;

    assert_int_equal(shmets_term_parse(text, strlen(text), &t), -SHMETS_ESYNTAX);
    assert_non_null(strstr(shmets_errdetail(), "3"));
}

/* Only `len` bytes are read; NULs and bytes past len do not count. */
static void test_parse_length(void **state)
{
    shmets_term t = { NULL, 0 };
    (void)state;

    assert_int_equal(shmets_term_parse("[1,2]garbage", 5, &t), 0);
    assert_int_equal(t.len, 5);
    assert_memory_equal(t.ptr, "\x6b\x00\x02\x01\x02", 5);
    shmets_term_free(&t);
    assert_int_equal(shmets_term_parse("abc", 2, &t), 0);
    assert_memory_equal(t.ptr, "\x77\x02" "ab", 4);
    shmets_term_free(&t);
    assert_int_equal(shmets_term_parse("{a}\0", 4, &t), -SHMETS_ESYNTAX);
    assert_null(t.ptr);
    assert_int_equal(shmets_term_parse("{a,\0b}", 6, &t), -SHMETS_ESYNTAX);
    assert_int_equal(shmets_term_parse("ab\0c", 4, &t), -SHMETS_ESYNTAX);
    assert_int_equal(shmets_term_parse(NULL, 3, &t), -SHMETS_EINVAL);
    assert_int_equal(shmets_term_parse("a", 1, NULL), -SHMETS_EINVAL);
}

static void test_format_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof format_cases / sizeof format_cases[0]; i++) {
        const struct text_case *c = &format_cases[i];
        shmets_term t = { NULL, 0 };
        int rc = shmets_term_from_etf(c->etf, c->n, 0, &t);
        if (rc != 0) {
            print_message("from_etf for \"%s\": rc %d (%s)\n", c->text, rc, shmets_errdetail());
            fail();
        }
        check_format(t, c->text);
        /* Funs and other nodes' pids, ports and refs do not read back. */
        if (strncmp(c->text, "#Fun<", 5) != 0 && strncmp(c->text, "fun ", 4) != 0 &&
            strncmp(c->text, "<1.", 3) != 0 && strncmp(c->text, "#Port<1.", 8) != 0 &&
            strncmp(c->text, "#Ref<1.", 7) != 0)
            check_reparse(t);
        shmets_term_free(&t);
    }
}

static void test_format_floats(void **state)
{
    shmets_builder *b;
    (void)state;

    assert_int_equal(shmets_builder_create(&b), 0);
    for (size_t i = 0; i < sizeof float_cases / sizeof float_cases[0]; i++) {
        shmets_term t;
        double d;
        memcpy(&d, &float_cases[i].bits, sizeof d);
        assert_int_equal(shmets_build_float(b, d), 0);
        assert_int_equal(shmets_builder_finish(b, &t), 0);
        check_format(t, float_cases[i].text);
        check_reparse(t);
        shmets_term_free(&t);
    }
    shmets_builder_destroy(b);
}

/* Every float read back from its text is the same float (a PRNG walk over bit patterns). */
static void test_float_round_trip(void **state)
{
    shmets_builder *b;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    (void)state;

    assert_int_equal(shmets_builder_create(&b), 0);
    for (int i = 0; i < 8000; i++) {
        shmets_term t;
        uint64_t bits;
        double d;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bits = x;
        if (i % 4 == 1)
            bits &= 0x800fffffffffffffULL;           /* subnormals */
        else if (i % 4 == 2)
            bits = (bits & 0x80000000ffffffffULL) | (0x3ffULL + (i % 80) - 40) << 52;
        if (((bits >> 52) & 0x7ff) == 0x7ff)
            continue;                                /* NaN and infinities are not terms */
        memcpy(&d, &bits, sizeof d);
        assert_int_equal(shmets_build_float(b, d), 0);
        assert_int_equal(shmets_builder_finish(b, &t), 0);
        check_reparse(t);
        shmets_term_free(&t);
    }
    shmets_builder_destroy(b);
}

static void test_format_args(void **state)
{
    shmets_term t = { NULL, 0 };
    char *out = NULL;
    (void)state;

    assert_int_equal(parse("{a}", &t), 0);
    assert_int_equal(shmets_term_format(t, NULL, NULL), -SHMETS_EINVAL);
    assert_int_equal(shmets_term_format(t, &out, NULL), 0);
    assert_string_equal(out, "{a}");
    free(out);
    shmets_term_free(&t);
}

/* Long and deep terms print and read back. */
static void test_long_and_deep(void **state)
{
    shmets_builder *b;
    shmets_term t;
    char *out;
    size_t len;
    (void)state;

    assert_int_equal(shmets_builder_create(&b), 0);
    for (int i = 0; i < SHMETS_TERM_MAX_DEPTH - 1; i++)
        assert_int_equal(shmets_build_list(b, 1), 0);
    assert_int_equal(shmets_build_atom(b, "x", 1), 0);
    for (int i = 0; i < SHMETS_TERM_MAX_DEPTH - 1; i++)
        assert_int_equal(shmets_build_nil(b), 0);
    assert_int_equal(shmets_builder_finish(b, &t), 0);
    assert_int_equal(shmets_term_format(t, &out, &len), 0);
    assert_int_equal(len, 2 * (SHMETS_TERM_MAX_DEPTH - 1) + 1);
    assert_int_equal(out[0], '[');
    assert_int_equal(out[SHMETS_TERM_MAX_DEPTH - 1], 'x');
    free(out);
    check_reparse(t);
    shmets_term_free(&t);

    assert_int_equal(shmets_build_list(b, 10000), 0);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(shmets_build_int(b, i % 1000), 0);
    assert_int_equal(shmets_build_atom(b, "tail", 4), 0);
    assert_int_equal(shmets_builder_finish(b, &t), 0);
    check_reparse(t);
    shmets_term_free(&t);
    shmets_builder_destroy(b);
}

/* The largest integer prints as decimal and reads back. */
static void test_huge_integer(void **state)
{
    shmets_builder *b;
    shmets_term t;
    unsigned char *mag = malloc(SHMETS_BIG_MAX_BYTES);
    char *out;
    size_t len;
    (void)state;

    assert_non_null(mag);
    memset(mag, 0xff, SHMETS_BIG_MAX_BYTES);
    assert_int_equal(shmets_builder_create(&b), 0);
    assert_int_equal(shmets_build_bigint(b, 1, mag, SHMETS_BIG_MAX_BYTES), 0);
    assert_int_equal(shmets_builder_finish(b, &t), 0);
    assert_int_equal(shmets_term_format(t, &out, &len), 0);
    /* -(2^524288 - 1) has 157827 decimal digits and ends in ...5 (2^524288 ends in 6). */
    assert_int_equal(len, 1 + 157827);
    assert_int_equal(out[0], '-');
    assert_int_equal(out[len - 1], '5');
    free(out);
    check_reparse(t);
    shmets_term_free(&t);
    shmets_builder_destroy(b);
    free(mag);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_error_position),
        cmocka_unit_test(test_parse_length),
        cmocka_unit_test(test_format_table),
        cmocka_unit_test(test_format_floats),
        cmocka_unit_test(test_float_round_trip),
        cmocka_unit_test(test_format_args),
        cmocka_unit_test(test_long_and_deep),
        cmocka_unit_test(test_huge_integer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
