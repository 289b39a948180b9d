/*
 * mail.c: e-mail.  The message builder and the delivery run of "parkctl
 * mail", which empties the outbox by SMTP, or into .eml files when no
 * server is configured.  The one file that includes libcurl.
 *
 * libcurl 7.88 pitfalls handled here (reliability.md 1.6 and F6):
 * - CR/LF in CURLOPT_MAIL_FROM and CURLOPT_MAIL_RCPT reach the SMTP
 *   dialogue as commands of their own.  Every address is checked again
 *   right before it is used (mail_check_addr(): valid_email()'s rules,
 *   which allow no control, space, '<', '>' or quote), although
 *   db_outbox_add() and the schema refuse CR and LF already.
 * - libcurl neither writes nor checks headers: mail_build() writes each
 *   one from checked values, encodes subjects (RFC 2047) and ends every
 *   line with CRLF (sendmail 8.18+ refuses bare LF, curl #15942).
 *   libcurl does the dot-stuffing of the DATA phase.
 * - TLS: smtps:// with MAIL_USE_SSL, else STARTTLS with CURLUSESSL_ALL
 *   (never _TRY, which lets a man in the middle strip STARTTLS); peer and
 *   host verification stay on; TLS 1.2 at least; CURLOPT_PROTOCOLS_STR
 *   allows smtp and smtps only and CURLOPT_PROXY "" ignores the proxy
 *   variables of the environment.  Without either, SMTP goes in clear
 *   only to a loopback MAIL_SERVER (named as such: a DNS name other than
 *   "localhost" is not trusted to be one) or when
 *   PARKD_MAIL_ALLOW_PLAINTEXT says so: mail_plaintext_refused(), checked
 *   when the settings load and again before a run connects.
 * - CURLOPT_CONNECTTIMEOUT_MS and CURLOPT_TIMEOUT_MS bound a dead or
 *   silent server; CURLOPT_NOSIGNAL.
 *
 * The outbox state machine (mail_deliver(); the SQL is in db-jobs.c):
 *
 *   queued --claim--> sending --accepted--------------> sent
 *     ^                  |--4xx, server down, timeout--> queued, after a
 *     |                  |   back-off (failed after MAIL_MAX_ATTEMPTS)
 *     |                  |--5xx refusal, bad message---> failed
 *     |                  '--run stopped first----------> queued (released)
 *     '-- a run that dies leaves 'sending': when its lease (MAIL_LEASE_S)
 *         ends, the message is claimed again and sent again.  If the dead
 *         run had sent it, that is the one duplicate a crash can cost; it
 *         is logged, and both copies carry the same Message-ID and
 *         X-Parkd-Idempotency-Key.
 */
#include "config.h"

#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "park.h"

#define IDEM_MAX 200       /* bytes of an idempotency key in a header */
#define SUBJECT_MAX 998    /* bytes of a subject (the schema's bound) */
#define WORD_RAW 42        /* bytes per RFC 2047 word: 56 base64 chars */
#define QP_LINE 76         /* RFC 2045 */
#define CONNECT_MAX_MS 5000

/* ---- building ---- */

static const char hexu[] = "0123456789ABCDEF";
static const char hexl[] = "0123456789abcdef";

static void
b64_add(struct buf *b, const unsigned char *s, size_t n)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		q[0] = a[s[i] >> 2];
		q[1] = a[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
		q[2] = a[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
		q[3] = a[s[i + 2] & 63];
		buf_add(b, q, 4);
	}
	if (i < n) {
		q[0] = a[s[i] >> 2];
		if (i + 1 < n) {
			q[1] = a[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
			q[2] = a[(s[i + 1] & 15) << 2];
		} else {
			q[1] = a[(s[i] & 3) << 4];
			q[2] = '=';
		}
		q[3] = '=';
		buf_add(b, q, 4);
	}
}

/* 1 when s is valid UTF-8 (any character, controls included: bodies are
 * encoded, so none reaches the dialogue as it is). */
static int
utf8_ok(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n)
		if (utf8_next(s, n, &i) < 0)
			return 0;
	return 1;
}

