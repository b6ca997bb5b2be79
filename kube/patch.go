package kube

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LegacyAnnotationPrefix is the annotation that set a container's
// AppArmor profile before Kubernetes 1.30 made it a field. Deprecated; the
// API server still insists it agrees with the field where both are set.
const LegacyAnnotationPrefix = "container.apparmor.security.beta.kubernetes.io/"

// PatchOptions say which profile to put where.
type PatchOptions struct {
	// Container names the container to confine; with PodLevel it may be
	// empty (the pod's default for every container).
	Container string
	Profile   string
	// PodLevel sets the PodSpec's securityContext.appArmorProfile (the
	// default of every container) rather than the container's.
	PodLevel bool
	// LegacyAnnotation also writes the pre-1.30 annotation, for older
	// clusters.
	LegacyAnnotation bool
}

// PatchResult is the patched stream and what changed.
type PatchResult struct {
	Out      []byte
	Patched  []string // "Deployment web: container app", one per place set
	Warnings []string
}

// NothingToPatchError is a stream with no pod template that the options
// apply to.
type NothingToPatchError struct{ File, Container string }

func (e *NothingToPatchError) Error() string {
	if e.Container != "" {
		return fmt.Sprintf("%s: no Pod or workload template has a container named %q", e.File, e.Container)
	}
	return fmt.Sprintf("%s: no Pod or workload template (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob)", e.File)
}

// Patch sets a Localhost AppArmor profile in every pod template of a
// multi-document YAML stream that the options select. It edits the YAML
// node tree, so every other field and the comments stay; documents it does
// not change are copied byte for byte.
func Patch(file string, src []byte, o PatchOptions) (*PatchResult, error) {
	if o.Profile == "" || strings.ContainsAny(o.Profile, "\n\r\x00") {
		return nil, fmt.Errorf("profile name %q: want the name of a loaded profile", o.Profile)
	}
	if o.Container == "" && !o.PodLevel {
		return nil, errors.New("name the container to confine (or set the pod's default with --pod-level)")
	}
	docs, err := splitDocuments(file, src)
	if err != nil {
		return nil, err
	}
	res := &PatchResult{}
	var out bytes.Buffer
	for _, d := range docs {
		e := &editor{file: file, line: d.line}
		if d.node != nil {
			for _, t := range podTemplates(d.node.Content[0]) {
				if err := e.patchTemplate(t, o, res); err != nil {
					return nil, err
				}
			}
		}
		if !e.changed {
			out.Write(d.raw)
			continue
		}
		if marker, _, ok := bytes.Cut(d.raw, []byte("\n")); ok && isMarker(append(marker, '\n')) {
			out.Write(marker)
			out.WriteByte('\n')
		}
		enc := yaml.NewEncoder(&out)
		enc.SetIndent(2)
		if compactSequences(d.node) {
			enc.CompactSeqIndent()
		}
		if err := enc.Encode(d.node); err != nil {
			return nil, fmt.Errorf("%s: write document at line %d: %w", file, d.line, err)
		}
		enc.Close()
	}
	if len(res.Patched) == 0 {
		return nil, &NothingToPatchError{File: file, Container: o.Container}
	}
	res.Out = out.Bytes()
	return res, nil
}

func (e *editor) patchTemplate(t podTemplate, o PatchOptions, res *PatchResult) error {
	if t.Spec == nil {
		return nil
	}
	where := t.Kind
	if t.Name != "" {
		where += " " + t.Name
	}
	var targets []*yaml.Node // containers whose profile the change decides
	for _, c := range t.containers() {
		name := str(c, "name")
		switch {
		case o.Container != "" && name == o.Container:
			targets = append(targets, c)
		case o.Container == "" && o.PodLevel:
			targets = append(targets, c)
		}
	}
	if len(targets) == 0 && (o.Container != "" || !o.PodLevel) {
		return nil
	}
	if o.PodLevel {
		if err := e.setProfile(t.Spec, o.Profile); err != nil {
			return err
		}
		res.Patched = append(res.Patched, where+": pod")
	} else {
		for _, c := range targets {
			if err := e.setProfile(c, o.Profile); err != nil {
				return err
			}
			res.Patched = append(res.Patched, where+": container "+str(c, "name"))
		}
	}
	// The API server rejects a pod whose annotation and field disagree:
	// with --legacy-annotation write it, without it bring an existing one
	// into line.
	ownField := map[string]bool{} // by name: a container's field wins over the pod's
	for _, c := range t.containers() {
		if get(get(c, "securityContext"), "appArmorProfile") != nil {
			ownField[str(c, "name")] = true
		}
	}
	done := map[string]bool{}
	for _, c := range targets {
		name := str(c, "name")
		if done[name] {
			continue
		}
		done[name] = true
		if o.PodLevel && ownField[name] {
			// The container's own field wins over the pod's.
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: container %s keeps its own appArmorProfile, which overrides the pod's", where, name))
			continue
		}
		if err := e.syncAnnotation(t, name, o, where, res); err != nil {
			return err
		}
	}
	return nil
}

// setProfile writes securityContext.appArmorProfile {type: Localhost,
// localhostProfile: NAME} into a container or a PodSpec.
func (e *editor) setProfile(holder *yaml.Node, profile string) error {
	sc, err := e.mapping(holder, "securityContext")
	if err != nil {
		return err
	}
	ap, err := e.mapping(sc, "appArmorProfile")
	if err != nil {
		return err
	}
	e.setScalar(ap, "type", "Localhost")
	e.setScalar(ap, "localhostProfile", profile)
	// Order the two keys as the API prints them, when only they are there.
	if len(ap.Content) == 4 && ap.Content[0].Value == "localhostProfile" {
		ap.Content = slices.Concat(ap.Content[2:], ap.Content[:2])
		e.changed = true
	}
	return nil
}

func (e *editor) syncAnnotation(t podTemplate, container string, o PatchOptions, where string, res *PatchResult) error {
	key := LegacyAnnotationPrefix + container
	want := "localhost/" + o.Profile
	meta := t.metadata()
	existing := str(get(meta, "annotations"), key)
	switch {
	case o.LegacyAnnotation:
	case existing == "" || existing == want:
		return nil
	default:
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s: container %s: the deprecated annotation %s said %s; set it to %s to agree with the field (the API server rejects a disagreement)", where, container, key, existing, want))
	}
	meta, err := e.mapping(t.Template, "metadata")
	if err != nil {
		return err
	}
	ann, err := e.mapping(meta, "annotations")
	if err != nil {
		return err
	}
	e.setScalar(ann, key, want)
	if o.LegacyAnnotation {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s: container %s: wrote %s, deprecated since Kubernetes 1.30 (the securityContext field replaces it); keep it only for clusters older than 1.30", where, container, key))
	}
	return nil
}

// compactSequences tells whether the document writes block sequences the
// way kubectl does, "- " under the key's first letter, from its first
// block sequence under a key: the output keeps the input's style.
func compactSequences(n *yaml.Node) bool {
	compact, found := false, false
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if found || n == nil {
			return
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content) && !found; i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 && v.Content[0].Line > k.Line {
					compact, found = v.Content[0].Column-2 == k.Column, true
					return
				}
				walk(v)
			}
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return compact
}
