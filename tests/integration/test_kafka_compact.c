/* Integration tests of the whole-topic reader (oa_kcons_new_reader) on a compacted topic,
 * as every daemon uses it for oa.projects.v1: read from the beginning to the end offsets,
 * materialise the newest value per key (a tombstone deletes), and get the same map after
 * a restart; then follow new records. A second test waits for the broker's log cleaner to
 * really compact, and checks that the reader still reaches "caught up" over the gaps. */
#include "test_kafka_it.h"

#include <errno.h>

TestSuite(kafka_compact_integration, .init = it_logs, .timeout = 180);

/* ---- a tiny materialised map: key -> newest value ---- */

#define MAP_MAX 64

typedef struct kv_map {
        int n;
        char key[MAP_MAX][32];
        char value[MAP_MAX][32];
} kv_map;

static int map_find(const kv_map *m, const char *key) {
        for (int i = 0; i < m->n; i++)
                if (strcmp(m->key[i], key) == 0)
                        return i;
        return -1;
}

static const char *map_get(const kv_map *m, const char *key) {
        int i = map_find(m, key);

        return i < 0 ? NULL : m->value[i];
}

/* Apply one record: a value replaces, a tombstone (NULL value) removes. */
static void map_apply(kv_map *m, const oa_kmsg *msg) {
        char key[32] = "";
        int i;

        cr_assert_lt(msg->key_len, sizeof(key));
        memcpy(key, msg->key, msg->key_len);
        i = map_find(m, key);
        if (!msg->value) {
                if (i >= 0) {
                        m->n--;
                        memcpy(m->key[i], m->key[m->n], sizeof(m->key[i]));
                        memcpy(m->value[i], m->value[m->n], sizeof(m->value[i]));
                }
                return;
        }
        if (i < 0) {
                cr_assert_lt(m->n, MAP_MAX);
                i = m->n++;
                snprintf(m->key[i], sizeof(m->key[i]), "%s", key);
        }
        cr_assert_lt(msg->value_len, sizeof(m->value[i]));
        memcpy(m->value[i], msg->value, msg->value_len);
        m->value[i][msg->value_len] = '\0';
}

/* Read until caught up; returns how many records were read. */
static int materialise(oa_kcons *kc, kv_map *m) {
        int64_t end = mono_ms() + 30000;
        char err[512];
        int n = 0;

        while (!oa_kcons_caught_up(kc) && mono_ms() < end) {
                oa_kmsg msg;
                int r = oa_kcons_poll(kc, 100, &msg, err, sizeof(err));

                cr_assert_geq(r, 0, "reader error %d: %s", r, err);
                if (r == 1) {
                        map_apply(m, &msg);
                        oa_kmsg_done(&msg);
                        n++;
                }
        }
        cr_assert(oa_kcons_caught_up(kc), "never caught up (read %d records)", n);
        return n;
}

static oa_kcons *reader(const char *topic) {
        oa_kafka_cfg c = { .brokers = brokers(), .client_id = "it-reader", .envp = no_env };
        oa_kcons *kc = NULL;
        char err[512];

        cr_assert_eq(oa_kcons_new_reader(&c, topic, 30000, &kc, err, sizeof(err)), 0, "%s", err);
        return kc;
}

/* Produce "key=value" pairs ("key=" without a value: a tombstone) and wait for them. */
static void produce_kv(const char *topic, const char *const *pairs) {
        oa_kafka_cfg c = { .brokers = brokers(), .client_id = "it-producer", .envp = no_env };
        oa_kprod *kp = NULL;
        char err[512];

        cr_assert_eq(oa_kprod_new(&c, NULL, NULL, &kp, err, sizeof(err)), 0, "%s", err);
        for (size_t i = 0; pairs[i]; i++) {
                const char *eq = strchr(pairs[i], '=');

                cr_assert_not_null(eq);
                cr_assert_eq(oa_kprod_produce(kp, topic, pairs[i], (size_t) (eq - pairs[i]),
                                              eq[1] ? eq + 1 : NULL, strlen(eq + 1), NULL), 0);
        }
        cr_assert_eq(oa_kprod_flush(kp, 30000), 0);
        oa_kprod_free(kp);
}

