#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run every benchmark and write docs/performance.md and docs/performance.png.

Builds the given build directory if needed (meson setup + ninja), runs
`meson test --benchmark --suite bench -v` there (or `--suite bench-quick` with
--quick), collects the `@result <name> <value> <unit>` lines the benchmarks
print, and writes a table (each figure with its goal from issue 7 and whether
it is met, the machine, the date, how to reproduce) and a gnuplot plot.
A row `@result <name> skipped -` is listed as skipped and left out of the plot.

    tests/bench/run-benchmarks.py [--build-dir DIR] [--quick]
    tests/bench/run-benchmarks.py --from-log LOG    # only rewrite the report

Standard library only; needs gnuplot (Debian: gnuplot-nox) for the plot.
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULT_RE = re.compile(r"@result\s+(\S+)\s+(\S+)\s+(\S+)\s*$")

# name -> (comparison, goal). From issue 7; figures without a goal are reported as measured.
GOALS = {
    "latency.overhead_pings": ("<=", 1.5),
    "latency.flatpak_over_service": (">=", 1.7),
    "scale.rss_per_child": ("<=", 4),
    "scale.latency_ratio": ("<=", 1.2),
    "scale.kill_all": ("<=", 2),
    "signal.ratio": ("<=", 1.2),
    "throughput.ratio.c1": (">=", 0.8),
    "throughput.ratio.c4": (">=", 0.8),
    "throughput.ratio.c16": (">=", 0.8),
    "idle.wakeups_per_s": ("<=", 0),
}

# What a figure is, for the table; a name not listed here is shown as it is.
DESCRIPTIONS = {
    "latency.limit": "in-process posix_spawn + pidfd_open + waitid (the limit)",
    "latency.service": "Spawn(/bin/true) -> terminal StateChanged",
    "latency.flatpak": "flatpak HostCommand -> HostCommandExited",
    "latency.ping": "Peer.Ping round trip to the service",
    "latency.overhead_pings": "service overhead (service - limit) in Ping round trips",
    "latency.flatpak_over_service": "flatpak HostCommand / service",
    "scale.latency": "spawn latency with all children watched",
    "scale.rss_per_child": "service RSS per watched child",
    "scale.latency_ratio": "spawn latency with all children watched / with none",
    "scale.children": "children watched concurrently",
    "scale.kill_all": "simultaneous kill until every terminal event arrived",
    "scale.cpu_per_event": "service CPU per event",
    "orphan": "an orphan's end: Spawn until the orphan's terminal StateChanged",
    "orphan.scale": "the same with all children watched",
    "orphan.scale_ratio": "orphan end with all children watched / with none",
    "signal.sendsignal": "SendSignal round trip",
    "signal.ping": "Peer.Ping on the same connection",
    "signal.ratio": "SendSignal / Ping",
    "signal.stop_event": "stop event latency",
    "signal.continue_event": "continue event latency",
    "throughput.inprocess": "in-process spawns/s (N threads)",
    "throughput.service": "spawns/s through the service (N clients)",
    "throughput.ratio": "service / in-process",
    "throughput.cpu_service_per_spawn": "service CPU per spawn",
    "throughput.cpu_daemon_per_spawn": "dbus-daemon CPU per spawn",
    "throughput.cpu_client_per_spawn": "client CPU per spawn",
    "idle.children": "children watched while idle",
    "idle.seconds": "idle measurement",
    "idle.wakeups_per_s": "service wakeups per second while idle",
    "idle.helper_wakeups_per_s": "spawn helper wakeups per second while idle",
    "activation.cold_start": "bus activation: first Ping until its reply",
    "activation.baseline": "Ping to the running service (same bus, same call)",
    "activation.trivial": "cold start of a trivial sd-bus service",
    "activation.cold_over_trivial": "childwatchd cold start / trivial service's",
}

SECTIONS = [
    ("latency.", "Latency (issue 7, item 1)"),
    ("scale.", "Scale (item 3)"),
    ("signal.", "Signals (item 4)"),
    ("orphan.", "Orphans"),
    ("throughput.", "Throughput (item 2)"),
    ("idle.", "Idle (item 5)"),
    ("activation.", "Activation (item 5)"),
]

