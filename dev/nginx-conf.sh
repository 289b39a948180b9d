#!/usr/bin/env bash
# dev/nginx-conf.sh: writes the configuration of a private nginx that serves
# parkd from nginx/parkd.conf.in and nginx/parkd-common.conf.  dev/run and
# the end-to-end tests (t/lib/parktest.py) both use it, so the stack under
# test is the stack a developer runs.
#
# Usage: dev/nginx-conf.sh --prefix DIR --listen ADDR --socket PATH
#                          --webroot DIR --exportdir DIR [--workers N]
#                          [--trust ADDR]... [--metrics-allow ADDR]...
#                          [--real-ip-from ADDR]...
#
# --trust adds an address (or CIDR) to the trusted addresses that the login
# and registration rate limit exempts (the geo block of parkd-common.conf).
# Without --trust, 127.0.0.1 is trusted, so that test suites hammering the
# API from loopback are not throttled; the tests prove the limit from
# 127.0.0.2.  "--trust none" trusts nothing.
#
# --metrics-allow replaces the addresses that may read GET /metrics (the geo
# block $parkd_metrics_allowed of parkd-common.conf: loopback, 127.0.0.1
# and ::1, when not given); "--metrics-allow none" allows nobody.
#
# --real-ip-from names a load balancer in front (dev/cluster): requests from
# that address (or CIDR) are taken to come from the client its X-Real-IP
# header names (nginx's realip module), so that the rate limits, --trust
# and the access log see the client, not the balancer.  Without it nginx
# believes no such header.
#
# Writes DIR/nginx.conf, DIR/parkd-common.conf (nginx/parkd-common.conf with
# the trusted addresses) and DIR/parkd-site.conf, and creates DIR/logs and
# DIR/tmp.  Start nginx with
#     nginx -p DIR -c DIR/nginx.conf -e DIR/logs/nginx-error.log
# It runs in the foreground (daemon off) with its pid in DIR/nginx.pid.
# Environment: NGINX, the nginx binary (default: nginx from PATH or
# /usr/sbin/nginx), asked which modules it has.
set -euo pipefail

usage() {
	echo "usage: $0 --prefix DIR --listen ADDR --socket PATH --webroot DIR --exportdir DIR [--workers N] [--trust ADDR]... [--metrics-allow ADDR]... [--real-ip-from ADDR]..." >&2
	exit 2
}

