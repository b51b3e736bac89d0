package swtpmtest_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/swtpmtest"
)

// NV indices of the EK certificates (TCG EK Credential Profile) and the
// platform certificate (swtpm).
const (
	nvRSAEKCert   = "0x01c00002"
	nvECCEKCert   = "0x01c00016"
	nvPlatformCrt = "0x01c08000"
)

var (
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidTCGKpEKCert    = asn1.ObjectIdentifier{2, 23, 133, 8, 1}
)

// getRandom8 is TPM2_GetRandom(8) without sessions: tag TPM_ST_NO_SESSIONS,
// size 12, command code 0x17b, bytesRequested 8.
var getRandom8 = []byte{0x80, 0x01, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x01, 0x7b, 0x00, 0x08}

func TestStartDefaults(t *testing.T) {
	tpm := swtpmtest.Start(t, swtpmtest.Options{})

	if !strings.HasPrefix(tpm.Addr, "swtpm://127.0.0.1:") {
		t.Errorf("Addr = %q, want swtpm://127.0.0.1:PORT", tpm.Addr)
	}
	if want := filepath.Join(tpm.Dir, "ca", "swtpm-localca-rootca-cert.pem"); tpm.RootCAPath != want {
		t.Errorf("RootCAPath = %q, want %q", tpm.RootCAPath, want)
	}
	if want := filepath.Join(tpm.Dir, "ca", "issuercert.pem"); tpm.IssuerCAPath != want {
		t.Errorf("IssuerCAPath = %q, want %q", tpm.IssuerCAPath, want)
	}

	rsaCert := verifyEKCert(t, tpm, tpm2(t, tpm, "tpm2_nvread", nvRSAEKCert))
	if pub, ok := rsaCert.PublicKey.(*rsa.PublicKey); !ok || pub.N.BitLen() != 2048 {
		t.Errorf("EK certificate at %s holds a %T, want an RSA 2048 key", nvRSAEKCert, rsaCert.PublicKey)
	}
	eccCert := verifyEKCert(t, tpm, tpm2(t, tpm, "tpm2_nvread", nvECCEKCert))
	if pub, ok := eccCert.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P384() {
		t.Errorf("EK certificate at %s holds a %T, want an ECDSA P-384 key", nvECCEKCert, eccCert.PublicKey)
	}
	nv := string(tpm2(t, tpm, "tpm2_getcap", "handles-nv-index"))
	for _, index := range []string{nvRSAEKCert, nvECCEKCert, nvPlatformCrt} {
		if !containsHandle(nv, index) {
			t.Errorf("NV index %s missing; tpm2_getcap handles-nv-index:\n%s", index, nv)
		}
	}
	persistent := string(tpm2(t, tpm, "tpm2_getcap", "handles-persistent"))
	for _, handle := range []string{"0x81010001", "0x81010016"} {
		if !containsHandle(persistent, handle) {
			t.Errorf("persistent EK %s missing; tpm2_getcap handles-persistent:\n%s", handle, persistent)
		}
	}

	checkBanks(t, tpm, "sha256")

	if log := tpm.Log(); !strings.Contains(log, "SWTPM_IO_Read") {
		t.Errorf("Log() lacks the commands (level 5):\n%s", log)
	}
}

