#!/usr/bin/env bash
# Side-by-side benchmark: the reference PocketBase and Scalebase (SQLite) with the same
# collections and data, each scenario run against both in turn, and a markdown report of
# requests/s, p99 latency, the Scalebase/PocketBase ratio and each server's CPU and peak memory,
# with a PNG chart of the ratios beside it. See bench/README.md.
#
# Usage: bench/run.sh [--quick]
#   --quick   2 s per scenario on 1 000 records, report kept out of bench/results (CI smoke).
# Environment (defaults in brackets; quick-mode defaults second):
#   BENCH_DURATION [10|2]  BENCH_WARMUP [2|1]  BENCH_RECORDS [10000|1000]  BENCH_CONNECTIONS [64]
#   BENCH_HEAVY_CONNECTIONS [4]: connections of the auth-password and batch scenarios, whose
#     requests take long (a password hash; 100 inserts)
#   BENCH_ROUNDS [1]: runs per scenario and server, alternating servers; the summary shows the
#     median. Scenarios run in the given order; put write scenarios (create) last.
#   BENCH_SCENARIOS ["view list list-relation list-owner file-thumb auth-refresh auth-password
#     update create create-owner batch"] (bench/README.md lists them)
#   BENCH_NORMAL_SCENARIOS ["create"]: also run these against Scalebase with --synchronous
#     normal (PocketBase's own setting)
#   BENCH_LIMIT_SCENARIOS ["view create"]: also run these against limit_server, the least work
#     the API can do on this machine (empty: skip it)
#   BENCH_PG_URL [postgres://postgres@127.0.0.1:5432/postgres]: a PostgreSQL server (user@host:port
#     form) where the script creates, and drops afterwards, one database per PostgreSQL server;
#     when it does not answer, the PostgreSQL columns are skipped
#   BENCH_PG_SCENARIOS [all of BENCH_SCENARIOS]: also run these against `scalebase serve` on
#     PostgreSQL (column scalebase-pg)
#   BENCH_CLUSTER_SCENARIOS [all of BENCH_SCENARIOS]: also run these against
#     `scalebase cluster --min 2 --max 2` on PostgreSQL: a gateway and two nodes (column cluster)
#   BENCH_STEP_SCENARIOS [all of BENCH_SCENARIOS|"view"]: after the closed-loop runs, raise an
#     open-loop rate on pocketbase, scalebase and limit until the p99 passes the scenario's budget,
#     a request fails or the server falls behind (sb-bench step with 256 connections), then
#     offer each of them the highest rate PocketBase held (sb-bench run --rate, BENCH_DURATION
#     long): their latency at the same load; empty: skip
#   BENCH_P99_BUDGET_MS [20]: the p99 budget, except for the scenarios in BENCH_P99_BUDGETS
#     ["auth-password=250 batch=2000"] (a password hash or 100 inserts per request)
#   BENCH_STEP_FROM [0.3]: each server's first rate is this share of its closed-loop req/s in the
#     scenario (BENCH_STEP_START [1000|500]/s without one); BENCH_STEP_FACTOR [1.25|2] between
#     steps, at most BENCH_STEP_MAX [200000|4000]/s; BENCH_STEP_DURATION [3|1] s per step after
#     a 1|0.5 s warm-up
#   BENCH_PORT_BASE [28090]: the servers listen on this port and the next five (loopback)
#   BENCH_REALTIME ["1000 10000"|"200"]: subscriber counts of the realtime fan-out scenario
#     (realtime_bench: PocketBase then Scalebase per count and round; empty: skip it), each run
#     writing BENCH_REALTIME_EVENTS [100|50] records at BENCH_REALTIME_RATE
#     [5|20] per second; its server listens on BENCH_PORT_BASE+200
#   BENCH_PIN [1]: pin server and driver to different cores with taskset when there are ≥ 2
#   BENCH_SERVER_CPUS [1]  BENCH_DRIVER_CPUS [0]: the taskset CPU lists
#   BENCH_PAUSE [1]: seconds of rest between runs
#   BENCH_OUT [bench/results]: where the report goes (with --quick it is only printed unless set)
#   SCALEBASE_SHARED [../shared]: the team's shared folder (for tools/pocketbase-ref)
#   CARGO_TARGET_DIR [target]: where cargo builds
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

