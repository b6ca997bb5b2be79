package kube

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FindingKind names what check found.
type FindingKind string

// What check reports. Each is something the API server rejects, a pod
// that would not start, or confinement that is missing or only apparent.
const (
	// ProfileNotFound: a Localhost profile the profile set does not
	// define; the container fails with "apparmor profile not found".
	ProfileNotFound FindingKind = "profile-not-found"
	// LocalhostWithoutName: type Localhost and no localhostProfile; the
	// API server rejects it.
	LocalhostWithoutName FindingKind = "localhost-without-name"
	// Unconfined: the container runs without AppArmor by request.
	Unconfined FindingKind = "unconfined"
	// AnnotationOnly: only the deprecated annotation sets the profile.
	AnnotationOnly FindingKind = "annotation-only"
	// Mismatch: the annotation and the field disagree; the API server
	// rejects the pod.
	Mismatch FindingKind = "mismatch"
	// BadAnnotation: an annotation value that is none of runtime/default,
	// unconfined, localhost/NAME; the API server rejects it.
	BadAnnotation FindingKind = "bad-annotation"
	// UnknownContainer: an annotation for a container the pod does not
	// have; the API server rejects it.
	UnknownContainer FindingKind = "unknown-container"
)

// Finding is one problem at a place in the input.
type Finding struct {
	File      string      `json:"file"`
	Line      int         `json:"line"`
	Column    int         `json:"column"`
	Kind      FindingKind `json:"kind"`
	Object    string      `json:"object"`              // "Deployment web"
	Container string      `json:"container,omitempty"` // "" for the pod level
	Profile   string      `json:"profile,omitempty"`
	Message   string      `json:"message"`
}

func (f Finding) String() string {
	where := f.Object
	if f.Container != "" {
		where += ", container " + f.Container
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s [%s]", f.File, f.Line, f.Column, where, f.Message, f.Kind)
}

// profileRef is one AppArmor setting, from a field or an annotation,
// normalised to the field's form.
type profileRef struct {
	typ, name string
	node      *yaml.Node // where it is written: the type
	nameNode  *yaml.Node // where the profile's name is written
}

func (r profileRef) String() string {
	if r.typ == "Localhost" {
		return "Localhost " + r.name
	}
	return r.typ
}

// CheckWorkloads reports, for every pod template in a multi-document YAML
// stream, the AppArmor settings that will not work or do not confine:
// Localhost profiles missing from profiles (the names the profile set
// defines), Localhost without a name, Unconfined, annotation-only
// settings and annotations that disagree with the field.
func CheckWorkloads(file string, src []byte, profiles []string) ([]Finding, error) {
	docs, err := splitDocuments(file, src)
	if err != nil {
		return nil, err
	}
	var out []Finding
	for _, d := range docs {
		if d.node == nil {
			continue
		}
		e := &editor{file: file, line: d.line}
		for _, t := range podTemplates(d.node.Content[0]) {
			out = append(out, e.checkTemplate(t, profiles)...)
		}
	}
	return out, nil
}

func (e *editor) checkTemplate(t podTemplate, profiles []string) []Finding {
	object := t.Kind
	if t.Name != "" {
		object += " " + t.Name
	}
	var out []Finding
	add := func(n *yaml.Node, kind FindingKind, container, profile, format string, args ...any) {
		l, c := e.pos(n)
		out = append(out, Finding{File: e.file, Line: l, Column: c, Kind: kind, Object: object,
			Container: container, Profile: profile, Message: fmt.Sprintf(format, args...)})
	}
	// check reports what one setting means for confinement.
	check := func(r profileRef, container string) {
		switch r.typ {
		case "Localhost":
			if r.name == "" {
				add(r.node, LocalhostWithoutName, container, "", "type Localhost without localhostProfile: the API server rejects it")
			} else if !slices.Contains(profiles, r.name) {
				add(r.nameNode, ProfileNotFound, container, r.name, "profile %q is not in the profile set: the container would fail to start (apparmor profile not found)", r.name)
			}
		case "Unconfined":
			add(r.node, Unconfined, container, "", "runs unconfined by AppArmor")
		}
	}
	if t.Spec == nil {
		return nil
	}
	pod, hasPod := fieldRef(get(t.Spec, "securityContext"))
	if hasPod {
		check(pod, "")
	}
	annotations := get(t.metadata(), "annotations")
	names := map[string]bool{}
	for _, c := range t.containers() {
		name := str(c, "name")
		names[name] = true
		field, hasField := fieldRef(get(c, "securityContext"))
		if hasField {
			check(field, name)
		}
		annNode := get(annotations, LegacyAnnotationPrefix+name)
		if annNode == nil || annNode.Kind != yaml.ScalarNode || annNode.Value == "" {
			continue // the API server takes an empty value as none
		}
		ann, ok := annotationRef(annNode)
		if !ok {
			add(annNode, BadAnnotation, name, "", "annotation %s%s: %q is none of runtime/default, unconfined, localhost/NAME: the API server rejects it", LegacyAnnotationPrefix, name, annNode.Value)
			continue
		}
		effective, hasEffective := field, hasField
		if !hasEffective {
			effective, hasEffective = pod, hasPod
		}
		switch {
		case !hasEffective:
			add(annNode, AnnotationOnly, name, ann.name, "only the deprecated annotation %s%s sets the profile (%s); set securityContext.appArmorProfile (armorer k8s patch)", LegacyAnnotationPrefix, name, ann)
			check(ann, name)
		case effective.typ != ann.typ || effective.name != ann.name:
			add(annNode, Mismatch, name, ann.name, "the annotation says %s but securityContext.appArmorProfile says %s: the API server rejects the pod", ann, effective)
		}
	}
	if annotations != nil && annotations.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(annotations.Content); i += 2 {
			k := annotations.Content[i]
			if c, ok := strings.CutPrefix(k.Value, LegacyAnnotationPrefix); ok && !names[c] {
				add(k, UnknownContainer, c, "", "annotation %s names no container of this pod: the API server rejects it", k.Value)
			}
		}
	}
	return out
}

// fieldRef reads securityContext.appArmorProfile.
func fieldRef(sc *yaml.Node) (profileRef, bool) {
	ap := get(sc, "appArmorProfile")
	if ap == nil || isNull(ap) {
		return profileRef{}, false
	}
	r := profileRef{typ: str(ap, "type"), name: str(ap, "localhostProfile"), node: ap, nameNode: ap}
	if t := get(ap, "type"); t != nil {
		r.node = t
	}
	if n := get(ap, "localhostProfile"); n != nil {
		r.nameNode = n
	}
	return r, true
}

// annotationRef reads the legacy annotation's value in the field's terms.
func annotationRef(n *yaml.Node) (profileRef, bool) {
	switch v := n.Value; {
	case v == "runtime/default":
		return profileRef{typ: "RuntimeDefault", node: n}, true
	case v == "unconfined":
		return profileRef{typ: "Unconfined", node: n}, true
	case strings.HasPrefix(v, "localhost/"):
		return profileRef{typ: "Localhost", name: strings.TrimPrefix(v, "localhost/"), node: n, nameNode: n}, true
	}
	return profileRef{}, false
}
