/* oa-admin and the topic oa.projects.v1: read it to its end before a command (the state
 * every check is made against), and publish records through an idempotent producer,
 * waiting for the broker's acknowledgement of each: a command reports success only for
 * what Kafka has. Both are bounded by OA_KAFKA_TIMEOUT_MS. */
#include "admin.h"

#include "oa/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A record the catalogue refused is skipped (every daemon skips it too); say so in the
 * log, never on stdout. */
static void bad_record(const oa_kmsg *m, int err, const char *reason, void *ud) {
        char off[32];

        snprintf(off, sizeof(off), "%" PRId64, m->offset);
        oa_log_warn("skipped a record of oa.projects.v1", "offset", off, "reason", reason);
}

int oa_admin_state_load(const oa_admin_cfg *cfg, oa_projects **ret) {
        oa_kafka_cfg kc = oa_admin_kafka_cfg(cfg);
        int timeout = (int) cfg->kafka_timeout_ms;
        oa_projects *p = NULL;
        int64_t start = mono_ms(), left;
        char err[512];
        int r;

        r = oa_projects_new(&kc, NULL, timeout, bad_record, NULL, &p, err, sizeof(err));
        if (r == -ENOENT) {
                fprintf(stderr, "oa-admin: the topic " OA_TOPIC_PROJECTS " does not exist; "
                        "create it with: oa-admin topics ensure\n");
                return OA_ADMIN_EXIT_FAILURE;
        }
        if (r < 0) {
                fprintf(stderr, "oa-admin: cannot read " OA_TOPIC_PROJECTS " from %s: %s\n",
                        cfg->kafka_brokers, err);
                return r == -EINVAL ? OA_ADMIN_EXIT_USAGE : OA_ADMIN_EXIT_FAILURE;
        }
        left = timeout - (mono_ms() - start);
        r = oa_projects_sync(p, left > 100 ? (int) left : 100, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "oa-admin: cannot read " OA_TOPIC_PROJECTS " from %s: %s\n",
                        cfg->kafka_brokers, err);
                oa_projects_free(p);
                return OA_ADMIN_EXIT_FAILURE;
        }
        *ret = p;
        return OA_ADMIN_EXIT_OK;
}

/* What the delivery reports said. */
struct acks {
        size_t ok, failed;
        char first_error[256];
};

static void on_report(const oa_kprod_report *r, void *ud) {
        struct acks *a = ud;

        if (r->err == 0) {
                a->ok++;
                return;
        }
        if (a->failed++ == 0)
                snprintf(a->first_error, sizeof(a->first_error), "%s",
                         r->errstr && *r->errstr ? r->errstr : strerror(-r->err));
}

int oa_admin_publish(const oa_admin_cfg *cfg, Oa__Record *const *recs, size_t n) {
        oa_kafka_cfg kc = oa_admin_kafka_cfg(cfg);
        struct acks acks = { 0 };
        oa_kprod *kp = NULL;
        char err[512];
        int r, ret = OA_ADMIN_EXIT_FAILURE;
        size_t queued = 0;

        /* librdkafka gives up on a message after the timeout, so the flush below ends
         * with a report for each; the close after it has nothing left to wait for. */
        kc.message_timeout_ms = (int) cfg->kafka_timeout_ms;
        kc.close_timeout_ms = 100;
        r = oa_kprod_new(&kc, on_report, &acks, &kp, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "oa-admin: kafka producer: %s\n", err);
                return r == -EINVAL ? OA_ADMIN_EXIT_USAGE : OA_ADMIN_EXIT_FAILURE;
        }
        for (size_t i = 0; i < n; i++) {
                r = oa_projects_publish(kp, NULL, recs[i], NULL);
                if (r < 0) {
                        fprintf(stderr, "oa-admin: cannot queue a record for " OA_TOPIC_PROJECTS ": %s\n",
                                strerror(-r));
                        break;
                }
                queued++;
        }
        if (queued > 0 && oa_kprod_flush(kp, (int) cfg->kafka_timeout_ms + 1000) < 0 && acks.failed == 0)
                snprintf(acks.first_error, sizeof(acks.first_error), "no acknowledgement within %lld ms",
                         cfg->kafka_timeout_ms);
        if (queued == n && acks.ok == n) {
                ret = OA_ADMIN_EXIT_OK;
        } else if (queued > 0) {
                fprintf(stderr, "oa-admin: Kafka (%s) did not acknowledge the write to " OA_TOPIC_PROJECTS
                        ": %s%s\n", cfg->kafka_brokers, acks.first_error[0] ? acks.first_error : "unknown error",
                        acks.ok ? " (part of it was written; check with the list commands)" : "");
        }
        oa_kprod_free(kp);
        return ret;
}

