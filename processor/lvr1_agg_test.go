package processor

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ttpgate/ttpgate/schemas"
)

type aggLVRIn struct {
	rec schemas.LVR1Staged
	src int
}

func aggI32(v int32) *int32   { return &v }
func aggStr(s string) *string { return &s }

// child is a singleton, term (280 days), parity 1, spontaneous birth in
// VSV-A, 2025, practice P1, with every optional field unknown; mod adjusts
// it. Pregnancy "" gets a unique id in runLVR1Agg.
func aggChild(mod func(r *schemas.LVR1Staged)) schemas.LVR1Staged {
	r := schemas.LVR1Staged{Practice: "P1", Child: 1, Client: "c", VSV: "VSV-A", Pariteit: 1,
		AantalKinderen: 1, TypePartus: "SPONT", Year: 2025, AdPartus: 280}
	if mod != nil {
		mod(&r)
	}
	return r
}

// ntsv is child with parity 0 and a cephalic position.
func aggNTSV(mod func(r *schemas.LVR1Staged)) schemas.LVR1Staged {
	return aggChild(func(r *schemas.LVR1Staged) {
		r.Pariteit, r.Ligging = 0, aggI32(1)
		if mod != nil {
			mod(r)
		}
	})
}

func runLVR1Agg(t *testing.T, minCell int, recs []aggLVRIn) (map[int32]partition[schemas.IGIndicator], map[int32]partition[schemas.IGODB]) {
	t.Helper()
	recs = slices.Clone(recs)
	for i := range recs {
		if recs[i].rec.Pregnancy == "" {
			recs[i].rec.Pregnancy = fmt.Sprintf("g%03d", i)
		}
	}
	slices.SortStableFunc(recs, func(a, b aggLVRIn) int { return compareLVR1(&a.rec, &b.rec) })
	a := newLVR1Aggregator(aggParams{MinCell: minCell})
	for i := range recs {
		a.add(&recs[i].rec, recs[i].src)
	}
	return a.finish()
}

func findIGAgg(t *testing.T, rows []schemas.IGIndicator, vsv, id string) *schemas.IGIndicator {
	t.Helper()
	for i := range rows {
		if rows[i].VSV == vsv && rows[i].IndicatorID == id {
			return &rows[i]
		}
	}
	t.Fatalf("no row %s %s", vsv, id)
	return nil
}

func findODBAgg(t *testing.T, rows []schemas.IGODB, vsv, id string) *schemas.IGODB {
	t.Helper()
	for i := range rows {
		if rows[i].VSV == vsv && rows[i].IndicatorCode == id {
			return &rows[i]
		}
	}
	t.Fatalf("no ODB row %s %s", vsv, id)
	return nil
}

func aggRecords(rs ...schemas.LVR1Staged) []aggLVRIn {
	out := make([]aggLVRIn, len(rs))
	for i, r := range rs {
		out[i] = aggLVRIn{rec: r}
	}
	return out
}

