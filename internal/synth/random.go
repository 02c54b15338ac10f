package synth

import (
	"math"
	"math/rand/v2"
)

// Stream selectors for rand.NewPCG: each dataset has its own data stream and
// an independent stream for corruptions, so ErrorRate does not change the
// records it leaves alone.
const (
	streamROM       = 0x524f4d2d64617461 // "ROM-data"
	streamROMErrors = 0x524f4d2d6572726f // "ROM-erro"
	streamLVR1      = 0x4c5652312d646174 // "LVR1-dat"
	streamLVR1Err   = 0x4c5652312d657272 // "LVR1-err"
)

type rng struct{ *rand.Rand }

func newRNG(seed, stream uint64) rng { return rng{rand.New(rand.NewPCG(seed, stream))} }

func (r rng) chance(p float64) bool { return r.Float64() < p }

// between returns an int in [lo, hi].
func (r rng) between(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + r.IntN(hi-lo+1)
}

func (r rng) normal(mean, sd float64) float64 { return mean + sd*r.NormFloat64() }

// normalInt returns a rounded normal value clamped to [lo, hi].
func (r rng) normalInt(mean, sd float64, lo, hi int) int {
	return min(max(int(math.Round(r.normal(mean, sd))), lo), hi)
}

// pick returns an index into ws with probability proportional to its weight.
func (r rng) pick(ws []int) int {
	total := 0
	for _, w := range ws {
		total += w
	}
	n := r.IntN(total)
	for i, w := range ws {
		if n < w {
			return i
		}
		n -= w
	}
	return len(ws) - 1
}

// weighted is a list of values with weights.
type weighted[T any] struct {
	vals []T
	ws   []int
}

func (w weighted[T]) from(r rng) T { return w.vals[r.pick(w.ws)] }

// bsn returns a valid 9-digit BSN: eight digits at random and the ninth
// solved from the elfproef (9·d1 + 8·d2 + … + 2·d8 − d9 ≡ 0 mod 11),
// retrying when the check digit would have to be 10. About one in ten
// starts with 0, as real ones can; that leading zero is what spreadsheets
// drop.
func (r rng) bsn() string {
	for {
		var d [9]byte
		if !r.chance(0.10) {
			d[0] = byte(r.between(1, 9))
		}
		sum := 9 * int(d[0])
		for i := 1; i < 8; i++ {
			d[i] = byte(r.IntN(10))
			sum += (9 - i) * int(d[i])
		}
		c := sum % 11
		if c == 10 || sum == 0 {
			continue // no check digit, or all zeros
		}
		d[8] = byte(c)
		for i := range d {
			d[i] += '0'
		}
		return string(d[:])
	}
}

// writtenBSN returns how a source system wrote full: a BSN with a leading
// zero lost it half of the time (the file went through a spreadsheet).
func (r rng) writtenBSN(full string) string {
	if full[0] == '0' && r.chance(0.5) {
		return full[1:]
	}
	return full
}

// mix32 is a bijection on uint32 (Chris Wellons' lowbias32), used to turn a
// counter into an id that looks random and is still unique.
func mix32(x uint32) uint32 {
	x ^= x >> 16
	x *= 0x7feb352d
	x ^= x >> 15
	x *= 0x846ca68b
	x ^= x >> 16
	return x
}

// hexID returns prefix followed by 8 upper-case hex digits of mix32(n^key);
// distinct n give distinct ids.
func hexID(prefix string, n, key uint32) string {
	const hexdigits = "0123456789ABCDEF"
	v := mix32(n ^ key)
	b := make([]byte, 0, len(prefix)+8)
	b = append(b, prefix...)
	for i := 28; i >= 0; i -= 4 {
		b = append(b, hexdigits[v>>uint(i)&0xF])
	}
	return string(b)
}

// numID returns prefix followed by n, zero-padded to width.
func numID(prefix string, n, width int) string {
	b := make([]byte, 0, len(prefix)+width)
	b = append(b, prefix...)
	return string(appendPad(b, n, width))
}

// counter hands out increasing numbers with small random gaps, like a
// vendor's client numbers after deletions and test records.
type counter struct{ n int }

func (c *counter) next(r rng) int {
	c.n += 1 + r.IntN(4)
	return c.n
}
