package tpmquote

import (
	"bytes"
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
		return nil, refuse(ReasonEventLog, "event log has no digests in the quoted banks %v", quotedBanks(quoted))
	}
	boot.Events = len(events)
	boot.SecureBoot = secureBootState(events)
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

func quotedBanks(v PCRValues) []HashAlg {
	banks := make([]HashAlg, 0, len(v))
	for alg := range v {
		banks = append(banks, alg)
	}
	sort.Slice(banks, func(i, j int) bool { return banks[i] < banks[j] })
	return banks
}

// secureBootState reads the UEFI secure boot state from verified events.
// Without verified PCR 7 events the state is unknown.
func secureBootState(events []attest.Event) SecureBoot {
	has7 := false
	for _, e := range events {
		if e.Index == 7 {
			has7 = true
			break
		}
	}
	if !has7 {
		return SecureBoot{Detail: "no verified PCR 7 events"}
	}
	sb, err := attest.ParseSecurebootState(events)
	if err != nil {
		return SecureBoot{Detail: err.Error()}
	}
	return SecureBoot{Known: true, Enabled: sb.Enabled}
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

func component(e attest.Event, bank HashAlg) (BootComponent, bool) {
	if !componentTypes[e.Type] {
		return BootComponent{}, false
	}
	c := BootComponent{PCR: e.Index, Type: e.Type.String(), Bank: bank, Digest: e.Digest}
	// The digest covers the data only for some events (strings such as
	// loader commands and firmware versions); images are measured by their
	// Authenticode hash and their data is an unverified load event.
	c.DataVerified = bytes.Equal(hashOf(bank.Hash(), e.Data), e.Digest)
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
