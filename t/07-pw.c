/*
 * 07-pw: password hashes in werkzeug's format (reliability.md 1.7, test
 * plan row 24).
 *
 * The vectors were made with Python's hashlib in werkzeug's exact layout
 * (and each was also accepted by werkzeug's own check_password_hash):
 *
 *   pbkdf2:HASH:ITER$SALT$HEX  hashlib.pbkdf2_hmac(HASH, pw.encode(),
 *                              SALT.encode(), ITER).hex()
 *   scrypt:N:r:p$SALT$HEX      hashlib.scrypt(pw.encode(), salt=SALT.encode(),
 *                              n=N, r=r, p=p, maxmem=132*N*r*p).hex()
 *                              (dklen 64, hashlib's default)
 *
 * The salt is its literal ASCII text: 16 alphanumerics as werkzeug <= 2.2
 * made them, 22 urlsafe characters (with '-' and '_') as token_urlsafe(16)
 * makes them in werkzeug >= 2.3.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "park.h"
#include "tap.h"

/* "correct horse battery staple" */
#define PW_A "correct horse battery staple"
/* U+00E4, U+00F6, three CJK ideographs and U+1F511, as UTF-8: 14 code
 * points, 25 bytes.  Python: "p\u00e4ssw\u00f6rd \u65e5\u672c\u8a9e
 * \U0001F511" */
#define PW_U "p\xc3\xa4ssw\xc3\xb6rd \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e " \
    "\xf0\x9f\x94\x91"
/* The same with U+00E4 decomposed (a + U+0308): werkzeug does not
 * normalise, so neither do we. */
#define PW_U_NFD "pa\xcc\x88ssw\xc3\xb6rd \xe6\x97\xa5\xe6\x9c\xac" \
    "\xe8\xaa\x9e \xf0\x9f\x94\x91"

static const struct vector {
	const char *what;
	const char *pw;
	const char *hash;
} vectors[] = {
	{ "werkzeug 2.2 pbkdf2 260000, 16-alnum salt", PW_A,
	    "pbkdf2:sha256:260000$Xk3pQ9rT2mW7vB1n$"
	    "a21eec36a16e6d6b8e7ea971215b5624"
	    "39ec837f6d0b884c65eab2187c862756" },
	{ "werkzeug 2.2 pbkdf2 260000, UTF-8 password", PW_U,
	    "pbkdf2:sha256:260000$aB3dE5gH7jK9mN1p$"
	    "78e567ccc5400196fdf16178cd49067b"
	    "f74411199ddb7ec4d1fc02eae319d08a" },
	{ "werkzeug 3.0 pbkdf2 600000, 22-char urlsafe salt", PW_A,
	    "pbkdf2:sha256:600000$q-3_xZ8aB0cD9eF1gH2i_J$"
	    "f71b8e5bf6b4891fb26aef0bc35026d2"
	    "b2959a2cf7af9eb8dcc4c6b0a875d5b6" },
	{ "werkzeug 3.1 pbkdf2 1000000, urlsafe salt, UTF-8 password", PW_U,
	    "pbkdf2:sha256:1000000$Zm9v-YmFy_YmF6LXF1eA12$"
	    "4e7dcb3c3574ba04ad1e445b7caeafd6"
	    "5fa419dd177d0f4942adc3cf21967a9e" },
	{ "pbkdf2 sha512 600000", PW_A,
	    "pbkdf2:sha512:600000$Qw3rTy7uI0oP2aS4dF6gHj$"
	    "418662303a46551eb370c449d2cc7c4677f5940602a198095bb7f74971de8948"
	    "a62b61f12221689bc685e9fc0ed09968"
	    "9cb63002f51aa161dbab66360c98fd4c" },
	{ "werkzeug scrypt:32768:8:1, 16-alnum salt", PW_A,
	    "scrypt:32768:8:1$Xk3pQ9rT2mW7vB1n$"
	    "970d99ec9ab5668704073b2e7d53ff2eb443094f7fe67270f1ee8bfaf460442d"
	    "68afe99d386a335b98ea1e172db5a2b4"
	    "ae33772f492a899b0a4f82ff78357687" },
	{ "werkzeug scrypt:32768:8:1, urlsafe salt, UTF-8 password", PW_U,
	    "scrypt:32768:8:1$q-3_xZ8aB0cD9eF1gH2i_J$"
	    "63332a1a2123a86a4d6ea50d2b725b89dc952cec47fce2ee9d80a72d10311c9a"
	    "dbc07337b297a551e072f6a028eeef4a"
	    "cd9f9b358bcafa4e1837ba998dee22f7" },
};

