/* DSAR shared pieces: the user_id rule, status rows of oa.privacy_requests, and the
 * suppression list (oa/dsar.h). */
#include "oa/dsar.h"

#include "oa/ch.h"
#include "oa/map.h"
#include "oa/utf8.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

int oa_dsar_user_id_check(const char *s, size_t n, char *errbuf, size_t errlen) {
        const unsigned char *u = (const unsigned char *) s;
        size_t i = 0, chars = 0;

        if (!s || n == 0) {
                snprintf(errbuf, errlen, "user_id must not be empty");
                return -EINVAL;
        }
        if (n > OA_DSAR_USER_ID_MAX_BYTES)
                goto too_long;
        while (i < n) {
                long cp = oa_utf8_next(u, n, &i);

                if (cp < 0) {
                        snprintf(errbuf, errlen, "user_id must be valid UTF-8 (percent-encoded once)");
                        return -EINVAL;
                }
                if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
                        snprintf(errbuf, errlen, "user_id must not contain control characters (U+%04lX)", cp);
                        return -EINVAL;
                }
                chars++;
        }
        if (chars <= OA_DSAR_USER_ID_MAX_CHARS)
                return 0;
too_long:
        snprintf(errbuf, errlen, "user_id must be 1 to %d characters", OA_DSAR_USER_ID_MAX_CHARS);
        return -EINVAL;
}

static const char *const state_names[] = {
        [OA_DSAR_UNKNOWN] = "unknown",
        [OA_DSAR_QUEUED] = "queued",
        [OA_DSAR_RUNNING] = "running",
        [OA_DSAR_COMPLETED] = "completed",
        [OA_DSAR_FAILED] = "failed",
};

const char *oa_dsar_state_name(oa_dsar_state s) {
        if ((unsigned) s >= sizeof(state_names) / sizeof(state_names[0]))
                return "unknown";
        return state_names[s];
}

oa_dsar_state oa_dsar_state_parse(const char *s, size_t n) {
        for (unsigned i = OA_DSAR_QUEUED; i <= OA_DSAR_FAILED; i++)
                if (strlen(state_names[i]) == n && memcmp(state_names[i], s, n) == 0)
                        return (oa_dsar_state) i;
        return OA_DSAR_UNKNOWN;
}

static void copy_id(char *dst, size_t cap, const char *src) {
        snprintf(dst, cap, "%s", src ? src : "");
}

void oa_dsar_status_from_request(oa_dsar_status *st, const Oa__DeletionRequest *r) {
        memset(st, 0, sizeof(*st));
        copy_id(st->request_id, sizeof(st->request_id), r->request_id);
        copy_id(st->account_id, sizeof(st->account_id), r->account_id);
        copy_id(st->project_id, sizeof(st->project_id), r->project_id);
        copy_id(st->key_id, sizeof(st->key_id), r->key_id);
        copy_id(st->visitor_id, sizeof(st->visitor_id), r->visitor_id);
        st->state = OA_DSAR_QUEUED;
        st->created_ms = r->created_ms;
        st->version = (uint64_t) r->created_ms;
}

/* ---- the row ---- */

static int add_str_field(oa_buf *b, const char *name, const char *v) {
        int r = oa_buf_addf(b, ",\"%s\":", name);

        return r < 0 ? r : oa_buf_add_json_quoted(b, v);
}

int oa_dsar_status_row(oa_buf *out, const oa_dsar_status *st) {
        int r = oa_buf_adds(out, "{\"request_id\":");

        if (r == 0)
                r = oa_buf_add_json_quoted(out, st->request_id);
        if (r == 0)
                r = add_str_field(out, "account_id", st->account_id);
        if (r == 0)
                r = add_str_field(out, "project_id", st->project_id);
        if (r == 0)
                r = add_str_field(out, "key_id", st->key_id);
        if (r == 0)
                r = add_str_field(out, "visitor_id", st->visitor_id);
        if (r == 0)
                r = add_str_field(out, "status", oa_dsar_state_name(st->state));
        if (r == 0)
                r = add_str_field(out, "error", st->error);
        /* DateTime columns take Unix seconds as numbers in JSONEachRow */
        if (r == 0)
                r = oa_buf_addf(out,
                                ",\"created_at\":%lld,\"created_millis\":%d,\"started_at\":%lld,"
                                "\"finished_at\":%lld,\"counted\":%d,\"rows_events\":%llu,"
                                "\"rows_sessions\":%llu,\"rows_recent\":%llu,\"version\":%llu}\n",
                                (long long) (st->created_ms / 1000), (int) (st->created_ms % 1000),
                                (long long) (st->started_ms / 1000),
                                (long long) (st->finished_ms / 1000), st->counted ? 1 : 0,
                                (unsigned long long) st->rows_events,
                                (unsigned long long) st->rows_sessions,
                                (unsigned long long) st->rows_recent,
                                (unsigned long long) st->version);
        return r;
}