const char *
mail_check_addr(const char *a, int sender)
{
	struct req r;
	char *s, copy[256], tmp[272];
	const char *why, *at;
	size_t len, n;

	if (a == NULL || (n = strlen(a)) == 0)
		return "is empty";
	if (n > 254)
		return "must be at most 254 bytes";
	memset(&r, 0, sizeof(r));
	memcpy(copy, a, n + 1);
	s = copy;
	len = n;
	why = valid_email(&r, &s, &len);
	if (why == NULL && len != n)
		why = "must not have spaces around it";
	/* A one-label domain ("parkd@localhost", the default sender) is
	 * fine for the sender: checked as if it had a top-level domain. */
	if (why != NULL && sender && (at = strrchr(a, '@')) != NULL &&
	    strchr(at, '.') == NULL && n + 9 < sizeof(tmp)) {
		snprintf(tmp, sizeof(tmp), "%s.invalid", a);
		s = tmp;
		len = strlen(tmp);
		why = valid_email(&r, &s, &len);
		if (why == NULL && len != strlen(tmp))
			why = "must not have spaces around it";
	}
	pool_free(&r.pool);
	return why;
}

/* 1 when the subject can go into the header as it is: printable ASCII,
 * short enough for one line, nothing that reads as an encoded word. */
static int
subject_plain(const char *s, size_t n)
{
	size_t i;

	if (n > 66)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return strstr(s, "=?") == NULL;
}

/* Appends the Subject header: plain, or as RFC 2047 "B" words of whole
 * UTF-8 characters, one per folded line (each line at most 77 bytes). */
static void
subject_add(struct buf *b, const char *s, size_t n)
{
	size_t i = 0, start, end;

	buf_puts(b, "Subject:");
	if (subject_plain(s, n)) {
		if (n > 0) {
			buf_putc(b, ' ');
			buf_add(b, s, n);
		}
		buf_puts(b, "\r\n");
		return;
	}
	while (i < n) {
		start = i;
		end = i;
		while (i < n) {
			size_t j = i;

			(void)utf8_next(s, n, &j); /* checked valid before */
			if (j - start > WORD_RAW)
				break;
			end = i = j;
		}
		if (start > 0)
			buf_puts(b, "\r\n");
		buf_puts(b, " =?UTF-8?B?");
		b64_add(b, (const unsigned char *)s + start, end - start);
		buf_puts(b, "?=");
	}
	buf_puts(b, "\r\n");
}

/*
 * Appends a body as quoted-printable (RFC 2045): every line break of the
 * input (CRLF, LF or CR) becomes CRLF, lines are at most 76 bytes with
 * soft breaks, '=' and bytes outside printable ASCII are encoded, and so
 * are spaces and tabs at a line's end.  A line "." stays "." here: the
 * SMTP layer stuffs it.
 */
static void
qp_add(struct buf *b, const char *s, size_t n)
{
	size_t i = 0, col = 0, w;
	unsigned char c;
	int lit, eol;

	while (i < n) {
		c = (unsigned char)s[i];
		if (c == '\r' || c == '\n') {
			buf_puts(b, "\r\n");
			col = 0;
			i += c == '\r' && i + 1 < n && s[i + 1] == '\n' ? 2 : 1;
			continue;
		}
		eol = i + 1 == n || s[i + 1] == '\r' || s[i + 1] == '\n';
		lit = (c >= 33 && c <= 126 && c != '=') ||
		    ((c == ' ' || c == '\t') && !eol);
		w = lit ? 1 : 3;
		if (col + w > QP_LINE - 1) {
			buf_puts(b, "=\r\n");
			col = 0;
		}
		if (lit) {
			buf_putc(b, (char)c);
		} else {
			buf_putc(b, '=');
			buf_putc(b, hexu[c >> 4]);
			buf_putc(b, hexu[c & 15]);
		}
		col += w;
		i++;
	}
	if (n == 0 || (s[n - 1] != '\n' && s[n - 1] != '\r'))
		buf_puts(b, "\r\n");
}

