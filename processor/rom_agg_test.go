package processor

import (
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/ttpgate/ttpgate/schemas"
)

// Dates shared by the ROM aggregation tests: trajectories start on S and end
// on E (both in 2026-H1).
var (
	aggS = schemas.DateOf(2026, time.January, 1)
	aggE = schemas.DateOf(2026, time.March, 31)
)

type aggROMIn struct {
	rec schemas.ROMStaged
	src int
}

// traj is a trajectory row without a measurement, ending on E.
func aggTraj(org, id string) schemas.ROMStaged {
	end := int32(aggE)
	return schemas.ROMStaged{Organisation: org, Traject: id, Client: "c-" + id, Start: int32(aggS), End: &end}
}

// meas is a measurement of the trajectory t.
func aggMeas(t schemas.ROMStaged, instrument, moment string, date schemas.Date, score float64) schemas.ROMStaged {
	scale := "totaal"
	if instrument == "4DKL" {
		scale = "distress"
	}
	d := int32(date)
	t.Instrument, t.Scale, t.Moment, t.Date, t.Score = instrument, scale, moment, &d, &score
	return t
}

// pair is a trajectory with one pre (on S) and one post (on E) measurement.
func aggPair(org, id, instrument string, pre, post float64) []aggROMIn {
	t := aggTraj(org, id)
	return []aggROMIn{{aggMeas(t, instrument, "voor", aggS, pre), 0}, {aggMeas(t, instrument, "na", aggE, post), 0}}
}

func runROMAgg(t *testing.T, minCell int, recs []aggROMIn) (map[string]partition[schemas.ROMOutcome], map[string]partition[schemas.ROMResponse]) {
	t.Helper()
	recs = slices.Clone(recs)
	slices.SortStableFunc(recs, func(a, b aggROMIn) int { return compareROM(&a.rec, &b.rec) })
	a := newROMAggregator(aggParams{MinCell: minCell, Instruments: schemas.NewInstrumentTable(schemas.DefaultInstruments())})
	for i := range recs {
		a.add(&recs[i].rec, recs[i].src)
	}
	return a.finish()
}

func findOutcomeAgg(t *testing.T, rows []schemas.ROMOutcome, org, instrument string) *schemas.ROMOutcome {
	t.Helper()
	for i := range rows {
		if rows[i].Organisation == org && rows[i].Instrument == instrument {
			return &rows[i]
		}
	}
	t.Fatalf("no outcome row for %s %s in %+v", org, instrument, rows)
	return nil
}

func findResponseAgg(t *testing.T, rows []schemas.ROMResponse, org, prestatie string) *schemas.ROMResponse {
	t.Helper()
	for i := range rows {
		if rows[i].Organisation == org && rows[i].Prestatie == prestatie {
			return &rows[i]
		}
	}
	t.Fatalf("no response row for %s %s", org, prestatie)
	return nil
}

func wantFloatAgg(t *testing.T, name string, got *float64, want float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got null, want %v", name, want)
	} else if math.Abs(*got-want) > 1e-9 {
		t.Errorf("%s: got %.12g, want %.12g", name, *got, want)
	}
}

func wantNullAgg[T any](t *testing.T, name string, got *T) {
	t.Helper()
	if got != nil {
		t.Errorf("%s: got %v, want null", name, *got)
	}
}

func wantCountAgg(t *testing.T, name string, got *int64, want int64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got null, want %d", name, want)
	} else if *got != want {
		t.Errorf("%s: got %d, want %d", name, *got, want)
	}
}

// wantResponseAgg checks trajectories, completers, dropouts, nonstarters and
// nonresponders.
func wantResponseAgg(t *testing.T, r *schemas.ROMResponse, n, comp, drop, nonst, nonresp int64) {
	t.Helper()
	wantCountAgg(t, r.Organisation+"/"+r.Prestatie+" n_trajectories", r.NTrajectories, n)
	wantCountAgg(t, r.Organisation+"/"+r.Prestatie+" n_completers", r.NCompleters, comp)
	wantCountAgg(t, r.Organisation+"/"+r.Prestatie+" n_dropouts", r.NDropouts, drop)
	wantCountAgg(t, r.Organisation+"/"+r.Prestatie+" n_nonstarters", r.NNonstarters, nonst)
	wantCountAgg(t, r.Organisation+"/"+r.Prestatie+" n_nonresponders", r.NNonresponders, nonresp)
	if r.Suppressed {
		t.Errorf("%s/%s: suppressed", r.Organisation, r.Prestatie)
	}
}

