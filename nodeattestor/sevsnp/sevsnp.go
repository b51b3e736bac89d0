package sevsnp

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/hwattest/hwattest/pkg/snpreport"
)

// PluginName is the plugin's name on both sides; SPIRE stores selectors as
// "sev_snp:<value>".
const PluginName = "sev_snp"

// Hello is the agent's first message: the protocol it speaks.
var Hello = []byte("hwattest sev_snp v1")

// MaxHelloSize bounds the agent's first message.
const MaxHelloSize = 256

// AgentID returns the agent's SPIFFE ID for a verified report.
func AgentID(td spiffeid.TrustDomain, res *snpreport.Result) (spiffeid.ID, error) {
	if len(res.ReportID) != 32 || allZero(res.ReportID) {
		return spiffeid.ID{}, errors.New("sevsnp: the report has no report ID to name the agent by")
	}
	return spiffeid.FromSegments(td, "spire", "agent", PluginName, hex.EncodeToString(res.ReportID))
}

// Selectors returns the selector values (without the "sev_snp:" prefix) for
// a verified report and the policies it satisfied, sorted:
//
//	report_id:<hex>                            the VM (one launch)
//	measurement:<hex>                          launch measurement
//	host_data:<hex>                            HOST_DATA set at launch
//	id_key_digest:<hex>, author_key_digest:<hex>  when the VM has an ID block
//	product:<Milan|Genoa|Turin>, signer:<vcek|vlek>
//	vmpl:<0-3>, guest_svn:<n>
//	debug:enabled|disabled                     guest policy bits
//	smt:allowed|disallowed
//	migration_agent:allowed|disallowed
//	tcb:<bootloader|tee|snp|microcode>:<n>     reported TCB
//	policy:<name>                              each satisfied policy
func Selectors(res *snpreport.Result, policies []string) []string {
	sel := []string{
		"report_id:" + hex.EncodeToString(res.ReportID),
		"measurement:" + hex.EncodeToString(res.Measurement),
		"host_data:" + hex.EncodeToString(res.HostData),
		"signer:" + res.Signer,
		"vmpl:" + strconv.Itoa(int(res.VMPL)),
		"guest_svn:" + strconv.Itoa(int(res.GuestSVN)),
		"debug:" + onOff(res.Policy.Debug, "enabled", "disabled"),
		"smt:" + onOff(res.Policy.SMT, "allowed", "disallowed"),
		"migration_agent:" + onOff(res.Policy.MigrateMA, "allowed", "disallowed"),
	}
	if res.Product != "" {
		sel = append(sel, "product:"+res.Product)
	}
	if res.IDKeyPresent() {
		sel = append(sel, "id_key_digest:"+hex.EncodeToString(res.IDKeyDigest))
	}
	if res.AuthorKeyPresent() {
		sel = append(sel, "author_key_digest:"+hex.EncodeToString(res.AuthorKeyDigest))
	}
	tcb := snpreport.TCBValues(res.ReportedTCB)
	for _, k := range snpreport.TCBComponents {
		sel = append(sel, fmt.Sprintf("tcb:%s:%d", k, tcb[k]))
	}
	for _, p := range policies {
		sel = append(sel, "policy:"+p)
	}
	sort.Strings(sel)
	return slices.Compact(sel)
}

func onOff(b bool, on, off string) string {
	if b {
		return on
	}
	return off
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
