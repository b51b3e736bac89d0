// Package reportdata binds a verifier's challenge into the 64-byte
// REPORT_DATA field that AMD SEV-SNP attestation reports and Intel TDX quotes
// sign for the guest.
//
// A confidential VM's hardware signs whatever 64 bytes the guest asks it to.
// hwattest's node attestors ask for
//
//	REPORT_DATA[0:32]  = the server's fresh 32-byte nonce (crypto/rand)
//	REPORT_DATA[32:64] = SHA-256("hwattest report data v1" || 0x00 || trust domain)
//
// The nonce makes a report usable for one attestation only (a replayed report
// holds an old nonce); the trust domain half stops a report made for one SPIRE
// deployment from being relayed to another. Keeping the two halves apart,
// rather than hashing them together, lets the verifier say which one failed.
package reportdata
