// Package agent is the agent side of the SEV-SNP node attestor. It asks the
// guest's AMD secure processor, through a [ReportProvider], for a report
// whose REPORT_DATA binds the server's nonce and the trust domain.
//
// The product plugin's provider is go-sev-guest's client: the configfs-tsm
// report interface (/sys/kernel/config/tsm/report) when the kernel has it,
// else the /dev/sev-guest device. Tests pass another provider with
// [WithReportProvider]; the test-only one (internal/snptest, signed with
// go-sev-guest's public test keys) is never linked into the product binary.
package agent