/* ---- reading it back ---- */

static const char *const columns[] = {
        "account_id", "key_id", "visitor_id", "status", "error", "created_at", "created_millis",
        "started_at", "finished_at", "counted", "rows_events", "rows_sessions", "rows_recent",
        "version",
};

#define N_COLUMNS (sizeof(columns) / sizeof(columns[0]))

/* The answer's columns are named s_<column>: an alias equal to a column's name would
 * stand for the aggregate inside the other aggregates. */
int oa_dsar_status_select(oa_buf *out, const char *project_id, const char *request_id) {
        int r = oa_buf_adds(out, "SELECT request_id AS s_request_id, project_id AS s_project_id");

        for (size_t i = 0; r == 0 && i < N_COLUMNS; i++) {
                if (strcmp(columns[i], "version") == 0)
                        r = oa_buf_adds(out, ", max(version) AS s_version");
                else if (strstr(columns[i], "_at"))
                        r = oa_buf_addf(out, ", toUInt32(argMax(%s, version)) AS s_%s", columns[i],
                                        columns[i]);
                else
                        r = oa_buf_addf(out, ", argMax(%s, version) AS s_%s", columns[i], columns[i]);
        }
        if (r == 0)
                r = oa_buf_adds(out, " FROM " OA_DSAR_TABLE " WHERE project_id = ");
        if (r == 0)
                r = oa_ch_quote(out, project_id, strlen(project_id));
        if (r == 0)
                r = oa_buf_adds(out, " AND request_id = ");
        if (r == 0)
                r = oa_ch_quote(out, request_id, strlen(request_id));
        if (r == 0)
                r = oa_buf_adds(out, " GROUP BY request_id, project_id FORMAT JSONEachRow");
        return r;
}

/* The value of column name: "s_<name>" as the SELECT names it, or "<name>" as a row
 * written by oa_dsar_status_row has it. */
static yajl_val tree_get(yajl_val root, const char *name, yajl_type type) {
        char alias[64];
        const char *path[] = { alias, NULL };
        yajl_val v;

        snprintf(alias, sizeof(alias), "s_%s", name);
        v = yajl_tree_get(root, path, type);
        if (!v) {
                path[0] = name;
                v = yajl_tree_get(root, path, type);
        }
        return v;
}

static const char *tree_str(yajl_val root, const char *name) {
        yajl_val v = tree_get(root, name, yajl_t_string);

        return v ? YAJL_GET_STRING(v) : NULL;
}

/* A number column: JSON number, or text (64-bit integers may come quoted). */
static bool tree_u64(yajl_val root, const char *name, uint64_t *ret) {
        yajl_val v = tree_get(root, name, yajl_t_any);
        const char *text;
        char *end;

        if (!v)
                return false;
        if (YAJL_IS_NUMBER(v))
                text = YAJL_GET_NUMBER(v);
        else if (YAJL_IS_STRING(v))
                text = YAJL_GET_STRING(v);
        else
                return false;
        errno = 0;
        *ret = strtoull(text, &end, 10);
        return errno == 0 && end != text && *end == '\0';
}

