#!/usr/bin/env bash
# Runs the libFuzzer targets built in build-fuzz/ (make build-fuzz; docs/fuzzing.md).
#   scripts/fuzz.sh run SECONDS [target ...]   fuzz each target for SECONDS, one at a time;
#       seeds from tests/fuzz/corpus/<name>/ (read only), new inputs kept in
#       build-fuzz/corpus/<name>/; prints executions/s, edges and corpus size per target
#   scripts/fuzz.sh check SECONDS [target ...] replay every committed seed once, then fuzz
#       SECONDS (a scratch corpus): what `make check` runs
# Each run is capped: -max_total_time, -rss_limit_mb=2048, -timeout=10 (a hang), -max_len=64 KiB.
# Exits non-zero on any finding (crash, leak, hang, OOM, ASan/UBSan report); the input that
# found it is in build-fuzz/artifacts/<name>/, the log in build-fuzz/logs/<name>.log.
set -uo pipefail
mode=${1:?run|check}
secs=${2:?seconds}
shift 2
B=${FUZZ_BUILD:-build-fuzz}
SRC=$(cd "$(dirname "$0")/.." && pwd)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$B"/fuzz_*; do [ -x "$f" ] && targets+=("$(basename "$f")"); done
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets in $B (make build-fuzz)" >&2; exit 2; }
mkdir -p "$B/logs"
failed=()
printf '%-18s %9s %7s %7s %9s %6s  %s\n' target exec/s edges ft corpus secs result
for t in "${targets[@]}"; do
  t=${t#"$B"/}
  t=fuzz_${t#fuzz_}
  name=${t#fuzz_}
  seeds="$SRC/tests/fuzz/corpus/$name"
  mkdir -p "$seeds" "$B/artifacts/$name"
  log="$B/logs/$name.log"
  opts=(-rss_limit_mb=2048 -timeout=10 -max_len=65536 -print_final_stats=1
        "-artifact_prefix=$B/artifacts/$name/")
  t0=$(date +%s)
  if [ "$mode" = check ]; then
    work=$(mktemp -d)
    "$B/$t" "${opts[@]}" -runs=0 "$seeds" > "$log" 2>&1 &&
      "$B/$t" "${opts[@]}" "-max_total_time=$secs" "$work" "$seeds" >> "$log" 2>&1
    rc=$?
    rm -rf "$work"
  else
    mkdir -p "$B/corpus/$name"
    "$B/$t" "${opts[@]}" "-max_total_time=$secs" "$B/corpus/$name" "$seeds" > "$log" 2>&1
    rc=$?
  fi
  dt=$(( $(date +%s) - t0 ))
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  eps=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
  res=ok
  if [ $rc -ne 0 ]; then res="FINDING (rc $rc, see $log)"; failed+=("$name"); fi
  printf '%-18s %9s %7s %7s %9s %6s  %s\n' "$name" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$dt" "$res"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in: ${failed[*]}" >&2
  exit 1
fi
