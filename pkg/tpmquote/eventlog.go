package tpmquote

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/google/go-attestation/attest"
)

// maxComponentData bounds the description kept for a boot component.
const maxComponentData = 256

// replayBootLog parses a TCG PC Client boot event log (crypto-agile or
// SHA-1 format) with go-attestation, whose parser carries the vendor
// workarounds real firmware needs, and replays it against the quoted PCRs in
// every quoted bank the log has digests for. Every such bank must replay: a
// log that matches one bank and not another is refused. A quoted PCR 0-7
// that the log has no event for must be at its reset value (go-attestation
// accepts a log that leaves a PCR out entirely).
//
// What the log shows is read from the events of one bank: SHA-256 when it
// replayed, else another bank stronger than SHA-1, else SHA-1. A log that
// replayed only in SHA-1 establishes neither the secure boot state nor the
// boot components unless allowSHA1 (Options.AllowSHA1Boot): SHA-1 collisions
// are practical, and the digests are all that binds the events to the TPM.
//
// The secure boot decision is memoised in sb (nil: decided in full).
func replayBootLog(raw []byte, quoted PCRValues, allowSHA1 bool, sb *secureBootMemo) (boot *Boot, err error) {
	defer func() {
		if r := recover(); r != nil {
			boot, err = nil, refuse(ReasonMalformed, "event log: undecodable")
		}
	}()
	el, err := attest.ParseEventLog(raw)
	if err != nil {
		return nil, refuse(ReasonMalformed, "event log: %w", err)
	}
	boot = &Boot{}
	var (
		events []attest.Event
		evBank HashAlg
	)
	for _, logAlg := range el.Algs {
		alg := HashAlg(logAlg)
		bank, ok := quoted[alg]
		if !ok {
			continue
		}
		pcrs := make([]attest.PCR, 0, len(bank))
		for idx, d := range bank {
			pcrs = append(pcrs, attest.PCR{Index: idx, Digest: d, DigestAlg: alg.Hash()})
		}
		verified, err := el.Verify(pcrs)
		if err != nil {
			var rerr attest.ReplayError
			if asReplayError(err, &rerr) {
				return nil, refuse(ReasonEventLog, "event log does not replay to the quoted %s PCRs %v", alg, rerr.InvalidPCRs)
			}
			return nil, refuse(ReasonEventLog, "event log: %s bank: %w", alg, err)
		}
		if err := checkUnlogged(alg, bank, verified); err != nil {
			return nil, err
		}
		boot.Banks = append(boot.Banks, alg)
		if events == nil || bankRank(alg) > bankRank(evBank) {
			events, evBank = verified, alg
		}
	}
	if len(boot.Banks) == 0 {
		return nil, refuse(ReasonEventLog, "event log has no digests in the quoted banks %v", quoted.Banks())
	}
	boot.Events = len(events)
	if evBank == SHA1 && !allowSHA1 {
		boot.SecureBoot = SecureBoot{Detail: sha1Only}
		boot.Anomalies = append(boot.Anomalies, sha1Only)
		return boot, nil
	}
	boot.SecureBoot = sb.state(events)
	boot.Components, boot.Anomalies = components(events, evBank)
	for _, idx := range componentPCRs {
		if _, ok := quoted[evBank][idx]; ok {
			boot.ComponentPCRs = append(boot.ComponentPCRs, idx)
		}
	}
	return boot, nil
}

// sha1Only is why a log that replayed only in SHA-1 establishes nothing.
const sha1Only = "the log replayed only in the sha1 bank: secure boot state and boot components not read (quote a sha256 bank, or allow sha1)"

// bankRank orders the banks the state is read from: SHA-256 (whose digests
// go-attestation's secure boot parser checks), then the longer SHA-2 banks,
// then SHA-1.
func bankRank(alg HashAlg) int {
	switch alg {
	case SHA256:
		return 3
	case SHA384, SHA512:
		return 2
	case SHA1:
		return 1
	}
	return 0
}

