#!/bin/bash
# Prints the Debian version of the package built from this tree, derived from
# `git describe --tags --always --dirty` (or the first argument, for tests):
#
#   v1.2.3                    -> 1.2.3-1
#   v1.2.3-rc1                -> 1.2.3~rc1-1          (sorts before 1.2.3)
#   v1.2.3-4-gabc1234         -> 1.2.3+git4.abc1234-1 (sorts after 1.2.3)
#   v1.2.3-4-gabc1234-dirty   -> 1.2.3+git4.abc1234.dirty-1
#   abc1234 (no tag yet)      -> 0.0.0+gitN.abc1234-1 (N = commits on HEAD)
#   no git at all             -> 0.0.0+unknown-1
#
# The "-1" Debian revision makes the package non-native, which is what the
# changelog.Debian.gz name says.
set -euo pipefail

describe=${1:-$(git describe --tags --always --dirty 2>/dev/null || true)}
if [[ -z $describe ]]; then
	echo "0.0.0+unknown-1"
	exit 0
fi

dirty=""
if [[ $describe == *-dirty ]]; then
	dirty=".dirty"
	describe=${describe%-dirty}
fi

if [[ $describe =~ ^[0-9a-f]{7,40}$ ]] && ! git rev-parse -q --verify "refs/tags/$describe" >/dev/null 2>&1; then
	# no tag anywhere in the history: an abbreviated commit hash
	n=${DESKGATE_COMMIT_COUNT:-$(git rev-list --count HEAD 2>/dev/null || echo 0)}
	v="0.0.0+git$n.$describe$dirty"
elif [[ $describe =~ ^v?([0-9][0-9A-Za-z.]*)(-([0-9A-Za-z.]+))?-([0-9]+)-g([0-9a-f]+)$ ]]; then
	# <tag>-<n>-g<hash>: n commits after the tag
	base=${BASH_REMATCH[1]}
	pre=${BASH_REMATCH[3]}
	v="$base${pre:+~$pre}+git${BASH_REMATCH[4]}.${BASH_REMATCH[5]}$dirty"
elif [[ $describe =~ ^v?([0-9][0-9A-Za-z.]*)(-([0-9A-Za-z.]+))?$ ]]; then
	# exactly on a tag
	base=${BASH_REMATCH[1]}
	pre=${BASH_REMATCH[3]}
	v="$base${pre:+~$pre}${dirty:++${dirty#.}}"
else
	echo "version.sh: cannot map git describe output '$describe' to a Debian version" >&2
	exit 1
fi
echo "$v-1"
