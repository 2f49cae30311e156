/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The hash map indexes children by id and pid and clients by name; a lost or
 * duplicated entry there is a lost exit status or a signal to the wrong
 * process. So besides the basics, long random runs are compared with
 * GHashTable, also with hash functions that make every key collide, which is
 * where backward-shift deletion and wrap-around go wrong.
 */

#include <errno.h>
#include <glib.h>
#include <stdint.h>

#include "util/hashmap.h"

/* Values must be non-NULL (NULL means "missing"), so value = key index + 1. */
#define VALUE(i) GSIZE_TO_POINTER((gsize) (i) + 1)

static void test_basic(void) {
        uint64_t keys[] = { 0, 1, 42, UINT64_MAX };
        Hashmap h = HASHMAP_INIT(&uint64_hash_ops);

        g_assert_cmpuint(hashmap_size(&h), ==, 0);
        g_assert_null(hashmap_get(&h, &keys[0]));
        g_assert_null(hashmap_remove(&h, &keys[0]));

        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
                g_assert_cmpint(hashmap_put(&h, &keys[i], VALUE(i)), ==, 0);
        g_assert_cmpuint(hashmap_size(&h), ==, G_N_ELEMENTS(keys));

        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
                /* Lookups go by key value, not by the key's address. */
                uint64_t copy = keys[i];
                g_assert_true(hashmap_get(&h, &copy) == VALUE(i));
        }
        uint64_t absent = 7;
        g_assert_null(hashmap_get(&h, &absent));
        g_assert_null(hashmap_remove(&h, &absent));

        g_assert_true(hashmap_remove(&h, &keys[2]) == VALUE(2));
        g_assert_null(hashmap_get(&h, &keys[2]));
        g_assert_null(hashmap_remove(&h, &keys[2]));
        g_assert_cmpuint(hashmap_size(&h), ==, G_N_ELEMENTS(keys) - 1);
        g_assert_true(hashmap_get(&h, &keys[3]) == VALUE(3));

        /* Re-inserting a removed key works. */
        g_assert_cmpint(hashmap_put(&h, &keys[2], VALUE(2)), ==, 0);
        g_assert_true(hashmap_get(&h, &keys[2]) == VALUE(2));

        hashmap_clear(&h);
        g_assert_cmpuint(hashmap_size(&h), ==, 0);
        g_assert_null(hashmap_get(&h, &keys[0]));
        g_assert_cmpint(hashmap_put(&h, &keys[0], VALUE(0)), ==, 0);
        hashmap_clear(&h);
}

static void test_duplicate(void) {
        uint64_t a = 5, b = 5;
        int first = 1, second = 2;
        Hashmap h = HASHMAP_INIT(&uint64_hash_ops);

        g_assert_cmpint(hashmap_put(&h, &a, &first), ==, 0);
        /* Same value behind another pointer: still the same key, and the old entry stays. */
        g_assert_cmpint(hashmap_put(&h, &b, &second), ==, -EEXIST);
        g_assert_cmpint(hashmap_put(&h, &a, &second), ==, -EEXIST);
        g_assert_true(hashmap_get(&h, &b) == &first);
        g_assert_cmpuint(hashmap_size(&h), ==, 1);

        g_assert_cmpint(hashmap_put(&h, NULL, &first), ==, -EINVAL);
        g_assert_null(hashmap_get(&h, NULL));
        g_assert_cmpuint(hashmap_size(&h), ==, 1);
        hashmap_clear(&h);
}

static void test_iterate(void) {
        enum { N = 1000 };
        static uint64_t keys[N];
        g_autofree unsigned *seen = g_new0(unsigned, N);
        Hashmap h = HASHMAP_INIT(&uint64_hash_ops);
        size_t count = 0;
        void *v;

        /* An empty map, never allocated, iterates nothing. */
        HASHMAP_FOREACH(v, &h, i)
                g_assert_not_reached();

        for (size_t i = 0; i < N; i++) {
                keys[i] = i * 1000003;
                g_assert_cmpint(hashmap_put(&h, &keys[i], VALUE(i)), ==, 0);
        }

        HASHMAP_FOREACH(v, &h, i) {
                gsize idx = GPOINTER_TO_SIZE(v) - 1;
                g_assert_cmpuint(idx, <, N);
                seen[idx]++;
                count++;
        }
        g_assert_cmpuint(count, ==, N);
        for (size_t i = 0; i < N; i++)
                g_assert_cmpuint(seen[i], ==, 1);

        hashmap_clear(&h);
}

