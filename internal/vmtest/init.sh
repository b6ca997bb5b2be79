#!/bin/sh
# PID 1 of the vmtest initramfs: mount the kernel file systems, run
# /scenario.sh bounded by VMTEST_TIMEOUT, report its status, power off.
export PATH=/sbin:/usr/sbin:/bin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t securityfs securityfs /sys/kernel/security
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# Complain-mode events go through printk: without this most are dropped.
echo 0 > /proc/sys/kernel/printk_ratelimit
ip link set lo up
hostname -F /etc/hostname
. /etc/vmtest.conf
echo
echo "@@@VMTEST-INIT $(cat /proc/sys/kernel/osrelease)"
cd /
# The scenario's status is 0 unless it calls exit, or 143 when the time limit
# killed it.
timeout "$VMTEST_TIMEOUT" sh -c '. /lib/vmtest.sh; . /scenario.sh; exit 0' </dev/null
echo "@@@VMTEST-DONE rc=$?"
sync
echo o > /proc/sysrq-trigger
sleep 30
