/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * libFuzzer target for the method handlers: arbitrary method calls, sent as
 * real sd-bus messages through a real dbus-daemon to the real service code,
 * which runs in this process (manager_start() on a private bus).
 *
 * Each input is a short script of operations: calls to every method and
 * property of every interface (ours and the standard ones) on the manager, on
 * live, ended and released process objects and on paths that name nothing,
 * with the right signature or a wrong one, arguments built from the input and
 * descriptors of many kinds (pidfds of our own children, of processes that
 * are no descendants of the service, of the service itself, of a reaped
 * process; pipes, sockets, memfds, O_PATH); clients that go away with calls
 * in flight; processes killed behind the service's back.
 *
 * What is checked besides crashes, sanitizer reports and leaks:
 *   - every call that expects a reply gets exactly one, and no error but the
 *     documented ones (API.md: ours, InvalidArgs, AccessDenied, UnknownObject,
 *     and sd-bus's own for unknown members, properties and interfaces);
 *   - after each input every process is killed and must end, every object
 *     goes, every Wait and Kill is answered, no child of ours is left (zombie
 *     or not) and the service holds exactly the descriptors it held before.
 * A broken check is a __builtin_trap(), so libFuzzer saves the input.
 *
 * Only programs from a fixed list are spawned, and only processes this fuzzer
 * made are adopted or signalled: the inputs must never reach anything else on
 * the machine.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "bus-errors.h"
#include "child.h"
#include "cli.h"
#include "client.h"
#include "fuzz-builder.h"
#include "fuzz-outside.h"
#include "manager.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/proc-stat.h"
#include "util/time-util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define USEC_PER_SEC UINT64_C(1000000)
#define streq(a, b) (strcmp((a), (b)) == 0)

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);

#define N_CLIENTS 2
#define OPS_MAX 16
#define SPAWNS_MAX 4
#define OBJECTS_MAX 16
#define SLEEPERS_MAX 3
/* Much longer than anything should take; hitting one is a hang in the service. */
#define FLUSH_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define CALL_TIMEOUT_USEC (60 * USEC_PER_SEC)

#define MANAGER_IFACE CW_MANAGER_INTERFACE
#define PROCESS_IFACE CW_PROCESS_INTERFACE

#define fuzz_check(cond)                                                                   \
        do {                                                                               \
                if (!(cond)) {                                                             \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
                        __builtin_trap();                                                  \
                }                                                                          \
        } while (0)

typedef struct Method {
        const char *interface;
        const char *member;
        const char *signature;
        bool may_wait; /* answered only once the process ends */
} Method;

static const Method methods[] = {
        { MANAGER_IFACE, "Spawn", "asa{sv}", false },
        { MANAGER_IFACE, "Adopt", "ha{sv}", false },
        { MANAGER_IFACE, "AdoptPid", "ua{sv}", false },
        { MANAGER_IFACE, "GetProcess", "u", false },
        { MANAGER_IFACE, "ListProcesses", "", false },
        { PROCESS_IFACE, "SendSignal", "ib", false },
        { PROCESS_IFACE, "Kill", "t", true },
        { PROCESS_IFACE, "Wait", "", true },
        { PROCESS_IFACE, "GetPidfd", "", false },
        { PROCESS_IFACE, "Release", "", false },
        { PROCESS_IFACE, "GetPty", "", false },
        { "org.freedesktop.DBus.Properties", "Get", "ss", false },
        { "org.freedesktop.DBus.Properties", "GetAll", "s", false },
        { "org.freedesktop.DBus.Properties", "Set", "ssv", false },
        { "org.freedesktop.DBus.Introspectable", "Introspect", "", false },
        { "org.freedesktop.DBus.Peer", "Ping", "", false },
        { "org.freedesktop.DBus.Peer", "GetMachineId", "", false },
        { "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", "", false },
};

static const char *const interfaces[] = {
        MANAGER_IFACE, PROCESS_IFACE, "org.freedesktop.DBus.Properties", "org.freedesktop.DBus.Peer",
        "org.childwatch.ChildWatch1", "", "org.childwatch.ChildWatch1.Nope",
};

static const char *const properties[] = {
        "Version", "Features", "Id", "Pid", "Argv", "Description", "Owner", "OwnerUid", "Uid", "Adopted",
        "State", "ExitStatus", "StartTimestamp", "ExitTimestamp", "WatchBus", "KillOnRelease", "Parent",
        "Descendants", "Tree", "TreeRunning", "UserTimeUSec", "SystemTimeUSec", "TreeUserTimeUSec",
        "TreeSystemTimeUSec", "TreeMemoryPeak", "Pty", "", "state", "Nope",
};

/* The only programs an input can start: harmless, each reaching another path of the service
 * (exit codes, signals, stops, orphans, a process that ignores SIGTERM, exec failures). */
static const char *const *const programs[] = {
        (const char *const[]) { "/bin/true", NULL },
        (const char *const[]) { "/bin/false", NULL },
        (const char *const[]) { "true", NULL },
        (const char *const[]) { "/bin/sleep", "3600", NULL },
        (const char *const[]) { "/bin/sleep", "0.005", NULL },
        (const char *const[]) { "/bin/sh", "-c", "kill -STOP $$; exit 3", NULL },
        (const char *const[]) { "/bin/sh", "-c", "sleep 3600 & exit 0", NULL },
        (const char *const[]) { "/bin/sh", "-c", "trap '' TERM INT HUP; exec sleep 3600", NULL },
        (const char *const[]) { "/bin/sh", "-c", "kill -SEGV $$", NULL },
        (const char *const[]) { "/bin/sh", "-c", "exit 77", NULL },
        (const char *const[]) { "/nonexistent/program", NULL },
        (const char *const[]) { "nonexistent-program", NULL },
        (const char *const[]) { "/etc/passwd", NULL },
        (const char *const[]) { "/tmp", NULL },
        (const char *const[]) { "", NULL },
};

