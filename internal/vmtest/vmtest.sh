# Functions for vmtest scenarios (sourced before /scenario.sh).

# step NAME SECS CMD [ARG...]: run CMD, killed after SECS seconds; print its
# output (stdout and stderr) between marker lines; return its status (143 when
# busybox timeout killed it with SIGTERM).
step() {
	_vt_name=$1 _vt_secs=$2
	shift 2
	echo "@@@VMTEST-BEGIN $_vt_name"
	# Output goes through a pipe, not a file: AppArmor does not mediate
	# pipes, so a confined command needs no rule for the harness's sake.
	{
		timeout "$_vt_secs" "$@" 2>&1 </dev/null
		echo $? >/tmp/.vmtest-rc
	} | awk 1
	_vt_rc=$(cat /tmp/.vmtest-rc)
	echo "@@@VMTEST-END $_vt_name rc=$_vt_rc"
	return $_vt_rc
}

# sh_step NAME SECS SCRIPT: step running SCRIPT with sh -c.
sh_step() {
	step "$1" "$2" sh -c "$3"
}

# wait_for SECS CMD [ARG...]: retry CMD every 0.2 s until it succeeds; fail
# after SECS seconds.
wait_for() {
	_vt_end=$(($(date +%s) + $1))
	shift
	until timeout 5 "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$_vt_end" ] && return 1
		sleep 0.2
	done
}