const aggOrg1, aggOrg2, aggOrg3 = "11111111", "22222222", "33333333"

// Windows (defaults): pre in [S−90, S+21], post in [E−42, E+21].
func TestROMWindowEdgesAgg(t *testing.T) {
	a, b, c, d, e := aggTraj(aggOrg1, "a"), aggTraj(aggOrg1, "b"), aggTraj(aggOrg1, "c"), aggTraj(aggOrg1, "d"), aggTraj(aggOrg1, "e")
	recs := []aggROMIn{
		// a: pre exactly S−90, post exactly E+21: a pair.
		{aggMeas(a, "OQ-45", "voor", aggS-90, 70), 0}, {aggMeas(a, "OQ-45", "na", aggE+21, 40), 0},
		// b: pre at S−91 is out; post at E counts: a nonstarter.
		{aggMeas(b, "OQ-45", "voor", aggS-91, 99), 0}, {aggMeas(b, "OQ-45", "na", aggE, 10), 0},
		// c: pre exactly S+21, post exactly E−42: a pair.
		{aggMeas(c, "OQ-45", "voor", aggS+21, 60), 0}, {aggMeas(c, "OQ-45", "na", aggE-42, 50), 0},
		// d: pre at S+22 and post at E+22 are out: a nonresponder.
		{aggMeas(d, "OQ-45", "voor", aggS+22, 60), 0}, {aggMeas(d, "OQ-45", "na", aggE+22, 50), 0},
		// e: post at E−43 is out; "tussen" is never pre or post.
		{aggMeas(e, "OQ-45", "na", aggE-43, 50), 0}, {aggMeas(e, "OQ-45", "tussen", aggS+30, 50), 0},
	}
	out, resp := runROMAgg(t, 1, recs)
	part, ok := out["2026-H1"]
	if !ok || len(out) != 1 {
		t.Fatalf("got periods %v, want only 2026-H1", slices.Collect(maps.Keys(out)))
	}
	r := findOutcomeAgg(t, part.Rows, aggOrg1, "OQ-45")
	// Five trajectories have a measurement on OQ-45; a and c have pairs:
	// a: 70 → 40, improvement 30 ≥ 18, 70 ≥ 56 clinical, 40 not: recovered.
	// c: 60 → 50, improvement 10: unchanged.
	// mean_pre 65, mean_post 45, mean_improvement 20; improvements 30 and
	// 10: sd = √((10² + 10²)/1) = √200; ci half = 1.96·√200/√2 = 19.6.
	// sd of pre (70, 60) = √50; effect size = 20/√50 = 2√2.
	wantCountAgg(t, "n_trajectories", r.NTrajectories, 5)
	wantCountAgg(t, "n_pairs", r.NPairs, 2)
	wantFloatAgg(t, "mean_pre", r.MeanPre, 65)
	wantFloatAgg(t, "mean_post", r.MeanPost, 45)
	wantFloatAgg(t, "mean_improvement", r.MeanImprovement, 20)
	wantFloatAgg(t, "ci95_low", r.CI95Low, 0.4)
	wantFloatAgg(t, "ci95_high", r.CI95High, 39.6)
	wantFloatAgg(t, "effect_size", r.EffectSize, 2*math.Sqrt2)
	wantFloatAgg(t, "pct_recovered", r.PctRecovered, 50)
	wantFloatAgg(t, "pct_improved", r.PctImproved, 0)
	wantFloatAgg(t, "pct_unchanged", r.PctUnchanged, 50)
	wantFloatAgg(t, "pct_deteriorated", r.PctDeteriorated, 0)
	if r.ParamsProvisional || r.Suppressed {
		t.Errorf("OQ-45: got provisional %v suppressed %v, want false false", r.ParamsProvisional, r.Suppressed)
	}
	// Response: a and c completers, b nonstarter, d and e nonresponders.
	wantResponseAgg(t, findResponseAgg(t, resp["2026-H1"].Rows, aggOrg1, "alle"), 5, 2, 0, 1, 2)
}

