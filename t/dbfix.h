/*
 * dbfix.h: data the C tests of the data layer start from, made through
 * db_* as the handlers make it (tests that include it need park.h).
 */
#ifndef DBFIX_H
#define DBFIX_H

#include <stdio.h>
#include <string.h>

/*
 * A lot of 20 spots at 5.00 an hour named after tag, and a user named tag
 * (tag@parkd.test).  Returns 0 with their ids, or -1.
 */
static inline int
fix_lot_and_user(const char *tag, int64_t *lot, int64_t *user)
{
	struct lot_change lc;
	struct user u;
	char name[64], address[96], email[96];
	int dup_name, dup_email;

	snprintf(name, sizeof name, "%s Lot", tag);
	snprintf(address, sizeof address, "1 %s Street, Test City", tag);
	snprintf(email, sizeof email, "%s@parkd.test", tag);
	memset(&lc, 0, sizeof lc);
	lc.name = name;
	lc.address = address;
	lc.pin_code = "560001";
	lc.price_cents = 500;
	lc.spots = 20;
	lc.is_active = 1;
	memset(&u, 0, sizeof u);
	u.username = tag;
	u.email = email;
	u.password_hash = "pbkdf2:sha256:1000$salt$00";
	u.is_active = 1;
	return db_lot_create(&lc, lot) == DB_OK && db_user_insert(&u, user,
	    &dup_name, &dup_email, NULL) == DB_OK ? 0 : -1;
}

#endif
