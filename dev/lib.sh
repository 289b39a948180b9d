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
	python3-prometheus-client  # its parser, for t/75-metrics.t
	chromium
	# the PostgreSQL back end (#17): the server binaries for the private
	# cluster of pg_start (Debian's package also makes a "main" cluster
	# as a system service, which nothing here uses) and libpq
	postgresql libpq-dev
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

# ---- a private PostgreSQL cluster (the PostgreSQL back end, #17) ----
#
# pg_start DIR makes (once) and starts a cluster of its own under DIR, for
# "PARKD_DB=postgresql dev/run", dev/check and the tests:
#   DIR/data            the data directory (initdb), checksums on, fsync on
#   DIR/.s.PGSQL.5432   its only way in: a unix socket (listen_addresses is
#                       empty: no TCP); DIR is 0700, so only the cluster's
#                       user and root reach the socket, and pg_hba.conf
#                       trusts exactly those ("local all all trust")
#   DIR/postgresql.log  the server's log
# The system's PostgreSQL service is never touched.  initdb refuses root:
# as root the cluster runs as PARKD_PG_USER (default "postgres", the
# account Debian's server package made for running PostgreSQL, with its
# own files only under DIR), otherwise as the calling user.
#
# Roles (docs/postgresql.md): PARKD_PG_OWNER owns the database and runs the
# migrations (pg_migrate); PARKD_PG_ROLE, the one parkd runs as, may only
# read and write rows (default privileges of the owner's tables and
# sequences); the superuser is "postgres".

# The server binaries of the major version the schema targets.
PARKD_PG_BIN=${PARKD_PG_BIN:-/usr/lib/postgresql/15/bin}
PARKD_PG_DB=${PARKD_PG_DB:-parkd}
PARKD_PG_OWNER=${PARKD_PG_OWNER:-parkd_owner}
PARKD_PG_ROLE=${PARKD_PG_ROLE:-parkd}
# The advisory lock (two int4 keys: "park" and 1) a migration holds, so
# that hosts migrating at once apply each file once (sql/pg/README).
PARKD_PG_MIGRATE_LOCK='1885434475, 1'

# pg_have: true when the server binaries are installed.
pg_have() {
	[ -x "$PARKD_PG_BIN/initdb" ] && [ -x "$PARKD_PG_BIN/pg_ctl" ] &&
		[ -x "$PARKD_PG_BIN/postgres" ] && [ -x "$PARKD_PG_BIN/psql" ]
}

# pg_user: prints the system user the cluster runs as (see above).
pg_user() {
	if [ -n "${PARKD_PG_USER:-}" ]; then
		echo "$PARKD_PG_USER"
	elif [ "$(id -u)" != 0 ]; then
		id -un
	elif getent passwd postgres >/dev/null; then
		echo postgres
	else
		die "running as root and there is no user postgres: set" \
			"PARKD_PG_USER to an unprivileged user to run PostgreSQL"
	fi
}

# pg_as USER COMMAND...: runs the command as USER (directly when that is
# who we are; as root with setpriv: no PAM, no login, the environment
# kept).
pg_as() {
	local u=$1
	shift
	if [ "$u" = "$(id -un)" ]; then
		"$@"
	else
		[ "$(id -u)" = 0 ] || die "cannot run as $u without being root"
		setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups \
			-- "$@"
	fi
}