# Why a goal is missed, where that was established; printed under the table when it is.
KNOWN_CAUSES = {
    "throughput.ratio": (
        "Spawns overlap since Spawn is answered from the event loop and one spawn helper runs "
        "per CPU (before: one helper, the loop blocked until each exec; 0.70/0.43/0.42 at "
        "1/4/16 clients). With one client nothing can overlap: every spawn pays a bus round "
        "trip, the signals and a Release on top of the exec. With 4 and 16 clients the run is "
        "CPU-bound on the 2 vCPUs: per spawn the service uses ~70-80 µs of CPU, dbus-daemon "
        "90-150 µs and the clients 50-190 µs (the `throughput.cpu_*` rows), because "
        "InterfacesAdded, StateChanged and PropertiesChanged are broadcast and reach every "
        "client; in-process a spawn of /bin/true costs ~555 µs of CPU and nothing else."
    ),
    "latency.overhead_pings": (
        "The floor is about one Ping: the call and the terminal signal each cross dbus-daemon "
        "once. A scheduler trace (`perf sched`) of one spawn puts the service's own share at "
        "~105 µs: ~40 µs from reading the call to handing it to a helper, ~25 µs in the helper "
        "up to clone(), ~40 µs from the exit's wakeup to StateChanged. In 35-40% of spawns the "
        "helper, and with it the Spawn reply, waits behind the new program on the same CPU "
        "(+50-100 µs). Reaping in the exit callback, building the object signals without "
        "sd-bus's object-tree walk and merging the environment once cut the service's "
        "instructions per spawn by 27% (callgrind) but the latency only by ~2%: that work "
        "runs in parallel with the child."
    ),
}


def describe(name):
    for key in sorted(DESCRIPTIONS, key=len, reverse=True):
        if name == key or name.startswith(key + "."):
            suffix = name[len(key):].lstrip(".")
            text = DESCRIPTIONS[key]
            if suffix.startswith("c") and suffix[1:].isdigit():
                text += f", {suffix[1:]} client{'s' if suffix[1:] != '1' else ''}"
            elif suffix:
                text += f" ({suffix})"
            return text
    return ""


def parse_results(text):
    """name -> (value or None when skipped, unit); the last line of a name wins."""
    results = {}
    for line in text.splitlines():
        m = RESULT_RE.search(line)
        if not m:
            continue
        name, value, unit = m.groups()
        try:
            v = float(value)
            if not math.isfinite(v):
                v = None
        except ValueError:
            v = None
        results[name] = (v, unit if v is not None else "")
    return results


def fmt(v):
    if v is None:
        return "skipped"
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def goal_status(name, value):
    if name not in GOALS:
        return "", ""
    op, goal = GOALS[name]
    text = f"{op.replace('<=', '≤').replace('>=', '≥')} {fmt(goal)}"
    if value is None:
        return text, "—"
    met = value <= goal if op == "<=" else value >= goal
    return text, "yes" if met else "**no**"


def run(cmd, **kwargs):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, **kwargs)


def run_benchmarks(build_dir, suite, log_path):
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        if run(["meson", "setup", build_dir, SOURCE_ROOT]).returncode != 0:
            sys.exit("meson setup failed")
    if run(["ninja", "-C", build_dir]).returncode != 0:
        sys.exit("build failed")
    cmd = ["meson", "test", "-C", build_dir, "--benchmark", "--suite", suite, "-v"]
    print("+", " ".join(cmd), flush=True)
    # Streamed to the terminal and kept: the @result lines come from this output.
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
        return proc.wait()


