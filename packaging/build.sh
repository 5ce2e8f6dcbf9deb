#!/bin/bash
# Builds the deskgate .deb for each architecture in $DEB_ARCHES (default:
# amd64 arm64) into build/dist/, with nfpm run as a Go tool (tools.mod).
# Called by `make deb`; run from the repository root.
#
# Environment: GO (go), DEB_ARCHES, VERSION (embedded in the binaries; default
# git describe), DEB_MAINTAINER.
set -euo pipefail

GO=${GO:-go}
DEB_ARCHES=${DEB_ARCHES:-amd64 arm64}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
DEB_MAINTAINER=${DEB_MAINTAINER:-deskgate maintainers <maintainers@deskgate.example>}
DIST=build/dist
STAGE=build/deb

deb_version=$(packaging/version.sh)
upstream_version=${deb_version%-*}
# File times inside the package: the last commit, so rebuilding the same
# commit gives the same package.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH

mkdir -p "$DIST" "$STAGE/common"

# Man pages and changelog, gzip -9n (no name, no timestamp: reproducible).
for page in deskgated.8 deskgatectl.8; do
	gzip -9n <"packaging/$page" >"$STAGE/common/$page.gz"
done

# The changelog: packaging/changelog, plus an entry for this build when it is
# not a release listed there (a snapshot between tags, or a dirty tree).
top=$(sed -n '1s/^deskgate (\([^)]*\)).*/\1/p' packaging/changelog)
{
	if [[ $top != "$deb_version" ]]; then
		printf 'deskgate (%s) bookworm; urgency=medium\n\n' "$deb_version"
		printf '  * Snapshot build of %s.\n\n' "$VERSION"
		printf ' -- %s  %s\n\n' "$DEB_MAINTAINER" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
	fi
	cat packaging/changelog
} | gzip -9n >"$STAGE/common/changelog.Debian.gz"

for arch in $DEB_ARCHES; do
	case $arch in
	amd64 | arm64) ;;
	*) echo "build.sh: unsupported architecture $arch (amd64, arm64)" >&2; exit 1 ;;
	esac
	stage="$STAGE/$arch"
	mkdir -p "$stage"
	cp "$STAGE"/common/* "$stage/"
	echo "== deskgate $deb_version $arch"
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch "$GO" build -trimpath \
		-ldflags "-s -w -X main.version=$VERSION" -o "$stage/" ./cmd/deskgated ./cmd/deskgatectl
	rm -f "$DIST"/deskgate_*_"$arch".deb
	DESKGATE_ARCH=$arch DESKGATE_UPSTREAM_VERSION=$upstream_version \
		DESKGATE_MAINTAINER=$DEB_MAINTAINER DESKGATE_STAGE=$stage \
		"$GO" tool -modfile=tools.mod nfpm package --packager deb \
		--config packaging/nfpm.yaml --target "$DIST/deskgate_${deb_version}_$arch.deb"
done
ls -l "$DIST"
