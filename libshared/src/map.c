/* Open-addressing hash map with backward-shift deletion (no tombstones), so lookups stay
 * short however many entries come and go. FNV-1a over the key bytes. */
#include "oa/map.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
        char *key;              /* NULL: empty */
        size_t klen;
        uint64_t hash;
        void *value;
} slot;

struct oa_map {
        slot *slots;
        size_t cap;             /* power of two */
        size_t size;
};

static uint64_t hash_bytes(const void *p, size_t n) {
        const unsigned char *s = p;
        uint64_t h = 1469598103934665603ULL;

        for (size_t i = 0; i < n; i++) {
                h ^= s[i];
                h *= 1099511628211ULL;
        }
        /* Final mix so the low bits, which pick the slot, depend on every byte. */
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        return h;
}

oa_map *oa_map_new(void) {
        oa_map *m = calloc(1, sizeof(*m));

        if (!m)
                return NULL;
        m->cap = 16;
        m->slots = calloc(m->cap, sizeof(slot));
        if (!m->slots) {
                free(m);
                return NULL;
        }
        return m;
}

oa_map *oa_map_free(oa_map *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->cap; i++)
                free(m->slots[i].key);
        free(m->slots);
        free(m);
        return NULL;
}

static size_t find(const oa_map *m, const void *key, size_t klen, uint64_t h) {
        size_t mask = m->cap - 1, i = h & mask;

        while (m->slots[i].key) {
                if (m->slots[i].hash == h && m->slots[i].klen == klen && memcmp(m->slots[i].key, key, klen) == 0)
                        return i;
                i = (i + 1) & mask;
        }
        return i;       /* the empty slot where it would go */
}

static int grow(oa_map *m) {
        size_t ncap = m->cap * 2;
        slot *ns = calloc(ncap, sizeof(slot)), *old = m->slots;

        if (!ns)
                return -ENOMEM;
        for (size_t i = 0; i < m->cap; i++) {
                size_t j;

                if (!old[i].key)
                        continue;
                j = old[i].hash & (ncap - 1);
                while (ns[j].key)
                        j = (j + 1) & (ncap - 1);
                ns[j] = old[i];
        }
        m->slots = ns;
        m->cap = ncap;
        free(old);
        return 0;
}

int oa_map_put(oa_map *m, const void *key, size_t klen, void *value, void **ret_old) {
        uint64_t h = hash_bytes(key, klen);
        size_t i;
        char *k;

        i = find(m, key, klen, h);
        if (m->slots[i].key) {
                if (ret_old)
                        *ret_old = m->slots[i].value;
                m->slots[i].value = value;
                return 0;
        }
        /* Keep the load factor under 3/4. */
        if ((m->size + 1) * 4 > m->cap * 3) {
                if (grow(m) < 0)
                        return -ENOMEM;
                i = find(m, key, klen, h);
        }
        k = malloc(klen + 1);
        if (!k)
                return -ENOMEM;
        memcpy(k, key, klen);
        k[klen] = '\0';
        m->slots[i] = (slot) { .key = k, .klen = klen, .hash = h, .value = value };
        m->size++;
        if (ret_old)
                *ret_old = NULL;
        return 0;
}

void *oa_map_get(const oa_map *m, const void *key, size_t klen) {
        size_t i = find(m, key, klen, hash_bytes(key, klen));

        return m->slots[i].key ? m->slots[i].value : NULL;
}

void *oa_map_del(oa_map *m, const void *key, size_t klen) {
        size_t mask = m->cap - 1, i = find(m, key, klen, hash_bytes(key, klen)), j;
        void *value;

        if (!m->slots[i].key)
                return NULL;
        value = m->slots[i].value;
        free(m->slots[i].key);
        m->slots[i].key = NULL;
        m->size--;
        /* Backward-shift: move later members of the probe run into the hole when their
         * home slot is at or before it, so no lookup ever stops early. */
        j = i;
        for (;;) {
                size_t home;

                j = (j + 1) & mask;
                if (!m->slots[j].key)
                        break;
                home = m->slots[j].hash & mask;
                if (((j - home) & mask) >= ((j - i) & mask)) {
                        m->slots[i] = m->slots[j];
                        m->slots[j].key = NULL;
                        i = j;
                }
        }
        return value;
}

size_t oa_map_size(const oa_map *m) {
        return m->size;
}

int oa_map_foreach(const oa_map *m, int (*fn)(const void *key, size_t klen, void *value, void *ud), void *ud) {
        for (size_t i = 0; i < m->cap; i++)
                if (m->slots[i].key) {
                        int r = fn(m->slots[i].key, m->slots[i].klen, m->slots[i].value, ud);
                        if (r)
                                return r;
                }
        return 0;
}