typedef struct Object {
        char path[64];
        pid_t pid;
        unsigned client; /* that created it */
} Object;

/* Terminal StateChanged signals, by path. Kept apart from the objects: a signal on client 0
 * may come before client 1 has the Spawn() reply that names its object. */
typedef struct Terminal {
        char path[64];
        unsigned n;
} Terminal;

typedef struct Fuzzer {
        sd_event *event;
        Manager *manager;
        Outside *outside;
        Config config;
        sd_bus *clients[N_CLIENTS];
        unsigned generation[N_CLIENTS]; /* bumped when a client is closed on purpose */
        int fd_pool[9];
        int dead_pidfd;   /* of a process that ended and was reaped */
        int self_pidfd;
        int helper_pidfd; /* the service's spawn helper, or -EBADF */
        bool debug;

        /* Per input. */
        Object objects[OBJECTS_MAX];
        unsigned n_objects;
        Terminal terminals[OBJECTS_MAX * 4]; /* orphans and objects of no-reply spawns too */
        unsigned n_terminals;
        /* Paths a Release() may have removed (it succeeded, or nobody asked): by path, since
         * it may name an object whose Spawn() reply has not come yet. */
        char released[OPS_MAX][128];
        unsigned n_released;
        unsigned n_spawns;
        int sleepers[SLEEPERS_MAX]; /* pidfds of foreign processes made for this input */
        pid_t sleeper_pids[SLEEPERS_MAX];
        unsigned n_sleepers;
        unsigned n_pending;      /* calls whose reply is due without anything ending */
        unsigned n_pending_wait; /* Wait and Kill, answered once their process ends */
} Fuzzer;

static Fuzzer fuzzer;

typedef struct PendingCall {
        unsigned client;
        unsigned generation;
        bool may_wait;
        bool creates_object;
        char releases[128]; /* the path, for Release() */
} PendingCall;

static void note_released(const char *path) {
        if (fuzzer.n_released < ELEMENTSOF(fuzzer.released))
                snprintf(fuzzer.released[fuzzer.n_released++], sizeof(fuzzer.released[0]), "%s", path);
}

static bool was_released(const char *path) {
        for (unsigned i = 0; i < fuzzer.n_released; i++)
                if (streq(fuzzer.released[i], path))
                        return true;
        return false;
}

static Terminal *find_terminal(const char *path) {
        for (unsigned i = 0; i < fuzzer.n_terminals; i++)
                if (streq(fuzzer.terminals[i].path, path))
                        return &fuzzer.terminals[i];
        return NULL;
}

/* Client 0 counts the terminal events of every object this input created. */
static int on_state_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *event;
        int32_t status;
        (void) userdata;
        (void) ret_error;

        fuzz_check(sd_bus_message_read(m, "si", &event, &status) >= 0);
        const char *path = sd_bus_message_get_path(m);
        if (fuzzer.debug)
                fprintf(stderr, "  signal: %s StateChanged(%s, %d)\n", path, event, (int) status);
        if (!streq(event, "exited") && !streq(event, "killed") && !streq(event, "dumped") &&
            !streq(event, "vanished"))
                return 0;
        Terminal *t = find_terminal(path);
        if (!t && fuzzer.n_terminals < ELEMENTSOF(fuzzer.terminals)) {
                t = &fuzzer.terminals[fuzzer.n_terminals++];
                *t = (Terminal) {};
                snprintf(t->path, sizeof(t->path), "%s", path);
        }
        if (t)
                t->n++;
        return 0;
}

/* ---- descriptors and pids an input may use ---- */

static bool is_our_child(pid_t pid) {
        ProcStat st;
        return pid > 0 && proc_stat_read(pid, &st) >= 0 && st.ppid == getpid();
}

/* A pidfd of a process one of this input's spawns started, if it is still our child (so its
 * pid cannot be another process's by now). */
static int object_pidfd(unsigned k) {
        if (fuzzer.n_objects == 0)
                return -EBADF;
        pid_t pid = fuzzer.objects[k % fuzzer.n_objects].pid;
        int fd = pidfd_open(pid, 0);
        if (fd >= 0 && !is_our_child(pid))
                fd = safe_close(fd);
        return fd;
}

static int request_sleeper(void) {
        if (fuzzer.n_sleepers >= SLEEPERS_MAX)
                return fuzzer.n_sleepers > 0 ? (int) fuzzer.n_sleepers - 1 : -ENOSPC;
        int fd;
        pid_t pid = outside_spawn_sleeper(fuzzer.outside, &fd);
        if (pid <= 0) {
                fprintf(stderr, "Cannot start a process outside the service: %s\n", strerror(-pid));
                __builtin_trap();
        }
        fuzzer.sleepers[fuzzer.n_sleepers] = fd;
        fuzzer.sleeper_pids[fuzzer.n_sleepers] = pid;
        return (int) fuzzer.n_sleepers++;
}

/* Descriptors in messages: sd-bus duplicates them, so the ones handed out here stay ours.
 * Fresh pidfds of children are kept until the end of the input. */
static int transient_fds[OPS_MAX * 8];
static unsigned n_transient_fds;

static int keep_transient(int fd) {
        if (fd < 0)
                return fuzzer.fd_pool[0];
        if (n_transient_fds >= ELEMENTSOF(transient_fds)) {
                safe_close(fd);
                return fuzzer.fd_pool[0];
        }
        transient_fds[n_transient_fds++] = fd;
        return fd;
}

