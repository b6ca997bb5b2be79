package policy_test

import "go/token"

func policyFset() *token.FileSet { return token.NewFileSet() }
