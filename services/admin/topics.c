/* `oa-admin topics ensure` and `oa-admin topics list`: the Kafka topic catalogue
 * (oa_kafka_catalogue) made real on the brokers, and a look at what is there. The stack
 * scripts run `topics ensure` before starting any daemon. */
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A client for the admin API; prints why not. Returns an exit code. */
static int connect_admin(const oa_admin_cfg *cfg, rd_kafka_t **ret_rk) {
        oa_kafka_cfg kc = oa_admin_kafka_cfg(cfg);
        char err[512];
        int r;

        r = oa_kafka_admin_new(&kc, ret_rk, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "oa-admin: kafka client: %s\n", err);
                return r == -EINVAL ? OA_ADMIN_EXIT_USAGE : OA_ADMIN_EXIT_FAILURE;
        }
        return OA_ADMIN_EXIT_OK;
}

static const char *state_name(oa_kafka_topic_state s) {
        switch (s) {
        case OA_KAFKA_TOPIC_CREATED:
                return "created";
        case OA_KAFKA_TOPIC_EXISTS:
                return "exists";
        case OA_KAFKA_TOPIC_MISMATCH:
                return "MISMATCH";
        case OA_KAFKA_TOPIC_FAILED:
                break;
        }
        return "FAILED";
}

int oa_admin_topics_ensure(const oa_admin_cfg *cfg, int argc, char **argv) {
        const oa_kafka_topic_spec *specs;
        oa_kafka_topic_status *status = NULL;
        rd_kafka_t *rk = NULL;
        char err[512];
        size_t n;
        int r, ret;

        if (argc > 0) {
                fprintf(stderr, "oa-admin: topics ensure: unexpected argument %s\n", argv[0]);
                return OA_ADMIN_EXIT_USAGE;
        }
        ret = connect_admin(cfg, &rk);
        if (ret != OA_ADMIN_EXIT_OK)
                return ret;
        specs = oa_kafka_catalogue(&n);
        status = calloc(n, sizeof(*status));
        if (!status) {
                ret = OA_ADMIN_EXIT_FAILURE;
                goto out;
        }
        r = oa_kafka_ensure_topics(rk, specs, n, (int) cfg->kafka_replication_factor,
                                   (int) cfg->kafka_timeout_ms, status, err, sizeof(err));
        ret = OA_ADMIN_EXIT_OK;
        for (size_t i = 0; i < n; i++) {
                const oa_kafka_topic_status *st = &status[i];

                /* untouched: the brokers never answered */
                if (st->state == OA_KAFKA_TOPIC_FAILED && !st->detail[0])
                        continue;
                printf("%-8s %-18s %3d partition%s%s%s\n", state_name(st->state), st->name,
                       st->partitions >= 0 ? st->partitions : specs[i].partitions,
                       st->partitions == 1 || (st->partitions < 0 && specs[i].partitions == 1) ? "" : "s",
                       st->detail[0] ? "  " : "", st->detail);
                if (st->state == OA_KAFKA_TOPIC_MISMATCH)
                        ret = OA_ADMIN_EXIT_DRIFT;
        }
        fflush(stdout);
        if (r < 0) {
                fprintf(stderr, "oa-admin: topics ensure: %s\n", err);
                ret = OA_ADMIN_EXIT_FAILURE;
        } else if (ret == OA_ADMIN_EXIT_DRIFT) {
                fprintf(stderr, "oa-admin: topics ensure: some topics differ from the catalogue "
                        "(MISMATCH above); fix them by hand, nothing was changed\n");
        }
out:
        free(status);
        if (rk)
                rd_kafka_destroy(rk);
        return ret;
}

static int cmp_topic(const void *a, const void *b) {
        const rd_kafka_metadata_topic_t *x = *(const rd_kafka_metadata_topic_t *const *) a;
        const rd_kafka_metadata_topic_t *y = *(const rd_kafka_metadata_topic_t *const *) b;

        return strcmp(x->topic, y->topic);
}

int oa_admin_topics_list(const oa_admin_cfg *cfg, int argc, char **argv) {
        const rd_kafka_metadata_topic_t **sorted = NULL;
        const rd_kafka_metadata_t *md = NULL;
        const oa_kafka_topic_spec *specs;
        rd_kafka_t *rk = NULL;
        char err[512];
        size_t n, k = 0;
        int ret;

        if (argc > 0) {
                fprintf(stderr, "oa-admin: topics list: unexpected argument %s\n", argv[0]);
                return OA_ADMIN_EXIT_USAGE;
        }
        ret = connect_admin(cfg, &rk);
        if (ret != OA_ADMIN_EXIT_OK)
                return ret;
        if (oa_kafka_metadata(rk, (int) cfg->kafka_timeout_ms, &md, err, sizeof(err)) < 0) {
                fprintf(stderr, "oa-admin: topics list: %s\n", err);
                ret = OA_ADMIN_EXIT_FAILURE;
                goto out;
        }
        sorted = calloc((size_t) md->topic_cnt + 1, sizeof(*sorted));
        if (!sorted) {
                ret = OA_ADMIN_EXIT_FAILURE;
                goto out;
        }
        for (int i = 0; i < md->topic_cnt; i++)
                if (strncmp(md->topics[i].topic, "__", 2) != 0)     /* broker-internal */
                        sorted[k++] = &md->topics[i];
        qsort(sorted, k, sizeof(*sorted), cmp_topic);
        printf("%-30s %10s %8s  %s\n", "TOPIC", "PARTITIONS", "REPLICAS", "CATALOGUE");
        for (size_t i = 0; i < k; i++) {
                const rd_kafka_metadata_topic_t *t = sorted[i];
                const oa_kafka_topic_spec *spec = oa_kafka_catalogue_find(t->topic);

                printf("%-30s %10d %8d  %s\n", t->topic, t->partition_cnt,
                       t->partition_cnt > 0 ? t->partitions[0].replica_cnt : 0,
                       spec ? spec->purpose : "-");
        }
        specs = oa_kafka_catalogue(&n);
        for (size_t i = 0; i < n; i++) {
                bool found = false;

                for (size_t j = 0; j < k && !found; j++)
                        found = strcmp(sorted[j]->topic, specs[i].name) == 0;
                if (!found)
                        printf("%-30s %10s %8s  MISSING (run: oa-admin topics ensure)\n",
                               specs[i].name, "-", "-");
        }
out:
        free(sorted);
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rk)
                rd_kafka_destroy(rk);
        return ret;
}
