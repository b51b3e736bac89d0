// Package policy evaluates named rule sets over verified TPM attestation
// results (pkg/tpmquote): secure boot, reference PCR values, allowed boot
// components and an IMA allowlist. The server-side node attestor evaluates
// every policy on every attestation: a node that fails a required policy is
// refused; each satisfied policy becomes a "policy:<name>" selector.
//
// Policies are written as HCL `policy "<name>" { ... }` blocks (Config),
// inline in the plugin configuration or in policy files (Parse, LoadFiles),
// and compiled into a Policy (Config.Compile).
package policy
