package exe

import (
	"crypto"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/hwattest/hwattest/internal/readfile"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
	"github.com/hwattest/hwattest/pkg/tpmquote/ima"
)

// DefaultMissRefresh is the shortest time between two refreshes of the IMA
// anchor caused by a hash missing from it (see imaAnchor.measured).
const DefaultMissRefresh = time.Second

// countFile is the securityfs file next to the IMA log that holds the number
// of entries in the kernel's measurement list.
const countFile = "runtime_measurements_count"

// maxMemo bounds the per-refresh memo of lookups.
const maxMemo = 4096

// imaAnchor answers whether a file, by path and hash, is in the node's IMA
// log, the log having been replayed to PCR 10 as read from the node's TPM.
//
// PCR 10 is read with TPM2_PCR_Read, not quoted: the agent reads its own TPM
// through its own kernel, which it trusts already (it reads /proc to find
// the executable). A quote signed by an AK would be checked by this same
// process and would add nothing against an attacker able to lie about TPM
// responses, who could as well lie about /proc. What the replay does
// establish is that the log file was not edited: the kernel extended PCR 10
// with every entry, and an entry cannot be removed or altered without the
// replay no longer matching.
//
// The verified log is reused for the quote interval. A file executed after
// the last refresh is not in it, so a hash that is missing triggers an early
// refresh when the kernel's entry count (runtime_measurements_count next to
// the log) shows entries the verified log does not cover, at most once per
// missRefresh.
type imaAnchor struct {
	cfg         *imaConfig
	log         hclog.Logger
	missRefresh time.Duration

	mu       sync.Mutex
	checked  time.Time       // when the last refresh ran; zero before the first
	lastMiss time.Time       // when the last refresh caused by a miss ran
	verified *ima.Log        // nil when the last refresh failed
	memo     map[imaKey]bool // FindFile results on verified
}

func newIMAAnchor(cfg *imaConfig, log hclog.Logger, missRefresh time.Duration) *imaAnchor {
	return &imaAnchor{cfg: cfg, log: log, missRefresh: missRefresh}
}

// imaKey is one lookup: an executable's SHA-256 and its path as the kernel
// names it.
type imaKey struct {
	sum  digest
	path string
}

// measured reports whether the verified IMA log holds an entry of path with
// SHA-256 sum: the kernel measured this file, at this path, with these
// contents. A file with the same contents measured elsewhere does not count.
// Anchoring failures are logged, not returned: the selector is then simply
// absent.
func (a *imaAnchor) measured(sum digest, path string) bool {
	k := imaKey{sum: sum, path: path}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	refreshed := false
	if a.checked.IsZero() || now.Sub(a.checked) >= a.cfg.interval {
		a.refresh(now)
		refreshed = true
	}
	if a.lookup(k) {
		return true
	}
	// A failed anchor is retried after the interval only, not on every
	// miss, so that a broken TPM or log is not hammered.
	if refreshed || a.verified == nil || now.Sub(a.lastMiss) < a.missRefresh || !a.grown() {
		return false
	}
	a.lastMiss = now
	a.refresh(now)
	return a.lookup(k)
}

// lookup answers from the verified log. The caller holds a.mu.
func (a *imaAnchor) lookup(k imaKey) bool {
	if a.verified == nil {
		return false
	}
	found, ok := a.memo[k]
	if !ok {
		found = len(a.verified.FindFile(crypto.SHA256, k.sum[:], k.path)) > 0
		if len(a.memo) >= maxMemo {
			clear(a.memo)
		}
		a.memo[k] = found
	}
	return found
}

// grown reports whether the kernel's measurement list holds entries the
// verified log does not cover. The caller holds a.mu.
func (a *imaAnchor) grown() bool {
	b, err := readfile.Limited(filepath.Join(filepath.Dir(a.cfg.logPath), countFile), 32)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return err == nil && n > len(a.verified.Entries)
}

// refresh reads PCR 10 and the log and replays it. The caller holds a.mu.
func (a *imaAnchor) refresh(now time.Time) {
	wasVerified := a.verified != nil
	a.checked = now
	a.verified, a.memo = nil, map[imaKey]bool{}
	l, err := a.load()
	fields := []any{logIMALog, a.cfg.logPath, logTPM, a.cfg.tpm}
	if err != nil {
		var re *ima.ReplayError
		if errors.As(err, &re) {
			a.log.Warn("IMA log does not replay to PCR 10; ima:measured is not emitted", append(fields, logError, err)...)
		} else {
			a.log.Warn("IMA log not anchored; ima:measured is not emitted", append(fields, logError, err)...)
		}
		return
	}
	a.verified = l
	fields = append(fields, logEntries, len(l.Entries))
	if wasVerified {
		a.log.Debug("IMA log anchored to PCR 10", fields...)
	} else {
		a.log.Info("IMA log anchored to PCR 10", fields...)
	}
}

// load reads PCR 10, then the log: entries the kernel appends in between
// are beyond the prefix that replays to the PCR value, and dropped.
func (a *imaAnchor) load() (*ima.Log, error) {
	pcr10, err := readPCR10(a.cfg.tpm)
	if err != nil {
		return nil, err
	}
	raw, err := readfile.Limited(a.cfg.logPath, ima.MaxLogSize)
	if err != nil {
		return nil, err
	}
	return ima.Verify(raw, map[crypto.Hash][]byte{crypto.SHA256: pcr10}, ima.WithPrefixMatch())
}

// readPCR10 opens the TPM, reads PCR 10 of the SHA-256 bank and closes the
// TPM again, so that the plugin never holds it (swtpm and /dev/tpm0 serve
// one client at a time).
func readPCR10(addr string) ([]byte, error) {
	tpm, err := attester.Open(addr)
	if err != nil {
		return nil, err
	}
	defer tpm.Close()
	vals, err := attester.ReadPCRs(tpm, tpmquote.PCRSelection{tpmquote.SHA256: {ima.MeasurePCR}})
	if err != nil {
		return nil, err
	}
	return vals[tpmquote.SHA256][ima.MeasurePCR], nil
}
