/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The contract (dbus/org.childwatch.ChildWatch1.xml) against the live
 * introspection of the service: per interface, the methods with their in
 * and out arguments (name, signature, order), the signals and their
 * arguments, the properties (signature, access) and the annotations on all
 * of them, in both directions. org.freedesktop.DBus.* is sd-bus's business
 * and skipped, as systemd's tools/update-dbus-docs.py does.
 */

#include "cw-test.h"

#include <stdarg.h>

#define CW_XML_RELATIVE_PATH "dbus/org.childwatch.ChildWatch1.xml"

/* One introspected object of the running service. */
typedef struct LiveObject {
        const char *path;
        GDBusNodeInfo *node;
} LiveObject;

static void add_diff(GPtrArray *diffs, const char *format, ...) G_GNUC_PRINTF(2, 3);
static void add_diff(GPtrArray *diffs, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        g_ptr_array_add(diffs, g_strdup_vprintf(format, ap));
        va_end(ap);
}

static guint n_elements(gpointer *v) {
        guint n = 0;
        while (v && v[n])
                n++;
        return n;
}

static gboolean is_standard_interface(const char *name) {
        return g_str_has_prefix(name, "org.freedesktop.DBus.");
}

static const char *access_to_string(GDBusPropertyInfoFlags flags) {
        gboolean r = flags & G_DBUS_PROPERTY_INFO_FLAGS_READABLE, w = flags & G_DBUS_PROPERTY_INFO_FLAGS_WRITABLE;
        return r && w ? "readwrite" : r ? "read" : w ? "write" : "none";
}

static GDBusAnnotationInfo *find_annotation(GDBusAnnotationInfo **list, const char *name) {
        for (guint i = 0; list && list[i]; i++)
                if (g_str_equal(list[i]->key, name))
                        return list[i];
        return NULL;
}

/* @member names what carries the annotations, e.g. "method org.x.Iface.Kill". */
static void compare_annotations(GPtrArray *diffs, const char *member, GDBusAnnotationInfo **xml,
                                GDBusAnnotationInfo **live) {
        for (guint i = 0; xml && xml[i]; i++) {
                GDBusAnnotationInfo *other = find_annotation(live, xml[i]->key);
                if (!other)
                        add_diff(diffs, "%s: annotation %s=\"%s\" is in the XML but not live", member, xml[i]->key,
                                 xml[i]->value);
                else if (g_strcmp0(xml[i]->value, other->value) != 0)
                        add_diff(diffs, "%s: annotation %s is \"%s\" in the XML but \"%s\" live", member,
                                 xml[i]->key, xml[i]->value, other->value);
        }
        for (guint i = 0; live && live[i]; i++)
                if (!find_annotation(xml, live[i]->key))
                        add_diff(diffs, "%s: annotation %s=\"%s\" is live but not in the XML", member, live[i]->key,
                                 live[i]->value);
}

/* Arguments are compared by position: their order is part of the signature. */
static void compare_args(GPtrArray *diffs, const char *member, const char *kind, GDBusArgInfo **xml,
                         GDBusArgInfo **live) {
        guint nx = n_elements((gpointer *) xml), nl = n_elements((gpointer *) live);

        for (guint i = 0; i < MAX(nx, nl); i++) {
                if (i >= nl) {
                        add_diff(diffs, "%s: %s arg #%u '%s %s' is in the XML but not live", member, kind, i,
                                 xml[i]->signature, xml[i]->name);
                        continue;
                }
                if (i >= nx) {
                        add_diff(diffs, "%s: %s arg #%u '%s %s' is live but not in the XML", member, kind, i,
                                 live[i]->signature, live[i]->name);
                        continue;
                }
                if (g_strcmp0(xml[i]->name, live[i]->name) != 0 ||
                    g_strcmp0(xml[i]->signature, live[i]->signature) != 0) {
                        add_diff(diffs, "%s: %s arg #%u is '%s %s' in the XML but '%s %s' live", member, kind, i,
                                 xml[i]->signature, xml[i]->name, live[i]->signature, live[i]->name);
                        continue;
                }
                g_autofree char *arg = g_strdup_printf("%s(%s arg %s)", member, kind, xml[i]->name);
                compare_annotations(diffs, arg, xml[i]->annotations, live[i]->annotations);
        }
}

