// Package tpmquote verifies TPM 2.0 evidence: the endorsement key (EK) and its
// certificate chain, an attestation key (AK) bound to that EK by credential
// activation, a PCR quote over a fresh nonce, the boot event log and the IMA
// runtime log replayed against the quoted PCRs.
//
// The package holds the verifier and the wire format only. It takes bytes and
// returns a [Result]; it never opens a TPM and links no device or cgo code.
// The attester side, which talks to a TPM, lives in package
// [github.com/hwattest/hwattest/pkg/tpmquote/attester].
//
// One attestation is one round trip:
//
//	att := attester's Attestation          (EK, AK parameters, TPM facts)
//	ch, session, err := verifier.Challenge(att)
//	resp := attester answers ch             (activated secret, quote, PCRs, logs)
//	result, err := session.Verify(resp)
//
// Security properties enforced here:
//   - the EK public key used for the challenge is the key in the validated EK
//     certificate; a separately sent EK public area must carry the same key;
//   - the AK must be a restricted, fixedTPM, fixedParent signing key created by
//     the TPM, and the credential is bound to its name;
//   - the activated secret is compared in constant time;
//   - the nonce is 32 bytes from crypto/rand, fresh for every challenge, and a
//     session verifies at most one response;
//   - the quote must be signed by the AK, carry the nonce, cover exactly the
//     requested PCR selection, and its digest must equal the sent PCR values;
//   - every input has a size limit (see the Max* constants).
//
// This package does not check certificate revocation; callers deny-list EK
// hashes themselves.
package tpmquote
