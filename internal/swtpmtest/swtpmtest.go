package swtpmtest

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/prereq"
)

const (
	// setupTimeout bounds swtpm_setup, which takes about a second.
	setupTimeout = 2 * time.Minute
	// startTimeout bounds the wait for a started swtpm to serve its channels.
	startTimeout = 10 * time.Second
	// stopTimeout bounds swtpm_ioctl -s, and then the wait for swtpm to exit.
	stopTimeout = 5 * time.Second
	// pollInterval is how often a start checks whether swtpm has exited.
	pollInterval = 20 * time.Millisecond
	// startAttempts is how often a start is tried when swtpm cannot bind its
	// TCP command port (another process took it after it was picked).
	startAttempts = 5
	// logTail is how much of a log an error message or a failed test quotes.
	logTail = 4 << 10
	// maxUnixPath is the longest socket path: sun_path holds 108 bytes
	// including the terminating NUL.
	maxUnixPath = 107
	// installHint tells how to get the swtpm binaries on Debian and Ubuntu.
	installHint = "apt-get install -y swtpm swtpm-tools"
)

// File and directory names under TPM.Dir.
const (
	caDir           = "ca"
	stateDir        = "state"
	tmpDir          = "tmp"
	localcaConf     = "swtpm-localca.conf"
	localcaOptions  = "swtpm-localca.options"
	setupConf       = "swtpm_setup.conf"
	setupLog        = "swtpm_setup.log"
	swtpmLog        = "swtpm.log"
	swtpmOutput     = "swtpm.out"
	commandSocket   = "swtpm.sock"
	controlSocket   = "swtpm.sock.ctrl" // the tpm2-tss "swtpm" TCTI appends ".ctrl"
	rootCACert      = "swtpm-localca-rootca-cert.pem"
	issuerCACert    = "issuercert.pem"
	issuerCAKey     = "signkey.pem"
	issuerCASerial  = "certserial"
	defaultPCRBank  = "sha256"
	swtpmListenHost = "127.0.0.1"
)

// ctrlGetCapability is the swtpm control channel command CMD_GET_CAPABILITY.
// Its answer shows that swtpm is serving; it has no side effect.
var ctrlGetCapability = []byte{0, 0, 0, 1}

// pcrBanks are the bank names swtpm_setup accepts in active_pcr_banks.
var pcrBanks = []string{"sha1", "sha256", "sha384", "sha512"}

// errAddrInUse reports that swtpm could not bind its TCP command port.
var errAddrInUse = errors.New("command port already in use")

// Options configure a TPM. The zero value is a TPM with the sha256 PCR bank,
// EK certificates, a TCP command channel and a new temporary directory.
type Options struct {
	// Banks are the active PCR banks, for example {"sha1", "sha256"}.
	// Empty means {"sha256"}. Known banks: sha1, sha256, sha384, sha512.
	Banks []string
	// NoEKCert manufactures the TPM without EK certificates in NV (the EKs
	// still exist at their persistent handles), for EK hash allowlist tests.
	// RootCAPath and IssuerCAPath are then empty.
	NoEKCert bool
	// Unix serves the command channel on DIR/swtpm.sock instead of TCP.
	Unix bool
	// Dir is the directory for state, CA, configuration and logs; it is
	// created if needed. Empty means a new directory under os.TempDir, which
	// New leaves in place after Stop (Start removes it). It must not contain
	// a comma (swtpm's option syntax) and, with Unix, must be short enough
	// for a socket path.
	Dir string
}

// TPM is a running swtpm. Stop, Restart and Log are safe for concurrent use.
type TPM struct {
	// Dir holds the TPM state, the local CA, the configuration and the logs.
	Dir string
	// Addr is "swtpm://127.0.0.1:PORT" (TCP, control channel on PORT+1) or
	// "swtpm+unix://DIR/swtpm.sock" (control channel DIR/swtpm.sock.ctrl).
	// It stays the same across Restart.
	Addr string
	// RootCAPath is the PEM file of swtpm_localca's self-signed root CA.
	// Empty with Options.NoEKCert.
	RootCAPath string
	// IssuerCAPath is the PEM file of the intermediate CA that signed the EK
	// and platform certificates. Empty with Options.NoEKCert.
	IssuerCAPath string

	tools    tools
	unix     bool
	cmdPort  int    // TCP command port; the control port is cmdPort+1
	sockPath string // Unix command socket
	ctrlPath string // Unix control socket
	logPath  string // swtpm --log file
	outPath  string // swtpm's stdout and stderr

	mu      sync.Mutex
	ctrl    *os.File // listening control socket, passed to swtpm as fd 3
	proc    *process // nil while no swtpm runs
	stopped bool
}

