/*
 * front.c: the one front line.  Every request passes the same checks in
 * the same order before any handler runs:
 *
 *   route (404, 405 + Allow; OPTIONS preflight 204)
 *   -> content type (415) -> body cap (413)
 *   -> token and role (401 / 403, from the route's access column)
 *   -> input validation (400 with details, from the route's field table)
 *   -> handler
 *
 * The response is then written by http_render(), the one writer.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "park.h"

/* When the database could not be opened, when to try again. */
static int64_t db_retry_ms;

int
front_worker_init(void)
{
	/* The cache's tags are keyed by SECRET_KEY; JWT_SECRET_KEY (which
	 * parkd requires) when it is not set, under its own label. */
	cache_init(conf.redis_cache_url, conf.secret_key != NULL &&
	    *conf.secret_key != '\0' ? conf.secret_key : conf.jwt_secret_key,
	    conf.redis_timeout_ms, conf.redis_breaker_s);
	/* A worker without its database still answers (503s and a health
	 * check that says so), and tries again on later requests. */
	if (db_open(conf.db_path, 0) != DB_OK) {
		log_msg(LOG_ERR, "cannot open the database %s; "
		    "will retry", db_path_shown(conf.db_path));
		db_retry_ms = park_ms() + 1000;
	}
	return 0;
}

void
front_worker_done(void)
{
	db_close();
	cache_done();
}

