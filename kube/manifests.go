package kube

import (
	"bytes"
	"fmt"
	"strconv"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// Defaults of ManifestOptions.
const (
	DefaultNamespace = "armorer-system"
	DefaultImage     = "ghcr.io/armorer-dev/armorer:latest"
	DefaultPort      = 9779
)

// Names of the objects the manifests create.
const (
	AgentName     = "armorer-agent"
	ProfilesName  = "armorer-profiles"
	agentBinary   = "/usr/local/bin/armorer"
	profilesMount = "/profiles"
	stateDir      = "/var/lib/armorer"
	hostIncludes  = "/host/etc/apparmor.d"
	runtimeRoot   = "/host"
)

// ManifestOptions says what to deploy.
type ManifestOptions struct {
	Namespace string
	Image     string
	Port      int32
	Profiles  []ProfileSource // the ConfigMap's content, from ReadProfiles
	// Attribution has the agent read denials and attribute them to pods:
	// hostPID, the host network (audit netlink), CAP_AUDIT_READ and the
	// runtimes' container state read-only.
	Attribution bool
	// NodeLabel has the agent label its Node with a hash of the loaded
	// set (--node-label): its token, NODE_NAME from the downward API and
	// a ClusterRole to get and patch nodes.
	NodeLabel bool
	// PublishEvents has the agent publish its complain-mode accesses in
	// the ConfigMap armorer-events-NODE of the namespace
	// (--publish-events; needs Attribution): its token, NODE_NAME, a Role
	// to create, get and update ConfigMaps there, and the admission
	// policy that holds each agent to its own node's object.
	PublishEvents bool
	// ServiceMonitor adds a headless Service and a prometheus-operator
	// ServiceMonitor for the agents' /metrics.
	ServiceMonitor bool
}

func (o *ManifestOptions) defaults() {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Image == "" {
		o.Image = DefaultImage
	}
	if o.Port == 0 {
		o.Port = DefaultPort
	}
}

func labels() map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":      AgentName,
		"app.kubernetes.io/part-of":   "armorer",
		"app.kubernetes.io/component": "node-agent",
	}
}

func selector() map[string]string { return map[string]string{"app.kubernetes.io/name": AgentName} }

func (o *ManifestOptions) meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: o.Namespace, Labels: labels()}
}

// Objects returns the objects that deploy the agent, in the order to
// apply them (the namespace first, the DaemonSet after what it mounts).
func Objects(o ManifestOptions) []runtime.Object {
	o.defaults()
	ns := &corev1.Namespace{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Namespace, Labels: map[string]string{
			// The agent's pod needs hostPath volumes, MAC_ADMIN and an
			// unconfined AppArmor profile: no Pod Security level but
			// privileged admits that, so the namespace holds nothing else.
			"pod-security.kubernetes.io/enforce": "privileged",
			"app.kubernetes.io/part-of":          "armorer",
		}},
	}
	sa := &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: o.meta(AgentName),
		// The agent reads its ConfigMap as a volume and pod metadata
		// from the node: only node labelling and event publishing talk
		// to the API.
		AutomountServiceAccountToken: new(o.usesAPI()),
	}
	objs := []runtime.Object{ns, sa}
	if o.NodeLabel {
		objs = append(objs, o.nodeLabelRBAC()...)
	}
	if o.PublishEvents {
		objs = append(objs, o.publishRBAC()...)
	}
	if o.usesAPI() {
		objs = append(objs, o.ownNodePolicy()...)
	}
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: o.meta(ProfilesName),
		Data:       map[string]string{},
	}
	for _, p := range o.Profiles {
		cm.Data[p.Name] = string(p.Content)
	}
	objs = append(objs, cm, o.daemonSet())
	if o.ServiceMonitor {
		objs = append(objs, o.service(), o.serviceMonitor())
	}
	return objs
}

