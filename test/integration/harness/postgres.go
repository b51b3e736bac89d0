package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Postgres is a PostgreSQL server in a temporary directory, for SPIRE
// servers that share one datastore.
type Postgres struct {
	Dir  string
	Port int

	bin  string // directory of initdb and pg_ctl
	cred *syscall.Credential
}

// pgBinDir finds initdb: on PATH, else Debian's /usr/lib/postgresql/*/bin.
func pgBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1]), nil
	}
	return "", fmt.Errorf("initdb not found (apt-get install postgresql)")
}

// StartPostgres initialises a cluster and starts it on a free port on
// 127.0.0.1, with a database "spire". PostgreSQL refuses to run as root, so
// as root it runs as the postgres user. It is stopped at cleanup.
func StartPostgres(tb testing.TB) *Postgres {
	tb.Helper()
	bin, err := pgBinDir()
	if err != nil {
		Missing(tb, "%v", err)
	}
	pg := &Postgres{Dir: Dir(tb), Port: FreePort(tb), bin: bin}
	if os.Getuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			Missing(tb, "running as root needs a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(pg.Dir, uid, gid); err != nil {
			tb.Fatal(err)
		}
	}
	data := filepath.Join(pg.Dir, "data")
	pg.run(tb, "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync")
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = pg.cmd(ctx, "pg_ctl", "-D", data, "-m", "fast", "-w", "stop").Run()
		if tb.Failed() {
			b, _ := os.ReadFile(filepath.Join(pg.Dir, "postgres.log"))
			tb.Logf("==== postgres log ====\n%s", tail(b, 100))
		}
	})
	pg.run(tb, "pg_ctl", "-D", data, "-l", filepath.Join(pg.Dir, "postgres.log"), "-w",
		"-o", fmt.Sprintf("-p %d -k %s -h 127.0.0.1 -c fsync=off", pg.Port, pg.Dir), "start")
	pg.run(tb, "createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(pg.Port), "-U", "postgres", "spire")
	return pg
}

func (pg *Postgres) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(pg.bin, name), args...)
	if _, err := os.Stat(cmd.Path); err != nil {
		cmd = exec.CommandContext(ctx, name, args...) // createdb may live elsewhere
	}
	cmd.Dir = pg.Dir
	if pg.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	}
	return cmd
}

func (pg *Postgres) run(tb testing.TB, name string, args ...string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := pg.cmd(ctx, name, args...).CombinedOutput(); err != nil {
		tb.Fatalf("%s: %v\n%s", name, err, out)
	}
}

// PID is the postmaster's process id (read from postmaster.pid).
func (pg *Postgres) PID() (int, error) {
	b, err := os.ReadFile(filepath.Join(pg.Dir, "data", "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(first))
}

// DataStore is the plugin_data of SPIRE's sql DataStore for this database.
func (pg *Postgres) DataStore() string {
	return fmt.Sprintf("database_type = \"postgres\"\nconnection_string = \"dbname=spire user=postgres host=127.0.0.1 port=%d sslmode=disable\"", pg.Port)
}