static int pick_fd_of_kind(FuzzInput *in) {
        uint8_t b = fuzz_take_byte(in);

        switch (b % 16) {
        case 9:
                return fuzzer.dead_pidfd;
        case 10:
                return fuzzer.self_pidfd;
        case 11:
                return fuzzer.helper_pidfd >= 0 ? fuzzer.helper_pidfd : fuzzer.fd_pool[0];
        case 12:
        case 13: {
                int k = request_sleeper();
                return k >= 0 ? fuzzer.sleepers[k] : fuzzer.fd_pool[0];
        }
        case 14:
        case 15:
                return keep_transient(object_pidfd(b / 16));
        default:
                return fuzzer.fd_pool[b % 16];
        }
}

/* Without pidfds (under valgrind) the pidfd kinds are /dev/null. */
static int pick_fd(FuzzInput *in) {
        int fd = pick_fd_of_kind(in);
        return fd >= 0 ? fd : fuzzer.fd_pool[0];
}

/* AdoptPid's target: only processes of this fuzzer's making, never a pid picked at random. */
static uint32_t pick_adopt_pid(FuzzInput *in) {
        uint8_t b = fuzz_take_byte(in);

        switch (b % 8) {
        case 0:
                return 0;
        case 1:
                return (uint32_t) getpid();
        case 2:
                return fuzzer.helper_pidfd >= 0 ? (uint32_t) spawn_pool_helper_pid(fuzzer.manager->spawn_pool, 0) : 0;
        case 3:
        case 4: {
                int k = request_sleeper();
                return k >= 0 ? (uint32_t) fuzzer.sleeper_pids[k] : 0;
        }
        case 5:
                if (fuzzer.n_objects > 0 && is_our_child(fuzzer.objects[b / 8 % fuzzer.n_objects].pid))
                        return (uint32_t) fuzzer.objects[b / 8 % fuzzer.n_objects].pid;
                return 0;
        case 6:
                return 4194305; /* above the largest pid_max */
        default:
                return UINT32_MAX - (b & 1);
        }
}

/* ---- building a call ---- */

static int append_argv(sd_bus_message *m, FuzzInput *in) {
        uint8_t b = fuzz_take_byte(in);
        int r;

        r = sd_bus_message_open_container(m, 'a', "s");
        if (r < 0)
                return r;
        if (b == 0xff) /* an empty argv */
                return sd_bus_message_close_container(m);
        const char *const *p = programs[b % ELEMENTSOF(programs)];
        for (; *p; p++) {
                r = sd_bus_message_append_basic(m, 's', *p);
                if (r < 0)
                        return r;
        }
        /* Extra arguments only for programs that ignore them. */
        if (b % ELEMENTSOF(programs) <= 1) {
                unsigned n = fuzz_take_count(in);
                for (unsigned i = 0; i < n && in->size > 0; i++) {
                        r = fuzz_append_value(m, "s", in, 1);
                        if (r < 0)
                                return r;
                }
        }
        return sd_bus_message_close_container(m);
}

static int append_signal_number(sd_bus_message *m, FuzzInput *in) {
        static const int32_t signals[] = { 0, SIGTERM, SIGKILL, SIGSTOP, SIGCONT, SIGUSR1, SIGHUP, 64, 65, -1 };
        uint8_t b = fuzz_take_byte(in);
        int32_t v = b < 0xf0 ? signals[b % ELEMENTSOF(signals)] : (int32_t) fuzz_take_u32(in);
        return sd_bus_message_append_basic(m, 'i', &v);
}

static int append_timeout(sd_bus_message *m, FuzzInput *in) {
        static const uint64_t timeouts[] = { 0, 1000, 20000, UINT64_MAX };
        uint8_t b = fuzz_take_byte(in);
        uint64_t v = b < 0xf0 ? timeouts[b % ELEMENTSOF(timeouts)] : fuzz_take_u64(in);
        return sd_bus_message_append_basic(m, 't', &v);
}

static int append_name(sd_bus_message *m, const char *const *names, size_t n, FuzzInput *in) {
        uint8_t b = fuzz_take_byte(in);
        if (b < 0xf0)
                return sd_bus_message_append_basic(m, 's', names[b % n]);
        return fuzz_append_value(m, "s", in, 1);
}

/* The length of the complete type that @p starts with; 0 if it is none. */
static size_t complete_type_length(const char *p) {
        if (*p == 'a') {
                size_t l = complete_type_length(p + 1);
                return l > 0 ? 1 + l : 0;
        }
        if (*p == '(' || *p == '{') {
                size_t l = 1;
                while (p[l] && p[l] != ')' && p[l] != '}') {
                        size_t k = complete_type_length(p + l);
                        if (k == 0)
                                return 0;
                        l += k;
                }
                return p[l] ? l + 1 : 0;
        }
        return *p ? 1 : 0;
}

/* Splits @signature into complete types and appends each; the arguments that reach something
 * outside the service (argv, the pid of AdoptPid) are chosen from safe lists only. */
