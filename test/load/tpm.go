package load

import (
	"encoding/binary"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2/transport"
)

// CountingTPM is a transport.TPM that counts the commands sent through it
// by command code, and the time spent in them (the simulator runs in the
// caller's goroutine, so that time is the TPM's CPU time).
type CountingTPM struct {
	inner transport.TPM

	mu    sync.Mutex
	count map[uint32]int
	busy  time.Duration
}

// NewCountingTPM wraps a TPM.
func NewCountingTPM(inner transport.TPM) *CountingTPM {
	return &CountingTPM{inner: inner, count: map[uint32]int{}}
}

// Send sends one command and counts it.
func (c *CountingTPM) Send(cmd []byte) ([]byte, error) {
	start := time.Now()
	rsp, err := c.inner.Send(cmd)
	d := time.Since(start)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(cmd) >= 10 {
		c.count[binary.BigEndian.Uint32(cmd[6:10])]++
	}
	c.busy += d
	return rsp, err
}

// Take returns the counts and TPM time since the last Take and resets them.
func (c *CountingTPM) Take() (map[uint32]int, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, d := c.count, c.busy
	c.count, c.busy = map[uint32]int{}, 0
	return n, d
}

// Command names of the TPM 2.0 command codes an attestation uses (TPM 2.0
// Part 2, table 12).
var commandNames = map[uint32]string{
	0x11F: "NV_DefineSpace", 0x131: "CreatePrimary", 0x137: "NV_Write",
	0x147: "ActivateCredential", 0x148: "Certify", 0x14A: "CertifyCreation",
	0x14E: "NV_Read", 0x153: "Create", 0x154: "ECDH_ZGen", 0x157: "Load",
	0x158: "Quote", 0x159: "RSA_Decrypt", 0x15D: "Sign", 0x161: "ContextLoad",
	0x162: "ContextSave", 0x165: "FlushContext", 0x169: "NV_ReadPublic",
	0x173: "ReadPublic", 0x176: "StartAuthSession", 0x17A: "GetCapability",
	0x17E: "PCR_Read", 0x182: "PCR_Extend", 0x151: "PolicySecret", 0x120: "EvictControl",
	0x191: "CreateLoaded", 0x144: "Startup", 0x17B: "GetRandom",
	0x17F: "PolicyPCR", 0x171: "PolicyCommandCode", 0x185: "PolicyNV",
}

// Private-key operations: a signature, a decryption with the EK, or a key
// generated. On a hardware TPM each costs tens to hundreds of milliseconds.
var privateOps = map[uint32]string{
	0x147: "decrypt (EK)", 0x148: "sign", 0x14A: "sign", 0x158: "sign",
	0x15D: "sign", 0x159: "decrypt", 0x154: "decrypt (ECDH)",
	0x131: "keygen", 0x153: "keygen", 0x191: "keygen",
}

// CommandSummary renders counts as "Name×n, ..." sorted by name, with the
// number of commands and of private-key operations.
func CommandSummary(counts map[uint32]int, per int) (summary string, commands, private float64) {
	var names []string
	for cc, n := range counts {
		name, ok := commandNames[cc]
		if !ok {
			name = fmt.Sprintf("0x%X", cc)
		}
		names = append(names, fmt.Sprintf("%s×%s", name, ratio(n, per)))
		commands += float64(n) / float64(per)
		if _, ok := privateOps[cc]; ok {
			private += float64(n) / float64(per)
		}
	}
	sort.Strings(names)
	for i, n := range names {
		if i > 0 {
			summary += ", "
		}
		summary += n
	}
	return summary, commands, private
}

func ratio(n, per int) string {
	if n%per == 0 {
		return fmt.Sprint(n / per)
	}
	return fmt.Sprintf("%.2f", float64(n)/float64(per))
}
