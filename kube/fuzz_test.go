package kube

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"go.yaml.in/yaml/v3"
)

// FuzzPatch: on any input, Patch and CheckWorkloads return an error or a
// result, never panic; a patched stream is valid YAML, patching it again
// changes nothing, and check finds in it no disagreement, nameless
// Localhost or missing myapp that the input did not have.
func FuzzPatch(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.txtar")
	for _, p := range seeds {
		ar, err := txtar.ParseFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range ar.Files {
			if file.Name == "in.yaml" {
				f.Add(file.Data, "app", false, false)
				f.Add(file.Data, "", true, true)
			}
		}
	}
	if b, err := os.ReadFile("../test/kubeapi/testdata/workloads.yaml"); err == nil {
		f.Add(b, "app", true, true)
	}
	f.Fuzz(func(t *testing.T, src []byte, container string, podLevel, legacy bool) {
		before, _ := CheckWorkloads("in.yaml", src, []string{"myapp"})
		had := map[[3]string]bool{}
		for _, f := range before {
			had[[3]string{f.Object, f.Container, string(f.Kind)}] = true
		}
		o := PatchOptions{Container: container, Profile: "myapp", PodLevel: podLevel, LegacyAnnotation: legacy}
		res, err := Patch("in.yaml", src, o)
		if err != nil {
			return
		}
		dec := yaml.NewDecoder(bytes.NewReader(res.Out))
		for {
			var n yaml.Node
			if err := dec.Decode(&n); err != nil {
				if err.Error() != "EOF" {
					t.Fatalf("patched output is not YAML: %v\n%s", err, res.Out)
				}
				break
			}
		}
		again, err := Patch("out.yaml", res.Out, o)
		if err != nil {
			t.Fatalf("patching the output again: %v\n%s", err, res.Out)
		}
		if !bytes.Equal(again.Out, res.Out) {
			t.Fatalf("second patch changed the output:\n%s\n---- to ----\n%s", res.Out, again.Out)
		}
		fs, err := CheckWorkloads("out.yaml", res.Out, []string{"myapp"})
		if err != nil {
			t.Fatalf("check of patched output: %v", err)
		}
		for _, f := range fs {
			if had[[3]string{f.Object, f.Container, string(f.Kind)}] {
				continue // the input's own problem, where the patch did not reach
			}
			if f.Kind == Mismatch || f.Kind == LocalhostWithoutName || (f.Kind == ProfileNotFound && f.Profile == "myapp") {
				t.Fatalf("patched output has %s\n%s", f, res.Out)
			}
		}
	})
}

// FuzzDecodeAccesses: a published value (written by any node's agent, so
// read as untrusted) decodes or fails, never panics; what decodes encodes
// to a value that decodes to the same accesses, and AccessKey of each
// event returns a key or an error.
func FuzzDecodeAccesses(f *testing.F) {
	f.Add(`{"count":3,"first":"2026-12-03T08:00:00Z","last":"2026-12-03T08:01:00Z","event":{"time":"2026-12-03T08:00:00.001Z","type":"AVC","apparmor":"ALLOWED","operation":"open","profile":"web","name":"/etc/a","requested_mask":"r","denied_mask":"r","line":0}}` + "\n")
	f.Add("{}\n\n")
	f.Add(`{"count":0,"event":{}}`)
	f.Fuzz(func(t *testing.T, value string) {
		as, err := DecodeAccesses(value)
		if err != nil {
			return
		}
		for _, a := range as {
			AccessKey(a.Event)
		}
		v, err := EncodeAccesses(as)
		if err != nil {
			t.Fatalf("encode what decoded: %v", err)
		}
		again, err := DecodeAccesses(v)
		if err != nil || len(again) != len(as) {
			t.Fatalf("re-decode: %v, %d accesses, want %d", err, len(again), len(as))
		}
		for i := range as {
			if again[i].Count != as[i].Count || !bytes.Equal(compact(t, again[i].Event), compact(t, as[i].Event)) {
				t.Fatalf("access %d changed: %+v → %+v", i, as[i], again[i])
			}
		}
	})
}

func compact(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
