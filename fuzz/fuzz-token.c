/*
 * fuzz-token: token verification.  No input may crash it, and any token
 * it accepts must be one we could have issued: HS256 with our key, the
 * right type, issuer and well-formed ids (reliability.md plan row 14).
 * Seeds include real tokens, so the fuzzer mutates near-valid ones.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "park.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char secret[] = "fuzz-secret-0123456789abcdef0123456789abcdef";
	static char issuer[] = "parkd";
	static struct pool pool;
	struct token t;
	enum tokerr e;
	int type;

	conf.jwt_secret_key = secret;
	conf.jwt_issuer = issuer;
	conf.jwt_refresh_ttl_s = 30 * 86400;
	conf.jwt_refresh_remember_ttl_s = 90 * 86400;
	if (size < 1)
		return 0;
	type = (data[0] & 1) ? TOK_REFRESH : TOK_ACCESS;
	e = token_verify((const char *)data + 1, size - 1, type, &t, &pool);
	if (e == TOK_OK) {
		if (t.type != type || strlen(t.jti) != 32 ||
		    strlen(t.sid) != 32 || t.exp < t.iat ||
		    (t.role == ROLE_ADMIN) != (strcmp(t.sub, "admin") == 0))
			abort();
	}
	pool_reset(&pool);
	return 0;
}