static int append_arguments(sd_bus_message *m, const char *member, const char *signature, FuzzInput *in) {
        unsigned index = 0;
        int r;

        for (const char *p = signature; *p; index++) {
                size_t l = complete_type_length(p);
                char type[32];
                if (l == 0 || l >= sizeof(type))
                        return -EINVAL;
                memcpy(type, p, l);
                type[l] = '\0';
                p += l;

                if (streq(member, "Spawn") && index == 0 && streq(type, "as"))
                        r = append_argv(m, in);
                else if (streq(member, "AdoptPid") && index == 0 && streq(type, "u")) {
                        uint32_t pid = pick_adopt_pid(in);
                        r = sd_bus_message_append_basic(m, 'u', &pid);
                } else if (streq(type, "a{sv}") && index == 1)
                        r = fuzz_append_options(m, in);
                else if (streq(member, "SendSignal") && streq(type, "i"))
                        r = append_signal_number(m, in);
                else if (streq(member, "Kill") && streq(type, "t"))
                        r = append_timeout(m, in);
                else if ((streq(member, "Get") || streq(member, "Set")) && index < 2 && streq(type, "s"))
                        r = index == 0 ? append_name(m, interfaces, ELEMENTSOF(interfaces), in)
                                       : append_name(m, properties, ELEMENTSOF(properties), in);
                else if (streq(member, "GetAll") && streq(type, "s"))
                        r = append_name(m, interfaces, ELEMENTSOF(interfaces), in);
                else
                        r = fuzz_append_value(m, type, in, 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Signatures other than a method's own: empty, one or two complete types. */
static const char *const wrong_signatures[] = {
        "", "s", "u", "i", "t", "h", "b", "as", "a{sv}", "ib", "bi", "asa{sv}", "ua{sv}", "ha{sv}", "sa{sv}",
        "asas", "a{sv}as", "ss", "ssv", "sv", "uu", "hh", "ai", "v",
};

static void object_path_for(FuzzInput *in, char *buf, size_t size) {
        uint8_t b = fuzz_take_byte(in);

        switch (b % 8) {
        case 0:
        case 1:
        case 2:
                if (fuzzer.n_objects > 0) {
                        snprintf(buf, size, "%s", fuzzer.objects[b / 8 % fuzzer.n_objects].path);
                        return;
                }
                __attribute__((fallthrough));
        case 3:
                snprintf(buf, size, "%s", CW_MANAGER_PATH);
                return;
        case 4:
                /* Ids around the ones given out: ended, released, or not yet given. */
                snprintf(buf, size, CHILD_PATH_PREFIX "/%" PRIu64,
                         fuzzer.manager->next_id + 2 - (uint64_t) (b / 8 % 5));
                return;
        case 5: {
                static const char *const odd[] = {
                        CHILD_PATH_PREFIX, CHILD_PATH_PREFIX "/0", CHILD_PATH_PREFIX "/01",
                        CHILD_PATH_PREFIX "/18446744073709551615", CHILD_PATH_PREFIX "/18446744073709551616",
                        CHILD_PATH_PREFIX "/1/2", "/", "/org/childwatch",
                };
                snprintf(buf, size, "%s", odd[b / 8 % ELEMENTSOF(odd)]);
                return;
        }
        default:
                snprintf(buf, size, CHILD_PATH_PREFIX "/%" PRIu64, fuzz_take_u64(in));
                return;
        }
}

/* ---- replies ---- */

static bool error_is_documented(const char *name) {
        static const char *const names[] = {
                CW_ERROR_SPAWN_FAILED,
                CW_ERROR_NO_SUCH_PROCESS,
                CW_ERROR_NOT_RUNNING,
                CW_ERROR_ALREADY_WATCHED,
                CW_ERROR_LIMIT_EXCEEDED,
                SD_BUS_ERROR_INVALID_ARGS,
                SD_BUS_ERROR_ACCESS_DENIED,
                SD_BUS_ERROR_UNKNOWN_OBJECT,
                /* sd-bus's own answers to what no vtable has, and to Set on a read-only property. */
                SD_BUS_ERROR_UNKNOWN_METHOD,
                SD_BUS_ERROR_UNKNOWN_INTERFACE,
                SD_BUS_ERROR_UNKNOWN_PROPERTY,
                SD_BUS_ERROR_PROPERTY_READ_ONLY,
                /* GetPty of a process without one; pidfd methods on a system without pidfds. */
                SD_BUS_ERROR_NOT_SUPPORTED,
        };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(name, names[i]))
                        return true;
        return false;
}

static void remember_object(sd_bus_message *reply, unsigned client) {
        const char *path;
        uint32_t pid;

        if (fuzzer.n_objects >= OBJECTS_MAX)
                return;
        if (sd_bus_message_read(reply, "ou", &path, &pid) < 0)
                return;
        Object *o = &fuzzer.objects[fuzzer.n_objects++];
        *o = (Object) { .pid = (pid_t) pid, .client = client };
        snprintf(o->path, sizeof(o->path), "%s", path);
}

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PendingCall *call = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        (void) ret_error;
        if (call->may_wait)
                fuzzer.n_pending_wait--;
        else
                fuzzer.n_pending--;

        if (e) {
                /* A client we closed ourselves gets its calls cut off by sd-bus; so does one
                 * that broke its own connection (more descriptors in a message than the kernel
                 * or dbus-daemon pass on: the bus daemon then drops the sender). */
                bool cut_off = call->generation != fuzzer.generation[call->client] ||
                               (streq(e->name, SD_BUS_ERROR_NO_REPLY) &&
                                sd_bus_is_open(fuzzer.clients[call->client]) <= 0);
                if (fuzzer.debug)
                        fprintf(stderr, "  reply: %s: %s\n", e->name, e->message ?: "");
                if (!cut_off && !error_is_documented(e->name)) {
                        fprintf(stderr, "undocumented error %s: %s\n", e->name, e->message ?: "");
                        __builtin_trap();
                }
        } else {
                if (fuzzer.debug)
                        fprintf(stderr, "  reply: %s\n", sd_bus_message_get_signature(reply, true));
                if (call->creates_object)
                        remember_object(reply, call->client);
                if (call->releases[0])
                        note_released(call->releases);
        }
        free(call);
        return 0;
}

static void client_reconnect(unsigned k);

/* A client that lost its connection (see on_reply()) gets a new one. */
static void client_ensure_open(unsigned k) {
        if (sd_bus_is_open(fuzzer.clients[k]) <= 0)
                client_reconnect(k);
}

static void send_call(unsigned client, FuzzInput *in) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        uint8_t which = fuzz_take_byte(in), flags = fuzz_take_byte(in);
        const Method *method = &methods[which % ELEMENTSOF(methods)];
        const char *interface = method->interface, *member = method->member, *signature = method->signature;
        char path[128];
        int r;

        if (which >= 0xf8) {
                /* A member nobody has, or one of ours on the wrong interface. */
                member = which & 1 ? "Nope" : method->member;
                interface = which & 2 ? MANAGER_IFACE : PROCESS_IFACE;
        }
        if (streq(member, "Spawn") && fuzzer.n_spawns >= SPAWNS_MAX)
                member = "Ping", interface = "org.freedesktop.DBus.Peer", signature = "";
        if (flags & 0x01)
                interface = NULL; /* sd-bus then looks the member up on every interface */
        if ((flags & 0x06) == 0x06)
                signature = wrong_signatures[fuzz_take_byte(in) % ELEMENTSOF(wrong_signatures)];

        if (streq(method->interface, MANAGER_IFACE) && !(flags & 0x08))
                snprintf(path, sizeof(path), "%s", CW_MANAGER_PATH);
        else
                object_path_for(in, path, sizeof(path));

        client_ensure_open(client);
        r = sd_bus_message_new_method_call(fuzzer.clients[client], &m, CW_BUS_NAME, path, interface, member);
        fuzz_check(r >= 0);
        r = append_arguments(m, member, signature, in);
        if (r < 0)
                return; /* sd-bus would not build it: nothing a client could send */

        const Method *dispatched = NULL;
        for (size_t i = 0; i < ELEMENTSOF(methods); i++)
                if (streq(member, methods[i].member))
                        dispatched = &methods[i];
        if (dispatched && streq(dispatched->member, "Spawn"))
                fuzzer.n_spawns++;

        if (fuzzer.debug)
                fprintf(stderr, "call %u: %s %s.%s(%s)%s\n", client, path, interface ?: "*", member, signature,
                        flags & 0x10 ? " no-reply" : "");

        if (flags & 0x10) {
                /* Without a reply we cannot tell whether a Release() worked: then it may have
                 * ended the object before its process did, so no terminal event is owed. */
                if (dispatched && streq(dispatched->member, "Release"))
                        note_released(path);
                r = sd_bus_message_set_expect_reply(m, false);
                fuzz_check(r >= 0);
                /* A refusal (too many descriptors for one message, the daemon having dropped
                 * this client for the previous one) is the client's own business, as below. */
                (void) sd_bus_send(fuzzer.clients[client], m, NULL);
                return;
        }

        PendingCall *call = calloc(1, sizeof(PendingCall));
        fuzz_check(call);
        *call = (PendingCall) {
                .client = client,
                .generation = fuzzer.generation[client],
                .may_wait = dispatched && dispatched->may_wait,
                .creates_object = dispatched && streq(dispatched->interface, MANAGER_IFACE) &&
                                  strncmp(dispatched->member, "Adopt", 5) == 0,
        };
        if (dispatched && streq(dispatched->member, "Spawn"))
                call->creates_object = true;
        if (dispatched && streq(dispatched->member, "Release"))
                snprintf(call->releases, sizeof(call->releases), "%s", path);
        r = sd_bus_call_async(fuzzer.clients[client], NULL, m, on_reply, call, CALL_TIMEOUT_USEC);
        if (r < 0) {
                /* sd-bus refused to send it (too many fds for one message, say). */
                free(call);
                return;
        }
        if (call->may_wait)
                fuzzer.n_pending_wait++;
        else
                fuzzer.n_pending++;
}