/* Appends a Date header for when, in UTC, without the locale's names. */
static void
date_add(struct buf *b, int64_t when)
{
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)when;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL) {
		t = 0;
		gmtime_r(&t, &tm);
	}
	buf_printf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
	    wd[tm.tm_wday % 7], tm.tm_mday, mon[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The first 2n hex digits of SHA-256(tag, key) into out (2n + 1 bytes). */
static void
key_hash(const char *tag, const char *key, char *out, size_t n)
{
	struct buf in = { 0 };
	unsigned char h[32];
	size_t i;

	buf_puts(&in, tag);
	buf_putc(&in, ':');
	buf_puts(&in, key);
	sha256(in.p, in.len, h);
	buf_free(&in);
	for (i = 0; i < n && i < sizeof(h); i++) {
		out[2 * i] = hexl[h[i] >> 4];
		out[2 * i + 1] = hexl[h[i] & 15];
	}
	out[2 * i] = '\0';
}

/* Appends one MIME part's headers and its encoded body. */
static void
part_add(struct buf *b, const char *boundary, const char *type,
    const char *s)
{
	if (boundary != NULL)
		buf_printf(b, "--%s\r\n", boundary);
	buf_printf(b, "Content-Type: %s; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n", type);
	qp_add(b, s, strlen(s));
}

const char *
mail_build(const struct mail *m, const char *from, int64_t when,
    struct buf *out)
{
	static char why[200];
	const char *p, *e;
	char mid[33], bound[25];
	size_t i, n;

	/* Every check comes before the first byte is written. */
	if (m->idem_key == NULL || (n = strlen(m->idem_key)) == 0 ||
	    n > IDEM_MAX)
		return "idempotency key: must be 1 to 200 bytes";
	for (i = 0; i < n; i++)
		if ((unsigned char)m->idem_key[i] < 0x21 ||
		    (unsigned char)m->idem_key[i] > 0x7e)
			return "idempotency key: must be printable ASCII "
			    "without spaces";
	if ((e = mail_check_addr(from, 1)) != NULL) {
		snprintf(why, sizeof(why), "sender address %s", e);
		return why;
	}
	if ((e = mail_check_addr(m->to, 0)) != NULL) {
		snprintf(why, sizeof(why), "recipient address %s", e);
		return why;
	}
	if (m->subject == NULL || (n = strlen(m->subject)) > SUBJECT_MAX)
		return "subject: must be at most 998 bytes";
	if (!valid_utf8_text(m->subject, n, 0))
		return "subject: holds a control character or invalid UTF-8";
	if (m->text == NULL || !utf8_ok(m->text, strlen(m->text)))
		return "text part: missing or not UTF-8";
	if (m->html != NULL && !utf8_ok(m->html, strlen(m->html)))
		return "HTML part: not UTF-8";

	key_hash("message-id", m->idem_key, mid, 16);
	key_hash("boundary", m->idem_key, bound + 8, 8);
	memcpy(bound, "=_parkd_", 8); /* "=_" never occurs in QP text */
	p = strrchr(from, '@') + 1;

	buf_printf(out, "From: %s\r\nTo: %s\r\n", from, m->to);
	subject_add(out, m->subject, n);
	date_add(out, when);
	buf_printf(out, "Message-ID: <%s@%s>\r\n", mid, p);
	buf_puts(out, "MIME-Version: 1.0\r\n"
	    "Auto-Submitted: auto-generated\r\n");
	buf_printf(out, "X-Parkd-Idempotency-Key: %s\r\n", m->idem_key);
	if (m->html == NULL) {
		part_add(out, NULL, "text/plain", m->text);
		return NULL;
	}
	buf_printf(out, "Content-Type: multipart/alternative; "
	    "boundary=\"%s\"\r\n\r\n", bound);
	part_add(out, bound, "text/plain", m->text);
	part_add(out, bound, "text/html", m->html);
	buf_printf(out, "--%s--\r\n", bound);
	return NULL;
}

int64_t
mail_backoff(int n)
{
	static const int minutes[] = { 1, 5, 15, 60, 180, 360, 720 };
	const int last = sizeof(minutes) / sizeof(minutes[0]) - 1;

	if (n < 1)
		n = 1;
	return (int64_t)minutes[n - 1 > last ? last : n - 1] * 60;
}

/* ---- sending ---- */

enum sendrc {
	SEND_OK,
	SEND_RETRY, /* this message failed for now */
	SEND_DOWN,  /* the server (or the folder) failed: stop the run */
	SEND_FAIL,  /* this message can never be sent */
};

struct mailer {
	int to_files;
	int dirfd; /* PARKD_MAIL_DIR, opened on first use; -1 */
	CURL *curl;
	char url[300];
	char from[260]; /* "<sender>" */
	char errbuf[CURL_ERROR_SIZE];
	struct buf msg;
};

struct reader {
	const char *p;
	size_t left;
};

static size_t
read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct reader *r = arg;
	size_t n = size * nmemb;

	if (n > r->left)
		n = r->left;
	memcpy(dst, r->p, n);
	r->p += n;
	r->left -= n;
	return n;
}

