//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/internal/vmtest"
)

// libService is one service of the profile library as the VM runs it:
// started directly (no systemd), stopped with SIGTERM from the unconfined
// agent, with a training workload (what the profile is learned from), a
// different test workload (what enforce mode must let through) and attack
// probes (what it must block and log). Training (TestLibraryTrain) and
// proof (TestLibrary) share these definitions.
type libService struct {
	name    string // the profile's name and the library directory profiles/NAME
	binary  string // the attachment: the resolved path of the program
	comm    string // the name its processes have (pgrep -x); empty means name
	prepare string // shell run once before the first start (runtime directories, content)
	daemon  vmtest.Daemon
	ready   string // shell that succeeds once the service answers
	train   string // the training workload (shell; exits non-zero on failure)
	test    []check
	probes  []probe
	// flags are added to the first profile's flags before training, for
	// what the first events could not teach (postgres's shared memory is a
	// disconnected path: attach_disconnected).
	flags string
	// setupProbes runs before the probes: opens DAC on their targets so
	// that AppArmor alone decides, and what else the probes need.
	setupProbes string
	// afterProbes undoes what would keep the service from stopping cleanly.
	afterProbes string
}

// check is one step of the test workload: a shell command that must exit 0.
type check struct{ name, sh string }

// probe is one attack: sh must fail (the service refuses, because the
// kernel did) and the kernel must log a DENIED event of the profile whose
// line matches denied.
type probe struct {
	name   string
	sh     string
	denied *regexp.Regexp
}

// dacOpen is what the probes share: the targets of the attacks each
// service is known for are made reachable under DAC (a service running as
// root, or a permission mistake), so that only AppArmor stands in the way.
const dacOpen = `
chmod 0644 /etc/shadow
chmod 1777 /etc/cron.d
chmod 0755 /root; install -d -m 1777 /root/.ssh
`

var nginxService = libService{
	name:   "nginx",
	binary: "/usr/sbin/nginx",
	prepare: `
mkdir -p /var/www/html/css /var/www/html/js /var/www/html/img /var/www/html/about /var/www/html/docs /var/www/html/blog/2026
echo '<h1>home</h1>' > /var/www/html/index.html
echo 'body{color:#333}' > /var/www/html/css/site.css
echo 'h1{font-size:2em}' > /var/www/html/css/print.css
echo 'console.log(1)' > /var/www/html/js/app.js
head -c 4096 /dev/urandom > /var/www/html/img/logo.png
head -c 2048 /dev/urandom > /var/www/html/img/banner.jpg
echo '<h1>about</h1>' > /var/www/html/about/index.html
echo '<h1>team</h1>' > /var/www/html/about/team.html
echo '<h1>guide</h1>' > /var/www/html/docs/guide.html
echo '<h1>faq</h1>' > /var/www/html/docs/faq.html
echo '<h1>post</h1>' > /var/www/html/blog/2026/first-post.html
echo '<h1>second</h1>' > /var/www/html/blog/2026/second-post.html
head -c 1048576 /dev/urandom > /var/www/html/docs/manual.pdf
echo secret > /var/www/secret.txt
`,
	daemon: vmtest.Daemon{Name: "nginx", Argv: []string{"/usr/sbin/nginx"}, PIDFile: "/run/nginx.pid"},
	ready:  `curl -fsS -o /dev/null http://127.0.0.1/`,
	train: `set -e
for h in 127.0.0.1 '[::1]'; do
  for p in / /index.html /css/site.css /js/app.js /img/logo.png /about/ /docs/guide.html /docs/manual.pdf /blog/2026/first-post.html; do
    curl -fsS -o /dev/null "http://$h$p"
  done
  curl -fsS -o /dev/null -H 'Accept-Encoding: gzip' "http://$h/css/site.css"
  curl -fsS -o /dev/null -r 0-99 "http://$h/docs/manual.pdf"
  curl -fsS -o /dev/null -I "http://$h/"
  test "$(curl -s -o /dev/null -w '%{http_code}' "http://$h/no/such/page")" = 404
  test "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$h/")" = 405
done
# a reload, as the service manager does on a configuration change
kill -HUP "$(cat /run/nginx.pid)"
sleep 2
curl -fsS -o /dev/null http://127.0.0.1/about/
`,
	test: []check{
		{"team page (not fetched in training), IPv4", `curl -fsS http://127.0.0.1/about/team.html | grep -q team`},
		{"faq over IPv6", `curl -fsS 'http://[::1]/docs/faq.html' | grep -q faq`},
		{"second post", `curl -fsS http://127.0.0.1/blog/2026/second-post.html | grep -q second`},
		{"print stylesheet, gzip", `curl -fsS -H 'Accept-Encoding: gzip' -o /dev/null http://127.0.0.1/css/print.css`},
		{"banner image over IPv6", `curl -fsS -o /dev/null 'http://[::1]/img/banner.jpg'`},
		{"docs index 404", `test "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/docs/missing.html)" = 404`},
		{"reload", `kill -HUP "$(cat /run/nginx.pid)" && sleep 2 && curl -fsS -o /dev/null http://127.0.0.1/`},
	},
	setupProbes: dacOpen + `
ln -sfn /etc/shadow /var/www/html/shadow.txt
ln -sfn /etc/postgresql/15/main/postgresql.conf /var/www/html/pg.txt
cat > /etc/nginx/conf.d/probe.conf <<'EOF'
# the classic off-by-slash alias: /static../ reaches /var/www/
server {
	listen 8080;
	listen [::]:8080;
	location /static { alias /var/www/html/; }
}
EOF
kill -HUP "$(cat /run/nginx.pid)"; sleep 2
until curl -fsS -o /dev/null http://127.0.0.1:8080/static/css/site.css; do sleep 0.2; done
`,
	probes: []probe{
		{"worker reads /etc/shadow through a symlink in the web root", `curl -fsS http://127.0.0.1/shadow.txt`, regexp.MustCompile(`name="/etc/shadow"`)},
		{"worker reads another service's configuration through a symlink", `curl -fsS http://127.0.0.1/pg.txt`, regexp.MustCompile(`name="/etc/postgresql/15/main/postgresql.conf"`)},
		{"off-by-slash alias reads outside the root", `curl -fsS --path-as-is http://127.0.0.1:8080/static../secret.txt`, regexp.MustCompile(`name="/var/www/secret.txt"`)},
	},
}

