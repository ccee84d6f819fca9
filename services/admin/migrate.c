/* `oa-admin migrate`: bring ClickHouse's schema up to date with the migrations compiled
 * into this binary (services/admin/migrations/NNNN_name.sql, embedded by embed.py).
 *
 * Each migration is split into statements (ClickHouse runs one per request) and run in
 * version order; once all of its statements succeeded, a row (version, name, SHA-256 of
 * the file, time) goes into oa.schema_migrations. A migration already recorded is
 * skipped, so the command is idempotent. When a recorded migration's text differs from
 * the compiled-in one, or ClickHouse records a version this binary does not know, nothing
 * is run (exit 3): an applied migration is never edited, a change is a new file.
 * A migration that fails half-way is not recorded and runs again whole next time, so its
 * statements are written to be repeatable (IF NOT EXISTS).
 *
 * The SQL of this file is also run against a current ClickHouse engine by
 * tests/compat/test_chdb.py, through --print-sql. */
#include "admin.h"

#include "oa/ch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIG_SQL_DB "CREATE DATABASE IF NOT EXISTS oa"
#define MIG_SQL_TABLE \
        "CREATE TABLE IF NOT EXISTS oa.schema_migrations (version UInt32, name String, " \
        "checksum String, applied_at DateTime) ENGINE = MergeTree ORDER BY version"
#define MIG_SQL_EXISTS "EXISTS TABLE oa.schema_migrations FORMAT TabSeparated"
#define MIG_SQL_SELECT \
        "SELECT version, name, checksum FROM oa.schema_migrations ORDER BY version FORMAT TabSeparated"
#define MIG_APPLIED_MAX 4096
#define MIG_STMTS_MAX 256

typedef enum { MODE_APPLY, MODE_DRY_RUN, MODE_STATUS, MODE_PRINT_SQL } migrate_mode;

static void usage(FILE *f) {
        fprintf(f, "usage: oa-admin migrate [--dry-run | --status | --print-sql]\n"
                "  apply the ClickHouse migrations compiled into oa-admin, in order, recording each\n"
                "  in oa.schema_migrations; idempotent. --dry-run: show what would run, run nothing;\n"
                "  --status: one line per migration (applied, pending, CHANGED);\n"
                "  --print-sql: every statement migrate can run, each followed by a NUL byte.\n"
                "  Exit: 0 done, 1 ClickHouse failed, 2 usage, 3 refused (an applied migration\n"
                "  changed, or ClickHouse has one this binary does not know).\n");
}

/* The INSERT recording m into out. */
static int record_sql(oa_buf *out, const oa_admin_migration *m) {
        char sum[OA_ADMIN_CHECKSUM_HEX];
        int r;

        oa_admin_migration_checksum(m, sum);
        r = oa_buf_addf(out, "INSERT INTO oa.schema_migrations (version, name, checksum, applied_at) "
                        "VALUES (%u, ", m->version);
        if (r == 0)
                r = oa_ch_quote(out, m->name, strlen(m->name));
        if (r == 0)
                r = oa_buf_adds(out, ", ");
        if (r == 0)
                r = oa_ch_quote(out, sum, strlen(sum));
        if (r == 0)
                r = oa_buf_adds(out, ", now())");
        return r;
}

/* The statements of m into v (at most MIG_STMTS_MAX). Returns their number or an error
 * after printing it. */
static int split(const oa_admin_migration *m, oa_admin_stmt *v) {
        int n = oa_admin_sql_split(m->sql, m->len, v, MIG_STMTS_MAX);

        if (n < 0)
                fprintf(stderr, "oa-admin migrate: %s: unclosed quote or comment\n", m->name);
        else if (n > MIG_STMTS_MAX)
                fprintf(stderr, "oa-admin migrate: %s: more than %d statements\n", m->name, MIG_STMTS_MAX);
        return n > MIG_STMTS_MAX ? -E2BIG : n;
}