# pg_psql DIR [ROLE [DB]] [PSQL-ARGS...]: psql on the cluster's socket as
# ROLE (default the superuser) in DB (default postgres), stopping at the
# first error, without ~/.psqlrc.
pg_psql() {
	local dir=$1 role=${2:-postgres} db=${3:-postgres}
	shift $(($# < 3 ? $# : 3))
	"$PARKD_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p 5432 \
		-U "$role" -d "$db" "$@"
}

# pg_url DIR [ROLE]: prints the DATABASE_URL of the cluster's database for
# ROLE (default PARKD_PG_ROLE): libpq's URI with the socket directory as
# the host parameter.
pg_url() {
	python3 - "$1" "${2:-$PARKD_PG_ROLE}" "$PARKD_PG_DB" <<-'EOF'
		import sys, urllib.parse as u
		d, role, db = sys.argv[1:4]
		print("postgresql:///%s?host=%s&user=%s" % (u.quote(db, safe=""),
		    u.quote(d, safe=""), u.quote(role, safe="")))
	EOF
}

# pg_start DIR: makes the cluster under DIR if there is none, starts it
# unless it runs, waits until it takes connections, and makes the roles and
# the database (each only if missing).  Dies on any failure, saying where
# the server's log is.
pg_start() {
	local dir user
	pg_have || die "no PostgreSQL server binaries in $PARKD_PG_BIN" \
		"(apt-get install postgresql)"
	mkdir -p "$1"
	dir=$(cd "$1" && pwd -P)
	case $dir in
	*[!A-Za-z0-9_./-]*) die "pg_start: $dir: use a directory whose" \
		"name has only letters, digits and _ . / -" ;;
	esac
	# sun_path holds 107 bytes and a NUL
	[ ${#dir} -le 90 ] || die "pg_start: $dir is too long for a socket path"
	user=$(pg_user)
	chmod 0700 "$dir"
	[ "$(id -u)" != 0 ] || chown "$user:$(id -g "$user")" "$dir"
	pg_as "$user" test -w "$dir" -a -x "$dir" ||
		die "pg_start: user $user cannot reach $dir (a parent" \
			"directory is closed to it): use one under /tmp"
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		say "initdb $dir/data (as $user)"
		_pg_initdb "$user" "$dir"
		_pg_conf "$user" "$dir" ''
		# The socket only, and DIR's mode decides who reaches it.
		printf '%s\n' '# pg_start (dev/lib.sh): the socket only' \
			'local all all trust' |
			pg_as "$user" tee "$dir/data/pg_hba.conf" >/dev/null
	fi
	if ! pg_as "$user" "$PARKD_PG_BIN/pg_ctl" -D "$dir/data" status \
		>/dev/null 2>&1; then
		say "starting PostgreSQL in $dir"
		pg_as "$user" "$PARKD_PG_BIN/pg_ctl" -D "$dir/data" \
			-l "$dir/postgresql.log" -w -t 120 start >/dev/null ||
			die "PostgreSQL did not start: see $dir/postgresql.log"
	fi
	pg_roles "$dir"
}

# pg_roles DIR: makes the roles and the database of the cluster under DIR
# (each only if missing) and their privileges, on its socket as the
# superuser.  Dies on a failure, saying where the server's log is.
pg_roles() {
	local dir=$1
	pg_psql "$dir" postgres postgres <<-EOF ||
		SELECT format('CREATE ROLE %I LOGIN', r)
		FROM unnest(ARRAY['$PARKD_PG_OWNER', '$PARKD_PG_ROLE']) AS r
		WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r)
		\gexec
		SELECT format('CREATE DATABASE %I OWNER %I ENCODING ''UTF8''
		    LOCALE ''C'' TEMPLATE template0', '$PARKD_PG_DB',
		    '$PARKD_PG_OWNER')
		WHERE NOT EXISTS (SELECT 1 FROM pg_database
		    WHERE datname = '$PARKD_PG_DB')
		\gexec
		REVOKE ALL ON DATABASE "$PARKD_PG_DB" FROM PUBLIC;
		GRANT CONNECT, TEMPORARY ON DATABASE "$PARKD_PG_DB"
		    TO "$PARKD_PG_OWNER", "$PARKD_PG_ROLE";
		\connect "$PARKD_PG_DB"
		ALTER DEFAULT PRIVILEGES FOR ROLE "$PARKD_PG_OWNER"
		    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES
		    TO "$PARKD_PG_ROLE";
		ALTER DEFAULT PRIVILEGES FOR ROLE "$PARKD_PG_OWNER"
		    GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO "$PARKD_PG_ROLE";
	EOF
		die "could not make the roles and database: see $dir/postgresql.log"
}

# pg_stop DIR: stops the cluster under DIR (fast: open transactions roll
# back, every commit stays) and waits until its processes are gone.  Does
# nothing when it does not run.
pg_stop() {
	local dir=$1 user
	[ -f "$dir/data/postmaster.pid" ] || return 0
	user=$(pg_user)
	pg_as "$user" "$PARKD_PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 120 \
		stop >/dev/null || die "PostgreSQL in $dir did not stop"
}

# pg_migrate DIR [FILE...]: applies the migrations (default every
# sql/pg/NNN-*.sql, in order) to the cluster's database as its owner.
# Each file runs in one transaction with the row that records it in
# parkd_schema, under the migrations' advisory lock, and only if its
# number is above the recorded version: running it twice, or on two hosts
# at once, applies each file once.  Dies on a failure (the file's
# transaction rolls back) and on a database newer than the files.
pg_migrate() {
	local dir=$1 f base n v files=()
	shift
	if [ $# -gt 0 ]; then
		files=("$@")
	else
		files=("$PARKD_TOP"/sql/pg/[0-9][0-9][0-9]-*.sql)
	fi
	for f in "${files[@]}"; do
		base=${f##*/}
		n=$((10#${base%%-*}))
		pg_psql "$dir" "$PARKD_PG_OWNER" "$PARKD_PG_DB" \
			-v n="$n" -v name="$base" -v file="$f" <<-EOF ||
			BEGIN;
			SELECT pg_advisory_xact_lock($PARKD_PG_MIGRATE_LOCK) AS locked \gset
			SELECT to_regclass('parkd_schema') IS NOT NULL AS have \gset
			\if :have
			SELECT coalesce(max(version), 0) AS v FROM parkd_schema \gset
			\else
			\set v 0
			\endif
			SELECT :v >= :n AS done, :v + 1 < :n AS gap \gset
			\if :gap
			\warn 'pg_migrate: a migration before' :name 'is missing: the database is at version' :v
			SELECT 1 / 0 AS "a migration is missing";
			\endif
			\if :done
			ROLLBACK;
			\else
			\i :file
			INSERT INTO parkd_schema (version, name) VALUES (:n, :'name');
			COMMIT;
			\endif
		EOF
			die "migration $base failed"
	done
	v=$(pg_psql "$dir" "$PARKD_PG_OWNER" "$PARKD_PG_DB" -At \
		-c 'SELECT max(version) FROM parkd_schema')
	[ "${v:-0}" -le "$n" ] ||
		die "the database has schema version $v, newer than sql/pg's $n"
}

# ---- PostgreSQL over TCP, for dev/cluster (issue #18) ----
#
# The same kind of private cluster as pg_start's (initdb's flags, fsync
# and synchronous_commit on, the same roles), but listening on one TCP
# address as well as its socket in DIR, for hosts in network namespaces
# of their own: pg_hba.conf trusts the cluster's private network CIDR for
# the parkd database and for replication (a test network of one machine;
# docs/postgresql.md says what a real site puts there: TLS, SCRAM).  The
# socket stays the administrator's way in (paths are not namespaced).
# PARKD_PG_STANDBY names the synchronous standby (application_name).

# _pg_net_dir DIR: makes DIR (0700, the cluster user's) and prints its
# absolute path; dies as pg_start does on a name or length it cannot use.
_pg_net_dir() {
	local dir user
	mkdir -p "$1"
	dir=$(cd "$1" && pwd -P)
	case $dir in
	*[!A-Za-z0-9_./-]*) die "$dir: use a directory whose name has only" \
		"letters, digits and _ . / -" ;;
	esac
	[ ${#dir} -le 90 ] || die "$dir is too long for a socket path"
	user=$(pg_user)
	chmod 0700 "$dir"
	[ "$(id -u)" != 0 ] || chown "$user:$(id -g "$user")" "$dir"
	pg_as "$user" test -w "$dir" -a -x "$dir" ||
		die "user $user cannot reach $dir: use one under /tmp"
	echo "$dir"
}

# _pg_initdb USER DIR: makes the cluster DIR/data as USER (UTF8, C
# locale, data checksums; the socket trusted, TCP refused until a caller
# writes pg_hba.conf); dies, naming DIR/initdb.log, when it fails.
_pg_initdb() {
	pg_as "$1" "$PARKD_PG_BIN/initdb" -D "$2/data" \
		--username=postgres --auth-local=trust --auth-host=reject \
		--encoding=UTF8 --locale=C --data-checksums \
		--no-instructions >"$2/initdb.log" 2>&1 ||
		die "initdb failed: see $2/initdb.log"
}

# _pg_conf USER DIR LISTEN: appends the settings every cluster of ours has
# (durable, its socket in DIR, UTC) and listen_addresses = LISTEN ('' for
# the socket only) to DIR/data/postgresql.conf, as USER.  Appended
# settings win over initdb's (the last value of a setting counts).
_pg_conf() {
	pg_as "$1" tee -a "$2/data/postgresql.conf" >/dev/null <<-EOF

		# dev/lib.sh: private, durable
		listen_addresses = '$3'
		port = 5432
		unix_socket_directories = '$2'
		unix_socket_permissions = 0700
		fsync = on
		synchronous_commit = on
		full_page_writes = on
		max_connections = 200
		timezone = 'UTC'
		log_timezone = 'UTC'
	EOF
}

# _pg_net_conf DIR ADDR: the settings of a networked cluster member
# (primary or standby: a standby is promoted with them): _pg_conf's on
# ADDR, and streaming replication with a synchronous standby.
_pg_net_conf() {
	_pg_conf "$(pg_user)" "$1" "$2"
	pg_as "$(pg_user)" tee -a "$1/data/postgresql.conf" >/dev/null <<-EOF

		# pg_init_net / pg_standby_net (dev/lib.sh): replication
		wal_level = replica
		max_wal_senders = 10
		max_replication_slots = 10
		hot_standby = on
		wal_log_hints = on
		log_connections = off
	EOF
}

# _pg_net_hba DIR CIDR: writes DIR/data/pg_hba.conf: the socket, and the
# private network CIDR for the parkd database and replication.
_pg_net_hba() {
	printf '%s\n' '# pg_init_net (dev/lib.sh): a private test network' \
		'local all all trust' \
		"host $PARKD_PG_DB all $2 trust" \
		"host replication postgres $2 trust" |
		pg_as "$(pg_user)" tee "$1/data/pg_hba.conf" >/dev/null
}

# pg_init_net DIR ADDR CIDR: makes (once) the primary's cluster under DIR
# listening on ADDR:5432.  Does not start it (pg_start_net).  Its commits
# wait for no standby until pg_sync_standby names one (a commit waiting for
# a standby that does not exist yet never returns).
pg_init_net() {
	local dir
	pg_have || die "no PostgreSQL server binaries in $PARKD_PG_BIN" \
		"(apt-get install postgresql)"
	dir=$(_pg_net_dir "$1")
	[ -f "$dir/data/PG_VERSION" ] && return 0
	say "initdb $dir/data (primary on $2)"
	_pg_initdb "$(pg_user)" "$dir"
	_pg_net_conf "$dir" "$2"
	_pg_net_hba "$dir" "$3"
}

# pg_start_net NS DIR: starts the cluster under DIR inside the network
# namespace NS (pg_ctl -w: until it takes connections, or dies).
pg_start_net() {
	local ns=$1 dir=$2
	say "starting PostgreSQL in $dir (namespace $ns)"
	ip netns exec "$ns" setpriv --reuid="$(pg_user)" \
		--regid="$(id -g "$(pg_user)")" --init-groups -- \
		"$PARKD_PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgresql.log" \
		-w -t 120 start >/dev/null ||
		die "PostgreSQL did not start: see $dir/postgresql.log"
}

# pg_standby_net NS DIR PRIMARY ADDR NAME CIDR: makes DIR a streaming
# standby of the primary at PRIMARY:5432 (pg_basebackup -R inside NS, so
# that it connects from the standby's own address), listening on ADDR,
# replicating as application_name NAME, and starts it in NS.  As a
# promoted primary it waits for no standby of its own
# (synchronous_standby_names empty) until one is rebuilt.
pg_standby_net() {
	local ns=$1 dir=$2 primary=$3 addr=$4 name=$5 cidr=$6 user
	dir=$(_pg_net_dir "$dir")
	user=$(pg_user)
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		say "pg_basebackup from $primary into $dir/data"
		ip netns exec "$ns" setpriv --reuid="$user" \
			--regid="$(id -g "$user")" --init-groups -- \
			"$PARKD_PG_BIN/pg_basebackup" -h "$primary" -p 5432 \
			-U postgres -D "$dir/data" -R -X stream \
			--checkpoint=fast >"$dir/basebackup.log" 2>&1 ||
			die "pg_basebackup failed: see $dir/basebackup.log"
		_pg_net_conf "$dir" "$addr"
		pg_as "$user" tee -a "$dir/data/postgresql.conf" >/dev/null <<-EOF
			synchronous_standby_names = ''
		EOF
		# postgresql.auto.conf (pg_basebackup -R) is read last: the
		# standby's name goes there.
		# (synchronous_standby_names there too: a base backup of a
		# primary that named its standby with ALTER SYSTEM has it in
		# postgresql.auto.conf, and this one, promoted, would wait for
		# a standby of that name.)
		pg_as "$user" tee -a "$dir/data/postgresql.auto.conf" \
			>/dev/null <<-EOF
			primary_conninfo = 'host=$primary port=5432 user=postgres application_name=$name'
			synchronous_standby_names = ''
		EOF
		_pg_net_hba "$dir" "$cidr"
	fi
	pg_start_net "$ns" "$dir"
}

# pg_sync_standby DIR NAME: makes the standby whose application_name is
# NAME the synchronous standby of the primary under DIR (ALTER SYSTEM, so
# that it outlives a restart; a reload applies it), and waits (at most
# 30 s) until pg_stat_replication says it is.  From then on a commit
# returns only when NAME has it too (synchronous_commit = on).
pg_sync_standby() {
	local dir=$1 name=$2 i s
	pg_psql "$dir" postgres postgres -c \
		"ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 ($name)'" \
		-c 'SELECT pg_reload_conf()' >/dev/null ||
		die "could not set synchronous_standby_names"
	for ((i = 0; i < 300; i++)); do
		s=$(pg_psql "$dir" postgres postgres -At -c \
			"SELECT sync_state FROM pg_stat_replication
			 WHERE application_name = '$name'" 2>/dev/null || true)
		[ "$s" = sync ] && return 0
		sleep 0.1
	done
	die "$name did not become the synchronous standby: see" \
		"$dir/postgresql.log"
}

# pg_url_net ROLE HOST...: prints the DATABASE_URL naming every HOST
# (port 5432) with target_session_attrs=read-write, so that libpq takes
# whichever host is the primary now, and a connect timeout of 2 s.
pg_url_net() {
	local role=$1 hosts
	shift
	hosts=$(printf '%s:5432,' "$@")
	printf 'postgresql://%s@%s/%s?target_session_attrs=read-write&connect_timeout=2\n' \
		"$role" "${hosts%,}" "$PARKD_PG_DB"
}
