package tpmquote_test

// Adversarial review: the event type and (for most events) the event data of
// a boot log are not covered by the PCR extend, only the digest is. These
// tests show what an attacker who controls the log the agent sends (root on
// the node) can make the verifier believe. Each test asserts the SECURE
// behaviour, so it fails while the weakness exists.
//
//   go test -run 'TestAttack' -v ./pkg/tpmquote/

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"testing"
	"unicode/utf16"

	"github.com/hwattest/hwattest/nodeattestor/tpm"
	"github.com/hwattest/hwattest/pkg/policy"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

const (
	evEFIVariableDriverConfig = 0x80000001
	evEFIVariableBoot         = 0x80000002
	evEFIBootServicesApp      = 0x80000003
	evEFIAction               = 0x80000007
	evSeparator               = 0x4
)

// secureBootVar is a UEFI_VARIABLE_DATA for EFI_GLOBAL_VARIABLE SecureBoot.
func secureBootVar(v byte) []byte {
	guid := []byte{0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c}
	name := utf16.Encode([]rune("SecureBoot"))
	var b bytes.Buffer
	b.Write(guid)
	binary.Write(&b, binary.LittleEndian, uint64(len(name)))
	binary.Write(&b, binary.LittleEndian, uint64(1))
	for _, c := range name {
		binary.Write(&b, binary.LittleEndian, c)
	}
	b.WriteByte(v)
	return b.Bytes()
}

// TestAttackSecureBootForged: on a node booted with secure boot OFF, root
// (1) relabels the firmware's SecureBoot=0 event (its type is not measured)
// and (2) extends PCR 7 at runtime with a SecureBoot=1 variable event after
// the separator. The log still replays; the verifier reports secure boot ON.
func TestAttackSecureBootForged(t *testing.T) {
	const name = "keylime_binary_bios_measurements.bin" // secure boot disabled
	raw := bytes.Clone(readLog(t, name))
	found := false
	for _, e := range walkAgileLog(t, raw) {
		if e.pcr == 7 && e.typ == evEFIVariableDriverConfig && bytes.Contains(e.data, []byte("S\x00e\x00c\x00u\x00r\x00e\x00B\x00o\x00o\x00t\x00")) {
			binary.LittleEndian.PutUint32(raw[e.typeOff:], evEFIVariableBoot) // not covered by the digest
			found = true
			break
		}
	}
	if !found {
		t.Fatal("no SecureBoot event")
	}
	// What root extends into PCR 7 after boot (tpm2_pcrextend), and appends.
	forged := append(raw, agileEvent(7, evEFIVariableDriverConfig, secureBootVar(1))...)

	// The simulator's PCRs = the real boot + the attacker's runtime extend.
	res, err := attestWithLog(t, forged, nil)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	p := &policy.Policy{Name: "level2-measured-boot", Required: true, SecureBoot: true}
	fails := p.Evaluate(res)
	t.Logf("secure boot = %+v, level2 policy failures = %v", res.Boot.SecureBoot, fails)
	if res.Boot.SecureBoot.Known && res.Boot.SecureBoot.Enabled {
		t.Errorf("VULNERABLE: a secure-boot-disabled node is verified as secureboot:enabled")
	}
	if len(fails) == 0 {
		t.Errorf("VULNERABLE: the required secure_boot policy passes")
	}
}

// TestAttackSecureBootTamperedData: same, but root edits the NAME in the
// firmware's SecureBoot=0 event data (the digest is only checked for the
// event whose name parses as SecureBoot).
func TestAttackSecureBootTamperedData(t *testing.T) {
	const name = "keylime_binary_bios_measurements.bin"
	raw := bytes.Clone(readLog(t, name))
	needle := []byte("S\x00e\x00c\x00u\x00r\x00e\x00B\x00o\x00o\x00t\x00")
	at := bytes.Index(raw, needle)
	if at < 0 {
		t.Fatal("no SecureBoot name")
	}
	raw[at+12] = 'b' // "Secureboot"
	forged := append(raw, agileEvent(7, evEFIVariableDriverConfig, secureBootVar(1))...)
	res, err := attestWithLog(t, forged, nil)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	t.Logf("secure boot = %+v", res.Boot.SecureBoot)
	if res.Boot.SecureBoot.Known && res.Boot.SecureBoot.Enabled {
		t.Errorf("VULNERABLE: a secure-boot-disabled node is verified as secureboot:enabled")
	}
}