// TestOpenSSLVerifiesChain checks the chain the way an operator would, with
// openssl, which accepts the EK certificate's critical SAN as it is.
func TestOpenSSLVerifiesChain(t *testing.T) {
	needTool(t, "openssl")
	tpm := swtpmtest.Start(t, swtpmtest.Options{})
	for _, index := range []string{nvRSAEKCert, nvECCEKCert} {
		der := filepath.Join(t.TempDir(), "ek.der")
		if err := os.WriteFile(der, tpm2(t, tpm, "tpm2_nvread", index), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("openssl", "verify", "-CAfile", tpm.RootCAPath, "-untrusted", tpm.IssuerCAPath, der).CombinedOutput()
		if err != nil || !strings.Contains(string(out), ": OK") {
			t.Errorf("openssl verify %s: %v\n%s", index, err, out)
		}
	}
}

func TestNoEKCert(t *testing.T) {
	tpm := swtpmtest.Start(t, swtpmtest.Options{NoEKCert: true})

	if tpm.RootCAPath != "" || tpm.IssuerCAPath != "" {
		t.Errorf("RootCAPath, IssuerCAPath = %q, %q; want both empty", tpm.RootCAPath, tpm.IssuerCAPath)
	}
	nv := string(tpm2(t, tpm, "tpm2_getcap", "handles-nv-index"))
	for _, index := range []string{nvRSAEKCert, nvECCEKCert, nvPlatformCrt} {
		if containsHandle(nv, index) {
			t.Errorf("NV index %s exists; tpm2_getcap handles-nv-index:\n%s", index, nv)
		}
	}
	if out, stderr, err := runTPM2(tpm, "tpm2_nvread", nvRSAEKCert); err == nil {
		t.Errorf("tpm2_nvread %s succeeded (%d bytes), want an error; stderr:\n%s", nvRSAEKCert, len(out), stderr)
	}
	// The EKs themselves exist, for EK hash allowlists.
	persistent := string(tpm2(t, tpm, "tpm2_getcap", "handles-persistent"))
	for _, handle := range []string{"0x81010001", "0x81010016"} {
		if !containsHandle(persistent, handle) {
			t.Errorf("persistent EK %s missing; tpm2_getcap handles-persistent:\n%s", handle, persistent)
		}
	}
}

func TestBanks(t *testing.T) {
	tpm := swtpmtest.Start(t, swtpmtest.Options{Banks: []string{"sha1", "sha256"}})
	checkBanks(t, tpm, "sha1", "sha256")

	out := string(tpm2(t, tpm, "tpm2_pcrread", "sha1:0+sha256:0"))
	for _, want := range []string{"sha1:", "sha256:", "0x" + strings.Repeat("00", 20) + "\n", "0x" + strings.Repeat("00", 32) + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("tpm2_pcrread lacks %q:\n%s", want, out)
		}
	}
}

func TestUnix(t *testing.T) {
	tpm := swtpmtest.Start(t, swtpmtest.Options{Unix: true})

	sock := filepath.Join(tpm.Dir, "swtpm.sock")
	if want := "swtpm+unix://" + sock; tpm.Addr != want {
		t.Errorf("Addr = %q, want %q", tpm.Addr, want)
	}
	if want := "swtpm:path=" + sock; tpm.TCTI() != want {
		t.Errorf("TCTI() = %q, want %q", tpm.TCTI(), want)
	}
	verifyEKCert(t, tpm, tpm2(t, tpm, "tpm2_nvread", nvRSAEKCert))
	if got := tpm2(t, tpm, "tpm2_getrandom", "8"); len(got) != 8 {
		t.Errorf("tpm2_getrandom 8 returned %d bytes", len(got))
	}

	pid := swtpmtest.PID(tpm)
	if err := tpm.Stop(); err != nil {
		t.Fatal(err)
	}
	checkGone(t, pid)
	for _, p := range []string{sock, sock + ".ctrl"} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after Stop (stat: %v)", p, err)
		}
	}
}

func TestRestart(t *testing.T) {
	for _, unix := range []bool{false, true} {
		t.Run(fmt.Sprintf("unix=%v", unix), func(t *testing.T) {
			tpm := swtpmtest.Start(t, swtpmtest.Options{Unix: unix})
			addr, pid := tpm.Addr, swtpmtest.PID(tpm)
			cert := tpm2(t, tpm, "tpm2_nvread", nvRSAEKCert)

			digest := sha256.Sum256([]byte("swtpmtest"))
			tpm2(t, tpm, "tpm2_pcrextend", "16:sha256="+hex.EncodeToString(digest[:]))
			want := sha256.Sum256(append(make([]byte, sha256.Size), digest[:]...))
			if got := readPCR16(t, tpm); !bytes.Equal(got, want[:]) {
				t.Fatalf("PCR 16 after extend = %x, want %x", got, want)
			}

			if err := tpm.Restart(); err != nil {
				t.Fatal(err)
			}
			checkGone(t, pid)
			if tpm.Addr != addr {
				t.Errorf("Addr after Restart = %q, want %q", tpm.Addr, addr)
			}
			if got := readPCR16(t, tpm); !bytes.Equal(got, make([]byte, sha256.Size)) {
				t.Errorf("PCR 16 after Restart = %x, want zeros", got)
			}
			if got := tpm2(t, tpm, "tpm2_nvread", nvRSAEKCert); !bytes.Equal(got, cert) {
				t.Errorf("EK certificate changed across Restart")
			}
		})
	}
}

