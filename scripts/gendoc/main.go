// Command gendoc writes armorer's man pages and shell completion scripts
// (see internal/clidoc) for `make docs`, `make install` and the .deb.
//
//	go run ./scripts/gendoc -out dist/docs -version v1.2.3 -date 2026-12-03T05:00:00Z
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/armorer-dev/armorer/internal/cli"
	"github.com/armorer-dev/armorer/internal/clidoc"
)

func main() {
	out := flag.String("out", "dist/docs", "output `DIR`")
	version := flag.String("version", "(devel)", "the version the pages describe")
	date := flag.String("date", "", "the pages' date, RFC 3339 (default: now)")
	flag.Parse()
	t := time.Now()
	if *date != "" {
		var err error
		if t, err = time.Parse(time.RFC3339, *date); err != nil {
			fmt.Fprintf(os.Stderr, "gendoc: -date: %v\n", err)
			os.Exit(2)
		}
	}
	if err := clidoc.Write(cli.NewRootCmd(cli.NewFactory()), *out, clidoc.Options{Version: *version, Date: t}); err != nil {
		fmt.Fprintf(os.Stderr, "gendoc: %v\n", err)
		os.Exit(1)
	}
}
