package tpmquote_test

// Variants of the attack tests (attack_eventlog_test.go): the event type and
// most event data of a boot log are not measured, and PCRs 0-7 stay
// extendable after boot. Whatever an attacker relabels, edits or extends,
// the secure boot state is never forged and no boot component hidden.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/nodeattestor/tpm"
	"github.com/hwattest/hwattest/pkg/policy"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

const (
	evNoAction = 0x3
	evIPL      = 0xd
	evUnknown  = 0x7fff0001
)

var secureBootName = []byte("S\x00e\x00c\x00u\x00r\x00e\x00B\x00o\x00o\x00t\x00")

// efiVar is a UEFI_VARIABLE_DATA of name with value, of EFI_GLOBAL_VARIABLE.
func efiVar(name string, value []byte) []byte {
	guid := []byte{0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c}
	var b bytes.Buffer
	b.Write(guid)
	binary.Write(&b, binary.LittleEndian, uint64(len(name)))
	binary.Write(&b, binary.LittleEndian, uint64(len(value)))
	for _, c := range name {
		binary.Write(&b, binary.LittleEndian, uint16(c))
	}
	b.Write(value)
	return b.Bytes()
}

// attestSub runs attestWithLogOpts in a subtest of its own (one simulator
// per test at a time).
func attestSub(t *testing.T, name string, raw, sent []byte, opts tpmquote.Options) (res *tpmquote.Result, err error) {
	t.Helper()
	t.Run(name, func(t *testing.T) { res, err = attestWithLogOpts(t, raw, sent, opts) })
	return res, err
}

// agileEvent256 is agileEvent for a log with only SHA-256 digests.
func agileEvent256(pcr, typ uint32, data []byte) []byte {
	var b bytes.Buffer
	s256 := sha256.Sum256(data)
	binary.Write(&b, binary.LittleEndian, pcr)
	binary.Write(&b, binary.LittleEndian, typ)
	binary.Write(&b, binary.LittleEndian, uint32(1))
	binary.Write(&b, binary.LittleEndian, uint16(0x000b))
	b.Write(s256[:])
	binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}

// notEnabled fails t when the attestation claims secure boot on.
func notEnabled(t *testing.T, res *tpmquote.Result, err error) {
	t.Helper()
	if err != nil {
		t.Logf("refused: %v", err)
		return
	}
	t.Logf("secure boot %+v", res.Boot.SecureBoot)
	if res.Boot.SecureBoot.Known && res.Boot.SecureBoot.Enabled {
		t.Error("secure boot forged: known and enabled")
	}
	if fails := (&policy.Policy{Name: "sb", SecureBoot: true}).Evaluate(res); len(fails) == 0 {
		t.Error("secure_boot policy passes")
	}
	for _, s := range tpm.Selectors(res, tpm.SelectorOptions{}) {
		if s == "secureboot:enabled" {
			t.Error("secureboot:enabled selector")
		}
	}
}

// TestSecureBootRelabelVariants: the firmware's SecureBoot=0 event relabelled
// as any other type, plus a SecureBoot=1 event extended at run time.
func TestSecureBootRelabelVariants(t *testing.T) {
	const name = "keylime_binary_bios_measurements.bin" // secure boot off
	for _, typ := range []uint32{evEFIVariableBoot, evEFIAction, evIPL, evSeparator, evUnknown, evNoAction} {
		t.Run(hex.EncodeToString(binary.BigEndian.AppendUint32(nil, typ)), func(t *testing.T) {
			extend := agileEvent(7, evEFIVariableDriverConfig, secureBootVar(1))
			// What the TPM holds: the boot, then root's run time extend.
			truth := append(bytes.Clone(readLog(t, name)), extend...)
			sent := bytes.Clone(truth)
			for _, e := range walkAgileLog(t, sent) {
				if e.pcr == 7 && e.typ == evEFIVariableDriverConfig && bytes.Contains(e.data, secureBootName) {
					binary.LittleEndian.PutUint32(sent[e.typeOff:], typ)
					break
				}
			}
			res, err := attestWithLog(t, truth, sent)
			if typ == evNoAction {
				// Not extended: the replay no longer matches.
				if err == nil || !strings.Contains(err.Error(), "does not replay") {
					t.Fatalf("err = %v, want a replay refusal", err)
				}
				return
			}
			notEnabled(t, res, err)
		})
	}
}

