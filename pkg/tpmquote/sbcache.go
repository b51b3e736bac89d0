package tpmquote

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"sync"

	"github.com/google/go-attestation/attest"
)

// secureBootCacheSize bounds the secure boot decisions kept. A fleet has a
// handful of firmware configurations (a PCR 7 is the same on every node of
// one model with one db/dbx), so a small cache hits nearly always; a node
// that sends a new configuration each time only evicts entries, and every
// miss is decided in full.
const secureBootCacheSize = 256

// secureBootMemo memoises secureBootState. The decision is a deterministic
// function of the PCR 2 and PCR 7 events it is given (their index, type,
// data and digest, in order: all that go-attestation's
// ParseSecurebootState and the checks after it read), so the key is a
// SHA-256 over exactly those fields, length-prefixed, and a hit returns what
// a full parse of the same bytes returns. Only decisions where
// ParseSecurebootState accepted the events are kept: its refusals name the
// event's position in the whole log, which is not part of the key, so they
// are recomputed every time (and stay word for word what the parser says).
//
// Parsing every signature database (PK, KEK, db, dbx) is what the cache
// saves: about a third of a whole verification (docs/scale.md).
type secureBootMemo struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]*list.Element
	order   *list.List // front: most recently used; values are *sbEntry
	max     int
}

type sbEntry struct {
	key [sha256.Size]byte
	sb  SecureBoot
}

var secureBoots = newSecureBootMemo(secureBootCacheSize)

func newSecureBootMemo(max int) *secureBootMemo {
	return &secureBootMemo{entries: make(map[[sha256.Size]byte]*list.Element), order: list.New(), max: max}
}

// secureBootKey hashes every field secureBootState reads.
func secureBootKey(events []attest.Event) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	for _, e := range events {
		if e.Index != 7 && e.Index != 2 {
			continue
		}
		binary.BigEndian.PutUint32(n[:4], uint32(e.Index))
		binary.BigEndian.PutUint32(n[4:], uint32(e.Type))
		h.Write(n[:])
		binary.BigEndian.PutUint64(n[:], uint64(len(e.Data)))
		h.Write(n[:])
		h.Write(e.Data)
		binary.BigEndian.PutUint64(n[:], uint64(len(e.Digest)))
		h.Write(n[:])
		h.Write(e.Digest)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// state returns secureBootState(events), from the cache when the same
// events were decided before. A nil memo decides in full every time.
func (m *secureBootMemo) state(events []attest.Event) SecureBoot {
	if m == nil {
		return secureBootState(events)
	}
	key := secureBootKey(events)
	m.mu.Lock()
	if el, ok := m.entries[key]; ok {
		m.order.MoveToFront(el)
		sb := el.Value.(*sbEntry).sb
		m.mu.Unlock()
		return sb
	}
	m.mu.Unlock()
	sb, parsed := decideSecureBoot(events)
	if !parsed {
		return sb
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[key]; ok {
		return sb
	}
	m.entries[key] = m.order.PushFront(&sbEntry{key: key, sb: sb})
	for m.order.Len() > m.max {
		old := m.order.Remove(m.order.Back()).(*sbEntry)
		delete(m.entries, old.key)
	}
	return sb
}
