package kubetest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Server is a running etcd and kube-apiserver, reached as system:masters
// through a bearer token over TLS checked against its own CA.
type Server struct {
	URL    string
	Token  string
	Client *http.Client
	Dir    string // certificates, etcd's data and both logs

	procs     []proc
	mu        sync.Mutex
	resources map[string]resourceInfo // "group/version Kind" → resource
}

// StartupTimeout bounds the wait for etcd and the API server to be ready;
// on an idle machine they take about 1 s and 3 s.
var StartupTimeout = 3 * time.Minute

// Start runs etcd and kube-apiserver from binDir with their state in dir
// (a fresh temporary directory); Stop ends them.
func Start(ctx context.Context, binDir, dir string) (*Server, error) {
	s := &Server{Dir: dir, resources: map[string]resourceInfo{}}
	ok := false
	defer func() {
		if !ok {
			s.Stop()
		}
	}()
	caPEM, certPEM, keyPEM, err := servingCert()
	if err != nil {
		return nil, err
	}
	saKey, err := ecKeyPEM()
	if err != nil {
		return nil, err
	}
	var tok [16]byte
	rand.Read(tok[:])
	s.Token = hex.EncodeToString(tok[:])
	files := map[string][]byte{
		"ca.crt":      caPEM,
		"tls.crt":     certPEM,
		"tls.key":     keyPEM,
		"sa.key":      saKey,
		"tokens.csv":  []byte(s.Token + ",armorer-test,armorer-test-uid,system:masters\n"),
		"etcd/.keep":  nil,
		"certs/.keep": nil,
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return nil, err
		}
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	if err := s.run(ctx, filepath.Join(binDir, "etcd"), "etcd.log",
		"--name=default",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL,
		"--unsafe-no-fsync", "--log-level=warn",
	); err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, s.procs[0].done, http.DefaultClient, etcdURL+"/health", ""); err != nil {
		return nil, fmt.Errorf("etcd did not become healthy: %w%s", err, s.logTail("etcd.log"))
	}
	s.URL = "https://127.0.0.1:" + strconv.Itoa(ports[2])
	if err := s.run(ctx, filepath.Join(binDir, "kube-apiserver"), "kube-apiserver.log",
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports[2]),
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--tls-cert-file="+filepath.Join(dir, "tls.crt"), "--tls-private-key-file="+filepath.Join(dir, "tls.key"),
		"--token-auth-file="+filepath.Join(dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+filepath.Join(dir, "sa.key"),
		"--service-account-signing-key-file="+filepath.Join(dir, "sa.key"),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--enable-priority-and-fairness=false",
		// No Service endpoints for the API server itself: the endpoint
		// reconciler refuses a loopback advertise address.
		"--endpoint-reconciler-type=none",
	); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	s.Client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if err := waitHTTP(ctx, s.procs[1].done, s.Client, s.URL+"/readyz", s.Token); err != nil {
		return nil, fmt.Errorf("kube-apiserver did not become ready: %w%s", err, s.logTail("kube-apiserver.log"))
	}
	ok = true
	return s, nil
}

func (s *Server) run(ctx context.Context, bin, logName string, args ...string) error {
	log, err := os.Create(filepath.Join(s.Dir, logName))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test binary
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start %s: %w", bin, err)
	}
	done := make(chan struct{})
	s.procs = append(s.procs, proc{cmd, done})
	go func() { cmd.Wait(); log.Close(); close(done) }()
	return nil
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
}

// Stop ends the API server, then etcd.
func (s *Server) Stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	s.procs = nil
}

// logTail is the end of a log, for error messages.
func (s *Server) logTail(name string) string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, name))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return "\n--- " + name + " (end) ---\n" + string(b)
}

