package schemas

import "strings"

// checkBSN normalises a BSN (burgerservicenummer) as the extracts allow it:
// nine digits that pass the elfproef, or eight digits that do once a leading
// zero is put back (a spreadsheet drops it; warning CodeBSNPadded). Anything
// else is dropped: it returns "" and CodeBSNElfproef, and the row is kept.
// A padded BSN that then fails gets only the elfproef warning. An empty s
// returns "" and no code.
//
// The crypto package has its own exported copy for its own uses; this one
// stays here so that schemas does not depend on crypto.
func checkBSN(s string) (bsn string, warning Code) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ""
	}
	padded := len(s) == 8
	if padded {
		s = "0" + s
	}
	if !elfproef(s) {
		return "", CodeBSNElfproef
	}
	if padded {
		return s, CodeBSNPadded
	}
	return s, ""
}

// elfproef reports whether s is nine digits, not all zeros, whose weighted
// sum (weights 9 down to 2, and −1 for the last digit) is a multiple of 11.
func elfproef(s string) bool {
	if len(s) != 9 {
		return false
	}
	sum, zeros := 0, true
	for i := 0; i < 9; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		zeros = zeros && d == 0
		if i < 8 {
			sum += (9 - i) * d
		} else {
			sum -= d
		}
	}
	return !zeros && sum%11 == 0
}