static GDBusMethodInfo *find_method(GDBusInterfaceInfo *iface, const char *name) {
        for (guint i = 0; iface->methods && iface->methods[i]; i++)
                if (g_str_equal(iface->methods[i]->name, name))
                        return iface->methods[i];
        return NULL;
}

static GDBusSignalInfo *find_signal(GDBusInterfaceInfo *iface, const char *name) {
        for (guint i = 0; iface->signals && iface->signals[i]; i++)
                if (g_str_equal(iface->signals[i]->name, name))
                        return iface->signals[i];
        return NULL;
}

static GDBusPropertyInfo *find_property(GDBusInterfaceInfo *iface, const char *name) {
        for (guint i = 0; iface->properties && iface->properties[i]; i++)
                if (g_str_equal(iface->properties[i]->name, name))
                        return iface->properties[i];
        return NULL;
}

static void compare_interface(GPtrArray *diffs, GDBusInterfaceInfo *xml, GDBusInterfaceInfo *live) {
        const char *iface = xml->name;

        {
                g_autofree char *member = g_strdup_printf("interface %s", iface);
                compare_annotations(diffs, member, xml->annotations, live->annotations);
        }

        for (guint i = 0; xml->methods && xml->methods[i]; i++) {
                GDBusMethodInfo *x = xml->methods[i], *l = find_method(live, x->name);
                g_autofree char *member = g_strdup_printf("method %s.%s", iface, x->name);
                if (!l) {
                        add_diff(diffs, "%s: is in the XML but not live", member);
                        continue;
                }
                compare_args(diffs, member, "in", x->in_args, l->in_args);
                compare_args(diffs, member, "out", x->out_args, l->out_args);
                compare_annotations(diffs, member, x->annotations, l->annotations);
        }
        for (guint i = 0; live->methods && live->methods[i]; i++)
                if (!find_method(xml, live->methods[i]->name))
                        add_diff(diffs, "method %s.%s: is live but not in the XML", iface, live->methods[i]->name);

        for (guint i = 0; xml->signals && xml->signals[i]; i++) {
                GDBusSignalInfo *x = xml->signals[i], *l = find_signal(live, x->name);
                g_autofree char *member = g_strdup_printf("signal %s.%s", iface, x->name);
                if (!l) {
                        add_diff(diffs, "%s: is in the XML but not live", member);
                        continue;
                }
                compare_args(diffs, member, "signal", x->args, l->args);
                compare_annotations(diffs, member, x->annotations, l->annotations);
        }
        for (guint i = 0; live->signals && live->signals[i]; i++)
                if (!find_signal(xml, live->signals[i]->name))
                        add_diff(diffs, "signal %s.%s: is live but not in the XML", iface, live->signals[i]->name);

        for (guint i = 0; xml->properties && xml->properties[i]; i++) {
                GDBusPropertyInfo *x = xml->properties[i], *l = find_property(live, x->name);
                g_autofree char *member = g_strdup_printf("property %s.%s", iface, x->name);
                if (!l) {
                        add_diff(diffs, "%s: is in the XML but not live", member);
                        continue;
                }
                if (g_strcmp0(x->signature, l->signature) != 0)
                        add_diff(diffs, "%s: type is '%s' in the XML but '%s' live", member, x->signature,
                                 l->signature);
                if (x->flags != l->flags)
                        add_diff(diffs, "%s: access is '%s' in the XML but '%s' live", member,
                                 access_to_string(x->flags), access_to_string(l->flags));
                compare_annotations(diffs, member, x->annotations, l->annotations);
        }
        for (guint i = 0; live->properties && live->properties[i]; i++)
                if (!find_property(xml, live->properties[i]->name))
                        add_diff(diffs, "property %s.%s: is live but not in the XML", iface,
                                 live->properties[i]->name);
}

