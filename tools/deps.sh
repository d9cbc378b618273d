#!/bin/sh
# tools/deps.sh — make sure the Debian packages shmets needs are installed.
#
#   tools/deps.sh build    what building libshmets and its programs needs
#   tools/deps.sh test     that, plus what the tests need (cmocka, Erlang as the oracle and
#                          erlang-dev and erlang-eunit for erlang/, the NIF and its tests,
#                          systemd for systemd-analyze and systemd-socket-activate)
#   tools/deps.sh bench    that of build, plus the peers of build/shmets-bench (LMDB, liburcu,
#                          redis-server, Erlang for the ETS figures), gnuplot for its plot and
#                          valgrind for the instructions per lookup (bench/cost.sh)
#   tools/deps.sh fuzz     that of build, plus clang 14 and its compiler-rt (libFuzzer's runtime
#                          and the sanitizers' for clang), for `make fuzz`
#
# Each package is checked with dpkg-query.  When something is missing and we are root, the
# script runs `apt-get update` (a new machine's package lists may be empty or old) and then
# `apt-get install` (waiting up to 10 minutes for the dpkg lock, which a new machine's
# unattended upgrades may hold); otherwise it prints the one apt-get line to run and fails, so that make
# stops before a confusing compiler error.  With everything present it does nothing and is quick.
set -eu

build_pkgs="gcc make pkg-config libc6-dev liburcu-dev libxxhash-dev libgmp-dev liblz4-dev zlib1g-dev libmd-dev libedit-dev libsystemd-dev"
test_pkgs="libcmocka-dev erlang-base erlang-dev erlang-eunit systemd"
bench_pkgs="liblmdb-dev redis-server erlang-base gnuplot-nox valgrind"
fuzz_pkgs="clang-14 libclang-rt-14-dev"

case "${1:-build}" in
    build) want="$build_pkgs" ;;
    test)  want="$build_pkgs $test_pkgs" ;;
    bench) want="$build_pkgs $bench_pkgs" ;;
    fuzz)  want="$build_pkgs $fuzz_pkgs" ;;
    *) echo "usage: tools/deps.sh build|test|bench|fuzz" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0

echo "shmets: missing Debian packages:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
    echo "shmets: run this, then make again:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -q >&2
# shellcheck disable=SC2086
apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $missing >&2
echo "shmets: installed$missing" >&2