// checkUnlogged refuses a log that has no event for a quoted PCR 0-7 that is
// not at its reset value (zero): go-attestation's replay accepts a PCR with
// no events whatever its value, so leaving out every event of PCR 4 would
// otherwise hide every boot application.
func checkUnlogged(alg HashAlg, bank map[int][]byte, verified []attest.Event) error {
	var logged [8]bool
	for _, e := range verified {
		if e.Index >= 0 && e.Index < len(logged) {
			logged[e.Index] = true
		}
	}
	for idx := range logged {
		v, ok := bank[idx]
		if ok && !logged[idx] && !isZero(v) {
			return refuse(ReasonEventLog, "event log has no event for the quoted %s PCR %d, which is not at its reset value", alg, idx)
		}
	}
	return nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func asReplayError(err error, target *attest.ReplayError) bool {
	r, ok := err.(attest.ReplayError)
	if ok {
		*target = r
	}
	return ok
}

// evEFIVariableDriverConfig is EV_EFI_VARIABLE_DRIVER_CONFIG, the event that
// measures the secure boot configuration variables into PCR 7.
const evEFIVariableDriverConfig = 0x80000001

// evSeparator is EV_SEPARATOR.
const evSeparator = 0x00000004

// efiGlobalVariable is EFI_GLOBAL_VARIABLE {8BE4DF61-93CA-11d2-AA0D-00E098032B8C}
// in its mixed-endian wire form.
var efiGlobalVariable = []byte{0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c}

// secureBootState reads the UEFI secure boot state from the verified events
// with go-attestation's ParseSecurebootState, which refuses a PCR 7 that an
// honest firmware does not produce: an event type not expected in PCR 7 (so
// relabelling the SecureBoot event fails), an EFI variable event whose
// digest does not cover its data, a variable measured twice or after the
// separator (so a SecureBoot=1 event extended at run time fails), a second
// separator, a UEFI debugger, and secure boot on without PK, KEK, db and a
// key used. Its refusal makes the state unknown, with the reason in Detail.
//
// Two cases it leaves to its caller are unknown here too: no PCR 7
// separator (then no event is known to come from the firmware before boot:
// root can extend PCR 7 with a whole forged configuration on a platform
// whose firmware left it untouched), and no SecureBoot variable of
// EFI_GLOBAL_VARIABLE before the separator (then it reports disabled,
// which the log does not show).
//
// This parses every signature database (PK, KEK, db, dbx) and costs more
// than reading the one variable, which this package once did instead; that
// shortcut let a relabelled or runtime-extended event decide the state.
// Verification goes through secureBoots, which memoises it (sbcache.go).
func secureBootState(events []attest.Event) SecureBoot {
	sb, _ := decideSecureBoot(events)
	return sb
}

// decideSecureBoot is secureBootState; parsed says whether
// ParseSecurebootState accepted the events (only then is the decision
// independent of the events' positions in the log, and cacheable).
func decideSecureBoot(events []attest.Event) (sb SecureBoot, parsed bool) {
	st, err := attest.ParseSecurebootState(events)
	if err != nil {
		return SecureBoot{Detail: "PCR 7: " + err.Error()}, false
	}
	sb = readSecureBoot(events, st)
	return sb, true
}

func readSecureBoot(events []attest.Event, st *attest.SecurebootState) SecureBoot {
	var separator, found bool
	for _, e := range events {
		if e.Index != 7 {
			continue
		}
		switch e.Type {
		case evSeparator:
			separator = true
		case evEFIVariableDriverConfig:
			// ParseSecurebootState has checked that every such event
			// parses, is before the separator, is not repeated and that
			// its digest covers its data.
			if name, _, guidOK := parseUEFIVariable(e.Data); name == "SecureBoot" {
				if !guidOK {
					return SecureBoot{Detail: "PCR 7: the SecureBoot variable is not of EFI_GLOBAL_VARIABLE"}
				}
				found = true
			}
		}
	}
	switch {
	case !separator:
		return SecureBoot{Detail: "PCR 7 has no separator: no event is known to precede boot"}
	case !found:
		return SecureBoot{Detail: "no SecureBoot variable measured into PCR 7 before its separator"}
	}
	return SecureBoot{Known: true, Enabled: st.Enabled}
}

// parseUEFIVariable parses a UEFI_VARIABLE_DATA (TCG PC Client Platform
// Firmware Profile, 10.2.6): GUID, name length and data length (UINT64, in
// characters and bytes), UCS-2 name, data. global says whether the GUID is
// EFI_GLOBAL_VARIABLE; name is "" when b does not parse.
func parseUEFIVariable(b []byte) (name string, value []byte, global bool) {
	if len(b) < 32 {
		return "", nil, false
	}
	nameLen := binary.LittleEndian.Uint64(b[16:24])
	dataLen := binary.LittleEndian.Uint64(b[24:32])
	rest := uint64(len(b) - 32)
	if nameLen > rest/2 || dataLen != rest-2*nameLen {
		return "", nil, false
	}
	u := make([]uint16, nameLen)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[32+2*i:])
	}
	return string(utf16.Decode(u)), b[32+2*nameLen:], bytes.Equal(b[:16], efiGlobalVariable)
}

