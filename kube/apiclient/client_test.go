package apiclient

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestInCluster: the client trusts the service account's CA, sends the
// token as it is in the file at each request (the kubelet rotates it),
// and turns the API's Status into errors that tell reasons apart.
func TestInCluster(t *testing.T) {
	var tokens []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokens = append(tokens, r.Header.Get("Authorization"))
		switch r.URL.Path {
		case "/api/v1/namespaces/ns/configmaps/cm":
			json.NewEncoder(w).Encode(corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", ResourceVersion: "7"}})
		case "/api/v1/namespaces/ns/configmaps/busy":
			w.WriteHeader(http.StatusConflict)
			json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure", Reason: metav1.StatusReasonConflict, Code: 409, Message: "the object has been modified"})
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "404 page not found") // not a Status: a proxy's answer
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.crt", string(ca))
	write("token", "first\n")
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	c, err := inCluster(host, port, dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cm, err := c.GetConfigMap(ctx, "ns", "cm")
	if err != nil || cm.ResourceVersion != "7" {
		t.Fatalf("get: %v, %+v", err, cm)
	}
	write("token", "rotated")
	_, err = c.GetConfigMap(ctx, "ns", "busy")
	if !IsConflict(err) || IsNotFound(err) {
		t.Errorf("a Conflict Status: %v", err)
	}
	if _, err := c.GetConfigMap(ctx, "ns", "gone"); !IsNotFound(err) {
		t.Errorf("a 404 without a Status: %v, want NotFound", err)
	}
	if tokens[0] != "Bearer first" || tokens[1] != "Bearer rotated" {
		t.Errorf("tokens sent: %q", tokens)
	}
	if _, err := inCluster("", "", dir); err == nil {
		t.Errorf("outside a pod: no error")
	}
	if _, err := inCluster(host, port, t.TempDir()); err == nil {
		t.Errorf("without the service account's files: no error")
	}
}

// TestConfigMapsPages: a list is read page by page, following continue.
func TestConfigMapsPages(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("labelSelector") != "a=b" || q.Get("limit") != "2" {
			t.Errorf("query %v", q)
		}
		list := corev1.ConfigMapList{}
		switch q.Get("continue") {
		case "":
			list.Items = []corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Name: "1"}}, {ObjectMeta: metav1.ObjectMeta{Name: "2"}}}
			list.Continue = "next"
		case "next":
			list.Items = []corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Name: "3"}}}
		}
		json.NewEncoder(w).Encode(list)
	}))
	defer srv.Close()
	c := &Client{Server: srv.URL, HTTP: srv.Client()}
	var names []string
	err := c.ConfigMaps(context.Background(), "ns", "a=b", 2, func(cm *corev1.ConfigMap) error {
		names = append(names, cm.Name)
		return nil
	})
	if err != nil || len(names) != 3 || names[2] != "3" {
		t.Errorf("names %v, err %v", names, err)
	}
}