static void test_string_keys(void) {
        const char *names[] = { ":1.1", ":1.2", ":1.10", "org.example.Foo", "", "a" };
        Hashmap h = HASHMAP_INIT(&string_hash_ops);

        for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
                g_assert_cmpint(hashmap_put(&h, names[i], VALUE(i)), ==, 0);

        for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
                /* Bus names arrive in fresh buffers: equality is by content. */
                g_autofree char *copy = g_strdup(names[i]);
                g_assert_true(hashmap_get(&h, copy) == VALUE(i));
                g_assert_cmpint(hashmap_put(&h, copy, VALUE(99)), ==, -EEXIST);
        }
        g_assert_null(hashmap_get(&h, ":1.3"));
        g_assert_null(hashmap_get(&h, ":1.1 "));
        g_assert_null(hashmap_get(&h, ":1"));

        g_assert_true(hashmap_remove(&h, ":1.2") == VALUE(1));
        g_assert_null(hashmap_get(&h, ":1.2"));
        g_assert_true(hashmap_get(&h, ":1.10") == VALUE(2));
        g_assert_true(hashmap_get(&h, "") == VALUE(4));
        g_assert_cmpuint(hashmap_size(&h), ==, G_N_ELEMENTS(names) - 1);
        hashmap_clear(&h);
}

/* Hash functions that defeat the spreading, so probe runs get long and wrap around. */
static uint64_t hash_constant(const void *key) {
        /* The last bucket of every table size: each run starts there and wraps to 0. */
        return UINT64_MAX;
}

static uint64_t hash_low_bits(const void *key) {
        /* Four home buckets only, spread in the table: runs merge into each other. */
        return (*(const uint64_t *) key % 4) * 5;
}

static bool key_equal(const void *a, const void *b) {
        return *(const uint64_t *) a == *(const uint64_t *) b;
}

static const HashOps constant_hash_ops = { .hash = hash_constant, .equal = key_equal };
static const HashOps low_bits_hash_ops = { .hash = hash_low_bits, .equal = key_equal };

typedef struct RandomCase {
        const HashOps *ops;
        unsigned n_ops;
        unsigned n_keys; /* size of the key pool: small pools give many duplicates and misses */
} RandomCase;

static void assert_same_content(const Hashmap *h, GHashTable *ref, const uint64_t *pool) {
        GHashTableIter it;
        gpointer k, v;
        size_t count = 0;
        void *value;

        g_assert_cmpuint(hashmap_size(h), ==, g_hash_table_size(ref));

        g_hash_table_iter_init(&it, ref);
        while (g_hash_table_iter_next(&it, &k, &v))
                g_assert_true(hashmap_get(h, k) == v);

        HASHMAP_FOREACH(value, h, i) {
                gsize idx = GPOINTER_TO_SIZE(value) - 1;
                g_assert_true(g_hash_table_lookup(ref, &pool[idx]) == value);
                count++;
        }
        g_assert_cmpuint(count, ==, g_hash_table_size(ref));

        /* The load factor the implementation promises; and a power of two. */
        if (h->n_buckets > 0) {
                g_assert_cmpuint(h->n_entries * 2, <=, h->n_buckets);
                g_assert_cmpuint(h->n_buckets & (h->n_buckets - 1), ==, 0);
        }
}

