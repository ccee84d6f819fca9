/* Tests for services/admin/migrate_plan.c: splitting migrations into statements (with
 * the hostile rows: semicolons in literals, quoted names and comments, unclosed quotes),
 * reading oa.schema_migrations' answer, and deciding what is applied, pending or changed;
 * and the migrations compiled in by migrations/embed.py. */
#include "admin.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <string.h>

static int split(const char *sql, oa_admin_stmt *v, size_t max) {
        return oa_admin_sql_split(sql, strlen(sql), v, max);
}

static void assert_stmt(const char *sql, const oa_admin_stmt *s, const char *want) {
        cr_assert_eq(s->len, strlen(want), "'%.*s' is not '%s'", (int) s->len, sql + s->off, want);
        cr_assert(memcmp(sql + s->off, want, s->len) == 0, "'%.*s' is not '%s'", (int) s->len, sql + s->off, want);
}

Test(oa_admin_migrate, split_skips_comments_and_blank_statements) {
        const char *sql = "-- a comment; with a semicolon\nCREATE DATABASE x;\n\n /* block; */ "
                          "CREATE TABLE t (a String) ENGINE = Memory ;\n;;  -- trailing\n";
        oa_admin_stmt v[4];

        cr_assert_eq(split(sql, v, 4), 2);
        assert_stmt(sql, &v[0], "CREATE DATABASE x");
        assert_stmt(sql, &v[1], "CREATE TABLE t (a String) ENGINE = Memory");
}

Test(oa_admin_migrate, split_keeps_semicolons_inside_literals_and_names) {
        const char *sql = "SELECT 'a;b', 'it\\'s;', 'x'';y', \"c;d\", `e;f` FROM t; SELECT 2";
        oa_admin_stmt v[4];

        cr_assert_eq(split(sql, v, 4), 2);
        assert_stmt(sql, &v[0], "SELECT 'a;b', 'it\\'s;', 'x'';y', \"c;d\", `e;f` FROM t");
        assert_stmt(sql, &v[1], "SELECT 2");
}

Test(oa_admin_migrate, split_without_final_semicolon_and_empty_text) {
        oa_admin_stmt v[2];

        cr_assert_eq(split("SELECT 1", v, 2), 1);
        cr_assert_eq(split("", v, 2), 0);
        cr_assert_eq(split("  \n-- only a comment\n/* and a block */ ; ", v, 2), 0);
}

Test(oa_admin_migrate, split_counts_beyond_max_without_writing) {
        oa_admin_stmt v[1];

        cr_assert_eq(split("SELECT 1; SELECT 2; SELECT 3", v, 1), 3);
        cr_assert_eq(v[0].off, 0);
}

/* Rows hold their text (criterion's workers do not share the parent's pointers). */
typedef struct { char s[160]; } text_row;

