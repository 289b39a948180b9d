/*
 * crypto.c: the one file that includes OpenSSL.  Randomness, hashing and
 * constant-time comparison; the password functions join it with the
 * accounts work.
 *
 * OpenSSL 3.0: HMAC_CTX is deprecated; a key used for many messages is an
 * EVP_MAC_CTX keyed once, and EVP_MAC_init() with a NULL key starts a new
 * message with the same key (its padded inner and outer states are kept,
 * so a message costs its own SHA-256 blocks and two more).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "park.h"

void
rand_bytes(void *p, size_t n)
{
	/* A token or salt from a failed RNG would be guessable: stop. */
	if (n > 0x7fffffff || RAND_bytes(p, (int)n) != 1)
		fatal("RAND_bytes failed");
}

void
rand_hex(char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[64];
	size_t i;

	if (n > sizeof(raw))
		fatal("rand_hex: %zu bytes is too many", n);
	rand_bytes(raw, n);
	for (i = 0; i < n; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[2 * n] = '\0';
}

int
ct_memcmp(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) != 0;
}

void
sha256(const void *p, size_t n, unsigned char out[32])
{
	unsigned int len = 32;

	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1)
		fatal("EVP_Digest(sha256) failed");
}

int
kdf_scrypt(const char *pw, size_t pwlen, const char *salt, size_t saltlen,
    uint64_t n, uint64_t r, uint64_t p, unsigned char *out, size_t outlen)
{
	/* OpenSSL's default cap (32 MiB) refuses werkzeug's own default
	 * (N=2^15, r=8 needs 33.6 MB): give what the parameters need, which
	 * the callers have already capped. */
	uint64_t maxmem = 128 * r * (n + 2) + 128 * r * p + (1 << 20);

	return EVP_PBE_scrypt(pw, pwlen, (const unsigned char *)salt, saltlen,
	    n, r, p, maxmem, out, outlen) == 1 ? 0 : -1;
}

int
kdf_pbkdf2(const char *digest, const char *pw, size_t pwlen,
    const char *salt, size_t saltlen, int iter, unsigned char *out,
    size_t outlen)
{
	const EVP_MD *md;

	if (strcmp(digest, "sha256") == 0)
		md = EVP_sha256();
	else if (strcmp(digest, "sha512") == 0)
		md = EVP_sha512();
	else
		return -1;
	if (pwlen > 0x7fffffff || saltlen > 0x7fffffff || outlen > 0x7fffffff)
		return -1;
	return PKCS5_PBKDF2_HMAC(pw, (int)pwlen, (const unsigned char *)salt,
	    (int)saltlen, iter, md, (int)outlen, out) == 1 ? 0 : -1;
}

void
hmac_sha256(const void *key, size_t keylen, const void *p, size_t n,
    unsigned char out[32])
{
	unsigned int len = 32;

	if (keylen > 0x7fffffff ||
	    HMAC(EVP_sha256(), key, (int)keylen, p, n, out, &len) == NULL)
		fatal("HMAC(sha256) failed");
}

struct hmac_key {
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
};

struct hmac_key *
hmac_key_new(const void *key, size_t keylen)
{
	struct hmac_key *h = xcalloc(1, sizeof(*h));
	OSSL_PARAM params[2];
	char digest[] = "SHA256";

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((h->mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (h->ctx = EVP_MAC_CTX_new(h->mac)) == NULL ||
	    EVP_MAC_init(h->ctx, key, keylen, params) != 1) {
		hmac_key_free(h);
		return NULL;
	}
	return h;
}

void
hmac_key_free(struct hmac_key *h)
{
	if (h == NULL)
		return;
	EVP_MAC_CTX_free(h->ctx);
	EVP_MAC_free(h->mac);
	free(h);
}

int
hmac_key_sign2(struct hmac_key *h, const void *a, size_t an, const void *b,
    size_t bn, unsigned char out[32])
{
	size_t len = 0;

	if (EVP_MAC_init(h->ctx, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(h->ctx, a, an) != 1 ||
	    EVP_MAC_update(h->ctx, b, bn) != 1 ||
	    EVP_MAC_final(h->ctx, out, &len, 32) != 1 || len != 32)
		return -1;
	return 0;
}
