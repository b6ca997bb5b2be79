// Command myapp is the application the end-to-end tests confine: a small
// service with the habits of a real one. It reads /opt/myapp/config, writes
// /opt/myapp/data, logs to /var/log/myapp, makes temporary files in /tmp,
// resolves a name through /etc/hosts, serves HTTP on 127.0.0.1:8080 and
// runs a dynamically linked helper (/opt/myapp/bin/myapp-helper).
//
//	myapp serve                 run the service until SIGTERM
//	myapp client URL...         GET each URL, print the bodies (no wget needed)
//	myapp --selftest            do everything serve does once, then exit 0
//	myapp compromised           try what a hijacked myapp might; exit 0 only if every attempt was blocked
//
// Built with -ldflags "-X main.version=2" it also keeps a cache in
// /opt/myapp/cache: an "application update" that needs one new rule.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

var version = "1"

const (
	configPath = "/opt/myapp/config"
	dataDir    = "/opt/myapp/data"
	cacheDir   = "/opt/myapp/cache"
	logDir     = "/var/log/myapp"
	helperPath = "/opt/myapp/bin/myapp-helper"
	hostName   = "myapp.internal" // must be in /etc/hosts
)

func main() {
	selftest := flag.Bool("selftest", false, "exercise the normal behaviour once and exit")
	addr := flag.String("addr", "127.0.0.1:8080", "listen address of serve and --selftest")
	flag.Parse()
	var err error
	switch {
	case *selftest:
		err = runSelftest(*addr)
	case flag.Arg(0) == "serve":
		err = serve(*addr)
	case flag.Arg(0) == "client":
		err = client(flag.Args()[1:])
	case flag.Arg(0) == "compromised":
		err = compromised()
	default:
		fmt.Fprintln(os.Stderr, "usage: myapp [--addr A] serve | client URL... | --selftest | compromised")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "myapp:", err)
		os.Exit(1)
	}
}

type app struct {
	config map[string]string
	log    *log.Logger
}

func newApp() (*app, error) {
	cfg, err := readConfig(configPath)
	if err != nil {
		return nil, err
	}
	lf, err := os.OpenFile(filepath.Join(logDir, "myapp.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	a := &app{config: cfg, log: log.New(lf, "myapp: ", log.LstdFlags)}
	addrs, err := net.DefaultResolver.LookupHost(context.Background(), hostName)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", hostName, err)
	}
	a.log.Printf("version %s starting; %s is %v", version, hostName, addrs)
	return a, nil
}

func readConfig(name string) (map[string]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	cfg := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			cfg[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return cfg, sc.Err()
}

func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s version %s\n", a.config["name"], version)
	})
	mux.HandleFunc("/store", func(w http.ResponseWriter, r *http.Request) {
		if err := a.store(r.URL.Query().Get("key"), r.URL.Query().Get("value")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "stored")
	})
	mux.HandleFunc("/helper", func(w http.ResponseWriter, r *http.Request) {
		out, err := exec.Command(helperPath, configPath).Output()
		if err != nil {
			http.Error(w, "helper: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(out)
	})
	return mux
}

var keyRE = regexp.MustCompile(`^[a-z0-9]{1,32}$`)

// store writes a value through a temporary file in /tmp (as uploads do)
// into the data directory.
func (a *app) store(key, value string) error {
	if !keyRE.MatchString(key) {
		return fmt.Errorf("bad key %q", key)
	}
	tmp, err := os.CreateTemp("/tmp", "myapp-upload-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(value); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	body, err := os.ReadFile(tmp.Name())
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dataDir, key), body, 0o640); err != nil {
		return err
	}
	if version != "1" {
		if err := os.WriteFile(filepath.Join(cacheDir, key), body, 0o640); err != nil {
			return err
		}
	}
	a.log.Printf("stored %s (%d bytes)", key, len(body))
	return nil
}

func serve(addr string) error {
	a, err := newApp()
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	a.log.Printf("listening on %s", l.Addr())
	fmt.Printf("myapp: listening on %s\n", l.Addr())
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func client(urls []string) error {
	if len(urls) == 0 {
		return errors.New("client: no URL")
	}
	c := &http.Client{Timeout: 5 * time.Second}
	for _, u := range urls {
		resp, err := c.Get(u)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		os.Stdout.Write(body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", u, resp.Status)
		}
	}
	return nil
}

func runSelftest(addr string) error {
	a, err := newApp()
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	defer srv.Close()
	base := "http://" + l.Addr().String()
	if err := client([]string{base + "/", base + "/store?key=selftest&value=ok", base + "/helper"}); err != nil {
		return err
	}
	got, err := os.ReadFile(filepath.Join(dataDir, "selftest"))
	if err != nil || string(got) != "ok" {
		return fmt.Errorf("selftest: data file holds %q, %v", got, err)
	}
	fmt.Println("selftest: ok")
	return nil
}

// compromised tries what an attacker inside myapp would. Each attempt
// prints "probe NAME: blocked: ERR" or "probe NAME: ALLOWED".
func compromised() error {
	probes := []struct {
		name string
		try  func() error
	}{
		{"read-shadow", func() error { _, err := os.ReadFile("/etc/shadow"); return err }},
		{"write-etc", func() error { return os.WriteFile("/etc/myapp-pwned", []byte("x"), 0o644) }},
		{"exec-shell", func() error { return exec.Command("/bin/sh", "-c", "true").Run() }},
		{"raw-socket", func() error {
			fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_ICMP)
			if err == nil {
				syscall.Close(fd)
			}
			return err
		}},
	}
	allowed := 0
	for _, p := range probes {
		if err := p.try(); err != nil {
			fmt.Printf("probe %s: blocked: %v\n", p.name, err)
		} else {
			fmt.Printf("probe %s: ALLOWED\n", p.name)
			allowed++
		}
	}
	if allowed > 0 {
		return fmt.Errorf("%d of %d probes were allowed", allowed, len(probes))
	}
	return nil
}
