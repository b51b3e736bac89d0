package cli

import (
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

// tpmFlagHint is said when the TPM cannot be opened: the default is the
// kernel's resource manager device, which a machine without a TPM (or a
// trial on swtpm) does not have.
const tpmFlagHint = "no TPM at %s: give its address with --tpm (/dev/tpmrm0, /dev/tpm0, swtpm://host:port or swtpm+unix:///path): %w"

// openTPM opens the TPM at addr, saying how to name another on failure.
func openTPM(addr string) (transport.TPMCloser, error) {
	t, err := attester.Open(addr)
	if err != nil {
		if addr == "" {
			addr = attester.DefaultAddress
		}
		return nil, tpmErrorf(tpmFlagHint, addr, err)
	}
	return t, nil
}

// ekCAHint is what to do about an EK refused for its CA, as hwattest ek
// says it; "" for other errors.
func ekCAHint(err error) string {
	if tpmquote.ReasonOf(err) != tpmquote.ReasonEKUntrusted {
		return ""
	}
	return " (trust its CA with --ek-ca PATH, the plugin's ek_ca_paths; or enrol the EK hash with --ek-hashes, the plugin's ek_hash_paths)"
}