// redisCLI is redis-cli on the unix socket the test configuration adds.
const redisCLI = "redis-cli -s /run/redis/redis-server.sock"

var redisService = libService{
	name: "redis",
	comm: "redis-server",
	// /usr/bin/redis-server is a symlink to redis-check-rdb, which picks
	// its role from argv[0]: the kernel attaches by the resolved path.
	binary: "/usr/bin/redis-check-rdb",
	prepare: `
install -d -o redis -g redis -m 2755 /run/redis
`,
	daemon: vmtest.Daemon{Name: "redis", User: "redis", Argv: []string{"/usr/bin/redis-server", "/etc/redis/redis.conf",
		"--daemonize", "no", "--supervised", "no", "--unixsocket", "/run/redis/redis-server.sock", "--unixsocketperm", "777"}},
	ready: redisCLI + ` ping | grep -q PONG`,
	train: `set -e
for c in "redis-cli -h 127.0.0.1" "redis-cli -h ::1" "` + redisCLI + `"; do
  $c set user:1 alice >/dev/null
  $c get user:1 >/dev/null
  $c incr counter >/dev/null
  $c lpush queue a b c >/dev/null
  $c hset h f1 v1 f2 v2 >/dev/null
  $c expire user:1 300 >/dev/null
  $c info >/dev/null
done
` + redisCLI + ` save | grep -q OK
` + redisCLI + ` bgsave
sleep 2
` + redisCLI + ` config set appendonly yes | grep -q OK
sleep 2
` + redisCLI + ` bgrewriteaof
sleep 2
` + redisCLI + ` config set appendonly no | grep -q OK
redis-benchmark -q -h 127.0.0.1 -n 300 -c 4 -t set,get,lpush,incr >/dev/null
redis-benchmark -q -h ::1 -n 200 -c 2 -t set,get >/dev/null
redis-benchmark -q -s /run/redis/redis-server.sock -n 300 -c 4 -t set,get >/dev/null
` + redisCLI + ` dbsize
`,
	test: []check{
		{"other keys over IPv4", `redis-cli -h 127.0.0.1 set session:42 bob | grep -q OK && redis-cli -h 127.0.0.1 get session:42 | grep -q bob`},
		{"sets and sorted sets over IPv6", `redis-cli -h ::1 sadd tags x y z | grep -q 3 && redis-cli -h ::1 zadd board 10 ann | grep -q 1`},
		{"pub/sub over the socket", `` + redisCLI + ` publish news hello | grep -q 0`},
		{"save", `` + redisCLI + ` save | grep -q OK`},
		{"background save", `` + redisCLI + ` bgsave && sleep 2 && ` + redisCLI + ` lastsave | grep -q '[0-9]'`},
		{"benchmark", `redis-benchmark -q -h 127.0.0.1 -n 300 -c 2 -t hset,sadd,lrange_100 >/dev/null`},
	},
	// Debian's Redis 7 refuses CONFIG SET dir and MODULE LOAD by default:
	// the probes run it as older Redis versions and hurried
	// configurations do, with both enabled.
	setupProbes: dacOpen + `
cp /opt/library/evil.so /tmp/evil.so && chmod 0755 /tmp/evil.so
`,
	// Redis saves on SIGTERM and will not exit while its dir is unwritable.
	afterProbes: redisCLI + ` config set dir /var/lib/redis && ` + redisCLI + ` config set dbfilename dump.rdb`,
	probes: []probe{
		{"CONFIG SET dir /etc/cron.d + SAVE", redisCLI + ` config set dir /etc/cron.d && ` + redisCLI + ` config set dbfilename evil && ` + redisCLI + ` save | grep -q '^OK'`, regexp.MustCompile(`name="/etc/cron\.d/`)},
		{"CONFIG SET dir /root/.ssh + SAVE", redisCLI + ` config set dir /root/.ssh && ` + redisCLI + ` config set dbfilename authorized_keys && ` + redisCLI + ` save | grep -q '^OK'`, regexp.MustCompile(`name="/root/\.ssh/`)},
		{"MODULE LOAD from /tmp", redisCLI + ` module load /tmp/evil.so | grep -q '^OK'`, regexp.MustCompile(`name="/tmp/evil\.so"`)},
	},
}

