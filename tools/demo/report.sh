#!/usr/bin/env bash
# The demo's report: from traffic.csv (one row per request), traffic.json, history.json (the
# loop's decisions) and versions.json, writes report.md with tables and two PNG plots (gnuplot):
# accuracy over time per version (a rolling window of 50 probe answers) and latency.
set -euo pipefail
out=$(cd "$1" && pwd)
what=${2:-Accuracy on 2003 probe mail}      # the plot's measure
route=${3:-/v1/models/spam-bag:predict}     # the route whose latency is plotted
csv="$out/traffic.csv"
[ -s "$csv" ] || { echo "report: $csv is missing or empty" >&2; exit 1; }

# Rolling accuracy per version on probe mail only (texts nobody gave feedback on, so nothing the
# loop trained on): version<TAB>seconds<TAB>accuracy over its last 50 probe answers.
rm -f "$out"/acc-v*.tsv
awk -F, -v out="$out" 'NR > 1 && $4 == 1 { v = $3; n[v]++; k = n[v] % 50;
  s[v] += $8 - (n[v] > 50 ? w[v, k] : 0); w[v, k] = $8; m = n[v] < 50 ? n[v] : 50;
  print v "\t" $1 "\t" s[v] / m > (out "/acc-v" v ".tsv") }' "$csv"
plots=""
shopt -s nullglob
for f in "$out"/acc-v*.tsv; do
  v=${f##*/acc-v}; v=${v%.tsv}
  plots+="${plots:+, }'$f' using 2:3 with lines lw 2 title 'v$v'"
done
[ -n "$plots" ] || plots="0 notitle" # no probe answers: an empty plot, not a failed report
gnuplot <<GP
set terminal pngcairo size 960,480
set output '$out/accuracy.png'
set title '$what, per version (rolling 50 answers)'
set xlabel 'seconds since the traffic started'
set ylabel 'accuracy'
set yrange [0:1]
set key bottom right
set grid
plot $plots
set output '$out/latency.png'
set title 'Latency of $route'
set ylabel 'ms'
set datafile separator ','
set autoscale y
set logscale y
plot '$csv' every ::1 using 1:9 with points pt 7 ps 0.3 title 'request'
GP

{
  echo "# Feedback loop report"
  echo
  echo "Generated $(date -u +%Y-%m-%dT%H:%M:%SZ) from \`$out\`."
  echo
  echo "## Traffic"
  echo
  python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
t = json.load(open(f"{out}/traffic.json"))
print(f"{t['sent']} requests ({t['failed']} failed), {t['feedback']} with feedback; "
      f"first version v{t['first_version']}, last v{t['last_version']}; "
      f"latency p50 {t['latency_ms']['p50']:.1f} ms, p99 {t['latency_ms']['p99']:.1f} ms.")
if t["promoted_after_s"] >= 0:
    print(f"A newer version served every request from {t['promoted_after_s']:.0f} s on.")
print()
print("On probe requests (never given feedback, never trained on):")
print()
print("| version | probe requests | correct / liked | share |")
print("|---|---|---|---|")
for v, p in sorted(t["probe_accuracy"].items(), key=lambda x: int(x[0])):
    print(f"| v{v} | {p['count']} | {p['correct']} | {p['accuracy']:.3f} |")
print()
print("## What the loop decided, and why")
print()
print("| round | decision | why |")
print("|---|---|---|")
for d in json.load(open(f"{out}/history.json")):
    why = str(d.get("why", "")).replace("|", "/")
    print(f"| {d.get('round', '')} | {d.get('decision', '')} | {why} |")
PY
  if [ -s "$out/alerts.json" ]; then
    echo
    echo "## Alerts (the monitor, over the analyst's gauges)"
    echo
    python3 - "$out/alerts.json" <<'PY'
import datetime, json, sys
a = json.load(open(sys.argv[1]))
def when(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%H:%M:%S")
print("| time | rule | state | value |")
print("|---|---|---|---|")
for e in a.get("events", []):
    print(f"| {when(e.get('at', 0))} | {e.get('rule', '')} | {e.get('state', '')} | {e.get('value', '')} |")
PY
  fi
  echo
  echo "## Plots"
  echo
  echo "![accuracy over time](accuracy.png)"
  echo
  echo "![latency](latency.png)"
} >"$out/report.md"
echo "report: $out/report.md, accuracy.png, latency.png"
