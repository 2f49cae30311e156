/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* ChildwatchSpawnOptions: builds Spawn()'s a{sv} and the GUnixFDList its handles point into, so
 * that passing a descriptor is one call instead of an fd list, an index and a handle variant. */

#include "childwatch-private.h"

#include <stdlib.h>
#include <string.h>

struct _ChildwatchSpawnOptions {
        GObject parent_instance;

        GHashTable *options;  /* key (owned) -> GVariant (owned, sunk); everything but descriptors */
        GUnixFDList *fd_list; /* duplicates of the passed descriptors */
        GArray *fds;          /* PassedFd: target number -> index into fd_list, in the order passed */
};

typedef struct PassedFd {
        int target;
        int index;
} PassedFd;

G_DEFINE_FINAL_TYPE(ChildwatchSpawnOptions, childwatch_spawn_options, G_TYPE_OBJECT)

static void childwatch_spawn_options_finalize(GObject *object) {
        ChildwatchSpawnOptions *self = CHILDWATCH_SPAWN_OPTIONS(object);

        g_clear_pointer(&self->options, g_hash_table_unref);
        g_clear_object(&self->fd_list);
        g_clear_pointer(&self->fds, g_array_unref);
        G_OBJECT_CLASS(childwatch_spawn_options_parent_class)->finalize(object);
}

static void childwatch_spawn_options_class_init(ChildwatchSpawnOptionsClass *klass) {
        G_OBJECT_CLASS(klass)->finalize = childwatch_spawn_options_finalize;
}

static void childwatch_spawn_options_init(ChildwatchSpawnOptions *self) {
        self->options =
                g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_variant_unref);
        self->fds = g_array_new(FALSE, FALSE, sizeof(PassedFd));
}

ChildwatchSpawnOptions *childwatch_spawn_options_new(void) {
        return g_object_new(CHILDWATCH_TYPE_SPAWN_OPTIONS, NULL);
}

static gboolean is_fd_key(const char *key) {
        return strcmp(key, "stdin") == 0 || strcmp(key, "stdout") == 0 || strcmp(key, "stderr") == 0 ||
               strcmp(key, "fds") == 0;
}

void childwatch_spawn_options_set_option(ChildwatchSpawnOptions *options, const char *key, GVariant *value) {
        g_return_if_fail(CHILDWATCH_IS_SPAWN_OPTIONS(options));
        g_return_if_fail(key != NULL);
        g_return_if_fail(value != NULL);
        /* A handle means nothing without the fd list it indexes, which only pass_fd() fills. */
        g_return_if_fail(!is_fd_key(key));

        g_hash_table_replace(options->options, g_strdup(key), g_variant_ref_sink(value));
}

void childwatch_spawn_options_set_cwd(ChildwatchSpawnOptions *options, const char *cwd) {
        g_return_if_fail(cwd != NULL);

        childwatch_spawn_options_set_option(options, "cwd", g_variant_new_string(cwd));
}

/* Appends @item to the "as" option @key (created empty when missing). */
static void append_to_strv_option(ChildwatchSpawnOptions *options, const char *key, const char *item) {
        GVariant *old = g_hash_table_lookup(options->options, key);
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE_STRING_ARRAY);
        if (old && g_variant_is_of_type(old, G_VARIANT_TYPE_STRING_ARRAY)) {
                GVariantIter it;
                const char *s;
                g_variant_iter_init(&it, old);
                while (g_variant_iter_next(&it, "&s", &s))
                        g_variant_builder_add(&b, "s", s);
        }
        g_variant_builder_add(&b, "s", item);
        childwatch_spawn_options_set_option(options, key, g_variant_builder_end(&b));
}

void childwatch_spawn_options_setenv(ChildwatchSpawnOptions *options, const char *name, const char *value) {
        g_return_if_fail(CHILDWATCH_IS_SPAWN_OPTIONS(options));
        g_return_if_fail(name != NULL && value != NULL);

        g_autofree char *entry = g_strconcat(name, "=", value, NULL);
        append_to_strv_option(options, "environment", entry);
}

void childwatch_spawn_options_unsetenv(ChildwatchSpawnOptions *options, const char *name) {
        g_return_if_fail(CHILDWATCH_IS_SPAWN_OPTIONS(options));
        g_return_if_fail(name != NULL);

        append_to_strv_option(options, "unset-environment", name);
}

