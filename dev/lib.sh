# shellcheck shell=bash
# dev/lib.sh: shell functions shared by dev/run and dev/check (sourced, not
# run).  The callers set "set -euo pipefail" themselves.

# The top of the source tree (this file lives in dev/).
PARKD_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Every Debian package that building, running and testing parkd needs.
PARKD_PACKAGES=(
	build-essential autoconf automake pkg-config
	libfcgi-dev libfcgi-bin libsqlite3-dev sqlite3 libjson-c-dev libjwt-dev
	libhiredis-dev libcurl4-openssl-dev libssl-dev
	nginx-light redis-server python3 curl
	wrk valgrind clang libclang-rt-14-dev slowhttptest
	prometheus  # promtool, for t/75-metrics.t
	chromium
)

# The batch jobs dev/run runs in place of the systemd timers: one parkctl
# command line (without "parkctl -c FILE") per element.  DEV_JOBS run every
# DEV_JOBS_EVERY seconds, in order (exports and tick first, so that an
# export's e-mail or a reservation's reminder goes out in the same round;
# tick also marks no-shows); DEV_JOBS_ONCE run once, when the
# stack is up (daily and monthly jobs: each sends at most once per day or
# month however often it runs, so every start of dev/run may run them).
# shellcheck disable=SC2034 # used by dev/run
DEV_JOBS=(exports tick mail)
# shellcheck disable=SC2034
DEV_JOBS_EVERY=10
# shellcheck disable=SC2034
DEV_JOBS_ONCE=(remind report cleanup)

# configure's flags for the in-tree build of dev/run and dev/check.
PARKD_CONFIGURE_FLAGS=${PARKD_CONFIGURE_FLAGS:---enable-debug}

# say MESSAGE: a progress line on stderr, named after the running script.
say() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
}

# die MESSAGE: says it and exits 1.
die() {
	say "$*"
	exit 1
}

# as_root COMMAND...: runs the command as root (with sudo unless we are root).
as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "need root to run: $* (install sudo or run as root)"
	fi
}

# ensure_packages [EXTRA...]: installs whichever of PARKD_PACKAGES (and the
# extra names) is not installed, then brings every package older than its
# floor in SECURITY.md up to it (ensure_floors).  Does nothing, and needs no
# root, when all are there; otherwise runs "apt-get update" once first.
_apt_updated=''
ensure_packages() {
	local p status missing=()
	command -v dpkg-query >/dev/null ||
		die "dpkg-query not found: this script expects Debian 12"
	for p in "${PARKD_PACKAGES[@]}" "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[ "$status" = "install ok installed" ] || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		say "installing missing packages: ${missing[*]}"
		apt_update_once
		as_root env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends \
			"${missing[@]}"
	fi
	ensure_floors
}

# apt_update_once: "apt-get update", the first time it is called.
apt_update_once() {
	[ -n "$_apt_updated" ] && return 0
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	_apt_updated=1
}

# floor_packages [FILE]: one "package version" line for each row of the
# table "Library versions checked" of SECURITY.md (or FILE): the oldest
# version of each package that parkd's defences were checked against
# (t/67-deps.t fails on an older one).
floor_packages() {
	awk '/^## Library versions checked/ { t = 1; next }
	    t && /^## / { exit }
	    t && /^\| *[a-z0-9][a-z0-9.+-]* *\| *[^| ]+ *\|$/ {
		gsub(/[| ]+/, " ")
		split($0, f, " ")
		if (f[1] != "package")
			print f[1], f[2]
	    }' "${1:-$PARKD_TOP/SECURITY.md}"
}

# below_floor [FILE]: one "package installed floor" line for each package
# of floor_packages installed at an older version than its floor, or not
# at all ("-").  Needs no root.
below_floor() {
	local pkg floor have
	while read -r pkg floor; do
		have=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
		if [ -z "$have" ] ||
			! dpkg --compare-versions "$have" ge "$floor"; then
			echo "$pkg ${have:--} $floor"
		fi
	done < <(floor_packages "$@")
}

