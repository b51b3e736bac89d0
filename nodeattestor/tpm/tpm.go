package tpm

import (
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// PluginName is the name of the plugin on both sides. SPIRE routes the
// agent's attestation to the server plugin of the same name and stores
// selectors as "tpm:<value>".
const PluginName = "tpm"

// AgentID returns the agent's SPIFFE ID for an EK hash (tpmquote EK.Hash).
func AgentID(td spiffeid.TrustDomain, ekHash string) (spiffeid.ID, error) {
	if len(ekHash) != 64 || strings.ToLower(ekHash) != ekHash {
		return spiffeid.ID{}, fmt.Errorf("tpm: EK hash %q is not 64 lowercase hex digits", ekHash)
	}
	if _, err := hex.DecodeString(ekHash); err != nil {
		return spiffeid.ID{}, fmt.Errorf("tpm: EK hash %q is not hex: %w", ekHash, err)
	}
	return spiffeid.FromSegments(td, "spire", "agent", PluginName, ekHash)
}

// SelectorOptions say which optional facts become selectors.
type SelectorOptions struct {
	// PCRs are the quoted PCRs whose values are exposed as selectors.
	PCRs tpmquote.PCRSelection
	// Policies are the names of the policies the node satisfied.
	Policies []string
	// BootPCRs are the PCRs (0-7) whose boot components measured before
	// the PCR's separator are exposed as selectors (tpmquote
	// BootComponent.BeforeSeparator). Components after it are never
	// exposed: root can extend PCRs 0-7 at run time, so their presence
	// proves nothing (a boot_components policy judges them instead).
	BootPCRs []int
}

// Selectors returns the selector values (without the "tpm:" prefix SPIRE
// adds) for a verified attestation, sorted:
//
//	pub_hash:<ek hash>                   always
//	ek_issuer:<issuer DN>                EK certificate chained to a trusted CA
//	manufacturer:<id:XXXXXXXX>           from the verified EK certificate
//	model:<model>, version:<version>     from the verified EK certificate
//	secureboot:enabled|disabled          when the boot log establishes it
//	pcr:<bank>:<index>:<hex value>       each exposed, quoted PCR
//	policy:<name>                        each satisfied policy
//	boot:<pcr>:<hex digest>              each boot component of a PCR in
//	                                     BootPCRs measured before its
//	                                     separator (the event type is not
//	                                     measured, so it is not part of it)
func Selectors(res *tpmquote.Result, opts SelectorOptions) []string {
	sel := []string{"pub_hash:" + res.EKHash}
	if res.EKCertVerified {
		sel = append(sel, "ek_issuer:"+res.EKIssuer)
		for _, kv := range [][2]string{{"manufacturer", res.Manufacturer}, {"model", res.Model}, {"version", res.Version}} {
			if kv[1] != "" {
				sel = append(sel, kv[0]+":"+kv[1])
			}
		}
	}
	if res.Boot != nil && res.Boot.SecureBoot.Known {
		if res.Boot.SecureBoot.Enabled {
			sel = append(sel, "secureboot:enabled")
		} else {
			sel = append(sel, "secureboot:disabled")
		}
	}
	for alg, pcrs := range opts.PCRs {
		for _, idx := range pcrs {
			if v, ok := res.PCRs[alg][idx]; ok {
				sel = append(sel, "pcr:"+alg.String()+":"+strconv.Itoa(idx)+":"+hex.EncodeToString(v))
			}
		}
	}
	if res.Boot != nil {
		for _, c := range res.Boot.Components {
			if c.BeforeSeparator && slices.Contains(opts.BootPCRs, c.PCR) {
				sel = append(sel, "boot:"+strconv.Itoa(c.PCR)+":"+hex.EncodeToString(c.Digest))
			}
		}
	}
	for _, p := range opts.Policies {
		sel = append(sel, "policy:"+p)
	}
	sort.Strings(sel)
	return slices.Compact(sel)
}
