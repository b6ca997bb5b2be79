package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// DebInput is what goes into the .deb.
type DebInput struct {
	Binary  string    // the static armorer binary
	Docs    string    // scripts/gendoc's output: man/man1/*.1, completions/
	Unit    string    // contrib/systemd/armorer-monitor.service
	Contrib string    // contrib/: the alert rules and the dashboard go to the package's examples
	Version string    // v1.2.3 or a Go pseudo-version
	Date    time.Time // every file's mtime and the changelog's date
}

const (
	pkgName    = "armorer"
	maintainer = "armorer developers <armorer-dev@users.noreply.github.com>"
	homepage   = "https://github.com/armorer-dev/armorer"
	stateDir   = "/var/lib/armorer"
)

// The package's own files besides the binary, the generated docs and the unit.
var (
	// postrm: purge removes the state directory (backups of replaced
	// profiles, stored events): after purge nothing of armorer is left.
	postrm = `#!/bin/sh
set -e
if [ "$1" = purge ]; then
	rm -rf ` + stateDir + `
fi
`
	copyright = `armorer
Source: ` + homepage + `

Copyright: 2026 the armorer developers

armorer is licensed under the Apache License, Version 2.0 (the LICENSE
file of the source repository named above). On Debian systems, the
complete text of the Apache License 2.0 is in
/usr/share/common-licenses/Apache-2.0.
`
	// Each override says why the tag does not apply.
	lintianOverrides = `# armorer is a Go program built with CGO_ENABLED=0: static by design, so it
# runs on any host (and in the agent image) without a matching libc. Lintian
# exempts Go only by the source package's Build-Depends, which a binary-only
# build has none of.
armorer: statically-linked-binary [usr/bin/armorer]
# learn reads the file lists in /var/lib/dpkg/info (read-only) to tell a
# packaged profile from a local one and write additions to local/NAME.
armorer: uses-dpkg-database-directly [usr/bin/armorer]
`
	description = `AppArmor profile lifecycle for custom applications
 armorer takes a Linux application from unconfined to an enforced AppArmor
 profile, with evidence, and keeps it there: it generates a first profile,
 reads AppArmor audit events from the kernel log, the journal, auditd and
 audit netlink, learns tight rules merged into the profile, predicts whether
 enforce mode would break anything, enforces, and exports denials as
 Prometheus metrics (armorer monitor, with a hardened systemd unit).`
)

// BuildDeb writes armorer_<debversion>_amd64.deb into outDir and returns its path.
func BuildDeb(in DebInput, outDir string) (string, error) {
	ver, err := debVersion(in.Version)
	if err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp("", "armorer-deb-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)

	file := func(src, dst string, mode os.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst, Type: files.TypeFile,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode, MTime: in.Date}}
	}
	// Debian wants man pages and changelogs compressed with gzip -9n.
	gz := func(name string, data []byte) (string, error) {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(data)
		if err := zw.Close(); err != nil {
			return "", err
		}
		p := filepath.Join(tmp, name+".gz")
		return p, os.WriteFile(p, buf.Bytes(), 0o644)
	}
	write := func(name, data string) (string, error) {
		p := filepath.Join(tmp, name)
		return p, os.WriteFile(p, []byte(data), 0o644)
	}

	contents := files.Contents{
		file(in.Binary, "/usr/bin/armorer", 0o755),
		file(in.Unit, "/lib/systemd/system/armorer-monitor.service", 0o644),
		file(filepath.Join(in.Docs, "completions/armorer.bash"), "/usr/share/bash-completion/completions/armorer", 0o644),
		file(filepath.Join(in.Docs, "completions/_armorer"), "/usr/share/zsh/vendor-completions/_armorer", 0o644),
		file(filepath.Join(in.Docs, "completions/armorer.fish"), "/usr/share/fish/vendor_completions.d/armorer.fish", 0o644),
		{Destination: stateDir, Type: files.TypeDir,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: 0o755, MTime: in.Date}},
	}
	pages, err := filepath.Glob(filepath.Join(in.Docs, "man/man1/*.1"))
	if err != nil || len(pages) == 0 {
		return "", fmt.Errorf("no man pages in %s/man/man1 (run scripts/gendoc first)", in.Docs)
	}
	slices.Sort(pages)
	for _, p := range pages {
		data, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		z, err := gz(filepath.Base(p), data)
		if err != nil {
			return "", err
		}
		contents = append(contents, file(z, "/usr/share/man/man1/"+filepath.Base(p)+".gz", 0o644))
	}
	chlog, err := gz("changelog", []byte(changelog(ver, in.Version, in.Date)))
	if err != nil {
		return "", err
	}
	copyrightFile, err := write("copyright", copyright)
	if err != nil {
		return "", err
	}
	overrides, err := write("lintian-overrides", lintianOverrides)
	if err != nil {
		return "", err
	}
	postrmFile, err := write("postrm", postrm)
	if err != nil {
		return "", err
	}
	if in.Contrib != "" {
		for _, ex := range []string{"prometheus/armorer-alerts.yml", "grafana/armorer-apparmor.json"} {
			contents = append(contents, file(filepath.Join(in.Contrib, ex), "/usr/share/doc/armorer/examples/"+filepath.Base(ex), 0o644))
		}
	}
	contents = append(contents,
		file(chlog, "/usr/share/doc/armorer/changelog.gz", 0o644),
		file(copyrightFile, "/usr/share/doc/armorer/copyright", 0o644),
		file(overrides, "/usr/share/lintian/overrides/armorer", 0o644),
	)

	info := nfpm.WithDefaults(&nfpm.Info{
		Name:          pkgName,
		Arch:          "amd64",
		Platform:      "linux",
		Version:       ver,
		VersionSchema: "none", // debVersion already made it a Debian version
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    maintainer,
		Description:   description,
		Homepage:      homepage,
		MTime:         in.Date,
		Overridables: nfpm.Overridables{
			// apparmor_parser loads profiles; the reading and learning verbs work without it.
			Recommends: []string{"apparmor"},
			Suggests:   []string{"auditd", "prometheus-node-exporter"},
			Contents:   contents,
			Umask:      0o022,
			Scripts:    nfpm.Scripts{PostRemove: postrmFile},
		},
	})
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(outDir, fmt.Sprintf("%s_%s_amd64.deb", pkgName, ver))
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	if err := deb.Default.Package(info, f); err != nil {
		f.Close()
		os.Remove(out)
		return "", fmt.Errorf("package %s: %w", out, err)
	}
	return out, f.Close()
}

// changelog is the Debian changelog of a release built from the
// repository (a native package: one entry per build).
func changelog(debVer, version string, date time.Time) string {
	return fmt.Sprintf(`%s (%s) unstable; urgency=medium

  * Release %s.

 -- %s  %s
`, pkgName, debVer, version, maintainer, date.UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700"))
}