/* 1 when h is a host name, an IPv4 address or a bracketed IPv6 one. */
static int
host_ok(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n > 253)
		return 0;
	if (h[0] == '[')
		return n > 2 && h[n - 1] == ']' &&
		    strspn(h + 1, "0123456789abcdefABCDEF:.") == n - 2;
	return strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-") == n && h[0] != '-' && h[0] != '.';
}

int
mail_host_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char inner[64];
	size_t n = strlen(host);

	/* libcurl 7.78+ answers "localhost" itself, never asking DNS. */
	if (strcasecmp(host, "localhost") == 0)
		return 1;
	/* inet_pton() takes the dotted quad only: "127.1", "0x7f000001"
	 * or "127.evil.example" are names (or shorthands) here. */
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(inner))
		return 0;
	memcpy(inner, host, n);
	inner[n] = '\0';
	if (inet_pton(AF_INET6, inner, &a6) != 1)
		return 0;
	return IN6_IS_ADDR_LOOPBACK(&a6) ||
	    (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
}

const char *
mail_plaintext_refused(const struct conf *c)
{
	if (c->mail_server == NULL || *c->mail_server == '\0' ||
	    c->mail_use_tls || c->mail_use_ssl || c->mail_allow_plaintext ||
	    mail_host_loopback(c->mail_server))
		return NULL;
	return "is off, and so is MAIL_USE_SSL, but MAIL_SERVER is not a "
	    "loopback address (localhost, 127.x.y.z or ::1): the e-mails, "
	    "download links included, would cross the network in clear; "
	    "turn MAIL_USE_TLS or MAIL_USE_SSL on, or, on a network you "
	    "trust, set PARKD_MAIL_ALLOW_PLAINTEXT=on";
}

/*
 * Checks the mail settings and prepares the run.  Returns 0, or -1 after
 * logging what is wrong with the settings.
 */