/* A Ping on each client: the service handles one connection's calls in order, so once the
 * replies are in, so are the calls sent without expecting one. */
static void sync_clients(void) {
        for (unsigned k = 0; k < N_CLIENTS; k++) {
                PendingCall *call = calloc(1, sizeof(PendingCall));
                int r = -ENOTCONN;

                fuzz_check(call);
                /* Sending may be what tells sd-bus that the daemon dropped this client. */
                for (unsigned attempt = 0; attempt < 2 && r < 0; attempt++) {
                        client_ensure_open(k);
                        *call = (PendingCall) { .client = k, .generation = fuzzer.generation[k] };
                        r = sd_bus_call_method_async(fuzzer.clients[k], NULL, CW_BUS_NAME, CW_MANAGER_PATH,
                                                     "org.freedesktop.DBus.Peer", "Ping", on_reply, call, "");
                }
                fuzz_check(r >= 0);
                fuzzer.n_pending++;
        }
}

/* ---- the loop ---- */

static unsigned count_unknown_children(bool describe);

static void run_until(bool (*done)(void), uint64_t timeout_usec) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_usec;

        while (!done()) {
                if (now_usec(CLOCK_MONOTONIC) > deadline) {
                        Manager *m = fuzzer.manager;
                        fprintf(stderr,
                                "timed out: %u calls and %u Wait/Kill unanswered, %zu running, %zu objects, "
                                "%zu trees, %zu leaders, %u live trees, %u unknown children\n",
                                fuzzer.n_pending, fuzzer.n_pending_wait, hashmap_size(&m->children_by_pid),
                                hashmap_size(&m->children_by_id), hashmap_size(&m->trees),
                                hashmap_size(&m->leaders), m->n_live_trees, count_unknown_children(false));
                        (void) count_unknown_children(true);
                        __builtin_trap();
                }
                int r = sd_event_run(fuzzer.event, 10 * 1000);
                if (r < 0) {
                        fprintf(stderr, "event loop: %s\n", strerror(-r));
                        __builtin_trap();
                }
        }
}

