/*
 * http.c: the request and response structures, query-string access, and
 * the one response writer.  Nothing here knows FastCGI: fcgi.c fills a
 * struct req and sends what http_render() produced, so handlers and the
 * writer can be tested (and fuzzed) without a server.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "park.h"

void
req_init(struct req *r)
{
	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	r->query = "";
}

void
req_reset(struct req *r)
{
	struct pool keep = r->pool;

	pool_reset(&keep);
	req_init(r);
	r->pool = keep;
}

void
resp_init(struct resp *w)
{
	memset(w, 0, sizeof(*w));
	w->status = 200;
}

void
resp_reset(struct resp *w)
{
	struct buf data = w->data, raw = w->raw;

	buf_reset(&data);
	buf_reset(&raw);
	resp_init(w);
	w->data = data;
	w->raw = raw;
}

void
resp_free(struct resp *w)
{
	buf_free(&w->data);
	buf_free(&w->raw);
	resp_init(w);
}

void
resp_header(struct resp *w, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < w->nhdr; i++)
		if (strcasecmp(w->hdr[i].name, name) == 0) {
			w->hdr[i].value = value;
			return;
		}
	if (w->nhdr == MAX_HEADERS)
		fatal("resp_header: more than %d headers", MAX_HEADERS);
	w->hdr[w->nhdr].name = name;
	w->hdr[w->nhdr].value = value;
	w->nhdr++;
}

void
resp_error(struct resp *w, int status, const char *code, const char *text)
{
	w->status = status;
	w->code = code;
	w->message = text;
	buf_reset(&w->data);
}

void
resp_detail(struct resp *w, const char *field, const char *problem)
{
	/* Past the cap, more problems would not help the client. */
	if (w->ndet == MAX_DETAILS)
		return;
	w->det[w->ndet].field = field;
	w->det[w->ndet].problem = problem;
	w->ndet++;
}

void
resp_ok(struct resp *w, const char *message, struct jw *jw)
{
	w->status = 200;
	w->code = NULL;
	w->message = message != NULL ? message : "OK";
	buf_reset(&w->data);
	jw_init(jw, &w->data);
}

const char *
http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

enum method
http_method(const char *s)
{
	static const struct {
		const char *name;
		enum method m;
	} tab[] = {
		{ "GET", M_GET }, { "POST", M_POST }, { "PUT", M_PUT },
		{ "DELETE", M_DELETE }, { "PATCH", M_PATCH },
		{ "OPTIONS", M_OPTIONS }, { "HEAD", M_HEAD },
	};
	size_t i;

	if (s == NULL)
		return M_OTHER;
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(s, tab[i].name) == 0)
			return tab[i].m;
	return M_OTHER;
}

char *
http_pct_decode(struct pool *p, const char *s, size_t n)
{
	char *out = pool_alloc(p, n + 1), *o = out;
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (i + 2 >= n)
				return NULL;
			if ((hi = hex_value((unsigned char)s[i + 1])) < 0 ||
			    (lo = hex_value((unsigned char)s[i + 2])) < 0)
				return NULL;
			if (hi == 0 && lo == 0)
				return NULL;
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == '\0')
			return NULL;
		else
			*o++ = s[i];
	}
	*o = '\0';
	return out;
}

char *
http_query_get(struct req *r, const char *name)
{
	const char *q = r->query, *amp, *eq;
	size_t nlen = strlen(name), klen, i;
	char *v;

	while (q != NULL && *q != '\0') {
		amp = strchr(q, '&');
		klen = amp != NULL ? (size_t)(amp - q) : strlen(q);
		eq = memchr(q, '=', klen);
		/* Names are plain ASCII in our API: compare undecoded. */
		if ((eq != NULL ? (size_t)(eq - q) : klen) == nlen &&
		    memcmp(q, name, nlen) == 0) {
			if (eq == NULL)
				return pool_strdup(&r->pool, "");
			v = http_pct_decode(&r->pool, eq + 1,
			    klen - nlen - 1);
			if (v != NULL)
				for (i = 0; v[i] != '\0'; i++)
					if (v[i] == '+')
						v[i] = ' ';
			return v != NULL ? v : pool_strdup(&r->pool, "\x7f");
		}
		q = amp != NULL ? amp + 1 : NULL;
	}
	return NULL;
}

/* 1 when origin is allowed by PARKD_CORS_ORIGINS ("*" or a list). */
static int
cors_allowed(const char *origin)
{
	const char *list = conf.cors_origins, *p, *end;
	size_t n = strlen(origin);

	if (list == NULL || *list == '\0')
		return 0;
	if (strcmp(list, "*") == 0)
		return 1;
	for (p = list; *p != '\0'; p = *end ? end + 1 : end) {
		while (*p == ' ' || *p == ',')
			p++;
		end = p + strcspn(p, ", ");
		if ((size_t)(end - p) == n && strncmp(p, origin, n) == 0)
			return 1;
	}
	return 0;
}

