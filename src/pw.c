/*
 * pw.c: password hashes in werkzeug's text format, so that users imported
 * from the old Flask backend keep their passwords.
 *
 *   scrypt:N:r:p$SALT$HEX          dklen 64 (hashlib's default)
 *   pbkdf2:sha256:ITER$SALT$HEX    dklen = digest size
 *
 * The salt is used as its literal ASCII bytes.  Parameters read from a
 * stored hash are capped, so a bad row cannot make a worker allocate
 * gigabytes or spin for minutes.  New hashes use scrypt with the policy of
 * the settings (PARKD_SCRYPT_N/R/P).
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "park.h"

#define PW_MAX_N (1u << 18)
#define PW_MAX_R 16
#define PW_MAX_P 4
#define PW_MAX_MEM (256u << 20) /* 128 * N * r bytes */
#define PW_MAX_ITER 5000000
#define PW_MAX_SALT 64
#define PW_MAX_LEN 1024 /* bytes of password hashed; longer is refused */

/* Reads a decimal number that fills [s, e); returns it or 0. */
static uint64_t
num(const char *s, const char *e)
{
	uint64_t v = 0;

	if (e <= s || e - s > 9 || *s == '0')
		return 0;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	return v;
}

/* Decodes lowercase hex of exactly 2*n characters; 0 or -1. */
static int
unhex(const char *s, size_t slen, unsigned char *out, size_t n)
{
	size_t i;
	int hi, lo;

	if (slen != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		hi = s[2 * i];
		lo = s[2 * i + 1];
		hi = hi >= '0' && hi <= '9' ? hi - '0' :
		    hi >= 'a' && hi <= 'f' ? hi - 'a' + 10 : -1;
		lo = lo >= '0' && lo <= '9' ? lo - '0' :
		    lo >= 'a' && lo <= 'f' ? lo - 'a' + 10 : -1;
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int
pw_parse(const char *stored, struct pw_params *pp)
{
	const char *d1, *d2, *c1, *c2, *c3, *salt;
	size_t saltlen;

	memset(pp, 0, sizeof(*pp));
	if (stored == NULL || (d1 = strchr(stored, '$')) == NULL ||
	    (d2 = strchr(d1 + 1, '$')) == NULL)
		return -1;
	salt = d1 + 1;
	saltlen = (size_t)(d2 - salt);
	if (saltlen == 0 || saltlen > PW_MAX_SALT)
		return -1;
	pp->salt = salt;
	pp->saltlen = saltlen;
	pp->hex = d2 + 1;
	pp->hexlen = strlen(d2 + 1);

	if (strncmp(stored, "scrypt:", 7) == 0) {
		c1 = stored + 6;
		if ((c2 = memchr(c1 + 1, ':', (size_t)(d1 - c1 - 1))) == NULL ||
		    (c3 = memchr(c2 + 1, ':', (size_t)(d1 - c2 - 1))) == NULL)
			return -1;
		pp->kind = PW_SCRYPT;
		pp->n = num(c1 + 1, c2);
		pp->r = num(c2 + 1, c3);
		pp->p = num(c3 + 1, d1);
		/* N a power of two above 1, and every parameter capped. */
		if (pp->n < 2 || (pp->n & (pp->n - 1)) != 0 ||
		    pp->n > PW_MAX_N || pp->r < 1 || pp->r > PW_MAX_R ||
		    pp->p < 1 || pp->p > PW_MAX_P ||
		    128 * pp->n * pp->r > PW_MAX_MEM)
			return -1;
		pp->dklen = 64;
	} else if (strncmp(stored, "pbkdf2:", 7) == 0) {
		c1 = stored + 6;
		if ((c2 = memchr(c1 + 1, ':', (size_t)(d1 - c1 - 1))) == NULL)
			return -1;
		if ((size_t)(c2 - c1 - 1) == 6 &&
		    strncmp(c1 + 1, "sha256", 6) == 0) {
			pp->digest = "sha256";
			pp->dklen = 32;
		} else if ((size_t)(c2 - c1 - 1) == 6 &&
		    strncmp(c1 + 1, "sha512", 6) == 0) {
			pp->digest = "sha512";
			pp->dklen = 64;
		} else
			return -1;
		pp->kind = PW_PBKDF2;
		pp->iter = num(c2 + 1, d1);
		if (pp->iter < 1 || pp->iter > PW_MAX_ITER)
			return -1;
	} else
		return -1;	/* includes werkzeug's short forms */
	if (pp->hexlen != 2 * pp->dklen)
		return -1;
	return 0;
}

/* Derives the key of pw with the parameters of pp; 0 or -1. */
static int
derive(const struct pw_params *pp, const char *pw, size_t len,
    unsigned char *out)
{
	if (pp->kind == PW_SCRYPT)
		return kdf_scrypt(pw, len, pp->salt, pp->saltlen, pp->n,
		    pp->r, pp->p, out, pp->dklen);
	return kdf_pbkdf2(pp->digest, pw, len, pp->salt, pp->saltlen,
	    (int)pp->iter, out, pp->dklen);
}

/*
 * The dummy: a stored hash of nothing, with the policy's parameters and
 * random salt and key (no derivation needed to make one), so verifying
 * against it costs exactly what verifying a policy hash costs.  Remade
 * when the policy changes (a reload; the tests).
 */
static char dummy[224];
static int dummy_n, dummy_r, dummy_p;

static const char *
dummy_hash(void)
{
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789";
	char salt[23], key[129];
	unsigned char rb;
	size_t i;

	if (dummy[0] != '\0' && dummy_n == conf.scrypt_n &&
	    dummy_r == conf.scrypt_r && dummy_p == conf.scrypt_p)
		return dummy;
	for (i = 0; i < 22;) {
		rand_bytes(&rb, 1);
		if (rb < 248)
			salt[i++] = alnum[rb % 62];
	}
	salt[22] = '\0';
	rand_hex(key, 64);
	snprintf(dummy, sizeof(dummy), "scrypt:%d:%d:%d$%s$%s", conf.scrypt_n,
	    conf.scrypt_r, conf.scrypt_p, salt, key);
	dummy_n = conf.scrypt_n;
	dummy_r = conf.scrypt_r;
	dummy_p = conf.scrypt_p;
	return dummy;
}

/*
 * The cost of verifying a hash of pp, in units of scrypt's 128 * r bytes
 * mixed N times (N * r * p): one PBKDF2 iteration (two compressions of
 * the digest) takes about 3/8 of one with SHA-256 and 3/4 with SHA-512
 * (measured with OpenSSL 3 on x86-64; rough, and only compared with the
 * policy's cost).
 */
static uint64_t
cost(const struct pw_params *pp)
{
	if (pp->kind == PW_SCRYPT)
		return pp->n * pp->r * pp->p;
	return pp->iter * (strcmp(pp->digest, "sha512") == 0 ? 6 : 3) / 8;
}

/*
 * Spends about the cost of units (see cost()): one scrypt derivation of
 * pw with N and r chosen so that N * r * p is nearest units, N at most the
 * policy's (so no more memory than the policy), r at most 16.  Padding a
 * cheap stored hash with a whole dummy made it 1.25 times as slow as an
 * unknown name: a smaller oracle, but one.
 */
static void
pad(const char *pw, size_t len, uint64_t units)
{
	unsigned char salt[16], out[64];
	uint64_t n, r, p = (uint64_t)conf.scrypt_p, best_n = 0, best_r = 0,
	    got, off, best_off = units;

	for (n = (uint64_t)conf.scrypt_n; n >= 2; n /= 2) {
		r = (units + n * p / 2) / (n * p);
		if (r > 16)
			r = 16;
		if (r < 1)
			continue;
		got = n * r * p;
		off = got > units ? got - units : units - got;
		if (off < best_off) {
			best_off = off;
			best_n = n;
			best_r = r;
		}
		if (best_off * 8 <= units) /* within an eighth: enough */
			break;
	}
	if (best_n == 0)
		return;
	rand_bytes(salt, sizeof(salt));
	(void)kdf_scrypt(pw, len, (const char *)salt, sizeof(salt), best_n,
	    best_r, p, out, sizeof(out));
}

int
pw_verify(const char *pw, size_t len, const char *stored, int *rehash)
{
	struct pw_params pp;
	unsigned char want[64], got[64];
	uint64_t policy;

	if (rehash != NULL)
		*rehash = 0;
	if (len > PW_MAX_LEN)
		return 0;
	if (pw_parse(stored, &pp) != 0 ||
	    unhex(pp.hex, pp.hexlen, want, pp.dklen) != 0) {
		/* A hash we cannot use (an imported row, a bad setting)
		 * still costs one verification: refusing at once would tell
		 * a caller which accounts have one. */
		if (stored != dummy)
			pw_dummy(pw, len);
		return 0;
	}
	if (derive(&pp, pw, len, got) != 0 ||
	    ct_memcmp(want, got, pp.dklen) != 0) {
		/* A wrong password against a hash cheaper than the policy (an
		 * import: werkzeug's pbkdf2:sha256:600000 costs a fifth of
		 * it) answered sooner than an unknown name, and named the
		 * imported accounts not yet rehashed: pad it to the policy's
		 * cost (a success rehashes to the policy instead). */
		policy = (uint64_t)conf.scrypt_n * (uint64_t)conf.scrypt_r *
		    (uint64_t)conf.scrypt_p;
		if (cost(&pp) < policy)
			pad(pw, len, policy - cost(&pp));
		return 0;
	}
	if (rehash != NULL)
		*rehash = pp.kind != PW_SCRYPT ||
		    pp.n < (uint64_t)conf.scrypt_n ||
		    pp.r < (uint64_t)conf.scrypt_r ||
		    pp.p < (uint64_t)conf.scrypt_p;
	return 1;
}

int
pw_hash(const char *pw, size_t len, struct buf *out)
{
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789";
	static const char hex[] = "0123456789abcdef";
	unsigned char dk[64], rb;
	char salt[23];
	size_t i;

	if (len > PW_MAX_LEN)
		return -1;
	/* 22 alphanumerics, as long as werkzeug's token_urlsafe(16). */
	for (i = 0; i < 22;) {
		rand_bytes(&rb, 1);
		if (rb < 248) /* 248 = 4 * 62: no modulo bias */
			salt[i++] = alnum[rb % 62];
	}
	salt[22] = '\0';
	if (kdf_scrypt(pw, len, salt, 22, (uint64_t)conf.scrypt_n,
	    (uint64_t)conf.scrypt_r, (uint64_t)conf.scrypt_p, dk, 64) != 0)
		return -1;
	buf_reset(out);
	buf_printf(out, "scrypt:%d:%d:%d$%s$", conf.scrypt_n, conf.scrypt_r,
	    conf.scrypt_p, salt);
	for (i = 0; i < 64; i++) {
		buf_putc(out, hex[dk[i] >> 4]);
		buf_putc(out, hex[dk[i] & 15]);
	}
	return 0;
}

void
pw_dummy(const char *pw, size_t len)
{
	(void)pw_verify(pw, len, dummy_hash(), NULL);
}

/*
 * The hash gate: at most PARKD_HASH_CONCURRENCY password hashes at once on
 * this host.  A hash at the default policy takes half a second and 128 MiB
 * on the workers that also serve bookings; without a bound, a burst of
 * logins (or of password changes, two hashes each) took every worker.
 *
 * A page shared by the supervisor and its workers (mapped before the first
 * fork), of slots that each hold the pid of the worker hashing, or 0.  Not
 * a counting semaphore: a worker killed while it hashes (SIGKILL, the OOM
 * killer) would keep its unit forever, and the gate would close one slot
 * at a time.  A slot names its holder, so the supervisor frees the slots
 * of every worker it reaps (pw_gate_reap()), and a pid cannot be reused
 * before that reap.  A worker serves one request at a time and holds at
 * most one slot.  Each slot also says since when it is held (0: just
 * taken or free), so the supervisor can end a worker that keeps one far
 * longer than any hash takes (stopped with SIGSTOP, stuck):
 * pw_gate_overdue().
 */
#define GATE_SLOTS 128 /* two generations of 64 workers */

struct gate_slot {
	_Atomic int pid;
	_Atomic int64_t since_ms;
};

static struct gate_slot *gate;
static int gate_slot = -1; /* the slot this process holds */

int
pw_gate_init(void)
{
	void *p;
	int i;

	if (gate != NULL)
		return 0;
	p = mmap(NULL, GATE_SLOTS * sizeof(*gate), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	gate = p;
	for (i = 0; i < GATE_SLOTS; i++) {
		atomic_init(&gate[i].pid, 0);
		atomic_init(&gate[i].since_ms, 0);
	}
	return 0;
}

int
pw_gate_held(void)
{
	int i, n = 0;

	for (i = 0; gate != NULL && i < GATE_SLOTS; i++)
		n += atomic_load(&gate[i].pid) != 0;
	return n;
}

/* The slots in use: the setting, or half the workers (at least one). */
static int
gate_width(void)
{
	int n = conf.hash_concurrency > 0 ? conf.hash_concurrency :
	    conf.workers / 2;

	if (n < 1)
		n = 1;
	return n > GATE_SLOTS ? GATE_SLOTS : n;
}

/*
 * One look at the slots, no waiting: a worker that waited for a slot was
 * a worker taken from every other route, and a flood of cheap logins (each
 * waiting 100 ms) made the list's median 565 ms.  The client waits
 * instead (503, Retry-After).
 */
int
pw_gate_enter(void)
{
	int i, n, free_;

	if (gate == NULL || gate_slot >= 0)
		return 0;
	n = gate_width();
	for (i = 0; i < n; i++) {
		free_ = 0;
		if (atomic_compare_exchange_strong(&gate[i].pid, &free_,
		    (int)park_pid())) {
			atomic_store(&gate[i].since_ms, park_ms());
			gate_slot = i;
			return 0;
		}
	}
	return -1;
}

void
pw_gate_leave(void)
{
	int me = (int)park_pid();

	if (gate_slot < 0)
		return;
	/* The time first: a slot whose pid is set has a time of its holder,
	 * or 0. */
	atomic_store(&gate[gate_slot].since_ms, 0);
	(void)atomic_compare_exchange_strong(&gate[gate_slot].pid, &me, 0);
	gate_slot = -1;
}

int
pw_gate_reap(pid_t pid)
{
	int i, holder, freed = 0;

	if (gate == NULL || pid <= 0)
		return 0;
	for (i = 0; i < GATE_SLOTS; i++) {
		if (atomic_load(&gate[i].pid) != (int)pid)
			continue;
		atomic_store(&gate[i].since_ms, 0);
		holder = (int)pid;
		if (atomic_compare_exchange_strong(&gate[i].pid, &holder, 0))
			freed++;
	}
	return freed;
}

pid_t
pw_gate_overdue(int64_t max_ms, int from, int *next)
{
	int64_t now = park_ms(), since;
	int i, pid;

	for (i = from < 0 ? 0 : from; gate != NULL && i < GATE_SLOTS; i++) {
		pid = atomic_load(&gate[i].pid);
		since = atomic_load(&gate[i].since_ms);
		/* The holder's time is read after its pid: a time of 0 is a
		 * slot just taken (or given back), never overdue. */
		if (pid > 0 && since > 0 && now - since > max_ms &&
		    atomic_load(&gate[i].pid) == pid) {
			*next = i + 1;
			return (pid_t)pid;
		}
	}
	*next = GATE_SLOTS;
	return 0;
}
