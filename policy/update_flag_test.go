package policy_test

import "flag"

// update is the one -update flag of package policy's tests: it rewrites
// golden files (format goldens, corpus verdicts).
var update = flag.Bool("update", false, "rewrite golden files")
