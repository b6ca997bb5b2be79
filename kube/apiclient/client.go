// Package apiclient is armorer's small client of the Kubernetes API: JSON
// over net/http, typed with k8s.io/api objects, for the few calls armorer
// makes (its node agent's ConfigMap and Node label, the events command's
// list). It replaces client-go's dynamic client, which links its
// machinery into every armorer binary for a handful of requests; the
// command line still loads kubeconfig files with client-go's clientcmd
// (exec plugins, merging rules), which hands this client its transport.
package apiclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Client talks to one API server.
type Client struct {
	// Server is the API server's base URL (https://host:port).
	Server string
	// HTTP carries the requests; its transport checks the server's
	// certificate and may authenticate (client certificates, exec
	// plugins).
	HTTP *http.Client
	// Token, when set, gives the bearer token of each request: in a pod
	// it re-reads the projected service account token, which the
	// kubelet rotates.
	Token func() (string, error)
	// UserAgent and FieldManager name armorer in requests and in the
	// objects' managedFields.
	UserAgent    string
	FieldManager string
}

// The service account files the kubelet projects into every pod that
// mounts its token.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// InCluster returns a client for the API server of the cluster this pod
// runs in, authenticated as the pod's service account, as client-go's
// rest.InClusterConfig does: KUBERNETES_SERVICE_HOST and _PORT, the
// token (re-read for every request, so a rotated token is used at once)
// and the cluster's CA.
func InCluster() (*Client, error) {
	return inCluster(os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"), serviceAccountDir)
}

func inCluster(host, port, dir string) (*Client, error) {
	if host == "" || port == "" {
		return nil, errors.New("not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set")
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("the service account's CA: %w (is automountServiceAccountToken on?)", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s: no PEM certificate", filepath.Join(dir, "ca.crt"))
	}
	tokenFile := filepath.Join(dir, "token")
	if _, err := os.Stat(tokenFile); err != nil {
		return nil, fmt.Errorf("the service account's token: %w (is automountServiceAccountToken on?)", err)
	}
	return &Client{
		Server: "https://" + net.JoinHostPort(host, port),
		HTTP: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout: 10 * time.Second,
			IdleConnTimeout:     90 * time.Second,
		}},
		Token: func() (string, error) {
			b, err := os.ReadFile(tokenFile)
			if err != nil {
				return "", fmt.Errorf("the service account's token: %w", err)
			}
			return strings.TrimSpace(string(b)), nil
		},
	}, nil
}

// StatusError is the API server's refusal of a request, with its Status
// (Reason says why: NotFound, Conflict, Forbidden, Invalid, …).
type StatusError struct {
	Method, Path string
	Code         int
	Status       metav1.Status
}

func (e *StatusError) Error() string {
	msg := e.Status.Message
	if msg == "" {
		msg = http.StatusText(e.Code)
	}
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Code, e.Status.Reason, msg)
}

func reason(err error) metav1.StatusReason {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status.Reason
	}
	return ""
}

// IsNotFound, IsConflict, IsAlreadyExists and IsForbidden tell the API
// server's refusals apart.
func IsNotFound(err error) bool      { return reason(err) == metav1.StatusReasonNotFound }
func IsConflict(err error) bool      { return reason(err) == metav1.StatusReasonConflict }
func IsAlreadyExists(err error) bool { return reason(err) == metav1.StatusReasonAlreadyExists }
func IsForbidden(err error) bool     { return reason(err) == metav1.StatusReasonForbidden }

// maxResponse bounds what one answer may hold: a list page of ConfigMaps
// of up to 1 MiB each.
const maxResponse = 64 << 20

