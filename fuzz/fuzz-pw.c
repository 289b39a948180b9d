/*
 * fuzz-pw: the stored-hash parser.  Whatever it accepts is within the caps
 * (so a bad row cannot make a worker allocate or spin), and verification
 * of small-parameter hashes never crashes.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "park.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pw_params pp;
	char *s;

	s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	if (pw_parse(s, &pp) == 0) {
		if (pp.kind == PW_SCRYPT && (pp.n > (1u << 18) || pp.r > 16 ||
		    pp.p > 4 || 128 * pp.n * pp.r > (256u << 20)))
			abort();
		if (pp.kind == PW_PBKDF2 && pp.iter > 5000000)
			abort();
		/* Verifying is only cheap for small parameters. */
		if ((pp.kind == PW_SCRYPT && pp.n * pp.r * pp.p <= 4096) ||
		    (pp.kind == PW_PBKDF2 && pp.iter <= 1000))
			(void)pw_verify("password", 8, s, NULL);
	}
	free(s);
	return 0;
}
