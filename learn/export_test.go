package learn

// For the external tests (learn_test), which replay learned profiles with
// simulate.
var (
	Bundled     = bundled
	Compiles    = compiles
	LogAccesses = logAccesses
	LearnLog    = learnLog
	Update      = update
	RuleText    = ruleText
)
