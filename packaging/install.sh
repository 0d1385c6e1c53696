#!/usr/bin/env bash
# Installs rockit-edge as a systemd service, upgrades it, or removes it. Idempotent: running it
# again with a newer binary is the upgrade (the service restarts, the data and the config stay,
# the store migrates itself on start).
#
#   packaging/install.sh [--binary FILE]      install or upgrade, then enable and (re)start
#   packaging/install.sh --uninstall          stop and remove the program; keep data and config
#   packaging/install.sh --uninstall --purge  also remove the data dir, the config and the user
#
#   --root DIR   lay the files out under DIR instead of / and leave systemd alone (for tests
#                and image builders); DIR/etc/passwd and DIR/etc/group must exist.
#
# The binary is --binary FILE, else a rockit-edge next to this script (a release archive),
# else the static build of this checkout (packaging/build-static.sh), else target/release.
# docs/OPERATIONS.md lists every file it writes, with owners and modes.
set -euo pipefail

die() { echo "install.sh: $*" >&2; exit 1; }
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

root=""
binary=""
action=install
purge=false
while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || die "--root needs a directory"; root=$2; shift 2 ;;
    --binary) [ $# -ge 2 ] || die "--binary needs a file"; binary=$2; shift 2 ;;
    --uninstall) action=uninstall; shift ;;
    --purge) purge=true; shift ;;
    -h|--help) usage 0 ;;
    *) echo "install.sh: unknown argument: $1" >&2; usage 2 ;;
  esac
done
[ "$purge" = false ] || [ "$action" = uninstall ] || die "--purge goes with --uninstall"
[ "$(id -u)" = 0 ] || die "run as root: it creates a system user and writes under /usr/local, /etc and /var/lib"
if [ -n "$root" ]; then
  [ -d "$root" ] || die "--root $root is not a directory"
  root=$(cd "$root" && pwd)
  [ -f "$root/etc/passwd" ] && [ -f "$root/etc/group" ] || die "--root $root has no etc/passwd and etc/group"
fi

here=$(cd "$(dirname "$0")" && pwd)
user=rockit-edge
bin_path=/usr/local/bin/rockit-edge
unit_path=/etc/systemd/system/rockit-edge.service
config_dir=/etc/rockit-edge
data_dir=/var/lib/rockit-edge
doc_dir=/usr/local/share/doc/rockit-edge

# The system user's uid and group's gid in the (possibly --root) account database.
account_id() { awk -F: -v name="$user" '$1 == name { print $3 }' "$root/etc/$1"; }
# Only a host booted with systemd gets the service enabled and started (not a container or
# chroot, not --root).
manage_systemd() { [ -z "$root" ] && [ -d /run/systemd/system ]; }

uninstall() {
  if manage_systemd; then
    systemctl disable --now rockit-edge.service 2>/dev/null || true
  fi
  rm -f "$root$bin_path" "$root$unit_path"
  rm -rf "$root$doc_dir"
  if manage_systemd; then systemctl daemon-reload; fi
  if [ "$purge" = true ]; then
    rm -rf "$root$data_dir" "$root$config_dir"
    if [ -n "$(account_id passwd)" ]; then userdel ${root:+--prefix "$root"} "$user"; fi
    # userdel keeps the group where login.defs lacks USERGROUPS_ENAB.
    if [ -n "$(account_id group)" ]; then groupdel ${root:+--prefix "$root"} "$user"; fi
    echo "rockit-edge removed, with its data, its config and the $user user"
  else
    echo "rockit-edge removed; kept $data_dir (the data) and $config_dir (the config): --uninstall --purge removes them"
  fi
}

find_binary() {
  if [ -n "$binary" ]; then
    [ -f "$binary" ] || die "--binary $binary is not a file"
    echo "$binary"; return
  fi
  local candidate
  for candidate in "$here/rockit-edge" \
    "$here/../target/x86_64-unknown-linux-gnu/release/rockit-edge" \
    "$here/../target/release/rockit-edge"; do
    if [ -f "$candidate" ]; then echo "$candidate"; return; fi
  done
  die "no rockit-edge binary: build one with packaging/build-static.sh, or pass --binary FILE"
}

install_files() {
  local source version uid gid
  source=$(find_binary)
  version=$("$source" version 2>/dev/null | head -1) || die "$source does not run on this host"

  if [ -z "$(account_id passwd)" ]; then
    useradd ${root:+--prefix "$root"} --system --user-group --home-dir "$data_dir" \
      --no-create-home --shell /usr/sbin/nologin "$user"
  fi
  uid=$(account_id passwd)
  gid=$(account_id group)
  [ -n "$uid" ] && [ -n "$gid" ] || die "the $user user or group is missing after useradd"

  # A new name, then a rename: a running old binary is never overwritten in place.
  install -d -m 0755 -o 0 -g 0 "$root/usr/local/bin" "$root/etc/systemd/system" "$root$doc_dir"
  install -m 0755 -o 0 -g 0 "$source" "$root$bin_path.new"
  mv -f "$root$bin_path.new" "$root$bin_path"
  install -m 0644 -o 0 -g 0 "$here/rockit-edge.service" "$root$unit_path"
  for doc in "$here/OPERATIONS.md" "$here/../docs/OPERATIONS.md"; do
    if [ -f "$doc" ]; then install -m 0644 -o 0 -g 0 "$doc" "$root$doc_dir/OPERATIONS.md"; break; fi
  done

  install -d -m 0750 -o 0 -g "$gid" "$root$config_dir"
  if [ -e "$root$config_dir/config.toml" ]; then
    echo "kept $config_dir/config.toml (the defaults of this version: $here/config.toml)"
  else
    # The shipped defaults, with this layout's data dir, so that the CLI finds it from --config.
    sed "s|^data_dir = \"./data\"|data_dir = \"$data_dir\"|" "$here/config.toml" >"$root$config_dir/config.toml.new"
    chown "0:$gid" "$root$config_dir/config.toml.new"
    chmod 0640 "$root$config_dir/config.toml.new"
    mv -f "$root$config_dir/config.toml.new" "$root$config_dir/config.toml"
  fi
  install -d -m 0700 -o "$uid" -g "$gid" "$root$data_dir"
  echo "installed $version"
}

start_service() {
  local https port
  systemctl daemon-reload
  systemctl enable rockit-edge.service
  # Type=notify: returns once the listeners accept (or the start failed).
  systemctl restart rockit-edge.service || {
    journalctl -u rockit-edge.service -n 30 --no-pager >&2 || true
    die "rockit-edge did not start; see journalctl -u rockit-edge"
  }
  https=$(sed -n 's/.*"https": *"\([^"]*\)".*/\1/p' "$data_dir/run/server.json" 2>/dev/null || true)
  port=${https##*:}
  echo
  echo "rockit-edge is running: https://$(hostname -f 2>/dev/null || hostname):${port:-8443}/ui/"
  runuser -u "$user" -- "$bin_path" doctor --config "$config_dir/config.toml" --data-dir "$data_dir" || true
  echo
  echo "Mint an admin token:"
  echo "  sudo -u $user $bin_path admin-token --config $config_dir/config.toml --username ops"
  echo "Clients trust $data_dir/tls/ca.pem unless you configured tls.cert_file (docs: $doc_dir/OPERATIONS.md)."
}

if [ "$action" = uninstall ]; then
  uninstall
  exit 0
fi
install_files
if manage_systemd; then
  start_service
else
  echo "files laid out under ${root:-/}; systemd not touched (enable with: systemctl enable --now rockit-edge)"
fi