int oa_dsar_status_parse(const char *body, size_t len, oa_dsar_status *st) {
        char text[8192], err[128];
        const char *s;
        yajl_val root;
        uint64_t v[9];
        static const char *const nums[] = { "created_at", "created_millis", "started_at",
                                            "finished_at", "counted", "rows_events",
                                            "rows_sessions", "rows_recent", "version" };
        int ret = -EPROTO;

        while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == ' '))
                len--;
        if (len == 0)
                return 0;
        if (len >= sizeof(text) || memchr(body, '\n', len))
                return -EPROTO;         /* one row at most */
        memcpy(text, body, len);
        text[len] = '\0';
        root = yajl_tree_parse(text, err, sizeof(err));
        if (!root || !YAJL_IS_OBJECT(root))
                goto out;
        memset(st, 0, sizeof(*st));
        for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
                if (!tree_u64(root, nums[i], &v[i]))
                        goto out;
        st->created_ms = (int64_t) (v[0] * 1000 + v[1]);
        st->started_ms = (int64_t) v[2] * 1000;
        st->finished_ms = (int64_t) v[3] * 1000;
        st->counted = v[4] != 0;
        st->rows_events = v[5];
        st->rows_sessions = v[6];
        st->rows_recent = v[7];
        st->version = v[8];
        if (!(s = tree_str(root, "status")))
                goto out;
        st->state = oa_dsar_state_parse(s, strlen(s));
        if (st->state == OA_DSAR_UNKNOWN)
                goto out;
        static const struct {
                const char *name;
                size_t off, cap;
        } strs[] = {
                { "request_id", offsetof(oa_dsar_status, request_id), sizeof(st->request_id) },
                { "project_id", offsetof(oa_dsar_status, project_id), sizeof(st->project_id) },
                { "account_id", offsetof(oa_dsar_status, account_id), sizeof(st->account_id) },
                { "key_id", offsetof(oa_dsar_status, key_id), sizeof(st->key_id) },
                { "visitor_id", offsetof(oa_dsar_status, visitor_id), sizeof(st->visitor_id) },
                { "error", offsetof(oa_dsar_status, error), sizeof(st->error) },
        };
        for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
                if (!(s = tree_str(root, strs[i].name)))
                        goto out;
                snprintf((char *) st + strs[i].off, strs[i].cap, "%s", s);
        }
        ret = 1;
out:
        yajl_tree_free(root);
        return ret;
}

/* ---- the API's JSON ---- */

static int add_time_or_null(oa_buf *b, const char *name, int64_t ms) {
        char t[OA_ENTITY_TIME_MAX];

        if (ms <= 0)
                return oa_buf_addf(b, ",\"%s\":null", name);
        oa_entity_time_format(ms, t);
        return oa_buf_addf(b, ",\"%s\":\"%s\"", name, t);
}

int oa_dsar_status_json(oa_buf *out, const oa_dsar_status *st) {
        int r = oa_buf_adds(out, "{\"request_id\":");

        if (r == 0)
                r = oa_buf_add_json_quoted(out, st->request_id);
        if (r == 0)
                r = add_str_field(out, "project_id", st->project_id);
        if (r == 0)
                r = add_str_field(out, "status", oa_dsar_state_name(st->state));
        if (r == 0)
                r = add_time_or_null(out, "created_at", st->created_ms);
        if (r == 0)
                r = add_time_or_null(out, "started_at", st->started_ms);
        if (r == 0)
                r = add_time_or_null(out, "completed_at",
                                     st->state == OA_DSAR_COMPLETED || st->state == OA_DSAR_FAILED
                                             ? st->finished_ms : 0);
        if (r == 0 && st->counted)
                r = oa_buf_addf(out,
                                ",\"rows_deleted\":{\"events\":%llu,\"sessions\":%llu,"
                                "\"recent_events\":%llu}",
                                (unsigned long long) st->rows_events,
                                (unsigned long long) st->rows_sessions,
                                (unsigned long long) st->rows_recent);
        else if (r == 0)
                r = oa_buf_adds(out, ",\"rows_deleted\":null");
        if (r == 0 && st->state == OA_DSAR_FAILED)
                r = add_str_field(out, "error", st->error);
        if (r == 0)
                r = oa_buf_addc(out, '}');
        return r;
}

/* ---- checking a request ---- */