def read_first_line(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
        return out.splitlines()[0].strip() if out else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine_info():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                    break
    except OSError:
        pass
    distro = "?"
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return [
        ("CPU", f"{model}, {os.cpu_count()} CPUs"),
        ("memory", mem),
        ("system", f"{distro}, kernel {platform.release()}"),
        ("dbus-daemon", read_first_line(["dbus-daemon", "--version"])),
        ("libsystemd", read_first_line(["pkg-config", "--modversion", "libsystemd"])),
        ("GLib", read_first_line(["pkg-config", "--modversion", "glib-2.0"])),
    ]


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


# ---- plot ----

def value(results, name):
    v = results.get(name, (None, ""))[0]
    return "NaN" if v is None else repr(v)


def write_plot(results, png_path):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("warning: gnuplot not found (apt-get install gnuplot-nox): no plot", file=sys.stderr)
        return False
    with tempfile.TemporaryDirectory(prefix="bench-plot-") as tmp:
        lat = os.path.join(tmp, "latency.dat")
        with open(lat, "w") as f:
            for label, key in (("limit", "limit"), ("service", "service"), ("flatpak", "flatpak"), ("Ping", "ping")):
                f.write(f'"{label}" {value(results, f"latency.{key}.p50")} {value(results, f"latency.{key}.p99")}\n')
        thr = os.path.join(tmp, "throughput.dat")
        with open(thr, "w") as f:
            for n in (1, 4, 16):
                f.write(f"{n} {value(results, f'throughput.service.c{n}')} "
                        f"{value(results, f'throughput.inprocess.c{n}')} {value(results, f'throughput.ratio.c{n}')}\n")
        act = os.path.join(tmp, "activation.dat")
        with open(act, "w") as f:
            f.write(f'"childwatchd cold" {value(results, "activation.cold_start.p50")} '
                    f'{value(results, "activation.cold_start.p99")}\n')
            f.write(f'"trivial cold" {value(results, "activation.trivial.p50")} '
                    f'{value(results, "activation.trivial.p99")}\n')
            f.write(f'"Ping (running)" {value(results, "activation.baseline.p50")} NaN\n')

        def has(names):
            return any(results.get(n, (None,))[0] is not None for n in names)

        def top(names):
            """A y range that holds the largest bar or point with room for the key."""
            vals = [results[n][0] for n in names if results.get(n, (None,))[0] is not None]
            return f"set yrange [0:{max(vals) * 1.25 if vals and max(vals) > 0 else 1}]"

        # Histograms: one slot per row of the data file, whatever is missing.
        def bars(rows):
            return f"set xrange [-0.6:{rows - 0.4}]"

        # A panel without any number gets a note instead of a plot (gnuplot refuses to
        # autoscale an empty one).
        def empty_panel(title):
            return (f'set title "{title}"\nunset xtics\nunset ytics\nset xrange [0:1]\nset yrange [0:1]\n'
                    'set label 1 "no data" at 0.5,0.5 center\nplot 1/0 notitle\nunset label 1\n'
                    'set xtics\nset ytics\nset autoscale\n')

        script = [
            'set terminal pngcairo size 1400,1000 font "sans,11"',
            f'set output "{png_path}"',
            'set datafile missing "NaN"',
            'set multiplot layout 2,2 title "childwatch benchmarks (one run; ratios are within the run)"',
            "set grid ytics",
            "set key top left",
        ]
        lat_names = [f"latency.{k}.{p}" for k in ("limit", "service", "flatpak", "ping") for p in ("p50", "p99")]
        if has(lat_names):
            script += [
                'set title "Spawn /bin/true until its end is known (latency)"',
                "set style data histograms", "set style histogram clustered gap 1",
                "set style fill solid 0.8 border -1", "set boxwidth 0.9", bars(4),
                # p99 on a loaded machine can be 50x the p50: a log scale keeps both readable.
                'set ylabel "µs (log scale)"', "set logscale y", "set yrange [10:*]",
                f'plot "{lat}" using 2:xtic(1) title "p50", "" using 3 title "p99"',
                "unset logscale y", "unset style data", "set autoscale",
            ]
        else:
            script.append(empty_panel("Spawn latency"))
        thr_names = [f"throughput.{k}.c{n}" for k in ("service", "inprocess") for n in (1, 4, 16)]
        if has(thr_names):
            script += [
                'set title "Throughput: spawns of /bin/true per second"', 'set xlabel "concurrent clients / threads"',
                'set ylabel "spawns/s"', "set logscale x 2", "set xtics (1, 4, 16)", "set xrange [0.8:20]",
                top(thr_names),
                f'plot "{thr}" using 1:2 with linespoints lw 2 pt 7 title "through childwatchd", '
                f'"" using 1:3 with linespoints lw 2 pt 5 title "in-process"',
                "unset logscale x", "unset xlabel", "set xtics autofreq", "set autoscale",
            ]
            script += [
                'set title "Throughput ratio service / in-process (goal ≥ 0.8)"',
                'set xlabel "concurrent clients / threads"', 'set ylabel "ratio"', "set logscale x 2",
                "set xtics (1, 4, 16)", "set xrange [0.8:20]", "set yrange [0:1.2]",
                f'plot "{thr}" using 1:4 with linespoints lw 2 pt 7 title "measured", '
                '0.8 with lines dt 2 lw 2 title "goal"',
                "unset logscale x", "unset xlabel", "set xtics autofreq", "set autoscale",
            ]
        else:
            script.append(empty_panel("Throughput"))
            script.append(empty_panel("Throughput ratio"))
        act_names = ["activation.cold_start.p50", "activation.trivial.p50", "activation.baseline.p50"]
        if has(act_names):
            script += [
                'set title "Bus activation: first call until reply"', 'set ylabel "ms"',
                "set style data histograms", "set style histogram clustered gap 1",
                "set style fill solid 0.8 border -1", "set boxwidth 0.9",
                top(act_names + ["activation.cold_start.p99", "activation.trivial.p99"]), bars(3),
                f'plot "{act}" using 2:xtic(1) title "p50", "" using 3 title "p99"',
            ]
        else:
            script.append(empty_panel("Bus activation"))
        script.append("unset multiplot")
        gp = os.path.join(tmp, "plot.gp")
        with open(gp, "w") as f:
            f.write("\n".join(script) + "\n")
        r = subprocess.run([gnuplot, gp], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"warning: gnuplot failed:\n{r.stderr}", file=sys.stderr)
            return False
        return True


# ---- report ----

def write_report(results, md_path, png_name, info, command, status_line):
    lines = [
        "# childwatch: performance",
        "",
        "<!-- Generated by tests/bench/run-benchmarks.py; edit that script, not this file. -->",
        "",
        "Figures of one run of every benchmark in `tests/bench/` (issue 7). Each figure is",
        "measured side by side with what it is compared against, in the same run, and the",
        "comparisons are ratios: the machine is shared and noisy, so absolute numbers vary",
        "from run to run much more than the ratios do.",
        "",
        f"![benchmark plot]({png_name})",
        "",
        "## Run",
        "",
        "| | |",
        "|---|---|",
        f"| date | {info['date']} |",
    ]
    lines += [f"| {k} | {v} |" for k, v in info["machine"]]
    lines += [
        f"| load average before / after | {info['load_before']} / {info['load_after']} |",
        f"| duration | {info['duration']} |",
        f"| result | {status_line} |",
        "",
        "Reproduce (from the source tree; needs the Debian packages of `.ci/install-deps`, `flatpak`",
        "for the peer comparison, and `gnuplot-nox` for the plot):",
        "",
        "<!-- not-tested: runs every benchmark, several minutes -->",
        "```sh",
        command,
        "```",
        "",
        "Each benchmark alone: `meson test -C BUILD --benchmark --suite bench -v NAME`; the smoke",
        "runs (< 30 s each) are the `bench-quick` suite.",
        "",
    ]

    missed_causes = set()
    done = set()
    for prefix, title in SECTIONS + [("", "Other figures")]:
        names = [n for n in results if n.startswith(prefix) and n not in done]
        if not names:
            continue
        lines += [f"## {title}", "", "| figure | what | value | unit | goal | met |", "|---|---|---:|---|---|---|"]
        for n in names:
            v, unit = results[n]
            goal, met = goal_status(n, v)
            if met == "**no**":
                for key in KNOWN_CAUSES:
                    if n.startswith(key):
                        missed_causes.add(key)
            lines.append(f"| `{n}` | {describe(n)} | {fmt(v)} | {unit} | {goal} | {met} |")
            done.add(n)
        lines.append("")
    if not results:
        lines += ["No `@result` lines were found in the benchmark output.", ""]

    lines += [
        "## How the figures are taken",
        "",
        "- **Latency, scale, signals** (`bench-spawn`, `bench-signal`): samples of each kind taken",
        "  in rounds, the order rotated per round; p50/p99 by nearest rank.",
        "- **Throughput** (`bench-load`): N clients, each its own sd-bus connection and thread,",
        "  each with one spawn in flight (`Spawn` -> terminal `StateChanged` -> `Release`, the",
        "  Release reply not awaited); only spawns whose terminal event arrived inside the phase",
        "  count. The in-process rate runs N threads of `posix_spawn` + `pidfd_open` + `waitid`.",
        "  Phases of 1 s alternate between the two, 6 rounds per N; the ratio is the median of",
        "  the per-round ratios. CPU per spawn of the service, the bus daemon and the clients",
        "  comes from the same phases.",
        "- **Idle**: 100 `sleep` children (half exit-only, half with stop/continue events), then",
        "  10 s without calls; wakeups are the service's voluntary + involuntary context switches",
        "  (`/proc/PID/task/*/status`).",
        "- **Activation**: a private bus whose activation file starts `childwatchd` directly; the",
        "  first `Peer.Ping` until its reply, the service stopped after each sample; compared with",
        "  a Ping to the running service and with the cold start of a trivial sd-bus service that",
        "  only owns a name.",
        "",
    ]
    if missed_causes:
        lines += ["## Goals missed: what is known", ""]
        for key in sorted(missed_causes):
            lines += [f"- `{key}`: {KNOWN_CAUSES[key]}", ""]

    with open(md_path, "w") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(SOURCE_ROOT, "build"),
                    help="meson build directory (set up and built if needed; default: build)")
    ap.add_argument("--quick", action="store_true", help="run the bench-quick suite (smoke runs) instead")
    ap.add_argument("--from-log", metavar="LOG", help="do not run anything: take the results from LOG")
    ap.add_argument("--output-dir", default=os.path.join(SOURCE_ROOT, "docs"),
                    help="where performance.md and performance.png go (default: docs)")
    args = ap.parse_args()

    suite = "bench-quick" if args.quick else "bench"
    build_dir = os.path.abspath(args.build_dir)
    started = time.monotonic()
    info = {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine_info(),
        "load_before": loadavg(),
    }
    if args.from_log:
        with open(args.from_log) as f:
            text = f.read()
        # What the run recorded about itself, if it was ours.
        try:
            with open(args.from_log + ".json") as f:
                info, rc = json.load(f)
        except (OSError, ValueError):
            rc = 0
            info["date"] += f" (report from {os.path.basename(args.from_log)})"
            info["load_after"] = loadavg()
            info["duration"] = "?"
    else:
        log_path = os.path.join(build_dir, "meson-logs", "benchmarks-output.txt")
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        rc = run_benchmarks(build_dir, suite, log_path)
        with open(log_path) as f:
            text = f.read()
        info["load_after"] = loadavg()
        info["duration"] = f"{time.monotonic() - started:.0f} s"
        with open(log_path + ".json", "w") as f:
            json.dump([info, rc], f)

    results = parse_results(text)
    os.makedirs(args.output_dir, exist_ok=True)
    md_path = os.path.join(args.output_dir, "performance.md")
    png_path = os.path.join(args.output_dir, "performance.png")
    # How to reproduce, not which directory this run happened to use.
    command = "tests/bench/run-benchmarks.py --build-dir build"
    if args.quick:
        command += " --quick"
    status = "all benchmarks passed" if rc == 0 else f"**some benchmark failed (meson test exit {rc})**"
    plotted = write_plot(results, png_path)
    write_report(results, md_path, os.path.basename(png_path) if plotted else "performance.png", info, command,
                 status)
    print(f"wrote {md_path}" + (f" and {png_path}" if plotted else " (no plot)"))
    met = [n for n in results if goal_status(n, results[n][0])[1] == "**no**"]
    if met:
        print("goals missed: " + ", ".join(met))
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
