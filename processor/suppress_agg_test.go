package processor

import (
	"slices"
	"testing"
)

type aggCell struct {
	code  string
	count int64
}

func TestSuppressGroupAgg(t *testing.T) {
	const P, C, o = primary, complementary, published
	tests := []struct {
		name    string
		minCell int
		rows    []aggCell
		want    []verdict
	}{
		{"nothing small", 10,
			[]aggCell{{"A", 10}, {"B", 30}, {"NL", 40}},
			[]verdict{o, o, o}},
		{"one small, next smallest with a tie on counts: lowest code", 10,
			[]aggCell{{"D", 20}, {"C", 12}, {"A", 5}, {"B", 12}, {"NL", 49}},
			[]verdict{o, o, P, C, o}},
		{"one small, the national row is not a candidate while an organisation is", 10,
			[]aggCell{{"NL", 11}, {"A", 5}, {"B", 200}},
			[]verdict{o, P, C}},
		{"two small: nothing more", 10,
			[]aggCell{{"A", 5}, {"B", 3}, {"C", 20}, {"NL", 28}},
			[]verdict{P, P, o, o}},
		{"small national row does not count as the one", 10,
			[]aggCell{{"A", 4}, {"B", 4}, {"NL", 8}},
			[]verdict{P, P, P}},
		{"one small, no other organisation: the national row", 10,
			[]aggCell{{"A", 5}, {"NL", 12}},
			[]verdict{P, C}},
		{"one small, no other organisation, national row already small", 10,
			[]aggCell{{"A", 5}, {"NL", 5}},
			[]verdict{P, P}},
		{"one small, no national row, no other organisation", 10,
			[]aggCell{{"A", 5}},
			[]verdict{P}},
		{"count equal to min_cell is published", 3,
			[]aggCell{{"A", 3}, {"NL", 3}},
			[]verdict{o, o}},
		{"min_cell 0 still suppresses a count of 0", 0,
			[]aggCell{{"A", 0}, {"B", 1}, {"C", 2}, {"NL", 3}},
			[]verdict{P, C, o, o}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := suppressGroup(tt.rows, tt.minCell,
				func(c *aggCell) string { return c.code },
				func(c *aggCell) int64 { return c.count })
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