static bool calls_answered(void) {
        return fuzzer.n_pending == 0;
}

/* Dispatches what is ready now, without waiting for anything. */
static void drain(void) {
        for (unsigned i = 0; i < 100000; i++) {
                int r = sd_event_run(fuzzer.event, 0);
                fuzz_check(r >= 0);
                if (r == 0)
                        return;
        }
        fprintf(stderr, "the event loop never ran dry\n");
        __builtin_trap();
}

/* Our children besides the spawn helpers, as the kernel lists them (all threads). */
static unsigned count_unknown_children(bool describe) {
        _cleanup_(closedirp) DIR *d = opendir("/proc/self/task");
        unsigned n = 0;
        struct dirent *de;

        fuzz_check(d);
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char path[sizeof("/proc/self/task//children") + sizeof(de->d_name)], buf[4096];
                snprintf(path, sizeof(path), "/proc/self/task/%s/children", de->d_name);
                _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                ssize_t k = read(fd, buf, sizeof(buf) - 1);
                if (k <= 0)
                        continue;
                buf[k] = '\0';
                for (char *p = buf, *end; *p; p = end) {
                        long pid = strtol(p, &end, 10);
                        if (end == p)
                                break;
                        if (spawn_pool_is_helper(fuzzer.manager->spawn_pool, (pid_t) pid))
                                continue;
                        n++;
                        if (describe) {
                                ProcStat st = {};
                                Child *c = manager_get_child_by_pid(fuzzer.manager, (pid_t) pid);
                                (void) proc_stat_read((pid_t) pid, &st);
                                fprintf(stderr, "child %ld (%s): state %c, %s\n", pid, st.comm, st.state ? st.state : '?',
                                        c ? (child_is_running(c) ? "known, running" : "known, ended") : "unknown");
                                if (c) {
                                        int enabled = -1;
                                        if (c->child_source)
                                                (void) sd_event_source_get_enabled(c->child_source, &enabled);
                                        siginfo_t si = {};
                                        int w = waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT);
                                        fprintf(stderr, "  source %s (enabled %d, pending %d), object %d, owner %s, kill_on_release %d, "
                                                "events %#x, waitid %d si_pid %d code %d\n",
                                                c->child_source ? "yes" : "no", enabled,
                                                c->child_source ? sd_event_source_get_pending(c->child_source) : -1,
                                                c->has_object, c->owner ? "yes" : "no", c->kill_on_release, (unsigned) c->events,
                                                w, (int) si.si_pid, si.si_code);
                                }
                        }
                }
        }
        return n;
}

static void kill_sleeper(unsigned i) {
        /* By pid only without pidfds: the keeper reaps its children only once they are
         * killed, so the pid is still theirs. */
        if (fuzzer.sleepers[i] >= 0)
                (void) pidfd_send_signal(fuzzer.sleepers[i], SIGKILL, NULL, 0);
        else
                (void) kill(fuzzer.sleeper_pids[i], SIGKILL);
}

static void kill_everything(void) {
        Manager *m = fuzzer.manager;
        Hashmap *maps[] = { &m->children_by_pid, &m->trees, &m->leaders };
        Child *c;

        for (size_t k = 0; k < ELEMENTSOF(maps); k++)
                HASHMAP_FOREACH(c, maps[k], i)
                        if (child_is_alive(c))
                                (void) child_kill(c, 0);
        for (unsigned i = 0; i < fuzzer.n_sleepers; i++)
                kill_sleeper(i);
}

static bool everything_ended(void) {
        Manager *m = fuzzer.manager;

        kill_everything();
        /* Ended group leaders stay in m->leaders while their object exists (their group can
         * still be signalled); they go with the objects, below. A Spawn whose caller expects
         * no reply (or has left) is not pending here, but the service still answers it from
         * its loop and makes its object then: wait for those too. */
        if (m->n_spawning > 0 || hashmap_size(&m->children_by_pid) > 0 || m->n_live_trees > 0 || fuzzer.n_pending_wait > 0 ||
            fuzzer.n_pending > 0)
                return false;
        if (count_unknown_children(false) > 0) {
                /* An orphan the service has not listed yet: a scan is due. */
                manager_scan_orphans(m);
                return false;
        }
        return true;
}

static bool objects_gone(void) {
        Manager *m = fuzzer.manager;
        Child *c;

        /* child_release() changes the map: take the first one each time (bounded, since each
         * round drops an object or the loop gives up below). */
        for (size_t n = hashmap_size(&m->children_by_id); n > 0; n--)
                HASHMAP_FOREACH(c, &m->children_by_id, i) {
                        if (fuzzer.debug)
                                fprintf(stderr, "release %" PRIu64 ": pid %d state %d\n", c->id, (int) c->pid,
                                        (int) c->state);
                        child_release(c);
                        break;
                }
        /* Clients that left are forgotten once the bus says so. */
        return hashmap_size(&m->children_by_id) == 0 && hashmap_size(&m->clients) <= N_CLIENTS &&
               hashmap_size(&m->trees) == 0 && hashmap_size(&m->leaders) == 0;
}

