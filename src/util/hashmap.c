/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Linear probing with backward-shift deletion: no tombstones, so a map that
 * sees millions of insert/remove pairs (one per spawn) never degrades.
 */

#include "hashmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix64(uint64_t x) {
        /* splitmix64 finalizer: ids and pids are sequential, spread them. */
        x ^= x >> 30;
        x *= UINT64_C(0xbf58476d1ce4e5b9);
        x ^= x >> 27;
        x *= UINT64_C(0x94d049bb133111eb);
        x ^= x >> 31;
        return x;
}

static uint64_t uint64_hash(const void *key) {
        return mix64(*(const uint64_t *) key);
}

static bool uint64_equal(const void *a, const void *b) {
        return *(const uint64_t *) a == *(const uint64_t *) b;
}

static uint64_t string_hash(const void *key) {
        /* FNV-1a; keys are bus names chosen by the bus daemon, not by clients. */
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        for (const unsigned char *p = key; *p; p++) {
                h ^= *p;
                h *= UINT64_C(0x100000001b3);
        }
        return mix64(h);
}

static bool string_equal(const void *a, const void *b) {
        return strcmp(a, b) == 0;
}

const HashOps uint64_hash_ops = { .hash = uint64_hash, .equal = uint64_equal };
const HashOps string_hash_ops = { .hash = string_hash, .equal = string_equal };

void hashmap_clear(Hashmap *h) {
        free(h->entries);
        h->entries = NULL;
        h->n_buckets = h->n_entries = 0;
}

static size_t bucket_of(const Hashmap *h, const void *key) {
        return h->ops->hash(key) & (h->n_buckets - 1);
}

static int hashmap_resize(Hashmap *h, size_t n_buckets) {
        HashmapEntry *old = h->entries;
        size_t old_n = h->n_buckets;

        HashmapEntry *entries = calloc(n_buckets, sizeof(HashmapEntry));
        if (!entries)
                return -ENOMEM;

        h->entries = entries;
        h->n_buckets = n_buckets;
        for (size_t i = 0; i < old_n; i++) {
                if (!old[i].key)
                        continue;
                size_t b = bucket_of(h, old[i].key);
                while (h->entries[b].key)
                        b = (b + 1) & (n_buckets - 1);
                h->entries[b] = old[i];
        }
        free(old);
        return 0;
}

int hashmap_put(Hashmap *h, const void *key, void *value) {
        int r;

        if (!key)
                return -EINVAL;

        /* Keep the load factor at or below 1/2. */
        if ((h->n_entries + 1) * 2 > h->n_buckets) {
                r = hashmap_resize(h, h->n_buckets ? h->n_buckets * 2 : 16);
                if (r < 0)
                        return r;
        }

        size_t b = bucket_of(h, key);
        while (h->entries[b].key) {
                if (h->ops->equal(h->entries[b].key, key))
                        return -EEXIST;
                b = (b + 1) & (h->n_buckets - 1);
        }
        h->entries[b] = (HashmapEntry) { .key = key, .value = value };
        h->n_entries++;
        return 0;
}

static size_t hashmap_find(const Hashmap *h, const void *key) {
        if (h->n_entries == 0 || !key)
                return SIZE_MAX;

        size_t b = bucket_of(h, key);
        while (h->entries[b].key) {
                if (h->ops->equal(h->entries[b].key, key))
                        return b;
                b = (b + 1) & (h->n_buckets - 1);
        }
        return SIZE_MAX;
}

void *hashmap_get(const Hashmap *h, const void *key) {
        size_t b = hashmap_find(h, key);
        return b == SIZE_MAX ? NULL : h->entries[b].value;
}

void *hashmap_remove(Hashmap *h, const void *key) {
        size_t b = hashmap_find(h, key);
        if (b == SIZE_MAX)
                return NULL;

        void *value = h->entries[b].value;
        size_t mask = h->n_buckets - 1;

        /* Backward shift: pull later members of the probe run into the hole. */
        size_t hole = b;
        for (size_t j = (hole + 1) & mask; h->entries[j].key; j = (j + 1) & mask) {
                size_t home = bucket_of(h, h->entries[j].key);
                /* Move j into the hole unless its home lies cyclically in (hole, j]. */
                if (((j - home) & mask) >= ((j - hole) & mask)) {
                        h->entries[hole] = h->entries[j];
                        hole = j;
                }
        }
        h->entries[hole] = (HashmapEntry) {};
        h->n_entries--;

        /* Shrink when mostly empty, so a burst of children does not pin memory. */
        if (h->n_buckets > 64 && h->n_entries * 8 < h->n_buckets)
                (void) hashmap_resize(h, h->n_buckets / 2);

        return value;
}

bool hashmap_iterate(const Hashmap *h, size_t *i, void **ret_value) {
        for (; *i < h->n_buckets; (*i)++)
                if (h->entries[*i].key) {
                        *ret_value = h->entries[(*i)++].value;
                        return true;
                }
        return false;
}
