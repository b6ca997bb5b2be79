// Command release builds armorer's release artefacts from a built binary:
//
//	release deb   -bin dist/armorer -docs dist/docs -version v1.2.3 -date RFC3339 -out dist
//	release image -context dist -dockerfile contrib/k8s/Dockerfile -version v1.2.3 -date RFC3339 -out dist
//
// It is its own module (scripts/release/go.mod) so that the packaging and
// image libraries (nfpm, go-containerregistry, buildkit's Dockerfile
// parser) stay out of armorer's go.mod: the armorer binary never links them.
// `make deb`, `make image` and `make release` run it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: release deb|image [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fs := flag.NewFlagSet("release "+os.Args[1], flag.ExitOnError)
	version := fs.String("version", "", "the release version (v1.2.3, or a Go pseudo-version)")
	date := fs.String("date", "", "the release's date, RFC 3339 (the commit's, for reproducible output)")
	out := fs.String("out", "dist", "output `DIR`")
	var err error
	switch os.Args[1] {
	case "deb":
		bin := fs.String("bin", "dist/armorer", "the static armorer `binary`")
		docs := fs.String("docs", "dist/docs", "man pages and completions from scripts/gendoc")
		unit := fs.String("unit", "contrib/systemd/armorer-monitor.service", "the systemd unit")
		contrib := fs.String("contrib", "contrib", "contrib/, for the alert rules and the dashboard")
		fs.Parse(os.Args[2:])
		var t time.Time
		if t, err = parseDate(*date); err == nil {
			var path string
			path, err = BuildDeb(DebInput{Binary: *bin, Docs: *docs, Unit: *unit, Contrib: *contrib, Version: *version, Date: t}, *out)
			if err == nil {
				fmt.Println(path)
			}
		}
	case "image":
		dockerfile := fs.String("dockerfile", "contrib/k8s/Dockerfile", "the agent image's Dockerfile")
		rootfs := fs.String("rootfs", "", "the base layer's Debian tree (default: debootstrap it, cached)")
		buildContext := fs.String("context", "dist", "the build context `DIR` (holds the static binary)")
		fs.Parse(os.Args[2:])
		var t time.Time
		if t, err = parseDate(*date); err == nil {
			var path string
			path, err = BuildImage(ctx, ImageInput{Dockerfile: *dockerfile, Context: *buildContext, Rootfs: *rootfs, Version: *version, Date: t}, *out)
			if err == nil {
				fmt.Println(path)
			}
		}
	default:
		fmt.Fprintf(os.Stderr, "release: unknown artefact %q: want deb or image\n", os.Args[1])
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "release %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Now().UTC().Truncate(time.Second), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, fmt.Errorf("-date: %w", err)
	}
	return t.UTC(), nil
}