static unsigned count_fds(void) {
        _cleanup_(closedirp) DIR *d = opendir("/proc/self/fd");
        unsigned n = 0;
        struct dirent *de;

        fuzz_check(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        return n;
}

static void list_fds(void) {
        _cleanup_(closedirp) DIR *d = opendir("/proc/self/fd");
        struct dirent *de;

        while (d && (de = readdir(d))) {
                char path[sizeof("/proc/self/fd/") + sizeof(de->d_name)], target[256] = "";
                snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
                (void) !readlink(path, target, sizeof(target) - 1);
                fprintf(stderr, "  fd %s: %s\n", de->d_name, target);
        }
}

/* ---- clients ---- */

static int client_connect_once(unsigned k) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, outside_bus_address(fuzzer.outside));
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, true);
        if (r >= 0)
                r = sd_bus_negotiate_fds(bus, true);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r >= 0)
                r = sd_bus_attach_event(bus, fuzzer.event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0 && k == 0)
                r = sd_bus_match_signal(bus, NULL, CW_BUS_NAME, NULL, PROCESS_IFACE, "StateChanged",
                                        on_state_changed, NULL);
        if (r < 0)
                return r;
        fuzzer.clients[k] = steal_ptr(&bus);
        return 0;
}

static void client_connect(unsigned k) {
        int r = 0;

        /* A busy dbus-daemon may refuse a connection for a moment (its backlog is full after
         * many reconnects): try again for up to a second before calling it a failure. */
        for (unsigned attempt = 0; attempt < 100; attempt++) {
                r = client_connect_once(k);
                if (r >= 0)
                        return;
                (void) usleep(10 * 1000);
        }
        fprintf(stderr, "Cannot connect client %u to the private bus: %s\n", k, strerror(-r));
        __builtin_trap();
}

static void client_reconnect(unsigned k) {
        /* Pending calls are cut off with an error (generation tells on_reply to expect it). */
        fuzzer.generation[k]++;
        sd_bus *bus = fuzzer.clients[k];
        /* As if the connection broke: sd-bus then hands each pending call a NoReply error
         * (sd_bus_close() would drop them without a word). */
        (void) shutdown(sd_bus_get_fd(bus), SHUT_RDWR);
        for (unsigned i = 0; i < 100000; i++) {
                int r = sd_bus_process(bus, NULL);
                if (r < 0)
                        break; /* closed: every callback has run */
                if (r == 0)
                        (void) sd_bus_wait(bus, 1000);
        }
        fuzzer.clients[k] = sd_bus_close_unref(bus);
        client_connect(k);
}

static void run_script(const uint8_t *data, size_t size);

/* ---- setup, once per process ---- */

static void setup(void) {
        sigset_t mask;
        int r;

        fuzzer.debug = getenv("CW_FUZZ_DEBUG");
        log_set_max_level(fuzzer.debug ? LOG_DEBUG : LOG_CRIT);

        /* As main.c does: before any child exists. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGPIPE);
        fuzz_check(sigprocmask(SIG_BLOCK, &mask, NULL) >= 0);
        /* A program killed by SIGSEGV must not leave core files around. */
        struct rlimit no_core = {};
        (void) setrlimit(RLIMIT_CORE, &no_core);

        /* Before the manager makes us a subreaper, so the daemon is no descendant of ours. */
        r = outside_start(&fuzzer.outside);
        if (r < 0) {
                fprintf(stderr, "Cannot start the private bus: %s\n", strerror(-r));
                __builtin_trap();
        }

        /* A pidfd that stays of a reaped process: a sleeper, killed and reaped by the keeper. */
        int k = request_sleeper();
        fuzz_check(k == 0);
        fuzzer.dead_pidfd = fuzzer.sleepers[0];
        kill_sleeper(0);
        fuzzer.n_sleepers = 0;

        int pipefd[2], pair[2];
        fuzz_check(pipe2(pipefd, O_CLOEXEC) >= 0);
        fuzz_check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) >= 0);
        fuzzer.fd_pool[0] = open("/dev/null", O_RDWR | O_CLOEXEC);
        fuzzer.fd_pool[1] = pipefd[0];
        fuzzer.fd_pool[2] = pipefd[1];
        fuzzer.fd_pool[3] = pair[0];
        fuzzer.fd_pool[4] = pair[1];
        fuzzer.fd_pool[5] = open("/", O_PATH | O_CLOEXEC);
        fuzzer.fd_pool[6] = eventfd(0, EFD_CLOEXEC);
        fuzzer.fd_pool[7] = memfd_create("fuzz", MFD_CLOEXEC);
        fuzzer.fd_pool[8] = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        for (size_t i = 0; i < ELEMENTSOF(fuzzer.fd_pool); i++)
                fuzz_check(fuzzer.fd_pool[i] >= 0);
        fuzz_set_fd_picker(pick_fd);

        fuzzer.config = (Config) {
                .bus = BUS_KIND_ADDRESS,
                .address = strdup(outside_bus_address(fuzzer.outside)),
                .idle_timeout_usec = 0,
                .linger_usec = 0,
                .max_processes = 3, /* small, so that an input (at most 4 spawns) reaches LimitExceeded */
                .max_processes_per_user = CONFIG_DEFAULT_MAX_PROCESSES_PER_USER,
                .tree_mode = TREE_MODE_AUTO,
                .log_level = fuzzer.debug ? LOG_DEBUG : LOG_CRIT,
        };
        fuzz_check(fuzzer.config.address);
        fuzz_check(sd_event_new(&fuzzer.event) >= 0);
        r = manager_new(&fuzzer.manager, fuzzer.event, &fuzzer.config);
        fuzz_check(r >= 0);
        r = manager_start(fuzzer.manager, &fuzzer.config);
        fuzz_check(r >= 0);

        fuzzer.self_pidfd = pidfd_open(getpid(), 0);
        fuzz_check(fuzzer.self_pidfd >= 0 || errno == ENOSYS);
        pid_t helper = spawn_pool_helper_pid(fuzzer.manager->spawn_pool, 0);
        fuzzer.helper_pidfd = helper > 0 ? pidfd_open(helper, 0) : -EBADF;

        for (unsigned i = 0; i < N_CLIENTS; i++)
                client_connect(i);
        /* Once through the paths that open descriptors the service then keeps (a spawn, a
         * pty, an adoption), so that the first input starts from the steady state. */
        static const uint8_t warm_up[] = {
                0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x12, 0x00, 0x01, /* Spawn(["/bin/true"], {pty}) */
                0x00, 0x01, 0x00, 0x0c, 0x00,                         /* Adopt(a foreign process) */
                0xc0,                                                 /* the replies */
        };
        run_script(warm_up, sizeof(warm_up));
        drain();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc;
        (void) argv;
        /* Here, before libFuzzer starts its threads: they inherit the blocked SIGCHLD, so the
         * signal is never taken (and lost) by a thread that does not expect it. */
        setup();
        return 0;
}

