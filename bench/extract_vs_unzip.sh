#!/usr/bin/env bash
# Time udfenv's archive extraction (bench_extract: helper process, every
# policy check on, default limits) against `unzip -q` on the same realistic
# zipped venv, in the same run, into fresh directories.
#
# usage: bench/extract_vs_unzip.sh [--json PATH] [RUNS]
#        RUNS: default 7; medians are reported. --json PATH: also write the
#        figures to PATH as JSON (for bench/run; the format is _common.py's).
# env:   PYTHON  interpreter to build the venv with (default: a pyenv 3.11,
#                whose venv gets pip and setuptools, else the newest pyenv 3.x)
#        BUILD   build directory holding bench_extract (default: build)
set -euo pipefail

json=
if [ "${1:-}" = --json ]; then
    [ $# -ge 2 ] || { echo "--json needs a PATH" >&2; exit 2; }
    json=$2
    shift 2
fi
runs=${1:-7}
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$repo/build}
bench=$build/bench_extract
pick_python() {
    local v
    v=$(ls -d /root/.pyenv/versions/3.11.* 2>/dev/null | sort -V | tail -n 1)
    [ -n "$v" ] || v=$(ls -d /root/.pyenv/versions/3.* | sort -V | tail -n 1)
    echo "$v/bin/python3"
}
python=${PYTHON:-$(pick_python)}

[ -x "$bench" ] || { echo "no $bench: build first (cmake --build $build)" >&2; exit 2; }
command -v unzip >/dev/null && command -v zip >/dev/null || { echo "needs zip and unzip" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/udfenv-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT

# A venv with its own interpreter (--copies) and pip: thousands of files.
"$python" -m venv --copies "$work/venv"
(cd "$work" && zip -qry venv.zip venv)
rm -rf "$work/venv"
entries=$(unzip -Z1 "$work/venv.zip" | wc -l)
size=$(stat -c %s "$work/venv.zip")
echo "archive: $("$python" --version 2>&1) venv --copies with pip, zip -qry:" \
     "$entries entries, $size bytes"

# Seconds taken by the command "$@" (its output dropped).
seconds() {
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null
    t1=$(date +%s%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", (b - a) / 1e9 }'
}

median() {
    sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

run_unzip() { rm -rf "$work/u"; mkdir "$work/u"; seconds unzip -q "$work/venv.zip" -d "$work/u"; }
run_udfenv() { rm -rf "$work/x"; seconds "$bench" "$work/venv.zip" "$work/x"; }

# Same result: names, types, permission bits and link targets.
listing() { (cd "$1" && find . -printf '%P %y %m %l\n' | LC_ALL=C sort); }
run_unzip >/dev/null
run_udfenv >/dev/null
if ! diff <(listing "$work/u") <(listing "$work/x") >/dev/null; then
    echo "udfenv and unzip extracted different trees:" >&2
    diff <(listing "$work/u") <(listing "$work/x") | head -20 >&2
    exit 1
fi
echo "check: both trees are identical (names, types, modes, link targets)"

: >"$work/t.unzip"
: >"$work/t.udfenv"
for i in $(seq "$runs"); do
    # Alternate who goes first, so neither always gets the warmer cache.
    if [ $((i % 2)) -eq 1 ]; then
        run_unzip >>"$work/t.unzip"
        run_udfenv >>"$work/t.udfenv"
    else
        run_udfenv >>"$work/t.udfenv"
        run_unzip >>"$work/t.unzip"
    fi
done
mu=$(median <"$work/t.unzip")
mx=$(median <"$work/t.udfenv")
echo "unzip -q        runs: $(tr '\n' ' ' <"$work/t.unzip")"
echo "bench_extract   runs: $(tr '\n' ' ' <"$work/t.udfenv")"
awk -v u="$mu" -v x="$mx" -v n="$runs" 'BEGIN {
    printf "median of %d: unzip -q %.4f s, udfenv %.4f s, ratio udfenv/unzip %.2f\n", n, u, x, x / u }'

if [ -n "$json" ]; then
    cat >"$json.tmp" <<EOF
{"version": 1, "bench": "extract_vs_unzip",
 "params": {"runs": $runs, "python": "$python", "entries": $entries, "bytes": $size},
 "failures": [],
 "results": [{"measure": "extract a zipped venv, $entries entries (median of $runs)",
              "figure": $mx, "unit": "s", "baseline": "unzip -q", "baseline_figure": $mu,
              "note": "every policy check on, helper process"}]}
EOF
    mv "$json.tmp" "$json"
fi