func TestStop(t *testing.T) {
	tpm := swtpmtest.Start(t, swtpmtest.Options{})
	pid := swtpmtest.PID(tpm)
	if pid == 0 {
		t.Fatal("PID = 0 for a running TPM")
	}
	cmdAddr := strings.TrimPrefix(tpm.Addr, "swtpm://")

	for i := range 2 {
		if err := tpm.Stop(); err != nil {
			t.Fatalf("Stop #%d: %v", i+1, err)
		}
	}
	checkGone(t, pid)
	if got := swtpmtest.PID(tpm); got != 0 {
		t.Errorf("PID after Stop = %d, want 0", got)
	}
	if c, err := net.DialTimeout("tcp", cmdAddr, time.Second); err == nil {
		c.Close()
		t.Errorf("command port %s still accepts connections after Stop", cmdAddr)
	}
	const want = "swtpmtest: restart: the TPM is stopped"
	if err := tpm.Restart(); err == nil || err.Error() != want {
		t.Errorf("Restart after Stop = %v, want %q", err, want)
	}
}

// TestRawCommands shows what the command channels accept: raw TPM 2.0
// commands on TCP and Unix sockets, and on TCP also the simulator's
// TPM_SEND_COMMAND framing.
func TestRawCommands(t *testing.T) {
	t.Run("tcp", func(t *testing.T) {
		tpm := swtpmtest.Start(t, swtpmtest.Options{})
		conn := dial(t, "tcp", strings.TrimPrefix(tpm.Addr, "swtpm://"))
		checkGetRandomResponse(t, roundTrip(t, conn, getRandom8))
		checkGetRandomResponse(t, roundTrip(t, conn, getRandom8)) // the connection stays usable
	})
	t.Run("tcp TPM_SEND_COMMAND", func(t *testing.T) {
		tpm := swtpmtest.Start(t, swtpmtest.Options{})
		conn := dial(t, "tcp", strings.TrimPrefix(tpm.Addr, "swtpm://"))
		// TPM_SEND_COMMAND (8), locality 0, length, command.
		framed := binary.BigEndian.AppendUint32(nil, 8)
		framed = append(framed, 0)
		framed = binary.BigEndian.AppendUint32(framed, uint32(len(getRandom8)))
		framed = append(framed, getRandom8...)
		if _, err := conn.Write(framed); err != nil {
			t.Fatal(err)
		}
		// Response: length, response, a 4-byte zero trailer.
		var n uint32
		if err := binary.Read(conn, binary.BigEndian, &n); err != nil {
			t.Fatal(err)
		}
		resp := make([]byte, n+4)
		if _, err := io.ReadFull(conn, resp); err != nil {
			t.Fatal(err)
		}
		checkGetRandomResponse(t, resp[:n])
		if trailer := resp[n:]; !bytes.Equal(trailer, []byte{0, 0, 0, 0}) {
			t.Errorf("trailer = %x, want 00000000", trailer)
		}
	})
	t.Run("unix", func(t *testing.T) {
		tpm := swtpmtest.Start(t, swtpmtest.Options{Unix: true})
		conn := dial(t, "unix", strings.TrimPrefix(tpm.Addr, "swtpm+unix://"))
		checkGetRandomResponse(t, roundTrip(t, conn, getRandom8))
	})
}

func TestParallel(t *testing.T) {
	certs := make(chan []byte, 3)
	t.Run("group", func(t *testing.T) {
		for i := range 3 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				tpm := swtpmtest.Start(t, swtpmtest.Options{Unix: i == 2})
				if got := tpm2(t, tpm, "tpm2_getrandom", "8"); len(got) != 8 {
					t.Errorf("tpm2_getrandom 8 returned %d bytes", len(got))
				}
				certs <- tpm2(t, tpm, "tpm2_nvread", nvRSAEKCert)
			})
		}
	})
	close(certs)
	seen := map[string]bool{}
	for c := range certs {
		if seen[string(c)] {
			t.Error("two TPMs have the same EK certificate")
		}
		seen[string(c)] = true
	}
}