#define HEX_A_SCRYPT \
    "970d99ec9ab5668704073b2e7d53ff2eb443094f7fe67270f1ee8bfaf460442d" \
    "68afe99d386a335b98ea1e172db5a2b4ae33772f492a899b0a4f82ff78357687"
#define HEX_A_PBKDF2 \
    "a21eec36a16e6d6b8e7ea971215b562439ec837f6d0b884c65eab2187c862756"

/*
 * Stored texts that must never verify, and must be refused before any key
 * derivation (a bad database row must not cost a worker seconds or
 * gigabytes).  Each keeps the salt and hex of a real vector where it can,
 * so that only the named defect makes it fail.
 */
static const struct bad {
	const char *what;
	const char *hash;
} bad[] = {
	{ "empty", "" },
	{ "no $ at all", "scrypt:32768:8:1" },
	{ "salt but no hex", "scrypt:32768:8:1$Xk3pQ9rT2mW7vB1n" },
	{ "empty hex", "scrypt:32768:8:1$Xk3pQ9rT2mW7vB1n$" },
	{ "empty salt", "scrypt:32768:8:1$$" HEX_A_SCRYPT },
	{ "empty salt (pbkdf2)", "pbkdf2:sha256:260000$$" HEX_A_PBKDF2 },
	{ "salt of 65 bytes",
	    "pbkdf2:sha256:260000$"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa$"
	    HEX_A_PBKDF2 },
	{ "no method", "$Xk3pQ9rT2mW7vB1n$" HEX_A_SCRYPT },
	{ "scrypt without p", "scrypt:32768:8$Xk3pQ9rT2mW7vB1n$" HEX_A_SCRYPT },
	{ "scrypt with a fourth parameter",
	    "scrypt:32768:8:1:1$Xk3pQ9rT2mW7vB1n$" HEX_A_SCRYPT },
	{ "scrypt with an empty N", "scrypt::8:1$Xk3pQ9rT2mW7vB1n$"
	    HEX_A_SCRYPT },
	{ "short form scrypt$", "scrypt$Xk3pQ9rT2mW7vB1n$" HEX_A_SCRYPT },
	{ "short form pbkdf2$", "pbkdf2$Xk3pQ9rT2mW7vB1n$" HEX_A_PBKDF2 },
	{ "pbkdf2 without iterations",
	    "pbkdf2:sha256$Xk3pQ9rT2mW7vB1n$" HEX_A_PBKDF2 },
	{ "pbkdf2 with an unknown digest",
	    "pbkdf2:md5:260000$Xk3pQ9rT2mW7vB1n$" HEX_A_PBKDF2 },
	{ "pbkdf2 sha1", "pbkdf2:sha1:260000$Xk3pQ9rT2mW7vB1n$"
	    "a21eec36a16e6d6b8e7ea971215b562439ec837f" },
	{ "legacy sha256$", "sha256$Xk3pQ9rT2mW7vB1n$" HEX_A_PBKDF2 },
	{ "legacy plain:", "plain$$correct horse battery staple" },
	{ "argon2 (not ours)",
	    "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo" },
	{ "hex one character short",
	    "scrypt:32768:8:1$Xk3pQ9rT2mW7vB1n$"
	    "970d99ec9ab5668704073b2e7d53ff2eb443094f7fe67270f1ee8bfaf460442d"
	    "68afe99d386a335b98ea1e172db5a2b4ae33772f492a899b0a4f82ff7835768" },
	{ "hex two characters long",
	    "scrypt:32768:8:1$Xk3pQ9rT2mW7vB1n$" HEX_A_SCRYPT "00" },
	{ "scrypt hex of 32 bytes (pbkdf2 length)",
	    "scrypt:32768:8:1$Xk3pQ9rT2mW7vB1n$" HEX_A_PBKDF2 },
	{ "N not a power of two",
	    "scrypt:30000:8:1$Xk3pQ9rT2mW7vB1n$" HEX_A_SCRYPT },
	{ "N = 1", "scrypt:1:8:1$Xk3pQ9rT2mW7vB1n$" HEX_A_SCRYPT },
	{ "N = 0", "scrypt:0:8:1$Xk3pQ9rT2mW7vB1n$" HEX_A_SCRYPT },
	{ "N = 2^20 (over the cap)",
	    "scrypt:1048576:8:1$Xk3pQ9rT2mW7vB1n$" HEX_A_SCRYPT },
	{ "N = 2^19, r = 2 (128 MiB: only the cap on N stops it)",
	    "scrypt:524288:2:1$Xk3pQ9rT2mW7vB1n$" HEX_A_SCRYPT },
	{ "N = 2^40 (huge)",
	    "scrypt:1099511627776:8:1$Xk3pQ9rT2mW7vB1n$" HEX_A_SCRYPT },
	{ "N with a leading zero",
	    "scrypt:032768:8:1$Xk3pQ9rT2mW7vB1n$" HEX_A_SCRYPT },
	{ "N negative", "scrypt:-32768:8:1$Xk3pQ9rT2mW7vB1n$" HEX_A_SCRYPT },
	{ "r = 64", "scrypt:32768:64:1$Xk3pQ9rT2mW7vB1n$" HEX_A_SCRYPT },
	{ "r = 0", "scrypt:32768:0:1$Xk3pQ9rT2mW7vB1n$" HEX_A_SCRYPT },
	{ "p = 16", "scrypt:32768:8:16$Xk3pQ9rT2mW7vB1n$" HEX_A_SCRYPT },
	{ "p = 0", "scrypt:32768:8:0$Xk3pQ9rT2mW7vB1n$" HEX_A_SCRYPT },
	{ "N and r each within the caps, 512 MiB together",
	    "scrypt:262144:16:1$Xk3pQ9rT2mW7vB1n$" HEX_A_SCRYPT },
	{ "iterations 10^8",
	    "pbkdf2:sha256:100000000$Xk3pQ9rT2mW7vB1n$" HEX_A_PBKDF2 },
	{ "iterations 5000001 (just over the cap)",
	    "pbkdf2:sha256:5000001$Xk3pQ9rT2mW7vB1n$" HEX_A_PBKDF2 },
	{ "iterations 2^64 + 1",
	    "pbkdf2:sha256:18446744073709551617$Xk3pQ9rT2mW7vB1n$"
	    HEX_A_PBKDF2 },
	{ "iterations 0", "pbkdf2:sha256:0$Xk3pQ9rT2mW7vB1n$" HEX_A_PBKDF2 },
	{ "iterations with a sign",
	    "pbkdf2:sha256:+260000$Xk3pQ9rT2mW7vB1n$" HEX_A_PBKDF2 },
	{ "iterations with a space",
	    "pbkdf2:sha256: 260000$Xk3pQ9rT2mW7vB1n$" HEX_A_PBKDF2 },
	{ "method in capitals",
	    "SCRYPT:32768:8:1$Xk3pQ9rT2mW7vB1n$" HEX_A_SCRYPT },
};

