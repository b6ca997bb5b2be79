package kube

import (
	"go.yaml.in/yaml/v3"
)

// templatePaths says where each workload kind keeps its pod template:
// the path to the mapping that holds the pod's metadata and spec.
var templatePaths = map[string][]string{
	"Pod":                   nil,
	"PodTemplate":           {"template"},
	"Deployment":            {"spec", "template"},
	"StatefulSet":           {"spec", "template"},
	"DaemonSet":             {"spec", "template"},
	"ReplicaSet":            {"spec", "template"},
	"ReplicationController": {"spec", "template"},
	"Job":                   {"spec", "template"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template"},
}

// containerLists are the PodSpec fields that hold containers; each
// container can have its own AppArmor profile.
var containerLists = []string{"initContainers", "containers", "ephemeralContainers"}

// podTemplate is one pod (or pod template) found in a document.
type podTemplate struct {
	Kind, Name string
	Object     *yaml.Node // the whole object, for its position
	Template   *yaml.Node // the mapping that holds metadata and spec
	Spec       *yaml.Node // the PodSpec mapping; nil when the template has none
}

// metadata returns the template's metadata mapping, or nil.
func (t podTemplate) metadata() *yaml.Node { return get(t.Template, "metadata") }

// containers yields the PodSpec's containers with their names.
func (t podTemplate) containers() []*yaml.Node {
	var out []*yaml.Node
	for _, list := range containerLists {
		seq := get(t.Spec, list)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		for _, c := range seq.Content {
			if c = resolve(c); c.Kind == yaml.MappingNode {
				out = append(out, c)
			}
		}
	}
	return out
}

// podTemplates finds the pod templates of one object: the object itself
// for a workload kind, each item for a List. Other kinds have none.
func podTemplates(obj *yaml.Node) []podTemplate {
	obj = resolve(obj)
	if obj == nil || obj.Kind != yaml.MappingNode {
		return nil
	}
	kind := str(obj, "kind")
	if kind == "List" || (len(kind) > 4 && kind[len(kind)-4:] == "List") {
		var out []podTemplate
		if items := get(obj, "items"); items != nil && items.Kind == yaml.SequenceNode {
			for _, it := range items.Content {
				out = append(out, podTemplates(it)...)
			}
		}
		return out
	}
	path, ok := templatePaths[kind]
	if !ok {
		return nil
	}
	tmpl := obj
	for _, k := range path {
		if tmpl = get(tmpl, k); tmpl == nil || tmpl.Kind != yaml.MappingNode {
			return nil
		}
	}
	t := podTemplate{Kind: kind, Name: str(get(obj, "metadata"), "name"), Object: obj, Template: tmpl}
	if s := get(tmpl, "spec"); s != nil && s.Kind == yaml.MappingNode {
		t.Spec = s
	}
	return []podTemplate{t}
}