func (o *ManifestOptions) agentArgs() []string {
	args := []string{"k8s", "agent",
		"--profiles=" + profilesMount,
		"--state-dir=" + stateDir,
		"--includes=" + hostIncludes,
		"--listen=:" + strconv.Itoa(int(o.Port)),
	}
	if o.Attribution {
		// hostNetwork: the port is the node's; not on all its addresses
		args = append(args, "--attribution", "--runtime-root="+runtimeRoot, "--listen-pod-ip")
	}
	if o.NodeLabel {
		args = append(args, "--node-label")
	}
	if o.PublishEvents {
		args = append(args, "--publish-events", "--events-namespace="+o.Namespace)
	}
	return args
}

// usesAPI says whether the agent talks to the API server at all.
func (o *ManifestOptions) usesAPI() bool { return o.NodeLabel || o.PublishEvents }

// nodeLabelRBAC is what the agent's NodeLabeler calls: a merge patch of
// its Node. Nodes are cluster-scoped and RBAC cannot say "only my own
// node" (resourceNames are fixed names; the NodeRestriction admission
// plugin limits kubelets, not service accounts), so RBAC grants patch on
// nodes, no get, list, watch, update or delete, and ownNodePolicy holds
// each agent to its own Node.
func (o *ManifestOptions) nodeLabelRBAC() []runtime.Object {
	meta := metav1.ObjectMeta{Name: AgentName, Labels: labels()}
	return []runtime.Object{
		&rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
			ObjectMeta: meta,
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"patch"}}},
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
			ObjectMeta: meta,
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: AgentName},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: AgentName, Namespace: o.Namespace}},
		},
	}
}

// publishRBAC is what the agent's Publisher calls in its namespace:
// get, create and update of ConfigMaps. RBAC cannot name the objects
// (create has no name to match, and resourceNames are fixed names, not
// armorer-events-<node>), so the Role covers the namespace's ConfigMaps,
// the profiles' included, and ownNodePolicy narrows each agent to its
// own node's events object. No list, watch, patch or delete.
func (o *ManifestOptions) publishRBAC() []runtime.Object {
	meta := o.meta(AgentName + "-events")
	return []runtime.Object{
		&rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
			ObjectMeta: meta,
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "create", "update"}}},
		},
		&rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: meta,
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: AgentName + "-events"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: AgentName, Namespace: o.Namespace}},
		},
	}
}

// NodeNameExtra is the user-info extra that a pod-bound service account
// token carries for the node the pod runs on (Kubernetes 1.30 and later).
const NodeNameExtra = "authentication.kubernetes.io/node-name"

// ownNodePolicy is a ValidatingAdmissionPolicy, with its binding, that
// does what RBAC cannot: it holds the agent's ServiceAccount to its own
// node. The API server knows that node from the pod-bound token
// (NodeNameExtra), so the agent of node A can write
// armorer-events-A and label Node A, and is denied any other ConfigMap
// (the profiles ConfigMap included, which every node loads) and any other
// Node: one compromised node cannot rewrite the fleet's profiles, forge
// another node's events, or relabel another node.
func (o *ManifestOptions) ownNodePolicy() []runtime.Object {
	var resources []string
	if o.PublishEvents {
		resources = append(resources, "configmaps")
	}
	if o.NodeLabel {
		resources = append(resources, "nodes")
	}
	user := "system:serviceaccount:" + o.Namespace + ":" + AgentName
	// Cluster-scoped, and about one namespace's agent: named after both.
	name := AgentName + "-own-node-" + o.Namespace
	meta := metav1.ObjectMeta{Name: name, Labels: labels()}
	return []runtime.Object{
		&admissionv1.ValidatingAdmissionPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicy"},
			ObjectMeta: meta,
			Spec: admissionv1.ValidatingAdmissionPolicySpec{
				FailurePolicy: new(admissionv1.Fail),
				MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionv1.RuleWithOperations{
						Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update, admissionv1.Delete},
						Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: resources},
					},
				}}},
				MatchConditions: []admissionv1.MatchCondition{{
					Name:       "armorer-agent",
					Expression: "request.userInfo.username == '" + user + "'",
				}},
				Variables: []admissionv1.Variable{
					{Name: "node", Expression: "request.userInfo.extra[?'" + NodeNameExtra + "'][0].orValue('')"},
					{Name: "object", Expression: "(request.operation == 'DELETE' ? oldObject : object).?metadata.name.orValue('')"},
				},
				Validations: []admissionv1.Validation{{
					Expression: "variables.node != ''",
					Message:    "the armorer agent must use its pod's token, which names its node (Kubernetes 1.30 or later)",
				}, {
					Expression:        "request.resource.resource != 'configmaps' || variables.object == '" + EventsConfigMapName("") + "' + variables.node",
					MessageExpression: "'the armorer agent of node ' + variables.node + ' may write only the ConfigMap " + EventsConfigMapName("") + "' + variables.node + ', not ' + variables.object",
				}, {
					Expression:        "request.resource.resource != 'nodes' || variables.object == variables.node",
					MessageExpression: "'the armorer agent of node ' + variables.node + ' may label only its own node, not ' + variables.object",
				}},
			},
		},
		&admissionv1.ValidatingAdmissionPolicyBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicyBinding"},
			ObjectMeta: meta,
			Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
				PolicyName:        name,
				ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			},
		},
	}
}