if [[ $quick == 1 ]]; then
  duration=${BENCH_DURATION:-2} warmup=${BENCH_WARMUP:-1} records=${BENCH_RECORDS:-1000}
else
  duration=${BENCH_DURATION:-10} warmup=${BENCH_WARMUP:-2} records=${BENCH_RECORDS:-10000}
fi
connections=${BENCH_CONNECTIONS:-64}
heavy_connections=${BENCH_HEAVY_CONNECTIONS:-4}
rounds=${BENCH_ROUNDS:-1}
scenarios=${BENCH_SCENARIOS:-view list list-relation list-owner file-thumb auth-refresh auth-password update create create-owner batch}
normal_scenarios=${BENCH_NORMAL_SCENARIOS:-create}
limit_scenarios=${BENCH_LIMIT_SCENARIOS:-view create}
pg_url=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
pg_scenarios=${BENCH_PG_SCENARIOS-$scenarios}
cluster_scenarios=${BENCH_CLUSTER_SCENARIOS-$scenarios}
p99_budget=${BENCH_P99_BUDGET_MS:-20}
p99_budgets=${BENCH_P99_BUDGETS-auth-password=250 batch=2000}
step_from=${BENCH_STEP_FROM:-0.3}
if [[ $quick == 1 ]]; then
  step_scenarios=${BENCH_STEP_SCENARIOS-view} step_start=${BENCH_STEP_START:-500}
  step_factor=${BENCH_STEP_FACTOR:-2} step_max=${BENCH_STEP_MAX:-4000}
  step_duration=${BENCH_STEP_DURATION:-1} step_warmup=0.5
else
  step_scenarios=${BENCH_STEP_SCENARIOS-$scenarios} step_start=${BENCH_STEP_START:-1000}
  step_factor=${BENCH_STEP_FACTOR:-1.25} step_max=${BENCH_STEP_MAX:-200000}
  step_duration=${BENCH_STEP_DURATION:-3} step_warmup=1
fi
port_base=${BENCH_PORT_BASE:-28090}
pause=${BENCH_PAUSE:-1}
shared=${SCALEBASE_SHARED:-../shared}
target_dir=${CARGO_TARGET_DIR:-$repo/target}
email=bench@example.com
password=bench-password-1

log() { printf '== %s\n' "$*" >&2; }