// process is one run of swtpm.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited; err is then set
	err  error
}

// tools are the absolute paths of the swtpm binaries.
type tools struct {
	swtpm, setup, localca, ioctl string
}

// Available reports whether swtpm, swtpm_setup, swtpm_localca and swtpm_ioctl
// are on PATH. Its error names the missing ones and the apt-get command that
// installs them.
func Available() error {
	if _, err := lookTools(); err != nil {
		return fmt.Errorf("swtpmtest: %w", err)
	}
	return nil
}

// Start is New for tests: it stops the TPM and removes its directory when the
// test ends, and logs the tail of swtpm's log if the test failed. When the
// swtpm binaries are missing it skips the test, unless the environment
// variable CI is "true": then it fails the test.
func Start(tb testing.TB, opts Options) *TPM {
	tb.Helper()
	if err := Available(); err != nil {
		prereq.Missing(tb, "%v", err)
	}
	if opts.Dir == "" {
		// Not tb.TempDir: its path grows with the test name, and a Unix
		// socket path must fit in 107 bytes.
		dir, err := os.MkdirTemp("", "swtpmtest-")
		if err != nil {
			tb.Fatalf("swtpmtest: %v", err)
		}
		tb.Cleanup(func() {
			if err := os.RemoveAll(dir); err != nil {
				tb.Errorf("swtpmtest: %v", err)
			}
		})
		opts.Dir = dir
	}
	t, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := t.Stop(); err != nil {
			tb.Error(err)
		}
		if tb.Failed() {
			tb.Logf("swtpmtest: tail of the log of swtpm at %s:\n%s", t.Addr, tail(t.Log()))
		}
	})
	return t
}

// New manufactures a TPM with swtpm_setup and the local CA in opts.Dir and
// starts swtpm on it. It takes about a second. The caller must call Stop; on
// Linux swtpm also gets SIGTERM if the thread that started it dies (a test
// binary killed by its timeout).
func New(opts Options) (*TPM, error) {
	t, err := newTPM(opts)
	if err != nil {
		return nil, fmt.Errorf("swtpmtest: %w", err)
	}
	return t, nil
}

func newTPM(opts Options) (_ *TPM, err error) {
	banks, err := checkBanks(opts.Banks)
	if err != nil {
		return nil, err
	}
	if opts.Dir != "" {
		abs, err := filepath.Abs(opts.Dir)
		if err != nil {
			return nil, err
		}
		if err := checkDir(abs, opts.Unix); err != nil {
			return nil, err
		}
	}
	tools, err := lookTools()
	if err != nil {
		return nil, err
	}
	dir, owned, err := makeDir(opts.Dir, opts.Unix)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && owned {
			os.RemoveAll(dir)
		}
	}()

	t := &TPM{
		Dir:     dir,
		tools:   tools,
		unix:    opts.Unix,
		logPath: filepath.Join(dir, swtpmLog),
		outPath: filepath.Join(dir, swtpmOutput),
	}
	if t.unix {
		t.sockPath = filepath.Join(dir, commandSocket)
		t.ctrlPath = filepath.Join(dir, controlSocket)
	}
	if err := t.writeConfig(banks); err != nil {
		return nil, err
	}
	if err := t.setup(opts.NoEKCert); err != nil {
		return nil, err
	}
	if !opts.NoEKCert {
		t.RootCAPath = filepath.Join(dir, caDir, rootCACert)
		t.IssuerCAPath = filepath.Join(dir, caDir, issuerCACert)
		for _, p := range []string{t.RootCAPath, t.IssuerCAPath} {
			if _, err := os.Stat(p); err != nil {
				return nil, fmt.Errorf("swtpm_setup did not create the CA: %w", err)
			}
		}
	}
	if t.unix {
		err = t.startUnix()
	} else {
		err = t.startTCP()
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Stop shuts swtpm down with `swtpm_ioctl -s`, waits for it to exit and
// kills it if it does not exit within a few seconds. It reports an error if
// swtpm had to be killed or exited with a failure status (for example after
// a crash before Stop). Stop keeps Dir; calls after the first return nil.
func (t *TPM) Stop() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return nil
	}
	t.stopped = true
	err := t.stopProcess()
	if t.ctrl != nil {
		t.ctrl.Close()
		t.ctrl = nil
	}
	if t.unix {
		removeIfExists(t.ctrlPath)
		removeIfExists(t.sockPath)
	}
	if err != nil {
		return fmt.Errorf("swtpmtest: %w", err)
	}
	return nil
}

