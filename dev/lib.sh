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
	chromium
)

# The batch jobs dev/run runs in place of the systemd timers: one parkctl
# command line (without "parkctl -c FILE") per element.  DEV_JOBS run every
# DEV_JOBS_EVERY seconds, in order (exports first, so that an export's
# e-mail goes out in the same round); DEV_JOBS_ONCE run once, when the
# stack is up (daily and monthly jobs: each sends at most once per day or
# month however often it runs, so every start of dev/run may run them).
# shellcheck disable=SC2034 # used by dev/run
DEV_JOBS=(exports mail)
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
# extra names) is not installed.  Does nothing, and needs no root, when all
# are there; otherwise runs "apt-get update" once, then one "apt-get install".
_apt_updated=''
ensure_packages() {
	local p status missing=()
	command -v dpkg-query >/dev/null ||
		die "dpkg-query not found: this script expects Debian 12"
	for p in "${PARKD_PACKAGES[@]}" "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[ "$status" = "install ok installed" ] || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing missing packages: ${missing[*]}"
	if [ -z "$_apt_updated" ]; then
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
		_apt_updated=1
	fi
	as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}"
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
