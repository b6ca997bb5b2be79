// Command auditlogcorpus writes the benchmark corpus of bench/auditlog.sh:
// N mixed log lines, half AppArmor events in the kernel 6.1 layout.
//
//	go run ./bench/auditlogcorpus -n 1000000 > corpus.log
package main

import (
	"flag"
	"fmt"
	"os"

	corpus "github.com/armorer-dev/armorer/internal/auditlogcorpus"
)

func main() {
	n := flag.Int("n", 1_000_000, "number of lines")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	events, err := corpus.Write(os.Stdout, *n, *seed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "auditlogcorpus:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "auditlogcorpus: %d lines, %d AppArmor events\n", *n, events)
}
