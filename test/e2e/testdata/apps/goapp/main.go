// Command goapp is the Go HTTP service of the profile library's runtime
// profiles (profiles/go): it serves a content directory (pages and
// directory listings, net/http's FileServer) on a dual-stack port, and
// stops cleanly on SIGTERM.
//
// /debug/rce?op=NAME simulates remote code execution in the process: it
// does what an attacker with code execution in a Go service would do (read
// /etc/shadow or root's SSH key, write a cron job, run a shell, open a raw
// socket) and answers 200 when it worked, 500 with the error when not. Only
// the attack probes of test/e2e use it; training never does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", ":8081", "listen address")
	root := flag.String("root", "/opt/goapp/public", "content directory")
	flag.Parse()

	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(*root)))
	mux.HandleFunc("/primes", primes)
	mux.HandleFunc("/debug/rce", rce)
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Printf("goapp: serving %s on %s", *root, *addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	log.Print("goapp: stopped")
}

// primes answers how many primes are below ?n= (at most 10 000 000):
// compute-bound work in a loop without function calls, which the Go
// runtime can only preempt by signalling the thread (SIGURG).
func primes(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 0 || n > 10_000_000 {
		http.Error(w, "n: want 0 to 10000000", http.StatusBadRequest)
		return
	}
	count := 0
	for i := 2; i < n; i++ {
		prime := true
		for d := 2; d*d <= i; d++ {
			if i%d == 0 {
				prime = false
				break
			}
		}
		if prime {
			count++
		}
	}
	fmt.Fprintf(w, "%d\n", count)
}

// rce runs one attack step named by ?op=.
func rce(w http.ResponseWriter, r *http.Request) {
	var out []byte
	var err error
	switch op := r.URL.Query().Get("op"); op {
	case "shadow":
		out, err = os.ReadFile("/etc/shadow")
	case "ssh-key":
		out, err = os.ReadFile("/root/.ssh/id_rsa")
	case "cron":
		err = os.WriteFile("/etc/cron.d/x", []byte("* * * * * root id\n"), 0o644)
	case "shell":
		out, err = exec.Command("/bin/sh", "-c", "id").CombinedOutput()
	case "raw-socket":
		var fd int
		fd, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_ICMP)
		if err == nil {
			syscall.Close(fd)
			out = []byte("raw socket opened\n")
		}
	default:
		http.Error(w, "unknown op "+op, http.StatusBadRequest)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "%s", out)
}