/* Well formed but for the hex digits: pw_parse() takes them, the hex
 * decoder refuses them, still before any derivation. */
static const struct bad bad_hex[] = {
	{ "uppercase hex",
	    "scrypt:32768:8:1$Xk3pQ9rT2mW7vB1n$"
	    "970D99EC9AB5668704073B2E7D53FF2EB443094F7FE67270F1EE8BFAF460442D"
	    "68AFE99D386A335B98EA1E172DB5A2B4"
	    "AE33772F492A899B0A4F82FF78357687" },
	{ "non-hex character",
	    "pbkdf2:sha256:260000$Xk3pQ9rT2mW7vB1n$"
	    "g21eec36a16e6d6b8e7ea971215b5624"
	    "39ec837f6d0b884c65eab2187c862756" },
	{ "a third $ in the hex",
	    "pbkdf2:sha256:260000$Xk3pQ9rT2mW7vB1n$"
	    "a21eec36a16e6d6b8e7ea971215b5624"
	    "39ec837f6d0b884c65eab2187c86$756" },
};

#define NBAD (sizeof(bad) / sizeof(bad[0]))
#define NBAD_HEX (sizeof(bad_hex) / sizeof(bad_hex[0]))

/* Milliseconds of a monotonic clock, with fractions. */
static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* 1 when s is the layout of a new hash made with the policy. */
static int
is_policy_hash(const char *s)
{
	char want[64];
	const char *p;
	size_t i;

	snprintf(want, sizeof(want), "scrypt:%d:%d:%d$", conf.scrypt_n,
	    conf.scrypt_r, conf.scrypt_p);
	if (strncmp(s, want, strlen(want)) != 0)
		return 0;
	p = s + strlen(want);
	for (i = 0; i < 22; i++)
		if (!((p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= '0' && p[i] <= '9')))
			return 0;
	if (p[22] != '$')
		return 0;
	p += 23;
	return strlen(p) == 128 && strspn(p, "0123456789abcdef") == 128;
}