# ensure_floors: brings every package below its floor (below_floor) up to
# apt's candidate, which must be at least the floor: "apt-get install
# --only-upgrade" for an installed one (nothing else is pulled in), a plain
# install for a missing one.  A fresh Debian 12 image can hold older
# versions than the security archive's (seen: libssl3 3.0.19 against the
# floor 3.0.22).  Dies naming the package when apt offers nothing new
# enough.  Does nothing, and needs no root, when every floor is met.
ensure_floors() {
	local line pkg have floor cand low=() upgrade=() install=()
	mapfile -t low < <(below_floor)
	[ ${#low[@]} -eq 0 ] && return 0
	apt_update_once
	for line in "${low[@]}"; do
		read -r pkg have floor <<<"$line"
		cand=$(apt-cache policy "$pkg" 2>/dev/null |
			awk '$1 == "Candidate:" { print $2 }')
		if [ -z "$cand" ] || [ "$cand" = "(none)" ] ||
			! dpkg --compare-versions "$cand" ge "$floor"; then
			die "$pkg $have is older than $floor (SECURITY.md) and" \
				"apt offers ${cand:-nothing} newer: enable" \
				"bookworm-security and bookworm-updates in" \
				"apt's sources"
		fi
		if [ "$have" = - ]; then
			install+=("$pkg")
		else
			upgrade+=("$pkg")
		fi
	done
	say "bringing packages up to SECURITY.md's floors: ${low[*]}"
	if [ ${#upgrade[@]} -gt 0 ]; then
		as_root env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --only-upgrade "${upgrade[@]}"
	fi
	if [ ${#install[@]} -gt 0 ]; then
		as_root env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends \
			"${install[@]}"
	fi
}

# build: builds parkd in the source tree.  Runs autoreconf only when
# configure is missing or older than its inputs, configure only when the
# tree is unconfigured, configure changed, or PARKD_CONFIGURE_FLAGS differ
# from the flags config.status recorded; then make.
build() {
	local flags
	read -ra flags <<<"$PARKD_CONFIGURE_FLAGS"
	(
		cd "$PARKD_TOP" || exit
		if [ ! -x configure ] || [ configure.ac -nt configure ] ||
			[ Makefile.am -nt configure ]; then
			say "autoreconf -fi"
			autoreconf -fi
		fi
		# config.status --config prints the flags as shell words, quoted
		# where needed: compare the words.
		local have=()
		if [ -x config.status ]; then
			eval "have=($(./config.status --config 2>/dev/null || true))"
		fi
		if [ ! -f Makefile ] || [ ! -x config.status ] ||
			[ configure -nt config.status ] ||
			[ "${have[*]-}" != "${flags[*]-}" ]; then
			say "./configure ${flags[*]-}"
			./configure "${flags[@]}"
		fi
		make -j2
	)
}

# build_web: the browser app's web root, web/dist (web/build.mjs: the app
# as it is, and /api/docs with Swagger UI).  First "npm ci" (the exact
# versions of package-lock.json, install scripts off) when node_modules is
# missing or older than the lock file; Node.js and npm come from Debian
# when the machine has none (the browser test's playwright-core wants
# Node.js 20 or newer).  Nothing is fetched at run time.
build_web() {
	command -v npm >/dev/null || ensure_packages nodejs npm
	(
		cd "$PARKD_TOP" || exit
		if [ ! -f node_modules/.package-lock.json ] ||
			[ package-lock.json -nt node_modules/.package-lock.json ]; then
			say "npm ci"
			npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
		fi
		node web/build.mjs --out web/dist
	)
}

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# port_is_free PORT: true when nothing can be listening on 127.0.0.1:PORT.
port_is_free() {
	python3 - "$1" <<-'EOF'
		import socket, sys
		s = socket.socket()
		s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		try:
		    s.bind(("127.0.0.1", int(sys.argv[1])))
		except OSError:
		    sys.exit(1)
	EOF
}

# random_secret: prints 64 hex digits (256 bits) from the OS's generator.
random_secret() {
	python3 -c 'import secrets; print(secrets.token_hex(32))'
}

# random_password: prints a password that is easy to copy (24 characters).
random_password() {
	python3 -c 'import secrets; print(secrets.token_urlsafe(18))'
}

# env_get FILE KEY: prints KEY's value in a KEY=value file (empty if absent).
env_get() {
	# ENVIRON, not awk -v, which would expand backslashes in the value.
	K=$2 awk 'index($0, ENVIRON["K"] "=") == 1 {
			v = substr($0, length(ENVIRON["K"]) + 2) }
		END { print v }' "$1"
}

# env_del FILE KEY: removes the lines that set KEY; other lines stay.
env_del() {
	K=$2 awk 'index($0, ENVIRON["K"] "=") != 1' "$1" >"$1.tmp"
	cat "$1.tmp" >"$1" # keeps the file's mode and owner
	rm -f "$1.tmp"
}

# env_set FILE KEY VALUE: sets KEY=VALUE in a KEY=value file, replacing the
# line that sets it or appending one; other lines stay as they are.
env_set() {
	local file=$1 key=$2 value=$3
	case $value in
	*$'\n'*) die "a value for $key cannot hold a newline" ;;
	esac
	K=$key V=$value awk '
		BEGIN { line = ENVIRON["K"] "=" ENVIRON["V"] }
		index($0, ENVIRON["K"] "=") == 1 { if (!done) print line; done = 1; next }
		{ print }
		END { if (!done) print line }' "$file" >"$file.tmp"
	cat "$file.tmp" >"$file" # keeps the file's mode and owner
	rm -f "$file.tmp"
}
