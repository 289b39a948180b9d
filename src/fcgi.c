/*
 * fcgi.c: the one file that includes libfcgi.  A worker's serving loop:
 * accept one request with its own FCGX_Request (never the fcgi_stdio
 * globals, which rewrite environ), fill a struct req from the parameters
 * and a capped body, run the front line, send what the writer rendered,
 * log one line, repeat.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include <fcgiapp.h>

#include "park.h"

static volatile sig_atomic_t fcgi_stopping;

void
fcgi_stop(void)
{
	fcgi_stopping = 1;
	/* Makes a blocked accept give up (async-signal-safe: a flag). */
	FCGX_ShutdownPending();
}

/* Reads CONTENT_LENGTH: -1 when absent, -2 when malformed. */
static long long
content_length(const char *s)
{
	long long n = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || n > 1000000000LL)
			return -2;
		n = n * 10 + (*s - '0');
	}
	return n;
}

/* The parameters fcgi_read() takes, in the order of fcgi_params(). */
enum { P_METHOD, P_CTYPE, P_AUTH, P_ORIGIN, P_ADDR, P_UA, P_ID, P_URI,
    P_CLEN, P__COUNT };

/*
 * Finds the parameters of the enum in one pass over the list (one
 * FCGX_GetParam() per name scanned the whole list each time) and copies
 * them into the request's pool: libfcgi frees its own copies in
 * FCGX_Finish_r(), before the log line is written.  A name given twice
 * keeps its first value, as FCGX_GetParam() does; an absent one is NULL.
 */
static void
fcgi_params(struct req *r, FCGX_Request *fr, const char *v[P__COUNT])
{
	static const struct {
		const char *name;
		size_t len;
	} names[P__COUNT] = {
#define P(s) { s, sizeof(s) - 1 }
		[P_METHOD] = P("REQUEST_METHOD"),
		[P_CTYPE] = P("CONTENT_TYPE"),
		[P_AUTH] = P("HTTP_AUTHORIZATION"),
		[P_ORIGIN] = P("HTTP_ORIGIN"),
		[P_ADDR] = P("REMOTE_ADDR"),
		[P_UA] = P("HTTP_USER_AGENT"),
		[P_ID] = P("PARKD_REQUEST_ID"),
		[P_URI] = P("REQUEST_URI"),
		[P_CLEN] = P("CONTENT_LENGTH"),
#undef P
	};
	const char *eq;
	char **e;
	size_t i, n;

	for (i = 0; i < P__COUNT; i++)
		v[i] = NULL;
	for (e = fr->envp; e != NULL && *e != NULL; e++) {
		if ((eq = strchr(*e, '=')) == NULL)
			continue;
		n = (size_t)(eq - *e);
		for (i = 0; i < P__COUNT; i++)
			if (names[i].len == n && v[i] == NULL &&
			    memcmp(*e, names[i].name, n) == 0) {
				v[i] = pool_strdup(&r->pool, eq + 1);
				break;
			}
	}
}

/*
 * Fills r from the FastCGI parameters and reads the body up to the cap.
 * Returns 0, or -1 when the request is malformed (resp is then filled).
 */
