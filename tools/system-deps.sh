#!/usr/bin/env bash
# Installs the Debian packages recording-operator needs on this machine, when missing:
# ffmpeg (test publisher and probing) and nginx with the RTMP module (local media server).
set -euo pipefail
need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
ls /usr/lib/nginx/modules/ngx_rtmp_module.so >/dev/null 2>&1 || need+=(libnginx-mod-rtmp)
# valgrind: bench/recorder_path.py counts the recorder's instructions with callgrind.
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
# PostgreSQL: the recordings catalogue's tests and benchmark start a private server
# (recording_operator.local.postgres runs initdb/pg_ctl from Debian's package).
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
# chromium: the console's browser tests (Playwright drives Debian's Chromium by its path).
[ -x /usr/bin/chromium ] || need+=(chromium)
# The node suite (tests/node): a private containerd with runc and the CNI plugins, buildah and
# debootstrap for its images, gcc for its sandbox binary, iptables for kube-proxy. Only where
# they can be installed (root or sudo); elsewhere that suite skips and says why.
if [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1; then
  command -v containerd >/dev/null 2>&1 || need+=(containerd)
  command -v runc >/dev/null 2>&1 || need+=(runc)
  [ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
  command -v buildah >/dev/null 2>&1 || need+=(buildah)
  command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
  command -v iptables >/dev/null 2>&1 || need+=(iptables)
  command -v ip >/dev/null 2>&1 || need+=(iproute2)
  command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
fi
[ ${#need[@]} -eq 0 ] && exit 0
echo "system-deps: installing ${need[*]} (Debian packages)"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "system-deps: need root to install ${need[*]}: run 'apt-get install ${need[*]}' as root" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "system-deps: done"
