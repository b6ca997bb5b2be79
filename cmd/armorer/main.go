// Command armorer takes a Linux application from unconfined to an enforced
// AppArmor profile, with evidence. See README.md and `armorer --help`.
package main

import (
	"os"

	"github.com/armorer-dev/armorer/internal/cli"
)

func main() { os.Exit(cli.Main()) }
