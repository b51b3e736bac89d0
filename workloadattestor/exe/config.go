package exe

import (
	"errors"
	"fmt"
	"time"

	"github.com/hwattest/hwattest/internal/hclconf"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

// Defaults and limits of the configuration.
const (
	// DefaultMaxHashSize is the largest executable hashed by default: 1 GiB,
	// far above any real binary (a statically linked Go server is tens of
	// MiB), low enough that one request cannot keep the agent reading for
	// minutes.
	DefaultMaxHashSize = 1 << 30
	// DefaultHashCacheSize is the default number of cached hashes. An entry
	// takes about 150 bytes, so the default costs well under a MiB.
	DefaultHashCacheSize = 4096
	// DefaultQuoteInterval is how long a verified IMA log answers before
	// PCR 10 is read and the log replayed again.
	DefaultQuoteInterval = 30 * time.Second
)

// Config is the plugin's HCL configuration. The zero value is valid: no IMA
// anchoring, default limits.
type Config struct {
	// MaxHashSize is the largest executable hashed, in bytes (default
	// DefaultMaxHashSize); a larger one is an error.
	MaxHashSize int64 `hcl:"max_hash_size"`
	// HashCacheSize is the number of hashes kept, least recently used
	// dropped first (default DefaultHashCacheSize).
	HashCacheSize int `hcl:"hash_cache_size"`
	// IMALogPath turns IMA anchoring on: the kernel's IMA log
	// (/sys/kernel/security/ima/binary_runtime_measurements or
	// ascii_runtime_measurements). Empty: ima:measured is never emitted.
	IMALogPath string `hcl:"ima_log_path"`
	// TPM is the address of the node's TPM whose PCR 10 anchors the IMA
	// log (default /dev/tpmrm0); only with ima_log_path.
	TPM string `hcl:"tpm"`
	// QuoteInterval is how long a verified IMA log is reused, as a Go
	// duration (default "30s"); only with ima_log_path.
	QuoteInterval string `hcl:"quote_interval"`
}

// config is the validated configuration.
type config struct {
	maxHashSize   int64
	hashCacheSize int
	ima           *imaConfig // nil without ima_log_path
}

// imaConfig is the validated IMA anchoring configuration.
type imaConfig struct {
	logPath  string
	tpm      string
	interval time.Duration
}

// buildConfig parses and validates HCL, reporting every problem at once.
func buildConfig(text string) (*config, error) {
	var c Config
	errs := hclconf.Decode(text, &c)
	out := &config{maxHashSize: c.MaxHashSize, hashCacheSize: c.HashCacheSize}
	switch {
	case c.MaxHashSize < 0:
		errs = append(errs, fmt.Errorf("max_hash_size %d: must be positive", c.MaxHashSize))
	case c.MaxHashSize == 0:
		out.maxHashSize = DefaultMaxHashSize
	}
	switch {
	case c.HashCacheSize < 0:
		errs = append(errs, fmt.Errorf("hash_cache_size %d: must be positive", c.HashCacheSize))
	case c.HashCacheSize == 0:
		out.hashCacheSize = DefaultHashCacheSize
	}
	if c.IMALogPath == "" {
		if c.TPM != "" {
			errs = append(errs, errors.New("tpm needs ima_log_path"))
		}
		if c.QuoteInterval != "" {
			errs = append(errs, errors.New("quote_interval needs ima_log_path"))
		}
	} else {
		ic := &imaConfig{logPath: c.IMALogPath, tpm: c.TPM, interval: DefaultQuoteInterval}
		if ic.tpm == "" {
			ic.tpm = attester.DefaultAddress
		}
		if c.QuoteInterval != "" {
			d, err := time.ParseDuration(c.QuoteInterval)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("quote_interval: %w", err))
			case d <= 0:
				errs = append(errs, fmt.Errorf("quote_interval %q: must be positive", c.QuoteInterval))
			default:
				ic.interval = d
			}
		}
		out.ima = ic
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
