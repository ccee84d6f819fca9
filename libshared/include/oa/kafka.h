/* Kafka through librdkafka: configuration, a producer (oa_kprod_), a consumer (oa_kcons_)
 * and topic administration (oa_kafka_), shared by every daemon and by oa-admin.
 *
 * Configuration comes from a plain struct (oa_kafka_cfg) plus, like kcat's -X, every
 * environment variable OA_KAFKA_X_<PROP>=value, passed straight to rd_kafka_conf_set:
 *   - the text after OA_KAFKA_X_ is lowercased and each single '_' becomes a '.':
 *       OA_KAFKA_X_QUEUE_BUFFERING_MAX_MS=5   ->  queue.buffering.max.ms=5
 *   - a double underscore "__" stands for a literal '_' (a few librdkafka properties have
 *     one in their name, e.g. log_level, enabled_events):
 *       OA_KAFKA_X_LOG__LEVEL=7               ->  log_level=7
 *   - only [A-Za-z0-9_] may follow the prefix; an empty name, or one that would start or
 *     end with '.' or contain "..", is rejected, as is anything librdkafka does not know.
 *   - these come last, so they override the struct and the program's own defaults, except
 *     for the few settings a wrapper depends on (documented at oa_kcons_new).
 * Values of secret properties (oa_kafka_prop_is_secret) never appear in error text, and
 * librdkafka's log lines (routed into oa_log with the facility and the client name as
 * fields) redact them.
 *
 * Errors are negative errnos; text from librdkafka goes into the caller's errbuf. No
 * function here logs on its own behalf; only librdkafka's log and error callbacks do. */
#ifndef OA_KAFKA_H
#define OA_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OA_KAFKA_ENV_PREFIX "OA_KAFKA_X_"

/* Topic names of the catalogue (oa_kafka_catalogue). */
#define OA_TOPIC_EVENTS     "oa.events.v1"
#define OA_TOPIC_PROJECTS   "oa.projects.v1"
#define OA_TOPIC_DELETIONS  "oa.deletions.v1"
#define OA_TOPIC_DEADLETTER "oa.deadletter.v1"

/* Settings common to every client. Zero means "default" for every field, so a caller
 * writes `oa_kafka_cfg c = { .brokers = b, .client_id = "oa-sink" };`. Strings are
 * borrowed: they are copied into librdkafka's configuration when a client is made. */
typedef struct oa_kafka_cfg {
        const char *brokers;            /* bootstrap.servers; required */
        const char *client_id;          /* client.id; NULL: "openanalytics" */
        const char *group_id;           /* group.id; consumers in a group only */
        const char *auto_offset_reset;  /* consumers: "earliest" (NULL) or "latest", ... */
        bool manual_commit;             /* consumers: false (default): stored offsets are
                                         * committed every auto.commit.interval.ms;
                                         * true: only oa_kcons_commit and close commit */
        int message_timeout_ms;         /* producers: message.timeout.ms; 0: librdkafka's */
        int close_timeout_ms;           /* producers: flush on free; 0: 10000 */
        const char *const *props;       /* extra "name", "value", ..., NULL pairs set after
                                         * the fields above and before the environment */
        char *const *envp;              /* where OA_KAFKA_X_* are read; NULL: environ */
} oa_kafka_cfg;

/* Build a librdkafka configuration: role defaults, then the fields of c, then c->props,
 * then every OA_KAFKA_X_* of c->envp (see the top of this file), and install the log and
 * error callbacks that write to oa_log. Returns 0 and hands *ret_conf to the caller (who
 * passes it to rd_kafka_new or destroys it), or -EINVAL with the offending property (or
 * variable) named in errbuf, or -ENOMEM. */
int oa_kafka_conf_build(const oa_kafka_cfg *c, rd_kafka_conf_t **ret_conf, char *errbuf,
                        size_t errlen);

/* As oa_kafka_conf_build, with defaults: "name", "value", ..., NULL pairs set first, so
 * that the struct, props and the environment can override them. defaults may be NULL. */
int oa_kafka_conf_build_ex(const oa_kafka_cfg *c, const char *const *defaults,
                           rd_kafka_conf_t **ret_conf, char *errbuf, size_t errlen);

/* Map the environment variable name var (the whole "OA_KAFKA_X_..." name, without
 * "=value") to a librdkafka property name in buf. Returns 0, -EINVAL when var has no
 * prefix or maps to a malformed name, or -ENAMETOOLONG when buf is too small. */
int oa_kafka_env_to_prop(const char *var, char *buf, size_t buflen);

/* rd_kafka_conf_set with the property named in errbuf on failure, and the value left out
 * of the message when the property is secret. Returns 0 or -EINVAL. */
int oa_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                      char *errbuf, size_t errlen);

