/*
 * pgsql-dump: prints every row of the statement table (src/db.c stmt_sql[])
 * for t/77-pg-statements.t, so that the texts live only in db.c.  Per
 * statement, four NUL-terminated fields: its number (enum stmt), how its
 * PostgreSQL text is given ("own", "same" for PG_SAME, "none" for NULL),
 * the SQLite text, and the PostgreSQL text ("" unless "own").  Built for
 * the tests only (check_PROGRAMS).  Exits 0.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>

#include "db-int.h"

int
main(void)
{
	const char *pg, *lite, *kind;
	unsigned i;

	for (i = 0; i < STMT__COUNT; i++) {
		pg = db_sql_pg((enum stmt)i);
		/* "": a row of PostgreSQL's driver alone (db-pg.c) */
		lite = db_sql((enum stmt)i) != NULL ? db_sql((enum stmt)i) : "";
		kind = pg == NULL ? "none" : *pg == '\0' ? "same" : "own";
		printf("%u%c%s%c%s%c%s%c", i, 0, kind, 0,
		    lite, 0, pg != NULL ? pg : "", 0);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