/*
 * Every non-standard interface of the XML must be on exactly one of the live
 * objects and match it; every non-standard interface of a live object must be
 * in the XML. Returns one human-readable line per difference (empty: equal).
 */
static GPtrArray *compare_contract(GDBusNodeInfo *xml, const LiveObject *objects, gsize n_objects) {
        GPtrArray *diffs = g_ptr_array_new_with_free_func(g_free);

        for (guint i = 0; xml->interfaces && xml->interfaces[i]; i++) {
                GDBusInterfaceInfo *x = xml->interfaces[i], *found = NULL;
                const char *found_on = NULL;

                if (is_standard_interface(x->name))
                        continue;
                for (gsize k = 0; k < n_objects; k++) {
                        GDBusInterfaceInfo *l = g_dbus_node_info_lookup_interface(objects[k].node, x->name);
                        if (!l)
                                continue;
                        if (found)
                                add_diff(diffs, "interface %s: is on more than one live object (%s, %s)", x->name,
                                         found_on, objects[k].path);
                        else {
                                found = l;
                                found_on = objects[k].path;
                        }
                }
                if (!found)
                        add_diff(diffs, "interface %s: is in the XML but on no live object", x->name);
                else
                        compare_interface(diffs, x, found);
        }

        for (gsize k = 0; k < n_objects; k++) {
                GDBusNodeInfo *node = objects[k].node;
                for (guint i = 0; node->interfaces && node->interfaces[i]; i++) {
                        const char *name = node->interfaces[i]->name;
                        if (!is_standard_interface(name) && !g_dbus_node_info_lookup_interface(xml, name))
                                add_diff(diffs, "interface %s: is live (on %s) but not in the XML", name,
                                         objects[k].path);
                }
        }
        return diffs;
}

static char *read_contract_xml(void) {
        const char *root = g_getenv("CW_SOURCE_ROOT");
        g_autoptr(GError) error = NULL;
        char *contents = NULL;

        /* meson test sets it (tests/integration/meson.build); without it there is nothing to check. */
        if (!root)
                g_error("CW_SOURCE_ROOT is not set; run this test through 'meson test'");
        g_autofree char *path = g_build_filename(root, CW_XML_RELATIVE_PATH, NULL);
        g_file_get_contents(path, &contents, NULL, &error);
        g_assert_no_error(error);
        return contents;
}

static GDBusNodeInfo *parse_xml(const char *what, const char *xml) {
        g_autoptr(GError) error = NULL;
        GDBusNodeInfo *node = g_dbus_node_info_new_for_xml(xml, &error);

        if (!node)
                g_error("cannot parse %s: %s", what, error->message);
        return node;
}

static GDBusNodeInfo *introspect(CwFixture *f, const char *path) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = cw_call(f->conn, path, "org.freedesktop.DBus.Introspectable", "Introspect", NULL,
                                        "(s)", &error);
        const char *xml;

        g_assert_no_error(error);
        g_variant_get(r, "(&s)", &xml);
        return parse_xml(path, xml);
}

/* A process object must exist for its interface to be introspectable at all. */
static char *spawn_sleeper(CwFixture *f) {
        const char *argv[] = { "sleep", "30", NULL };
        return cw_spawn(f, argv, NULL, NULL);
}

static void kill_and_release(CwFixture *f, const char *path) {
        g_autofree char *state = NULL;
        int status;

        cw_kill(f->conn, path, 0, &state, &status);
        g_assert_cmpstr(state, ==, "killed");
        g_assert_cmpint(status, ==, 9);
        cw_release(f->conn, path);
}

static void report_diffs(GPtrArray *diffs) {
        for (guint i = 0; i < diffs->len; i++)
                g_test_message("%s", (const char *) g_ptr_array_index(diffs, i));
}