/* True when the value of property name must never be shown (passwords, secrets, keys). */
bool oa_kafka_prop_is_secret(const char *name);

/* The negative errno for a librdkafka error: 0 for NO_ERROR, -ENOBUFS (queue full),
 * -ETIMEDOUT, -EMSGSIZE, -ENOENT (unknown topic or partition), -EACCES (authorization),
 * -ENOTCONN (no broker), -ENOTRECOVERABLE (fatal), -EINVAL, else -EIO. */
int oa_kafka_errno(rd_kafka_resp_err_t err);

/* ---- producer ----------------------------------------------------------------------- */

typedef struct oa_kprod oa_kprod;

/* What became of one message, given to the delivery-report callback. Valid only during
 * the callback. */
typedef struct oa_kprod_report {
        void *msg_opaque;               /* as passed to oa_kprod_produce */
        int err;                        /* 0: acknowledged by the broker; or negative errno */
        rd_kafka_resp_err_t rd_err;     /* librdkafka's code for err */
        const char *errstr;             /* readable reason; "" on success */
        const char *topic;
        int32_t partition;
        int64_t offset;                 /* -1 when not delivered */
        bool possibly_persisted;        /* failed, but it was sent and the broker may have
                                         * written it (no acknowledgement came back) */
} oa_kprod_report;

typedef void oa_kprod_dr_fn(const oa_kprod_report *r, void *cb_opaque);

/* Make an idempotent producer (enable.idempotence=true, acks=all, linger.ms=5; all
 * overridable). dr (may be NULL) is called from oa_kprod_poll/flush/free for every
 * message, with cb_opaque. Returns 0 and *ret_kp, or a negative errno with errbuf. */
int oa_kprod_new(const oa_kafka_cfg *c, oa_kprod_dr_fn *dr, void *cb_opaque,
                 oa_kprod **ret_kp, char *errbuf, size_t errlen);

/* Queue one message (key and value are copied; a NULL value is a tombstone, a NULL key
 * lets the partitioner choose). Never waits: a full local queue is answered -ENOBUFS at
 * once. Returns 0 (the report comes later, carrying msg_opaque), -ENOBUFS, -EMSGSIZE,
 * -ENOENT (unknown topic), -ENOTRECOVERABLE (the producer hit a fatal error and must be
 * replaced) or another negative errno. */
int oa_kprod_produce(oa_kprod *kp, const char *topic, const void *key, size_t key_len,
                     const void *value, size_t value_len, void *msg_opaque);

/* One message of oa_kprod_produce_batch: what oa_kprod_produce takes, and its outcome. */
typedef struct oa_kprod_msg {
        const void *key;
        size_t key_len;
        const void *value;
        size_t value_len;
        void *msg_opaque;
        int err;                        /* out: 0 queued (its report comes later), or what
                                         * oa_kprod_produce would have returned */
} oa_kprod_msg;

/* Queue n messages to one topic, each partitioned by its key as oa_kprod_produce does, in
 * one call into librdkafka (one clock read and one topic lock for all: about a third of
 * the cost per message). Messages are independent: one refused (msgs[i].err < 0, no
 * report) does not stop the others. Returns how many were queued. */
size_t oa_kprod_produce_batch(oa_kprod *kp, const char *topic, oa_kprod_msg *msgs, size_t n);

/* Serve delivery reports and callbacks without blocking. Returns how many were served. */
int oa_kprod_poll(oa_kprod *kp);

/* Wait up to timeout_ms for every queued message to be reported. Returns 0, or
 * -ETIMEDOUT when some are still outstanding. */
int oa_kprod_flush(oa_kprod *kp, int timeout_ms);

/* Messages queued or in flight, plus reports and events not yet served (librdkafka's
 * outq_len); 0 means nothing is left to deliver or report. */
int oa_kprod_outq_len(oa_kprod *kp);

/* 0, or the negative errno of the fatal error that stopped the producer (reason in
 * errbuf). An idempotent producer that lost messages it cannot re-order raises one. */
int oa_kprod_fatal_error(oa_kprod *kp, char *errbuf, size_t errlen);

/* The librdkafka handle, e.g. for the admin functions below; owned by kp. */
rd_kafka_t *oa_kprod_rk(oa_kprod *kp);

/* Flush for close_timeout_ms (reports still arrive), purge what is left (reported with
 * -ECANCELED, so every message gets exactly one report), destroy. NULL-safe; returns
 * NULL. */
oa_kprod *oa_kprod_free(oa_kprod *kp);

/* ---- health probe (kafka_probe.c) ---------------------------------------------------- */