static int
fcgi_read(FCGX_Request *fr, struct req *r, struct resp *w)
{
	const char *p[P__COUNT], *uri, *q, *id;
	long long len;
	size_t got = 0, want;
	int n;

	r->started_ms = park_ms();
	fcgi_params(r, fr, p);
	r->method_str = p[P_METHOD];
	r->method = http_method(r->method_str);
	r->content_type = p[P_CTYPE];
	r->authorization = p[P_AUTH];
	r->origin = p[P_ORIGIN];
	r->remote_addr = p[P_ADDR];
	r->user_agent = p[P_UA];

	/* nginx's $request_id, passed under a name no client header can
	 * take, ties our log line to nginx's access log. */
	id = p[P_ID];
	if (id != NULL && strlen(id) == 32 &&
	    strspn(id, "0123456789abcdef") == 32)
		memcpy(r->reqid, id, 33);
	else
		rand_hex(r->reqid, 16);

	if ((uri = p[P_URI]) == NULL)
		uri = "";
	q = strchr(uri, '?');
	r->query = q != NULL ? pool_strdup(&r->pool, q + 1) : "";
	r->path = http_pct_decode(&r->pool, uri,
	    q != NULL ? (size_t)(q - uri) : strlen(uri));
	if (r->path == NULL || r->path[0] != '/') {
		/* A %00 or a broken escape: refuse before routing. */
		r->path = NULL;
		return 0;
	}

	len = content_length(p[P_CLEN]);
	r->content_length = len;
	if (len == -2) {
		metrics_inc(MX_BODY_INVALID);
		resp_error(w, 400, "VALIDATION", "Malformed Content-Length");
		return -1;
	}
	if (len <= 0)
		return 0;
	if (len > conf.max_body) {
		/* Not read: the connection closes after the answer. */
		r->body_too_large = 1;
		return 0;
	}
	want = (size_t)len;
	r->body = pool_alloc(&r->pool, want + 1);
	while (got < want) {
		n = FCGX_GetStr(r->body + got, (int)(want - got), fr->in);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got != want) {
		metrics_inc(MX_BODY_INVALID);
		resp_error(w, 400, "VALIDATION",
		    "Request body shorter than its Content-Length");
		return -1;
	}
	r->body[got] = '\0';
	r->bodylen = got;
	return 0;
}

/*
 * Whether the connection of a finished request may be closed at once.
 * libfcgi closes the TCP way: shutdown(), then poll and read until the
 * server closes its side (up to 2 s), so that input still arriving cannot
 * make the kernel reset the connection and drop the answer.  A unix socket
 * drops nothing on close (the answer is already in nginx's receive
 * queue), and the wait put the worker to sleep on every request until
 * nginx had finished with it.  Lingering stays for TCP sockets, for a body
 * left unread (nginx may still be sending it: 413) and whenever the kernel
 * holds input we have not read.  Returns 1 to close at once, else 0.
 */
static int
fcgi_can_close(int unix_socket, const struct req *r, int fd)
{
	char c;

	if (!unix_socket || r->body_too_large)
		return 0;
	return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK);
}

long
fcgi_serve(int listen_fd, long max_requests)
{
	FCGX_Request fr;
	struct req r;
	struct resp w;
	struct buf out = { 0 };
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	long served = 0;
	int64_t t0;
	int unix_socket;

	if (FCGX_Init() != 0) {
		log_msg(LOG_ERR, "FCGX_Init failed");
		return 0;
	}
	if (FCGX_InitRequest(&fr, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_msg(LOG_ERR, "FCGX_InitRequest failed");
		return 0;
	}
	unix_socket = getsockname(listen_fd, (struct sockaddr *)&ss,
	    &sslen) == 0 && ss.ss_family == AF_UNIX;
	req_init(&r);
	resp_init(&w);
	while (!fcgi_stopping &&
	    (max_requests <= 0 || served < max_requests)) {
		if (FCGX_Accept_r(&fr) < 0) {
			if (fcgi_stopping)
				break;
			/* EINTR from a signal we ignore, or a peer that
			 * went away during accept: go on. */
			continue;
		}
		t0 = metrics_begin();
		if (fcgi_read(&fr, &r, &w) == 0)
			front_handle(&r, &w);
		buf_reset(&out);
		http_render(&r, &w, &out);
		/* Counted before it is sent: once a client has an answer,
		 * any scrape that follows counts it. */
		metrics_end(&r, &w, t0);
		if (FCGX_PutStr(out.p, (int)out.len, fr.out) != (int)out.len)
			log_msg(LOG_INFO, "client went away before the "
			    "answer (request %s)", r.reqid);
		/* Detached, FCGX_Finish_r() closes without lingering. */
		if (fcgi_can_close(unix_socket, &r, fr.ipcFd))
			FCGX_Detach(&fr);
		FCGX_Finish_r(&fr);
		if (conf.log_requests)
			front_log(&r, &w);
		req_reset(&r);
		resp_reset(&w);
		served++;
		/* Keep a burst's worth of buffer, not the biggest ever. */
		if (out.cap > 1 << 20)
			buf_free(&out);
	}
	FCGX_Free(&fr, 0);
	pool_free(&r.pool);
	resp_free(&w);
	buf_free(&out);
	return served;
}