type hostMount struct {
	name, hostPath, mountPath string
	typ                       corev1.HostPathType
	readOnly                  bool
}

func (o *ManifestOptions) hostMounts() []hostMount {
	m := []hostMount{
		// The kernel's AppArmor interface: loading and replacing
		// profiles writes .replace and .remove here.
		{"securityfs", "/sys/kernel/security", "/sys/kernel/security", corev1.HostPathDirectory, false},
		// The agent's own state (ownership record, accepted profiles,
		// backups): never a directory AppArmor loads at boot.
		{"state", stateDir, stateDir, corev1.HostPathDirectoryOrCreate, false},
		// The node's tunables and abstractions, so profiles compile
		// against what the node has; its profiles are the
		// distribution's, which the agent refuses to replace.
		{"host-apparmor", "/etc/apparmor.d", hostIncludes, corev1.HostPathDirectory, true},
	}
	if o.Attribution {
		// Each container's OCI config.json, whose annotations name its
		// pod, and runc's state, which names the bundle: only these
		// per-container directories, never the runtime's socket
		// (/run/containerd/containerd.sock would be root on the node).
		for _, d := range []struct{ name, path string }{
			{"containerd-tasks", "/run/containerd/io.containerd.runtime.v2.task/k8s.io"},
			{"containerd-runc", "/run/containerd/runc/k8s.io"},
			{"crio-containers", "/run/containers/storage/overlay-containers"},
			{"crio-runc", "/run/crio/runc"},
			{"runc", "/run/runc"},
		} {
			m = append(m, hostMount{d.name, d.path, runtimeRoot + d.path, corev1.HostPathDirectoryOrCreate, true})
		}
	}
	return m
}

