package tpmquote

// VerifyRecorded verifies evidence that was recorded earlier rather than
// produced for a challenge of this verifier, such as the evidence file of
// `hwattest evidence`: the EK and the AK as Challenge does, then resp as
// Session.Verify does, with the recorded nonce in place of a fresh one. The
// quote must cover exactly the verifier's PCR selection narrowed to the banks
// att offers, as in a live attestation.
//
// Recorded evidence cannot prove what a live attestation proves, and the
// Result says so:
//   - resp must carry no secret, and no credential activation is checked:
//     whoever recorded the evidence made the credential, so a recorded secret
//     would prove nothing. Without it, nothing binds the AK to the EK's TPM:
//     the AK's attributes (restricted, fixedTPM) are claims of its public
//     area, not a proof that a TPM holds it. The quote, PCR values and logs
//     are shown to be consistent with each other and signed by the AK, not to
//     come from the TPM the EK certificate names.
//   - the nonce was chosen by the recorder, so the quote is not shown to be
//     fresh; a recorded quote stays valid for ever.
//
// The Result has no "credential.activation" check, its "quote.nonce" check
// names the nonce as recorded, and its instance-identity and hardware tiers
// are TierWarning, so its status is at best StatusWarning.
func (v *Verifier) VerifyRecorded(att *Attestation, nonce []byte, resp *Response) (*Result, error) {
	if err := att.check(); err != nil {
		return nil, err
	}
	if len(nonce) != NonceSize {
		return nil, refuse(ReasonMalformed, "recorded nonce is %d bytes, want %d", len(nonce), NonceSize)
	}
	if len(resp.Secret) > 0 {
		return nil, refuse(ReasonMalformed, "response: a recorded response carries no secret")
	}
	if err := resp.checkEvidence(); err != nil {
		return nil, err
	}
	policy := v.ek
	if policy.CurrentTime.IsZero() {
		policy.CurrentTime = v.now()
	}
	ek, err := VerifyEK(att.EKCertificate, att.EKPublic, policy)
	if err != nil {
		return nil, err
	}
	ak, err := VerifyAK(att.AK)
	if err != nil {
		return nil, err
	}
	pcrs, err := v.negotiate(att.PCRBanks)
	if err != nil {
		return nil, err
	}
	s := &Session{v: v, att: att, ek: ek, ak: ak, nonce: nonce, pcrs: pcrs, used: true}
	res := &Result{
		Verified:         v.now().UTC(),
		Checks:           ekChecks(ek),
		EKHash:           ek.Hash,
		EKCertVerified:   ek.CertVerified,
		EKIssuer:         ek.Issuer,
		EKListed:         ek.Listed,
		Manufacturer:     ek.Manufacturer,
		ManufacturerName: ek.ManufacturerName,
		Model:            ek.Model,
		Version:          ek.Version,
		AKName:           ak.Name,
		Reported:         att.TPM,
	}
	if err := s.verifyEvidence(resp, res); err != nil {
		return nil, err
	}
	for i := range res.Checks {
		if res.Checks[i].Name == "quote.nonce" {
			res.Checks[i].Detail = "the recorded nonce (not fresh)"
		}
	}
	res.Trust = trustVector(res)
	res.Trust.InstanceIdentity = TierWarning
	res.Trust.Hardware = TierWarning
	res.Status = res.Trust.Status()
	return res, nil
}
