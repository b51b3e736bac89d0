package tpmquote

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-attestation/attest"
)

// agileLog is a crypto-agile log with SHA-1 and SHA-256 digests, split into
// its header (the Spec ID event) and its events, for mutation.
type agileLog struct {
	header []byte
	events []agileEv
}

type agileEv struct {
	pcr, typ     uint32
	sha1, sha256 []byte
	data         []byte
}

func parseAgileLog(t testing.TB, raw []byte) agileLog {
	t.Helper()
	le := binary.LittleEndian
	off := 32 + int(le.Uint32(raw[28:]))
	l := agileLog{header: raw[:off]}
	for off < len(raw) {
		e := agileEv{pcr: le.Uint32(raw[off:]), typ: le.Uint32(raw[off+4:])}
		if n := le.Uint32(raw[off+8:]); n != 2 || le.Uint16(raw[off+12:]) != 0x4 || le.Uint16(raw[off+34:]) != 0xb {
			t.Fatalf("event at %d: not a sha1+sha256 event", off)
		}
		e.sha1 = raw[off+14 : off+34]
		e.sha256 = raw[off+36 : off+68]
		n := int(le.Uint32(raw[off+68:]))
		e.data = raw[off+72 : off+72+n]
		l.events = append(l.events, e)
		off += 72 + n
	}
	return l
}

func (l agileLog) bytes() []byte {
	b := bytes.NewBuffer(slices.Clone(l.header))
	for _, e := range l.events {
		binary.Write(b, binary.LittleEndian, e.pcr)
		binary.Write(b, binary.LittleEndian, e.typ)
		binary.Write(b, binary.LittleEndian, uint32(2))
		binary.Write(b, binary.LittleEndian, uint16(0x4))
		b.Write(e.sha1)
		binary.Write(b, binary.LittleEndian, uint16(0xb))
		b.Write(e.sha256)
		binary.Write(b, binary.LittleEndian, uint32(len(e.data)))
		b.Write(e.data)
	}
	return b.Bytes()
}

// pcrs replays l as a TPM would (EV_NO_ACTION is not extended) into PCRs 0-9
// of both banks.
func (l agileLog) pcrs() PCRValues {
	v := PCRValues{SHA1: {}, SHA256: {}}
	for i := 0; i <= 9; i++ {
		v[SHA1][i], v[SHA256][i] = make([]byte, 20), make([]byte, 32)
	}
	for _, e := range l.events {
		// A TPM started from locality 3 begins PCR 0 at 3.
		if e.typ == 0x3 && e.pcr == 0 && len(e.data) == 17 && bytes.HasPrefix(e.data, []byte("StartupLocality")) {
			v[SHA1][0][19], v[SHA256][0][31] = e.data[16], e.data[16]
		}
	}
	for _, e := range l.events {
		if e.typ == 0x3 || e.pcr > 9 {
			continue
		}
		s1 := sha1.Sum(append(slices.Clone(v[SHA1][int(e.pcr)]), e.sha1...))
		s256 := sha256.Sum256(append(slices.Clone(v[SHA256][int(e.pcr)]), e.sha256...))
		v[SHA1][int(e.pcr)], v[SHA256][int(e.pcr)] = s1[:], s256[:]
	}
	return v
}

func measured(pcr, typ uint32, data []byte) agileEv {
	s1, s256 := sha1.Sum(data), sha256.Sum256(data)
	return agileEv{pcr: pcr, typ: typ, sha1: s1[:], sha256: s256[:], data: data}
}