// Do sends one request: body (if not nil) as JSON, or as contentType
// when it is []byte; the answer decoded into out (if not nil).
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body any, contentType string, out any) error {
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				return fmt.Errorf("%s %s: %w", method, path, err)
			}
		}
		rd = bytes.NewReader(b)
	}
	u := strings.TrimSuffix(c.Server, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		if contentType == "" {
			contentType = "application/json"
		}
		req.Header.Set("Content-Type", contentType)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	if c.Token != nil {
		tok, err := c.Token()
		if err != nil {
			return err
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if len(data) > maxResponse {
		return fmt.Errorf("%s %s: the answer is larger than %d bytes", method, path, maxResponse)
	}
	if resp.StatusCode/100 != 2 {
		se := &StatusError{Method: method, Path: path, Code: resp.StatusCode}
		if json.Unmarshal(data, &se.Status) != nil || se.Status.Kind != "Status" {
			se.Status = metav1.Status{Message: string(bytes.TrimSpace(data)), Reason: reasonForCode(resp.StatusCode)}
		}
		return se
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
	}
	return nil
}

// reasonForCode is the reason of an answer that is not a Status (a
// proxy's, or an old server's).
func reasonForCode(code int) metav1.StatusReason {
	switch code {
	case http.StatusNotFound:
		return metav1.StatusReasonNotFound
	case http.StatusConflict:
		return metav1.StatusReasonConflict
	case http.StatusForbidden:
		return metav1.StatusReasonForbidden
	case http.StatusUnauthorized:
		return metav1.StatusReasonUnauthorized
	}
	return metav1.StatusReasonUnknown
}

func (c *Client) writeQuery() url.Values {
	q := url.Values{}
	if c.FieldManager != "" {
		q.Set("fieldManager", c.FieldManager)
	}
	return q
}

func configMapsPath(ns string) string {
	return "/api/v1/namespaces/" + url.PathEscape(ns) + "/configmaps"
}

// GetConfigMap reads one ConfigMap.
func (c *Client) GetConfigMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	var cm corev1.ConfigMap
	return &cm, c.Do(ctx, http.MethodGet, configMapsPath(ns)+"/"+url.PathEscape(name), nil, nil, "", &cm)
}

// CreateConfigMap creates cm in its namespace.
func (c *Client) CreateConfigMap(ctx context.Context, cm *corev1.ConfigMap) (*corev1.ConfigMap, error) {
	var out corev1.ConfigMap
	return &out, c.Do(ctx, http.MethodPost, configMapsPath(cm.Namespace), c.writeQuery(), withKind(cm), "", &out)
}

// UpdateConfigMap replaces cm; with cm.ResourceVersion set, the server
// refuses it (IsConflict) when the object changed since that version.
func (c *Client) UpdateConfigMap(ctx context.Context, cm *corev1.ConfigMap) (*corev1.ConfigMap, error) {
	var out corev1.ConfigMap
	return &out, c.Do(ctx, http.MethodPut, configMapsPath(cm.Namespace)+"/"+url.PathEscape(cm.Name), c.writeQuery(), withKind(cm), "", &out)
}

func withKind(cm *corev1.ConfigMap) *corev1.ConfigMap {
	cp := *cm
	cp.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}
	return &cp
}

// ConfigMaps calls fn with every ConfigMap of ns that matches the label
// selector, a page of pageSize at a time, so that a large fleet's objects
// are never all in memory at once.
func (c *Client) ConfigMaps(ctx context.Context, ns, selector string, pageSize int, fn func(*corev1.ConfigMap) error) error {
	q := url.Values{}
	if selector != "" {
		q.Set("labelSelector", selector)
	}
	if pageSize > 0 {
		q.Set("limit", fmt.Sprint(pageSize))
	}
	for {
		var list corev1.ConfigMapList
		if err := c.Do(ctx, http.MethodGet, configMapsPath(ns), q, nil, "", &list); err != nil {
			return err
		}
		for i := range list.Items {
			if err := fn(&list.Items[i]); err != nil {
				return err
			}
		}
		if list.Continue == "" {
			return nil
		}
		q.Set("continue", list.Continue)
	}
}

// MergePatchNode applies a JSON merge patch (RFC 7386) to a Node.
func (c *Client) MergePatchNode(ctx context.Context, name string, patch []byte) error {
	return c.Do(ctx, http.MethodPatch, "/api/v1/nodes/"+url.PathEscape(name), c.writeQuery(), patch, "application/merge-patch+json", nil)
}
