/* A bump allocator for per-request memory: everything an event parse or enrichment
 * allocates comes from one arena and is released at once, so nothing is freed by hand.
 * Either the arena owns its memory (malloc'ed chunks that grow geometrically, freed by
 * oa_arena_done) or every allocation is forwarded to the caller's allocator (in oa-edge
 * h2o_mem_alloc_pool on req->pool, which frees with the request). Both have a hard cap
 * on the bytes handed out. Not thread-safe: one arena per request or per thread. */
#ifndef OA_ARENA_H
#define OA_ARENA_H

#include <stddef.h>

/* The caller's allocator: returns n bytes aligned for any type, or NULL. */
typedef void *(*oa_arena_alloc_fn)(void *ctx, size_t n);

typedef struct oa_arena_chunk oa_arena_chunk;

typedef struct oa_arena {
        oa_arena_alloc_fn fn;   /* NULL: the arena mallocs its own chunks */
        void *fn_ctx;
        oa_arena_chunk *chunks; /* newest first */
        char *cur;              /* free space in the newest chunk */
        size_t left;
        size_t next_size;       /* size of the next own chunk */
        size_t used;            /* bytes handed out (with alignment padding) */
        size_t max;             /* hard cap on used */
} oa_arena;

/* Prepare an arena that mallocs its own chunks and never hands out more than max bytes
 * in total (0: no cap). No memory is taken until the first allocation. */
void oa_arena_init(oa_arena *a, size_t max);

/* Prepare an arena that takes every allocation from fn(ctx, n), e.g. h2o's request pool;
 * the arena frees nothing, the owner of ctx does. max as in oa_arena_init. */
void oa_arena_init_with(oa_arena *a, oa_arena_alloc_fn fn, void *ctx, size_t max);

/* Free the arena's own chunks; the arena is empty and usable again (same max). */
void oa_arena_done(oa_arena *a);

/* Forget every allocation but keep the largest chunk for reuse (own chunks only; with a
 * caller's allocator this only resets the count). */
void oa_arena_reset(oa_arena *a);

/* n bytes aligned for any type (n == 0 gives a valid unique pointer), or NULL when the
 * cap would be passed or memory is short. Contents are not initialised. */
void *oa_arena_alloc(oa_arena *a, size_t n);

/* As oa_arena_alloc, zero-filled. */
void *oa_arena_zalloc(oa_arena *a, size_t n);

/* A NUL-terminated copy of the n bytes at s (s may hold NULs; n may be 0), or NULL. */
char *oa_arena_strndup(oa_arena *a, const char *s, size_t n);

#endif