// FuzzEventLogMutations mutates a real boot log (secure boot off) the way
// root on the node can: relabel an event, replace an event's data (its
// digests unchanged), drop an event, or extend a PCR at run time with a new
// event (which the TPM then holds). The verifier sees the PCRs the TPM
// holds. Whatever the mutation, it must never panic, never report secure
// boot on, never report a pre-separator component the honest boot did not
// measure, and never lose an honest PCR 2/4 component.
func FuzzEventLogMutations(f *testing.F) {
	raw, err := os.ReadFile(filepath.Join("testdata", "eventlogs", "keylime_binary_bios_measurements.bin"))
	if err != nil {
		f.Fatal(err)
	}
	honest := parseAgileLog(f, raw)
	hb, err := replayBootLog(raw, honest.pcrs(), false, secureBoots)
	if err != nil {
		f.Fatal(err)
	}
	if hb.SecureBoot.Known && hb.SecureBoot.Enabled {
		f.Fatal("the seed log has secure boot on")
	}
	honestPre := map[string]bool{}
	var honestAll []string
	// Every digest the boot extended into a PCR 0-7 before its separator
	// (whatever the component types say).
	sepSum := sha256.Sum256([]byte{0, 0, 0, 0})
	var separated [8]bool
	for _, e := range honest.events {
		if e.pcr > 7 || e.typ == 0x3 {
			continue
		}
		if bytes.Equal(e.sha256, sepSum[:]) {
			separated[e.pcr] = true
		}
		if !separated[e.pcr] {
			honestPre[string(e.sha256)] = true
		}
	}
	for _, c := range hb.Components {
		if c.PCR == 2 || c.PCR == 4 {
			honestAll = append(honestAll, string(c.Digest))
		}
	}
	sb := make([]byte, 0, 64)
	sb = append(sb, efiGlobalVariable...)
	sb = binary.LittleEndian.AppendUint64(sb, 10)
	sb = binary.LittleEndian.AppendUint64(sb, 1)
	for _, c := range "SecureBoot" {
		sb = binary.LittleEndian.AppendUint16(sb, uint16(c))
	}
	sb = append(sb, 1)
	// op: 0 relabel, 1 replace data, 2 drop, 3 extend at run time.
	f.Add(uint8(0), uint16(12), uint32(0x80000002), []byte(nil), uint8(7))
	f.Add(uint8(1), uint16(12), uint32(0), sb, uint8(7))
	f.Add(uint8(3), uint16(0), uint32(0x80000001), sb, uint8(7))
	f.Add(uint8(3), uint16(0), uint32(0x80000003), bytes.Repeat([]byte{0xab}, 32), uint8(4))
	f.Add(uint8(0), uint16(30), uint32(0x80000007), []byte(nil), uint8(4))
	f.Add(uint8(2), uint16(20), uint32(0), []byte(nil), uint8(0))
	f.Add(uint8(0), uint16(16), uint32(0x3), []byte(nil), uint8(0))
	f.Fuzz(func(t *testing.T, op uint8, at uint16, typ uint32, data []byte, pcr uint8) {
		if len(data) > 4096 {
			return
		}
		truth := agileLog{header: honest.header, events: slices.Clone(honest.events)}
		sent := agileLog{header: honest.header, events: slices.Clone(honest.events)}
		i := int(at) % len(sent.events)
		switch op % 4 {
		case 0:
			sent.events[i].typ = typ
		case 1:
			sent.events[i].data = data
		case 2:
			sent.events = slices.Delete(sent.events, i, i+1)
		case 3:
			e := measured(uint32(pcr%10), typ, data)
			truth.events = append(truth.events, e)
			sent.events = append(sent.events, e)
			// Root may also place it anywhere in the log it sends.
			if j := int(at) % (len(sent.events)); at%2 == 1 {
				sent.events = slices.Insert(sent.events[:len(sent.events)-1], j, e)
			}
		}
		boot, err := replayBootLog(sent.bytes(), truth.pcrs(), false, secureBoots)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "tpmquote: ") || ReasonOf(err) == "" {
				t.Fatalf("unexpected error form: %v", err)
			}
			return
		}
		if boot.SecureBoot.Known && boot.SecureBoot.Enabled {
			t.Fatalf("secure boot forged on: %+v", boot.SecureBoot)
		}
		var got []string
		for _, c := range boot.Components {
			if c.BeforeSeparator && !honestPre[string(c.Digest)] {
				t.Fatalf("PCR %d component %x before the separator was not measured by the boot", c.PCR, c.Digest)
			}
			if c.PCR == 2 || c.PCR == 4 {
				got = append(got, string(c.Digest))
			}
		}
		for _, d := range honestAll {
			if !slices.Contains(got, d) {
				t.Fatalf("honest component %x lost", d)
			}
		}
		if !slices.Contains(boot.ComponentPCRs, 2) || !slices.Contains(boot.ComponentPCRs, 4) {
			t.Fatalf("component PCRs %v", boot.ComponentPCRs)
		}
	})
}

// TestSecureBootStateStrict covers what the log-level tests cannot build:
// events before the separator that a firmware would not measure.
func TestSecureBootStateStrict(t *testing.T) {
	v := func(name string, value byte) attest.Event {
		d := slices.Clone(efiGlobalVariable)
		d = binary.LittleEndian.AppendUint64(d, uint64(len(name)))
		d = binary.LittleEndian.AppendUint64(d, 1)
		for _, c := range name {
			d = binary.LittleEndian.AppendUint16(d, uint16(c))
		}
		d = append(d, value)
		s := sha256.Sum256(d)
		return attest.Event{Index: 7, Type: evEFIVariableDriverConfig, Data: d, Digest: s[:]}
	}
	sepData := []byte{0, 0, 0, 0}
	sepSum := sha256.Sum256(sepData)
	sep := attest.Event{Index: 7, Type: evSeparator, Data: sepData, Digest: sepSum[:]}
	otherGUID := v("SecureBoot", 0)
	otherGUID.Data = slices.Clone(otherGUID.Data)
	otherGUID.Data[0] ^= 1
	s := sha256.Sum256(otherGUID.Data)
	otherGUID.Digest = s[:]
	for _, tc := range []struct {
		name   string
		events []attest.Event
		want   SecureBoot
	}{
		{"off", []attest.Event{v("SecureBoot", 0), sep}, SecureBoot{Known: true}},
		{"duplicate before the separator", []attest.Event{v("SecureBoot", 0), v("SecureBoot", 1), sep},
			SecureBoot{Detail: `PCR 7: duplicate EFI variable "SecureBoot" at event 0`}},
		{"no separator", []attest.Event{v("SecureBoot", 0)}, SecureBoot{Detail: "PCR 7 has no separator: no event is known to precede boot"}},
		{"no SecureBoot variable", []attest.Event{v("Other", 0), sep}, SecureBoot{Detail: "no SecureBoot variable measured into PCR 7 before its separator"}},
		{"not EFI_GLOBAL_VARIABLE", []attest.Event{otherGUID, sep}, SecureBoot{Detail: "PCR 7: the SecureBoot variable is not of EFI_GLOBAL_VARIABLE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := secureBootState(tc.events); got != tc.want {
				t.Errorf("state %+v, want %+v", got, tc.want)
			}
		})
	}
}