func TestIGIndicatorRulesAgg(t *testing.T) {
	type R = schemas.LVR1Staged
	tests := []struct {
		id       string
		recs     []schemas.LVR1Staged
		num, den int64
	}{
		{"IG-01", []R{
			// g1, twins: child 1 (60 days) speaks for the pregnancy, child 2
			// (100) is ignored: counted once, in the numerator.
			aggChild(func(r *R) { r.Pregnancy, r.Child, r.AantalKinderen, r.AdEersteConsult = "g1", 2, 2, aggI32(100) }),
			aggChild(func(r *R) { r.Pregnancy, r.Child, r.AantalKinderen, r.AdEersteConsult = "g1", 1, 2, aggI32(60) }),
			aggChild(func(r *R) { r.Pregnancy, r.AdEersteConsult = "g2", aggI32(70) }), // den
			aggChild(func(r *R) { r.Pregnancy = "g3" }),                                // unknown: out
			aggChild(func(r *R) { r.Pregnancy, r.AdEersteConsult = "g4", aggI32(69) }), // num
			// g5, twins: child 1 unknown, so the pregnancy is out.
			aggChild(func(r *R) { r.Pregnancy, r.Child, r.AantalKinderen = "g5", 1, 2 }),
			aggChild(func(r *R) { r.Pregnancy, r.Child, r.AantalKinderen, r.AdEersteConsult = "g5", 2, 2, aggI32(50) }),
			// Same pregnancy id at another practice: another pregnancy.
			aggChild(func(r *R) { r.Practice, r.Pregnancy, r.AdEersteConsult = "P2", "g1", aggI32(10) }), // num
		}, 3, 4},
		{"IG-02", []R{
			aggNTSV(func(r *R) { r.AdPartus, r.TypePartus = 259, "SECTIO_SEC" }),                      // num
			aggNTSV(func(r *R) { r.Ligging = aggI32(6) }),                                             // den
			aggNTSV(func(r *R) { r.AdPartus, r.TypePartus = 258, "SECTIO_SEC" }),                      // preterm: out
			aggNTSV(func(r *R) { r.Ligging, r.TypePartus = aggI32(11), "SECTIO_SEC" }),                // breech: out
			aggNTSV(func(r *R) { r.Ligging, r.TypePartus = nil, "SECTIO_SEC" }),                       // unknown: out
			aggNTSV(func(r *R) { r.Pariteit, r.TypePartus = 1, "SECTIO_SEC" }),                        // multipara: out
			aggNTSV(func(r *R) { r.AantalKinderen, r.TypePartus = 2, "SECTIO_SEC" }),                  // twin: out
			aggNTSV(func(r *R) { r.Ligging, r.TypePartus = aggI32(3), "SECTIO_PRIM" }),                // num
			aggChild(func(r *R) { r.Pariteit, r.Ligging, r.TypePartus = 0, aggI32(7), "SECTIO_SEC" }), // out
		}, 2, 3},
		{"IG-03", []R{
			aggChild(func(r *R) { r.AdPartus, r.WijzeBeginBaring = 259, aggI32(3) }), // num
			aggChild(func(r *R) { r.WijzeBeginBaring = aggI32(1) }),                  // den
			aggChild(func(r *R) { r.WijzeBeginBaring = aggI32(2) }),                  // den
			aggChild(nil), // unknown: out
			aggChild(func(r *R) { r.AdPartus, r.WijzeBeginBaring = 258, aggI32(3) }),     // preterm: out
			aggChild(func(r *R) { r.AantalKinderen, r.WijzeBeginBaring = 2, aggI32(3) }), // twin: out
		}, 1, 3},
		{"IG-04", []R{
			aggNTSV(nil), // SPONT: den
			aggNTSV(func(r *R) { r.TypePartus = "FORCEPS" }),                 // num
			aggNTSV(func(r *R) { r.TypePartus = "VACUUM" }),                  // num
			aggNTSV(func(r *R) { r.TypePartus = "STUIT" }),                   // den
			aggNTSV(func(r *R) { r.TypePartus = "SECTIO_PRIM" }),             // not vaginal: out
			aggChild(func(r *R) { r.TypePartus = "FORCEPS" }),                // not NTSV: out
			aggNTSV(func(r *R) { r.AdPartus, r.TypePartus = 250, "VACUUM" }), // preterm: out
		}, 2, 4},
		{"IG-05", []R{
			aggChild(func(r *R) { r.Sterfte = aggI32(3) }),                  // num
			aggChild(func(r *R) { r.Sterfte = aggI32(7) }),                  // num
			aggChild(func(r *R) { r.NICUOpname = aggStr("J") }),             // num
			aggChild(func(r *R) { r.Apgar5 = aggI32(6) }),                   // num
			aggChild(func(r *R) { r.Bloedverlies = aggI32(1000) }),          // num
			aggChild(func(r *R) { r.Perineum = aggStr("D") }),               // num
			aggChild(func(r *R) { r.Perineum = aggStr("E") }),               // num
			aggChild(func(r *R) { r.AdPartus, r.Sterfte = 224, aggI32(4) }), // num (boundary 224)
			aggChild(func(r *R) { r.Sterfte = aggI32(8) }),                  // den
			aggChild(func(r *R) { r.Sterfte = aggI32(0) }),                  // den
			aggChild(func(r *R) { r.NICUOpname = aggStr("N") }),             // den
			aggChild(func(r *R) { r.Apgar5 = aggI32(7) }),                   // den
			aggChild(func(r *R) { r.Bloedverlies = aggI32(999) }),           // den
			aggChild(func(r *R) { r.Perineum = aggStr("C") }),               // den
			aggChild(nil), // den: unknowns are no event
			aggChild(func(r *R) { r.AdPartus, r.Sterfte = 223, aggI32(3) }),          // out
			aggChild(func(r *R) { r.AantalKinderen, r.NICUOpname = 2, aggStr("J") }), // twin: out
		}, 8, 15},
		{"IG-06", []R{
			aggChild(func(r *R) { r.AdPartus, r.Sterfte = 168, aggI32(3) }),     // num (boundary 168)
			aggChild(func(r *R) { r.Sterfte = aggI32(4) }),                      // num
			aggChild(func(r *R) { r.Sterfte = aggI32(5) }),                      // num
			aggChild(func(r *R) { r.AantalKinderen, r.Sterfte = 2, aggI32(6) }), // num (twins count)
			aggChild(func(r *R) { r.Sterfte = aggI32(7) }),                      // den
			aggChild(func(r *R) { r.Sterfte = aggI32(0) }),                      // den
			aggChild(nil), // den
			aggChild(func(r *R) { r.AdPartus, r.Sterfte = 167, aggI32(3) }), // out
		}, 4, 7},
		{"IG-07", []R{
			aggChild(func(r *R) { r.AdPartus, r.Apgar5 = 259, aggI32(6) }),      // num
			aggChild(func(r *R) { r.Apgar5 = aggI32(7) }),                       // den
			aggChild(func(r *R) { r.AdPartus, r.Apgar5 = 258, aggI32(3) }),      // preterm: out
			aggChild(func(r *R) { r.Sterfte, r.Apgar5 = aggI32(3), aggI32(0) }), // stillborn: out
			aggChild(func(r *R) { r.Sterfte, r.Apgar5 = aggI32(4), aggI32(0) }), // stillborn: out
			aggChild(func(r *R) { r.Sterfte, r.Apgar5 = aggI32(5), aggI32(2) }), // live-born, died: num
			aggChild(nil), // apgar unknown: out
			aggChild(func(r *R) { r.Apgar5 = aggI32(9) }),                      // sterfte unknown: den
			aggChild(func(r *R) { r.AantalKinderen, r.Apgar5 = 2, aggI32(5) }), // twin: num
		}, 3, 5},
		{"IG-08", []R{
			aggChild(func(r *R) { r.Perineum = aggStr("D") }),                             // num
			aggChild(func(r *R) { r.TypePartus, r.Perineum = "FORCEPS", aggStr("E") }),    // num
			aggChild(func(r *R) { r.TypePartus, r.Perineum = "VACUUM", aggStr("A") }),     // den
			aggChild(func(r *R) { r.TypePartus, r.Perineum = "STUIT", aggStr("C") }),      // den
			aggChild(func(r *R) { r.Perineum = aggStr("F") }),                             // den
			aggChild(func(r *R) { r.AdPartus, r.Perineum = 200, aggStr("B") }),            // den
			aggChild(func(r *R) { r.TypePartus, r.Perineum = "SECTIO_SEC", aggStr("D") }), // out
			aggChild(nil), // unknown: out
		}, 2, 6},
		{"IG-09", []R{
			aggChild(func(r *R) { r.VerantwBeginBaring, r.Overdracht = aggStr("1e_lijn"), aggStr("durante_partu") }), // num
			aggChild(func(r *R) { r.VerantwBeginBaring, r.Overdracht = aggStr("1e_lijn"), aggStr("geen") }),          // den
			aggChild(func(r *R) { r.VerantwBeginBaring = aggStr("1e_lijn") }),                                        // den
			aggChild(func(r *R) { r.VerantwBeginBaring, r.Overdracht = aggStr("1e_lijn"), aggStr("postpartum") }),    // den
			aggChild(func(r *R) { r.VerantwBeginBaring, r.Overdracht = aggStr("2e_lijn"), aggStr("durante_partu") }), // out
			aggChild(func(r *R) { r.VerantwBeginBaring = aggStr("onbekend") }),                                       // out
			aggChild(func(r *R) { r.Overdracht = aggStr("durante_partu") }),                                          // out
		}, 1, 4},
		{"IG-10", []R{
			aggChild(func(r *R) { r.AdPartus = 154 }), // num
			aggChild(func(r *R) { r.AdPartus = 258 }), // num
			aggChild(func(r *R) { r.AdPartus = 259 }), // den
			aggChild(func(r *R) { r.AdPartus = 300 }), // den
			aggChild(func(r *R) { r.AdPartus = 153 }), // not a birth: out
		}, 2, 4},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			ind, odb := runLVR1Agg(t, 1, aggRecords(tt.recs...))
			for _, vsv := range []string{"VSV-A", "NL"} {
				r := findIGAgg(t, ind[2025].Rows, vsv, tt.id)
				wantCountAgg(t, vsv+" numerator", r.Numerator, tt.num)
				wantCountAgg(t, vsv+" denominator", r.Denominator, tt.den)
				per := 100.0
				if tt.id == "IG-06" {
					per = 1000
				}
				wantFloatAgg(t, vsv+" score", r.Score, per*float64(tt.num)/float64(tt.den))
				z := findODBAgg(t, odb[2025].Rows, vsv, tt.id)
				wantCountAgg(t, vsv+" Teller", z.Teller, tt.num)
				wantCountAgg(t, vsv+" Noemer", z.Noemer, tt.den)
			}
		})
	}
}

