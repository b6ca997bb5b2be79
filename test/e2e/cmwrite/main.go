// Command cmwrite updates a directory the way kubelet's atomic writer
// (k8s.io/kubernetes/pkg/volume/util/atomic_writer.go) updates a
// ConfigMap volume, so the node agent's e2e test sees the real layout:
//
//	cmwrite VOLUME PAYLOAD_DIR
//
// writes every file of PAYLOAD_DIR into a new timestamped directory
// VOLUME/..YYYY_MM_DD_HH_MM_SS.NNNNNNNNN, points a new ..data_tmp symlink
// at it and renames that over ..data (the one atomic switch), creates the
// per-key symlinks KEY → ..data/KEY of new keys, removes those of keys that
// are gone, and finally removes the previous timestamped directory.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: cmwrite VOLUME PAYLOAD_DIR")
		os.Exit(2)
	}
	if err := write(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "cmwrite:", err)
		os.Exit(1)
	}
}

func write(vol, payload string) error {
	if err := os.MkdirAll(vol, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(payload)
	if err != nil {
		return err
	}
	keys := map[string]bool{}
	old, _ := os.Readlink(filepath.Join(vol, "..data"))
	ts := "." + time.Now().UTC().Format(".2006_01_02_15_04_05.000000000")
	dir := filepath.Join(vol, ts)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(payload, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			return err
		}
		keys[e.Name()] = true
	}
	tmp := filepath.Join(vol, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(vol, "..data")); err != nil {
		return err
	}
	cur, err := os.ReadDir(vol)
	if err != nil {
		return err
	}
	for _, e := range cur {
		if !strings.HasPrefix(e.Name(), "..") && !keys[e.Name()] {
			if err := os.Remove(filepath.Join(vol, e.Name())); err != nil {
				return err
			}
		}
	}
	for k := range keys {
		link := filepath.Join(vol, k)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", k), link); err != nil {
			return err
		}
	}
	fmt.Println(ts)
	if old != "" {
		return os.RemoveAll(filepath.Join(vol, old))
	}
	return nil
}
