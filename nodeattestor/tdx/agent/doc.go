// Package agent is the agent side of the Intel TDX node attestor. It keeps
// the agent key (key_path, or in memory), asks the TD guest for a quote
// whose REPORT_DATA binds the server's nonce, the trust domain and that key
// ([QuoteProvider]: go-tdx-guest's configfs-tsm client in the product
// binary, another in tests through [WithQuoteProvider]), and signs the
// nonce with the key.
package agent