func TestROMNearestTieAgg(t *testing.T) {
	a := aggTraj(aggOrg1, "a")
	recs := []aggROMIn{
		// pre candidates: S−30 (90), S−10 (80), S+10 (70): S−10 and S+10
		// are equally near; the earlier wins: 80.
		{aggMeas(a, "OQ-45", "voor", aggS-30, 90), 0}, {aggMeas(a, "OQ-45", "voor", aggS-10, 80), 0},
		{aggMeas(a, "OQ-45", "voor", aggS+10, 70), 0},
		// post candidates: E−5 (50), E+5 (40), E−20 (20): E−5 wins the tie.
		{aggMeas(a, "OQ-45", "na", aggE-20, 20), 0}, {aggMeas(a, "OQ-45", "na", aggE-5, 50), 0},
		{aggMeas(a, "OQ-45", "na", aggE+5, 40), 0},
	}
	out, _ := runROMAgg(t, 1, recs)
	r := findOutcomeAgg(t, out["2026-H1"].Rows, aggOrg1, "OQ-45")
	// One pair 80 → 50: improvement 30, recovered. n_pairs = 1: no sd, so
	// ci95 and effect_size are null.
	wantCountAgg(t, "n_pairs", r.NPairs, 1)
	wantFloatAgg(t, "mean_pre", r.MeanPre, 80)
	wantFloatAgg(t, "mean_post", r.MeanPost, 50)
	wantFloatAgg(t, "mean_improvement", r.MeanImprovement, 30)
	wantNullAgg(t, "ci95_low", r.CI95Low)
	wantNullAgg(t, "ci95_high", r.CI95High)
	wantNullAgg(t, "effect_size", r.EffectSize)
	wantFloatAgg(t, "pct_recovered", r.PctRecovered, 100)
}

func TestROMThreePairsAgg(t *testing.T) {
	var recs []aggROMIn
	recs = append(recs, aggPair(aggOrg1, "a", "OQ-45", 80, 50)...)
	recs = append(recs, aggPair(aggOrg1, "b", "OQ-45", 70, 60)...)
	recs = append(recs, aggPair(aggOrg1, "c", "OQ-45", 60, 40)...)
	out, _ := runROMAgg(t, 1, recs)
	r := findOutcomeAgg(t, out["2026-H1"].Rows, aggOrg1, "OQ-45")
	// improvements 30, 10, 20: mean 20, sd = √((100+100+0)/2) = 10,
	// ci half = 1.96·10/√3 = 11.316065276116667.
	// pre 80, 70, 60: mean 70, sd 10, effect size 20/10 = 2.
	// post 50, 60, 40: mean 50.
	// 80→50 (30, 80 clinical, 50 not): recovered; 70→60 (10): unchanged;
	// 60→40 (20 ≥ 18, 60 clinical, 40 not): recovered.
	half := 19.6 / math.Sqrt(3)
	wantCountAgg(t, "n_pairs", r.NPairs, 3)
	wantFloatAgg(t, "mean_pre", r.MeanPre, 70)
	wantFloatAgg(t, "mean_post", r.MeanPost, 50)
	wantFloatAgg(t, "mean_improvement", r.MeanImprovement, 20)
	wantFloatAgg(t, "ci95_low", r.CI95Low, 20-half)
	wantFloatAgg(t, "ci95_high", r.CI95High, 20+half)
	wantFloatAgg(t, "effect_size", r.EffectSize, 2)
	wantFloatAgg(t, "pct_recovered", r.PctRecovered, 200.0/3)
	wantFloatAgg(t, "pct_unchanged", r.PctUnchanged, 100.0/3)
	wantFloatAgg(t, "pct_improved", r.PctImproved, 0)
	wantFloatAgg(t, "pct_deteriorated", r.PctDeteriorated, 0)
}

