/* 00-util: buffers, pools, time formatting and log escaping. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "park.h"
#include "tap.h"

int
main(void)
{
	struct buf b = { 0 };
	struct pool p = { 0 };
	char ts[32], *s;
	void *a, *big;
	int i;

	buf_puts(&b, "abc");
	buf_printf(&b, "%d-%s", 42, "x");
	is_str(b.p, "abc42-x", "buf_puts and buf_printf append");
	for (i = 0; i < 1000; i++)
		buf_printf(&b, "%0100d", i);
	is_int(b.len, 7 + 100000, "buf grows past many doublings");
	buf_reset(&b);
	is_int(b.len, 0, "buf_reset empties");
	is_str(b.p, "", "buf_reset keeps a NUL-terminated buffer");
	buf_free(&b);

	a = pool_alloc(&p, 3);
	ok(((uintptr_t)a & 15) == 0, "pool allocations are 16-aligned");
	s = pool_printf(&p, "%s=%d", "n", 7);
	is_str(s, "n=7", "pool_printf");
	big = pool_alloc(&p, 100000);
	ok(big != NULL && ((char *)big)[99999] == 0,
	    "large pool allocations are zeroed");
	s = pool_strndup(&p, "hello", 4);
	is_str(s, "hell", "pool_strndup copies n bytes");
	pool_reset(&p);
	is_int(p.used, 0, "pool_reset frees everything");
	for (i = 0; i < 10000; i++)
		(void)pool_alloc(&p, 100);
	pool_free(&p);
	ok(p.head == NULL, "pool_free releases every block");

	is_str(time_iso(0, ts), "1970-01-01T00:00:00Z", "time_iso epoch");
	is_str(time_iso(1795697104, ts), "2026-11-26T12:45:04Z",
	    "time_iso with Z suffix");
	is_int(time_parse_iso("2026-11-26T12:45:04Z"), 1795697104,
	    "time_parse_iso round trip");
	is_int(time_parse_iso("2026-11-26"), 1795651200,
	    "time_parse_iso of a date is its midnight UTC");
	is_int(time_parse_iso("2024-02-29"), 1709164800, "leap day");
	is_int(time_parse_iso("2023-02-29"), -1, "no leap day in 2023");
	is_int(time_parse_iso("2026-13-01"), -1, "month 13 refused");
	is_int(time_parse_iso("2026-11-26T24:00:00Z"), -1, "hour 24 refused");
	is_int(time_parse_iso("2026-11-26T12:45:04"), -1, "no Z refused");
	is_int(time_parse_iso("2026-11-26 12:45:04Z"), -1, "space refused");
	is_int(time_parse_iso(""), -1, "empty refused");

	/* RFC 3339 (advance reservations): Z or an offset, UTC inside */
	{
		int fr;
		int64_t f, t;

		is_int(time_parse_rfc3339("2026-11-26T12:45:04Z", &fr),
		    1795697104, "rfc3339 Z");
		is_int(time_parse_rfc3339("2026-11-26t12:45:04z", &fr),
		    1795697104, "rfc3339 t and z in lower case");
		is_int(time_parse_rfc3339("2026-11-26T13:45:04+01:00", &fr),
		    1795697104, "rfc3339 +01:00 is an hour ahead of UTC");
		is_int(time_parse_rfc3339("2026-11-26T07:15:04-05:30", &fr),
		    1795697104, "rfc3339 -05:30");
		is_int(time_parse_rfc3339("2026-11-26T00:15:00+01:00", &fr),
		    1795648500, "an offset moves the instant across midnight");
		ok(time_parse_rfc3339("2026-11-26T12:45:04.000Z", &fr) ==
		    1795697104 && fr == 0, "a zero fraction is allowed");
		ok(time_parse_rfc3339("2026-11-26T12:45:04.5Z", &fr) ==
		    1795697104 && fr == 1, "a non-zero fraction is reported");
		is_int(time_parse_rfc3339("2026-11-26T12:45:04", &fr), -1,
		    "rfc3339 without zone refused");
		is_int(time_parse_rfc3339("2026-11-26T12:45:04+0100", &fr), -1,
		    "an offset without colon refused");
		{
			/* Truncated offsets, each in a buffer of its own exact
			 * size: the parser reads no byte past the NUL (the
			 * ASan build of dev/check sees any). */
			static const char *const cut[] = {
			    "2026-11-26T12:45:04+", "2026-11-26T12:45:04+0",
			    "2026-11-26T12:45:04+01:0", "2026-11-26T12:45:04-01:" };
			size_t k;

			for (k = 0; k < sizeof cut / sizeof cut[0]; k++) {
				char *c = strdup(cut[k]);

				is_int(time_parse_rfc3339(c, &fr), -1,
				    "rfc3339 refuses the truncated offset %s",
				    cut[k] + 19);
				free(c);
			}
		}
		is_int(time_parse_rfc3339("2026-11-26T12:45:04+24:00", &fr), -1,
		    "offset hour 24 refused");
		is_int(time_parse_rfc3339("2026-11-26T12:45:60Z", &fr), -1,
		    "second 60 refused");
		is_int(time_parse_rfc3339("2026-11-26 12:45:04Z", &fr), -1,
		    "a space refused");
		is_int(time_parse_rfc3339("2026-11-26T12:45:04Z ", &fr), -1,
		    "trailing text refused");
		is_int(time_parse_rfc3339("2026-11-26T12:45:04.Z", &fr), -1,
		    "an empty fraction refused");
		is_int(time_parse_rfc3339("2025-02-29T00:00:00Z", &fr), -1,
		    "no leap day in 2025");
		is_int(time_parse_rfc3339("", &fr), -1, "empty refused");

		ok(time_zone_ok("UTC") && time_zone_ok("Europe/Berlin"),
		    "UTC and Europe/Berlin are zones");
		ok(!time_zone_ok("Mars/Olympus") && !time_zone_ok("") &&
		    !time_zone_ok("../../etc/passwd") &&
		    !time_zone_ok("/etc/localtime"), "unknown zones, paths "
		    "and .. refused");

		/* Europe/Berlin's change days: 2026-03-29 (02:00 CET ->
		 * 03:00 CEST, a 23-hour day) and 2026-10-25 (03:00 CEST ->
		 * 02:00 CET, a 25-hour day) */
		time_zone_set("Europe/Berlin");
		is_int(time_local(2026, 3, 29, 0), 1774738800,
		    "Berlin 2026-03-29 00:00 is 2026-03-28T23:00Z");
		is_int(time_local(2026, 3, 30, 0) - time_local(2026, 3, 29, 0),
		    23 * 3600, "2026-03-29 has 23 hours in Berlin");
		is_int(time_local(2026, 10, 26, 0) -
		    time_local(2026, 10, 25, 0), 25 * 3600,
		    "2026-10-25 has 25 hours in Berlin");
		is_int(time_local(2026, 3, 29, 4 * 60), 1774749600,
		    "04:00 on 2026-03-29 is CEST (02:00Z)");
		is_int(time_local(2026, 10, 25, 4 * 60), 1792897200,
		    "04:00 on 2026-10-25 is CET (03:00Z)");
		/* hours 01:00-05:00 across the change: 3 real hours in
		 * spring, 5 in autumn */
		time_hours_of_day("01:00", "05:00", 2026, 3, 29, &f, &t);
		is_int(t - f, 3 * 3600, "01:00-05:00 on the spring change "
		    "day is 3 hours");
		time_hours_of_day("01:00", "05:00", 2026, 10, 25, &f, &t);
		is_int(t - f, 5 * 3600, "and 5 on the autumn one");
		ok(time_in_hours("01:00", "05:00", f, t) &&
		    !time_in_hours("01:00", "05:00", f - 900, t) &&
		    !time_in_hours("01:00", "05:00", f, t + 900),
		    "a window of the whole opening is inside; 15 minutes "
		    "more either side is not");
		/* over midnight: 22:00-06:00 */
		ok(time_in_hours("22:00", "06:00", time_local(2026, 10, 24,
		    23 * 60), time_local(2026, 10, 25, 5 * 60)),
		    "22:00-06:00: a night across the autumn change is inside");
		ok(!time_in_hours("22:00", "06:00", time_local(2026, 10, 25,
		    5 * 60), time_local(2026, 10, 25, 7 * 60)),
		    "05:00-07:00 is not");
		ok(time_in_hours(NULL, NULL, 0, 86400 * 3), "no hours: always "
		    "open");
		/* 02:30 on 2026-10-25 happens twice (00:30Z CEST, 01:30Z
		 * CET): always the first, whatever was read before (glibc's
		 * mktime() alone answers after its previous call's offset) */
		(void)time_local(2026, 12, 1, 12 * 60);
		is_int(time_local(2026, 10, 25, 150), 1792888200,
		    "02:30 on the autumn change day after a winter time: the "
		    "first 02:30 (00:30Z)");
		(void)time_local(2026, 7, 1, 12 * 60);
		is_int(time_local(2026, 10, 25, 150), 1792888200,
		    "and after a summer time too");
		time_hours_of_day("01:00", "02:30", 2026, 10, 25, &f, &t);
		is_int(t - f, 90 * 60, "01:00-02:30 on the autumn change day: "
		    "closes at the first 02:30 (90 minutes)");
		/* 02:30 on 2026-03-29 does not exist: 03:30 CEST (01:30Z) */
		(void)time_local(2026, 7, 1, 12 * 60);
		is_int(time_local(2026, 3, 29, 150), 1774747800,
		    "02:30 in the spring gap moves on by the gap (01:30Z), "
		    "after a summer time");
		(void)time_local(2026, 12, 1, 12 * 60);
		is_int(time_local(2026, 3, 29, 150), 1774747800,
		    "and after a winter time");
		time_zone_set("UTC");
		is_int(time_local(2026, 3, 29, 0), 1774742400,
		    "UTC again: midnight is 00:00Z");
	}

	text_escape_log(&b, "a\r\nb\"c\\\x01\x7f", 9);
	is_str(b.p, "a\\r\\nb\\\"c\\\\\\x01\\x7f",
	    "log escaping leaves no control character or bare quote");
	buf_free(&b);

	{
		char h1[33], h2[33];

		rand_hex(h1, 16);
		rand_hex(h2, 16);
		ok(strlen(h1) == 32 && strspn(h1, "0123456789abcdef") == 32,
		    "rand_hex gives 32 lowercase hex digits");
		ok(strcmp(h1, h2) != 0, "two random ids differ");
		ok(ct_memcmp("abc", "abc", 3) == 0 &&
		    ct_memcmp("abc", "abd", 3) != 0, "ct_memcmp");
	}
	{
		struct pool ap = { 0 };

		is_str(addr_group(&ap, "192.0.2.7"), "192.0.2.7",
		    "addr_group: IPv4 is itself");
		is_str(addr_group(&ap, "::ffff:192.0.2.7"), "192.0.2.7",
		    "addr_group: IPv4-mapped IPv6 is its IPv4 address");
		is_str(addr_group(&ap, "2001:db8:1:2:aaaa:bbbb:cccc:dddd"),
		    "2001:db8:1:2::/64", "addr_group: IPv6 is its /64");
		is_str(addr_group(&ap, "2001:db8:1:2::1"),
		    addr_group(&ap, "2001:DB8:1:2:ffff::9"),
		    "addr_group: two addresses of one /64, one group");
		ok(strcmp(addr_group(&ap, "2001:db8:1:2::1"),
		    addr_group(&ap, "2001:db8:1:3::1")) != 0,
		    "addr_group: another /64, another group");
		is_str(addr_group(&ap, NULL), "-", "addr_group: none is -");
		is_str(addr_group(&ap, "unix:"), "unix:",
		    "addr_group: not an address: itself");
		pool_free(&ap);
	}
	return done_testing();
}