static void test_random(gconstpointer data) {
        const RandomCase *c = data;
        g_autoptr(GRand) rand = g_rand_new_with_seed(0xc0ffee);
        g_autoptr(GHashTable) ref = g_hash_table_new(g_int64_hash, g_int64_equal);
        g_autoptr(GHashTable) used = g_hash_table_new(g_int64_hash, g_int64_equal);
        g_autofree uint64_t *pool = g_new(uint64_t, c->n_keys);
        Hashmap h = HASHMAP_INIT(c->ops);
        size_t max_seen = 0;
        bool shrunk = false;

        /* Distinct keys: a sequential stretch as pids and ids are, and random 64-bit ones. */
        for (unsigned i = 0; i < c->n_keys; i++) {
                do
                        pool[i] = i < c->n_keys / 2 ? i + 1000
                                                     : ((uint64_t) g_rand_int(rand) << 32 | g_rand_int(rand));
                while (g_hash_table_contains(used, &pool[i]));
                g_hash_table_add(used, &pool[i]);
        }

        for (unsigned op = 0; op < c->n_ops; op++) {
                /* Phases: mostly inserts, then mostly removals, so the map both grows and shrinks. */
                unsigned phase = (op / (c->n_ops / 8)) % 2;
                unsigned put_percent = phase == 0 ? 75 : 5;
                unsigned idx = g_rand_int_range(rand, 0, (gint32) c->n_keys);
                uint64_t *key = &pool[idx];
                unsigned dice = g_rand_int_range(rand, 0, 100);

                if (dice < put_percent) {
                        int r = hashmap_put(&h, key, VALUE(idx));
                        if (g_hash_table_contains(ref, key))
                                g_assert_cmpint(r, ==, -EEXIST);
                        else {
                                g_assert_cmpint(r, ==, 0);
                                g_hash_table_insert(ref, key, VALUE(idx));
                        }
                } else if (dice < 90) {
                        gpointer expected = g_hash_table_lookup(ref, key);
                        size_t before = h.n_buckets;
                        g_assert_true(hashmap_remove(&h, key) == expected);
                        g_hash_table_remove(ref, key);
                        if (h.n_buckets < before)
                                shrunk = true;
                } else
                        g_assert_true(hashmap_get(&h, key) == g_hash_table_lookup(ref, key));

                g_assert_cmpuint(hashmap_size(&h), ==, g_hash_table_size(ref));
                max_seen = MAX(max_seen, hashmap_size(&h));
                if (op % 1024 == 0)
                        assert_same_content(&h, ref, pool);
        }
        assert_same_content(&h, ref, pool);

        /* The run must have exercised growth and shrinking, or it proves less than it claims. */
        g_assert_cmpuint(max_seen, >, 64);
        g_assert_true(shrunk);

        hashmap_clear(&h);
}

static void test_remove_while_resizing(void) {
        enum { N = 10000 };
        g_autofree uint64_t *keys = g_new(uint64_t, N);
        Hashmap h = HASHMAP_INIT(&uint64_hash_ops);
        size_t max_buckets;

        for (size_t i = 0; i < N; i++) {
                keys[i] = i;
                g_assert_cmpint(hashmap_put(&h, &keys[i], VALUE(i)), ==, 0);
                /* Every growth step rehashes: all earlier entries must survive it. */
                if ((i & (i + 1)) == 0)
                        for (size_t j = 0; j <= i; j++)
                                g_assert_true(hashmap_get(&h, &keys[j]) == VALUE(j));
        }
        max_buckets = h.n_buckets;
        g_assert_cmpuint(max_buckets, >=, 2 * N);

        /* Remove the odd keys, then the rest from the top: both walk through shrinks. */
        for (size_t i = 1; i < N; i += 2) {
                g_assert_true(hashmap_remove(&h, &keys[i]) == VALUE(i));
                if (i % 997 == 1)
                        for (size_t j = 0; j < N; j++)
                                g_assert_true(hashmap_get(&h, &keys[j]) ==
                                              (j % 2 == 0 || j > i ? VALUE(j) : NULL));
        }
        g_assert_cmpuint(hashmap_size(&h), ==, N / 2);

        for (size_t i = N; i-- > 0;) {
                if (i % 2 == 1)
                        continue;
                size_t before = h.n_buckets;
                g_assert_true(hashmap_remove(&h, &keys[i]) == VALUE(i));
                if (h.n_buckets != before)
                        /* Right after a shrink every remaining key must still be found. */
                        for (size_t j = 0; j < i; j += 2)
                                g_assert_true(hashmap_get(&h, &keys[j]) == VALUE(j));
        }
        g_assert_cmpuint(hashmap_size(&h), ==, 0);
        /* Memory went back: the table shrank to its floor of 64 buckets. */
        g_assert_cmpuint(h.n_buckets, <, max_buckets);
        g_assert_cmpuint(h.n_buckets, ==, 64);

        hashmap_clear(&h);
}

int main(int argc, char *argv[]) {
        static const RandomCase spread = { &uint64_hash_ops, 100000, 4096 };
        static const RandomCase constant = { &constant_hash_ops, 20000, 300 };
        static const RandomCase low_bits = { &low_bits_hash_ops, 20000, 300 };

        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/hashmap/basic", test_basic);
        g_test_add_func("/hashmap/duplicate", test_duplicate);
        g_test_add_func("/hashmap/iterate", test_iterate);
        g_test_add_func("/hashmap/string-keys", test_string_keys);
        g_test_add_data_func("/hashmap/random/spread", &spread, test_random);
        g_test_add_data_func("/hashmap/random/all-collide", &constant, test_random);
        g_test_add_data_func("/hashmap/random/few-buckets", &low_bits, test_random);
        g_test_add_func("/hashmap/remove-while-resizing", test_remove_while_resizing);

        return g_test_run();
}