// TestSecureBootAfterSeparator: secure boot variables extended into PCR 7 at
// run time (after the separator), with the firmware's events untouched.
func TestSecureBootAfterSeparator(t *testing.T) {
	for _, tc := range []struct {
		name, log string
		extra     []byte
	}{
		{"SecureBoot=1 on an off machine", "keylime_binary_bios_measurements.bin", agileEvent(7, evEFIVariableDriverConfig, secureBootVar(1))},
		{"SecureBoot=1 on an on machine", "keylime_binary_bios_measurements_secureboot.bin", agileEvent256(7, evEFIVariableDriverConfig, secureBootVar(1))},
		{"PK on an on machine", "keylime_binary_bios_measurements_secureboot.bin", agileEvent256(7, evEFIVariableDriverConfig, efiVar("PK", nil))},
		{"KEK on an on machine", "keylime_binary_bios_measurements_secureboot.bin", agileEvent256(7, evEFIVariableDriverConfig, efiVar("KEK", nil))},
		{"db on an on machine", "keylime_binary_bios_measurements_secureboot.bin", agileEvent256(7, evEFIVariableDriverConfig, efiVar("db", nil))},
		{"dbx on an on machine", "keylime_binary_bios_measurements_secureboot.bin", agileEvent256(7, evEFIVariableDriverConfig, efiVar("dbx", nil))},
		{"a second separator", "keylime_binary_bios_measurements_secureboot.bin", agileEvent256(7, evSeparator, []byte{0, 0, 0, 0})},
		{"an unexpected action", "keylime_binary_bios_measurements_secureboot.bin", agileEvent256(7, evEFIAction, []byte("hello"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forged := append(bytes.Clone(readLog(t, tc.log)), tc.extra...)
			res, err := attestWithLog(t, forged, nil)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.Boot.SecureBoot.Known {
				t.Errorf("secure boot %+v: want unknown", res.Boot.SecureBoot)
			}
			notEnabled(t, res, err)
		})
	}
}

// TestSecureBootTamperedValue: the firmware's SecureBoot=0 event edited to
// say 1 (its digest no longer covers its data).
func TestSecureBootTamperedValue(t *testing.T) {
	raw := readLog(t, "keylime_binary_bios_measurements.bin")
	sent := bytes.Clone(raw)
	edited := false
	for _, e := range walkAgileLog(t, sent) {
		if e.pcr == 7 && e.typ == evEFIVariableDriverConfig && bytes.Contains(e.data, secureBootName) {
			sent[e.end-1] = 1
			edited = true
		}
	}
	if !edited {
		t.Fatal("no SecureBoot event")
	}
	res, err := attestWithLog(t, raw, sent)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if res.Boot.SecureBoot.Known || !strings.Contains(res.Boot.SecureBoot.Detail, "invalid digest") {
		t.Errorf("secure boot %+v: want unknown for an invalid digest", res.Boot.SecureBoot)
	}
}

// bootPolicyAllExcept allows every component of res but except.
func bootPolicyAllExcept(res *tpmquote.Result, except []byte) *policy.Policy {
	allow := map[string]bool{}
	for _, c := range res.Boot.Components {
		if !bytes.Equal(c.Digest, except) {
			allow[hex.EncodeToString(c.Digest)] = true
		}
	}
	return &policy.Policy{Name: "boot", Required: true, BootComponents: allow}
}

// TestBootComponentRelabelVariants: an unapproved boot application whose
// event is relabelled as any type is still a component the policy judges.
func TestBootComponentRelabelVariants(t *testing.T) {
	const name = "keylime_binary_bios_measurements.bin"
	raw := readLog(t, name)
	honest, err := attestSub(t, "honest", raw, nil, tpmquote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var bad tpmquote.BootComponent
	for _, c := range honest.Boot.Components {
		if c.PCR == 4 && c.Type == "EV_EFI_BOOT_SERVICES_APPLICATION" {
			bad = c
		}
	}
	p := bootPolicyAllExcept(honest, bad.Digest)
	if len(p.Evaluate(honest)) == 0 {
		t.Fatal("control: the honest log passes")
	}
	for _, typ := range []uint32{evEFIAction, evIPL, evSeparator, evUnknown, evEFIVariableDriverConfig, evNoAction} {
		t.Run(hex.EncodeToString(binary.BigEndian.AppendUint32(nil, typ)), func(t *testing.T) {
			sent := bytes.Clone(raw)
			for _, e := range walkAgileLog(t, sent) {
				if e.pcr == 4 && bytes.Contains(sent[e.start:e.dataOff], bad.Digest[:8]) {
					binary.LittleEndian.PutUint32(sent[e.typeOff:], typ)
				}
			}
			res, err := attestWithLog(t, raw, sent)
			if typ == evNoAction {
				if err == nil || !strings.Contains(err.Error(), "does not replay") {
					t.Fatalf("err = %v, want a replay refusal", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			fails := p.Evaluate(res)
			if len(fails) == 0 || !strings.Contains(strings.Join(fails, ";"), hex.EncodeToString(bad.Digest)) {
				t.Errorf("the relabelled component passes: %q", fails)
			}
		})
	}
}

// TestBootComponentLogLeftOut: a log that leaves out every PCR 4 event is
// refused (go-attestation's replay alone accepts it).
func TestBootComponentLogLeftOut(t *testing.T) {
	raw := readLog(t, "keylime_binary_bios_measurements.bin")
	evs := walkAgileLog(t, raw)
	sent := bytes.Clone(raw[:evs[0].end])
	for _, e := range evs[1:] {
		if e.pcr != 4 {
			sent = append(sent, raw[e.start:e.end]...)
		}
	}
	_, err := attestWithLog(t, raw, sent)
	if err == nil || err.Error() != "tpmquote: event log has no event for the quoted sha1 PCR 4, which is not at its reset value" {
		t.Fatalf("err = %v", err)
	}
}

// TestBootSelectorsBeforeSeparator: only digests measured before their
// PCR's separator become selectors; an event that is not extended
// (EV_NO_ACTION) or is extended after the separator never does.
func TestBootSelectorsBeforeSeparator(t *testing.T) {
	raw := readLog(t, "keylime_binary_bios_measurements.bin")
	approved := bytes.Repeat([]byte{0xcd}, 32)
	var noAction bytes.Buffer
	binary.Write(&noAction, binary.LittleEndian, uint32(4))
	binary.Write(&noAction, binary.LittleEndian, uint32(evNoAction))
	binary.Write(&noAction, binary.LittleEndian, uint32(1))
	binary.Write(&noAction, binary.LittleEndian, uint16(0x000b))
	noAction.Write(approved)
	binary.Write(&noAction, binary.LittleEndian, uint32(0))
	// The EV_NO_ACTION event is placed before the first event of PCR 4 (not
	// extended, so the replay does not see it).
	evs := walkAgileLog(t, raw)
	at := 0
	for _, e := range evs {
		if e.pcr == 4 {
			at = e.start
			break
		}
	}
	sent := append(append(bytes.Clone(raw[:at]), noAction.Bytes()...), raw[at:]...)
	extended := append(bytes.Clone(raw), agileEvent(2, evEFIBootServicesApp, []byte("runtime"))...)
	res, err := attestWithLog(t, extended, append(sent, agileEvent(2, evEFIBootServicesApp, []byte("runtime"))...))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	sel := tpm.Selectors(res, tpm.SelectorOptions{BootPCRs: []int{0, 2, 4}})
	var boot []string
	for _, s := range sel {
		if strings.HasPrefix(s, "boot:") {
			boot = append(boot, s)
		}
	}
	var want []string
	for _, c := range res.Boot.Components {
		if c.BeforeSeparator && (c.PCR == 0 || c.PCR == 2 || c.PCR == 4) {
			want = append(want, "boot:"+string(rune('0'+c.PCR))+":"+hex.EncodeToString(c.Digest))
		}
	}
	slices.Sort(want)
	want = slices.Compact(want)
	if !slices.Equal(boot, want) || len(want) != 4 { // PCR 0 is not quoted (StartupLocality)
		t.Errorf("boot selectors %q, want %q", boot, want)
	}
	for _, s := range boot {
		if strings.HasSuffix(s, hex.EncodeToString(approved)) {
			t.Errorf("an EV_NO_ACTION event became selector %s", s)
		}
	}
	// The three PCR 2 drivers of the honest log come before its separator.
	n := 0
	for _, s := range boot {
		if strings.HasPrefix(s, "boot:2:") {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d PCR 2 selectors, want 3: %q", n, boot)
	}
	// The run time PCR 2 extend is an anomaly, reported in the checks.
	if len(res.Boot.Anomalies) != 1 || !strings.HasPrefix(res.Boot.Anomalies[0], "PCR 2: ") {
		t.Errorf("anomalies %q", res.Boot.Anomalies)
	}
	if !slices.ContainsFunc(res.Checks, func(c tpmquote.Check) bool { return c.Name == "eventlog.anomalies" && !c.Passed }) {
		t.Errorf("no failed eventlog.anomalies check in %+v", res.Checks)
	}
}

// TestSHA1OnlyBootLog: a log that replays only in SHA-1 establishes neither
// the secure boot state nor the components, unless the operator allows it.
func TestSHA1OnlyBootLog(t *testing.T) {
	raw := readLog(t, "option_rom_eventlog.bin") // SHA-1 only, secure boot on
	res, err := attestSub(t, "default", raw, nil, tpmquote.Options{})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if res.Boot.SecureBoot.Known || len(res.Boot.ComponentPCRs) != 0 || len(res.Boot.Anomalies) != 1 {
		t.Errorf("boot %+v: want nothing established", res.Boot)
	}
	p := &policy.Policy{Name: "boot", BootComponents: map[string]bool{}, SecureBoot: true}
	if fails := p.Evaluate(res); len(fails) != 3 {
		t.Errorf("failures %q: want secure boot, PCR 2 and PCR 4", fails)
	}
	res, err = attestSub(t, "allowed", raw, nil, tpmquote.Options{AllowSHA1Boot: true})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !res.Boot.SecureBoot.Known || !res.Boot.SecureBoot.Enabled || len(res.Boot.ComponentPCRs) != 2 {
		t.Errorf("boot %+v: want established with AllowSHA1Boot", res.Boot)
	}
}