/* librdkafka reconnects by itself and says nothing when a broker is back, so a daemon
 * that reports readiness asks a broker for one topic's metadata now and then, on a
 * handle it already has: every few seconds, every second with a shorter wait while none
 * answers. librdkafka 2.0's asynchronous admin requests are no substitute: while the
 * brokers are down, a request waiting for the controller makes it reconnect in a tight
 * loop. So the blocking question (up to OA_KPROBE_WAIT_MS) is asked on a thread of the
 * probe's own, and the event loop only hands it over and collects the answer: the loop
 * never waits for Kafka. */

#define OA_KPROBE_EVERY_MS 5000         /* while brokers answer */
#define OA_KPROBE_DOWN_EVERY_MS 1000    /* while none does: notice the return soon */
#define OA_KPROBE_WAIT_MS 500
#define OA_KPROBE_DOWN_WAIT_MS 50

typedef struct oa_kprobe oa_kprobe;

/* A probe asking rk (borrowed; must outlive the probe) about topic, with its thread. The
 * first question is asked at the first oa_kprobe_poll at or after now_ms +
 * OA_KPROBE_EVERY_MS. Returns 0, -ENOMEM, or a negative errno from pthread_create. */
int oa_kprobe_new(rd_kafka_t *rk, const char *topic, int64_t now_ms, oa_kprobe **ret);

/* Stop the thread (waiting for a question in flight, at most OA_KPROBE_WAIT_MS) and
 * free. NULL-safe; returns NULL. */
oa_kprobe *oa_kprobe_free(oa_kprobe *p);

/* Never blocks (now_ms: CLOCK_MONOTONIC in ms). Returns 1 when an answer came in since
 * the last call and a broker answered, 0 when none did (the reason in errbuf), -EAGAIN
 * when there is no new answer; when a question is due and none is in flight, hands one
 * to the thread. The next question is due a while after this call collects an answer. */
int oa_kprobe_poll(oa_kprobe *p, int64_t now_ms, char *errbuf, size_t errlen);

/* Count an answer learnt another way (records read, a write acknowledged): the next
 * question waits OA_KPROBE_EVERY_MS. */
void oa_kprobe_answered(oa_kprobe *p, int64_t now_ms);

/* ---- consumer ----------------------------------------------------------------------- */

typedef struct oa_kcons oa_kcons;

/* A view of one consumed message; valid until oa_kmsg_done. */
typedef struct oa_kmsg {
        const char *topic;
        int32_t partition;
        int64_t offset;
        const void *key;                /* NULL when the record has no key */
        size_t key_len;
        const void *value;              /* NULL for a tombstone */
        size_t value_len;
        int64_t timestamp_ms;           /* -1 when unknown */
        rd_kafka_message_t *rkm;        /* the underlying message (headers, ...) */
} oa_kmsg;

/* Release the message behind m. NULL-safe, and safe to call twice. */
void oa_kmsg_done(oa_kmsg *m);

/* Make a group consumer (c->group_id required). Offsets are stored only by
 * oa_kcons_store, after processing: enable.auto.offset.store is always false (setting it
 * through OA_KAFKA_X_ is an error). With c->manual_commit false the stored offsets are
 * committed in the background; either way commits also happen on close and when
 * partitions are revoked. auto.offset.reset is c->auto_offset_reset or "earliest".
 * Returns 0 and *ret_kc, or a negative errno with errbuf. */
int oa_kcons_new(const oa_kafka_cfg *c, oa_kcons **ret_kc, char *errbuf, size_t errlen);

/* Told of a group consumer's rebalances, from inside oa_kcons_poll: assigned true once
 * parts are assigned (the caller may pause or seek them), false when they are revoked,
 * before the wrapper commits the stored offsets (so what the caller stores then is
 * committed) and unassigns them. parts is librdkafka's list, valid during the call. */
typedef void oa_kcons_rebalance_fn(bool assigned, rd_kafka_topic_partition_list_t *parts, void *opaque);

/* Install fn (NULL: none) for kc's rebalances. */
void oa_kcons_on_rebalance(oa_kcons *kc, oa_kcons_rebalance_fn *fn, void *opaque);

/* Subscribe to n topics (the group balances their partitions). Returns 0 or -errno. */
int oa_kcons_subscribe(oa_kcons *kc, const char *const *topics, size_t n, char *errbuf,
                       size_t errlen);

/* Make a reader of a whole topic without a group (for the compacted oa.projects.v1):
 * it assigns every partition at the beginning, remembers each partition's high watermark
 * at this moment, and keeps following the topic after reaching them. It never joins a
 * group or commits (c->group_id and the commit settings are ignored). Waits up to
 * timeout_ms for the topic's metadata and watermarks. Returns 0 and *ret_kc, -ENOENT when
 * the topic does not exist, -ETIMEDOUT, or another negative errno with errbuf. */
int oa_kcons_new_reader(const oa_kafka_cfg *c, const char *topic, int timeout_ms,
                        oa_kcons **ret_kc, char *errbuf, size_t errlen);