// TestIGPerMilleAgg: IG-06 with 4 deaths in 7 births: 571.428…‰, rounded
// 571.4 in the ZIN table.
func TestIGPerMilleAgg(t *testing.T) {
	var rs []schemas.LVR1Staged
	for i := range 7 {
		rs = append(rs, aggChild(func(r *schemas.LVR1Staged) {
			if i < 4 {
				r.Sterfte = aggI32(3)
			}
		}))
	}
	ind, odb := runLVR1Agg(t, 1, aggRecords(rs...))
	r := findIGAgg(t, ind[2025].Rows, "VSV-A", "IG-06")
	wantFloatAgg(t, "score", r.Score, 4000.0/7)
	if r.Unit != "‰" || r.IndicatorName != "Perinatal mortality" {
		t.Errorf("unit %q name %q, want ‰ Perinatal mortality", r.Unit, r.IndicatorName)
	}
	z := findODBAgg(t, odb[2025].Rows, "VSV-A", "IG-06")
	wantFloatAgg(t, "IndicatorWaarde", z.IndicatorWaarde, 571.4)
	if z.IndicatorEenheid != "Promille" {
		t.Errorf("IndicatorEenheid: got %q, want Promille", z.IndicatorEenheid)
	}
}

func TestRoundedScoreAgg(t *testing.T) {
	tests := []struct {
		num, den, per int64
		want          float64
	}{
		{1, 8, 100, 12.5},     // 12.5 exactly
		{1, 3, 100, 33.3},     // 33.333…
		{2, 3, 100, 66.7},     // 66.666…
		{1, 6, 100, 16.7},     // 16.666…
		{5, 16, 100, 31.3},    // 31.25: half up
		{1, 800, 100, 0.1},    // 0.125: 0.1 (1.25 tenths rounds to 1)
		{1, 1600, 100, 0.1},   // 0.0625: 0.625 tenths rounds to 1
		{0, 5, 100, 0},        //
		{5, 5, 100, 100},      //
		{1, 3, 1000, 333.3},   // 333.333…‰
		{2, 3, 1000, 666.7},   // 666.666…‰
		{1, 16, 1000, 62.5},   // 62.5‰
		{1, 80, 1000, 12.5},   // 12.5‰
		{1, 16000, 1000, 0.1}, // 0.0625‰
		{3, 16000, 1000, 0.2}, // 0.1875‰
		{1, 2000, 1000, 0.5},  // 0.5‰
		{4, 7, 1000, 571.4},   // 571.428…‰
	}
	for _, tt := range tests {
		if got := roundedScore(tt.num, tt.den, tt.per); got != tt.want {
			t.Errorf("roundedScore(%d, %d, %d): got %v, want %v", tt.num, tt.den, tt.per, got, tt.want)
		}
	}
}