static void test_matches_live(CwFixture *f, gconstpointer data) {
        g_autofree char *path = spawn_sleeper(f);
        g_autoptr(GDBusNodeInfo) manager = introspect(f, CW_MANAGER_PATH);
        g_autoptr(GDBusNodeInfo) process = introspect(f, path);
        g_autofree char *xml_text = read_contract_xml();
        g_autoptr(GDBusNodeInfo) xml = parse_xml(CW_XML_RELATIVE_PATH, xml_text);
        const LiveObject live[] = { { CW_MANAGER_PATH, manager }, { path, process } };

        /* Each interface on the object the contract puts it on, not merely somewhere. */
        g_assert_nonnull(g_dbus_node_info_lookup_interface(manager, CW_MANAGER_IFACE));
        g_assert_null(g_dbus_node_info_lookup_interface(manager, CW_PROCESS_IFACE));
        g_assert_nonnull(g_dbus_node_info_lookup_interface(process, CW_PROCESS_IFACE));
        g_assert_null(g_dbus_node_info_lookup_interface(process, CW_MANAGER_IFACE));
        /* Guard against a vacuous pass: the XML must describe both interfaces. */
        g_assert_nonnull(g_dbus_node_info_lookup_interface(xml, CW_MANAGER_IFACE));
        g_assert_nonnull(g_dbus_node_info_lookup_interface(xml, CW_PROCESS_IFACE));

        g_autoptr(GPtrArray) diffs = compare_contract(xml, live, G_N_ELEMENTS(live));
        report_diffs(diffs);
        if (diffs->len > 0)
                g_test_fail_printf("%u difference(s) between %s and the live introspection (listed above)",
                                   diffs->len, CW_XML_RELATIVE_PATH);

        kill_and_release(f, path);
}

/*
 * Proof that the comparison can fail: each entry edits the contract XML in
 * memory (a regex that must match exactly once) and names the member whose
 * difference must then be reported.
 */
typedef struct Mutation {
        const char *pattern;
        const char *replacement;
        const char *expect; /* prefix of a reported difference */
} Mutation;

static const Mutation mutations[] = {
        { "name=\"timeout_usec\"", "name=\"timeout\"", "method org.childwatch.ChildWatch1.Process.Kill:" },
        { "type=\"a\\(ouss\\)\"", "type=\"a(ous)\"", "method org.childwatch.ChildWatch1.Manager.ListProcesses:" },
        { "(<arg type=\"i\" name=\"signal\" direction=\"in\"/>)(\\s*)(<arg type=\"b\" name=\"process_group\" "
          "direction=\"in\"/>)",
          "\\3\\2\\1", "method org.childwatch.ChildWatch1.Process.SendSignal:" },
        { "(<arg type=\"h\" name=\"pidfd\" direction=)\"out\"", "\\1\"in\"",
          "method org.childwatch.ChildWatch1.Process.GetPidfd:" },
        { "\\s*<method name=\"Release\">\\s*</method>", "", "method org.childwatch.ChildWatch1.Process.Release:" },
        { "(<interface name=\"org\\.childwatch\\.ChildWatch1\\.Manager\">)", "\\1<method name=\"Frobnicate\"/>",
          "method org.childwatch.ChildWatch1.Manager.Frobnicate:" },
        { "(<method name=\"Wait\">)", "\\1<annotation name=\"org.freedesktop.DBus.Deprecated\" value=\"true\"/>",
          "method org.childwatch.ChildWatch1.Process.Wait:" },
        { "(<signal name=\"StateChanged\">\\s*<arg type=\"s\" name=\"event\"/>\\s*<arg type=)\"i\"", "\\1\"u\"",
          "signal org.childwatch.ChildWatch1.Process.StateChanged:" },
        { "(?s)\\s*<signal name=\"StateChanged\">.*?</signal>", "",
          "signal org.childwatch.ChildWatch1.Process.StateChanged:" },
        { "(<property name=\"Version\" type=\"s\" access=)\"read\"", "\\1\"readwrite\"",
          "property org.childwatch.ChildWatch1.Manager.Version:" },
        { "<property name=\"Pid\" type=\"u\"", "<property name=\"Pid\" type=\"i\"",
          "property org.childwatch.ChildWatch1.Process.Pid:" },
        { "(?s)\\s*<property name=\"KillOnRelease\".*?</property>", "",
          "property org.childwatch.ChildWatch1.Process.KillOnRelease:" },
        { "(<property name=\"Features\"[^>]*>)\\s*<annotation[^>]*/>", "\\1",
          "property org.childwatch.ChildWatch1.Manager.Features:" },
        { "(<property name=\"State\"[^>]*>)",
          "\\1<annotation name=\"org.freedesktop.DBus.Property.EmitsChangedSignal\" value=\"true\"/>",
          "property org.childwatch.ChildWatch1.Process.State:" },
        { "(<property name=\"Id\"[^>]*>\\s*<annotation name=\"[^\"]*\" value=)\"const\"", "\\1\"invalidates\"",
          "property org.childwatch.ChildWatch1.Process.Id:" },
        { "(<interface name=\"org\\.childwatch\\.ChildWatch1\\.Process)\"", "\\1.Old\"",
          "interface org.childwatch.ChildWatch1.Process.Old:" },
};