// psqlSSL is psql over TCP with SSL required, as the application role.
const psqlSSL = `PGPASSWORD=secret /usr/lib/postgresql/15/bin/psql "host=127.0.0.1 dbname=appdb user=app sslmode=require" -v ON_ERROR_STOP=1 -qAt`
const psqlSSL6 = `PGPASSWORD=secret /usr/lib/postgresql/15/bin/psql "host=::1 dbname=appdb user=app sslmode=require" -v ON_ERROR_STOP=1 -qAt`

// psqlSocket is psql over the unix socket as the superuser postgres.
const psqlSocket = `runuser -u postgres -- /usr/lib/postgresql/15/bin/psql -v ON_ERROR_STOP=1 -qAt`

var postgresService = libService{
	name:   "postgresql",
	comm:   "postgres",
	binary: "/usr/lib/postgresql/15/bin/postgres",
	flags:  "attach_disconnected",
	prepare: `
install -d -o postgres -g postgres -m 2775 /run/postgresql
`,
	daemon: vmtest.Daemon{Name: "postgresql", User: "postgres", Argv: []string{"/usr/lib/postgresql/15/bin/postgres",
		"-D", "/var/lib/postgresql/15/main", "-c", "config_file=/etc/postgresql/15/main/postgresql.conf"}},
	ready: `runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_isready -q`,
	train: `set -e
` + psqlSocket + ` -c "DROP DATABASE IF EXISTS appdb" -c "DROP ROLE IF EXISTS app"
` + psqlSocket + ` -c "CREATE ROLE app LOGIN PASSWORD 'secret'" -c "CREATE DATABASE appdb OWNER app"
` + psqlSSL + ` -c "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()" | grep -q t
` + psqlSSL + ` <<'EOF'
CREATE TABLE items (id serial PRIMARY KEY, name text, qty int, created timestamptz DEFAULT now());
INSERT INTO items (name, qty) SELECT 'item' || g, g % 100 FROM generate_series(1, 20000) g;
CREATE INDEX items_qty ON items (qty);
UPDATE items SET qty = qty + 1 WHERE id % 7 = 0;
DELETE FROM items WHERE id % 11 = 0;
SET work_mem = '64kB';
SELECT count(*) FROM (SELECT name FROM items ORDER BY name DESC) s;
VACUUM ANALYZE items;
CREATE TEMP TABLE t AS SELECT * FROM items WHERE qty < 10;
SELECT count(*) FROM t;
EOF
` + psqlSSL6 + ` -c "SELECT count(*) FROM items"
PGPASSWORD=secret PGSSLMODE=require /usr/lib/postgresql/15/bin/pgbench -q -i -s 1 -h 127.0.0.1 -U app appdb
PGPASSWORD=secret PGSSLMODE=require /usr/lib/postgresql/15/bin/pgbench -c 2 -t 100 -h 127.0.0.1 -U app appdb >/dev/null
runuser -u postgres -- /usr/lib/postgresql/15/bin/pgbench -c 2 -t 100 -b select-only appdb >/dev/null
` + psqlSocket + ` -c "CHECKPOINT" -c "SELECT pg_reload_conf()" -c "SELECT pg_switch_wal()"
sleep 1
`,
	test: []check{
		{"role and database over the socket", psqlSocket + ` -c "CREATE ROLE app LOGIN PASSWORD 'secret'" -c "CREATE DATABASE appdb OWNER app"`},
		{"other table and queries over TCP with SSL", psqlSSL + ` -c "CREATE TABLE orders (id bigserial PRIMARY KEY, customer text, total numeric)" -c "INSERT INTO orders (customer, total) SELECT 'c' || g, g * 1.5 FROM generate_series(1, 5000) g" -c "SELECT sum(total) FROM orders WHERE customer LIKE 'c1%'"`},
		{"aggregate over IPv6", psqlSSL6 + ` -c "SELECT left(customer, 2), sum(total) FROM orders GROUP BY 1 ORDER BY 2 DESC LIMIT 3"`},
		{"sort spilling to disk", psqlSSL + ` -c "SET work_mem = '64kB'" -c "SELECT count(*) FROM (SELECT customer FROM orders ORDER BY customer DESC) s"`},
		{"hash index and vacuum over the socket", psqlSocket + ` -d appdb -c "CREATE INDEX orders_customer ON orders USING hash (customer)" -c "VACUUM (ANALYZE) orders"`},
		{"pgbench with foreign keys over TCP with SSL", `PGPASSWORD=secret PGSSLMODE=require /usr/lib/postgresql/15/bin/pgbench -q -i -s 1 -I dtgvpf -h 127.0.0.1 -U app appdb && PGPASSWORD=secret PGSSLMODE=require /usr/lib/postgresql/15/bin/pgbench -c 2 -t 50 -N -h 127.0.0.1 -U app appdb >/dev/null`},
		{"checkpoint", psqlSocket + ` -c "CHECKPOINT"`},
	},
	setupProbes: dacOpen + `
cp /opt/library/evil.so /tmp/evil.so && chmod 0755 /tmp/evil.so
`,
	probes: []probe{
		{"COPY … TO '/etc/cron.d/…'", psqlSocket + ` -c "COPY (SELECT '* * * * * root id') TO '/etc/cron.d/pg-evil'"`, regexp.MustCompile(`name="/etc/cron\.d/pg-evil"`)},
		{"COPY … TO its own pg_hba.conf (owned by postgres)", psqlSocket + ` -c "COPY (SELECT 'local all all trust') TO '/etc/postgresql/15/main/pg_hba.conf'"`, regexp.MustCompile(`name="/etc/postgresql/15/main/pg_hba\.conf"`)},
		{"COPY … FROM PROGRAM (a shell)", psqlSocket + ` -c "CREATE TEMP TABLE x (l text); COPY x FROM PROGRAM 'id'"`, regexp.MustCompile(`operation="exec".*name="/usr/bin/dash"|name="/usr/bin/dash".*operation="exec"`)},
		{"pg_read_file('/etc/shadow')", psqlSocket + ` -c "SELECT pg_read_file('/etc/shadow')"`, regexp.MustCompile(`name="/etc/shadow"`)},
		{"CREATE FUNCTION … LANGUAGE C from /tmp", psqlSocket + ` -c "CREATE FUNCTION evil() RETURNS int AS '/tmp/evil.so', 'evil' LANGUAGE C"`, regexp.MustCompile(`name="/tmp/evil\.so"`)},
	},
}