// TestAttackBootComponentHidden: the node booted a boot application that is
// NOT in the boot_components allowlist. Root relabels that event's type
// (EV_EFI_BOOT_SERVICES_APPLICATION -> EV_EFI_ACTION) in the log it sends;
// nothing is extended, the log replays, and the policy passes.
func TestAttackBootComponentHidden(t *testing.T) {
	const name = "keylime_binary_bios_measurements.bin"
	raw := readLog(t, name)
	var honest *tpmquote.Result
	t.Run("honest", func(t *testing.T) { // one simulator per (sub)test
		var err error
		if honest, err = attestWithLog(t, raw, nil); err != nil {
			t.Fatal(err)
		}
	})
	if honest == nil {
		t.FailNow()
	}
	// The allowlist: every boot application/driver of the honest log but the
	// last one (the "unapproved boot loader").
	var apps []tpmquote.BootComponent
	for _, c := range honest.Boot.Components {
		if c.Type == "EV_EFI_BOOT_SERVICES_APPLICATION" || c.Type == "EV_EFI_BOOT_SERVICES_DRIVER" {
			apps = append(apps, c)
		}
	}
	if len(apps) < 2 {
		t.Fatalf("%d apps", len(apps))
	}
	bad := apps[len(apps)-1]
	allow := map[string]bool{}
	for _, c := range apps[:len(apps)-1] {
		allow[hex.EncodeToString(c.Digest)] = true
	}
	p := &policy.Policy{Name: "boot", Required: true, BootComponents: allow}
	if fails := p.Evaluate(honest); len(fails) == 0 {
		t.Fatal("control: the honest log should fail the policy")
	} else {
		t.Logf("control (honest log): %v", fails)
	}

	sent := bytes.Clone(raw)
	relabeled := false
	for _, e := range walkAgileLog(t, sent) {
		if e.typ == evEFIBootServicesApp && bytes.Contains(sent[e.start:e.dataOff], bad.Digest[:8]) {
			binary.LittleEndian.PutUint32(sent[e.typeOff:], evEFIAction)
			relabeled = true
		}
	}
	if !relabeled {
		t.Fatal("event not found")
	}
	var res *tpmquote.Result
	t.Run("relabeled", func(t *testing.T) {
		var err error
		if res, err = attestWithLog(t, raw, sent); err != nil {
			t.Fatalf("Verify (relabeled log): %v", err)
		}
	})
	if res == nil {
		t.FailNow()
	}
	if fails := p.Evaluate(res); len(fails) == 0 {
		t.Errorf("VULNERABLE: boot component %x (PCR %d) hidden by relabeling its event type; required boot_components policy passes", bad.Digest, bad.PCR)
	}
}

// TestAttackBootSelectorForgedByRuntimeExtend: PCRs 0-7 stay extendable
// after boot (locality 0). Root appends an EV_EFI_BOOT_SERVICES_APPLICATION
// event with the digest of an APPROVED boot loader to PCR 4, extends PCR 4
// with it, and relabels the boot loader it really booted (as above). The
// verifier reports the approved component and hides the real one, so the
// `boot:4:EV_EFI_BOOT_SERVICES_APPLICATION:<approved>` selector is emitted and
// a boot_components policy passes. Nothing checks that boot components come
// before PCR 4's EV_SEPARATOR.
func TestAttackBootSelectorForgedByRuntimeExtend(t *testing.T) {
	const name = "keylime_binary_bios_measurements.bin"
	raw := bytes.Clone(readLog(t, name))
	approved := bytes.Repeat([]byte{0xab}, 32) // e.g. the Authenticode hash of the fleet's signed shim
	// Relabel every real boot application (what was really booted).
	for _, e := range walkAgileLog(t, raw) {
		if e.typ == evEFIBootServicesApp {
			binary.LittleEndian.PutUint32(raw[e.typeOff:], evEFIAction)
		}
	}
	// Append an event whose digests root extends into PCR 4 at runtime.
	var ev bytes.Buffer
	binary.Write(&ev, binary.LittleEndian, uint32(4))
	binary.Write(&ev, binary.LittleEndian, uint32(evEFIBootServicesApp))
	binary.Write(&ev, binary.LittleEndian, uint32(2))
	binary.Write(&ev, binary.LittleEndian, uint16(0x0004))
	ev.Write(bytes.Repeat([]byte{0xab}, 20))
	binary.Write(&ev, binary.LittleEndian, uint16(0x000b))
	ev.Write(approved)
	binary.Write(&ev, binary.LittleEndian, uint32(0))
	forged := append(raw, ev.Bytes()...)

	res, err := attestWithLog(t, forged, nil)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	sel := tpm.Selectors(res, tpm.SelectorOptions{BootPCRs: []int{2, 4}})
	// The allowlist: the approved boot loader and the (genuine, unchanged)
	// firmware drivers of PCR 2.
	allow := map[string]bool{hex.EncodeToString(approved): true}
	for _, c := range res.Boot.Components {
		if c.Type == "EV_EFI_BOOT_SERVICES_DRIVER" {
			allow[hex.EncodeToString(c.Digest)] = true
		}
	}
	p := &policy.Policy{Name: "boot", Required: true, BootComponents: allow}
	fails := p.Evaluate(res)
	t.Logf("selectors %v, policy failures %v", sel, fails)
	want := "boot:4:EV_EFI_BOOT_SERVICES_APPLICATION:" + hex.EncodeToString(approved)
	for _, s := range sel {
		// The selector is now boot:<pcr>:<digest> (the event type is not
		// measured): neither form may carry the forged digest.
		if s == want || s == "boot:4:"+hex.EncodeToString(approved) {
			t.Errorf("VULNERABLE: forged selector %s emitted", s)
		}
	}
	if len(fails) == 0 {
		t.Errorf("VULNERABLE: boot_components policy passes with only the forged component")
	}
}
