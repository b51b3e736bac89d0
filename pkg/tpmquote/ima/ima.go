package ima

import (
	"bytes"
	"crypto"
	"fmt"
)

// Limits on the input. Each is checked before the bytes it covers are read or
// allocated, so a hostile log costs at most MaxLogSize of work.
const (
	// MaxLogSize is the largest log Parse accepts, in bytes. A busy host's
	// log after days of uptime is a few MiB.
	MaxLogSize = 64 << 20
	// MaxEntries is the largest number of entries Parse accepts. With the
	// limits as they are, MaxLogSize binds first (an entry takes at least
	// 69 bytes in either form); MaxEntries bounds the entry slice should
	// MaxLogSize grow.
	MaxEntries = 1 << 20
	// MaxTemplateNameLen is the longest template name, in bytes. Template
	// names are short ("ima-sig"); custom format strings are not accepted.
	MaxTemplateNameLen = 255
	// MaxTemplateDataLen is the longest template data of one entry, in
	// bytes: a path, a digest and a signature fit with room to spare.
	MaxTemplateDataLen = 64 << 10
	// MaxPathLen is the longest path in an n-ng field, in bytes, without
	// the terminating NUL (the kernel's PATH_MAX).
	MaxPathLen = 4096
	// MaxLegacyNameLen is the longest name in the legacy "ima" template, in
	// bytes (the kernel's IMA_EVENT_NAME_LEN_MAX).
	MaxLegacyNameLen = 255
	// MaxSignatureLen is the longest signature in an ima-sig entry, in
	// bytes: an RSA-16384 or ML-DSA-87 signature with its header fits.
	MaxSignatureLen = 16 << 10
	// MaxBufferLen is the longest buffer in an ima-buf entry, in bytes:
	// the kexec command line (COMMAND_LINE_SIZE, a few KiB), a public key
	// and the kernel's critical data records (SELinux state, device-mapper
	// tables) fit with room to spare.
	MaxBufferLen = 32 << 10
	// MaxPCR is the highest PCR index an entry may name: a PC Client TPM
	// has PCRs 0 to 23.
	MaxPCR = 23
	// MeasurePCR is the PCR that IMA extends by default
	// (CONFIG_IMA_MEASURE_PCR_IDX) and that Replay and Verify compute.
	MeasurePCR = 10
)

const (
	// maxAlgNameLen bounds the search for ':' in a d-ng field; the longest
	// kernel hash name ("streebog512") has 11 bytes.
	maxAlgNameLen = 32
	// legacyDigestLen is the size of the d field of the "ima" template.
	legacyDigestLen = 20
	// legacyNameField is the size the kernel pads the "ima" template's name
	// to before hashing it (IMA_EVENT_NAME_LEN_MAX + 1).
	legacyNameField = MaxLegacyNameLen + 1
	// violationDigestLen is the size of the zero digest the kernel writes
	// in the d-ng field of a violation (IMA_DIGEST_SIZE).
	violationDigestLen = 20
)

// Template names this package decodes.
const (
	TemplateIMANG  = "ima-ng"
	TemplateIMASig = "ima-sig"
	TemplateIMABuf = "ima-buf"
	TemplateIMA    = "ima"
)

// Entry is one measurement of the log.
type Entry struct {
	// PCR is the PCR index the kernel extended (10 unless the policy says
	// otherwise).
	PCR uint32
	// TemplateName is "ima-ng", "ima-sig", "ima-buf" or "ima".
	TemplateName string
	// TemplateHash is the template hash as logged: SHA-1 of TemplateData,
	// or SHA-256 with WithTemplateHash(crypto.SHA256); all zeros for a
	// violation.
	TemplateHash []byte
	// TemplateData is the template data the template hash covers: read
	// from a binary log, rebuilt from the fields of an ASCII log. For the
	// legacy "ima" template it is the 20-byte digest followed by the name
	// NUL-padded to 256 bytes, which is what the kernel hashes.
	TemplateData []byte
	// FileHashAlg is the algorithm of FileHash. It is zero only for a
	// violation logged by an old kernel without an algorithm name.
	FileHashAlg crypto.Hash
	// FileHash is the digest of the file (or of the boot aggregate); all
	// zeros for a violation. For ima-buf it is the digest of the buffer as
	// the kernel logged it: this package does not recompute it from
	// Buffer.
	FileHash []byte
	// Path is the file path, or the event name: "boot_aggregate", and for
	// ima-buf entries "kexec-cmdline", a keyring name such as
	// ".builtin_trusted_keys", or a critical data event such as
	// "selinux-state".
	Path string
	// Signature is the ima-sig signature field, empty when the file had no
	// signature or the template is not ima-sig.
	Signature []byte
	// Buffer is the ima-buf buf field: the measured bytes themselves (the
	// kexec command line, a key, a critical data record). It is empty when
	// the kernel logged no buffer or the template is not ima-buf.
	Buffer []byte
}