static char *mutate(const char *xml, const Mutation *m) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GRegex) regex = g_regex_new(m->pattern, 0, 0, &error);
        g_autoptr(GMatchInfo) match = NULL;
        guint n = 0;

        g_assert_no_error(error);
        /* Exactly once: a pattern that also hit a doc comment, or nothing, would prove nothing. */
        for (g_regex_match(regex, xml, 0, &match); g_match_info_matches(match); g_match_info_next(match, NULL))
                n++;
        if (n != 1)
                g_error("mutation pattern '%s' matches %u times in the XML, not once", m->pattern, n);
        char *out = g_regex_replace(regex, xml, -1, 0, m->replacement, 0, &error);
        g_assert_no_error(error);
        return out;
}

static void test_detects_drift(CwFixture *f, gconstpointer data) {
        g_autofree char *path = spawn_sleeper(f);
        g_autoptr(GDBusNodeInfo) manager = introspect(f, CW_MANAGER_PATH);
        g_autoptr(GDBusNodeInfo) process = introspect(f, path);
        g_autofree char *xml_text = read_contract_xml();
        const LiveObject live[] = { { CW_MANAGER_PATH, manager }, { path, process } };

        for (gsize i = 0; i < G_N_ELEMENTS(mutations); i++) {
                const Mutation *m = &mutations[i];
                g_autofree char *mutated = mutate(xml_text, m);
                g_autoptr(GDBusNodeInfo) xml = parse_xml("the mutated XML", mutated);
                g_autoptr(GPtrArray) diffs = compare_contract(xml, live, G_N_ELEMENTS(live));
                gboolean named = FALSE;

                g_test_message("mutation '%s' -> '%s':", m->pattern, m->replacement);
                report_diffs(diffs);
                for (guint k = 0; k < diffs->len; k++)
                        if (g_str_has_prefix(g_ptr_array_index(diffs, k), m->expect))
                                named = TRUE;
                if (!named)
                        g_test_fail_printf("mutation '%s' was not reported as a difference of '%s'", m->pattern,
                                           m->expect);
        }

        kill_and_release(f, path);
}

int main(int argc, char **argv) {
        cw_test_init(&argc, &argv);
        g_test_add("/introspect/xml-matches-live", CwFixture, NULL, cw_fixture_setup, test_matches_live,
                   cw_fixture_teardown);
        g_test_add("/introspect/detects-drift", CwFixture, NULL, cw_fixture_setup, test_detects_drift,
                   cw_fixture_teardown);
        return g_test_run();
}