static int
mailer_init(struct mailer *ml)
{
	const char *e;
	char host[260];
	curl_version_info_data *vi;

	memset(ml, 0, sizeof(*ml));
	ml->dirfd = -1;
	if ((e = mail_check_addr(conf.mail_default_sender, 1)) != NULL) {
		log_msg(LOG_ERR, "mail: MAIL_DEFAULT_SENDER %s", e);
		return -1;
	}
	snprintf(ml->from, sizeof(ml->from), "<%s>", conf.mail_default_sender);
	if (conf.mail_server == NULL || *conf.mail_server == '\0') {
		ml->to_files = 1;
		return 0;
	}
	/* "::1" is written "[::1]" in a URL */
	snprintf(host, sizeof(host), strchr(conf.mail_server, ':') != NULL &&
	    conf.mail_server[0] != '[' ? "[%s]" : "%s", conf.mail_server);
	if (!host_ok(host)) {
		log_msg(LOG_ERR, "mail: MAIL_SERVER must be a host name or an "
		    "IP address");
		return -1;
	}
	if (conf.mail_username != NULL && *conf.mail_username != '\0' &&
	    !conf.mail_use_tls && !conf.mail_use_ssl) {
		log_msg(LOG_ERR, "mail: MAIL_USERNAME is set but neither "
		    "MAIL_USE_TLS nor MAIL_USE_SSL: the password would cross "
		    "the network in clear");
		return -1;
	}
	/* conf_load() refused this already; settings made another way
	 * (a test, a later reload) are checked here, before connecting. */
	if ((e = mail_plaintext_refused(&conf)) != NULL) {
		log_msg(LOG_ERR, "mail: MAIL_USE_TLS %s", e);
		return -1;
	}
	if (!conf.mail_use_tls && !conf.mail_use_ssl &&
	    !mail_host_loopback(conf.mail_server))
		log_msg(LOG_WARN, "mail: sending to %s without TLS, as "
		    "PARKD_MAIL_ALLOW_PLAINTEXT allows", host);
	snprintf(ml->url, sizeof(ml->url), "%s://%s:%d",
	    conf.mail_use_ssl ? "smtps" : "smtp", host, conf.mail_port);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_msg(LOG_ERR, "mail: libcurl failed to initialise");
		return -1;
	}
	vi = curl_version_info(CURLVERSION_NOW);
	if ((conf.mail_use_tls || conf.mail_use_ssl) &&
	    !(vi->features & CURL_VERSION_SSL)) {
		log_msg(LOG_ERR, "mail: this libcurl has no TLS support");
		curl_global_cleanup();
		return -1;
	}
	if ((ml->curl = curl_easy_init()) == NULL)
		fatal("curl_easy_init failed");
	return 0;
}

static void
mailer_done(struct mailer *ml)
{
	if (ml->curl != NULL) {
		curl_easy_cleanup(ml->curl);
		curl_global_cleanup();
	}
	if (ml->dirfd != -1)
		close(ml->dirfd);
	buf_free(&ml->msg);
}

/* Writes all of b to fd; 0 or -1 with errno. */
static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Writes the message as PARKD_MAIL_DIR/<id>-<key hash>.eml, mode 0640:
 * a temporary file, synced, then renamed into place, so a reader never
 * sees half a message; a second write of the same message replaces the
 * first (no duplicate even after a crash).
 */