func TestIGPracticesAgg(t *testing.T) {
	type R = schemas.LVR1Staged
	recs := aggRecords(
		aggNTSV(func(r *R) { r.Practice = "P1" }),
		aggNTSV(func(r *R) { r.Practice = "P2" }),
		aggNTSV(func(r *R) { r.Practice = "P2" }),
		aggChild(func(r *R) { r.Practice = "P3" }), // not NTSV
		// VSV-B has an NTSV birth too: with a denominator of 0 its IG-02 row
		// would be suppressed, and VSV-A's with it (complementary).
		aggNTSV(func(r *R) { r.Practice, r.VSV = "P3", "VSV-B" }),
	)
	ind, _ := runLVR1Agg(t, 1, recs)
	rows := ind[2025].Rows
	wantCountAgg(t, "VSV-A IG-02 n_practices", findIGAgg(t, rows, "VSV-A", "IG-02").NPractices, 2)
	wantCountAgg(t, "VSV-A IG-10 n_practices", findIGAgg(t, rows, "VSV-A", "IG-10").NPractices, 3)
	wantCountAgg(t, "VSV-B IG-10 n_practices", findIGAgg(t, rows, "VSV-B", "IG-10").NPractices, 1)
	// P3 is in both VSVs; nationally it counts once.
	wantCountAgg(t, "NL IG-10 n_practices", findIGAgg(t, rows, "NL", "IG-10").NPractices, 3)
	wantCountAgg(t, "NL IG-02 n_practices", findIGAgg(t, rows, "NL", "IG-02").NPractices, 3)
}

