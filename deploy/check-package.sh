#!/usr/bin/env bash
# Builds the Debian package (cargo-deb, [package.metadata.deb] in
# crates/wsauth-server/Cargo.toml) and checks it as an operator would get it:
# its contents and control fields (dpkg-deb), the unpacked binary, its man
# page and completions, and the systemd unit (systemd-analyze verify); then,
# as root, installs it for real (dpkg -i runs postinst), checks the account,
# the directories and the installed unit, runs the installed binary as the
# wsauth account, and purges it. Called by test.sh; runs alone too. Leaves
# the .deb in $CARGO_TARGET_DIR/debian/ (target/debian/ by default).
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "check-package: $*" >&2; exit 1; }

if ! cargo deb --version >/dev/null 2>&1; then
  echo "installing cargo-deb"
  cargo install cargo-deb --locked
fi

target=${CARGO_TARGET_DIR:-target}
release="$target/release"

# The release binary, then what the package takes from it: the man pages
# and completions are generated from the same clap definitions.
cargo build --release -p wsauth-server --bin wsauth
rm -rf "$release/man" "$release/completions"
mkdir -p "$release/man" "$release/completions"
"$release/wsauth" man --dir "$release/man"
# Debian policy: man pages are gzipped (-n: no name or time, so the same
# pages make the same package).
gzip -9n "$release/man"/*.1
"$release/wsauth" completions bash >"$release/completions/wsauth.bash"
"$release/wsauth" completions zsh >"$release/completions/_wsauth"
"$release/wsauth" completions fish >"$release/completions/wsauth.fish"

rm -rf "$target/debian"
deb=$(cargo deb -p wsauth-server --no-build --output "$target/debian/" | tail -n 1)
[ -f "$deb" ] || fail "cargo deb printed no package path (got: $deb)"
echo "built $deb ($(du -h "$deb" | cut -f1))"

# Control fields.
info=$(dpkg-deb -I "$deb")
for field in "Package: wsauth" "Section: net" "Depends: .*passwd"; do
  grep -q "^ *$field" <<<"$info" || fail "control has no \"$field\":"$'\n'"$info"
done
# Maintainer scripts: the account and the unit (cargo-deb adds the latter).
postinst=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./postinst)
sh -n <<<"$postinst" || fail "postinst is not valid sh"
grep -q "useradd --system" <<<"$postinst" || fail "postinst creates no wsauth account"
grep -q "wsauth.service" <<<"$postinst" || fail "postinst does not register wsauth.service"
dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles | grep -qx /etc/wsauth/wsauth.toml ||
  fail "/etc/wsauth/wsauth.toml is not a conffile"

# Contents.
contents=$(dpkg-deb -c "$deb")
for path in \
  ./usr/bin/wsauth \
  ./usr/share/man/man1/wsauth.1.gz \
  ./usr/share/man/man1/wsauth-user-add.1.gz \
  ./usr/share/bash-completion/completions/wsauth \
  ./usr/share/zsh/vendor-completions/_wsauth \
  ./usr/share/fish/vendor_completions.d/wsauth.fish \
  ./etc/wsauth/wsauth.toml \
  ./usr/share/doc/wsauth/configuration.md \
  ./usr/share/doc/wsauth/deployment.md \
  ./lib/systemd/system/wsauth.service; do
  # cargo-deb puts units in lib/ or usr/lib/ depending on its version.
  alt=${path/#.\/lib\//./usr/lib/}
  grep -qE " ($path|$alt)\$" <<<"$contents" || fail "the package has no $path:"$'\n'"$contents"
done
! grep -qE '/man1/[^ ]*\.1$' <<<"$contents" || fail "a man page is not gzipped:"$'\n'"$contents"

# The unpacked package: the binary runs, the man page renders, the
# completions parse, the example configuration is accepted.
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
bin="$root/usr/bin/wsauth"
"$bin" --version | grep -q "^wsauth " || fail "--version"
"$bin" --help | grep -q "docs/configuration.md" || fail "--help does not point to the reference"
MANPAGER=cat MANWIDTH=80 man -l "$root/usr/share/man/man1/wsauth.1.gz" | grep -q "wsauth" ||
  fail "the man page does not render"
bash -n "$root/usr/share/bash-completion/completions/wsauth" || fail "bash completions"
(cd "$root" && "$bin" --config etc/wsauth/wsauth.toml --data-dir "$root/data" user list) ||
  fail "the example configuration is refused"

# The unit, pointed at the unpacked binary (verify checks that ExecStart
# exists); any complaint fails. --man=no: the man page is not installed here.
unit=$(find "$root" -name wsauth.service)
[ -n "$unit" ] || fail "no wsauth.service"
mkdir "$root/unit"
sed "s#/usr/bin/wsauth#$bin#" "$unit" >"$root/unit/wsauth.service"
for setting in "User=wsauth" "StateDirectory=wsauth" "ProtectSystem=strict" "NoNewPrivileges=yes" \
  "CapabilityBoundingSet=" "PrivateTmp=yes" "KillSignal=SIGTERM" "--data-dir /var/lib/wsauth"; do
  grep -q -- "$setting" "$unit" || fail "the unit has no $setting"
done
! grep -q "^ExecReload" "$unit" || fail "the unit reloads, but wsauth reads its settings once"
complaints=$(systemd-analyze verify --man=no "$root/unit/wsauth.service" 2>&1) ||
  fail "systemd-analyze verify failed: $complaints"
[ -z "$complaints" ] || fail "systemd-analyze verify: $complaints"

# Installed for real, as root (CI is): postinst makes the account and the
# directories; the installed unit verifies against the installed binary and
# man page; the binary runs as the account; a purge removes it all but the
# account (Debian policy keeps system accounts).
if [ "$(id -u)" -ne 0 ]; then
  echo "check-package: not root, so the package was not installed (dpkg -i needs root)"
  echo "check-package: $deb is good (unpacked)"
  exit 0
fi
if dpkg -s wsauth >/dev/null 2>&1; then
  fail "a wsauth package is already installed here; the check would replace it (dpkg --purge wsauth)"
fi
trap 'dpkg --purge wsauth >/dev/null 2>&1 || true; rm -rf "$root"' EXIT
dpkg -i "$deb" >/dev/null || fail "dpkg -i $deb failed"
account=$(getent passwd wsauth) || fail "postinst made no wsauth account"
IFS=: read -r _ _ uid _ _ home shell <<<"$account"
[ "$uid" -lt 1000 ] || fail "the wsauth account is not a system account (uid $uid)"
[ "$home" = /var/lib/wsauth ] && [ "$shell" = /usr/sbin/nologin ] ||
  fail "the wsauth account: home $home, shell $shell"
[ "$(stat -c '%U:%G %a' /var/lib/wsauth)" = "wsauth:wsauth 700" ] ||
  fail "/var/lib/wsauth is $(stat -c '%U:%G %a' /var/lib/wsauth)"
[ "$(stat -c '%U:%G %a' /etc/wsauth/wsauth.toml)" = "root:wsauth 640" ] ||
  fail "/etc/wsauth/wsauth.toml is $(stat -c '%U:%G %a' /etc/wsauth/wsauth.toml)"
installed_unit=$(dpkg -L wsauth | grep -E '/systemd/system/wsauth\.service$') ||
  fail "no unit among the installed files"
complaints=$(systemd-analyze verify "$installed_unit" 2>&1) ||
  fail "systemd-analyze verify (installed) failed: $complaints"
[ -z "$complaints" ] || fail "systemd-analyze verify (installed): $complaints"
/usr/bin/wsauth --version | grep -q "^wsauth " || fail "the installed wsauth --version"
# What the unit runs, as its account: the configuration is readable and
# the state directory writable by it (the database is made there).
runuser -u wsauth -- /usr/bin/wsauth --config /etc/wsauth/wsauth.toml \
  --data-dir /var/lib/wsauth user list || fail "the installed wsauth cannot run as wsauth"
[ -f /var/lib/wsauth/wsauth.db ] || fail "no database in /var/lib/wsauth"
dpkg --purge wsauth >/dev/null || fail "dpkg --purge wsauth failed"
for gone in /usr/bin/wsauth /etc/wsauth /var/lib/wsauth "$installed_unit" \
  /etc/systemd/system/wsauth.service; do
  [ ! -e "$gone" ] || fail "$gone is still there after the purge"
done
! dpkg -s wsauth >/dev/null 2>&1 || fail "wsauth is still known to dpkg after the purge"

echo "check-package: $deb is good (installed, run and purged)"
