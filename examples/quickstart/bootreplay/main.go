// Command bootreplay is a demo tool of `make demo`, not part of the product:
// it extends a recorded TCG boot event log into a software TPM's PCRs, as
// firmware would have at boot, so that a quote from that TPM and the log
// agree. swtpm has no firmware: without this its PCRs 0-7 stay at zero and
// there is no boot log to verify.
//
//	bootreplay -tpm swtpm://127.0.0.1:PORT -log FILE
//
// It refuses any TPM but a software one (swtpm:// or swtpm+unix://):
// extending a hardware TPM's boot PCRs after boot would make them disagree
// with its own boot log until the next reboot.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/tpm2"

	"github.com/hwattest/hwattest/internal/readfile"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

// maxLogSize bounds the log read; real UEFI logs are tens of kilobytes.
const maxLogSize = 4 << 20

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "bootreplay:", err)
		os.Exit(1)
	}
}

func run(_ context.Context) error {
	return replay(os.Args[1:], os.Stdout)
}

// replay parses args and extends the log's SHA-256 measurements into the
// software TPM, printing a summary to out.
func replay(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bootreplay", flag.ContinueOnError)
	addr := fs.String("tpm", "", "the software TPM: swtpm://host:port or swtpm+unix:///path")
	logPath := fs.String("log", "", "the recorded TCG boot event log (binary_bios_measurements format)")
	maxPCR := fs.Int("max-pcr", 7, "skip events for PCRs above this one (firmware measures 0-7)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !strings.HasPrefix(*addr, "swtpm://") && !strings.HasPrefix(*addr, "swtpm+unix://") {
		return fmt.Errorf("-tpm %q: only a software TPM (swtpm:// or swtpm+unix://) may have a recorded log replayed into it", *addr)
	}
	if *logPath == "" {
		return errors.New("-log is required")
	}
	raw, err := readfile.Limited(*logPath, maxLogSize)
	if err != nil {
		return err
	}
	el, err := attest.ParseEventLog(raw)
	if err != nil {
		return fmt.Errorf("parse %s: %w", *logPath, err)
	}
	tpm, err := attester.Open(*addr)
	if err != nil {
		return err
	}
	defer tpm.Close()
	n := 0
	for _, e := range el.Events(attest.HashSHA256) {
		// EV_NO_ACTION events are not measured.
		if e.Type == 0x03 || e.Index > *maxPCR || len(e.Digest) == 0 {
			continue
		}
		_, err := tpm2.PCRExtend{
			PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(e.Index), Auth: tpm2.PasswordAuth(nil)},
			Digests:   tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{HashAlg: tpm2.TPMAlgSHA256, Digest: e.Digest}}},
		}.Execute(tpm)
		if err != nil {
			return fmt.Errorf("extend sha256 PCR %d: %w", e.Index, err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("%s has no SHA-256 events for PCRs 0-%d", *logPath, *maxPCR)
	}
	fmt.Fprintf(out, "extended %d SHA-256 measurements into PCRs 0-%d\n", n, *maxPCR)
	return nil
}
