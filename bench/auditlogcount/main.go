// Command auditlogcount reads a log file through auditlog.Reader and prints
// the number of AppArmor events: armorer's side of bench/auditlog.sh.
package main

import (
	"fmt"
	"os"

	"github.com/armorer-dev/armorer/auditlog"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: auditlogcount FILE")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "auditlogcount:", err)
		os.Exit(2)
	}
	defer f.Close()
	r := auditlog.NewReader(f, auditlog.ReaderOptions{Name: os.Args[1]})
	for r.Next() {
	}
	if err := r.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "auditlogcount:", err)
		os.Exit(1)
	}
	st := r.Stats()
	fmt.Println(st.Events + st.Duplicates)
}
