package synth

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// share reports n/total and fails when it is outside [lo, hi].
func expectShare(t *testing.T, what string, n, total int, lo, hi float64) {
	t.Helper()
	s := float64(n) / float64(total)
	t.Logf("%-34s %6.2f%% (%d of %d)", what, 100*s, n, total)
	if s < lo || s > hi {
		t.Errorf("%s: got %.3f, want %.3f…%.3f", what, s, lo, hi)
	}
}

func TestROMRealism(t *testing.T) {
	t.Parallel()
	td := dialectOf(t, Standard)
	tb := parse(t, generate(t, datasets[0], Options{Rows: 100_000, Seed: 17}), td)
	// Leave out the last client, which may be cut short.
	last := tb.get(tb.rows[len(tb.rows)-1], "client_id")
	for len(tb.rows) > 0 && tb.get(tb.rows[len(tb.rows)-1], "client_id") == last {
		tb.rows = tb.rows[:len(tb.rows)-1]
	}

	type traject struct {
		fields      string // trajectory-level fields, identical on every row
		client      string
		start, end  time.Time
		open        bool
		rows        int
		measured    int
		instruments map[string]bool
		scores      map[string]map[string]float64 // instrument -> meetmoment -> score
		prestatie   string
		reden       string
	}
	date := func(s string) time.Time {
		tm, _ := time.Parse(time.DateOnly, s)
		return tm
	}
	clients := map[string]string{} // org/client -> client-level fields
	clientTrajects := map[string]int{}
	trajects := map[string]*traject{}
	var order []string
	orgs := map[string]bool{}
	sexes := map[string]bool{}
	var nonASCII, decimals int
	p0, p1 := date("2025-01-01"), date("2026-12-31")
	for _, r := range tb.rows {
		g := func(c string) string { return tb.get(r, c) }
		org := g("agb_organisatie")
		orgs[org] = true
		ck := org + "/" + g("client_id")
		cf := strings.Join([]string{g("bsn"), g("geboortejaar"), g("geslacht")}, ",")
		if prev, ok := clients[ck]; ok && prev != cf {
			t.Fatalf("client %s has fields %q and %q", ck, prev, cf)
		}
		clients[ck] = cf
		sexes[g("geslacht")] = true
		if strings.ContainsFunc(g("client_id"), func(r rune) bool { return r > 127 }) {
			nonASCII++
		}
		if by := g("geboortejaar"); by != "" {
			y, _ := strconv.Atoi(by)
			if y < 1940 || y > 2008 {
				t.Errorf("geboortejaar %d outside 1940…2008", y)
			}
		}

		tk := org + "/" + g("traject_id")
		tf := strings.Join([]string{g("client_id"), g("traject_start"), g("traject_eind"), g("prestatie"), g("reden_einde")}, ",")
		tr := trajects[tk]
		if tr == nil {
			tr = &traject{fields: tf, client: ck, start: date(g("traject_start")), open: g("traject_eind") == "",
				instruments: map[string]bool{}, scores: map[string]map[string]float64{},
				prestatie: g("prestatie"), reden: g("reden_einde")}
			if !tr.open {
				tr.end = date(g("traject_eind"))
			}
			trajects[tk] = tr
			order = append(order, tk)
			clientTrajects[ck]++
		} else if tr.fields != tf {
			t.Fatalf("trajectory %s has fields %q and %q", tk, tr.fields, tf)
		}
		tr.rows++
		if tr.start.Before(p0) || tr.start.After(p1) || (!tr.open && tr.end.After(p1)) {
			t.Errorf("trajectory %s (%v–%v) outside 2025…2026", tk, tr.start, tr.end)
		}
		in := g("instrument")
		if in == "" {
			continue
		}
		tr.measured++
		tr.instruments[in] = true
		if strings.Contains(g("score"), ".") {
			decimals++
		}
		md := date(g("meetdatum"))
		switch g("meetmoment") {
		case "voor":
			if d := md.Sub(tr.start).Hours() / 24; d < -7 || d > 14 {
				t.Errorf("trajectory %s: voor %v days after the start", tk, d)
			}
		case "na":
			if d := md.Sub(tr.end).Hours() / 24; tr.open || d < -14 || d > 7 {
				t.Errorf("trajectory %s: na %v days after the end (open %v)", tk, d, tr.open)
			}
		}
		if tr.scores[in] == nil {
			tr.scores[in] = map[string]float64{}
		}
		s, _ := strconv.ParseFloat(g("score"), 64)
		tr.scores[in][g("meetmoment")] = s
	}

	if len(orgs) != 2 {
		t.Errorf("got organisations %v, want the two defaults", orgs)
	}
	for _, s := range []string{"M", "V", "X"} {
		if !sexes[s] {
			t.Errorf("geslacht %s never appears", s)
		}
	}
	for ck, n := range clientTrajects {
		if n > 2 {
			t.Errorf("client %s has %d trajectories, want 1–2", ck, n)
		}
	}
	var open, admin, none, withPrestatie, pairs, improved, worse int
	var deltas []float64
	instrumentsSeen := map[string]bool{}
	for _, tk := range order {
		tr := trajects[tk]
		if tr.open {
			open++
		}
		if tr.reden == "administratief" {
			admin++
		}
		if tr.prestatie != "" {
			withPrestatie++
		}
		if tr.measured == 0 {
			none++
			if tr.rows != 1 {
				t.Errorf("trajectory %s without measurements has %d rows", tk, tr.rows)
			}
		}
		if tr.measured > 4 || len(tr.instruments) > 2 {
			t.Errorf("trajectory %s: %d measurements on %d instruments, want ≤ 4 on ≤ 2", tk, tr.measured, len(tr.instruments))
		}
		for in := range tr.instruments {
			instrumentsSeen[in] = true
		}
		if s := tr.scores["OQ-45"]; s != nil {
			voor, ok1 := s["voor"]
			na, ok2 := s["na"]
			if ok1 && ok2 {
				pairs++
				deltas = append(deltas, na-voor)
				if na-voor <= -18 {
					improved++
				}
				if na-voor >= 18 {
					worse++
				}
			}
		}
	}
	n := len(order)
	expectShare(t, "open trajectories", open, n, 0.08, 0.12)
	expectShare(t, "reden_einde administratief", admin, n, 0.02, 0.04)
	expectShare(t, "trajectories without measurement", none, n, 0.04, 0.06)
	expectShare(t, "prestatie filled", withPrestatie, n, 0.80, 0.95)
	expectShare(t, "clients with 2 trajectories", n-len(clients), len(clients), 0.10, 0.25)
	expectShare(t, "non-ASCII client ids (rows)", nonASCII, len(tb.rows), 0.02, 0.08)
	expectShare(t, "OQ-45 reliably improved", improved, pairs, 0.35, 0.65)
	expectShare(t, "OQ-45 reliably deteriorated", worse, pairs, 0.01, 0.10)
	if decimals == 0 {
		t.Error("no score with decimals")
	}
	if got := len(instrumentsSeen); got != len(testInstruments) {
		t.Errorf("got %d instruments, want all %d", got, len(testInstruments))
	}
	slices.Sort(deltas)
	t.Logf("OQ-45 median change voor→na: %.0f over %d pairs", deltas[len(deltas)/2], len(deltas))
}