// Violation reports whether e is a violation entry: its template hash is all
// zeros, it is extended as 0xFF..FF, and none of its fields is covered by the
// PCR.
func (e *Entry) Violation() bool {
	return len(e.TemplateHash) > 0 && allZero(e.TemplateHash)
}

// Log is a parsed IMA measurement log.
type Log struct {
	// Entries are in log order.
	Entries []Entry
}

// Format is the form of a log.
type Format int

// Log formats.
const (
	// FormatAuto detects the form (the zero value).
	FormatAuto Format = iota
	// FormatBinary is binary_runtime_measurements.
	FormatBinary
	// FormatASCII is ascii_runtime_measurements.
	FormatASCII
)

func (f Format) String() string {
	switch f {
	case FormatAuto:
		return "auto"
	case FormatBinary:
		return "binary"
	case FormatASCII:
		return "ascii"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Option configures Parse and Verify.
type Option func(*config) error

type config struct {
	format    Format
	formatSet bool
	tmplHash  crypto.Hash
	hashSet   bool
	prefix    bool
}

// WithFormat sets the form of the log instead of detecting it. Giving two
// different formats is an error.
func WithFormat(f Format) Option {
	return func(c *config) error {
		switch f {
		case FormatAuto, FormatBinary, FormatASCII:
		default:
			return errorf("unknown format %v", f)
		}
		if c.formatSet && c.format != f {
			return errorf("conflicting formats %v and %v", c.format, f)
		}
		c.format, c.formatSet = f, true
		return nil
	}
}

// WithTemplateHash sets the algorithm of the logged template hashes. The
// default, SHA-1, is that of binary_runtime_measurements and
// ascii_runtime_measurements; crypto.SHA256 reads
// binary_runtime_measurements_sha256 and ascii_runtime_measurements_sha256
// (and likewise SHA-384 and SHA-512). Giving two different algorithms is an
// error.
func WithTemplateHash(h crypto.Hash) Option {
	return func(c *config) error {
		if !bankSupported(h) {
			return errorf("unsupported template hash %v", h)
		}
		if c.hashSet && c.tmplHash != h {
			return errorf("conflicting template hashes %v and %v", c.tmplHash, h)
		}
		c.tmplHash, c.hashSet = h, true
		return nil
	}
}

// WithPrefixMatch makes Verify accept a log that holds entries appended after
// the quote: it accepts the shortest prefix of the log whose replay equals the
// quoted PCR 10 in every bank given, and returns a Log of that prefix only.
// Without it, Verify requires the whole log to match. Parse ignores it.
//
// Use it when the attester quotes PCR 10 and then reads the log, as on a
// running machine: the kernel may append entries in between. The whole log
// must still parse, entries after the prefix included.
func WithPrefixMatch() Option {
	return func(c *config) error {
		c.prefix = true
		return nil
	}
}

func buildConfig(opts []Option) (*config, error) {
	c := &config{format: FormatAuto, tmplHash: crypto.SHA1}
	for _, o := range opts {
		if o == nil {
			return nil, errorf("nil option")
		}
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Parse parses an IMA measurement log in the binary or ASCII form and checks
// every non-violation entry's template hash against its template data. It
// does not check the log against any PCR: use Verify for that. Parse copies
// raw; the Log does not alias it.
func Parse(raw []byte, opts ...Option) (*Log, error) {
	c, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, errorf("empty log")
	}
	if len(raw) > MaxLogSize {
		return nil, errorf("log has %d bytes, more than MaxLogSize (%d)", len(raw), MaxLogSize)
	}
	format := c.format
	if format == FormatAuto {
		format = FormatBinary
		if looksASCII(raw) {
			format = FormatASCII
		}
	}
	var entries []Entry
	if format == FormatASCII {
		entries, err = parseASCII(raw, c.tmplHash)
	} else {
		entries, err = parseBinary(bytes.Clone(raw), c.tmplHash)
	}
	if err != nil {
		return nil, err
	}
	return &Log{Entries: entries}, nil
}

// looksASCII reports whether raw starts like an ASCII log: optional spaces,
// decimal digits and a space. A binary log starts with a little-endian PCR
// index, whose first byte for PCRs 0 to 23 is neither a digit nor a space.
func looksASCII(raw []byte) bool {
	const window = 16
	i := 0
	for i < len(raw) && i < window && raw[i] == ' ' {
		i++
	}
	digits := 0
	for i < len(raw) && i < window && raw[i] >= '0' && raw[i] <= '9' {
		i++
		digits++
	}
	return digits > 0 && i < len(raw) && raw[i] == ' '
}

// errorf returns an error with the package prefix. Every error of the
// package is made here, once.
func errorf(format string, args ...any) error {
	return fmt.Errorf("ima: "+format, args...)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