// Restart stops swtpm and starts it again on the same state and address:
// the PCRs are reset, as on a reboot, while keys and NV indices persist.
func (t *TPM) Restart() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return errors.New("swtpmtest: restart: the TPM is stopped")
	}
	if err := t.stopProcess(); err != nil {
		return fmt.Errorf("swtpmtest: restart: %w", err)
	}
	var err error
	for range startAttempts {
		if err = t.startProcess(); !errors.Is(err, errAddrInUse) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("swtpmtest: restart: %w", err)
	}
	return nil
}

// Log returns what swtpm has logged (level 5: every command and response in
// hex) over all its runs, followed by its standard output and error if it
// wrote any.
func (t *TPM) Log() string {
	var b strings.Builder
	data, err := os.ReadFile(t.logPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(&b, "(cannot read the swtpm log: %v)\n", err)
	}
	b.Write(data)
	if out, _ := os.ReadFile(t.outPath); len(out) > 0 {
		b.WriteString("--- swtpm stdout and stderr ---\n")
		b.Write(out)
	}
	return b.String()
}

// TCTI returns the TPM2TOOLS_TCTI (or TSS2 TCTI configuration) value that
// points tpm2-tools at this TPM through the tpm2-tss "swtpm" TCTI.
func (t *TPM) TCTI() string {
	if t.unix {
		return "swtpm:path=" + t.sockPath
	}
	return "swtpm:host=" + swtpmListenHost + ",port=" + strconv.Itoa(t.cmdPort)
}

func lookTools() (tools, error) {
	var ts tools
	var missing []string
	for _, b := range []struct {
		name string
		path *string
	}{
		{"swtpm", &ts.swtpm},
		{"swtpm_setup", &ts.setup},
		{"swtpm_localca", &ts.localca},
		{"swtpm_ioctl", &ts.ioctl},
	} {
		p, err := exec.LookPath(b.name)
		if err != nil {
			missing = append(missing, b.name)
			continue
		}
		if *b.path, err = filepath.Abs(p); err != nil {
			return tools{}, err
		}
	}
	if len(missing) > 0 {
		return tools{}, fmt.Errorf("%s not found on PATH; install with: %s", strings.Join(missing, ", "), installHint)
	}
	return ts, nil
}

func checkBanks(banks []string) ([]string, error) {
	if len(banks) == 0 {
		return []string{defaultPCRBank}, nil
	}
	for i, b := range banks {
		if !slices.Contains(pcrBanks, b) {
			return nil, fmt.Errorf("unknown PCR bank %q (known: %s)", b, strings.Join(pcrBanks, ", "))
		}
		if slices.Contains(banks[:i], b) {
			return nil, fmt.Errorf("PCR bank %q given twice", b)
		}
	}
	return banks, nil
}

// checkDir rejects a TPM directory that swtpm's options cannot name or that
// is too long for the Unix sockets in it.
func checkDir(dir string, unix bool) error {
	if strings.ContainsAny(dir, ",\n\r") {
		return fmt.Errorf("directory %q contains a comma or a line break", dir)
	}
	if ctrl := filepath.Join(dir, controlSocket); unix && len(ctrl) > maxUnixPath {
		return fmt.Errorf("socket path %s is longer than %d bytes: use a shorter Options.Dir", ctrl, maxUnixPath)
	}
	return nil
}

