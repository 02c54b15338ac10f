package schemas

import "strings"

// Instrument holds the parameters of one ROM instrument and scale.
type Instrument struct {
	Code          string  // canonical code, e.g. "OQ-45"
	Scale         string  // lower case, e.g. "totaal"
	Min, Max      float64 // allowed score range, inclusive
	HigherIsWorse bool
	// ReliableChange is the smallest improvement (in raw points) that counts
	// as reliable.
	ReliableChange float64
	// ClinicalCutoff separates the clinical from the non-clinical range. A
	// score exactly at the cut-off is on the clinical side: for higher-is-worse
	// scales clinical means score ≥ cut-off, otherwise score ≤ cut-off.
	ClinicalCutoff float64
	// Provisional marks parameters the project chose without a published
	// Dutch norm; outputs carry it as params_provisional.
	Provisional bool
}

// DefaultInstruments returns the shipped instrument table (see
// docs/instruments.md for the sources and the reasoning behind the
// provisional values).
func DefaultInstruments() []Instrument {
	return []Instrument{
		{Code: "OQ-45", Scale: "totaal", Min: 0, Max: 180, HigherIsWorse: true, ReliableChange: 18, ClinicalCutoff: 56},
		{Code: "SQ-48", Scale: "totaal", Min: 0, Max: 148, HigherIsWorse: true, ReliableChange: 16, ClinicalCutoff: 40, Provisional: true},
		{Code: "BSI", Scale: "totaal", Min: 0, Max: 4, HigherIsWorse: true, ReliableChange: 0.5, ClinicalCutoff: 0.8, Provisional: true},
		{Code: "4DKL", Scale: "distress", Min: 0, Max: 32, HigherIsWorse: true, ReliableChange: 7, ClinicalCutoff: 11, Provisional: true},
		{Code: "HONOS", Scale: "totaal", Min: 0, Max: 48, HigherIsWorse: true, ReliableChange: 7, ClinicalCutoff: 10, Provisional: true},
		{Code: "CORE-10", Scale: "totaal", Min: 0, Max: 40, HigherIsWorse: true, ReliableChange: 6, ClinicalCutoff: 11, Provisional: true},
		{Code: "MANSA", Scale: "totaal", Min: 1, Max: 7, HigherIsWorse: false, ReliableChange: 0.5, ClinicalCutoff: 4, Provisional: true},
	}
}

// InstrumentTable looks instruments up by code (case-insensitive) and scale.
type InstrumentTable struct {
	byKey  map[[2]string]*Instrument
	byCode map[string]string // upper-case code -> canonical code
}

// NewInstrumentTable indexes list.
func NewInstrumentTable(list []Instrument) *InstrumentTable {
	t := &InstrumentTable{byKey: map[[2]string]*Instrument{}, byCode: map[string]string{}}
	for i := range list {
		in := list[i]
		t.byKey[[2]string{in.Code, strings.ToLower(in.Scale)}] = &in
		t.byCode[strings.ToUpper(in.Code)] = in.Code
	}
	return t
}

// Canonical returns the canonical code for code, matched case-insensitively
// after trimming, and whether it is known.
func (t *InstrumentTable) Canonical(code string) (string, bool) {
	c, ok := t.byCode[strings.ToUpper(strings.TrimSpace(code))]
	return c, ok
}

// Lookup returns the parameters of a canonical code and a scale.
func (t *InstrumentTable) Lookup(code, scale string) (*Instrument, bool) {
	in, ok := t.byKey[[2]string{code, strings.ToLower(scale)}]
	return in, ok
}