func TestROMCategoriesAgg(t *testing.T) {
	tests := []struct {
		name       string
		instrument string
		pre, post  float64
		want       string
	}{
		// OQ-45: higher is worse, reliable change 18, cut-off 56.
		{"OQ recovered", "OQ-45", 80, 50, "recovered"},
		{"OQ exactly the reliable change, post at the cut-off (clinical)", "OQ-45", 74, 56, "improved"},
		{"OQ improvement 17", "OQ-45", 74, 57, "unchanged"},
		{"OQ deterioration exactly 18", "OQ-45", 40, 58, "deteriorated"},
		{"OQ deterioration 17", "OQ-45", 40, 57, "unchanged"},
		// MANSA: higher is better, reliable change 0.5, cut-off 4 (≤ 4 clinical).
		{"MANSA recovered", "MANSA", 3.5, 4.5, "recovered"},
		{"MANSA improved, stays clinical", "MANSA", 2, 3, "improved"},
		{"MANSA improved, starts non-clinical", "MANSA", 4.2, 4.7, "improved"},
		{"MANSA pre at the cut-off is clinical", "MANSA", 4, 4.5, "recovered"},
		{"MANSA unchanged", "MANSA", 3, 3.2, "unchanged"},
		{"MANSA deteriorated", "MANSA", 5, 4, "deteriorated"},
		// 2.3 − 1.8 is 0.4999999999999998 in float64 but 0.5 as written.
		{"MANSA decimal improvement of exactly 0.5", "MANSA", 1.8, 2.3, "improved"},
		{"MANSA decimal deterioration of exactly 0.5", "MANSA", 2.3, 1.8, "deteriorated"},
		// BSI: higher is worse, reliable change 0.5, cut-off 0.8. 0.7 − 0.2
		// is 0.49999999999999994 in float64.
		{"BSI decimal improvement of exactly 0.5", "BSI", 0.7, 0.2, "improved"},
		{"BSI recovered", "BSI", 1.3, 0.3, "recovered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := runROMAgg(t, 1, aggPair(aggOrg1, "a", tt.instrument, tt.pre, tt.post))
			r := findOutcomeAgg(t, out["2026-H1"].Rows, aggOrg1, tt.instrument)
			got := map[string]*float64{"recovered": r.PctRecovered, "improved": r.PctImproved,
				"unchanged": r.PctUnchanged, "deteriorated": r.PctDeteriorated}
			for cat, p := range got {
				want := 0.0
				if cat == tt.want {
					want = 100
				}
				wantFloatAgg(t, "pct_"+cat, p, want)
			}
			if want := tt.instrument != "OQ-45"; r.ParamsProvisional != want {
				t.Errorf("params_provisional: got %v, want %v", r.ParamsProvisional, want)
			}
		})
	}
}

// TestROMMansaPooledAgg: five MANSA pairs in one organisation and a second
// organisation: the national row pools all pairs.
func TestROMMansaPooledAgg(t *testing.T) {
	var recs []aggROMIn
	// org1: 3.5→4.5 recovered, 2→3 improved, 3→3.2 unchanged, 5→4
	// deteriorated: improvements 1, 1, 0.2, −1.
	recs = append(recs, aggPair(aggOrg1, "a", "MANSA", 3.5, 4.5)...)
	recs = append(recs, aggPair(aggOrg1, "b", "MANSA", 2, 3)...)
	recs = append(recs, aggPair(aggOrg1, "c", "MANSA", 3, 3.2)...)
	recs = append(recs, aggPair(aggOrg1, "d", "MANSA", 5, 4)...)
	// org2: 4.2→4.7 improved: improvement 0.5.
	recs = append(recs, aggPair(aggOrg2, "a", "MANSA", 4.2, 4.7)...)
	out, _ := runROMAgg(t, 1, recs)
	rows := out["2026-H1"].Rows
	// org1: mean improvement (1+1+0.2−1)/4 = 0.3.
	// NL: (1+1+0.2−1+0.5)/5 = 0.34, not the mean of the organisations'
	// means ((0.3+0.5)/2 = 0.4).
	// NL categories: recovered 1, improved 2, unchanged 1, deteriorated 1.
	wantFloatAgg(t, "org1 mean_improvement", findOutcomeAgg(t, rows, aggOrg1, "MANSA").MeanImprovement, 0.3)
	nl := findOutcomeAgg(t, rows, "NL", "MANSA")
	wantCountAgg(t, "NL n_pairs", nl.NPairs, 5)
	wantFloatAgg(t, "NL mean_improvement", nl.MeanImprovement, 0.34)
	// NL pre 3.5, 2, 3, 5, 4.2: mean 17.7/5 = 3.54.
	wantFloatAgg(t, "NL mean_pre", nl.MeanPre, 3.54)
	wantFloatAgg(t, "NL pct_recovered", nl.PctRecovered, 20)
	wantFloatAgg(t, "NL pct_improved", nl.PctImproved, 40)
	wantFloatAgg(t, "NL pct_unchanged", nl.PctUnchanged, 20)
	wantFloatAgg(t, "NL pct_deteriorated", nl.PctDeteriorated, 20)
	// Rows sorted by organisation: 11111111, 22222222, NL.
	var orgs []string
	for _, r := range rows {
		orgs = append(orgs, r.Organisation)
	}
	if want := []string{aggOrg1, aggOrg2, "NL"}; !slices.Equal(orgs, want) {
		t.Errorf("row order: got %v, want %v", orgs, want)
	}
}