func TestIGRowsAgg(t *testing.T) {
	type R = schemas.LVR1Staged
	recs := []aggLVRIn{
		// (A first consult, so that VSV-B's IG-01 row is published and does
		// not pull VSV-A's into complementary suppression.)
		{aggChild(func(r *R) { r.Practice, r.VSV, r.AdEersteConsult = "P1", "VSV-B", aggI32(80) }), 0},
		{aggChild(func(r *R) { r.Practice = "P2" }), 1},
		{aggChild(func(r *R) { r.Practice, r.Year = "P1", 2026 }), 2},
		// A pregnancy whose first child is VSV-A/2025 and second VSV-B/2026
		// (inconsistent, but possible): IG-01 counts it in VSV-A/2025 only.
		{aggChild(func(r *R) {
			r.Practice, r.Pregnancy, r.Child, r.AantalKinderen, r.AdEersteConsult = "P9", "x", 1, 2, aggI32(50)
		}), 3},
		{aggChild(func(r *R) {
			r.Practice, r.Pregnancy, r.Child, r.AantalKinderen, r.AdEersteConsult = "P9", "x", 2, 2, aggI32(50)
			r.VSV, r.Year = "VSV-B", 2026
		}), 4},
	}
	ind, odb := runLVR1Agg(t, 1, recs)
	if len(ind) != 2 || len(odb) != 2 {
		t.Fatalf("got %d and %d years, want 2 and 2", len(ind), len(odb))
	}
	for _, tt := range []struct {
		year    int32
		vsvs    []string
		sources []int
	}{
		{2025, []string{"NL", "VSV-A", "VSV-B"}, []int{0, 1, 3}},
		{2026, []string{"NL", "VSV-A", "VSV-B"}, []int{2, 4}},
	} {
		var want, got, gotODB []string
		for _, v := range tt.vsvs {
			for _, def := range schemas.IGCatalogue {
				want = append(want, v+" "+def.ID+" "+def.Name+" "+def.Unit)
			}
		}
		for _, r := range ind[tt.year].Rows {
			got = append(got, r.VSV+" "+r.IndicatorID+" "+r.IndicatorName+" "+r.Unit)
		}
		for _, z := range odb[tt.year].Rows {
			gotODB = append(gotODB, z.VSV+" "+z.IndicatorCode+" "+z.IndicatorNaam+" "+
				map[string]string{"Percentage": "%", "Promille": "‰"}[z.IndicatorEenheid])
		}
		if !slices.Equal(got, want) {
			t.Errorf("%d rows:\n got %q\nwant %q", tt.year, got, want)
		}
		if !slices.Equal(gotODB, want) {
			t.Errorf("%d ODB rows:\n got %q\nwant %q", tt.year, gotODB, want)
		}
		if !slices.Equal(ind[tt.year].Sources, tt.sources) || !slices.Equal(odb[tt.year].Sources, tt.sources) {
			t.Errorf("%d sources: got %v and %v, want %v", tt.year, ind[tt.year].Sources, odb[tt.year].Sources, tt.sources)
		}
	}
	wantCountAgg(t, "VSV-A 2025 IG-01 denominator", findIGAgg(t, ind[2025].Rows, "VSV-A", "IG-01").Denominator, 1)
	wantCountAgg(t, "VSV-A 2025 IG-10 denominator", findIGAgg(t, ind[2025].Rows, "VSV-A", "IG-10").Denominator, 2)
	if r := findIGAgg(t, ind[2026].Rows, "VSV-B", "IG-01"); !r.Suppressed || r.Denominator != nil {
		t.Errorf("VSV-B 2026 IG-01 (denominator 0): got %+v, want suppressed", r)
	}
	wantCountAgg(t, "VSV-B 2026 IG-10 denominator", findIGAgg(t, ind[2026].Rows, "VSV-B", "IG-10").Denominator, 1)
}

