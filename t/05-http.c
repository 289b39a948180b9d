/* 05-http: the front line and the one response writer, without FastCGI:
 * envelopes, statuses, headers, CORS and preflight, the order of checks. */
#include "config.h"

#include <string.h>

#include "park.h"
#include "tap.h"

static struct req r;
static struct resp w;
static struct buf out;
static char any[] = "*", two[] = "https://a.example, https://app.example",
    one[] = "https://a.example";

/* Runs one request through the front line and the writer. */
static const char *
run(const char *method, const char *path, const char *ctype,
    const char *body)
{
	req_reset(&r);
	resp_reset(&w);
	buf_reset(&out);
	r.method_str = method;
	r.method = http_method(method);
	r.path = path;
	r.content_type = ctype;
	r.origin = "https://app.example";
	if (body != NULL) {
		r.body = pool_strdup(&r.pool, body);
		r.bodylen = strlen(body);
	}
	front_handle(&r, &w);
	http_render(&r, &w, &out);
	return out.p;
}

static int
has(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

int
main(void)
{
	const char *o;

	conf.cors_origins = any;
	conf.max_body = 65536;
	req_init(&r);
	resp_init(&w);

	o = run("GET", "/", NULL, NULL);
	ok(has(o, "Status: 200 OK\r\n"), "GET / is 200");
	ok(has(o, "\r\n\r\n{\"success\":true,\"message\":"),
	    "success envelope");
	ok(has(o, "\"endpoints\":{") && has(o, "\"GET /api/health\":"),
	    "GET / maps the routes");
	ok(has(o, "Content-Type: application/json; charset=utf-8\r\n"),
	    "JSON content type");
	ok(has(o, "X-Request-Id: ") && strlen(r.reqid) == 32,
	    "a 32-character request id");
	ok(has(o, "X-Content-Type-Options: nosniff\r\n") &&
	    has(o, "X-Frame-Options: DENY\r\n") &&
	    has(o, "Cache-Control: no-store\r\n"), "security headers");
	ok(!has(o, "Access-Control-Allow-Origin"), "no CORS outside /api/");

	o = run("GET", "/api/nowhere", NULL, NULL);
	ok(has(o, "Status: 404 Not Found\r\n") && has(o,
	    "{\"success\":false,\"error\":\"Resource not found\","
	    "\"message\":\"Resource not found\",\"code\":\"NOT_FOUND\"}"),
	    "404 envelope (message repeats error, for old clients)");
	ok(has(o, "Access-Control-Allow-Origin: *\r\n"),
	    "CORS on /api/ errors too");

	o = run("POST", "/api/health", "application/json", "{}");
	ok(has(o, "Status: 405 Method Not Allowed\r\n") &&
	    has(o, "Allow: GET, HEAD, OPTIONS\r\n") &&
	    has(o, "\"code\":\"METHOD_NOT_ALLOWED\""), "405 with Allow");

	o = run("OPTIONS", "/api/health", NULL, NULL);
	ok(has(o, "Status: 204 No Content\r\n") &&
	    has(o, "Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n") &&
	    has(o, "Access-Control-Allow-Headers: Authorization, "
	    "Content-Type") && !has(o, "Content-Length"),
	    "preflight 204 with the path's methods");
	o = run("OPTIONS", "/api/nowhere", NULL, NULL);
	ok(has(o, "Status: 404"), "preflight of an unknown path is 404");

	o = run("HEAD", "/", NULL, NULL);
	ok(has(o, "Status: 200") && has(o, "Content-Length: ") &&
	    strstr(o, "\r\n\r\n")[4] == '\0', "HEAD has headers, no body");

	r.path = NULL;
	req_reset(&r);
	resp_reset(&w);
	buf_reset(&out);
	r.method = M_GET;
	front_handle(&r, &w);
	is_int(w.status, 400, "an undecodable path is 400");

	/* The writer on its own. */
	req_reset(&r);
	resp_reset(&w);
	buf_reset(&out);
	r.path = "/api/x";
	strcpy(r.reqid, "0123456789abcdef0123456789abcdef");
	resp_error(&w, 400, "VALIDATION", "Invalid input");
	resp_detail(&w, "email", "is required");
	resp_detail(&w, "username", "is taken");
	resp_detail(&w, "email", "is \"odd\"");
	resp_header(&w, "X-Evil", "a\r\nSet-Cookie: x=1");
	http_render(&r, &w, &out);
	ok(has(out.p, "\"details\":{\"email\":[\"is required\","
	    "\"is \\\"odd\\\"\"],\"username\":[\"is taken\"]}"),
	    "details grouped per field, escaped");
	ok(has(out.p, "X-Evil: a  Set-Cookie: x=1\r\n"),
	    "a header value cannot split the header");
	ok(json_check(strstr(out.p, "\r\n\r\n") + 4,
	    strlen(strstr(out.p, "\r\n\r\n") + 4)) == 0,
	    "the error body is strict JSON");

	conf.cors_origins = two;
	o = run("GET", "/api/nowhere", NULL, NULL);
	ok(has(o, "Access-Control-Allow-Origin: https://app.example\r\n") &&
	    has(o, "Vary: Origin\r\n"), "a listed origin is echoed");
	conf.cors_origins = one;
	o = run("GET", "/api/nowhere", NULL, NULL);
	ok(!has(o, "Access-Control-Allow-Origin"),
	    "an unlisted origin gets no CORS header");
	conf.cors_origins = any;

	pool_free(&r.pool);
	resp_free(&w);
	buf_free(&out);
	return done_testing();
}
