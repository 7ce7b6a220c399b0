#!/usr/bin/env bash
# Runs golang.org/x/sync/errgroup's own tests against this package: copies
# errgroup's test files (v0.24.0, from the module cache) into a throwaway
# module in a temporary directory, points their import at
# github.com/lazysched/lazysched/factory/errgroup, and runs them with -race.
# Nothing is written into the repository.
set -euo pipefail

GO=${GO:-go}
version=${ERRGROUP_VERSION:-v0.24.0}
root=$(cd "$(dirname "$0")/../.." && pwd)
ours=github.com/lazysched/lazysched/factory/errgroup

src=$(cd "$root" && "$GO" mod download -json "golang.org/x/sync@$version" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ -z "$src" ] || [ ! -d "$src/errgroup" ]; then
	echo "conformance: golang.org/x/sync@$version not found in the module cache" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/errgroup-conformance.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

mkdir "$tmp/errgroup"
n=0
for f in "$src"/errgroup/*_test.go; do
	sed "s#\"golang.org/x/sync/errgroup\"#\"$ours\"#" "$f" >"$tmp/errgroup/$(basename "$f")"
	n=$((n + 1))
done
if grep -rq '"golang.org/x/sync/errgroup"' "$tmp/errgroup"; then
	echo "conformance: an import of x/sync's errgroup is left" >&2
	exit 1
fi

gover=$(cd "$root" && "$GO" list -m -f '{{.GoVersion}}')
cat >"$tmp/go.mod" <<MOD
module errgroupconformance

go $gover

require github.com/lazysched/lazysched v0.0.0

replace github.com/lazysched/lazysched => $root
MOD
cp "$root/go.sum" "$tmp/go.sum"

cd "$tmp"
# Resolves from the module cache, where building the library put everything.
GOFLAGS=-mod=mod "$GO" mod tidy
echo "conformance: $n test files of golang.org/x/sync@$version/errgroup against $ours"
"$GO" test -race -count=1 "$@" ./errgroup