# Every server this script starts is stopped on exit, whatever the exit path.
work=$(mktemp -d "${TMPDIR:-/tmp}/sb-bench.XXXXXX")
pids=()
pg_dbs=()
cleanup() {
  local pid db
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for db in "${pg_dbs[@]}"; do
    psql "$pg_url" -qAtc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building release binaries"
cargo build --release -p scalebase -p sb-bench
scalebase="$target_dir/release/scalebase"
sbb="$target_dir/release/sb-bench"
pocketbase=$("$shared/tools/pocketbase-ref")

server_pin=()
driver_pin=()
pinning="none"
if [[ ${BENCH_PIN:-1} == 1 ]] && command -v taskset >/dev/null && (( $(nproc) >= 2 )); then
  server_pin=(taskset -c "${BENCH_SERVER_CPUS:-1}")
  driver_pin=(taskset -c "${BENCH_DRIVER_CPUS:-0}")
  pinning="server on CPU ${BENCH_SERVER_CPUS:-1}, driver on CPU ${BENCH_DRIVER_CPUS:-0} (taskset)"
fi

# Servers: label, port, command. Each gets a fresh data directory and a superuser.
labels=(pocketbase scalebase)
[[ -n "$normal_scenarios" ]] && labels+=(scalebase-normal)
[[ -n "$limit_scenarios" ]] && labels+=(limit)
pg_note="not run"
if [[ -n "$pg_scenarios$cluster_scenarios" ]]; then
  if command -v psql >/dev/null && psql "$pg_url" -qAtc 'SELECT 1' >/dev/null 2>&1; then
    [[ -n "$pg_scenarios" ]] && labels+=(scalebase-pg)
    [[ -n "$cluster_scenarios" ]] && labels+=(cluster)
    pg_note="$(psql "$pg_url" -qAtc 'SHOW server_version' 2>/dev/null) at ${pg_url#*@}"
  else
    log "PostgreSQL at $pg_url does not answer (or psql is missing): its columns are skipped"
    pg_note="skipped: $pg_url did not answer"
  fi
fi
# A fresh PostgreSQL database for a server, dropped on exit; prints its URL.
fresh_db() {
  local db="sb_bench_${1//-/_}_$$"
  psql "$pg_url" -qAtc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
  psql "$pg_url" -qAtc "CREATE DATABASE \"$db\"" >/dev/null
  pg_dbs+=("$db")
  echo "${pg_url%/*}/$db"
}
declare -A port
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Without BENCH_PORT_BASE, a taken default port moves the servers to the next free block.
for _ in $(seq 1 50); do
  busy=0
  for i in "${!labels[@]}"; do in_use $((port_base + i)) && busy=1; done
  [[ $busy == 0 || -n "${BENCH_PORT_BASE:-}" ]] && break
  port_base=$((port_base + 10))
done
for i in "${!labels[@]}"; do
  port[${labels[$i]}]=$((port_base + i))
  if in_use "${port[${labels[$i]}]}"; then
    echo "port ${port[${labels[$i]}]} is in use; set BENCH_PORT_BASE" >&2; exit 1
  fi
done

start() {
  local label=$1 dir="$work/$1"
  local addr="127.0.0.1:${port[$label]}"
  mkdir -p "$dir"
  case "$label" in
    pocketbase)
      # Explicit (empty) migration and hook folders: by default PocketBase would load any
      # pb_migrations/pb_hooks found next to its data folder.
      local pb_dirs=(--dir "$dir" --migrationsDir "$dir/pb_migrations" --hooksDir "$dir/pb_hooks")
      "$pocketbase" superuser upsert "$email" "$password" "${pb_dirs[@]}" >/dev/null
      "${server_pin[@]}" "$pocketbase" serve --http "$addr" "${pb_dirs[@]}" >"$work/$label.log" 2>&1 &
      ;;
    scalebase)
      "$scalebase" superuser upsert "$email" "$password" --dir "$dir" >/dev/null
      "${server_pin[@]}" "$scalebase" serve --http "$addr" --dir "$dir" >"$work/$label.log" 2>&1 &
      ;;
    scalebase-normal)
      "$scalebase" superuser upsert "$email" "$password" --dir "$dir" --synchronous normal >/dev/null
      "${server_pin[@]}" "$scalebase" serve --http "$addr" --dir "$dir" --synchronous normal \
        >"$work/$label.log" 2>&1 &
      ;;
    scalebase-pg)
      local db; db=$(fresh_db "$label")
      "$scalebase" superuser upsert "$email" "$password" --dir "$dir" --db "$db" >/dev/null
      "${server_pin[@]}" "$scalebase" serve --http "$addr" --dir "$dir" --db "$db" \
        >"$work/$label.log" 2>&1 &
      ;;
    cluster)
      # A gateway and two nodes on PostgreSQL, all on the server's CPUs.
      local db; db=$(fresh_db "$label")
      "$scalebase" superuser upsert "$email" "$password" --dir "$dir" --db "$db" >/dev/null
      "${server_pin[@]}" "$scalebase" cluster --min 2 --max 2 --http "$addr" --dir "$dir" --db "$db" \
        >"$work/$label.log" 2>&1 &
      ;;
    limit)
      # The least work this API's view and create can do (seeds the same posts itself).
      "${server_pin[@]}" "$target_dir/release/limit_server" --http "$addr" --db "$dir/limit.db" \
        --records "$records" >"$work/$label.log" 2>&1 &
      ;;
  esac
  pids+=($!)
}

