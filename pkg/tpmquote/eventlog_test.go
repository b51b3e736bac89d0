package tpmquote_test

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/tpm2"

	"github.com/hwattest/hwattest/internal/tpmtest"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

// realLogs are the real boot event logs in testdata, with the secure boot
// state each really has (the SecureBoot variable measured into PCR 7).
//
// Two are SHA-1-only logs: they establish the state only with
// Options.AllowSHA1Boot (TestSHA1OnlyBootLog).
var realLogs = []struct {
	file       string
	secureBoot tpmquote.SecureBoot
}{
	{"coreos_36_shielded_vm_no_secure_boot_eventlog.bin", tpmquote.SecureBoot{Known: true, Enabled: false}},
	// Its SecureBoot variable is measured empty: the state is not established.
	{"crypto_agile_eventlog.bin", tpmquote.SecureBoot{Known: false}},
	{"ebs_event_missing_eventlog.bin", tpmquote.SecureBoot{Known: true, Enabled: false}},
	{"keylime_binary_bios_measurements.bin", tpmquote.SecureBoot{Known: true, Enabled: false}},
	{"keylime_binary_bios_measurements_secureboot.bin", tpmquote.SecureBoot{Known: true, Enabled: true}},
	{"option_rom_eventlog.bin", tpmquote.SecureBoot{Known: true, Enabled: true}},
	{"sb_cert_eventlog.bin", tpmquote.SecureBoot{Known: true, Enabled: true}},
	{"ubuntu_2104_shielded_vm_no_secure_boot_eventlog.bin", tpmquote.SecureBoot{Known: true, Enabled: false}},
}

