//go:build e2e

package main

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/armorer-dev/armorer/internal/testenv"
)

// TestImage builds the agent image from contrib/k8s/Dockerfile as `make
// image` does (a real debootstrap base), reads the OCI archive back, checks
// the config the DaemonSet relies on and that the layers hold armorer and
// apparmor_parser, and runs both from the image's file system.
func TestImage(t *testing.T) {
	for _, tool := range []string{"debootstrap", "chroot", "umoci"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, "%s not installed (scripts/install-deps.sh)", tool)
		}
	}
	if os.Geteuid() != 0 {
		testenv.Missing(t, "needs root for debootstrap and chroot")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dist := buildStatic(t, ctx)
	archive, err := BuildImage(ctx, ImageInput{
		Dockerfile: "../../contrib/k8s/Dockerfile", Context: dist, Version: testVersion,
		Date: time.Date(2026, 12, 3, 5, 0, 0, 0, time.UTC),
	}, dist)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(archive) != "armorer-agent_"+testVersion+".oci.tar" {
		t.Errorf("archive named %s", archive)
	}

	dir := filepath.Join(t.TempDir(), "layout")
	untar(t, archive, dir)
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != testVersion {
		t.Fatalf("index: %+v", im.Manifests)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}
	if d := cmp.Diff([]string{"/usr/local/bin/armorer"}, cf.Config.Entrypoint); d != "" {
		t.Errorf("entrypoint (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"k8s", "agent"}, cf.Config.Cmd); d != "" {
		t.Errorf("cmd (-want +got):\n%s", d)
	}
	if cf.Config.User != "0:0" {
		t.Errorf("user %q, want 0:0", cf.Config.User)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 2 {
		t.Fatalf("%d layers (%v), want the base and the COPY", len(layers), err)
	}

	// An independent reader: Debian's umoci unpacks the layout into an OCI
	// runtime bundle, whose process is what a runtime would start.
	bundle := filepath.Join(t.TempDir(), "bundle")
	if out, err := exec.CommandContext(ctx, "umoci", "unpack", "--image", dir+":"+testVersion, bundle).CombinedOutput(); err != nil {
		t.Errorf("umoci unpack: %v\n%s", err, out)
	} else {
		var spec struct {
			Process struct {
				Args []string
				User struct{ UID, GID int }
			}
		}
		data, _ := os.ReadFile(filepath.Join(bundle, "config.json"))
		if err := json.Unmarshal(data, &spec); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]string{"/usr/local/bin/armorer", "k8s", "agent"}, spec.Process.Args); d != "" || spec.Process.User.UID != 0 {
			t.Errorf("umoci's runtime bundle: args (-want +got):\n%s\nuser %+v", d, spec.Process.User)
		}
	}

	// The flattened file system: what a runtime unpacks.
	fsDir := filepath.Join(t.TempDir(), "rootfs")
	extract(t, mutate.Extract(img), fsDir)
	for _, p := range []string{"usr/local/bin/armorer", "usr/sbin/apparmor_parser"} {
		fi, err := os.Stat(filepath.Join(fsDir, p))
		if err != nil || fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s: %v, mode %v; want an executable", p, err, fi)
		}
	}
	for _, gone := range []string{"etc/hostname", "var/lib/apt/lists/lock"} {
		if _, err := os.Lstat(filepath.Join(fsDir, gone)); err == nil {
			t.Errorf("%s is in the image (the Dockerfile or the build leaves it out)", gone)
		}
	}
	chroot := func(args ...string) string {
		cctx, c := context.WithTimeout(ctx, time.Minute)
		defer c()
		cmd := exec.CommandContext(cctx, "chroot", append([]string{fsDir}, args...)...)
		cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("in the image: %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := chroot("/usr/local/bin/armorer", "version"); !strings.Contains(out, testVersion) {
		t.Errorf("armorer version in the image: %s", out)
	}
	if out := chroot("apparmor_parser", "--version"); !strings.Contains(out, "AppArmor parser version 3.0") {
		t.Errorf("apparmor_parser --version in the image: %s", out)
	}
}

// buildStatic builds the release binary into a fresh build context.
func buildStatic(t *testing.T, ctx context.Context) string {
	dir := t.TempDir()
	const bi = "github.com/armorer-dev/armorer/internal/buildinfo"
	build := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-ldflags", "-s -w -X "+bi+".version="+testVersion+" -X "+bi+".commit=9ea949b0c1d2",
		"-o", filepath.Join(dir, "armorer"), "./cmd/armorer")
	build.Dir = "../.."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	extract(t, f, dir)
}

// extract unpacks a tar stream (regular files, directories, symlinks and
// hard links; what a layer holds) under dir.
func extract(t *testing.T, r io.Reader, dir string) {
	t.Helper()
	root, err := os.OpenRoot(must(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		if d := filepath.Dir(name); d != "." {
			root.MkdirAll(d, 0o755)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = root.MkdirAll(name, h.FileInfo().Mode().Perm())
		case tar.TypeSymlink:
			err = root.Symlink(h.Linkname, name)
		case tar.TypeLink:
			err = root.Link(h.Linkname, name)
		case tar.TypeReg:
			var f *os.File
			if f, err = root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, h.FileInfo().Mode().Perm()); err == nil {
				_, err = io.Copy(f, tr)
				f.Close()
				if err == nil {
					err = root.Chmod(name, h.FileInfo().Mode().Perm())
				}
			}
		}
		if err != nil {
			t.Fatalf("extract %s: %v", h.Name, err)
		}
	}
}

func must(t *testing.T, dir string) string {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
