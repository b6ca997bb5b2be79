// Package kube is armorer's Kubernetes side on the API's terms: the
// manifests that run the node agent (typed k8s.io/api objects, never text
// templates), the patching of workloads so that their containers use a
// Localhost AppArmor profile (on the YAML node tree, so comments and every
// other field stay), and the checking of workloads against a profile set.
// The node agent itself is kube/agent.
package kube
