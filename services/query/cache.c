/* The read cache: answers of stats reads kept in process for a few seconds, keyed by the
 * SQL that produced them (which names the project and nothing of the key or account that
 * asked), so a dashboard polled by many viewers costs one ClickHouse query per TTL per
 * replica. Single-threaded, like the loop that uses it. */
#include "query.h"

#include "oa/map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
        int64_t at_ms;
        size_t len;
        char data[];
} entry;

struct oa_query_cache {
        oa_map *map;
        long long ttl_ms;
        size_t max;
};

int oa_query_cache_new(long long ttl_ms, size_t max, oa_query_cache **ret) {
        oa_query_cache *c = calloc(1, sizeof(*c));

        if (!c || !(c->map = oa_map_new())) {
                free(c);
                return -ENOMEM;
        }
        c->ttl_ms = ttl_ms;
        c->max = max;
        *ret = c;
        return 0;
}

static int free_entry(const void *key, size_t klen, void *value, void *ud) {
        (void) key;
        (void) klen;
        (void) ud;
        free(value);
        return 0;
}

oa_query_cache *oa_query_cache_free(oa_query_cache *c) {
        if (!c)
                return NULL;
        oa_map_foreach(c->map, free_entry, NULL);
        oa_map_free(c->map);
        free(c);
        return NULL;
}

const char *oa_query_cache_get(oa_query_cache *c, const char *key, size_t klen, int64_t now_ms,
                               size_t *ret_len) {
        entry *e = c->ttl_ms > 0 ? oa_map_get(c->map, key, klen) : NULL;

        if (!e || now_ms - e->at_ms >= c->ttl_ms)
                return NULL;
        *ret_len = e->len;
        return e->data;
}

/* The walk that makes room: the first expired entry found, else the oldest. */
typedef struct victim {
        const oa_query_cache *c;
        int64_t now_ms;
        const void *key;
        size_t klen;
        int64_t at_ms;
} victim;

static int pick(const void *key, size_t klen, void *value, void *ud) {
        victim *v = ud;
        const entry *e = value;

        if (!v->key || e->at_ms < v->at_ms) {
                v->key = key;
                v->klen = klen;
                v->at_ms = e->at_ms;
        }
        return v->now_ms - e->at_ms >= v->c->ttl_ms;    /* expired: take it, stop */
}

int oa_query_cache_put(oa_query_cache *c, const char *key, size_t klen, const char *val,
                       size_t vlen, int64_t now_ms) {
        entry *e, *old = NULL;
        int r;

        if (c->ttl_ms <= 0)
                return 0;
        free(oa_map_del(c->map, key, klen));
        while (oa_map_size(c->map) >= c->max) {
                victim v = { .c = c, .now_ms = now_ms };

                oa_map_foreach(c->map, pick, &v);
                free(oa_map_del(c->map, v.key, v.klen));
        }
        e = malloc(sizeof(*e) + vlen);
        if (!e)
                return -ENOMEM;
        e->at_ms = now_ms;
        e->len = vlen;
        memcpy(e->data, val, vlen);
        r = oa_map_put(c->map, key, klen, e, (void **) &old);
        if (r < 0)
                free(e);
        free(old);
        return r;
}