// TestIGSuppressionODBAgg: min_cell 10. IG-10: VSV-A 16 births (5 preterm),
// VSV-B 4 (primary), VSV-C 12 (complementary: the next smallest), NL 32
// (5 preterm: 15.625%, 15.6).
func TestIGSuppressionODBAgg(t *testing.T) {
	type R = schemas.LVR1Staged
	var rs []R
	for i := range 16 {
		rs = append(rs, aggChild(func(r *R) {
			if i < 5 {
				r.AdPartus = 250
			}
		}))
	}
	for range 4 {
		rs = append(rs, aggChild(func(r *R) { r.VSV = "VSV-B" }))
	}
	for range 12 {
		rs = append(rs, aggChild(func(r *R) { r.VSV = "VSV-C" }))
	}
	ind, odb := runLVR1Agg(t, 10, aggRecords(rs...))
	rows, zrows := ind[2025].Rows, odb[2025].Rows

	a := findIGAgg(t, rows, "VSV-A", "IG-10")
	wantCountAgg(t, "VSV-A numerator", a.Numerator, 5)
	wantCountAgg(t, "VSV-A denominator", a.Denominator, 16)
	wantFloatAgg(t, "VSV-A score", a.Score, 31.25)
	wantCountAgg(t, "VSV-A n_practices", a.NPractices, 1)
	begin, end := int32(schemas.DateOf(2025, time.January, 1)), int32(schemas.DateOf(2025, time.December, 31))
	za := findODBAgg(t, zrows, "VSV-A", "IG-10")
	want := schemas.IGODB{IndicatorsetNaam: "Integrale Geboortezorg", IndicatorsetCode: "IG", Verslagjaar: 2025,
		VSV: "VSV-A", IndicatorCode: "IG-10", IndicatorNaam: "Preterm birth", IndicatorEenheid: "Percentage",
		MeetperiodeBeginDatum: begin, MeetperiodeEindDatum: end, Bron: "LVR1 via ttpgate (TTP)"}
	got := *za
	got.IndicatorWaarde, got.Teller, got.Noemer = nil, nil, nil
	if got != want {
		t.Errorf("VSV-A ODB row:\n got %+v\nwant %+v", got, want)
	}
	wantFloatAgg(t, "VSV-A IndicatorWaarde", za.IndicatorWaarde, 31.3)
	wantCountAgg(t, "VSV-A Teller", za.Teller, 5)
	wantCountAgg(t, "VSV-A Noemer", za.Noemer, 16)

	wantFloatAgg(t, "NL IndicatorWaarde", findODBAgg(t, zrows, "NL", "IG-10").IndicatorWaarde, 15.6)
	wantCountAgg(t, "NL denominator", findIGAgg(t, rows, "NL", "IG-10").Denominator, 32)

	for _, tt := range []struct{ vsv, note string }{
		{"VSV-B", "Onderdrukt: noemer kleiner dan 10"},
		{"VSV-C", "Onderdrukt: complementaire onderdrukking"},
	} {
		r := findIGAgg(t, rows, tt.vsv, "IG-10")
		if !r.Suppressed || r.Numerator != nil || r.Denominator != nil || r.Score != nil || r.NPractices != nil {
			t.Errorf("%s IG-10: got %+v, want suppressed with nulls", tt.vsv, r)
		}
		z := findODBAgg(t, zrows, tt.vsv, "IG-10")
		if !z.IndicatorNB || z.Teller != nil || z.Noemer != nil || z.IndicatorWaarde != nil {
			t.Errorf("%s IG-10 ODB: got %+v, want Indicator_nb with nulls", tt.vsv, z)
		}
		if z.Opmerking == nil || *z.Opmerking != tt.note {
			t.Errorf("%s IG-10 Opmerking: got %v, want %q", tt.vsv, z.Opmerking, tt.note)
		}
	}
	// IG-01: no first consult anywhere: every denominator 0, all primary
	// (three VSVs suppressed: no complementary step needed).
	for _, v := range []string{"VSV-A", "VSV-B", "VSV-C", "NL"} {
		z := findODBAgg(t, zrows, v, "IG-01")
		if !z.IndicatorNB || z.Opmerking == nil || *z.Opmerking != "Onderdrukt: noemer kleiner dan 10" {
			t.Errorf("%s IG-01: got %+v, want primary suppression", v, z)
		}
	}
	if z := findODBAgg(t, zrows, "NL", "IG-10"); z.IndicatorNB || z.Opmerking != nil {
		t.Errorf("NL IG-10: got %+v, want published", z)
	}
}
