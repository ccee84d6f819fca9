/* The projects catalogue kept in step with the compacted topic oa.projects.v1: a reader
 * that starts from the beginning (the daemon is ready only once it has read everything
 * that was there at start) and then follows the topic, applying each record to an
 * oa_catalog. Also the writer side: how a Record is keyed and published. */
#ifndef OA_PROJECTS_H
#define OA_PROJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oa/catalog.h"
#include "oa/kafka.h"

typedef struct oa_projects oa_projects;

/* Called for a record the catalogue refused (undecodable, unknown version, mismatched
 * key), with the reason; the reader carries on with the next record. */
typedef void oa_projects_bad_fn(const oa_kmsg *m, int err, const char *reason, void *ud);

/* Start reading topic (NULL: oa.projects.v1) from the beginning. Waits up to timeout_ms for
 * the topic's metadata. Returns 0 and *ret, or a negative errno with errbuf. */
int oa_projects_new(const oa_kafka_cfg *c, const char *topic, int timeout_ms,
                    oa_projects_bad_fn *bad, void *ud, oa_projects **ret, char *errbuf,
                    size_t errlen);

/* Stop reading and free the catalogue. NULL-safe; returns NULL. */
oa_projects *oa_projects_free(oa_projects *p);

/* Apply what has arrived: at most max records, waiting up to timeout_ms for the first.
 * Returns the number of records read (good or bad), or a negative errno for a consumer
 * error (reason in errbuf; the reader stays usable unless -ENOTRECOVERABLE). */
int oa_projects_poll(oa_projects *p, int timeout_ms, int max, char *errbuf, size_t errlen);

/* Poll until every record present at start has been applied, for at most timeout_ms.
 * Returns 0, -ETIMEDOUT, or a consumer error. */
int oa_projects_sync(oa_projects *p, int timeout_ms, char *errbuf, size_t errlen);

#define OA_PROJECTS_READ_BATCH 1000
#define OA_PROJECTS_TURN_MAX 20000      /* records per turn: the event loop stays responsive */
#define OA_PROJECTS_ERR_MS 10000        /* a reader error counts as recent this long */

/* What one turn of oa_projects_follow did, for the daemon to count and log. */
typedef struct oa_projects_turn {
        int read;                       /* records read (good or bad) */
        int err;                        /* 0, or the reader's error (negative errno);
                                         * -ENOTRECOVERABLE: the reader is dead and the
                                         * catalogue would go stale (revoked keys working) */
        const char *errstr;             /* its text (owned by p), NULL without error */
        bool err_is_news;               /* another error than the last, or the last is
                                         * older than OA_PROJECTS_ERR_MS: worth a log line */
        bool became_ready;              /* the start-up read completed in this turn */
} oa_projects_turn;

/* One event-loop turn of following the topic: apply what has arrived without waiting, in
 * batches of OA_PROJECTS_READ_BATCH, at most about OA_PROJECTS_TURN_MAX records. now_ms
 * is the caller's monotonic clock (also for oa_projects_recent_error). Fills *ret. */
void oa_projects_follow(oa_projects *p, int64_t now_ms, oa_projects_turn *ret);

/* The text of a reader error seen within OA_PROJECTS_ERR_MS before now_ms (the daemon
 * stays unready meanwhile), or NULL. */
const char *oa_projects_recent_error(const oa_projects *p, int64_t now_ms);

/* True once the start-up read is complete. */
bool oa_projects_ready(const oa_projects *p);

/* The current catalogue (owned by p). */
const oa_catalog *oa_projects_catalog(const oa_projects *p);

/* The reader's librdkafka handle (owned by p), e.g. to have its consumer queue wake an
 * event loop through rd_kafka_queue_io_event_enable. */
rd_kafka_t *oa_projects_rk(oa_projects *p);

/* Records read so far, and how many were refused. */
uint64_t oa_projects_n_read(const oa_projects *p);
uint64_t oa_projects_n_bad(const oa_projects *p);

/* The record key of rec's entity ("account/ID", "project/ID", "key/ID") into buf.
 * Returns its length, -EINVAL for a record without an entity, or -ENAMETOOLONG. */
int oa_projects_record_key(const Oa__Record *rec, char *buf, size_t len);

/* Pack rec (version set to 1, updated_ms to now when 0) and queue it on topic (NULL:
 * oa.projects.v1) with its record key; the delivery report carries msg_opaque. A record
 * with deleted set is published as is (a tombstone comes after compaction). Returns as
 * oa_kprod_produce, or -EINVAL. */
int oa_projects_publish(oa_kprod *kp, const char *topic, Oa__Record *rec, void *msg_opaque);

#endif
