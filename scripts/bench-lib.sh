# Shared by scripts/bench-server and scripts/bench-latency (sourced, from the repository root):
# the binaries, the SDK venv, and one fresh benchmark server at a time.
#
# Env: CARGO_TARGET_DIR (target), RAMPART_VENV (~/.cache/rampart/venv), BENCH_SERVER_ARGS
# (extra `rampart serve` arguments).

target="${CARGO_TARGET_DIR:-target}"
bin="$target/release/rampart"
load="$target/release/rampart-load"
venv="${RAMPART_VENV:-$HOME/.cache/rampart/venv}"
[ -x "$bin" ] && [ -x "$load" ] || { echo "build first: cargo build --release -p rampart -p rampart-loadgen" >&2; exit 2; }
[ -x "$venv/bin/python" ] || { echo "run tests/interop/run once to create $venv" >&2; exit 2; }

work=""
pid=""
schema=""

# Starts `rampart serve` on ENGINE (sqlite|postgres) with an empty store in a new $work, and
# sets up through the official SDK the RAM user `bench` with ten policies, its role and STS
# credentials ($work/bench.json, $work/sts.json). Sets $work, $port, $pid, $schema.
start_bench_server() {
  local engine="$1" args
  work="$(mktemp -d)"
  port="$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  args=(serve --listen "127.0.0.1:$port" --data-dir "$work/data")
  if [ "$engine" = postgres ]; then
    schema="bench_$$_$RANDOM"
    psql -q -h 127.0.0.1 -U postgres -d test -c "CREATE SCHEMA $schema" >/dev/null
    args+=(--database-url postgres://postgres@127.0.0.1:5432/test --database-schema "$schema")
  fi
  # shellcheck disable=SC2086 # extra arguments are split on purpose
  "$bin" "${args[@]}" ${BENCH_SERVER_ARGS:-} > "$work/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  "$venv/bin/python" scripts/bench-setup.py "127.0.0.1:$port" "$work/data/bootstrap.json" "$work/sts.json" > "$work/bench.json"
}

# Stops the server and removes its store (the directory, or the PostgreSQL schema).
stop_bench_server() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  [ -n "$schema" ] && psql -q -h 127.0.0.1 -U postgres -d test -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1
  [ -n "$work" ] && rm -rf "$work"
  pid="" schema="" work=""
}
trap stop_bench_server EXIT

# Steal time (CPU the hypervisor gave to other guests) as a percentage of the CPU time between
# two `cpu_ticks` readings: on a shared host it moves latency figures more than most code
# changes do, so every run records it.
cpu_ticks() { awk '/^cpu /{print $9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
steal_pct() { echo "$1 $2" | awk '{d=$4-$2; printf "%.1f", (d > 0 ? 100 * ($3 - $1) / d : 0)}'; }
