/* What oa-privacy says to ClickHouse, Redis and Kafka. Every literal goes through
 * oa_ch_quote; table names come from the caller's fixed list. */
#include "privacy.h"

#include "oa/rt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Remove from the realtime list KEYS[1] (oa/rt.h: JSON objects with a visitor_id) every
 * entry of visitor ARGV[1]; with ARGV[2] = "1" only count them. Returns {how many, 0}. */
static const char forget_lua[] =
        "local items = redis.call('LRANGE', KEYS[1], 0, -1)\n"
        "local n = 0\n"
        "for _, e in ipairs(items) do\n"
        "  local ok, d = pcall(cjson.decode, e)\n"
        "  if ok and type(d) == 'table' and d['visitor_id'] == ARGV[1] then\n"
        "    if ARGV[2] == '1' then n = n + 1\n"
        "    else n = n + redis.call('LREM', KEYS[1], 0, e) end\n"
        "  end\n"
        "end\n"
        "return {n, 0}\n";

/* WHERE project_id = '...' AND (visitor_id = '...' OR user_id = '...') */
static int add_where(oa_buf *b, const Oa__DeletionRequest *r) {
        int e = oa_buf_adds(b, " WHERE project_id = ");

        if (e == 0)
                e = oa_ch_quote(b, r->project_id, strlen(r->project_id));
        if (e == 0)
                e = oa_buf_adds(b, " AND (visitor_id = ");
        if (e == 0)
                e = oa_ch_quote(b, r->visitor_id, strlen(r->visitor_id));
        if (e == 0)
                e = oa_buf_adds(b, " OR user_id = ");
        if (e == 0)
                e = oa_ch_quote(b, r->user_id, strlen(r->user_id));
        if (e == 0)
                e = oa_buf_addc(b, ')');
        return e;
}

static bool table_ok(const char *t) {
        return strcmp(t, "oa.events") == 0 || strcmp(t, "oa.sessions") == 0;
}

/* Run sql expecting one unsigned integer back (FORMAT TabSeparated). */
static int query_u64(oa_privacy *p, const char *sql, uint64_t *ret, char *errbuf, size_t errlen) {
        oa_buf out;
        oa_ch_req rq = { .sql = sql, .out = &out };
        char *end;
        int r;

        oa_buf_init(&out, 4096);
        r = oa_ch_request(p->ch, &rq, errbuf, errlen);
        if (r == 0) {
                errno = 0;
                *ret = out.data ? strtoull(out.data, &end, 10) : 0;
                if (!out.data || errno || end == out.data || (*end != '\n' && *end != '\0')) {
                        snprintf(errbuf, errlen, "unexpected answer to a count");
                        r = -EPROTO;
                }
        }
        oa_buf_done(&out);
        return r;
}

int oa_privacy_count(oa_privacy *p, const char *table, const Oa__DeletionRequest *r,
                     uint64_t *ret, char *errbuf, size_t errlen) {
        oa_buf sql;
        int e;

        if (!table_ok(table))
                return -EINVAL;
        oa_buf_init(&sql, 1 << 16);
        e = oa_buf_addf(&sql, "SELECT count() FROM %s", table);
        if (e == 0)
                e = add_where(&sql, r);
        if (e == 0)
                e = oa_buf_adds(&sql, " FORMAT TabSeparated");
        if (e == 0)
                e = query_u64(p, sql.data, ret, errbuf, errlen);
        oa_buf_done(&sql);
        return e;
}

int oa_privacy_delete(oa_privacy *p, const char *table, const Oa__DeletionRequest *r,
                      char *errbuf, size_t errlen) {
        oa_buf sql;
        int e;

        if (!table_ok(table))
                return -EINVAL;
        oa_buf_init(&sql, 1 << 16);
        e = oa_buf_addf(&sql, "ALTER TABLE %s DELETE", table);
        if (e == 0)
                e = add_where(&sql, r);
        if (e == 0)
                e = oa_ch_exec(p->ch, sql.data, errbuf, errlen);
        oa_buf_done(&sql);
        return e;
}

int oa_privacy_pending_mutations(oa_privacy *p, uint64_t *ret, char *errbuf, size_t errlen) {
        return query_u64(p,
                         "SELECT count() FROM system.mutations WHERE database = 'oa' AND "
                         "table IN ('events', 'sessions') AND is_done = 0 FORMAT TabSeparated",
                         ret, errbuf, errlen);
}

int oa_privacy_status_read(oa_privacy *p, const char *project_id, const char *request_id,
                           oa_dsar_status *st, bool *found, char *errbuf, size_t errlen) {
        oa_buf sql, out;
        int e;

        oa_buf_init(&sql, 1 << 16);
        oa_buf_init(&out, 1 << 16);
        e = oa_dsar_status_select(&sql, project_id, request_id);
        if (e == 0) {
                oa_ch_req rq = { .sql = sql.data, .out = &out, .json = true };

                e = oa_ch_request(p->ch, &rq, errbuf, errlen);
        }
        if (e == 0) {
                e = oa_dsar_status_parse(out.data ? out.data : "", out.len, st);
                if (e < 0)
                        snprintf(errbuf, errlen, "unexpected answer reading a status");
                *found = e == 1;
                e = e < 0 ? e : 0;
        }
        oa_buf_done(&sql);
        oa_buf_done(&out);
        return e;
}

