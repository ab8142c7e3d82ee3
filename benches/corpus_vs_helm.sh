#!/usr/bin/env bash
# Benchmark: every chart of the public corpus (../shared/charts-corpus), default values, rendered
# by `todoplan render` (release build) and by `helm template`, each a whole process, interleaved.
# Prints wall and CPU time per render and the ratio per chart.
#
#   benches/corpus_vs_helm.sh [ITERATIONS]        (default 20)
#   EXTRA_CHARTS="DIR ..." benches/corpus_vs_helm.sh 5   (more charts, e.g. argo-cd with its
#                                                          redis-ha dependency in charts/)
#
# Needs the pinned helm first on PATH: scripts/testenv build && eval "$(scripts/testenv env)"
set -euo pipefail
cd "$(dirname "$0")/.."
iterations="${1:-20}"
corpus="${TODOPLAN_CHARTS_CORPUS:-../shared/charts-corpus}"
command -v helm >/dev/null || { echo "error: helm is not on PATH (eval \"\$(scripts/testenv env)\")" >&2; exit 1; }
cargo build --release --quiet --bin todoplan
python3 - "$iterations" "$PWD/target/release/todoplan" "$corpus" <<'PY'
import glob, os, resource, subprocess, sys, time
iterations, todoplan, corpus = int(sys.argv[1]), sys.argv[2], sys.argv[3]
charts = sorted(os.path.dirname(p) for p in glob.glob(corpus + "/*/*/Chart.yaml"))
# EXTRA_CHARTS: more chart directories, space-separated (an argo-cd-sized chart, say)
charts += [os.path.abspath(c) for c in os.environ.get("EXTRA_CHARTS", "").split()]
def measure(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return p.returncode == 0, wall, cpu
print(f"{'chart':45} {'helm wall':>10} {'todoplan':>10} {'helm cpu':>10} {'todoplan':>10} {'wall ×':>7} {'cpu ×':>7}")
tot = [0.0, 0.0, 0.0, 0.0]
for c in charts:
    h = [0.0, 0.0]; t = [0.0, 0.0]; ok = True
    for _ in range(iterations):
        okh, w, u = measure(["helm", "template", "rel", c, "--namespace", "ns"]); h[0] += w; h[1] += u
        okt, w, u = measure([todoplan, "render", "--chart", c, "--release-name", "rel", "--namespace", "ns"]); t[0] += w; t[1] += u
        ok = ok and okh == okt
    n = iterations
    name = (os.path.relpath(c, corpus) if c.startswith(os.path.abspath(corpus)) or not os.path.isabs(c) else os.path.basename(c)) + ("" if ok else " (refused)")
    print(f"{name:45} {h[0]/n*1000:8.1f}ms {t[0]/n*1000:8.1f}ms {h[1]/n*1000:8.1f}ms {t[1]/n*1000:8.1f}ms {h[0]/t[0]:6.1f}× {h[1]/max(t[1],1e-9):6.1f}×")
    for i, v in enumerate((h[0], t[0], h[1], t[1])): tot[i] += v / n
    # one line per chart for scripts/bench-all: benchmark|size|todoplan|peer name|peer|ratio
    if os.environ.get("BENCH_RATIOS"):
        with open(os.environ["BENCH_RATIOS"], "a") as f:
            f.write(f"corpus render vs helm template (wall ms)|{name}|{t[0]/n*1000:.1f}|helm template|{h[0]/n*1000:.1f}|{h[0]/t[0]:.2f}\n")
print(f"{'all charts, one render each':45} {tot[0]*1000:8.1f}ms {tot[1]*1000:8.1f}ms {tot[2]*1000:8.1f}ms {tot[3]*1000:8.1f}ms {tot[0]/tot[1]:6.1f}× {tot[2]/max(tot[3],1e-9):6.1f}×")
print(f"load average {os.getloadavg()[0]:.1f}, {iterations} renders per chart and tool")
PY
