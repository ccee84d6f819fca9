/* A string-keyed hash map of pointers (open addressing, linear probing, power-of-two
 * capacity). Keys are byte strings copied into the map; values are the caller's. Not
 * thread-safe. Used for in-memory indexes such as the projects catalogue. */
#ifndef OA_MAP_H
#define OA_MAP_H

#include <stddef.h>

typedef struct oa_map oa_map;

/* A new empty map, or NULL when out of memory. */
oa_map *oa_map_new(void);

/* Free the map and its key copies (not the values). NULL-safe; returns NULL. */
oa_map *oa_map_free(oa_map *m);

/* Set key (klen bytes) to value, replacing any previous value, which is returned through
 * ret_old when not NULL (NULL if there was none). value must not be NULL. Returns 0 or
 * -ENOMEM. */
int oa_map_put(oa_map *m, const void *key, size_t klen, void *value, void **ret_old);

/* The value of key, or NULL. */
void *oa_map_get(const oa_map *m, const void *key, size_t klen);

/* Remove key and return its value, or NULL if absent. */
void *oa_map_del(oa_map *m, const void *key, size_t klen);

/* Number of entries. */
size_t oa_map_size(const oa_map *m);

/* Call fn for every entry until it returns non-zero (which is returned). The map must not
 * be changed during the walk. */
int oa_map_foreach(const oa_map *m, int (*fn)(const void *key, size_t klen, void *value, void *ud), void *ud);

#endif