/* 1 when the content type is JSON (parameters such as charset allowed). */
static int
is_json_type(const char *ct)
{
	size_t n = strlen("application/json");

	if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* Parses one query-string field into *v.  Returns NULL or the problem. */
static const char *
query_field(struct req *r, const struct field *f, struct val *v)
{
	char *s, *end;
	long long n;
	size_t len;

	if ((s = http_query_get(r, f->name)) == NULL || *s == '\0')
		return f->required ? "is required" : NULL;
	len = strlen(s);
	switch (f->type) {
	case FT_INT:
		errno = 0;
		n = strtoll(s, &end, 10);
		if (*end != '\0' || errno != 0 || !(isdigit((unsigned char)*s)
		    || (*s == '-' && isdigit((unsigned char)s[1]))))
			return "must be an integer";
		if (n < f->min || n > f->max)
			return pool_printf(&r->pool,
			    "must be between %lld and %lld", f->min, f->max);
		v->i = n;
		break;
	case FT_BOOL:
		if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
			v->i = 1;
		else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
			v->i = 0;
		else
			return "must be true or false";
		break;
	case FT_STR:
		if (!valid_utf8_text(s, len, 0))
			return "must be text without control characters";
		if ((long long)len < f->min || (long long)len > f->max)
			return pool_printf(&r->pool,
			    "must be %lld to %lld characters", f->min, f->max);
		break;
	case FT_MONEY:
		return "is not accepted in the query";
	}
	if (f->valid != NULL) {
		const char *bad = f->valid(r, &s, &len);

		if (bad != NULL)
			return bad;
	}
	v->s = s;
	v->len = len;
	v->set = 1;
	return NULL;
}

void
front_log_ignored(const struct req *r, const char *where,
    const char *const *names, size_t n, size_t more)
{
	struct buf line = { 0 };
	size_t i, j, len, shown = 0;

	buf_puts(&line, "debug: req id=");
	buf_puts(&line, r->reqid);
	buf_puts(&line, " ignored ");
	buf_puts(&line, where);
	buf_puts(&line, " fields:");
	for (i = 0; i < n; i++) {
		/* a name sent twice (?a=1&a=2) is listed once */
		for (j = 0; j < i && strcmp(names[j], names[i]) != 0; j++)
			;
		if (j < i)
			continue;
		/* Anyone may send these bytes (anonymous routes too): every
		 * byte outside printable ASCII is escaped whole, so the cut
		 * (in bytes of the name) splits no escape and no byte reaches
		 * the log that a terminal or a log viewer would act on. */
		len = strlen(names[i]);
		buf_puts(&line, shown++ > 0 ? ", \"" : " \"");
		text_escape_ascii(&line, names[i], len > 64 ? 64 : len);
		buf_putc(&line, '"');
	}
	if (more > 0) {
		buf_puts(&line, " and ");
		buf_uint(&line, more);
		buf_puts(&line, " more");
	}
	log_raw(LOG_DEBUG, line.p, line.len);
	buf_free(&line);
}

/*
 * Logs the names of the query parameters the route does not take: they
 * are ignored (never looked up, so they cannot take effect).  The signed
 * link's "token" belongs to AC_LINK routes.  Names are compared as sent,
 * like http_query_get() does.
 */
static void
query_ignored(struct req *r)
{
	const struct route *rt = r->route;
	const char *q = r->query, *names[FRONT_IGNORED_MAX];
	size_t klen, i, n = 0, more = 0;
	int known;

	while (q != NULL && *q != '\0') {
		klen = strcspn(q, "&=");
		known = klen == 0 || (rt->access == AC_LINK && klen == 5 &&
		    memcmp(q, "token", 5) == 0);
		for (i = 0; !known && i < rt->nfields; i++)
			known = rt->fields[i].src == FS_QUERY &&
			    strlen(rt->fields[i].name) == klen &&
			    memcmp(rt->fields[i].name, q, klen) == 0;
		/* a name sent again is neither listed nor counted twice */
		for (i = 0; !known && i < n; i++)
			known = strlen(names[i]) == klen &&
			    memcmp(names[i], q, klen) == 0;
		if (!known) {
			if (n < FRONT_IGNORED_MAX)
				names[n++] = pool_strndup(&r->pool, q, klen);
			else
				more++;
		}
		q = strchr(q, '&');
		q = q != NULL ? q + 1 : NULL;
	}
	if (n > 0)
		front_log_ignored(r, "query", names, n, more);
}

/* Fills req->in[] from the query and the body.  Returns 0 or -1 (400). */
static int
front_input(struct req *r, struct resp *w)
{
	const struct route *rt = r->route;
	const char *bad;
	size_t i;
	int body_fields = 0;

	if (r->query != NULL && *r->query != '\0')
		query_ignored(r);
	for (i = 0; i < rt->nfields; i++) {
		if (rt->fields[i].src == FS_BODY) {
			body_fields = 1;
			continue;
		}
		if ((bad = query_field(r, &rt->fields[i], &r->in[i])) != NULL)
			resp_detail(w, rt->fields[i].name, bad);
	}
	if (w->ndet > 0) {
		resp_error(w, 400, "VALIDATION", "Invalid input");
		return -1;
	}
	/* Routes without body fields still refuse a body that is not a
	 * JSON object (a client bug worth reporting); its members are
	 * ignored and their names logged. */
	if (body_fields || (r->body != NULL && r->bodylen > 0 &&
	    (r->method & (M_POST | M_PUT | M_PATCH | M_DELETE)))) {
		if (json_parse_body(r, rt->fields, rt->nfields, w) != 0) {
			metrics_inc(MX_BODY_INVALID);
			return -1;
		}
	}
	return 0;
}

/* Answers an OPTIONS preflight for a path that exists. */
static void
front_preflight(struct req *r, struct resp *w, unsigned allow)
{
	struct buf b = { 0 };

	route_allow_str(allow, &b);
	w->status = 204;
	w->no_body = 1;
	resp_header(w, "Allow", pool_strdup(&r->pool, b.p));
	resp_header(w, "Access-Control-Allow-Methods",
	    pool_strdup(&r->pool, b.p));
	resp_header(w, "Access-Control-Allow-Headers",
	    "Authorization, Content-Type, X-Request-Id");
	resp_header(w, "Access-Control-Max-Age", "600");
	buf_free(&b);
}

void
front_handle(struct req *r, struct resp *w)
{
	struct buf b = { 0 };
	unsigned allow;
	enum match m;

	if (r->reqid[0] == '\0')
		rand_hex(r->reqid, 16);
	if (r->path == NULL) {
		resp_error(w, 400, "VALIDATION", "Malformed request path");
		return;
	}

	m = route_match(r, r->method, r->path, &allow);
	if (m == MATCH_NOT_FOUND) {
		resp_error(w, 404, "NOT_FOUND", "Resource not found");
		return;
	}
	if (r->method == M_OPTIONS) {
		front_preflight(r, w, allow | M_OPTIONS);
		return;
	}
	if (m == MATCH_BAD_METHOD) {
		route_allow_str(allow, &b);
		resp_error(w, 405, "METHOD_NOT_ALLOWED",
		    "Method not allowed");
		resp_header(w, "Allow", pool_strdup(&r->pool, b.p));
		buf_free(&b);
		return;
	}

	if ((r->bodylen > 0 || r->body_too_large) &&
	    (r->method & (M_POST | M_PUT | M_PATCH | M_DELETE)) &&
	    !is_json_type(r->content_type)) {
		metrics_inc(MX_BODY_MEDIA_TYPE);
		resp_error(w, 415, "UNSUPPORTED_MEDIA_TYPE",
		    "Content-Type must be application/json");
		return;
	}
	if (r->body_too_large) {
		metrics_inc(MX_BODY_TOO_LARGE);
		resp_error(w, 413, "PAYLOAD_TOO_LARGE",
		    "Request body too large");
		return;
	}

	if (r->route->access != AC_ANON && auth_front(r, w) != 0)
		return;

	if (front_input(r, w) != 0)
		return;

	if (!db_is_open() && conf.db_path != NULL &&
	    park_ms() >= db_retry_ms) {
		if (db_open(conf.db_path, 0) != DB_OK)
			db_retry_ms = park_ms() + 1000;
	}
	r->route->handler(r, w);
	/* Whatever way the handler left, its hash slot goes back. */
	pw_gate_leave();
}

void
front_log(const struct req *r, const struct resp *w)
{
	struct buf line = { 0 };
	const char *path = r->path != NULL ? r->path : "-";
	int64_t ms;

	/* Never the query (a download link carries a token there), never a
	 * header or a body. */
	buf_puts(&line, "req id=");
	buf_puts(&line, r->reqid);
	buf_puts(&line, " method=");
	text_escape_log(&line, r->method_str ? r->method_str : "-",
	    strlen(r->method_str ? r->method_str : "-"));
	buf_puts(&line, " path=\"");
	text_escape_log(&line, path, strlen(path));
	buf_puts(&line, "\" status=");
	buf_uint(&line, (unsigned)w->status);
	buf_puts(&line, " ms=");
	ms = park_ms() - r->started_ms;
	buf_uint(&line, ms > 0 ? (unsigned long long)ms : 0);
	if (r->who.role == ROLE_ADMIN)
		buf_puts(&line, " user=admin");
	else if (r->who.role == ROLE_USER) {
		buf_puts(&line, " user=");
		buf_uint(&line, (unsigned long long)r->who.user_id);
	}
	if (w->code != NULL) {
		buf_puts(&line, " code=");
		buf_puts(&line, w->code);
	}
	if (r->remote_addr != NULL) {
		buf_puts(&line, " addr=");
		text_escape_log(&line, r->remote_addr,
		    strlen(r->remote_addr));
	}
	log_raw(w->status >= 500 ? LOG_ERR : LOG_INFO, line.p, line.len);
	buf_free(&line);
}
