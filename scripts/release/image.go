package main

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/armorer-dev/armorer/internal/debfetch"
)

// ImageInput is what goes into the agent image.
type ImageInput struct {
	Dockerfile string    // contrib/k8s/Dockerfile
	Context    string    // the build context: the directory holding the static binary
	Rootfs     string    // the base layer's tree; empty: debootstrap it (cached)
	Version    string    // the image's tag
	Date       time.Time // the image's creation time and the files' latest mtime
}

// ImageName is the agent image's repository, as the DaemonSet names it.
const ImageName = "ghcr.io/armorer-dev/armorer"

// BuildImage builds the image that in.Dockerfile describes, without a
// container daemon, and writes it as an OCI image layout in a tar archive
// (outDir/armorer-agent_VERSION.oci.tar; `podman load`, `skopeo copy
// oci-archive:` and `crane push` read it). It returns the archive's path.
func BuildImage(ctx context.Context, in ImageInput, outDir string) (string, error) {
	src, err := os.ReadFile(in.Dockerfile)
	if err != nil {
		return "", err
	}
	plan, err := readDockerfile(in.Dockerfile, src)
	if err != nil {
		return "", err
	}
	rootfs := in.Rootfs
	if rootfs == "" {
		if rootfs, err = (debfetch.Rootfs{Suite: plan.Suite, Variant: "minbase", Include: plan.Packages, Updates: true}).Ensure(ctx); err != nil {
			return "", err
		}
	}
	tmp, err := os.MkdirTemp("", "armorer-image-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)

	var layers []v1.Layer
	base := filepath.Join(tmp, "base.tar")
	if err := writeTreeTar(base, rootfs, plan.Removed, in.Date); err != nil {
		return "", fmt.Errorf("base layer from %s: %w", rootfs, err)
	}
	layers = append(layers, fileLayer(base))
	ctxRoot, err := os.OpenRoot(in.Context)
	if err != nil {
		return "", fmt.Errorf("build context: %w", err)
	}
	defer ctxRoot.Close()
	for i, c := range plan.Copies {
		p := filepath.Join(tmp, fmt.Sprintf("copy%d.tar", i))
		if err := writeCopyTar(p, ctxRoot, c, in.Date); err != nil {
			return "", fmt.Errorf("COPY %s %s: %w", c.Src, c.Dest, err)
		}
		layers = append(layers, fileLayer(p))
	}

	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layers...)
	if err != nil {
		return "", err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Created = v1.Time{Time: in.Date}
	cf.Config = plan.Config
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return "", err
	}

	dir := filepath.Join(tmp, "layout")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return "", err
	}
	tag := strings.TrimPrefix(in.Version, "+")
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag,
		"io.containerd.image.name":          ImageName + ":" + tag,
	})); err != nil {
		return "", err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(outDir, "armorer-agent_"+tag+".oci.tar")
	if err := writeTreeTar(out, dir, nil, in.Date); err != nil {
		return "", err
	}
	return out, nil
}

func fileLayer(p string) v1.Layer {
	l, _ := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return os.Open(p) },
		tarball.WithMediaType(types.OCILayer))
	return l
}

// Not part of an image: the kernel's and the runtime's mount points keep
// their directories but no contents; the build host's identity is not
// copied (the runtime provides hostname and resolv.conf).
var skipInTree = []string{"dev/*", "proc/*", "sys/*", "run/*", "tmp/*", "etc/hostname", "etc/resolv.conf", "var/cache/apt/*.bin"}

// writeTreeTar writes the tree under root as a tar (the layer's file
// system), in lexical order, with owners, modes, symlinks and hard links
// kept and mtimes clamped to date, so the same tree gives the same bytes.
// removed lists absolute globs left out (RUN rm -rf).
func writeTreeTar(out, root string, removed []string, date time.Time) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	links := map[[2]uint64]string{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		for _, pat := range append(skipInTree, trimSlash(removed)...) {
			if ok, _ := path.Match(pat, rel); ok {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		target := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if target, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, target)
		if err != nil {
			return err
		}
		hdr.Name = rel
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		if hdr.ModTime.After(date) {
			hdr.ModTime = date
		}
		hdr.Format = tar.FormatPAX
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
			if fi.Mode().IsRegular() && st.Nlink > 1 {
				key := [2]uint64{uint64(st.Dev), st.Ino}
				if first, ok := links[key]; ok {
					hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				} else {
					links[key] = rel
				}
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg {
			src, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, src)
			src.Close()
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func trimSlash(globs []string) []string {
	out := make([]string, len(globs))
	for i, g := range globs {
		out[i] = strings.TrimPrefix(g, "/")
	}
	return out
}

// writeCopyTar writes one COPY as a layer: the file, and its parent
// directories as root-owned 0755 entries, as docker build does.
func writeCopyTar(out string, ctxRoot *os.Root, c copyStep, date time.Time) error {
	src, err := ctxRoot.Open(c.Src)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", c.Src)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	dest := strings.TrimPrefix(path.Clean(c.Dest), "/")
	var parents []string
	for d := path.Dir(dest); d != "."; d = path.Dir(d) {
		parents = append([]string{d}, parents...)
	}
	for _, d := range parents {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: date, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	mode := c.Mode
	if mode == 0 {
		mode = fi.Mode().Perm()
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dest, Mode: int64(mode), Size: fi.Size(), ModTime: date, Format: tar.FormatPAX}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, src); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}