static void compacted_topic(char *topic, size_t len, const char *prefix, const char *segment_ms) {
        const char *configs[] = {
                "cleanup.policy", "compact",
                "min.cleanable.dirty.ratio", "0.01",
                "min.compaction.lag.ms", "0",
                "segment.ms", segment_ms,
                NULL,
        };
        oa_kafka_topic_spec spec = { topic, 1, configs, "it compacted" };

        unique_name(topic, len, prefix);
        create_topics(&spec, 1);
}

Test(kafka_compact_integration, newest_value_per_key_survives_a_reader_restart) {
        static const char *const first[] = { "k1=v1", "k2=v1", "k1=v2", "k3=x", "k3=", NULL };
        static const char *const later[] = { "k2=v2", NULL };
        char topic[128], err[512];
        kv_map m1 = { 0 }, m2 = { 0 };
        oa_kcons *kc;

        compacted_topic(topic, sizeof(topic), "it.projects", "600000");
        produce_kv(topic, first);

        kc = reader(topic);
        cr_assert_not(oa_kcons_caught_up(kc), "five records are waiting");
        cr_assert_eq(materialise(kc, &m1), 5);
        cr_assert_eq(m1.n, 2);
        cr_assert_str_eq(map_get(&m1, "k1"), "v2");
        cr_assert_str_eq(map_get(&m1, "k2"), "v1");
        cr_assert_null(map_get(&m1, "k3"), "the tombstone deleted k3");
        cr_assert_eq(oa_kcons_close(kc, err, sizeof(err)), 0, "%s", err);
        kc = oa_kcons_free(kc);

        /* a restart: a new reader from the beginning builds the same map */
        kc = reader(topic);
        materialise(kc, &m2);
        cr_assert_eq(m2.n, 2);
        cr_assert_str_eq(map_get(&m2, "k1"), "v2");
        cr_assert_str_eq(map_get(&m2, "k2"), "v1");
        cr_assert_null(map_get(&m2, "k3"));

        /* and it follows what comes after */
        produce_kv(topic, later);
        for (int64_t end = mono_ms() + 30000; strcmp(map_get(&m2, "k2"), "v2") != 0 && mono_ms() < end;) {
                oa_kmsg msg;

                if (oa_kcons_poll(kc, 100, &msg, err, sizeof(err)) == 1) {
                        map_apply(&m2, &msg);
                        oa_kmsg_done(&msg);
                }
        }
        cr_assert_str_eq(map_get(&m2, "k2"), "v2");
        oa_kcons_free(kc);
}

Test(kafka_compact_integration, reader_catches_up_over_compacted_gaps) {
        static const char *const batch[] = { "a=1", "b=1", "a=2", "b=2", "a=3", "c=1", NULL };
        static const char *const roll[] = { "d=1", NULL };
        char topic[128];
        int64_t end;
        int n = 6 + 1;
        kv_map m = { 0 };
        oa_kcons *kc;

        /* Short segments: the next record after 1 s rolls the segment, and the cleaner
         * compacts the closed one (it looks every log.cleaner.backoff.ms, 15 s by default). */
        compacted_topic(topic, sizeof(topic), "it.compaction", "1000");
        produce_kv(topic, batch);
        usleep(1500 * 1000);
        produce_kv(topic, roll);

        for (end = mono_ms() + 120000; n == 7 && mono_ms() < end; usleep(2000 * 1000)) {
                kc = reader(topic);
                memset(&m, 0, sizeof(m));
                n = materialise(kc, &m);
                oa_kcons_free(kc);
        }
        cr_assert_lt(n, 7, "the broker did not compact within 120 s");
        cr_assert_eq(m.n, 4);
        cr_assert_str_eq(map_get(&m, "a"), "3");
        cr_assert_str_eq(map_get(&m, "b"), "2");
        cr_assert_str_eq(map_get(&m, "c"), "1");
        cr_assert_str_eq(map_get(&m, "d"), "1");
}