int oa_privacy_status_write(oa_privacy *p, const oa_dsar_status *st, char *errbuf, size_t errlen) {
        oa_buf row;
        int e;

        oa_buf_init(&row, 1 << 16);
        e = oa_dsar_status_row(&row, st);
        if (e == 0)
                e = oa_ch_insert(p->ch, OA_DSAR_TABLE, "JSONEachRow", row.data, row.len, errbuf,
                                 errlen);
        oa_buf_done(&row);
        return e;
}

int oa_privacy_forget_recent(oa_privacy *p, const Oa__DeletionRequest *r, uint64_t *ret_removed,
                             char *errbuf, size_t errlen) {
        char key[OA_RT_KEY_MAX];
        const char *keys[1] = { key };
        const char *args[2] = { r->visitor_id, "0" };
        long long n[2];
        int e;

        if (oa_rt_recent_key(key, sizeof(key), r->project_id) < 0)
                return -EINVAL;
        e = oa_rds_eval_lln(p->rds, forget_lua, 1, keys, 2, args, n, 2);
        if (e < 0) {
                snprintf(errbuf, errlen, "redis: %s", oa_rds_errstr(p->rds));
                return e;
        }
        *ret_removed = (uint64_t) n[0];
        return 0;
}

/* ---- oa-sink's progress ---- */

int oa_privacy_sink_marks(oa_privacy *p, rd_kafka_topic_partition_list_t **ret,
                          char *errbuf, size_t errlen) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *t = rd_kafka_topic_new(p->sink_rk, OA_TOPIC_EVENTS, NULL);
        rd_kafka_topic_partition_list_t *l = NULL;
        rd_kafka_resp_err_t err;

        if (!t)
                return -ENOMEM;
        err = rd_kafka_metadata(p->sink_rk, 0, t, &md, 5000);
        rd_kafka_topic_destroy(t);
        if (err || md->topic_cnt != 1 || md->topics[0].err) {
                snprintf(errbuf, errlen, "metadata of %s: %s", OA_TOPIC_EVENTS,
                         rd_kafka_err2str(err ? err : md->topics[0].err));
                if (md)
                        rd_kafka_metadata_destroy(md);
                return -EIO;
        }
        l = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
        for (int i = 0; i < md->topics[0].partition_cnt; i++) {
                int32_t part = md->topics[0].partitions[i].id;
                int64_t lo, hi;

                err = rd_kafka_query_watermark_offsets(p->sink_rk, OA_TOPIC_EVENTS, part, &lo,
                                                       &hi, 5000);
                if (err) {
                        snprintf(errbuf, errlen, "end offsets of %s: %s", OA_TOPIC_EVENTS,
                                 rd_kafka_err2str(err));
                        rd_kafka_topic_partition_list_destroy(l);
                        rd_kafka_metadata_destroy(md);
                        return -EIO;
                }
                rd_kafka_topic_partition_list_add(l, OA_TOPIC_EVENTS, part)->offset = hi;
        }
        rd_kafka_metadata_destroy(md);
        *ret = l;
        return 0;
}

int oa_privacy_sink_caught_up(oa_privacy *p, const rd_kafka_topic_partition_list_t *marks,
                              bool *ret, char *errbuf, size_t errlen) {
        rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_copy(marks);
        rd_kafka_resp_err_t err = rd_kafka_committed(p->sink_rk, c, 5000);

        *ret = true;
        if (err) {
                snprintf(errbuf, errlen, "oa-sink's committed offsets: %s", rd_kafka_err2str(err));
                rd_kafka_topic_partition_list_destroy(c);
                return -EIO;
        }
        for (int i = 0; i < c->cnt; i++) {
                int64_t end = marks->elems[i].offset;

                /* nothing was ever on the partition: nothing to wait for */
                if (end <= 0)
                        continue;
                if (c->elems[i].err || c->elems[i].offset < end)
                        *ret = false;
        }
        rd_kafka_topic_partition_list_destroy(c);
        return 0;
}

int oa_privacy_dead_letter(oa_privacy *p, const oa_kmsg *m, const char *reason,
                           const char *detail) {
        Oa__DeadLetter dl = OA__DEAD_LETTER__INIT;
        uint8_t *buf;
        size_t len;
        int r;

        dl.version = 1;
        dl.consumer = "oa-privacy";
        dl.reason = (char *) reason;
        dl.detail = (char *) detail;
        dl.topic = (char *) m->topic;
        dl.partition = m->partition;
        dl.offset = m->offset;
        dl.key.data = (uint8_t *) m->key;
        dl.key.len = m->key ? m->key_len : 0;
        dl.value.data = (uint8_t *) m->value;
        dl.value.len = m->value ? m->value_len : 0;
        dl.failed_ms = oa_entity_now_ms();
        len = oa__dead_letter__get_packed_size(&dl);
        if (!(buf = malloc(len ? len : 1)))
                return -ENOMEM;
        oa__dead_letter__pack(&dl, buf);
        r = oa_kprod_produce(p->kprod, OA_TOPIC_DEADLETTER, m->key, m->key ? m->key_len : 0, buf,
                             len, NULL);
        free(buf);
        return r;
}
