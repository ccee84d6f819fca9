/* The pure half of `oa-admin migrate`: checksums of the compiled-in migrations, splitting
 * a migration into the statements ClickHouse runs one per request, reading what
 * oa.schema_migrations recorded and deciding what is applied, pending or changed. The
 * half that talks to ClickHouse is migrate.c. */
#include "admin.h"

#include "oa/key.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void oa_admin_migration_checksum(const oa_admin_migration *m, char ret_hex[OA_ADMIN_CHECKSUM_HEX]) {
        unsigned char h[OA_KEY_HASH_LEN];

        oa_key_hash(m->sql, m->len, h);
        for (size_t i = 0; i < OA_KEY_HASH_LEN; i++)
                snprintf(ret_hex + 2 * i, 3, "%02x", h[i]);
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The index after a comment starting at i (sql[i] is '-' or '/'), i itself when there is
 * none, or len + 1 for an unclosed block comment. */
static size_t skip_comment(const char *sql, size_t len, size_t i) {
        if (i + 1 < len && sql[i] == '-' && sql[i + 1] == '-') {
                while (i < len && sql[i] != '\n')
                        i++;
                return i;
        }
        if (i + 1 < len && sql[i] == '/' && sql[i + 1] == '*') {
                for (i += 2; i + 1 < len; i++)
                        if (sql[i] == '*' && sql[i + 1] == '/')
                                return i + 2;
                return len + 1;
        }
        return i;
}

/* The index after the quoted run starting at i (sql[i] is the quote), or len + 1 when it
 * is not closed. A backslash escapes the next byte; a doubled quote is a quote. */
static size_t skip_quoted(const char *sql, size_t len, size_t i) {
        char q = sql[i];

        for (i++; i < len; i++) {
                if (sql[i] == '\\')
                        i++;
                else if (sql[i] == q && i + 1 < len && sql[i + 1] == q)
                        i++;
                else if (sql[i] == q)
                        return i + 1;
        }
        return len + 1;
}

int oa_admin_sql_split(const char *sql, size_t len, oa_admin_stmt *ret_v, size_t max) {
        size_t i = 0, start = 0, n = 0, end = 0;
        bool has_token = false;

        while (i <= len) {
                size_t j;

                if (i == len || sql[i] == ';') {
                        if (has_token) {
                                if (n < max)
                                        ret_v[n] = (oa_admin_stmt) { start, end - start };
                                n++;
                        }
                        has_token = false;
                        i++;
                        continue;
                }
                if (is_blank(sql[i])) {
                        i++;
                        continue;
                }
                j = skip_comment(sql, len, i);
                if (j > len)
                        return -EINVAL;
                if (j != i) {
                        i = j;
                        continue;
                }
                if (!has_token) {
                        has_token = true;
                        start = i;
                }
                if (sql[i] == '\'' || sql[i] == '"' || sql[i] == '`') {
                        j = skip_quoted(sql, len, i);
                        if (j > len)
                                return -EINVAL;
                        i = j;
                } else {
                        i++;
                }
                end = i;
        }
        return n > (size_t) INT32_MAX ? -E2BIG : (int) n;
}

int oa_admin_applied_parse(const char *tsv, size_t len, oa_admin_applied *ret_v, size_t max) {
        size_t i = 0, n = 0;

        while (i < len) {
                const char *line = tsv + i, *nl = memchr(line, '\n', len - i);
                size_t ll = nl ? (size_t) (nl - line) : len - i;
                oa_admin_applied a = { 0 };
                const char *t1, *t2;
                size_t name_len, sum_len;
                char *endp;
                unsigned long v;

                i += ll + 1;
                if (ll == 0)
                        continue;
                t1 = memchr(line, '\t', ll);
                t2 = t1 ? memchr(t1 + 1, '\t', ll - (size_t) (t1 + 1 - line)) : NULL;
                if (!t1 || !t2 || t1 == line || line[0] < '0' || line[0] > '9')
                        return -EPROTO;
                errno = 0;
                v = strtoul(line, &endp, 10);
                if (errno || endp != t1 || v == 0 || v > 999999)
                        return -EPROTO;
                name_len = (size_t) (t2 - t1 - 1);
                sum_len = ll - (size_t) (t2 + 1 - line);
                if (name_len >= sizeof(a.name) || sum_len != OA_ADMIN_CHECKSUM_HEX - 1)
                        return -EPROTO;
                a.version = (unsigned) v;
                memcpy(a.name, t1 + 1, name_len);
                memcpy(a.checksum, t2 + 1, sum_len);
                if (n < max)
                        ret_v[n] = a;
                n++;
        }
        return n > max ? -E2BIG : (int) n;
}

void oa_admin_migrate_plan(const oa_admin_migration *migs, size_t n, const oa_admin_applied *applied,
                           size_t n_applied, oa_admin_mig_state *ret_states, size_t *ret_unknown) {
        size_t unknown = 0;

        for (size_t i = 0; i < n; i++) {
                char sum[OA_ADMIN_CHECKSUM_HEX];

                ret_states[i] = OA_ADMIN_MIG_PENDING;
                oa_admin_migration_checksum(&migs[i], sum);
                /* Recorded twice (two runs at once) is fine while every record agrees. */
                for (size_t j = 0; j < n_applied; j++) {
                        if (applied[j].version != migs[i].version)
                                continue;
                        if (strcmp(applied[j].checksum, sum) != 0) {
                                ret_states[i] = OA_ADMIN_MIG_CHANGED;
                                break;
                        }
                        ret_states[i] = OA_ADMIN_MIG_APPLIED;
                }
        }
        for (size_t j = 0; j < n_applied; j++) {
                bool known = false;

                for (size_t i = 0; i < n && !known; i++)
                        known = migs[i].version == applied[j].version;
                unknown += !known;
        }
        *ret_unknown = unknown;
}
