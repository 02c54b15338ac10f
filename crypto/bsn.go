package crypto

import "strings"

// NormalizeBSN returns the BSN (burgerservicenummer) in s as nine digits, the
// form it is pseudonymised in, and whether it is valid.
//
// Surrounding white space is ignored. Nine ASCII digits are taken as they
// are; eight digits get one leading '0' back (padded is true): a
// spreadsheet that read the column as a number dropped it. The result is
// valid (ok) only when it passes the elfproef (eleven test):
//
//	9·d1 + 8·d2 + 7·d3 + 6·d4 + 5·d5 + 4·d6 + 3·d7 + 2·d8 − 1·d9 ≡ 0 (mod 11)
//
// and is not all zeros, which passes the sum but is no BSN. Anything else
// (empty, letters, signs, inner spaces, 7 or 10 digits, or an elfproef
// failure, padded or not) returns "", false, false.
func NormalizeBSN(s string) (bsn string, padded bool, ok bool) {
	s = strings.TrimSpace(s)
	switch len(s) {
	case 9:
	case 8:
		s, padded = "0"+s, true
	default:
		return "", false, false
	}
	if !elfproef(s) {
		return "", false, false
	}
	return s, padded, true
}

// bsnWeights are the elfproef weights of the nine digits of a BSN.
var bsnWeights = [9]int{9, 8, 7, 6, 5, 4, 3, 2, -1}

// elfproef reports whether s is nine ASCII digits, not all zeros, whose
// weighted sum is a multiple of 11.
func elfproef(s string) bool {
	if len(s) != 9 {
		return false
	}
	sum, nonZero := 0, false
	for i := range 9 {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		sum += bsnWeights[i] * int(c-'0')
		nonZero = nonZero || c != '0'
	}
	return nonZero && sum%11 == 0
}