// componentPCRs are the PCRs whose every extended digest is a boot
// component, whatever type its event claims: PCR 2 (option ROMs, UEFI
// drivers) and PCR 4 (boot manager, boot loaders, kernels loaded by them).
//
// When those digests were extended, relative to the PCR's first EV_SEPARATOR
// (TCG PC Client Platform Firmware Profile 3.3.4 and 10.4.1): the firmware
// measures the separator into PCRs 0-6 at ReadyToBoot, before it starts the
// first boot option, and the boot applications it then loads (shim, grub,
// the kernel through LoadImage) are measured into PCR 4 after it. Every real
// log in testdata/eventlogs has its OS loaders after PCR 4's separator, and
// at most a firmware application (a setup or shell) before it. So a digest
// before the separator was measured by the firmware before anything the OS
// controls ran: nobody can add one later. A digest after it is either an OS
// loader or something root extended after boot (PCRs 0-7 stay extendable at
// locality 0): the TPM cannot tell them apart. Hence:
//   - a boot_components allowlist judges every digest, before and after
//     (an extra approved digest then helps nobody; a real loader cannot be
//     hidden by relabelling it, its digest is still there);
//   - only digests before the separator become selectors (a selector says a
//     component is present, which a runtime extend could otherwise forge);
//   - an extend of PCR 2 after its separator, or a second separator, is an
//     anomaly (Boot.Anomalies): firmware does neither.
//
// Not components: the separators and the boot manager's EV_EFI_ACTION
// strings, recognised by their digest alone (a preimage of these fixed
// strings is out of reach, so no image can pass for one).
var componentPCRs = []int{2, 4}

// componentTypes are the event types that are reported as boot components
// in PCRs other than componentPCRs (firmware blobs and versions in PCR 0,
// loader commands in PCRs 8 and 9): informational, and types are not
// measured.
var componentTypes = map[attest.EventType]bool{
	0x00000001: true, // EV_POST_CODE
	0x00000007: true, // EV_S_CRTM_CONTENTS
	0x00000008: true, // EV_S_CRTM_VERSION
	0x00000009: true, // EV_CPU_MICROCODE
	0x0000000D: true, // EV_IPL
	0x80000003: true, // EV_EFI_BOOT_SERVICES_APPLICATION
	0x80000004: true, // EV_EFI_BOOT_SERVICES_DRIVER
	0x80000005: true, // EV_EFI_RUNTIME_SERVICES_DRIVER
	0x80000008: true, // EV_EFI_PLATFORM_FIRMWARE_BLOB
}

// dataMeasured are the component events whose digest may be the hash of their
// data (strings); images are measured by content the event does not hold.
var dataMeasured = map[attest.EventType]bool{
	0x00000001: true, // EV_POST_CODE
	0x00000008: true, // EV_S_CRTM_VERSION
	0x0000000D: true, // EV_IPL
}

