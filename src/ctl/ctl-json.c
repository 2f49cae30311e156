/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A GVariant to JSON writer: compact, one value per line, for --json (RFC 8259). */

#include "ctl-json.h"

#include <math.h>
#include <stdio.h>

#include "ctl-bus.h"

static void append_string(GString *out, const char *s) {
        g_autofree char *valid = NULL;

        if (!g_utf8_validate(s, -1, NULL))
                s = valid = g_utf8_make_valid(s, -1);
        g_string_append_c(out, '"');
        for (const char *p = s; *p; p++) {
                unsigned char c = (unsigned char) *p;
                switch (c) {
                case '"':
                        g_string_append(out, "\\\"");
                        break;
                case '\\':
                        g_string_append(out, "\\\\");
                        break;
                case '\n':
                        g_string_append(out, "\\n");
                        break;
                case '\r':
                        g_string_append(out, "\\r");
                        break;
                case '\t':
                        g_string_append(out, "\\t");
                        break;
                default:
                        /* JSON forbids raw control characters; DEL is allowed but escaped too,
                         * so that a line of JSON never moves a terminal's cursor. */
                        if (c < 0x20 || c == 0x7f)
                                g_string_append_printf(out, "\\u%04x", c);
                        else
                                g_string_append_c(out, (char) c);
                }
        }
        g_string_append_c(out, '"');
}

static gboolean is_object(GVariant *value) {
        const GVariantType *t = g_variant_get_type(value);
        if (!g_variant_type_is_array(t) || !g_variant_type_is_dict_entry(g_variant_type_element(t)))
                return FALSE;
        const GVariantType *key = g_variant_type_key(g_variant_type_element(t));
        return g_variant_type_equal(key, G_VARIANT_TYPE_STRING) ||
               g_variant_type_equal(key, G_VARIANT_TYPE_OBJECT_PATH);
}

static void append_container(GString *out, GVariant *value) {
        gboolean object = is_object(value);
        gsize n = g_variant_n_children(value);

        g_string_append_c(out, object ? '{' : '[');
        for (gsize i = 0; i < n; i++) {
                g_autoptr(GVariant) child = g_variant_get_child_value(value, i);
                if (i > 0)
                        g_string_append_c(out, ',');
                if (object) {
                        g_autoptr(GVariant) key = g_variant_get_child_value(child, 0);
                        g_autoptr(GVariant) val = g_variant_get_child_value(child, 1);
                        append_string(out, g_variant_get_string(key, NULL));
                        g_string_append_c(out, ':');
                        ctl_json_append(out, val);
                } else
                        ctl_json_append(out, child);
        }
        g_string_append_c(out, object ? '}' : ']');
}

void ctl_json_append(GString *out, GVariant *value) {
        switch (g_variant_classify(value)) {
        case G_VARIANT_CLASS_BOOLEAN:
                g_string_append(out, g_variant_get_boolean(value) ? "true" : "false");
                break;
        case G_VARIANT_CLASS_BYTE:
                g_string_append_printf(out, "%u", (unsigned) g_variant_get_byte(value));
                break;
        case G_VARIANT_CLASS_INT16:
                g_string_append_printf(out, "%d", (int) g_variant_get_int16(value));
                break;
        case G_VARIANT_CLASS_UINT16:
                g_string_append_printf(out, "%u", (unsigned) g_variant_get_uint16(value));
                break;
        case G_VARIANT_CLASS_INT32:
                g_string_append_printf(out, "%" G_GINT32_FORMAT, g_variant_get_int32(value));
                break;
        case G_VARIANT_CLASS_HANDLE:
                g_string_append_printf(out, "%" G_GINT32_FORMAT, g_variant_get_handle(value));
                break;
        case G_VARIANT_CLASS_UINT32:
                g_string_append_printf(out, "%" G_GUINT32_FORMAT, g_variant_get_uint32(value));
                break;
        case G_VARIANT_CLASS_INT64:
                g_string_append_printf(out, "%" G_GINT64_FORMAT, g_variant_get_int64(value));
                break;
        case G_VARIANT_CLASS_UINT64:
                g_string_append_printf(out, "%" G_GUINT64_FORMAT, g_variant_get_uint64(value));
                break;
        case G_VARIANT_CLASS_DOUBLE: {
                double d = g_variant_get_double(value);
                if (isfinite(d))
                        g_string_append_printf(out, "%.17g", d);
                else
                        g_string_append(out, "null");
                break;
        }
        case G_VARIANT_CLASS_STRING:
        case G_VARIANT_CLASS_OBJECT_PATH:
        case G_VARIANT_CLASS_SIGNATURE:
                append_string(out, g_variant_get_string(value, NULL));
                break;
        case G_VARIANT_CLASS_VARIANT: {
                g_autoptr(GVariant) inner = g_variant_get_variant(value);
                ctl_json_append(out, inner);
                break;
        }
        case G_VARIANT_CLASS_MAYBE: {
                g_autoptr(GVariant) inner = g_variant_get_maybe(value);
                if (inner)
                        ctl_json_append(out, inner);
                else
                        g_string_append(out, "null");
                break;
        }
        case G_VARIANT_CLASS_ARRAY:
        case G_VARIANT_CLASS_TUPLE:
        case G_VARIANT_CLASS_DICT_ENTRY:
                append_container(out, value);
                break;
        }
}

void ctl_json_print(GVariant *value) {
        g_autoptr(GVariant) owned = g_variant_ref_sink(value);
        g_autoptr(GString) out = g_string_new(NULL);

        ctl_json_append(out, owned);
        g_string_append_c(out, '\n');
        fputs(out->str, stdout);
        fflush(stdout);
}

void ctl_print_new_process(gboolean json, const char *path, guint32 pid) {
        if (json) {
                GVariantBuilder b;
                g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
                g_variant_builder_add(&b, "{sv}", "Path", g_variant_new_object_path(path));
                g_variant_builder_add(&b, "{sv}", "Id", g_variant_new_uint64(ctl_path_id(path)));
                g_variant_builder_add(&b, "{sv}", "Pid", g_variant_new_uint32(pid));
                ctl_json_print(g_variant_builder_end(&b));
        } else {
                printf("%s %" G_GUINT32_FORMAT "\n", path, pid);
                fflush(stdout);
        }
}