int
main(void)
{
	double retry_ms, ref_ms;
	size_t j;
	struct pw_params pp;
	struct buf h1 = { 0 }, h2 = { 0 };
	char longpw[1100];
	double t0, dt, slowest = 0, policy_ms;
	const char *slowest_what = "";
	size_t i;
	int rehash, good;

	/* The policy of new hashes, as the settings would give it.  Tests
	 * use the smallest N the settings accept: the real default (2^17)
	 * is tested through the rehash flag below. */
	conf.scrypt_n = 16384;
	conf.scrypt_r = 8;
	conf.scrypt_p = 1;

	/* ---- werkzeug's vectors ---- */
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];

		t0 = now_ms();
		good = pw_verify(v->pw, strlen(v->pw), v->hash, &rehash);
		dt = now_ms() - t0;
		ok(good, "%s: verifies", v->what);
		diag("%s: %.0f ms", v->what, dt);
		ok(!pw_verify("correct horse battery stapl", 27, v->hash,
		    NULL), "%s: a wrong password is refused", v->what);
		ok(pw_parse(v->hash, &pp) == 0 &&
		    pp.dklen == (strncmp(v->hash, "pbkdf2:sha256", 13) == 0 ?
		    32u : 64u), "%s: parses with werkzeug's dklen", v->what);
	}
	ok(!pw_verify(PW_A, strlen(PW_A) - 1, vectors[0].hash, NULL) &&
	    !pw_verify(PW_U, strlen(PW_U) - 1, vectors[6].hash, NULL),
	    "the password less its last byte is refused (pbkdf2, scrypt)");
	ok(!pw_verify("", 0, vectors[0].hash, NULL) &&
	    !pw_verify("", 0, vectors[5].hash, NULL),
	    "the empty password is refused (pbkdf2, scrypt)");
	ok(!pw_verify(PW_U_NFD, strlen(PW_U_NFD), vectors[1].hash, NULL),
	    "the UTF-8 password in another normal form is another password");
	ok(pw_verify(PW_A, strlen(PW_A), vectors[0].hash, NULL),
	    "the 16-alnum salt is used as text (not decoded)");

	/* ---- malformed and over-parameterised: false, and they cost one
	 * verification at the policy: never the capped parameters' cost
	 * (a bad row must not cost a worker seconds), never nothing (the
	 * timing would name accounts with a bad hash) ---- */
	policy_ms = 1e9;
	for (i = 0; i < 3; i++) {
		t0 = now_ms();
		pw_dummy(PW_A, strlen(PW_A));
		dt = now_ms() - t0;
		if (dt < policy_ms)
			policy_ms = dt;
	}
	diag("one verification at the policy: %.1f ms (the fastest of 3)",
	    policy_ms);
	for (i = 0; i < NBAD + NBAD_HEX; i++) {
		const struct bad *x = i < NBAD ? &bad[i] : &bad_hex[i - NBAD];

		t0 = now_ms();
		good = pw_verify(PW_A, strlen(PW_A), x->hash, &rehash);
		dt = now_ms() - t0;
		ok(!good, "malformed (%s): refused", x->what);
		/* Generous bounds: a loaded machine stretches either.  Above
		 * them, up to three more rounds of a policy verification next
		 * to one of the malformed hash: the load of that moment
		 * stretches both alike (the upper bound follows the slowest
		 * policy round), while a real extra cost (the capped
		 * parameters: seconds) stays over it. */
		ref_ms = policy_ms;
		for (j = 0; j < 3 && dt >= 4 * ref_ms + 50; j++) {
			t0 = now_ms();
			pw_dummy(PW_A, strlen(PW_A));
			retry_ms = now_ms() - t0;
			if (retry_ms > ref_ms)
				ref_ms = retry_ms;
			t0 = now_ms();
			(void)pw_verify(PW_A, strlen(PW_A), x->hash, &rehash);
			retry_ms = now_ms() - t0;
			if (retry_ms < dt)
				dt = retry_ms;
		}
		ok(dt > policy_ms / 4 && dt < 4 * ref_ms + 50,
		    "malformed (%s): refused after one policy verification "
		    "(%.1f ms)", x->what, dt);
		if (i < NBAD)
			ok(pw_parse(x->hash, &pp) != 0,
			    "malformed (%s): pw_parse refuses it", x->what);
		else
			ok(pw_parse(x->hash, &pp) == 0, "malformed (%s): "
			    "parses; the hex decoder refuses it", x->what);
		if (dt > slowest) {
			slowest = dt;
			slowest_what = x->what;
		}
	}
	diag("slowest refusal: %.3f ms (%s)", slowest, slowest_what);
	ok(!pw_verify(PW_A, strlen(PW_A), NULL, NULL), "a NULL hash: refused");
	ok(pw_parse("scrypt:262144:8:4$Xk3pQ9rT2mW7vB1n$" HEX_A_SCRYPT,
	    &pp) == 0 && pp.n == 262144 && pp.r == 8 && pp.p == 4,
	    "the caps themselves are accepted (N 2^18, r 8, p 4: 256 MiB)");
	ok(pw_parse("pbkdf2:sha256:5000000$Xk3pQ9rT2mW7vB1n$" HEX_A_PBKDF2,
	    &pp) == 0 && pp.iter == 5000000,
	    "5,000,000 iterations (the cap) are accepted");
	ok(pw_parse("pbkdf2:sha256:260000$"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa$"
	    HEX_A_PBKDF2, &pp) == 0 && pp.saltlen == 64,
	    "a salt of 64 bytes is accepted");

	/* A password too long to hash: refused without work. */
	memset(longpw, 'a', sizeof(longpw));
	t0 = now_ms();
	good = pw_verify(longpw, sizeof(longpw), vectors[5].hash, NULL);
	dt = now_ms() - t0;
	ok(!good && dt < 50, "a 1100-byte password is refused at once "
	    "(%.2f ms)", dt);
	ok(pw_hash(longpw, sizeof(longpw), &h1) != 0,
	    "pw_hash refuses a 1100-byte password");

	/* ---- new hashes: format, round trip, fresh salt ---- */
	ok(pw_hash(PW_U, strlen(PW_U), &h1) == 0, "pw_hash succeeds");
	ok(h1.p != NULL && is_policy_hash(h1.p),
	    "pw_hash writes scrypt:N:r:p$<22 alnum>$<128 hex> with the "
	    "policy: %s", h1.p ? h1.p : "(null)");
	rehash = -1;
	ok(pw_verify(PW_U, strlen(PW_U), h1.p, &rehash),
	    "the new hash verifies");
	is_int(rehash, 0, "a hash at the policy needs no rehash");
	ok(!pw_verify(PW_A, strlen(PW_A), h1.p, NULL),
	    "the new hash refuses another password");
	ok(pw_hash(PW_U, strlen(PW_U), &h2) == 0 && strcmp(h1.p, h2.p) != 0 &&
	    strncmp(h1.p, h2.p, 17) == 0,
	    "hashing the same password twice gives another salt and hash");

	/* ---- the rehash flag ---- */
	rehash = -1;
	ok(pw_verify(PW_A, strlen(PW_A), vectors[4].hash, &rehash) &&
	    rehash == 1, "pbkdf2 (even sha512 at 600000) asks for a rehash");
	rehash = -1;
	ok(pw_verify(PW_U, strlen(PW_U), vectors[3].hash, &rehash) &&
	    rehash == 1, "pbkdf2 at 1,000,000 asks for a rehash");
	conf.scrypt_n = 32768;
	rehash = -1;
	ok(pw_verify(PW_A, strlen(PW_A), vectors[5].hash, &rehash) &&
	    rehash == 0, "scrypt:32768:8:1 at a policy of 32768:8:1: no "
	    "rehash");
	conf.scrypt_n = 131072;
	rehash = -1;
	ok(pw_verify(PW_A, strlen(PW_A), vectors[5].hash, &rehash) &&
	    rehash == 1, "scrypt N=32768 below a policy of N=131072 (the "
	    "default): rehash");
	conf.scrypt_n = 32768;
	conf.scrypt_r = 16;
	rehash = -1;
	ok(pw_verify(PW_A, strlen(PW_A), vectors[5].hash, &rehash) &&
	    rehash == 1, "scrypt r=8 below a policy of r=16: rehash");
	conf.scrypt_r = 8;
	conf.scrypt_p = 2;
	rehash = -1;
	ok(pw_verify(PW_A, strlen(PW_A), vectors[5].hash, &rehash) &&
	    rehash == 1, "scrypt p=1 below a policy of p=2: rehash");
	conf.scrypt_p = 1;
	conf.scrypt_n = 16384;
	rehash = -1;
	ok(pw_verify(PW_A, strlen(PW_A), vectors[5].hash, &rehash) &&
	    rehash == 0, "scrypt above the policy: no rehash (never "
	    "downgraded)");
	rehash = -1;
	ok(!pw_verify("wrong password", 14, vectors[0].hash, &rehash) &&
	    rehash == 0, "a failed verification never asks for a rehash");

	/* ---- the dummy for unknown users ---- */
	t0 = now_ms();
	pw_dummy(PW_A, strlen(PW_A));
	dt = now_ms() - t0;
	diag("pw_dummy (first call): %.0f ms", dt);
	t0 = now_ms();
	pw_dummy(PW_A, strlen(PW_A));
	dt = now_ms() - t0;
	t0 = now_ms();
	(void)pw_verify(PW_A, strlen(PW_A), h1.p, NULL);
	diag("pw_dummy: %.0f ms; a verification at the policy: %.0f ms", dt,
	    now_ms() - t0);
	ok(dt > 1, "pw_dummy does spend the time of a verification");

	buf_free(&h1);
	buf_free(&h2);
	return done_testing();
}
