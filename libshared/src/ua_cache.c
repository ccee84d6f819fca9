/*
 * The result cache of oa_ua_: a fixed number of entries, replaced by CLOCK (a hit sets
 * the entry's reference bit; the hand clears bits until it finds an entry without one),
 * found through an open-addressing index (linear probing, backward-shift deletion) of
 * twice the capacity or more.
 *
 * Keys are User-Agents, i.e. chosen by whoever sends requests, so the hash is keyed:
 * SipHash-1-3 with a random key drawn at creation, so nobody can aim many User-Agents at
 * one index slot. A hit costs the hash, a probe or two, a memcmp and a copy of
 * oa_ua_result; keys are at most OA_UA_MAX_INPUT bytes (ua.c truncates).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ua_internal.h"

typedef struct cache_entry {
        uint64_t hash;
        char *key;              /* NULL: the entry is free */
        uint32_t keylen;
        uint32_t keycap;
        bool ref;
        oa_ua_result res;
} cache_entry;

struct ua_cache {
        cache_entry *e;
        size_t cap;
        size_t used;
        size_t hand;
        uint32_t *index;        /* entry number + 1; 0 is an empty slot */
        size_t mask;
        uint64_t k0, k1;
};

/* ---- SipHash-1-3 (Aumasson and Bernstein), 64-bit output ------------------------------ */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                        \
        do {                                                            \
                v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
                v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                  \
                v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                  \
                v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
        } while (0)

static uint64_t load64(const unsigned char *p) {
        uint64_t v;

        memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
#endif
        return v;
}

static uint64_t siphash13(uint64_t k0, uint64_t k1, const void *data, size_t len) {
        const unsigned char *p = data, *end = p + (len & ~(size_t)7);
        uint64_t v0 = k0 ^ UINT64_C(0x736f6d6570736575), v1 = k1 ^ UINT64_C(0x646f72616e646f6d);
        uint64_t v2 = k0 ^ UINT64_C(0x6c7967656e657261), v3 = k1 ^ UINT64_C(0x7465646279746573);
        uint64_t b = (uint64_t)len << 56, m;

        for (; p != end; p += 8) {
                m = load64(p);
                v3 ^= m;
                SIPROUND;
                v0 ^= m;
        }
        switch (len & 7) {
        case 7: b |= (uint64_t)p[6] << 48; /* fall through */
        case 6: b |= (uint64_t)p[5] << 40; /* fall through */
        case 5: b |= (uint64_t)p[4] << 32; /* fall through */
        case 4: b |= (uint64_t)p[3] << 24; /* fall through */
        case 3: b |= (uint64_t)p[2] << 16; /* fall through */
        case 2: b |= (uint64_t)p[1] << 8;  /* fall through */
        case 1: b |= (uint64_t)p[0];       /* fall through */
        case 0: break;
        }
        v3 ^= b;
        SIPROUND;
        v0 ^= b;
        v2 ^= 0xff;
        SIPROUND;
        SIPROUND;
        SIPROUND;
        return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- the cache ------------------------------------------------------------------------ */

int ua_cache_new(size_t capacity, ua_cache **ret) {
        ua_cache *c = NULL;
        size_t slots = 16;
        uint64_t key[2];
        int r;

        if (capacity == 0 || capacity > OA_UA_MAX_CACHE)
                return -EINVAL;
        while (slots < 2 * capacity)
                slots *= 2;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->e = calloc(capacity, sizeof(*c->e));
        c->index = calloc(slots, sizeof(*c->index));
        if (!c->e || !c->index) {
                r = -ENOMEM;
                goto out;
        }
        c->cap = capacity;
        c->mask = slots - 1;
        if (getrandom(key, sizeof(key), GRND_NONBLOCK) != (ssize_t)sizeof(key)) {
                /* no entropy yet (early boot): weaker, but the cache still works */
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                key[0] = (uint64_t)ts.tv_nsec * UINT64_C(0x9E3779B97F4A7C15) ^ (uint64_t)(uintptr_t)c;
                key[1] = (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&ts;
        }
        c->k0 = key[0];
        c->k1 = key[1];
        *ret = c;
        c = NULL;
        r = 0;
out:
        ua_cache_free(c);
        return r;
}

ua_cache *ua_cache_free(ua_cache *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->cap; i++)
                free(c->e[i].key);
        free(c->e);
        free(c->index);
        free(c);
        return NULL;
}

size_t ua_cache_size(const ua_cache *c) {
        return c->used;
}

size_t ua_cache_capacity(const ua_cache *c) {
        return c->cap;
}

bool ua_cache_get(ua_cache *c, const char *key, size_t len, oa_ua_result *ret) {
        uint64_t h = siphash13(c->k0, c->k1, key, len);

        for (size_t i = h & c->mask;; i = (i + 1) & c->mask) {
                uint32_t v = c->index[i];
                cache_entry *e;

                if (v == 0)
                        return false;
                e = &c->e[v - 1];
                if (e->hash == h && e->keylen == len && memcmp(e->key, key, len) == 0) {
                        e->ref = true;
                        *ret = e->res;
                        return true;
                }
        }
}

/* Removes entry number n from the index, keeping every probe chain unbroken. */
static void index_remove(ua_cache *c, uint32_t n) {
        size_t i = c->e[n].hash & c->mask, j;

        while (c->index[i] != n + 1)
                i = (i + 1) & c->mask;
        j = i;
        for (;;) {
                size_t home;

                j = (j + 1) & c->mask;
                if (c->index[j] == 0)
                        break;
                home = c->e[c->index[j] - 1].hash & c->mask;
                /* move j back into the hole at i unless its home lies in (i, j] */
                if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
                        c->index[i] = c->index[j];
                        i = j;
                }
        }
        c->index[i] = 0;
}

int ua_cache_put(ua_cache *c, const char *key, size_t len, const oa_ua_result *res) {
        uint64_t h = siphash13(c->k0, c->k1, key, len);
        bool evict = c->used == c->cap;
        char *k = NULL;
        cache_entry *e;
        size_t n, i;

        if (!evict) {
                n = c->used;
        } else {
                /* CLOCK: a recently hit entry gets another round */
                while (c->e[c->hand].ref) {
                        c->e[c->hand].ref = false;
                        c->hand = (c->hand + 1) % c->cap;
                }
                n = c->hand;
        }
        e = &c->e[n];
        /* reuse the victim's key buffer unless it is too small or far too large */
        if (!e->key || e->keycap < len || e->keycap > 4 * len + 64) {
                k = malloc(len ? len : 1);
                if (!k)
                        return -ENOMEM;         /* nothing evicted */
        }
        if (evict) {
                index_remove(c, (uint32_t)n);
                c->hand = (n + 1) % c->cap;
        } else {
                c->used++;
        }
        if (k) {
                free(e->key);
                e->key = k;
                e->keycap = (uint32_t)(len ? len : 1);
        }
        memcpy(e->key, key, len);
        e->keylen = (uint32_t)len;
        e->hash = h;
        e->ref = false;
        e->res = *res;
        for (i = h & c->mask; c->index[i]; i = (i + 1) & c->mask)
                ;
        c->index[i] = (uint32_t)n + 1;
        return evict ? 1 : 0;
}
