/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A small open-addressing hash map. The service looks children up by id,
 * by pid and clients by bus name on every event, so lookups must be O(1);
 * libsystemd keeps its own hashmap private, hence this one.
 *
 * Keys are borrowed: a key pointer must stay valid while its entry exists
 * (usually it points into the value itself).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct HashOps {
        uint64_t (*hash)(const void *key);
        bool (*equal)(const void *a, const void *b);
} HashOps;

extern const HashOps uint64_hash_ops; /* key points to a uint64_t */
extern const HashOps string_hash_ops; /* key is a NUL-terminated string */

typedef struct HashmapEntry {
        const void *key;
        void *value;
} HashmapEntry;

typedef struct Hashmap {
        const HashOps *ops;
        HashmapEntry *entries;
        size_t n_buckets; /* 0 or a power of two */
        size_t n_entries;
} Hashmap;

#define HASHMAP_INIT(o) { .ops = (o) }

void hashmap_clear(Hashmap *h);
int hashmap_put(Hashmap *h, const void *key, void *value);
void *hashmap_get(const Hashmap *h, const void *key);
void *hashmap_remove(Hashmap *h, const void *key);

static inline size_t hashmap_size(const Hashmap *h) {
        return h->n_entries;
}

/* Iteration: *i starts at 0; entries may not be added or removed meanwhile. */
bool hashmap_iterate(const Hashmap *h, size_t *i, void **ret_value);

#define HASHMAP_FOREACH(v, h, i) for (size_t i = 0; hashmap_iterate((h), &i, (void **) &(v));)
