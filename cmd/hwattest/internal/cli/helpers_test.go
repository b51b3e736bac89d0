package cli_test

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/hwattest/hwattest/cmd/hwattest/internal/cli"
	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/internal/tpmtest"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

// secureBootLog is a real UEFI boot log with secure boot on, whose sha256
// events replay into PCRs 0-7.
const secureBootLog = "../../../../pkg/tpmquote/testdata/eventlogs/keylime_binary_bios_measurements_secureboot.bin"

// result is what one hwattest run printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Run(args, &out, &errOut)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// mustRun runs hwattest and fails the test unless it exits with want.
func mustRun(t *testing.T, want int, args ...string) result {
	t.Helper()
	r := run(t, args...)
	if r.code != want {
		t.Fatalf("hwattest %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

// machine is a swtpm with a real EK chain whose PCRs 0-7 hold a boot log.
type machine struct {
	sw  *swtpmtest.TPM
	log string // the boot log file agreeing with the PCRs
}

// newMachine starts swtpm and replays the secure boot log into its sha256
// PCRs 0-7, as firmware would have measured it.
func newMachine(t *testing.T) *machine {
	t.Helper()
	sw := swtpmtest.Start(t, swtpmtest.Options{})
	raw, err := os.ReadFile(secureBootLog)
	if err != nil {
		t.Fatal(err)
	}
	withTPM(t, sw, func(tpm transport.TPM) {
		tpmtest.ReplayEventLog(t, tpm, raw, []tpm2.TPMAlgID{tpm2.TPMAlgSHA256}, 7)
	})
	log := filepath.Join(t.TempDir(), "binary_bios_measurements")
	if err := os.WriteFile(log, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return &machine{sw: sw, log: log}
}

// withTPM opens the machine's TPM for fn (swtpm serves one connection at a
// time, so it is closed again before hwattest runs).
func withTPM(t *testing.T, sw *swtpmtest.TPM, fn func(tpm transport.TPM)) {
	t.Helper()
	tpm, err := attester.Open(sw.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tpm.Close()
	fn(tpm)
}

// measure appends an EV_EFI_ACTION event with data to the machine's boot log
// in pcr, with a digest in every bank the log declares, and extends the
// TPM's sha256 bank to match: a machine whose boot measured something the
// reference machines did not.
func (m *machine) measure(t *testing.T, pcr uint32, data string) {
	t.Helper()
	const evEFIAction = 0x80000007
	raw, err := os.ReadFile(m.log)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, pcr)
	binary.Write(&b, binary.LittleEndian, uint32(evEFIAction))
	algs := logAlgorithms(t, raw)
	binary.Write(&b, binary.LittleEndian, uint32(len(algs)))
	s256 := sha256.Sum256([]byte(data))
	for _, alg := range algs {
		binary.Write(&b, binary.LittleEndian, uint16(alg))
		switch alg {
		case tpm2.TPMAlgSHA1:
			s1 := sha1.Sum([]byte(data))
			b.Write(s1[:])
		case tpm2.TPMAlgSHA256:
			b.Write(s256[:])
		default:
			t.Fatalf("log bank %v: not supported by this helper", alg)
		}
	}
	binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.WriteString(data)
	if err := os.WriteFile(m.log, append(raw, b.Bytes()...), 0o600); err != nil {
		t.Fatal(err)
	}
	withTPM(t, m.sw, func(tpm transport.TPM) {
		tpmtest.ExtendPCR(t, tpm, tpm2.TPMAlgSHA256, int(pcr), s256[:])
	})
}

// logAlgorithms reads the digest algorithms a crypto-agile log declares in
// its Spec ID event (TCG PC Client PFP, TCG_EfiSpecIDEventStruct).
func logAlgorithms(t *testing.T, raw []byte) []tpm2.TPMAlgID {
	t.Helper()
	// TCG_PCR_EVENT: PCR, type, SHA-1 digest, event size, event.
	const header = 4 + 4 + 20 + 4
	if len(raw) < header+28 || !bytes.HasPrefix(raw[header:], []byte("Spec ID Event03\x00")) {
		t.Fatal("not a crypto-agile log")
	}
	ev := raw[header:]
	n := int(binary.LittleEndian.Uint32(ev[24:28]))
	var algs []tpm2.TPMAlgID
	for i := 0; i < n; i++ {
		algs = append(algs, tpm2.TPMAlgID(binary.LittleEndian.Uint16(ev[28+4*i:])))
	}
	return algs
}

// has reports whether out contains want, with runs of spaces (tabwriter's
// column padding) counted as one.
func has(out, want string) bool {
	return strings.Contains(spaces.ReplaceAllString(out, " "), spaces.ReplaceAllString(want, " "))
}

var spaces = regexp.MustCompile(` +`)

// caFlags are the flags that trust the machine's swtpm local CA.
func (m *machine) caFlags() []string {
	return []string{"--ek-ca", m.sw.RootCAPath, "--ek-ca", m.sw.IssuerCAPath}
}

// capture runs hwattest evidence on the machine into dir/name.
func (m *machine) capture(t *testing.T, dir, name string, extra ...string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	args := append([]string{"evidence", "--tpm", m.sw.Addr, "--event-log", m.log, "-o", out}, extra...)
	mustRun(t, cli.ExitOK, append(args, m.caFlags()...)...)
	return out
}

// extend extends a sha256 PCR outside any log: drift.
func extend(t *testing.T, tpm transport.TPM, pcr int) {
	t.Helper()
	tpmtest.ExtendPCR(t, tpm, tpm2.TPMAlgSHA256, pcr, bytes.Repeat([]byte{0x5a}, sha256.Size))
}