func TestNewOptionErrors(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, strings.Repeat("d", 100))
	tests := []struct {
		name string
		opts swtpmtest.Options
		want string
	}{
		{"unknown bank", swtpmtest.Options{Banks: []string{"md5"}},
			`swtpmtest: unknown PCR bank "md5" (known: sha1, sha256, sha384, sha512)`},
		{"bank twice", swtpmtest.Options{Banks: []string{"sha256", "sha1", "sha256"}},
			`swtpmtest: PCR bank "sha256" given twice`},
		{"comma in dir", swtpmtest.Options{Dir: filepath.Join(dir, "a,b")},
			fmt.Sprintf("swtpmtest: directory %q contains a comma or a line break", filepath.Join(dir, "a,b"))},
		{"socket path too long", swtpmtest.Options{Unix: true, Dir: long},
			"swtpmtest: socket path " + filepath.Join(long, "swtpm.sock.ctrl") + " is longer than 107 bytes: use a shorter Options.Dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpm, err := swtpmtest.New(tt.opts)
			if err == nil {
				tpm.Stop()
				t.Fatalf("New succeeded, want error %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("New error:\n got %q\nwant %q", err, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "a,b")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("New created the rejected directory (stat: %v)", err)
	}
}

// TestMissingBinaries checks that Start skips without swtpm, but fails when
// CI=true.
func TestMissingBinaries(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	const missing = "swtpmtest: swtpm, swtpm_setup, swtpm_localca, swtpm_ioctl not found on PATH; install with: apt-get install -y swtpm swtpm-tools"
	if err := swtpmtest.Available(); err == nil || err.Error() != missing {
		t.Errorf("Available() = %v, want %q", err, missing)
	}
	if _, err := swtpmtest.New(swtpmtest.Options{}); err == nil || err.Error() != missing {
		t.Errorf("New() error = %v, want %q", err, missing)
	}

	for _, tt := range []struct {
		ci                 string
		wantSkip, wantFail string
	}{
		{ci: "", wantSkip: "prerequisite missing: " + missing},
		{ci: "false", wantSkip: "prerequisite missing: " + missing},
		{ci: "true", wantFail: "prerequisite missing (CI=true): " + missing},
	} {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			tb := &recordingTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				swtpmtest.Start(tb, swtpmtest.Options{})
			}()
			<-done
			if tb.skipped != tt.wantSkip || tb.failed != tt.wantFail {
				t.Errorf("Start: skipped %q, failed %q; want skipped %q, failed %q", tb.skipped, tb.failed, tt.wantSkip, tt.wantFail)
			}
		})
	}
}

