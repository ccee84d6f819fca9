/* The event ids a partition wrote recently, so an event sent twice (a client's retry
 * that got a new Kafka offset) is written once: a ring of 64-bit hashes in arrival order
 * and an open-addressing table over it (linear probing, deletion by back-shifting). The
 * window is bounded: an id seen again after cap newer ids is no longer caught here (the
 * ReplacingMergeTree still collapses it at merge). */
#include "sink.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int oa_sink_ids_init(oa_sink_ids *s, size_t cap) {
        size_t slots = 16;

        memset(s, 0, sizeof(*s));
        if (cap == 0)
                return 0;
        while (slots < cap * 2)
                slots <<= 1;
        s->ring = calloc(cap, sizeof(*s->ring));
        s->slots = calloc(slots, sizeof(*s->slots));
        if (!s->ring || !s->slots) {
                oa_sink_ids_done(s);
                return -ENOMEM;
        }
        s->cap = cap;
        s->mask = slots - 1;
        return 0;
}

void oa_sink_ids_done(oa_sink_ids *s) {
        free(s->ring);
        free(s->slots);
        memset(s, 0, sizeof(*s));
}

uint64_t oa_sink_ids_hash(const char *id, size_t n) {
        uint64_t h = 0xcbf29ce484222325ULL;

        for (size_t i = 0; i < n; i++)
                h = (h ^ (uint8_t) id[i]) * 0x100000001b3ULL;
        h ^= h >> 29;
        h *= 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 32;
        return h ? h : 1;
}

static size_t find(const oa_sink_ids *s, uint64_t h) {
        size_t i = (size_t) h & s->mask;

        while (s->slots[i] && s->slots[i] != h)
                i = (i + 1) & s->mask;
        return i;
}

bool oa_sink_ids_has(const oa_sink_ids *s, uint64_t h) {
        return s->cap && s->slots[find(s, h)] == h;
}

static void del(oa_sink_ids *s, uint64_t h) {
        size_t i = find(s, h), j = i;

        if (s->slots[i] != h)
                return;
        s->slots[i] = 0;
        /* shift back the entries after it that probed past the hole */
        for (;;) {
                size_t home;

                j = (j + 1) & s->mask;
                if (!s->slots[j])
                        return;
                home = (size_t) s->slots[j] & s->mask;
                if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
                        s->slots[i] = s->slots[j];
                        s->slots[j] = 0;
                        i = j;
                }
        }
}

void oa_sink_ids_add(oa_sink_ids *s, uint64_t h) {
        if (!s->cap || oa_sink_ids_has(s, h))
                return;
        if (s->n == s->cap) {           /* forget the oldest */
                del(s, s->ring[s->head]);
                s->head = (s->head + 1) % s->cap;
                s->n--;
        }
        s->ring[(s->head + s->n) % s->cap] = h;
        s->n++;
        s->slots[find(s, h)] = h;
}