// Digest classes of the informational events in componentPCRs.
const (
	notInformational = iota
	separatorDigest
	errorSeparatorDigest
	actionDigest
)

// informational maps, per bank, the digests of the separators and of the
// boot manager's EV_EFI_ACTION strings (PC Client PFP 10.4.4) to their class.
var informational = func() map[HashAlg]map[string]int {
	m := map[HashAlg]map[string]int{}
	for alg := range hashAlgNames {
		d := map[string]int{}
		add := func(b []byte, class int) { d[string(hashOf(alg.Hash(), b))] = class }
		add([]byte{0, 0, 0, 0}, separatorDigest)
		add([]byte{1, 0, 0, 0}, errorSeparatorDigest)
		add([]byte{0xff, 0xff, 0xff, 0xff}, errorSeparatorDigest)
		for _, a := range []string{
			"Calling EFI Application from Boot Option",
			"Returning from EFI Application from Boot Option",
			"Exit Boot Services Invocation",
			"Exit Boot Services Returned with Success",
			"Exit Boot Services Returned with Failure",
		} {
			add([]byte(a), actionDigest)
		}
		m[alg] = d
	}
	return m
}()

// components lists the boot components of the verified events of bank
// (see componentPCRs) and the anomalies found on the way. A PCR's separator
// is its first separator digest, whatever type the event claims.
func components(events []attest.Event, bank HashAlg) ([]BootComponent, []string) {
	info := informational[bank]
	var (
		// At most one component per event: one allocation, not a
		// doubling slice (this runs on every attestation).
		out       = make([]BootComponent, 0, len(events))
		anomalies []string
		separated [MaxPCR + 1]bool
	)
	for _, e := range events {
		if e.Index < 0 || e.Index > MaxPCR {
			continue
		}
		inPCRs := slices.Contains(componentPCRs, e.Index)
		class := notInformational
		if e.Index <= 7 {
			class = info[string(e.Digest)]
		}
		switch class {
		case separatorDigest, errorSeparatorDigest:
			if separated[e.Index] {
				anomalies = append(anomalies, fmt.Sprintf("PCR %d: a second separator", e.Index))
			}
			if class == errorSeparatorDigest {
				anomalies = append(anomalies, fmt.Sprintf("PCR %d: an error separator (the firmware reported an error)", e.Index))
			}
			separated[e.Index] = true
			continue
		case actionDigest:
			if inPCRs {
				continue
			}
		}
		if !inPCRs && !componentTypes[e.Type] {
			continue
		}
		if inPCRs && e.Index == 2 && separated[2] {
			anomalies = append(anomalies, fmt.Sprintf("PCR 2: %x extended after the separator", e.Digest))
		}
		c := BootComponent{PCR: e.Index, Type: e.Type.String(), Bank: bank, Digest: e.Digest,
			BeforeSeparator: e.Index <= 7 && !separated[e.Index]}
		// The digest covers the data only for some events (strings such
		// as loader commands and firmware versions); images are measured
		// by their Authenticode hash and their data is an unverified load
		// event.
		if dataMeasured[e.Type] {
			c.DataVerified = hashMatches(bank.Hash(), e.Data, e.Digest)
		}
		c.Data = printable(e.Data)
		out = append(out, c)
	}
	return out, anomalies
}

// printable renders event data as text when it is text (UTF-8 or the UCS-2
// firmware versions use), truncated to maxComponentData; binary data is
// omitted.
func printable(b []byte) string {
	b = bytes.TrimRight(b, "\x00")
	s := string(b)
	if len(b) >= 2 && len(b)%2 == 0 && b[1] == 0 {
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
		}
		s = string(utf16.Decode(u))
	}
	if !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' }) >= 0 {
		return ""
	}
	if len(s) > maxComponentData {
		s = s[:maxComponentData]
	}
	return s
}
