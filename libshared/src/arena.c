/* The per-request bump allocator (oa/arena.h). Chunks double from 4 KiB up to 1 MiB; an
 * allocation of 256 KiB or more gets a chunk of its own so a big string does not waste
 * the rest of the current one. */
#include "oa/arena.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Under AddressSanitizer the free space of a kept chunk is poisoned: a pointer kept past
 * oa_arena_reset (a loop's arena reused request after request) fails loudly in the tests
 * instead of reading the next request's bytes. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void) (p), (void) (n))
#define UNPOISON(p, n) ((void) (p), (void) (n))
#endif

struct oa_arena_chunk {
        oa_arena_chunk *next;
        size_t size;                    /* usable bytes after the header */
        alignas(max_align_t) char data[];
};

#define ALIGN (alignof(max_align_t))
#define CHUNK_MIN ((size_t) 4096)
#define CHUNK_MAX ((size_t) 1 << 20)

void oa_arena_init(oa_arena *a, size_t max) {
        memset(a, 0, sizeof(*a));
        a->max = max;
}

void oa_arena_init_with(oa_arena *a, oa_arena_alloc_fn fn, void *ctx, size_t max) {
        oa_arena_init(a, max);
        a->fn = fn;
        a->fn_ctx = ctx;
}

void oa_arena_done(oa_arena *a) {
        oa_arena_chunk *c = a->chunks;

        while (c) {
                oa_arena_chunk *next = c->next;

                UNPOISON(c->data, c->size);

                free(c);
                c = next;
        }
        a->chunks = NULL;
        a->cur = NULL;
        a->left = 0;
        a->used = 0;
}

void oa_arena_reset(oa_arena *a) {
        oa_arena_chunk *keep = NULL;

        for (oa_arena_chunk *c = a->chunks, *next; c; c = next) {
                next = c->next;
                if (!keep || c->size > keep->size) {
                        if (keep)
                                UNPOISON(keep->data, keep->size);
                        free(keep);
                        keep = c;
                } else {
                        UNPOISON(c->data, c->size);
                        free(c);
                }
        }
        a->chunks = keep;
        if (keep) {
                keep->next = NULL;
                a->cur = keep->data;
                a->left = keep->size;
                POISON(keep->data, keep->size);
        } else {
                a->cur = NULL;
                a->left = 0;
        }
        a->used = 0;
}

static oa_arena_chunk *chunk_new(size_t size) {
        oa_arena_chunk *c;

        if (size > SIZE_MAX - sizeof(oa_arena_chunk))
                return NULL;
        c = malloc(sizeof(oa_arena_chunk) + size);
        if (c)
                c->size = size;
        return c;
}

void *oa_arena_alloc(oa_arena *a, size_t n) {
        oa_arena_chunk *c;
        size_t need;
        void *p;

        if (n > SIZE_MAX - ALIGN)
                return NULL;
        need = n ? (n + ALIGN - 1) & ~(ALIGN - 1) : ALIGN;
        if (a->max && (need > a->max || a->used > a->max - need))
                return NULL;
        if (a->fn) {
                p = a->fn(a->fn_ctx, need);
                if (p)
                        a->used += need;
                return p;
        }
        if (need > a->left && need >= CHUNK_MAX / 4) {
                /* a big one-off gets a chunk of its own behind the current one, which
                 * keeps serving the small allocations */
                c = chunk_new(need);
                if (!c)
                        return NULL;
                if (a->chunks) {
                        c->next = a->chunks->next;
                        a->chunks->next = c;
                } else {
                        c->next = NULL;
                        a->chunks = c;
                }
                a->used += need;
                return c->data;
        }
        if (need > a->left) {
                size_t size = a->next_size ? a->next_size : CHUNK_MIN;

                if (size < need)
                        size = need;
                c = chunk_new(size);
                if (!c)
                        return NULL;
                a->next_size = size * 2 < CHUNK_MAX ? size * 2 : CHUNK_MAX;
                c->next = a->chunks;
                a->chunks = c;
                a->cur = c->data;
                a->left = c->size;
        }
        p = a->cur;
        UNPOISON(p, need);
        a->cur += need;
        a->left -= need;
        a->used += need;
        return p;
}

void *oa_arena_zalloc(oa_arena *a, size_t n) {
        void *p = oa_arena_alloc(a, n);

        if (p)
                memset(p, 0, n);
        return p;
}

char *oa_arena_strndup(oa_arena *a, const char *s, size_t n) {
        char *p;

        if (n == SIZE_MAX)
                return NULL;
        p = oa_arena_alloc(a, n + 1);
        if (!p)
                return NULL;
        if (n)
                memcpy(p, s, n);
        p[n] = '\0';
        return p;
}