static int print_sql(void) {
        oa_admin_stmt v[MIG_STMTS_MAX];
        oa_buf b;
        int r = 0;

        oa_buf_init(&b, 1 << 16);
        printf("%s%c%s%c%s%c%s%c", MIG_SQL_DB, 0, MIG_SQL_TABLE, 0, MIG_SQL_EXISTS, 0, MIG_SQL_SELECT, 0);
        if (oa_admin_n_migrations && record_sql(&b, &oa_admin_migrations[0]) == 0)
                printf("%s%c", b.data, 0);
        for (size_t i = 0; i < oa_admin_n_migrations && r >= 0; i++) {
                const oa_admin_migration *m = &oa_admin_migrations[i];

                r = split(m, v);
                for (int k = 0; k < r; k++)
                        printf("-- %s\n%.*s%c", m->name, (int) v[k].len, m->sql + v[k].off, 0);
        }
        oa_buf_done(&b);
        return fflush(stdout) == 0 && r >= 0 ? OA_ADMIN_EXIT_OK : OA_ADMIN_EXIT_FAILURE;
}

/* Run one statement; prints why not. */
static int exec(oa_ch *ch, const char *what, const char *sql) {
        char err[1024];
        int r = oa_ch_exec(ch, sql, err, sizeof(err));

        if (r < 0)
                fprintf(stderr, "oa-admin migrate: %s: %s\n", what, err[0] ? err : strerror(-r));
        return r;
}

/* What oa.schema_migrations holds (nothing when it does not exist and create is false).
 * Returns the number of rows into v, or an error after printing it. */
static int load_applied(oa_ch *ch, bool create, oa_admin_applied *v) {
        oa_buf out;
        char err[1024];
        oa_ch_req req = { .out = &out };
        int r;

        oa_buf_init(&out, 4 << 20);
        if (create) {
                r = exec(ch, "creating database oa", MIG_SQL_DB);
                if (r == 0)
                        r = exec(ch, "creating oa.schema_migrations", MIG_SQL_TABLE);
                if (r < 0)
                        goto out;
        } else {
                req.sql = MIG_SQL_EXISTS;
                r = oa_ch_request(ch, &req, err, sizeof(err));
                if (r < 0)
                        goto fail;
                if (out.len == 0 || out.data[0] != '1') {
                        r = 0;
                        goto out;
                }
                oa_buf_reset(&out);
        }
        req.sql = MIG_SQL_SELECT;
        r = oa_ch_request(ch, &req, err, sizeof(err));
        if (r < 0)
                goto fail;
        r = oa_admin_applied_parse(out.data ? out.data : "", out.len, v, MIG_APPLIED_MAX);
        if (r < 0)
                snprintf(err, sizeof(err), "oa.schema_migrations holds rows of an unexpected shape");
fail:
        if (r < 0)
                fprintf(stderr, "oa-admin migrate: reading oa.schema_migrations: %s\n", err[0] ? err : strerror(-r));
out:
        oa_buf_done(&out);
        return r;
}

/* Run every statement of m, then record it. */
static int apply(oa_ch *ch, const oa_admin_migration *m) {
        oa_admin_stmt v[MIG_STMTS_MAX];
        char what[160];
        oa_buf b;
        int n, r = 0;

        n = split(m, v);
        if (n < 0)
                return n;
        oa_buf_init(&b, 1 << 20);
        for (int k = 0; k < n && r == 0; k++) {
                oa_buf_reset(&b);
                r = oa_buf_add(&b, m->sql + v[k].off, v[k].len);
                snprintf(what, sizeof(what), "%s, statement %d of %d", m->name, k + 1, n);
                if (r == 0)
                        r = exec(ch, what, b.data);
        }
        if (r == 0) {
                oa_buf_reset(&b);
                r = record_sql(&b, m);
                if (r == 0)
                        r = exec(ch, "recording it in oa.schema_migrations", b.data);
        }
        oa_buf_done(&b);
        return r;
}

static const char *state_name(oa_admin_mig_state s) {
        return s == OA_ADMIN_MIG_APPLIED ? "applied" : s == OA_ADMIN_MIG_CHANGED ? "CHANGED" : "pending";
}

