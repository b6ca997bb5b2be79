#!/bin/sh
# PID 1 of a vmtest Debian VM (a Machine): mount the kernel file systems,
# then serve the host through vmtest-agent on the second serial port until
# it asks to power off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t securityfs securityfs /sys/kernel/security
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# cgroup v2, as on a systemd host: the agent and everything it starts run
# in a child cgroup with the cpu, memory and pids controllers (a service's
# cgroup; Go's runtime reads its cpu.max to size GOMAXPROCS).
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
echo '+cpu +memory +pids' > /sys/fs/cgroup/cgroup.subtree_control
mkdir /sys/fs/cgroup/vmtest
echo $$ > /sys/fs/cgroup/vmtest/cgroup.procs
# Complain-mode events go through printk: without this most are dropped.
echo 0 > /proc/sys/kernel/printk_ratelimit
ip link set lo up
hostname -F /etc/hostname
echo
echo "@@@VMTEST-INIT $(cat /proc/sys/kernel/osrelease)"
cd /
/usr/sbin/vmtest-agent /dev/ttyS1
echo "@@@VMTEST-DONE rc=$?"
sync
echo o > /proc/sysrq-trigger
sleep 30
