# Shared by the benchmark scripts (sourced, not run): hyperfine, a release build, a
# scratch folder cleaned up on exit with the servers started in it, and `measure`.
# Sets $bin, $work and $scripts (for bench_medians.py); `pids` holds the servers to stop.

if ! command -v hyperfine >/dev/null; then
  sudo=; [ "$(id -u)" != 0 ] && sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq hyperfine >/dev/null
fi
cargo build --release --quiet
bin=$PWD/target/release/gpt-oss-scenarios
scripts=$PWD/scripts
unset CI INSTA_UPDATE INSTA_FORCE_PASS
export OPENAI_API_KEY=bench NO_COLOR=1

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

serve() { # $1 = latency; sets $url to the base URL (in this shell, so cleanup sees the pid)
  local log=$work/serve-$1.log
  "$bin" serve tests/fixtures/wire/cases/chat-20b-planet.json --latency "$1" > "$log" &
  pids+=($!)
  for _ in $(seq 50); do grep -q http "$log" 2>/dev/null && break; sleep 0.1; done
  url="$(grep -o 'http://[0-9.:]*' "$log" | head -1)/openai/v1"
}

measure() { # one run under getrusage: wall s, cpu s, peak RSS MiB, exit code
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
# Counted from here: a pyenv shim may have run children of this process before it.
before = resource.getrusage(resource.RUSAGE_CHILDREN)
t = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode
wall = time.perf_counter() - t
r = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (r.ru_utime - before.ru_utime) + (r.ru_stime - before.ru_stime)
print(f"{wall:.4f} {cpu:.4f} {r.ru_maxrss / 1024:.1f} {code}")
PY
}