/* Gives the @replaced-th passed target a duplicate of @fd instead of its descriptor. The whole list
 * is rebuilt, as a GUnixFDList cannot drop an entry: the replaced duplicate would still travel with
 * every call and count against the bus's limit of descriptors per message. */
static gboolean replace_fd(ChildwatchSpawnOptions *options, guint replaced, int fd, GError **error) {
        g_autoptr(GUnixFDList) list = g_unix_fd_list_new();
        const int *old = g_unix_fd_list_peek_fds(options->fd_list, NULL);

        /* Appended in the order of options->fds, so entry i lands at index i. */
        for (guint i = 0; i < options->fds->len; i++) {
                int source = i == replaced ? fd : old[g_array_index(options->fds, PassedFd, i).index];
                if (g_unix_fd_list_append(list, source, error) < 0)
                        return FALSE;
        }
        for (guint i = 0; i < options->fds->len; i++)
                g_array_index(options->fds, PassedFd, i).index = (int) i;
        g_set_object(&options->fd_list, list);
        return TRUE;
}

gboolean childwatch_spawn_options_pass_fd(ChildwatchSpawnOptions *options, int fd, int target_fd,
                                          GError **error) {
        PassedFd passed = { .target = target_fd };

        g_return_val_if_fail(CHILDWATCH_IS_SPAWN_OPTIONS(options), FALSE);
        g_return_val_if_fail(fd >= 0 && target_fd >= 0, FALSE);
        g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

        for (guint i = 0; i < options->fds->len; i++)
                if (g_array_index(options->fds, PassedFd, i).target == target_fd)
                        /* The later one wins, as for every other option. */
                        return replace_fd(options, i, fd, error);

        /* dbus-daemon disconnects a client whose message carries more descriptors than its
         * max_message_unix_fds; refused here, the caller learns why and keeps its connection. */
        if (options->fds->len >= CHILDWATCH_MAX_FDS_PER_CALL) {
                g_set_error(error, CHILDWATCH_ERROR, CHILDWATCH_ERROR_LIMIT_EXCEEDED,
                            "Cannot pass descriptor %d as %d: a spawn passes at most %d descriptors "
                            "(stdin, stdout, stderr and fds together), the most that a message bus "
                            "carries in one message by default",
                            fd, target_fd, CHILDWATCH_MAX_FDS_PER_CALL);
                return FALSE;
        }
        if (!options->fd_list)
                options->fd_list = g_unix_fd_list_new();
        /* The list holds a duplicate, so the caller may close @fd at once. */
        passed.index = g_unix_fd_list_append(options->fd_list, fd, error);
        if (passed.index < 0)
                return FALSE;
        g_array_append_val(options->fds, passed);
        return TRUE;
}

static int compare_keys(gconstpointer a, gconstpointer b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

GVariant *childwatch_spawn_options_build(ChildwatchSpawnOptions *options, GUnixFDList **ret_fd_list) {
        static const char *const stdio_keys[] = { "stdin", "stdout", "stderr" };
        GVariantBuilder b, fds;
        gboolean have_fds = FALSE;
        guint n_keys = 0;

        g_return_val_if_fail(CHILDWATCH_IS_SPAWN_OPTIONS(options), NULL);

        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        /* Sorted, so that the same options always make the same message. */
        g_autofree const char **keys =
                (const char **) g_hash_table_get_keys_as_array(options->options, &n_keys);
        qsort(keys, n_keys, sizeof(*keys), compare_keys);
        for (guint i = 0; i < n_keys; i++)
                g_variant_builder_add(&b, "{sv}", keys[i], g_hash_table_lookup(options->options, keys[i]));

        g_variant_builder_init(&fds, G_VARIANT_TYPE("a{uh}"));
        for (guint i = 0; i < options->fds->len; i++) {
                const PassedFd *p = &g_array_index(options->fds, PassedFd, i);
                if (p->target <= 2)
                        g_variant_builder_add(&b, "{sv}", stdio_keys[p->target],
                                              g_variant_new_handle(p->index));
                else {
                        g_variant_builder_add(&fds, "{uh}", (guint32) p->target, p->index);
                        have_fds = TRUE;
                }
        }
        if (have_fds)
                g_variant_builder_add(&b, "{sv}", "fds", g_variant_builder_end(&fds));
        else
                g_variant_builder_clear(&fds);

        if (ret_fd_list)
                *ret_fd_list = options->fd_list ? g_object_ref(options->fd_list) : NULL;
        return g_variant_ref_sink(g_variant_builder_end(&b));
}