// makeDir returns the absolute TPM directory with its subdirectories,
// creating them as needed; owned reports whether it is a new temporary
// directory.
func makeDir(dir string, unix bool) (_ string, owned bool, err error) {
	if dir == "" {
		if dir, err = os.MkdirTemp("", "swtpmtest-"); err != nil {
			return "", false, err
		}
		owned = true
		defer func() {
			if err != nil {
				os.RemoveAll(dir)
			}
		}()
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return "", false, err
	}
	if err := checkDir(dir, unix); err != nil {
		return "", false, err
	}
	for _, d := range []string{dir, filepath.Join(dir, caDir), filepath.Join(dir, stateDir), filepath.Join(dir, tmpDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", false, err
		}
	}
	return dir, owned, nil
}

// writeConfig writes the configuration of swtpm_setup and swtpm_localca
// that keeps the CA under Dir.
func (t *TPM) writeConfig(banks []string) error {
	ca := filepath.Join(t.Dir, caDir)
	files := []struct{ name, content string }{
		{localcaConf, "statedir = " + ca + "\n" +
			"signingkey = " + filepath.Join(ca, issuerCAKey) + "\n" +
			"issuercert = " + filepath.Join(ca, issuerCACert) + "\n" +
			"certserial = " + filepath.Join(ca, issuerCASerial) + "\n"},
		{localcaOptions, "--platform-manufacturer hwattest\n" +
			"--platform-version 2.1\n" +
			"--platform-model swtpm\n"},
		{setupConf, "create_certs_tool = " + t.tools.localca + "\n" +
			"create_certs_tool_config = " + filepath.Join(t.Dir, localcaConf) + "\n" +
			"create_certs_tool_options = " + filepath.Join(t.Dir, localcaOptions) + "\n" +
			"active_pcr_banks = " + strings.Join(banks, ",") + "\n"},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(t.Dir, f.name), []byte(f.content), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// setup manufactures the TPM state with swtpm_setup.
func (t *TPM) setup(noEKCert bool) error {
	args := []string{
		"--tpm2",
		"--tpmstate", filepath.Join(t.Dir, stateDir),
		"--config", filepath.Join(t.Dir, setupConf),
		"--overwrite",
		"--lock-nvram",
	}
	if noEKCert {
		args = append(args, "--createek")
	} else {
		args = append(args, "--create-ek-cert", "--create-platform-cert")
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, t.tools.setup, args...)
	cmd.Dir = t.Dir
	cmd.Env = t.env()
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = stopTimeout
	out, err := cmd.CombinedOutput()
	if werr := os.WriteFile(filepath.Join(t.Dir, setupLog), out, 0o600); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("swtpm_setup: %w; output:\n%s", err, tail(string(out)))
	}
	return nil
}

// env is the environment of the swtpm processes: no configuration from the
// user's home directory, temporary files under Dir.
func (t *TPM) env() []string {
	return append(os.Environ(),
		"HOME="+t.Dir,
		"XDG_CONFIG_HOME="+t.Dir,
		"TMPDIR="+filepath.Join(t.Dir, tmpDir),
	)
}

// startTCP picks a command port whose successor is free for the control
// channel, and starts swtpm; it tries other ports if swtpm cannot bind.
func (t *TPM) startTCP() error {
	var err error
	for range startAttempts {
		var port int
		var ctrl *os.File
		if port, ctrl, err = listenTCPPair(); err != nil {
			return err
		}
		t.cmdPort, t.ctrl = port, ctrl
		if err = t.startProcess(); err == nil {
			t.Addr = "swtpm://" + net.JoinHostPort(swtpmListenHost, strconv.Itoa(port))
			return nil
		}
		ctrl.Close()
		t.cmdPort, t.ctrl = 0, nil
		if !errors.Is(err, errAddrInUse) {
			return err
		}
	}
	return err
}

// listenTCPPair finds a free port P on 127.0.0.1 with P+1 also free, and
// returns P and a listening socket on P+1.
func listenTCPPair() (int, *os.File, error) {
	for range 100 {
		l, err := net.Listen("tcp4", swtpmListenHost+":0")
		if err != nil {
			return 0, nil, fmt.Errorf("pick a TCP port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		var ctrl net.Listener
		if port < 65535 {
			ctrl, err = net.Listen("tcp4", net.JoinHostPort(swtpmListenHost, strconv.Itoa(port+1)))
		}
		l.Close()
		if ctrl == nil || err != nil {
			continue
		}
		f, err := ctrl.(*net.TCPListener).File()
		ctrl.Close()
		if err != nil {
			return 0, nil, fmt.Errorf("pick a TCP port: %w", err)
		}
		return port, f, nil
	}
	return 0, nil, errors.New("pick a TCP port: found no free port P with P+1 free on " + swtpmListenHost)
}

func (t *TPM) startUnix() error {
	removeIfExists(t.ctrlPath)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: t.ctrlPath, Net: "unix"})
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	l.SetUnlinkOnClose(false)
	f, err := l.File()
	l.Close()
	if err != nil {
		removeIfExists(t.ctrlPath)
		return fmt.Errorf("control socket: %w", err)
	}
	t.ctrl = f
	if err := t.startProcess(); err != nil {
		f.Close()
		t.ctrl = nil
		removeIfExists(t.ctrlPath)
		return err
	}
	t.Addr = "swtpm+unix://" + t.sockPath
	return nil
}

// startProcess starts swtpm on the TPM's state, channels and logs, and waits
// until it serves them.
func (t *TPM) startProcess() error {
	server := "type=tcp,port=" + strconv.Itoa(t.cmdPort) + ",bindaddr=" + swtpmListenHost
	ctrl := "type=tcp,fd=3"
	if t.unix {
		removeIfExists(t.sockPath) // left behind if swtpm was killed
		server = "type=unixio,path=" + t.sockPath
		ctrl = "type=unixio,fd=3"
	}
	var logStart int64
	if fi, err := os.Stat(t.logPath); err == nil {
		logStart = fi.Size()
	}
	out, err := os.OpenFile(t.outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()

	cmd := exec.Command(t.tools.swtpm, "socket", "--tpm2",
		"--server", server,
		"--ctrl", ctrl,
		"--tpmstate", "dir="+filepath.Join(t.Dir, stateDir),
		"--flags", "not-need-init,startup-clear",
		"--log", "file="+t.logPath+",level=5",
	)
	cmd.Dir = t.Dir
	cmd.Env = t.env()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.ExtraFiles = []*os.File{t.ctrl}
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start swtpm: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()

	if err := t.waitReady(p); err != nil {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
		if !t.unix && strings.Contains(t.logSince(logStart), "Address already in use") {
			return fmt.Errorf("swtpm on port %d: %w", t.cmdPort, errAddrInUse)
		}
		return err
	}
	t.proc = p
	return nil
}

// waitReady waits until swtpm answers on its control channel, which it
// serves only after it has bound its command channel, then checks that the
// command channel accepts a connection. The control socket is ours, so the
// answer cannot come from another process.
func (t *TPM) waitReady(p *process) error {
	deadline := time.Now().Add(startTimeout)
	// The connection lands in the backlog of our own listener at once; swtpm
	// accepts it when it starts serving.
	conn, err := t.dialControl()
	if err != nil {
		return fmt.Errorf("connect to the control channel: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write(ctrlGetCapability); err != nil {
		return fmt.Errorf("control channel: %w", err)
	}
	buf := make([]byte, 64)
	for {
		conn.SetReadDeadline(time.Now().Add(pollInterval))
		n, err := conn.Read(buf)
		if n > 0 {
			break
		}
		var nerr net.Error
		if !errors.As(err, &nerr) || !nerr.Timeout() {
			return t.startError(p, fmt.Errorf("control channel: %w", err))
		}
		select {
		case <-p.done:
			return t.startError(p, nil)
		default:
		}
		if time.Now().After(deadline) {
			return t.startError(p, fmt.Errorf("no answer on the control channel within %v", startTimeout))
		}
	}

	network, addr := "tcp", net.JoinHostPort(swtpmListenHost, strconv.Itoa(t.cmdPort))
	if t.unix {
		network, addr = "unix", t.sockPath
	}
	for {
		// swtpm serves one connection at a time: close this probe at once.
		c, err := net.DialTimeout(network, addr, time.Until(deadline))
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return t.startError(p, fmt.Errorf("command channel: %w", err))
		}
		time.Sleep(pollInterval)
	}
}

// startError describes a failed start of swtpm, with the tail of its log.
func (t *TPM) startError(p *process, err error) error {
	select {
	case <-p.done:
		if err == nil {
			err = p.err
		}
		if err == nil {
			err = errors.New("exit status 0")
		}
		return fmt.Errorf("swtpm exited during start: %w; log:\n%s", err, tail(t.Log()))
	default:
		return fmt.Errorf("swtpm (pid %d) did not start: %w; log:\n%s", p.cmd.Process.Pid, err, tail(t.Log()))
	}
}

func (t *TPM) dialControl() (net.Conn, error) {
	if t.unix {
		return net.DialTimeout("unix", t.ctrlPath, startTimeout)
	}
	return net.DialTimeout("tcp", t.controlAddr(), startTimeout)
}

// controlAddr is the control channel in swtpm_ioctl's syntax.
func (t *TPM) controlAddr() string {
	if t.unix {
		return t.ctrlPath
	}
	return net.JoinHostPort(swtpmListenHost, strconv.Itoa(t.cmdPort+1))
}

// stopProcess shuts down the running swtpm, if any.
func (t *TPM) stopProcess() error {
	p := t.proc
	if p == nil {
		return nil
	}
	t.proc = nil
	pid := p.cmd.Process.Pid
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("swtpm (pid %d) had exited: %w; log:\n%s", pid, p.err, tail(t.Log()))
		}
		return nil // shut down by someone else
	default:
	}

	flag := "--tcp"
	if t.unix {
		flag = "--unix"
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	ioctl := exec.CommandContext(ctx, t.tools.ioctl, flag, t.controlAddr(), "-s")
	ioctl.Env = t.env()
	out, ioctlErr := ioctl.CombinedOutput()

	if ioctlErr != nil {
		// swtpm did not get the shutdown command: kill it unless it is gone.
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
			if ctx.Err() != nil {
				return fmt.Errorf("swtpm_ioctl -s got no answer within %v; killed swtpm (pid %d)", stopTimeout, pid)
			}
			return fmt.Errorf("swtpm_ioctl -s: %w: %s; killed swtpm (pid %d)", ioctlErr, strings.TrimSpace(string(out)), pid)
		}
	} else {
		timer := time.NewTimer(stopTimeout)
		defer timer.Stop()
		select {
		case <-p.done:
		case <-timer.C:
			p.cmd.Process.Kill()
			<-p.done
			return fmt.Errorf("swtpm (pid %d) did not exit within %v of swtpm_ioctl -s; killed it", pid, stopTimeout)
		}
	}
	if p.err != nil {
		return fmt.Errorf("swtpm (pid %d) exited: %w; log:\n%s", pid, p.err, tail(t.Log()))
	}
	return nil
}

// logSince returns the swtpm log from byte offset off on.
func (t *TPM) logSince(off int64) string {
	data, err := os.ReadFile(t.logPath)
	if err != nil || off > int64(len(data)) {
		return ""
	}
	return string(data[off:])
}

// tail returns the end of a log, at most logTail bytes.
func tail(s string) string {
	if len(s) <= logTail {
		return s
	}
	s = s[len(s)-logTail:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "[...]\n" + s
}

// removeIfExists removes a socket file left behind. Errors are ignored: a
// later bind reports the problem with context.
func removeIfExists(path string) {
	_ = os.Remove(path)
}

// CertPools returns the local CA's root and intermediate as certificate
// pools, for verifying the TPM's EK certificates.
func (t *TPM) CertPools(tb testing.TB) (roots, intermediates *x509.CertPool) {
	tb.Helper()
	load := func(path string) *x509.CertPool {
		b, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			tb.Fatalf("%s: no PEM certificate", path)
		}
		return pool
	}
	return load(t.RootCAPath), load(t.IssuerCAPath)
}
