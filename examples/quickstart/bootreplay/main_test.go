package main

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

const secureBootLog = "../../../pkg/tpmquote/testdata/eventlogs/keylime_binary_bios_measurements_secureboot.bin"

// wantPCR7 is PCR 7 (sha256) after the whole log: the value `make demo`
// shows as the tpm:pcr:sha256:7 selector, fixed by the log's contents.
const wantPCR7 = "2f96e1f1bf7f91b6f17e1bcb823e717e43782ff75481237711f2ed7bf8a8edb1"

// TestRefusesOtherTPMs: a hardware TPM (or anything but swtpm) is refused
// before the log is even read: extending its boot PCRs after boot would
// break its attestation until the next reboot.
func TestRefusesOtherTPMs(t *testing.T) {
	for _, addr := range []string{"/dev/tpmrm0", "/dev/tpm0", "", "tcp://127.0.0.1:2321"} {
		err := replay([]string{"-tpm", addr, "-log", "/nonexistent"}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "only a software TPM") {
			t.Errorf("-tpm %q: %v", addr, err)
		}
	}
}

// TestReplay replays the recorded secure boot log into a swtpm and checks
// PCR 7 against the value the log implies.
func TestReplay(t *testing.T) {
	tpm := swtpmtest.Start(t, swtpmtest.Options{})
	var out bytes.Buffer
	if err := replay([]string{"-tpm", tpm.Addr, "-log", secureBootLog}, &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "extended 35 SHA-256 measurements into PCRs 0-7\n" {
		t.Errorf("output %q", got)
	}
	var (
		conn interface{ Close() error }
		pcrs map[tpmquote.HashAlg]map[int][]byte
	)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := attester.Open(tpm.Addr)
		if err == nil {
			pcrs, err = attester.ReadPCRs(c, tpmquote.PCRSelection{tpmquote.SHA256: {7}})
			conn = c
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	conn.Close()
	if got := hex.EncodeToString(pcrs[tpmquote.SHA256][7]); got != wantPCR7 {
		t.Errorf("PCR 7 = %s, want %s", got, wantPCR7)
	}
}