func readLog(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "eventlogs", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// logSelection is the selection that covers a log: PCRs 0-9 in each bank the
// log has digests for. A log whose firmware started the TPM from locality 3
// (a StartupLocality event) sets an initial PCR 0 that a simulator cannot
// reproduce, so PCR 0 is left out for it.
func logSelection(t testing.TB, raw []byte) tpmquote.PCRSelection {
	t.Helper()
	el, err := attest.ParseEventLog(raw)
	if err != nil {
		t.Fatal(err)
	}
	first := 0
	if bytes.Contains(raw, []byte("StartupLocality")) {
		first = 1
	}
	sel := tpmquote.PCRSelection{}
	for _, alg := range el.Algs {
		for i := first; i <= 9; i++ {
			sel[tpmquote.HashAlg(alg)] = append(sel[tpmquote.HashAlg(alg)], i)
		}
	}
	return sel
}

// attestWithLog replays raw into a fresh simulator, then runs a whole
// attestation that sends raw as the event log (or sent, when not nil).
func attestWithLog(t *testing.T, raw, sent []byte) (*tpmquote.Result, error) {
	t.Helper()
	return attestWithLogOpts(t, raw, sent, tpmquote.Options{})
}

// attestWithLogOpts is attestWithLog with verifier options (PCRs, when
// empty, is the selection that covers raw).
func attestWithLogOpts(t *testing.T, raw, sent []byte, opts tpmquote.Options) (*tpmquote.Result, error) {
	t.Helper()
	res, _, err := attestWithLogSession(t, raw, sent, opts)
	return res, err
}

// attestWithLogSession is attestWithLogOpts returning the session too.
func attestWithLogSession(t *testing.T, raw, sent []byte, opts tpmquote.Options) (*tpmquote.Result, *tpmquote.Session, error) {
	t.Helper()
	sim := newSimTPM(t)
	sel := logSelection(t, raw)
	if len(opts.PCRs) == 0 {
		opts.PCRs = sel
	}
	var banks []tpm2.TPMAlgID
	for _, b := range sel.Banks() {
		banks = append(banks, tpm2.TPMAlgID(b))
	}
	tpmtest.ReplayEventLog(t, sim.tpm, raw, banks, 9)
	if sent == nil {
		sent = raw
	}
	path := filepath.Join(t.TempDir(), "binary_bios_measurements")
	if err := os.WriteFile(path, sent, 0o600); err != nil {
		t.Fatal(err)
	}
	v := sim.verifier(t, opts)
	s, att := attestation(t, sim.tpm, attester.Config{EventLogPath: path})
	ch, session, err := v.Challenge(att)
	if err != nil {
		t.Fatalf("Challenge: %v", err)
	}
	res, err := session.Verify(respond(t, s, ch))
	return res, session, err
}

func TestRealEventLogs(t *testing.T) {
	for _, tc := range realLogs {
		t.Run(tc.file, func(t *testing.T) {
			raw := readLog(t, tc.file)
			res, err := attestWithLogOpts(t, raw, nil, tpmquote.Options{AllowSHA1Boot: sha1Only(t, raw)})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.Boot == nil {
				t.Fatal("no boot result")
			}
			// An honest log: no anomaly, PCRs 2 and 4 established.
			if len(res.Boot.Anomalies) != 0 {
				t.Errorf("anomalies %q", res.Boot.Anomalies)
			}
			if len(res.Boot.ComponentPCRs) != 2 {
				t.Errorf("component PCRs %v", res.Boot.ComponentPCRs)
			}
			if res.Boot.SecureBoot.Known != tc.secureBoot.Known || res.Boot.SecureBoot.Enabled != tc.secureBoot.Enabled {
				t.Errorf("secure boot = %+v, want %+v", res.Boot.SecureBoot, tc.secureBoot)
			}
			if res.Boot.Events == 0 || len(res.Boot.Components) == 0 {
				t.Errorf("events %d, components %d", res.Boot.Events, len(res.Boot.Components))
			}
		})
	}
}

func TestEventLogRefusals(t *testing.T) {
	const name = "ubuntu_2104_shielded_vm_no_secure_boot_eventlog.bin"
	raw := readLog(t, name)
	el, err := attest.ParseEventLog(raw)
	if err != nil {
		t.Fatal(err)
	}
	// The last measured SHA-256 digest of PCR 4 (the kernel), to edit.
	var digest []byte
	for _, e := range el.Events(attest.HashSHA256) {
		if e.Index == 4 && e.Type != 0x03 {
			digest = e.Digest
		}
	}
	edited := bytes.Clone(raw)
	at := bytes.LastIndex(edited, digest)
	if at < 0 {
		t.Fatal("digest not found in log")
	}
	edited[at] ^= 0x01

	appended := append(bytes.Clone(raw), agileEvent(4, 0x0d, []byte("grub_cmd: insmod evil"))...)

	for _, tc := range []struct {
		name string
		sent []byte
		want string
	}{
		{"one byte edited", edited, "tpmquote: event log does not replay to the quoted sha256 PCRs [4]"},
		{"event appended", appended, "tpmquote: event log does not replay to the quoted sha1 PCRs [4]"},
		{"truncated", raw[:len(raw)-7], "tpmquote: event log: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, session, err := attestWithLogSession(t, raw, tc.sent, tpmquote.Options{})
			if err == nil || !bytes.HasPrefix([]byte(err.Error()), []byte(tc.want)) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			// The quote verified before the log failed: the node holds the
			// EK, and a refusal may name it.
			if !session.Proven() {
				t.Error("Proven() = false after a verified quote and a log that does not replay")
			}
		})
	}
}

// agileEvent encodes a crypto-agile (TCG_PCR_EVENT2) event with SHA-1 and
// SHA-256 digests of data.
func agileEvent(pcr, typ uint32, data []byte) []byte {
	var b bytes.Buffer
	s1, s256 := sha1.Sum(data), sha256.Sum256(data)
	binary.Write(&b, binary.LittleEndian, pcr)
	binary.Write(&b, binary.LittleEndian, typ)
	binary.Write(&b, binary.LittleEndian, uint32(2))
	binary.Write(&b, binary.LittleEndian, uint16(tpm2.TPMAlgSHA1))
	b.Write(s1[:])
	binary.Write(&b, binary.LittleEndian, uint16(tpm2.TPMAlgSHA256))
	b.Write(s256[:])
	binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}

// sha1Only reports whether raw has only SHA-1 digests.
func sha1Only(t testing.TB, raw []byte) bool {
	t.Helper()
	el, err := attest.ParseEventLog(raw)
	if err != nil {
		t.Fatal(err)
	}
	return len(el.Algs) == 1 && el.Algs[0] == attest.HashSHA1
}