func TestROMInclusionAgg(t *testing.T) {
	open := aggTraj(aggOrg1, "open")
	open.End = nil
	admin := aggTraj(aggOrg1, "admin")
	admin.RedenEinde = aggStr("administratief")
	// "late": delivery 0 says open, delivery 2 gives the end: included,
	// attributes from delivery 2 (prestatie kort).
	lateOld, lateNew := aggTraj(aggOrg1, "late"), aggTraj(aggOrg1, "late")
	lateOld.End = nil
	lateNew.Prestatie = aggStr("kort")
	// "undo": delivery 3 marks it administratief: excluded.
	undoOld, undoNew := aggTraj(aggOrg1, "undo"), aggTraj(aggOrg1, "undo")
	undoNew.RedenEinde = aggStr("administratief")
	// "h2": ends on 1 July: 2026-H2. "h1": ends on 30 June: 2026-H1.
	h2, h1 := aggTraj(aggOrg2, "h2"), aggTraj(aggOrg2, "h1")
	jul, jun := int32(schemas.DateOf(2026, time.July, 1)), int32(schemas.DateOf(2026, time.June, 30))
	h2.End, h1.End = &jul, &jun
	// "tie": two records from the same delivery; the last added (the
	// measurement, which sorts after the trajectory row) gives the end.
	tieA, tieB := aggTraj(aggOrg2, "tie"), aggTraj(aggOrg2, "tie")
	tieA.End = nil
	recs := []aggROMIn{
		{open, 1}, {admin, 1},
		{lateOld, 0}, {aggMeas(lateNew, "OQ-45", "voor", aggS, 70), 2},
		{undoOld, 0}, {aggMeas(undoNew, "OQ-45", "na", aggE, 70), 3},
		{h2, 4}, {h1, 5},
		{tieA, 6}, {aggMeas(tieB, "OQ-45", "na", aggE, 70), 6},
	}
	out, resp := runROMAgg(t, 1, recs)
	h1rows := resp["2026-H1"].Rows
	// 2026-H1: late (org1, kort, dropout), h1 and tie (org2).
	wantResponseAgg(t, findResponseAgg(t, h1rows, aggOrg1, "alle"), 1, 0, 1, 0, 0)
	wantResponseAgg(t, findResponseAgg(t, h1rows, aggOrg1, "kort"), 1, 0, 1, 0, 0)
	wantResponseAgg(t, findResponseAgg(t, h1rows, aggOrg2, "alle"), 2, 0, 0, 1, 1)
	wantResponseAgg(t, findResponseAgg(t, h1rows, "NL", "alle"), 3, 0, 1, 1, 1)
	wantResponseAgg(t, findResponseAgg(t, h1rows, "NL", "kort"), 1, 0, 1, 0, 0)
	if len(h1rows) != 5 {
		t.Errorf("2026-H1 response: got %d rows, want 5: %+v", len(h1rows), h1rows)
	}
	if got, want := resp["2026-H1"].Sources, []int{0, 2, 5, 6}; !slices.Equal(got, want) {
		t.Errorf("2026-H1 sources: got %v, want %v", got, want)
	}
	h2rows := resp["2026-H2"].Rows
	wantResponseAgg(t, findResponseAgg(t, h2rows, aggOrg2, "alle"), 1, 0, 0, 0, 1)
	if got, want := resp["2026-H2"].Sources, []int{4}; !slices.Equal(got, want) {
		t.Errorf("2026-H2 sources: got %v, want %v", got, want)
	}
	if len(resp) != 2 {
		t.Errorf("response periods: got %d, want 2", len(resp))
	}
	// Outcomes: only 2026-H1 has measurements (late and tie).
	if _, ok := out["2026-H2"]; ok || len(out) != 1 {
		t.Errorf("outcome periods: got %v, want only 2026-H1", slices.Collect(maps.Keys(out)))
	}
	// Two trajectories with OQ-45 measurements but no pair: n_pairs 0 is
	// below any min_cell, so the row is suppressed.
	r := findOutcomeAgg(t, out["2026-H1"].Rows, "NL", "OQ-45")
	if !r.Suppressed || r.NTrajectories != nil || r.NPairs != nil || r.MeanPre != nil {
		t.Errorf("NL OQ-45 without pairs: got %+v, want suppressed with null counts", r)
	}
}

