#!/bin/bash
# fuzz/run.sh OUT_DIR SECONDS [HARNESS...]: runs each harness for SECONDS
# on a copy of its seed corpus (fuzz/corpus/NAME), so the committed corpus
# stays small.  Exits non-zero when a harness finds a crash, a leak or a
# failed check; the reproducer is left in OUT_DIR/crashes/NAME/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(cd "${1:?usage: fuzz/run.sh OUT_DIR SECONDS [HARNESS...]}" && pwd)
secs=${2:?usage: fuzz/run.sh OUT_DIR SECONDS [HARNESS...]}
shift 2
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for h in "$out"/fuzz-*; do
		[ -x "$h" ] && names+=("$(basename "$h")")
	done
fi
fail=0
for name in "${names[@]}"; do
	work="$out/corpus/$name"
	crashes="$out/crashes/$name"
	mkdir -p "$work" "$crashes"
	if [ -d "$here/corpus/$name" ]; then
		cp -n "$here/corpus/$name"/* "$work"/ 2>/dev/null || true
	fi
	log="$out/$name.log"
	if "$out/$name" -max_total_time="$secs" -max_len=16384 -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$crashes/" "$work" >"$log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "ok $name: ${execs:-?} executions in ${secs}s, no crash"
	else
		echo "FAIL $name: see $log and $crashes"
		tail -n 30 "$log"
		fail=1
	fi
done
exit $fail