/* Writes the JSON envelope of w into b. */
static void
render_envelope(const struct resp *w, struct buf *b)
{
	const char *p;
	size_t i, j, n;
	int first;

	if (w->code == NULL) {
		buf_puts(b, "{\"success\":true,\"message\":");
		json_quote(b, w->message ? w->message : "OK",
		    strlen(w->message ? w->message : "OK"));
		if (w->data.len > 0) {
			buf_puts(b, ",\"data\":");
			buf_add(b, w->data.p, w->data.len);
		}
		buf_putc(b, '}');
		return;
	}
	/* "message" repeats "error": old clients show
	 * response.data.message (api-contract.md, section 0). */
	p = w->message ? w->message : "Error";
	n = strlen(p);
	buf_puts(b, "{\"success\":false,\"error\":");
	json_quote(b, p, n);
	buf_puts(b, ",\"message\":");
	json_quote(b, p, n);
	buf_puts(b, ",\"code\":");
	json_quote(b, w->code, strlen(w->code));
	if (w->ndet > 0) {
		/* Group the problems by field, in first-seen order. */
		buf_puts(b, ",\"details\":{");
		first = 1;
		for (i = 0; i < w->ndet; i++) {
			for (j = 0; j < i; j++)
				if (strcmp(w->det[j].field,
				    w->det[i].field) == 0)
					break;
			if (j < i)
				continue;
			if (!first)
				buf_putc(b, ',');
			first = 0;
			json_quote(b, w->det[i].field,
			    strlen(w->det[i].field));
			buf_puts(b, ":[");
			for (j = i; j < w->ndet; j++) {
				if (strcmp(w->det[j].field,
				    w->det[i].field) != 0)
					continue;
				if (j != i)
					buf_putc(b, ',');
				json_quote(b, w->det[j].problem,
				    strlen(w->det[j].problem));
			}
			buf_putc(b, ']');
		}
		buf_putc(b, '}');
	}
	buf_putc(b, '}');
}

void
http_render(const struct req *r, struct resp *w, struct buf *out)
{
	struct buf body = { 0 };
	const char *type = "application/json; charset=utf-8", *p;
	size_t i;
	int api = r->path != NULL && strncmp(r->path, "/api/", 5) == 0;

	if (w->raw_type != NULL) {
		type = w->raw_type;
		buf_add(&body, w->raw.p, w->raw.len);
	} else if (!w->no_body && w->status != 204)
		render_envelope(w, &body);

	/* No printf on this path: every request passes here. */
	buf_puts(out, "Status: ");
	buf_uint(out, (unsigned)w->status);
	buf_putc(out, ' ');
	buf_puts(out, http_status_text(w->status));
	if (w->status != 204 && !w->no_body) {
		buf_puts(out, "\r\nContent-Type: ");
		buf_puts(out, type);
		buf_puts(out, "\r\nContent-Length: ");
		buf_uint(out, body.len);
	}
	buf_puts(out, "\r\nX-Request-Id: ");
	buf_puts(out, r->reqid);
	buf_puts(out, "\r\n");
	/* API answers are per caller and never to be cached or framed. */
	buf_puts(out,
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "X-Frame-Options: DENY\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "Content-Security-Policy: default-src 'none'; "
	    "frame-ancestors 'none'\r\n");
	if (api && r->origin != NULL && *r->origin != '\0' &&
	    cors_allowed(r->origin)) {
		if (strcmp(conf.cors_origins, "*") == 0)
			buf_puts(out, "Access-Control-Allow-Origin: *\r\n");
		else {
			/* The origin was matched against the list. */
			buf_printf(out, "Access-Control-Allow-Origin: %s\r\n"
			    "Vary: Origin\r\n", r->origin);
		}
		buf_puts(out, "Access-Control-Expose-Headers: "
		    "X-Request-Id, Retry-After, Content-Disposition, "
		    "X-Total-Count\r\n");
	}
	for (i = 0; i < w->nhdr; i++) {
		buf_puts(out, w->hdr[i].name);
		buf_puts(out, ": ");
		/* A header value never ends the header early, whatever a
		 * handler put in it. */
		for (p = w->hdr[i].value; *p != '\0'; p++)
			buf_putc(out, *p == '\r' || *p == '\n' ? ' ' : *p);
		buf_puts(out, "\r\n");
	}
	buf_puts(out, "\r\n");
	if (r->method != M_HEAD && body.len > 0)
		buf_add(out, body.p, body.len);
	buf_free(&body);
}