// TestROMResponseAgg: a completer needs pre and post on the same
// instrument and scale.
func TestROMResponseAgg(t *testing.T) {
	a, b, c, d := aggTraj(aggOrg1, "a"), aggTraj(aggOrg1, "b"), aggTraj(aggOrg1, "c"), aggTraj(aggOrg1, "d")
	a.Prestatie, b.Prestatie = aggStr("kort"), aggStr("kort")
	c.Prestatie = aggStr("intensief")
	recs := []aggROMIn{
		// a: pre on OQ-45 and SQ-48, post on SQ-48: completer.
		{aggMeas(a, "OQ-45", "voor", aggS, 70), 0}, {aggMeas(a, "SQ-48", "voor", aggS, 70), 0},
		{aggMeas(a, "SQ-48", "na", aggE, 30), 0},
		// b: pre on OQ-45, post on SQ-48: not a completer, a dropout.
		{aggMeas(b, "OQ-45", "voor", aggS, 70), 0}, {aggMeas(b, "SQ-48", "na", aggE, 30), 0},
		// c: only a trajectory row: nonresponder.
		{c, 0},
		// d: no prestatie, post only: nonstarter, in alle only.
		{aggMeas(d, "HONOS", "na", aggE, 10), 0},
	}
	_, resp := runROMAgg(t, 1, recs)
	rows := resp["2026-H1"].Rows
	wantResponseAgg(t, findResponseAgg(t, rows, aggOrg1, "alle"), 4, 1, 1, 1, 1)
	wantResponseAgg(t, findResponseAgg(t, rows, aggOrg1, "kort"), 2, 1, 1, 0, 0)
	wantResponseAgg(t, findResponseAgg(t, rows, aggOrg1, "intensief"), 1, 0, 0, 0, 1)
	wantFloatAgg(t, "alle response_rate", findResponseAgg(t, rows, aggOrg1, "alle").ResponseRate, 25)
	wantFloatAgg(t, "kort response_rate", findResponseAgg(t, rows, aggOrg1, "kort").ResponseRate, 50)
	// Sorted by organisation, then prestatie.
	var keys []string
	for _, r := range rows {
		keys = append(keys, r.Organisation+"/"+r.Prestatie)
	}
	want := []string{aggOrg1 + "/alle", aggOrg1 + "/intensief", aggOrg1 + "/kort", "NL/alle", "NL/intensief", "NL/kort"}
	if !slices.Equal(keys, want) {
		t.Errorf("rows: got %v, want %v", keys, want)
	}
}

