#!/bin/sh
# Installs the Debian packages armorer's tests need (run as root on Debian 12).
#   apparmor, apparmor-profiles, apparmor-profiles-extra: apparmor_parser (the oracle) and the profile corpus
#   libapparmor-dev: libapparmor's C log parser, the peer in the auditlog benchmark and differential test
#   qemu-system-x86, busybox-static: the VM harness for end-to-end tests on a real AppArmor kernel
#   systemd-journal-remote: builds real journal files for the journald source tests
#   logrotate: rotates followed log files for real in the file source tests
#   bash-completion, zsh, fish: the completion scripts run in the real shells
#   debootstrap: the Debian rootfs the .deb is installed into and the agent image is built on, and the Debian userland of the e2e VM (vmtest.Machine)
#   lintian: checks the .deb as Debian's archive would
#   umoci: reads the agent image back as an independent OCI implementation
#   prometheus-node-exporter: reads the monitor's textfile for real (its service is not started)
set -eu
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (apt-get install needs it)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
	apparmor apparmor-profiles apparmor-profiles-extra apparmor-utils \
	libapparmor-dev gcc \
	qemu-system-x86 busybox-static \
	systemd-journal-remote logrotate \
	bash-completion zsh fish \
	debootstrap lintian umoci prometheus-node-exporter \
	ca-certificates
