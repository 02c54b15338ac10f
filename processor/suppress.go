package processor

import "github.com/ttpgate/ttpgate/schemas"

// verdict is what small-cell suppression decided for one row.
type verdict uint8

const (
	published     verdict = iota
	primary               // the row's own count is below min_cell
	complementary         // suppressed so that a primary one cannot be recovered from the national row
)

// suppressGroup decides small-cell suppression for one group of rows that
// share a national row (ROM outcomes: period, instrument and scale; ROM
// response: period and prestatie; IG: year and indicator). code returns a
// row's organisation or VSV code, schemas.NationalCode for the national
// row; count returns the count the rule looks at (outcomes: n_pairs;
// response: n_trajectories; IG: the denominator). The result is aligned with
// rows.
//
// Primary: a row whose count is below minCell is suppressed. A minCell
// below 1 is taken as 1, so a row with a count of 0 (a figure that does not
// exist) is always suppressed.
//
// Complementary: only organisation or VSV rows are considered, never the
// national row. When exactly one of them is suppressed, its count would
// follow from the national row minus the others, so one more is
// suppressed: the unsuppressed organisation row with the smallest count (on
// a tie, the lowest code in byte order). When there is no such row (the
// group has a single organisation, or all others are suppressed already),
// the national row is suppressed instead (if it is not already). When two
// or more organisation rows are suppressed, nothing more is done.
func suppressGroup[R any](rows []R, minCell int, code func(*R) string, count func(*R) int64) []verdict {
	limit := int64(max(minCell, 1))
	out := make([]verdict, len(rows))
	national := -1
	nSuppressed := 0
	for i := range rows {
		r := &rows[i]
		if count(r) < limit {
			out[i] = primary
		}
		if code(r) == schemas.NationalCode {
			national = i
			continue
		}
		if out[i] != published {
			nSuppressed++
		}
	}
	if nSuppressed != 1 {
		return out
	}
	next := -1
	for i := range rows {
		r := &rows[i]
		if i == national || out[i] != published {
			continue
		}
		if next < 0 {
			next = i
			continue
		}
		n := &rows[next]
		if c, cn := count(r), count(n); c < cn || c == cn && code(r) < code(n) {
			next = i
		}
	}
	switch {
	case next >= 0:
		out[next] = complementary
	case national >= 0 && out[national] == published:
		out[national] = complementary
	}
	return out
}