alive() {
  local label=$1 pid=$2
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "$label exited early; its log:" >&2; cat "$work/$label.log" >&2; exit 1
  fi
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A seeding
# The pid of each server (the server itself: taskset execs it), for sb-bench run --server-pid.
declare -A server_pid
for label in "${labels[@]}"; do
  log "starting $label on 127.0.0.1:${port[$label]} and inserting $records records"
  start "$label"
  pid=${pids[-1]}
  server_pid[$label]=$pid
  if [[ $label == limit ]]; then
    for _ in $(seq 1 300); do in_use "${port[$label]}" && break; alive "$label" "$pid"; sleep 0.1; done
    seeding[$label]="seeded $records posts itself"
    continue
  fi
  if ! seeding[$label]=$("${driver_pin[@]}" "$sbb" setup --url "http://127.0.0.1:${port[$label]}" \
      --records "$records" --email "$email" --password "$password"); then
    alive "$label" "$pid"
    exit 1
  fi
  log "${seeding[$label]}"
done

results="$work/results"
mkdir -p "$results"
# The closed-loop result of each scenario/server (the last round), where the step pass starts.
declare -A closed_run
n=0
# Rounds are inside the scenario loop: a write scenario changes the data (each server by its own
# throughput), so no read scenario may run after it.
for scenario in $scenarios; do
  for round in $(seq "$rounds"); do
    for label in "${labels[@]}"; do
      if [[ $label == scalebase-normal && " $normal_scenarios " != *" $scenario "* ]]; then continue; fi
      if [[ $label == limit && " $limit_scenarios " != *" $scenario "* ]]; then continue; fi
      if [[ $label == scalebase-pg && " $pg_scenarios " != *" $scenario "* ]]; then continue; fi
      if [[ $label == cluster && " $cluster_scenarios " != *" $scenario "* ]]; then continue; fi
      n=$((n + 1))
      # A password check (a hash of tens of milliseconds) or a batch of 100 inserts takes long:
      # with 64 connections the answers to the warm-up's requests would fill the measured time,
      # and PocketBase's batches queued long enough to near its batch timeout.
      conns=$connections
      [[ $scenario == auth-password || $scenario == batch ]] && conns=$heavy_connections
      log "$scenario on $label (round $round/$rounds): ${warmup}s warm-up + ${duration}s, $conns connections"
      out="$results/$(printf '%03d' $n)-$scenario-$label.json"
      closed_run[$scenario/$label]=$out
      "${driver_pin[@]}" "$sbb" run --url "http://127.0.0.1:${port[$label]}" --label "$label" \
        --scenario "$scenario" --records "$records" --connections "$conns" \
        --duration "$duration" --warmup "$warmup" --seed "$round" \
        --server-pid "${server_pid[$label]}" >"$out"
      sleep "$pause"
    done
  done
done
# Realtime fan-out: for each subscriber count and round, PocketBase then Scalebase, each started
# by realtime_bench itself (fresh directory, loopback port port_base+200, the server pinned like
# the others, the driver on the driver's CPU). Results join the report as realtime-* rows:
# events delivered/s and write-request-to-event latency (bench/README.md).
if [[ $quick == 1 ]]; then
  realtime_counts=${BENCH_REALTIME-200} realtime_events=${BENCH_REALTIME_EVENTS:-50}
  realtime_rate=${BENCH_REALTIME_RATE:-20}
else
  realtime_counts=${BENCH_REALTIME-1000 10000} realtime_events=${BENCH_REALTIME_EVENTS:-100}
  realtime_rate=${BENCH_REALTIME_RATE:-5}
fi
realtime_pin=()
if (( ${#server_pin[@]} > 0 )); then realtime_pin=(--taskset-cpus "${BENCH_SERVER_CPUS:-1}"); fi
for subscribers in $realtime_counts; do
  for round in $(seq "$rounds"); do
    for label in pocketbase scalebase; do
      n=$((n + 1))
      realtime_bin=$scalebase; [[ $label == pocketbase ]] && realtime_bin=$pocketbase
      log "realtime fan-out on $label (round $round/$rounds): $subscribers subscribers, $realtime_events records at $realtime_rate/s"
      out="$results/$(printf '%03d' $n)-realtime-$subscribers-$label.json"
      "${driver_pin[@]}" "$target_dir/release/realtime_bench" --server "$label" --bin "$realtime_bin" \
        --label "$label" --subscribers "$subscribers" --events "$realtime_events" --rate "$realtime_rate" \
        --port "$((port_base + 200))" "${realtime_pin[@]}" --json >"$out"
      sleep "$pause"
    done
  done
done
# The open-loop pass: the highest rate each server holds within the scenario's p99 budget,
# starting from a share of what it served in the closed loop. Then every server of the pass is
# offered the highest rate PocketBase held, for the latency of each at the same load.
for scenario in $step_scenarios; do
  pocketbase_step=
  budget=$p99_budget
  for pair in $p99_budgets; do [[ ${pair%%=*} == "$scenario" ]] && budget=${pair#*=}; done
  for label in pocketbase scalebase limit; do
    if [[ " ${labels[*]} " != *" $label "* ]]; then continue; fi
    if [[ $label == limit && " $limit_scenarios " != *" $scenario "* ]]; then continue; fi
    start_rate=$step_start
    if [[ $quick != 1 && -n "${closed_run[$scenario/$label]:-}" ]]; then
      start_rate=$(python3 -c 'import json, sys
rate = json.load(open(sys.argv[1]))["requests_per_sec"] * float(sys.argv[2])
print(f"{max(1.0, rate):.1f}")' "${closed_run[$scenario/$label]}" "$step_from")
    fi
    n=$((n + 1))
    log "$scenario on $label: open loop from ${start_rate}/s ×$step_factor until p99 > ${budget} ms"
    out="$results/$(printf '%03d' $n)-step-$scenario-$label.json"
    [[ $label == pocketbase ]] && pocketbase_step=$out
    "${driver_pin[@]}" "$sbb" step --url "http://127.0.0.1:${port[$label]}" --label "$label" \
      --scenario "$scenario" --records "$records" --connections 256 \
      --start-rate "$start_rate" --factor "$step_factor" --max-rate "$step_max" \
      --p99-budget-ms "$budget" --duration "$step_duration" --warmup "$step_warmup" \
      --server-pid "${server_pid[$label]}" >"$out"
    sleep "$pause"
  done
  same_rate=""
  if [[ -n $pocketbase_step ]]; then
    same_rate=$(python3 -c 'import json, sys
rate = json.load(open(sys.argv[1])).get("max_rate")
print(f"{rate:.1f}" if rate else "")' "$pocketbase_step")
  fi
  if [[ -z $same_rate ]]; then continue; fi
  for label in pocketbase scalebase limit; do
    if [[ " ${labels[*]} " != *" $label "* ]]; then continue; fi
    if [[ $label == limit && " $limit_scenarios " != *" $scenario "* ]]; then continue; fi
    n=$((n + 1))
    log "$scenario on $label: open loop at ${same_rate}/s (PocketBase's highest), ${warmup}s warm-up + ${duration}s"
    "${driver_pin[@]}" "$sbb" run --url "http://127.0.0.1:${port[$label]}" --label "$label" \
      --scenario "$scenario" --records "$records" --connections 256 --rate "$same_rate" \
      --duration "$duration" --warmup "$warmup" --server-pid "${server_pid[$label]}" \
      >"$results/$(printf '%03d' $n)-rate-$scenario-$label.json"
    sleep "$pause"
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

commit=$(git rev-parse --short=10 HEAD 2>/dev/null || echo unknown)
if [[ -n "$(git status --porcelain 2>/dev/null)" ]]; then commit="$commit-dirty"; fi
name="$(date -u +%Y-%m-%d)-$commit.md"
if [[ $quick == 1 && -z "${BENCH_OUT:-}" ]]; then
  report="$work/$name"
else
  mkdir -p "${BENCH_OUT:-bench/results}"
  report="${BENCH_OUT:-bench/results}/$name"
fi
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //' || true)
mode="full"; [[ $quick == 1 ]] && mode="quick"

# The chart goes beside the report: into the temporary folder in quick mode (a functional check).
chart="${report%.md}.png"
status=0
"$sbb" report --fail-on-errors --labels "$(IFS=,; echo "${labels[*]}")" "$results" \
  --chart "$chart" >"$work/tables.md" || status=$?
if [[ ! -s $chart ]]; then log "no chart was written to $chart"; status=1; fi

{
  echo "# Scalebase vs PocketBase — $(date -u '+%Y-%m-%d %H:%M') UTC"
  echo
  echo "Closed loop, $connections keep-alive connections, ${warmup} s warm-up then ${duration} s measured"
  echo "per run, $rounds round(s), $records seeded posts ($mode mode). Ratio = Scalebase req/s ÷ PocketBase req/s"
  echo "(above 1 means Scalebase is faster). p99 in milliseconds. \`scalebase-normal\` is Scalebase"
  echo "with \`--synchronous normal\`, PocketBase's own durability setting (see below). \`limit\` is the"
  echo "least work the API can do here (\`limit_server\`: axum and one SQLite point read or grouped insert"
  echo "with \`synchronous=FULL\`, JSON out), measured in the same run: Scalebase ÷ limit is how close it is."
  echo "\`scalebase-pg\` is \`scalebase serve\` on PostgreSQL; \`cluster\` is \`scalebase cluster --min 2 --max 2\`"
  echo "on PostgreSQL (the gateway and two nodes), all on the same server CPU as the others."
  echo "Server CPU and peak RSS are of each server's process tree over the measured time (see bench/README.md)."
  echo
  echo "![req/s relative to pocketbase](${chart##*/})"
  echo
  cat "$work/tables.md"
  echo
  echo "## Machine"
  echo
  echo "- commit: $commit"
  echo "- CPUs: $(nproc) ($cpu); kernel: $(uname -sr)"
  echo "- $(rustc --version); PocketBase: $("$pocketbase" --version 2>&1 | head -n1)"
  echo "- pinning: $pinning"
  echo "- PostgreSQL: $pg_note"
  echo "- load average (1/5/15 min) before: $load_before; after: $load_after"
  for label in "${labels[@]}"; do echo "- setup on $label: ${seeding[$label]}"; done
  echo
  echo "## Notes"
  echo
  echo "- Durability: Scalebase defaults to SQLite \`synchronous=FULL\` (WAL; a commit is on disk"
  echo "  before it is acknowledged, one fsync per group commit). PocketBase uses WAL with"
  echo "  \`synchronous=NORMAL\` (commits can be lost on power failure, not on a crash of the process)."
  echo "  The \`scalebase\` column therefore does more work per write than PocketBase; the"
  echo "  \`scalebase-normal\` column is the like-for-like comparison for writes. Reads are unaffected."
  echo "- Both servers keep their default request log: a row per request in an auxiliary database"
  echo "  (Scalebase queues it and writes in batches off the request path)."
  echo "- A closed loop hides coordinated omission, and the driver shares the machine with the"
  echo "  server: see bench/README.md."
} >"$report"
cat "$report"
if [[ $report == "$work"/* ]]; then
  log "quick mode: report printed above, not kept (set BENCH_OUT to keep it)"
else
  log "report written to $report, chart to $chart"
fi
if [[ $status != 0 ]]; then log "some runs had errors (see the report)"; fi

# The gateway beside nginx as reverse proxies of one static nginx upstream (gateway_bench).
if command -v nginx >/dev/null 2>&1; then
  log "gateway overhead beside nginx"
  gw_args=(--bin "$target_dir/release/scalebase" --port-base "$((port_base + 100))")
  [[ $quick == 1 ]] && gw_args+=(--quick)
  pin0=(); [[ ${BENCH_PIN:-1} == 1 && $(nproc) -ge 2 ]] && pin0=(taskset -c 0)
  "${pin0[@]}" "$target_dir/release/gateway_bench" "${gw_args[@]}" || status=1
else
  log "gateway bench skipped: nginx is not installed"
fi
exit "$status"