# Paths go into nginx's configuration inside double quotes: refuse what
# would break out of them or be taken for a variable.
check_path() {
	case $2 in
	/*) ;;
	*) echo "$0: $1 must be an absolute path: $2" >&2; exit 2 ;;
	esac
	case $2 in
	*[\"\;\{\}\$\\]* | *$'\n'*)
		echo "$0: $1 has a character nginx cannot take: $2" >&2
		exit 2
		;;
	esac
}

# Escapes a value for the replacement side of a sed s||| command.
sed_escape() {
	printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'
}

prefix='' listen='' socket='' webroot='' exportdir='' workers=1
trusted=() trust_given=0
metrics=() metrics_given=0
realip=()
while [ $# -gt 0 ]; do
	case $1 in
	--prefix) prefix=${2:?}; shift 2 ;;
	--listen) listen=${2:?}; shift 2 ;;
	--socket) socket=${2:?}; shift 2 ;;
	--webroot) webroot=${2:?}; shift 2 ;;
	--exportdir) exportdir=${2:?}; shift 2 ;;
	--workers) workers=${2:?}; shift 2 ;;
	--trust)
		trust_given=1
		[ "${2:?}" = none ] || trusted+=("$2")
		shift 2
		;;
	--metrics-allow)
		metrics_given=1
		[ "${2:?}" = none ] || metrics+=("$2")
		shift 2
		;;
	--real-ip-from) realip+=("${2:?}"); shift 2 ;;
	*) usage ;;
	esac
done
if [ -z "$prefix" ] || [ -z "$listen" ] || [ -z "$socket" ] ||
	[ -z "$webroot" ] || [ -z "$exportdir" ]; then
	usage
fi
check_path --prefix "$prefix"
check_path --socket "$socket"
check_path --webroot "$webroot"
check_path --exportdir "$exportdir"
case $listen in
*[!0-9a-zA-Z.:\[\]]*) echo "$0: bad --listen: $listen" >&2; exit 2 ;;
esac
case $workers in
'' | *[!0-9]*) echo "$0: bad --workers: $workers" >&2; exit 2 ;;
esac
if [ "$trust_given" = 0 ]; then
	trusted=(127.0.0.1)
fi
for a in ${trusted[@]+"${trusted[@]}"}; do
	case $a in
	'' | *[!0-9a-fA-F.:/]*) echo "$0: bad --trust: $a" >&2; exit 2 ;;
	esac
done
for a in ${metrics[@]+"${metrics[@]}"}; do
	case $a in
	'' | *[!0-9a-fA-F.:/]*) echo "$0: bad --metrics-allow: $a" >&2; exit 2 ;;
	esac
done
realip_lines=''
for a in ${realip[@]+"${realip[@]}"}; do
	case $a in
	'' | *[!0-9a-fA-F.:/]*) echo "$0: bad --real-ip-from: $a" >&2; exit 2 ;;
	esac
	realip_lines="$realip_lines    set_real_ip_from $a;
"
done
if [ -n "$realip_lines" ]; then
	realip_lines="$realip_lines    real_ip_header X-Real-IP;
"
fi

srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
check_path "the source directory" "$srcdir"
nginx=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

mkdir -p "$prefix/logs" "$prefix/tmp"

sed -e "s|@LISTEN@|$(sed_escape "$listen")|g" \
	-e "s|@SOCKET@|$(sed_escape "$socket")|g" \
	-e "s|@WEBROOT@|$(sed_escape "$webroot")|g" \
	-e "s|@EXPORTDIR@|$(sed_escape "$exportdir")|g" \
	"$srcdir/nginx/parkd.conf.in" >"$prefix/parkd-site.conf.tmp"
mv "$prefix/parkd-site.conf.tmp" "$prefix/parkd-site.conf"

# The http-level part, with the trusted addresses added to its geo block
# (the one place a server's administrator edits too), and, when given, the
# addresses allowed to scrape GET /metrics in place of the file's.
awk -v list="${trusted[*]-}" -v mlist="${metrics[*]-}" \
	-v mgiven="$metrics_given" '
	/^geo \$parkd_metrics_allowed \{/ { in_m = 1 }
	in_m && mgiven && /^[ \t]*[0-9a-fA-F.:\/]+ 1;/ { next }
	in_m && /^\}/ { in_m = 0 }
	{ print }
	in_m && mgiven && /^[ \t]*default 0;/ {
		n = split(mlist, a, " ")
		for (i = 1; i <= n; i++)
			printf "    %s 1;\n", a[i]
		mdone = 1
	}
	/^geo \$parkd_trusted \{/ { in_geo = 1 }
	in_geo && /^[ \t]*default 0;/ {
		n = split(list, a, " ")
		for (i = 1; i <= n; i++)
			printf "    %s 1;\n", a[i]
		in_geo = 0
		done = 1
	}
	END { if (!done || (mgiven && !mdone)) exit 1 }
' "$srcdir/nginx/parkd-common.conf" >"$prefix/parkd-common.conf.tmp" || {
	echo "$0: no geo \$parkd_trusted block with \"default 0;\" in" \
		"nginx/parkd-common.conf" >&2
	exit 1
}
mv "$prefix/parkd-common.conf.tmp" "$prefix/parkd-common.conf"

# nginx's build decides which temp paths exist; each must point into the
# prefix or nginx tries to create it under /var/lib/nginx.
nginx_v=$("$nginx" -V 2>&1 || true)
temp_paths=''
for m in client_body fastcgi proxy uwsgi scgi; do
	case $m in
	client_body) ;;
	*) case $nginx_v in *--without-http_${m}_module*) continue ;; esac ;;
	esac
	temp_paths="$temp_paths    ${m}_temp_path \"$prefix/tmp/$m\";
"
done

# mime.types of the installed nginx, or a small list of our own.
conf_path=$(printf '%s\n' "$nginx_v" | tr ' ' '\n' | sed -n 's/^--conf-path=//p')
mime="$(dirname "${conf_path:-/etc/nginx/nginx.conf}")/mime.types"
if [ -r "$mime" ]; then
	types="    include \"$mime\";"
else
	types='    types {
        text/html html; text/css css; application/javascript js;
        application/json json; image/svg+xml svg; image/png png;
        image/x-icon ico; text/plain txt;
    }'
fi

# The master runs as whoever starts it.  As root, the workers would become
# "nobody" and could not reach parkd's 0660 socket: keep them root too.
user_line=''
if [ "$(id -u)" = 0 ]; then
	user_line='user root;'
fi

cat >"$prefix/nginx.conf.tmp" <<EOF
# Generated by dev/nginx-conf.sh: a private nginx for parkd (dev/run, tests).
$user_line
worker_processes $workers;
daemon off;
pid "$prefix/nginx.pid";
error_log "$prefix/logs/nginx-error.log" warn;
# 1,000 slow clients (t/59-limits.t's full run) must not use up nginx's
# connections: each takes two (client and FastCGI) while it is answered.
worker_rlimit_nofile 8192;

events {
    worker_connections 4096;
}

http {
$types
    default_type application/octet-stream;
    sendfile on;
$temp_paths$realip_lines
    include "$prefix/parkd-common.conf";
    access_log "$prefix/logs/nginx-access.log" parkd;
    include "$prefix/parkd-site.conf";
}
EOF
mv "$prefix/nginx.conf.tmp" "$prefix/nginx.conf"