// TestROMSuppressionAgg: min_cell 3, through the aggregator. (The national
// row as the complementary cell cannot arise from real counts, since the
// national count is the sum; TestSuppressGroupAgg covers it.)
func TestROMSuppressionAgg(t *testing.T) {
	var recs []aggROMIn
	for _, id := range []string{"a", "b"} {
		recs = append(recs, aggPair(aggOrg1, id, "CORE-10", 30, 10)...)
	}
	for _, id := range []string{"a", "b", "c", "d"} {
		recs = append(recs, aggPair(aggOrg2, id, "CORE-10", 30, 10)...)
		recs = append(recs, aggROMIn{aggTraj(aggOrg3, id), 0})
	}
	// OQ-45: org3 alone has 1 pair; NL then has 1 pair too: both primary.
	recs = append(recs, aggROMIn{aggMeas(aggTraj(aggOrg3, "a"), "OQ-45", "voor", aggS, 70), 0},
		aggROMIn{aggMeas(aggTraj(aggOrg3, "a"), "OQ-45", "na", aggE, 30), 0})
	out, resp := runROMAgg(t, 3, recs)

	// Response "alle": org1 has 2 trajectories (primary); org2 and org3
	// have 4 each, a tie, so org2, the lower code, is suppressed too; NL
	// (10) is published.
	rows := resp["2026-H1"].Rows
	for _, tt := range []struct {
		org        string
		suppressed bool
	}{{aggOrg1, true}, {aggOrg2, true}, {aggOrg3, false}, {"NL", false}} {
		r := findResponseAgg(t, rows, tt.org, "alle")
		if r.Suppressed != tt.suppressed {
			t.Errorf("%s alle: suppressed %v, want %v", tt.org, r.Suppressed, tt.suppressed)
		}
		if r.Suppressed && (r.NTrajectories != nil || r.NCompleters != nil || r.ResponseRate != nil) {
			t.Errorf("%s alle: suppressed row has values: %+v", tt.org, r)
		}
	}
	wantResponseAgg(t, findResponseAgg(t, rows, "NL", "alle"), 10, 7, 0, 0, 3)

	orows := out["2026-H1"].Rows
	// CORE-10: org1 2 pairs (primary), org2 4 pairs (complementary), NL 6
	// pairs published. OQ-45: org3 alone has 1 pair, so NL has 1 too: both
	// primary.
	for _, tt := range []struct {
		org, instrument string
		suppressed      bool
	}{{aggOrg1, "CORE-10", true}, {aggOrg2, "CORE-10", true}, {"NL", "CORE-10", false},
		{aggOrg3, "OQ-45", true}, {"NL", "OQ-45", true}} {
		r := findOutcomeAgg(t, orows, tt.org, tt.instrument)
		if r.Suppressed != tt.suppressed {
			t.Errorf("%s %s: suppressed %v, want %v", tt.org, tt.instrument, r.Suppressed, tt.suppressed)
		}
		if r.Suppressed && (r.NPairs != nil || r.NTrajectories != nil || r.MeanPre != nil || r.PctRecovered != nil) {
			t.Errorf("%s %s: suppressed row has values: %+v", tt.org, tt.instrument, r)
		}
		if !r.ParamsProvisional && tt.instrument == "CORE-10" {
			t.Errorf("%s %s: params_provisional lost", tt.org, tt.instrument)
		}
	}
	wantCountAgg(t, "NL CORE-10 n_pairs", findOutcomeAgg(t, orows, "NL", "CORE-10").NPairs, 6)
}

func TestROMUnknownInstrumentIgnoredAgg(t *testing.T) {
	a := aggTraj(aggOrg1, "a")
	recs := []aggROMIn{
		{aggMeas(a, "OQ-45", "voor", aggS, 70), 0},
		{aggMeas(a, "NOPE", "voor", aggS, 70), 0}, {aggMeas(a, "NOPE", "na", aggE, 10), 0},
	}
	out, resp := runROMAgg(t, 1, recs)
	for _, r := range out["2026-H1"].Rows {
		if r.Instrument == "NOPE" {
			t.Errorf("row for an unknown instrument: %+v", r)
		}
	}
	// The unknown instrument's pair does not make a completer.
	wantResponseAgg(t, findResponseAgg(t, resp["2026-H1"].Rows, aggOrg1, "alle"), 1, 0, 1, 0, 0)
}

func TestCmpDiffAgg(t *testing.T) {
	tests := []struct {
		a, b, c float64
		want    int
	}{
		{0.7, 0.2, 0.5, 0},
		{2.3, 1.8, 0.5, 0},
		{1.8, 2.3, -0.5, 0},
		{0.71, 0.2, 0.5, 1},
		{0.7, 0.21, 0.5, -1},
		{74, 56, 18, 0},
		{74, 57, 18, -1},
		{180, 0, 18, 1},
	}
	for _, tt := range tests {
		if got := cmpDiff(tt.a, tt.b, tt.c); got != tt.want {
			t.Errorf("cmpDiff(%v, %v, %v): got %d, want %d", tt.a, tt.b, tt.c, got, tt.want)
		}
	}
}

func TestMomentsAgg(t *testing.T) {
	// Large offset, small spread: 1e9+4, 1e9+7, 1e9+13, 1e9+16: mean 1e9+10,
	// deviations −6, −3, 3, 6: sample variance (36+9+9+36)/3 = 30.
	var m moments
	for _, x := range []float64{1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16} {
		m.add(x)
	}
	if got := m.mean(); got != 1e9+10 {
		t.Errorf("mean: got %.17g, want 1e9+10", got)
	}
	if got := m.sd(); math.Abs(got-math.Sqrt(30)) > 1e-9 {
		t.Errorf("sd: got %.17g, want √30", got)
	}
}