/* Collecting and sorting the catalogue's entities. */
struct collect {
        const void **v;
        size_t n, cap;
        int err;
};

static int push(struct collect *c, const void *e) {
        if (c->n == c->cap) {
                size_t cap = c->cap ? 2 * c->cap : 16;
                const void **nv = realloc(c->v, cap * sizeof(*nv));

                if (!nv) {
                        c->err = -ENOMEM;
                        return 1;
                }
                c->v = nv;
                c->cap = cap;
        }
        c->v[c->n++] = e;
        return 0;
}

static int push_account(const Oa__Account *a, void *ud) {
        return push(ud, a);
}

static int push_project(const Oa__Project *p, void *ud) {
        return push(ud, p);
}

static int push_key(const Oa__ApiKey *k, void *ud) {
        return push(ud, k);
}

static int cmp_created(int64_t a, int64_t b, const char *ia, const char *ib) {
        if (a != b)
                return a < b ? -1 : 1;
        return strcmp(ia, ib);
}

static int cmp_account(const void *x, const void *y) {
        const Oa__Account *a = *(const Oa__Account *const *) x, *b = *(const Oa__Account *const *) y;

        return cmp_created(a->created_ms, b->created_ms, a->id, b->id);
}

static int cmp_project(const void *x, const void *y) {
        const Oa__Project *a = *(const Oa__Project *const *) x, *b = *(const Oa__Project *const *) y;

        return cmp_created(a->created_ms, b->created_ms, a->id, b->id);
}

static int cmp_key(const void *x, const void *y) {
        const Oa__ApiKey *a = *(const Oa__ApiKey *const *) x, *b = *(const Oa__ApiKey *const *) y;

        return cmp_created(a->created_ms, b->created_ms, a->id, b->id);
}

int oa_admin_sorted_accounts(const oa_catalog *c, const Oa__Account ***ret_v, size_t *ret_n) {
        struct collect col = { 0 };

        oa_catalog_foreach_account(c, push_account, &col);
        if (col.err) {
                free(col.v);
                return col.err;
        }
        if (col.n)
                qsort(col.v, col.n, sizeof(*col.v), cmp_account);
        *ret_v = (const Oa__Account **) col.v;
        *ret_n = col.n;
        return 0;
}

int oa_admin_sorted_projects(const oa_catalog *c, const char *account_id,
                             const Oa__Project ***ret_v, size_t *ret_n) {
        struct collect col = { 0 };

        oa_catalog_foreach_project(c, account_id, push_project, &col);
        if (col.err) {
                free(col.v);
                return col.err;
        }
        if (col.n)
                qsort(col.v, col.n, sizeof(*col.v), cmp_project);
        *ret_v = (const Oa__Project **) col.v;
        *ret_n = col.n;
        return 0;
}

int oa_admin_sorted_keys(const oa_catalog *c, const char *account_id,
                         const Oa__ApiKey ***ret_v, size_t *ret_n) {
        struct collect col = { 0 };

        oa_catalog_foreach_key(c, account_id, push_key, &col);
        if (col.err) {
                free(col.v);
                return col.err;
        }
        if (col.n)
                qsort(col.v, col.n, sizeof(*col.v), cmp_key);
        *ret_v = (const Oa__ApiKey **) col.v;
        *ret_n = col.n;
        return 0;
}

int oa_admin_id_fresh(const oa_catalog *c, oa_entity_kind kind, char *ret_id) {
        for (int attempt = 0; attempt < 8; attempt++) {
                int r = oa_entity_id_new(kind, ret_id);

                if (r < 0) {
                        fprintf(stderr, "oa-admin: cannot make an id: %s\n", strerror(-r));
                        return r;
                }
                /* 62^16 ids: a clash means a broken random source, but costs nothing to rule out */
                if (!oa_catalog_account(c, ret_id) && !oa_catalog_project(c, ret_id) &&
                    !oa_catalog_key(c, ret_id) && !oa_catalog_project_by_site(c, ret_id))
                        return 0;
        }
        fprintf(stderr, "oa-admin: cannot make a new id: every one drawn exists already\n");
        return -EEXIST;
}

int oa_admin_not_found(const char *kind, const char *id) {
        char shown[300];

        fprintf(stderr, "oa-admin: no %s %s\n", kind, oa_admin_printable(id, shown, sizeof(shown)));
        return OA_ADMIN_EXIT_NOT_FOUND;
}