// recordingTB records Skip and Fatal and ends its goroutine as testing.T does.
type recordingTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Skip(args ...any) {
	r.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *recordingTB) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recordingTB) Fatal(args ...any) {
	r.failed = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func ExampleNew() {
	tpm, err := swtpmtest.New(swtpmtest.Options{Banks: []string{"sha1", "sha256"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(tpm.Dir)
	defer tpm.Stop()

	// Point tpm2-tools at it, and trust its EK certificates.
	fmt.Println("TPM2TOOLS_TCTI=" + tpm.TCTI())
	fmt.Println("EK CA:", tpm.RootCAPath, tpm.IssuerCAPath)
}

func BenchmarkNew(b *testing.B) {
	if err := swtpmtest.Available(); err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		tpm, err := swtpmtest.New(swtpmtest.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := tpm.Stop(); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(tpm.Dir)
	}
}

// verifyEKCert parses an EK certificate and verifies it up to the TPM's
// root CA through its intermediate. Go's x509 does not handle the critical
// SAN of EK certificates (only a directoryName), so this checks that it is
// the only unhandled critical extension, then accepts it.
func verifyEKCert(t *testing.T, tpm *swtpmtest.TPM, der []byte) *x509.Certificate {
	t.Helper()
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse EK certificate: %v", err)
	}
	if len(cert.UnhandledCriticalExtensions) != 1 || !cert.UnhandledCriticalExtensions[0].Equal(oidSubjectAltName) {
		t.Fatalf("unhandled critical extensions = %v, want only the SAN %v", cert.UnhandledCriticalExtensions, oidSubjectAltName)
	}
	cert.UnhandledCriticalExtensions = nil
	hasEKUsage := false
	for _, oid := range cert.UnknownExtKeyUsage {
		hasEKUsage = hasEKUsage || oid.Equal(oidTCGKpEKCert)
	}
	if !hasEKUsage {
		t.Errorf("EK certificate lacks the extended key usage tcg-kp-EKCertificate %v", oidTCGKpEKCert)
	}

	roots, intermediates := x509.NewCertPool(), x509.NewCertPool()
	for pool, path := range map[*x509.CertPool]string{roots: tpm.RootCAPath, intermediates: tpm.IssuerCAPath} {
		pem, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			t.Fatalf("no certificate in %s", path)
		}
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		t.Fatalf("verify EK certificate: %v", err)
	}
	if len(chains) != 1 || len(chains[0]) != 3 {
		t.Errorf("chains = %d, want one of 3 certificates (EK, issuer, root)", len(chains))
	}
	return cert
}

// checkBanks checks that exactly the given PCR banks are active.
func checkBanks(t *testing.T, tpm *swtpmtest.TPM, want ...string) {
	t.Helper()
	out := string(tpm2(t, tpm, "tpm2_getcap", "pcrs"))
	for _, bank := range []string{"sha1", "sha256", "sha384", "sha512"} {
		m := regexp.MustCompile(`- ` + bank + `: \[ (.*)\]`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("bank %s missing from tpm2_getcap pcrs:\n%s", bank, out)
		}
		active := strings.TrimSpace(m[1]) != ""
		if wantActive := slices.Contains(want, bank); active != wantActive {
			t.Errorf("bank %s active = %v, want %v; tpm2_getcap pcrs:\n%s", bank, active, wantActive, out)
		}
	}
}

func readPCR16(t *testing.T, tpm *swtpmtest.TPM) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "pcr16")
	tpm2(t, tpm, "tpm2_pcrread", "sha256:16", "-o", out)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// checkGone checks that process pid has exited and been reaped.
func checkGone(t *testing.T, pid int) {
	t.Helper()
	if pid <= 0 {
		t.Fatalf("bad pid %d", pid)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("swtpm (pid %d) still exists: kill -0: %v", pid, err)
	}
}

func dial(t *testing.T, network, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn
}

// roundTrip sends a raw TPM command and reads the response by its header.
func roundTrip(t *testing.T, conn net.Conn, cmd []byte) []byte {
	t.Helper()
	if _, err := conn.Write(cmd); err != nil {
		t.Fatal(err)
	}
	header := make([]byte, 10)
	if _, err := io.ReadFull(conn, header); err != nil {
		t.Fatalf("read response header: %v", err)
	}
	size := binary.BigEndian.Uint32(header[2:6])
	if size < 10 || size > 4096 {
		t.Fatalf("response size %d", size)
	}
	resp := make([]byte, size)
	copy(resp, header)
	if _, err := io.ReadFull(conn, resp[10:]); err != nil {
		t.Fatalf("read response: %v", err)
	}
	return resp
}

// checkGetRandomResponse checks a TPM2_GetRandom(8) response: tag
// TPM_ST_NO_SESSIONS, size 20, TPM_RC_SUCCESS, TPM2B of 8 bytes.
func checkGetRandomResponse(t *testing.T, resp []byte) {
	t.Helper()
	want := []byte{0x80, 0x01, 0, 0, 0, 20, 0, 0, 0, 0, 0, 8}
	if len(resp) != 20 || !bytes.Equal(resp[:12], want) {
		t.Errorf("GetRandom response = %x, want %x followed by 8 random bytes", resp, want)
	}
}

// tpm2 runs a tpm2-tools command against tpm and returns its standard output.
func tpm2(t *testing.T, tpm *swtpmtest.TPM, tool string, args ...string) []byte {
	t.Helper()
	needTool(t, tool)
	out, stderr, err := runTPM2(tpm, tool, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s\nswtpm log:\n%s", tool, strings.Join(args, " "), err, stderr, lastLines(tpm.Log(), 40))
	}
	return out
}

func runTPM2(tpm *swtpmtest.TPM, tool string, args ...string) (stdout []byte, stderr string, _ error) {
	cmd := exec.Command(tool, args...)
	cmd.Env = append(os.Environ(), "TPM2TOOLS_TCTI="+tpm.TCTI())
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	out, err := cmd.Output()
	return out, errBuf.String(), err
}

// needTool skips the test when tool is missing, except with CI=true.
func needTool(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (install tpm2-tools and openssl)", err)
		}
		t.Skipf("%v (apt-get install -y tpm2-tools openssl)", err)
	}
}

func containsHandle(getcap, handle string) bool {
	h := strings.ToUpper(strings.TrimPrefix(handle, "0x"))
	h = strings.TrimLeft(h, "0")
	return strings.Contains(getcap, "- 0x"+h+"\n")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
