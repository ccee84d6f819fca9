/* oa-privacy: carries out the DSAR deletions queued on oa.deletions.v1 (docs/privacy.md).
 *
 *   config.c  the option table
 *   job.c     one request from the record to `completed`: the stages below
 *   store.c   what a stage says to ClickHouse and Redis (SQL built here, literals quoted)
 *   main.c    the skeleton: clients, the metrics listener, the loop
 *
 * One request at a time, in the order of its partition; its offset is stored only once
 * the request is completed or failed, so a crash resumes it (the status row remembers how
 * far it got). Every action is logged with the request id, the key id and the time: the
 * audit trail. The user_id is never logged nor stored; the visitor id derived from it is. */
#ifndef OA_PRIVACY_H
#define OA_PRIVACY_H

#include "oa/cfg.h"
#include "oa/ch.h"
#include "oa/dsar.h"
#include "oa/http.h"
#include "oa/kafka.h"
#include "oa/log.h"
#include "oa/metrics.h"
#include "oa/rds.h"
#include "deadletter.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct oa_privacy_cfg {
        char *listen;
        char *kafka_brokers;
        char *group_id;
        char *sink_group;
        char *clickhouse_url;
        char *clickhouse_user;
        char *clickhouse_password;
        char *redis_url;
        char *log_level;
        long long sink_wait_ms;
        long long mutation_timeout_ms;
        long long check_every_ms;
        long long clickhouse_timeout_ms;
        long long redis_timeout_ms;
} oa_privacy_cfg;

int oa_privacy_cfg_load(oa_privacy_cfg *cfg, int argc, char **argv, char *errbuf, size_t errlen);
void oa_privacy_cfg_free(oa_privacy_cfg *cfg);
void oa_privacy_cfg_log(const oa_privacy_cfg *cfg);

/* Where a request is. */
typedef enum oa_privacy_stage {
        STAGE_IDLE,             /* no request in hand */
        STAGE_LOOKUP,           /* read its status: new, resumed, or already done */
        STAGE_SINK_WAIT,        /* wait until oa-sink has written what was in flight */
        STAGE_COUNT,            /* count the rows, forget the Redis entries, record both */
        STAGE_MUTATE,           /* ALTER TABLE ... DELETE on events and sessions */
        STAGE_VERIFY,           /* until nothing of the user remains, or the deadline */
        STAGE_FINISH,           /* write the final status, store the offset */
} oa_privacy_stage;

typedef struct oa_privacy_job {
        oa_privacy_stage stage;
        Oa__DeletionRequest *req;       /* unpacked record (user_id in memory only) */
        int32_t partition;
        int64_t offset;
        oa_dsar_status st;
        int64_t started_mono_ms;
        int64_t next_ms;                /* monotonic: when the stage runs again */
        int64_t deadline_ms;            /* monotonic: sink wait, then the mutations */
        rd_kafka_topic_partition_list_t *marks; /* events topic's ends when the job began */
} oa_privacy_job;

typedef struct oa_privacy_metrics {
        oa_metrics_family *requests;    /* {outcome} */
        oa_metrics_family *rows;        /* {table} */
        oa_metrics_counter *dead_letters, *suppress_waits_timed_out;
        oa_metrics_histogram *seconds;
        oa_metrics_gauge *ready, *active, *clickhouse_up, *kafka_up;
} oa_privacy_metrics;

typedef struct oa_privacy {
        const oa_privacy_cfg *cfg;
        oa_metrics *metrics;
        oa_privacy_metrics m;
        oa_http_server *srv;
        oa_kcons *kcons;                /* oa.deletions.v1, group cfg->group_id */
        oa_kprod *kprod;                /* oa.deadletter.v1 */
        rd_kafka_t *sink_rk;            /* reads oa-sink's committed offsets, never joins */
        oa_ch *ch;
        oa_rds *rds;
        oa_privacy_job job;
        bool ch_up, kafka_up;
        int64_t kafka_err_until_ms;
        int exit_code;
} oa_privacy;

int64_t oa_privacy_mono_ms(void);

/* job.c */
void oa_privacy_on_turn(void *userdata);
void oa_privacy_job_clear(oa_privacy_job *j);

/* store.c: each returns 0 or a negative errno (reason in errbuf) */
int oa_privacy_status_read(oa_privacy *p, const char *project_id, const char *request_id,
                           oa_dsar_status *st, bool *found, char *errbuf, size_t errlen);
int oa_privacy_status_write(oa_privacy *p, const oa_dsar_status *st, char *errbuf, size_t errlen);
int oa_privacy_count(oa_privacy *p, const char *table, const Oa__DeletionRequest *r,
                     uint64_t *ret, char *errbuf, size_t errlen);
int oa_privacy_delete(oa_privacy *p, const char *table, const Oa__DeletionRequest *r,
                      char *errbuf, size_t errlen);
int oa_privacy_pending_mutations(oa_privacy *p, uint64_t *ret, char *errbuf, size_t errlen);
int oa_privacy_forget_recent(oa_privacy *p, const Oa__DeletionRequest *r, uint64_t *ret_removed,
                             char *errbuf, size_t errlen);
int oa_privacy_sink_marks(oa_privacy *p, rd_kafka_topic_partition_list_t **ret,
                          char *errbuf, size_t errlen);
int oa_privacy_sink_caught_up(oa_privacy *p, const rd_kafka_topic_partition_list_t *marks,
                              bool *ret, char *errbuf, size_t errlen);
int oa_privacy_dead_letter(oa_privacy *p, const oa_kmsg *m, const char *reason,
                           const char *detail);

#endif