func TestLVR1Realism(t *testing.T) {
	t.Parallel()
	td := dialectOf(t, Standard)
	tb := parse(t, generate(t, datasets[1], Options{Rows: 100_000, Seed: 19}), td)
	counts := map[string]map[string]int{}
	count := func(col, v string) {
		if counts[col] == nil {
			counts[col] = map[string]int{}
		}
		counts[col][v]++
	}
	motherCols := []string{"bsn_moeder", "client_id", "geboortejaar_moeder", "postcode", "agb_praktijk",
		"vsv_code", "datum_eerste_consult", "ad_eerste_consult", "pariteit", "aantal_kinderen",
		"verantw_begin_baring", "overdracht", "wijze_begin_baring", "plaats_baring", "datum_partus",
		"ad_partus", "perineum", "bloedverlies"}
	mother := func(r []string) string {
		var b strings.Builder
		for _, c := range motherCols {
			b.WriteString(tb.get(r, c) + ",")
		}
		return b.String()
	}
	seen := map[string]bool{}
	var pregnancies, twins, preterm, sectio, haemorrhage, bloodKnown, apgarHigh, apgarKnown int
	var weights []int
	for i := 0; i < len(tb.rows); i++ {
		r := tb.rows[i]
		g := func(c string) string { return tb.get(r, c) }
		id := g("zwangerschap_id")
		if seen[id] {
			t.Fatalf("row %d: zwangerschap_id seen before, not on the previous row", i+2)
		}
		seen[id] = true
		pregnancies++
		if g("aantal_kinderen") == "2" {
			twins++
			if i+1 == len(tb.rows) {
				break // cut short
			}
			r2 := tb.rows[i+1]
			if tb.get(r2, "zwangerschap_id") != id || g("kindvolgnummer") != "1" ||
				tb.get(r2, "kindvolgnummer") != "2" || mother(r) != mother(r2) {
				t.Errorf("rows %d–%d: twins not two consecutive rows sharing the mother's fields", i+2, i+3)
			}
			i++
		} else if g("aantal_kinderen") != "1" || g("kindvolgnummer") != "1" {
			t.Errorf("row %d: aantal_kinderen %s, kindvolgnummer %s", i+2, g("aantal_kinderen"), g("kindvolgnummer"))
		}
		ad, _ := strconv.Atoi(g("ad_partus"))
		if ad < 259 {
			preterm++
		}
		if strings.HasPrefix(g("type_partus"), "SECTIO") {
			sectio++
		}
		if v := g("bloedverlies"); v != "" {
			bloodKnown++
			if ml, _ := strconv.Atoi(v); ml >= 1000 {
				haemorrhage++
			}
		}
		if v := g("apgar5"); v != "" {
			apgarKnown++
			if v == "9" || v == "10" {
				apgarHigh++
			}
		}
		if w := g("geboortegewicht"); w != "" && ad >= 273 && ad <= 286 {
			n, _ := strconv.Atoi(w)
			weights = append(weights, n)
		}
		for _, c := range []string{"pariteit", "type_partus", "ligging", "perineum", "nicu_opname", "sterfte",
			"plaats_baring", "overdracht", "verantw_begin_baring", "wijze_begin_baring", "geslacht_kind"} {
			count(c, g(c))
		}
		pc := g("postcode")
		switch {
		case pc == "":
			count("postcode", "empty")
		case len(pc) == 4:
			count("postcode", "1234")
		case strings.Contains(pc, " "):
			count("postcode", "1234 AB")
		default:
			count("postcode", "1234AB")
		}
		for _, c := range tb.header {
			if g(c) == "" {
				count("empty", c)
			}
		}
	}
	rows := len(tb.rows)
	expectShare(t, "twin pregnancies", twins, pregnancies, 0.01, 0.02)
	expectShare(t, "pariteit 0", counts["pariteit"]["0"], pregnancies, 0.40, 0.50)
	expectShare(t, "preterm (ad_partus < 259)", preterm, pregnancies, 0.06, 0.09)
	expectShare(t, "sectio (first child)", sectio, pregnancies, 0.12, 0.18)
	expectShare(t, "vacuum", counts["type_partus"]["VACUUM"], pregnancies, 0.06, 0.10)
	expectShare(t, "breech (ligging 11–12)", counts["ligging"]["11"]+counts["ligging"]["12"], pregnancies, 0.03, 0.06)
	expectShare(t, "apgar5 9–10", apgarHigh, apgarKnown, 0.80, 0.95)
	expectShare(t, "bloedverlies ≥ 1000 ml", haemorrhage, bloodKnown, 0.04, 0.07)
	expectShare(t, "nicu_opname J", counts["nicu_opname"]["J"], pregnancies, 0.02, 0.05)
	expectShare(t, "sterfte 3–6", counts["sterfte"]["3"]+counts["sterfte"]["4"]+counts["sterfte"]["5"]+counts["sterfte"]["6"],
		pregnancies, 0.001, 0.01)
	expectShare(t, "plaats thuis", counts["plaats_baring"]["thuis"], pregnancies, 0.08, 0.18)
	for _, form := range []string{"1234AB", "1234 AB", "1234", "empty"} {
		if counts["postcode"][form] == 0 {
			t.Errorf("postcode form %q never appears", form)
		}
	}
	for _, v := range []string{"A", "B", "C", "D", "E", "F"} {
		if counts["perineum"][v] == 0 {
			t.Errorf("perineum %s never appears", v)
		}
	}
	for _, v := range []string{"SPONT", "FORCEPS", "VACUUM", "STUIT", "SECTIO_PRIM", "SECTIO_SEC"} {
		if counts["type_partus"][v] == 0 {
			t.Errorf("type_partus %s never appears", v)
		}
	}
	// Optional columns are sometimes unknown; required ones never.
	required := map[string]bool{"client_id": true, "agb_praktijk": true, "vsv_code": true, "zwangerschap_id": true,
		"pariteit": true, "aantal_kinderen": true, "kindvolgnummer": true, "type_partus": true,
		"datum_partus": true, "ad_partus": true}
	for _, c := range tb.header {
		if n := counts["empty"][c]; required[c] != (n == 0) {
			t.Errorf("column %s empty in %d of %d rows (required: %v)", c, n, rows, required[c])
		}
	}
	slices.Sort(weights)
	median := weights[len(weights)/2]
	t.Logf("median birth weight at 39–40 weeks: %d g", median)
	if math.Abs(float64(median)-3500) > 250 {
		t.Errorf("median birth weight at term %d g, want about 3500", median)
	}
}