/* Runs one input's operations, then ends and removes everything it made. */
static void run_script(const uint8_t *data, size_t size) {
        FuzzInput in = { data, size };

        unsigned generation0 = fuzzer.generation[0], generation1 = fuzzer.generation[1];

        fuzzer.n_objects = fuzzer.n_spawns = fuzzer.n_sleepers = fuzzer.n_terminals = fuzzer.n_released = 0;
        n_transient_fds = 0;

        for (unsigned op = 0; op < OPS_MAX && in.size > 0; op++) {
                uint8_t b = fuzz_take_byte(&in);

                if (b < 0xc0)
                        send_call(b & 1, &in);
                else if (b < 0xd0)
                        run_until(calls_answered, FLUSH_TIMEOUT_USEC);
                else if (b < 0xd8) {
                        /* A process ends behind the service's back. */
                        if (fuzzer.n_objects > 0) {
                                Child *c = manager_get_child_by_pid(fuzzer.manager,
                                                                    fuzzer.objects[b % fuzzer.n_objects].pid);
                                if (c && child_is_running(c)) {
                                        if (child_pidfd(c) >= 0)
                                                (void) pidfd_send_signal(child_pidfd(c), SIGKILL, NULL, 0);
                                        else if (is_our_child(c->pid))
                                                (void) kill(c->pid, SIGKILL);
                                }
                        }
                } else if (b < 0xdc)
                        client_reconnect(b & 1);
                else
                        drain();
        }

        /* Everything this input started must end, be announced and go; the calls in flight
         * first, so that they meet the processes they were sent to. */
        sync_clients();
        run_until(calls_answered, FLUSH_TIMEOUT_USEC);
        run_until(everything_ended, FLUSH_TIMEOUT_USEC);
        run_until(objects_gone, FLUSH_TIMEOUT_USEC);
        /* Signals come in order with replies: after these, client 0 has seen every one. */
        sync_clients();
        run_until(calls_answered, FLUSH_TIMEOUT_USEC);
        drain();

        /* Exactly one terminal event per process, none for one released while it ran; only at
         * most one if client 0 was away meanwhile (it missed what was sent then). */
        bool complete = fuzzer.generation[0] == generation0;
        for (unsigned i = 0; i < fuzzer.n_objects; i++) {
                Object *o = &fuzzer.objects[i];
                Terminal *t = find_terminal(o->path);
                unsigned n = t ? t->n : 0;
                bool released = was_released(o->path);
                if (n > 1 || (complete && !released && n != 1)) {
                        fprintf(stderr, "%s (pid %d, %s, of client %u; clients left: %u, %u): %u terminal events\n",
                                o->path, (int) o->pid, released ? "released" : "not released", o->client,
                                fuzzer.generation[0] - generation0, fuzzer.generation[1] - generation1, n);
                        __builtin_trap();
                }
        }
        /* Also for those whose path no reply told (orphans, spawns without a reply). */
        for (unsigned i = 0; i < fuzzer.n_terminals; i++)
                fuzz_check(fuzzer.terminals[i].n == 1);

        for (unsigned i = 0; i < fuzzer.n_sleepers; i++)
                safe_close(fuzzer.sleepers[i]);
        for (unsigned i = 0; i < n_transient_fds; i++)
                safe_close(transient_fds[i]);
        fuzzer.n_sleepers = 0;
        n_transient_fds = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!fuzzer.event)
                setup(); /* the replay driver does not call LLVMFuzzerInitialize() */

        /* Counted per input: libFuzzer opens descriptors of its own between inputs (the
         * control file of -merge=1), which are none of the service's doing. */
        unsigned before = count_fds();

        run_script(data, size);

        /* Whatever the clients did, the service is still on the bus. */
        fuzz_check(sd_bus_is_open(fuzzer.manager->bus) > 0);
        fuzz_check(hashmap_size(&fuzzer.manager->children_by_id) == 0);
        fuzz_check(fuzzer.manager->n_stop_watchers == 0);
        /* Fewer is fine (a descriptor the service keeps for reuse was dropped); a leak is more. */
        unsigned n = count_fds();
        if (n > before) {
                fprintf(stderr, "descriptors: %u before, %u after\n", before, n);
                list_fds();
                __builtin_trap();
        }
        return 0;
}
