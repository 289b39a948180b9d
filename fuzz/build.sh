#!/bin/bash
# fuzz/build.sh BUILD_DIR OUT_DIR: builds the libFuzzer harnesses with
# clang, ASan and UBSan.  The project's sources are compiled again with
# coverage instrumentation (-fsanitize=fuzzer-no-link): the harnesses then
# steer by our code's branches.  BUILD_DIR is a configured build (for
# config.h and the generated src/sqlembed.c).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=$(cd "${1:?usage: fuzz/build.sh BUILD_DIR OUT_DIR}" && pwd)
out=${2:?usage: fuzz/build.sh BUILD_DIR OUT_DIR}
mkdir -p "$out/obj"
out=$(cd "$out" && pwd)

make -C "$build" src/sqlembed.c >/dev/null
pkgs="sqlite3 libpq json-c libjwt hiredis libcurl libcrypto"
# shellcheck disable=SC2046,SC2086,SC2207 # word splitting wanted
cflags=(-g -O1 -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE
	-I"$build" -I"$src/src" $(pkg-config --cflags $pkgs))
# shellcheck disable=SC2046,SC2086,SC2207 # word splitting wanted
libs=($(pkg-config --libs $pkgs) -lfcgi)
san=-fsanitize=address,undefined

objs=()
# every source but the two main()s; the generated sqlembed.c is taken from
# the build dir, once (in an in-tree build the glob sees it too)
srcs=()
for f in "$src"/src/*.c; do
	case $f in */parkd.c | */parkctl.c | */sqlembed.c) continue ;; esac
	srcs+=("$f")
done
srcs+=("$build/src/sqlembed.c")
for f in "${srcs[@]}"; do
	o="$out/obj/$(basename "$f" .c).o"
	clang "${cflags[@]}" $san -fsanitize=fuzzer-no-link -c "$f" -o "$o"
	objs+=("$o")
done
for h in "$here"/fuzz-*.c; do
	name=$(basename "$h" .c)
	clang "${cflags[@]}" $san -fsanitize=fuzzer "$h" "${objs[@]}" \
	    "${libs[@]}" -o "$out/$name"
	echo "built $out/$name"
done