var libServices = []*libService{&nginxService, &redisService, &postgresService}

// runtimeServices are the runtime profiles' services (library_runtimes_test.go).
var runtimeServices = []*libService{&goService, &nodeService, &pythonService}

// evilC is the attacker's shared library for MODULE LOAD and LANGUAGE C:
// loading it at all is the attack, so it only needs to be a valid ELF.
const evilC = `int evil(void) { return 42; }
int RedisModule_OnLoad(void *ctx, void **argv, int argc) { return 0; }
`

// startService starts s and waits until it answers.
func startService(t *testing.T, ctx context.Context, m *vmtest.Machine, s *libService) {
	t.Helper()
	if _, err := m.Start(ctx, s.daemon); err != nil {
		t.Fatal(err)
	}
	out, err := m.Sh(ctx, 90*time.Second, fmt.Sprintf("until %s; do sleep 0.3; done", s.ready))
	if err == nil {
		err = out.Err()
	}
	if err != nil {
		log, _ := m.ReadFile(ctx, "/var/log/vmtest/"+s.daemon.Name+".log")
		t.Fatalf("%s did not come up: %v\nits log:\n%s", s.name, err, log)
	}
}

// denials are the DENIED lines of profile in a kernel log.
func denials(log, profile string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, `apparmor="DENIED"`) && (strings.Contains(l, `profile="`+profile+`"`) || strings.Contains(l, `profile="`+profile+`//`)) {
			out = append(out, l)
		}
	}
	return out
}