func (o *ManifestOptions) daemonSet() *appsv1.DaemonSet {
	caps := []corev1.Capability{"MAC_ADMIN"}
	if o.Attribution {
		caps = append(caps, "AUDIT_READ") // the audit netlink multicast group
	}
	volumes := []corev1.Volume{{
		Name:         "profiles",
		VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: ProfilesName}}},
	}, {
		Name:         "tmp",
		VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: new(resource.MustParse("64Mi"))}},
	}}
	mounts := []corev1.VolumeMount{
		{Name: "profiles", MountPath: profilesMount, ReadOnly: true},
		{Name: "tmp", MountPath: "/tmp"},
	}
	for _, h := range o.hostMounts() {
		volumes = append(volumes, corev1.Volume{Name: h.name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: h.hostPath, Type: new(h.typ)}}})
		mounts = append(mounts, corev1.VolumeMount{Name: h.name, MountPath: h.mountPath, ReadOnly: h.readOnly})
	}
	probe := func(path string, period int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("metrics")}},
			PeriodSeconds: period, TimeoutSeconds: 5, FailureThreshold: 3,
		}
	}
	c := corev1.Container{
		Name:            "agent",
		Image:           o.Image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         []string{agentBinary},
		Args:            o.agentArgs(),
		Env:             o.env(),
		Ports:           []corev1.ContainerPort{{Name: "metrics", ContainerPort: o.Port, Protocol: corev1.ProtocolTCP}},
		// Ready only when the whole desired set is loaded; alive as
		// soon as it serves, so a slow first load is not a restart loop.
		ReadinessProbe: probe("/readyz", 5),
		LivenessProbe:  probe("/healthz", 20),
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
			// apparmor_parser compiling a large profile is the peak.
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
		},
		VolumeMounts: mounts,
		SecurityContext: &corev1.SecurityContext{
			// Root with one capability, not privileged: MAC_ADMIN is
			// what the kernel asks of a policy load.
			Privileged:               new(false),
			AllowPrivilegeEscalation: new(false),
			RunAsUser:                new(int64(0)),
			RunAsNonRoot:             new(false),
			ReadOnlyRootFilesystem:   new(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: caps},
			// The runtime's default profile denies writes to
			// securityfs; the loader of every profile cannot be
			// confined by one of them.
			AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined},
			SeccompProfile:  &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
	spec := corev1.PodSpec{
		ServiceAccountName:           AgentName,
		AutomountServiceAccountToken: new(o.usesAPI()),
		PriorityClassName:            "system-node-critical",
		NodeSelector:                 map[string]string{"kubernetes.io/os": "linux"},
		// Every node that runs pods needs their profiles, whatever its taints.
		Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		Containers:                    []corev1.Container{c},
		Volumes:                       volumes,
		TerminationGracePeriodSeconds: new(int64(30)),
	}
	if o.Attribution {
		spec.HostPID = true     // /proc/PID/cgroup of every pod's processes
		spec.HostNetwork = true // the kernel sends audit records to the initial network namespace only
		spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	}
	return &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: o.meta(AgentName),
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: selector()},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
				Type:          appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: new(intstr.FromInt32(1))},
			},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels()}, Spec: spec},
		},
	}
}

// env gives the agent its node's name (the downward API's
// spec.nodeName) when it labels that node or publishes its events, and
// with Attribution (hostNetwork) its pod's IP (status.podIP, the node's
// internal address) to listen on (--listen-pod-ip).
func (o *ManifestOptions) env() []corev1.EnvVar {
	var env []corev1.EnvVar
	if o.usesAPI() {
		env = append(env, corev1.EnvVar{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.nodeName"}}})
	}
	if o.Attribution {
		env = append(env, corev1.EnvVar{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"}}})
	}
	return env
}

func (o *ManifestOptions) service() *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: o.meta(AgentName),
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone, // one endpoint per node's agent
			Selector:  selector(),
			Ports:     []corev1.ServicePort{{Name: "metrics", Port: o.Port, TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolTCP}},
		},
	}
}

// serviceMonitor is prometheus-operator's monitoring.coreos.com/v1
// ServiceMonitor, built as an unstructured object: armorer does not
// depend on the operator's Go types for one small object.
func (o *ManifestOptions) serviceMonitor() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1",
		"kind":       "ServiceMonitor",
		"metadata": map[string]any{
			"name": AgentName, "namespace": o.Namespace, "labels": toAny(labels()),
		},
		"spec": map[string]any{
			"selector":  map[string]any{"matchLabels": toAny(selector())},
			"endpoints": []any{map[string]any{"port": "metrics", "path": "/metrics", "interval": "30s"}},
		},
	}}
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// MarshalYAML serialises objects as one multi-document YAML stream,
// leaving out what the API server fills in (status, creationTimestamp).
func MarshalYAML(objs []runtime.Object) ([]byte, error) {
	var buf bytes.Buffer
	for i, obj := range objs {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return nil, fmt.Errorf("convert %T: %w", obj, err)
		}
		delete(m, "status")
		if md, ok := m["metadata"].(map[string]any); ok {
			delete(md, "creationTimestamp")
		}
		if spec, ok := m["spec"].(map[string]any); ok && len(spec) == 0 {
			delete(m, "spec") // a Namespace's
		}
		if spec, ok := m["spec"].(map[string]any); ok {
			if tmpl, ok := spec["template"].(map[string]any); ok {
				if md, ok := tmpl["metadata"].(map[string]any); ok {
					delete(md, "creationTimestamp")
				}
			}
		}
		b, err := yaml.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("marshal %T: %w", obj, err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}