static bool hex_id(const char *s) {
        size_t n = s ? strlen(s) : 0;

        if (n != OA_VISITOR_ID_LEN)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

int oa_dsar_request_check(const Oa__DeletionRequest *r, char *errbuf, size_t errlen) {
        char uuid[OA_UUID_LEN + 1];

        if (r->version != 1)
                snprintf(errbuf, errlen, "unknown version %u", r->version);
        else if (!r->request_id || oa_uuid_normalize(r->request_id, strlen(r->request_id), uuid) < 0)
                snprintf(errbuf, errlen, "request_id is not a UUID");
        else if (!r->project_id || !oa_entity_id_ok(OA_ENTITY_PROJECT, r->project_id, strlen(r->project_id)))
                snprintf(errbuf, errlen, "project_id is not a project id");
        else if (!r->account_id || !oa_entity_id_ok(OA_ENTITY_ACCOUNT, r->account_id, strlen(r->account_id)))
                snprintf(errbuf, errlen, "account_id is not an account id");
        else if (!r->user_id || oa_dsar_user_id_check(r->user_id, strlen(r->user_id), errbuf, errlen) < 0)
                snprintf(errbuf, errlen, "user_id is not valid");
        else if (!hex_id(r->visitor_id))
                snprintf(errbuf, errlen, "visitor_id is not 32 hex characters");
        else if (r->created_ms <= 0)
                snprintf(errbuf, errlen, "created_ms is missing");
        else
                return 0;
        return -EINVAL;
}

/* ---- the suppression list ---- */

struct oa_dsar_suppress {
        oa_map *m;                      /* project_id 0x00 visitor_id -> int64_t created_ms */
};

oa_dsar_suppress *oa_dsar_suppress_new(void) {
        oa_dsar_suppress *s = calloc(1, sizeof(*s));

        if (s && !(s->m = oa_map_new())) {
                free(s);
                return NULL;
        }
        return s;
}

static int free_entry(const void *key, size_t klen, void *value, void *ud) {
        (void) key, (void) klen, (void) ud;
        free(value);
        return 0;
}

oa_dsar_suppress *oa_dsar_suppress_free(oa_dsar_suppress *s) {
        if (!s)
                return NULL;
        oa_map_foreach(s->m, free_entry, NULL);
        oa_map_free(s->m);
        free(s);
        return NULL;
}

static size_t make_key(char *k, size_t cap, const char *project_id, const char *visitor_id) {
        int n = snprintf(k, cap, "%s%c%s", project_id, '\0', visitor_id);

        return n < 0 || (size_t) n >= cap ? 0 : (size_t) n;
}

int oa_dsar_suppress_add(oa_dsar_suppress *s, const char *project_id, const char *visitor_id,
                         int64_t created_ms) {
        char k[OA_ENTITY_ID_MAX + OA_VISITOR_ID_LEN + 2];
        size_t kl = make_key(k, sizeof(k), project_id, visitor_id);
        int64_t *v;

        if (kl == 0)
                return -EINVAL;
        v = oa_map_get(s->m, k, kl);
        if (v) {
                if (created_ms > *v)
                        *v = created_ms;
                return 0;
        }
        if (!(v = malloc(sizeof(*v))))
                return -ENOMEM;
        *v = created_ms;
        if (oa_map_put(s->m, k, kl, v, NULL) < 0) {
                free(v);
                return -ENOMEM;
        }
        return 0;
}

bool oa_dsar_suppressed(const oa_dsar_suppress *s, const char *project_id,
                        const char *visitor_id, int64_t received_ms) {
        char k[OA_ENTITY_ID_MAX + OA_VISITOR_ID_LEN + 2];
        size_t kl;
        const int64_t *v;

        if (oa_map_size(s->m) == 0)
                return false;
        kl = make_key(k, sizeof(k), project_id, visitor_id);
        v = kl ? oa_map_get(s->m, k, kl) : NULL;
        return v && received_ms <= *v;
}

typedef struct expire_walk {
        int64_t cutoff;
        char (*keys)[OA_ENTITY_ID_MAX + OA_VISITOR_ID_LEN + 2];
        size_t *lens;
        size_t n, cap;
} expire_walk;

static int collect_old(const void *key, size_t klen, void *value, void *ud) {
        expire_walk *w = ud;

        if (*(int64_t *) value >= w->cutoff || w->n == w->cap ||
            klen > sizeof(w->keys[0]))
                return 0;
        memcpy(w->keys[w->n], key, klen);
        w->lens[w->n++] = klen;
        return 0;
}

size_t oa_dsar_suppress_expire(oa_dsar_suppress *s, int64_t now_ms) {
        expire_walk w = { .cutoff = now_ms - OA_DSAR_SUPPRESS_MS };

        w.cap = oa_map_size(s->m);
        if (w.cap == 0)
                return 0;
        w.keys = malloc(w.cap * sizeof(*w.keys));
        w.lens = malloc(w.cap * sizeof(*w.lens));
        if (!w.keys || !w.lens) {
                free(w.keys);
                free(w.lens);
                return 0;
        }
        oa_map_foreach(s->m, collect_old, &w);
        for (size_t i = 0; i < w.n; i++)
                free(oa_map_del(s->m, w.keys[i], w.lens[i]));
        free(w.keys);
        free(w.lens);
        return w.n;
}

size_t oa_dsar_suppress_size(const oa_dsar_suppress *s) {
        return oa_map_size(s->m);
}