static enum sendrc
send_file(struct mailer *ml, const struct outbox_msg *o, struct buf *why)
{
	char hash[17], name[64], tmp[96];
	const char *what = "open";
	int fd = -1, tries;

	if (ml->dirfd == -1) {
		if (mkdir(conf.mail_dir, 0750) == -1 && errno != EEXIST)
			goto fail_dir;
		ml->dirfd = open(conf.mail_dir, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
		if (ml->dirfd == -1)
			goto fail_dir;
	}
	key_hash("file", o->m.idem_key, hash, 8);
	snprintf(name, sizeof(name), "%lld-%s.eml", (long long)o->id, hash);
	snprintf(tmp, sizeof(tmp), ".%s.%ld.tmp", name, (long)getpid());
	for (tries = 0; tries < 2; tries++) {
		fd = openat(ml->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0640);
		if (fd != -1 || errno != EEXIST)
			break;
		(void)unlinkat(ml->dirfd, tmp, 0); /* a dead run's, same pid */
	}
	if (fd == -1)
		goto fail;
	what = "write";
	if (fchmod(fd, 0640) == -1 || write_all(fd, ml->msg.p,
	    ml->msg.len) == -1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	what = "rename";
	if (renameat(ml->dirfd, tmp, ml->dirfd, name) == -1)
		goto fail;
	(void)fsync(ml->dirfd);
	return SEND_OK;
fail:
	buf_printf(why, "PARKD_MAIL_DIR: %s %s: %s", what, tmp,
	    strerror(errno));
	if (fd != -1)
		close(fd);
	(void)unlinkat(ml->dirfd, tmp, 0);
	return SEND_DOWN;
fail_dir:
	buf_printf(why, "PARKD_MAIL_DIR %s: %s", conf.mail_dir,
	    strerror(errno));
	return SEND_DOWN;
}

/* Sets one option; on failure notes it in *bad (a libcurl too old or
 * built without a feature we rely on). */
#define SETOPT(c, opt, val, bad) do { \
	if (curl_easy_setopt((c), (opt), (val)) != CURLE_OK) \
		(bad) = #opt; \
} while (0)

/*
 * Sends the built message to the one recipient by SMTP.  Classifies a
 * failure by what the server said: 4xx is for now, 5xx to MAIL, RCPT,
 * DATA or the message is for good (RFC 5321 4.2.1), 421, an
 * authentication refusal or no answer at all (refused, timeout, TLS)
 * means the server or our settings are at fault: stop, keep the rest
 * queued.
 */
static enum sendrc
send_smtp(struct mailer *ml, const struct outbox_msg *o, struct buf *why)
{
	CURL *c = ml->curl;
	struct curl_slist *rcpt = NULL;
	struct reader rd = { ml->msg.p, ml->msg.len };
	const char *bad = NULL;
	char to[260];
	long code = 0, ms = (long)conf.mail_timeout_s * 1000;
	CURLcode rc;

	/* mail_build() checked the address: this is the last line of
	 * defence against F6 should anything change it on the way. */
	if (strpbrk(o->m.to, "\r\n<>") != NULL) {
		buf_puts(why, "recipient address holds CR, LF, < or >");
		return SEND_FAIL;
	}
	snprintf(to, sizeof(to), "<%s>", o->m.to);
	if ((rcpt = curl_slist_append(NULL, to)) == NULL)
		fatal("out of memory");
	curl_easy_reset(c); /* keeps the connection for the next message */
	ml->errbuf[0] = '\0';
	SETOPT(c, CURLOPT_URL, ml->url, bad);
	SETOPT(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps", bad);
	SETOPT(c, CURLOPT_PROXY, "", bad);
	SETOPT(c, CURLOPT_NOSIGNAL, 1L, bad);
	SETOPT(c, CURLOPT_CONNECTTIMEOUT_MS,
	    ms < CONNECT_MAX_MS ? ms : (long)CONNECT_MAX_MS, bad);
	SETOPT(c, CURLOPT_TIMEOUT_MS, ms, bad);
	SETOPT(c, CURLOPT_ERRORBUFFER, ml->errbuf, bad);
	if (conf.mail_use_ssl || conf.mail_use_tls) {
		SETOPT(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL, bad);
		SETOPT(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2,
		    bad);
		SETOPT(c, CURLOPT_SSL_VERIFYPEER, 1L, bad);
		SETOPT(c, CURLOPT_SSL_VERIFYHOST, 2L, bad);
		if (conf.mail_ca_file != NULL && *conf.mail_ca_file != '\0')
			SETOPT(c, CURLOPT_CAINFO, conf.mail_ca_file, bad);
	}
	if (conf.mail_username != NULL && *conf.mail_username != '\0') {
		SETOPT(c, CURLOPT_USERNAME, conf.mail_username, bad);
		SETOPT(c, CURLOPT_PASSWORD, conf.mail_password != NULL ?
		    conf.mail_password : "", bad);
	}
	SETOPT(c, CURLOPT_MAIL_FROM, ml->from, bad);
	SETOPT(c, CURLOPT_MAIL_RCPT, rcpt, bad);
	SETOPT(c, CURLOPT_UPLOAD, 1L, bad);
	SETOPT(c, CURLOPT_READFUNCTION, read_cb, bad);
	SETOPT(c, CURLOPT_READDATA, &rd, bad);
	SETOPT(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)ml->msg.len, bad);
	if (bad != NULL) {
		curl_slist_free_all(rcpt);
		buf_printf(why, "libcurl refused %s", bad);
		return SEND_DOWN;
	}
	rc = curl_easy_perform(c);
	/* the list must outlive the transfer, and nothing after it */
	SETOPT(c, CURLOPT_MAIL_RCPT, (struct curl_slist *)NULL, bad);
	curl_slist_free_all(rcpt);
	if (rc == CURLE_OK)
		return SEND_OK;
	(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	buf_printf(why, "%s (curl %d", ml->errbuf[0] != '\0' ? ml->errbuf :
	    curl_easy_strerror(rc), (int)rc);
	if (code > 0)
		buf_printf(why, ", SMTP %ld", code);
	buf_putc(why, ')');
	/* An answer about this message: MAIL, RCPT or DATA refused
	 * (CURLE_SEND_ERROR), or the message refused after its final dot
	 * (all of it was read; Debian's 7.88 then says
	 * CURLE_WEIRD_SERVER_REPLY, as for a refused greeting, which is
	 * about the server). */
	if (code >= 400 && code <= 599 && code != 421 && code != 530 &&
	    code != 534 && code != 535 && code != 538 &&
	    (rc == CURLE_SEND_ERROR || rd.left == 0))
		return code >= 500 ? SEND_FAIL : SEND_RETRY;
	return SEND_DOWN;
}

/* ---- the run ---- */

static volatile sig_atomic_t stop_asked;

static void
on_stop(int sig)
{
	(void)sig;
	stop_asked = 1;
}

/* Records an outcome; counts the ones that could not be recorded. */
static void
record(enum dbrc rc, const struct outbox_msg *o, struct mail_stats *st)
{
	if (rc == DB_OK)
		return;
	st->lost++;
	if (rc == DB_NOTFOUND) {
		log_msg(LOG_WARN, "mail: message %lld (%s): another run took "
		    "it over after its lease ended; its outcome here is not "
		    "recorded", (long long)o->id, o->m.idem_key);
		return;
	}
	log_msg(LOG_ERR, "mail: message %lld (%s): its outcome could not be "
	    "recorded; it will be tried again after its lease (maybe sent "
	    "twice)", (long long)o->id, o->m.idem_key);
	st->stopped = 1;
}

/* Delivers one claimed message and records what happened. */
static void
deliver_one(struct mailer *ml, const struct outbox_msg *o,
    struct mail_stats *st)
{
	struct buf why = { 0 };
	enum sendrc s;
	const char *e = NULL;
	int64_t now = park_now();

	if (o->reclaimed && ml->to_files)
		log_msg(LOG_WARN, "mail: message %lld (%s) was left being "
		    "written by a run that died: writing it again (its file "
		    "is replaced)", (long long)o->id, o->m.idem_key);
	else if (o->reclaimed)
		log_msg(LOG_WARN, "mail: message %lld (%s) was left being sent "
		    "by a run that died: sending it again, so it may arrive "
		    "twice", (long long)o->id, o->m.idem_key);
	buf_reset(&ml->msg);
	if (o->has_nul)
		e = "a NUL byte in a header or body";
	else if (o->attempts > MAIL_MAX_ATTEMPTS)
		e = "no attempts left (the runs sending it died)";
	else
		e = mail_build(&o->m, conf.mail_default_sender, now, &ml->msg);
	if (e != NULL) {
		buf_puts(&why, e);
		s = SEND_FAIL;
	} else if (ml->to_files) {
		s = send_file(ml, o, &why);
	} else {
		s = send_smtp(ml, o, &why);
	}
	now = park_now();
	switch (s) {
	case SEND_OK:
		st->sent++;
		log_msg(LOG_INFO, "mail: message %lld (%s) sent%s",
		    (long long)o->id, o->m.idem_key,
		    o->attempts > 1 ? " after retries" : "");
		record(db_outbox_sent(o, now), o, st);
		break;
	case SEND_DOWN:
		st->stopped = 1;
		/* FALLTHROUGH */
	case SEND_RETRY:
		if (o->attempts >= MAIL_MAX_ATTEMPTS) {
			st->failed++;
			buf_printf(&why, "; gave up after %d attempts",
			    o->attempts);
			log_msg(LOG_ERR, "mail: message %lld (%s) failed: %s",
			    (long long)o->id, o->m.idem_key, why.p);
			record(db_outbox_fail(o, now, why.p), o, st);
			break;
		}
		st->retry++;
		log_msg(LOG_WARN, "mail: message %lld (%s) not sent (attempt "
		    "%d), queued again: %s", (long long)o->id, o->m.idem_key,
		    o->attempts, why.p);
		record(db_outbox_retry(o, now + mail_backoff(o->attempts),
		    why.p), o, st);
		break;
	case SEND_FAIL:
		st->failed++;
		log_msg(LOG_ERR, "mail: message %lld (%s) refused, never "
		    "sent: %s", (long long)o->id, o->m.idem_key, why.p);
		record(db_outbox_fail(o, now, why.p), o, st);
		break;
	}
	buf_free(&why);
}

int
mail_deliver(long limit, struct mail_stats *st)
{
	struct sigaction sa, old_term, old_int;
	struct mailer ml;
	struct pool pool = { 0 };
	struct outbox_msg *v;
	struct buf msg = { 0 };
	int64_t job, now;
	long tried = 0;
	size_t i, n;
	enum dbrc r;
	int rc, want, dberr = 0;

	memset(st, 0, sizeof(*st));
	if (limit <= 0)
		limit = MAIL_LIMIT_DEFAULT;
	if (mailer_init(&ml) != 0)
		return -2;
	if (db_job_start("mail", &job) != DB_OK) {
		mailer_done(&ml);
		return -1;
	}
	/* SIGTERM (systemd stopping the unit) ends the run after the
	 * message in flight, giving the rest back at once. */
	stop_asked = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGINT, &sa, &old_int);

	while (!st->stopped && !stop_asked && tried < limit) {
		now = park_now();
		want = limit - tried < MAIL_BATCH ? (int)(limit - tried) :
		    MAIL_BATCH;
		pool_reset(&pool);
		r = db_outbox_claim(&pool, now, now + MAIL_LEASE_S, want, &v,
		    &n);
		if (r != DB_OK) {
			log_msg(LOG_ERR, "mail: cannot claim messages (see "
			    "above)");
			dberr = 1;
			break;
		}
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			if (st->stopped || stop_asked) {
				/* not tried: due again at the next run */
				record(db_outbox_release(&v[i], now), &v[i],
				    st);
				continue;
			}
			tried++;
			deliver_one(&ml, &v[i], st);
		}
	}
	if (stop_asked)
		log_msg(LOG_WARN, "mail: stopped by a signal");

	buf_printf(&msg, "sent %lld, queued again %lld, failed %lld",
	    st->sent, st->retry, st->failed);
	if (st->lost > 0)
		buf_printf(&msg, ", not recorded %lld", st->lost);
	if (st->stopped)
		buf_puts(&msg, "; stopped early (server or folder failing)");
	rc = dberr ? -1 : st->retry > 0 || st->failed > 0 || st->lost > 0 ||
	    stop_asked ? 1 : 0;
	log_msg(rc == 0 ? LOG_INFO : LOG_WARN, "mail: %s", msg.p);
	if (db_job_finish(job, st->sent, st->retry + st->failed + st->lost,
	    rc == 0 ? "ok" : "failed", msg.p) != DB_OK && rc == 0)
		rc = -1;

	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGINT, &old_int, NULL);
	buf_free(&msg);
	pool_free(&pool);
	mailer_done(&ml);
	return rc;
}