// waitHTTP polls url until it answers 200, the process exits (exited is
// closed) or StartupTimeout passes.
func waitHTTP(ctx context.Context, exited <-chan struct{}, c *http.Client, url, token string) error {
	ctx, cancel := context.WithTimeout(ctx, StartupTimeout)
	defer cancel()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-exited:
			return fmt.Errorf("it exited (last: %v)", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// servingCert makes a CA and a serving certificate for 127.0.0.1 and
// localhost signed by it.
func servingCert() (caPEM, certPEM, keyPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "armorer-test-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

func ecKeyPEM() ([]byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// APIError is the API server's refusal, with its Status.
type APIError struct {
	Code   int
	Status metav1.Status
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Code, e.Status.Reason, e.Status.Message)
}

type resourceInfo struct {
	name       string
	namespaced bool
}

// resource finds a kind's resource through discovery.
func (s *Server) resource(ctx context.Context, apiVersion, kind string) (resourceInfo, error) {
	key := apiVersion + " " + kind
	s.mu.Lock()
	r, ok := s.resources[key]
	s.mu.Unlock()
	if ok {
		return r, nil
	}
	path := "/apis/" + apiVersion
	if !strings.Contains(apiVersion, "/") {
		path = "/api/" + apiVersion
	}
	var list metav1.APIResourceList
	if err := s.do(ctx, http.MethodGet, path, nil, &list); err != nil {
		return resourceInfo{}, fmt.Errorf("discover %s: %w", apiVersion, err)
	}
	for _, res := range list.APIResources {
		if res.Kind == kind && !strings.Contains(res.Name, "/") {
			r = resourceInfo{name: res.Name, namespaced: res.Namespaced}
			s.mu.Lock()
			s.resources[key] = r
			s.mu.Unlock()
			return r, nil
		}
	}
	return resourceInfo{}, fmt.Errorf("no resource for kind %s in %s", kind, apiVersion)
}

// Created is what the API server answered to a create.
type Created struct {
	Object   map[string]any
	Warnings []string // its Warning headers (deprecations, Pod Security)
}

// Create creates obj (JSON or YAML decoded to a map), in namespace ns
// when the kind is namespaced and obj names none, with strict field
// validation (an unknown or duplicate field is an error, not dropped);
// dryRun asks the API server to validate and admit it without storing it.
func (s *Server) Create(ctx context.Context, obj map[string]any, ns string, dryRun bool) (*Created, error) {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	r, err := s.resource(ctx, apiVersion, kind)
	if err != nil {
		return nil, err
	}
	path := "/apis/" + apiVersion
	if !strings.Contains(apiVersion, "/") {
		path = "/api/" + apiVersion
	}
	if r.namespaced {
		if md, ok := obj["metadata"].(map[string]any); ok {
			if n, ok := md["namespace"].(string); ok && n != "" {
				ns = n
			}
		}
		if ns == "" {
			ns = "default"
		}
		path += "/namespaces/" + ns
	}
	path += "/" + r.name + "?fieldValidation=Strict"
	if dryRun {
		path += "&dryRun=All"
	}
	body, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	c := &Created{}
	hdr, err := s.doHeader(ctx, http.MethodPost, path, body, &c.Object)
	for _, w := range hdr.Values("Warning") {
		c.Warnings = append(c.Warnings, w)
	}
	if err != nil {
		return c, err
	}
	return c, nil
}

// Get reads one object by its API path (for example /api/v1/namespaces/x/pods/y).
func (s *Server) Get(ctx context.Context, path string) (map[string]any, error) {
	var out map[string]any
	return out, s.do(ctx, http.MethodGet, path, nil, &out)
}

func (s *Server) do(ctx context.Context, method, path string, body []byte, out any) error {
	_, err := s.doHeader(ctx, method, path, body, out)
	return err
}

func (s *Server) doHeader(ctx context.Context, method, path string, body []byte, out any) (http.Header, error) {
	hdr := http.Header{}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		return hdr, err
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return hdr, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.Header, err
	}
	if resp.StatusCode/100 != 2 {
		e := &APIError{Code: resp.StatusCode}
		if json.Unmarshal(data, &e.Status) != nil || e.Status.Message == "" {
			e.Status.Message = string(bytes.TrimSpace(data))
		}
		return resp.Header, e
	}
	if err := json.Unmarshal(data, out); err != nil {
		return resp.Header, fmt.Errorf("%s %s: decode: %w", method, path, err)
	}
	return resp.Header, nil
}

// IsInvalid reports whether err is the API server's validation refusal.
func IsInvalid(err error) (*APIError, bool) {
	var ae *APIError
	if errors.As(err, &ae) && ae.Status.Reason == metav1.StatusReasonInvalid {
		return ae, true
	}
	return nil, false
}