ParameterizedTestParameters(oa_admin_migrate, split_refuses_unclosed) {
        static text_row rows[] = { { "SELECT 'abc" }, { "SELECT \"abc" }, { "SELECT `abc" },
                { "SELECT 1 /* never" }, { "SELECT 'abc\\'" }, { "SELECT 'a\\" }, { "/*" } };
        return cr_make_param_array(text_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(text_row *sql, oa_admin_migrate, split_refuses_unclosed) {
        oa_admin_stmt v[2];

        cr_assert_eq(split(sql->s, v, 2), -EINVAL, "%s", sql->s);
}

Test(oa_admin_migrate, applied_parse_reads_rows) {
        const char *sum = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        char tsv[400];
        oa_admin_applied v[3];

        snprintf(tsv, sizeof(tsv), "1\t0001_events\t%s\n2\t0002_sessions\t%s\n", sum, sum);
        cr_assert_eq(oa_admin_applied_parse(tsv, strlen(tsv), v, 3), 2);
        cr_assert_eq(v[0].version, 1);
        cr_assert_str_eq(v[0].name, "0001_events");
        cr_assert_str_eq(v[1].checksum, sum);
        cr_assert_eq(oa_admin_applied_parse("", 0, v, 3), 0);
}

ParameterizedTestParameters(oa_admin_migrate, applied_parse_refuses_other_shapes) {
        static text_row rows[] = {
                { "1\t0001_events\n" }, { "x\t0001\tabc\n" }, { "1\t0001_events\tshort\n" },
                { "0\ta\t0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n" },
                { "-1\ta\t0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n" },
                { "1x\ta\t0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n" },
                { "Code: 60, e.displayText() = DB::Exception: Table oa.schema_migrations doesn't exist\n" },
        };
        return cr_make_param_array(text_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(text_row *tsv, oa_admin_migrate, applied_parse_refuses_other_shapes) {
        oa_admin_applied v[2];

        cr_assert_eq(oa_admin_applied_parse(tsv->s, strlen(tsv->s), v, 2), -EPROTO, "%s", tsv->s);
}

Test(oa_admin_migrate, plan_tells_applied_pending_changed_and_unknown) {
        static const oa_admin_migration migs[] = {
                { 1, "0001_a", "CREATE DATABASE a", 17 },
                { 2, "0002_b", "CREATE DATABASE b", 17 },
                { 3, "0003_c", "CREATE DATABASE c", 17 },
        };
        oa_admin_applied applied[3] = { { .version = 1 }, { .version = 2 }, { .version = 9 } };
        oa_admin_mig_state st[3];
        size_t unknown = 0;

        oa_admin_migration_checksum(&migs[0], applied[0].checksum);
        oa_admin_migration_checksum(&migs[0], applied[1].checksum);     /* not 0002's text */
        oa_admin_migrate_plan(migs, 3, applied, 3, st, &unknown);
        cr_assert_eq(st[0], OA_ADMIN_MIG_APPLIED);
        cr_assert_eq(st[1], OA_ADMIN_MIG_CHANGED);
        cr_assert_eq(st[2], OA_ADMIN_MIG_PENDING);
        cr_assert_eq(unknown, 1);

        oa_admin_migrate_plan(migs, 3, applied, 0, st, &unknown);
        cr_assert_eq(st[0], OA_ADMIN_MIG_PENDING);
        cr_assert_eq(unknown, 0);
}

Test(oa_admin_migrate, checksum_is_sha256_hex_of_the_text) {
        static const oa_admin_migration m = { 1, "0001_a", "abc", 3 };
        char sum[OA_ADMIN_CHECKSUM_HEX];

        oa_admin_migration_checksum(&m, sum);
        cr_assert_str_eq(sum, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* The compiled-in list: in version order, each split cleanly, and 0001 creates oa.events. */
Test(oa_admin_migrate, embedded_migrations_are_ordered_and_split) {
        oa_admin_stmt v[64];

        cr_assert_geq(oa_admin_n_migrations, 2);
        cr_assert_str_eq(oa_admin_migrations[0].name, "0001_events");
        cr_assert_eq(oa_admin_migrations[0].version, 1);
        for (size_t i = 0; i < oa_admin_n_migrations; i++) {
                const oa_admin_migration *m = &oa_admin_migrations[i];
                int n = oa_admin_sql_split(m->sql, m->len, v, 64);

                cr_assert_eq(strlen(m->sql), m->len, "%s holds a NUL byte", m->name);
                cr_assert_gt(n, 0, "%s", m->name);
                if (i > 0)
                        cr_assert_gt(m->version, oa_admin_migrations[i - 1].version);
        }
        cr_assert_eq(oa_admin_sql_split(oa_admin_migrations[0].sql, oa_admin_migrations[0].len, v, 64), 2);
        cr_assert(strncmp(oa_admin_migrations[0].sql + v[1].off, "CREATE TABLE IF NOT EXISTS oa.events", 36) == 0);
}
