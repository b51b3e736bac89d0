package tpmquote

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
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
// log that matches one bank and not another is refused.
func replayBootLog(raw []byte, quoted PCRValues) (boot *Boot, err error) {
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
		boot.Banks = append(boot.Banks, alg)
		// Read the state from the SHA-256 events, else the first bank:
		// go-attestation compares variable digests in SHA-1 and SHA-256.
		if events == nil || alg == SHA256 {
			events, evBank = verified, alg
		}
	}
	if len(boot.Banks) == 0 {
		return nil, refuse(ReasonEventLog, "event log has no digests in the quoted banks %v", quoted.Banks())
	}
	boot.Events = len(events)
	boot.SecureBoot = secureBootState(events, evBank)
	n := 0
	for _, e := range events {
		if componentTypes[e.Type] {
			n++
		}
	}
	boot.Components = make([]BootComponent, 0, n)
	for _, e := range events {
		if c, ok := component(e, evBank); ok {
			boot.Components = append(boot.Components, c)
		}
	}
	return boot, nil
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

// efiGlobalVariable is EFI_GLOBAL_VARIABLE {8BE4DF61-93CA-11d2-AA0D-00E098032B8C}
// in its mixed-endian wire form.
var efiGlobalVariable = []byte{0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c}

// secureBootState reads the UEFI SecureBoot variable from the verified PCR 7
// events. It reads that one variable itself instead of calling
// go-attestation's ParseSecurebootState, which parses every signature
// database (db, dbx, KEK, PK and their X.509 certificates) and was half the
// cost of a whole verification; the database contents are not used here.
// The event's digest must cover its data (UEFI_VARIABLE_DATA), so the state
// is as verified as the replay.
func secureBootState(events []attest.Event, bank HashAlg) SecureBoot {
	for _, e := range events {
		if e.Index != 7 || e.Type != evEFIVariableDriverConfig {
			continue
		}
		name, value, ok := parseUEFIVariable(e.Data)
		if !ok || name != "SecureBoot" {
			continue
		}
		if !hashMatches(bank.Hash(), e.Data, e.Digest) {
			return SecureBoot{Detail: "SecureBoot variable event: digest does not cover its data"}
		}
		if len(value) != 1 {
			return SecureBoot{Detail: fmt.Sprintf("SecureBoot variable is %d bytes, want 1", len(value))}
		}
		return SecureBoot{Known: true, Enabled: value[0] == 1}
	}
	return SecureBoot{Detail: "no verified SecureBoot variable event in PCR 7"}
}

// parseUEFIVariable parses a UEFI_VARIABLE_DATA of EFI_GLOBAL_VARIABLE
// (TCG PC Client Platform Firmware Profile, 10.2.6): GUID, name length and
// data length (UINT64, in characters and bytes), UCS-2 name, data.
func parseUEFIVariable(b []byte) (name string, value []byte, ok bool) {
	if len(b) < 32 || !bytes.Equal(b[:16], efiGlobalVariable) {
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
	return string(utf16.Decode(u)), b[32+2*nameLen:], true
}

// componentTypes are the event types that measure boot components: firmware,
// option ROMs and drivers, boot loaders and kernels, and loader commands.
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

// ComponentTypes returns the event type names that Boot.Components holds.
func ComponentTypes() []string {
	out := make([]string, 0, len(componentTypes))
	for t := range componentTypes {
		out = append(out, t.String())
	}
	sort.Strings(out)
	return out
}

func component(e attest.Event, bank HashAlg) (BootComponent, bool) {
	if !componentTypes[e.Type] {
		return BootComponent{}, false
	}
	c := BootComponent{PCR: e.Index, Type: e.Type.String(), Bank: bank, Digest: e.Digest}
	// The digest covers the data only for some events (strings such as
	// loader commands and firmware versions); images are measured by their
	// Authenticode hash and their data is an unverified load event.
	if dataMeasured[e.Type] {
		c.DataVerified = hashMatches(bank.Hash(), e.Data, e.Digest)
	}
	c.Data = printable(e.Data)
	return c, true
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