int oa_admin_migrate(const oa_admin_cfg *cfg, int argc, char **argv) {
        oa_ch_cfg cc = {
                .url = cfg->clickhouse_url, .user = cfg->clickhouse_user,
                .password = cfg->clickhouse_password, .database = "",
                .query_timeout_ms = cfg->clickhouse_timeout_ms,
        };
        oa_admin_mig_state *states = NULL;
        oa_admin_applied *applied = NULL;
        migrate_mode mode = MODE_APPLY;
        size_t unknown = 0, done = 0;
        oa_ch *ch = NULL;
        char err[512];
        int n_applied, ret = OA_ADMIN_EXIT_FAILURE;

        for (int i = 0; i < argc; i++) {
                migrate_mode m = strcmp(argv[i], "--dry-run") == 0 ? MODE_DRY_RUN
                               : strcmp(argv[i], "--status") == 0 ? MODE_STATUS
                               : strcmp(argv[i], "--print-sql") == 0 ? MODE_PRINT_SQL : MODE_APPLY;

                if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                        usage(stdout);
                        return OA_ADMIN_EXIT_OK;
                }
                if (m == MODE_APPLY || mode != MODE_APPLY) {
                        char shown[300];

                        fprintf(stderr, "oa-admin migrate: unexpected argument %s\n",
                                oa_admin_printable(argv[i], shown, sizeof(shown)));
                        usage(stderr);
                        return OA_ADMIN_EXIT_USAGE;
                }
                mode = m;
        }
        if (mode == MODE_PRINT_SQL)
                return print_sql();
        if (oa_ch_new(&cc, &ch, err, sizeof(err)) < 0) {
                fprintf(stderr, "oa-admin migrate: %s\n", err);
                return OA_ADMIN_EXIT_USAGE;
        }
        applied = calloc(MIG_APPLIED_MAX, sizeof(*applied));
        states = calloc(oa_admin_n_migrations, sizeof(*states));
        if (!applied || !states)
                goto out;
        n_applied = load_applied(ch, mode == MODE_APPLY, applied);
        if (n_applied < 0)
                goto out;
        oa_admin_migrate_plan(oa_admin_migrations, oa_admin_n_migrations, applied, (size_t) n_applied,
                              states, &unknown);
        ret = OA_ADMIN_EXIT_OK;
        for (size_t i = 0; i < oa_admin_n_migrations; i++)
                if (states[i] == OA_ADMIN_MIG_CHANGED)
                        ret = OA_ADMIN_EXIT_DRIFT;
        if (mode == MODE_STATUS || ret != OA_ADMIN_EXIT_OK || unknown) {
                for (size_t i = 0; i < oa_admin_n_migrations; i++)
                        printf("%-8s %s\n", state_name(states[i]), oa_admin_migrations[i].name);
                for (int j = 0; j < n_applied; j++) {
                        bool known = false;

                        for (size_t i = 0; i < oa_admin_n_migrations && !known; i++)
                                known = oa_admin_migrations[i].version == applied[j].version;
                        if (!known)
                                printf("UNKNOWN  %s (recorded in ClickHouse, not in this oa-admin)\n",
                                       applied[j].name);
                }
        }
        if (unknown)
                ret = OA_ADMIN_EXIT_DRIFT;
        if (ret == OA_ADMIN_EXIT_DRIFT) {
                fprintf(stderr, "oa-admin migrate: refused: an applied migration differs from this "
                        "oa-admin's (CHANGED or UNKNOWN above); a schema change is a new numbered file\n");
                goto out;
        }
        if (mode == MODE_STATUS)
                goto out;
        for (size_t i = 0; i < oa_admin_n_migrations; i++) {
                const oa_admin_migration *m = &oa_admin_migrations[i];

                if (states[i] != OA_ADMIN_MIG_PENDING)
                        continue;
                if (mode == MODE_DRY_RUN) {
                        printf("would apply %s:\n%.*s\n", m->name, (int) m->len, m->sql);
                        done++;
                        continue;
                }
                if (apply(ch, m) < 0) {
                        ret = OA_ADMIN_EXIT_FAILURE;
                        goto out;
                }
                printf("applied  %s\n", m->name);
                fflush(stdout);
                done++;
        }
        if (mode == MODE_DRY_RUN && done == 0)
                printf("nothing to apply: all %zu migrations are applied\n", oa_admin_n_migrations);
        if (mode == MODE_APPLY)
                printf("schema up to date: %zu applied now, %zu migrations in all\n", done, oa_admin_n_migrations);
out:
        fflush(stdout);
        free(states);
        free(applied);
        oa_ch_free(ch);
        return ret;
}
