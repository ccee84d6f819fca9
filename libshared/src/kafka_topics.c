/* The topic catalogue: every Kafka topic OpenAnalytics uses, with its partition count and
 * the topic configs that matter, in one table. `oa-admin topics ensure` creates them;
 * protos/README.md says which message each carries. Partition counts bound the number of
 * useful consumer replicas, so they are generous where consumers scale out. */
#include "oa/kafka.h"

#include <string.h>

/* One visitor's events stay in order on one partition (key = project + visitor). */
static const char *const events_configs[] = {
        "retention.ms", "604800000",            /* 7 days: ClickHouse is the archive */
        NULL,
};

/* The source of truth for accounts, projects and keys: never deleted by age, only
 * compacted to the newest record per key. A small dirty ratio and short segments make
 * compaction (and tombstone removal after delete.retention.ms) happen within minutes. */
static const char *const projects_configs[] = {
        "cleanup.policy", "compact",
        "min.cleanable.dirty.ratio", "0.1",
        "segment.ms", "600000",                 /* 10 min: only closed segments compact */
        "delete.retention.ms", "86400000",      /* tombstones stay 1 day for late readers */
        NULL,
};

static const char *const deletions_configs[] = {
        "retention.ms", "2592000000",           /* 30 days, the DSAR answer period */
        NULL,
};

static const char *const deadletter_configs[] = {
        "retention.ms", "2592000000",           /* 30 days to look at and replay */
        NULL,
};

static const oa_kafka_topic_spec catalogue[] = {
        { OA_TOPIC_EVENTS, 12, events_configs,
          "validated, enriched events (oa.Event), key project/visitor" },
        { OA_TOPIC_PROJECTS, 1, projects_configs,
          "accounts, projects, API keys (oa.Record), compacted, key kind/id" },
        { OA_TOPIC_DELETIONS, 3, deletions_configs,
          "DSAR deletion requests (oa.DeletionRequest)" },
        { OA_TOPIC_DEADLETTER, 3, deadletter_configs,
          "records a consumer could not process, with the reason (oa.DeadLetter)" },
};

const oa_kafka_topic_spec *oa_kafka_catalogue(size_t *ret_n) {
        *ret_n = sizeof(catalogue) / sizeof(catalogue[0]);
        return catalogue;
}

const oa_kafka_topic_spec *oa_kafka_catalogue_find(const char *name) {
        for (size_t i = 0; name && i < sizeof(catalogue) / sizeof(catalogue[0]); i++)
                if (strcmp(catalogue[i].name, name) == 0)
                        return &catalogue[i];
        return NULL;
}