/* A reader: true once every record that existed when it was made has been returned by
 * oa_kcons_poll (an empty topic is caught up at once). A group consumer: false. */
bool oa_kcons_caught_up(const oa_kcons *kc);

/* Wait up to timeout_ms for one message. Returns 1 and fills *ret_msg (release it with
 * oa_kmsg_done), 0 when nothing came, -ESHUTDOWN after oa_kcons_close, or a negative
 * errno for a consumer error (reason in errbuf; the consumer stays usable unless it is
 * -ENOTRECOVERABLE). Rebalances and error callbacks are served here too. */
int oa_kcons_poll(oa_kcons *kc, int timeout_ms, oa_kmsg *ret_msg, char *errbuf,
                  size_t errlen);

/* Mark the message at (topic, partition, offset) and everything before it on that
 * partition as processed: the next commit will say offset + 1. Returns 0, -ESTALE when
 * the partition is no longer assigned to this consumer (another one owns it now: carry
 * on), or another negative errno. */
int oa_kcons_store(oa_kcons *kc, const char *topic, int32_t partition, int64_t offset);

/* oa_kcons_store for a message. */
int oa_kcons_store_msg(oa_kcons *kc, const oa_kmsg *m);

/* Commit the stored offsets now and wait for the answer. Returns 0 (also when nothing
 * was stored since the last commit) or a negative errno with errbuf. */
int oa_kcons_commit(oa_kcons *kc, char *errbuf, size_t errlen);

/* Commit what is stored and leave the group (a reader just stops). Returns 0 or the
 * first error; the consumer can only be freed afterwards. */
int oa_kcons_close(oa_kcons *kc, char *errbuf, size_t errlen);

/* The librdkafka handle; owned by kc. */
rd_kafka_t *oa_kcons_rk(oa_kcons *kc);

/* Close (if not yet closed) and destroy. Returns NULL. */
oa_kcons *oa_kcons_free(oa_kcons *kc);

/* ---- topics and administration ------------------------------------------------------ */

/* What a topic should look like. */
typedef struct oa_kafka_topic_spec {
        const char *name;
        int partitions;
        const char *const *configs;     /* "name", "value", ..., NULL pairs, or NULL */
        const char *purpose;            /* one line, for listings */
} oa_kafka_topic_spec;

/* The topics OpenAnalytics uses, in one table. Returns it and sets *ret_n. */
const oa_kafka_topic_spec *oa_kafka_catalogue(size_t *ret_n);

/* The catalogue entry called name, or NULL. */
const oa_kafka_topic_spec *oa_kafka_catalogue_find(const char *name);

typedef enum oa_kafka_topic_state {
        OA_KAFKA_TOPIC_FAILED = 0,      /* could not be created: see detail */
        OA_KAFKA_TOPIC_CREATED,         /* created by this call */
        OA_KAFKA_TOPIC_EXISTS,          /* was there and matches the spec */
        OA_KAFKA_TOPIC_MISMATCH,        /* was there, but differs: see detail */
} oa_kafka_topic_state;

typedef struct oa_kafka_topic_status {
        const char *name;               /* the spec's name (borrowed) */
        oa_kafka_topic_state state;
        int partitions;                 /* as found on the broker; -1 if unknown */
        char detail[256];               /* why FAILED / MISMATCH; a note otherwise */
} oa_kafka_topic_status;

/* Make a client for administration (a producer handle without idempotence); the caller
 * destroys it with rd_kafka_destroy. Returns 0 or a negative errno with errbuf. */
int oa_kafka_admin_new(const oa_kafka_cfg *c, rd_kafka_t **ret_rk, char *errbuf,
                       size_t errlen);

/* Fetch the metadata of every topic, waiting up to timeout_ms for a broker. Returns 0 and
 * *ret_md (free with rd_kafka_metadata_destroy), -ETIMEDOUT when no broker answered in
 * time, or another negative errno, with errbuf. */
int oa_kafka_metadata(rd_kafka_t *rk, int timeout_ms, const rd_kafka_metadata_t **ret_md,
                      char *errbuf, size_t errlen);

/* Make sure the n topics exist: create the missing ones (replication_factor copies, -1
 * for the broker's default) and compare the existing ones with their spec (partition
 * count and every config the spec names). status[i] (caller's array of n) describes
 * specs[i]. Waits up to timeout_ms overall, including until created topics are visible.
 * Returns 0 when all exist (MISMATCH included: the caller decides), -ETIMEDOUT when no
 * broker answered, or the negative errno of the first topic that could not be created,
 * with errbuf. */
int oa_kafka_ensure_topics(rd_kafka_t *rk, const oa_kafka_topic_spec *specs, size_t n,
                           int replication_factor, int timeout_ms,
                           oa_kafka_topic_status *status, char *errbuf, size_t errlen);

#endif
