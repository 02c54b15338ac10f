package synth

import (
	"io"
	"math"
)

var romColumns = []string{
	"bsn", "client_id", "geboortejaar", "geslacht", "agb_organisatie", "traject_id",
	"traject_start", "traject_eind", "prestatie", "reden_einde", "instrument", "schaal",
	"meetmoment", "meetdatum", "score",
}

// Indexes into romColumns.
const (
	romColBSN = iota
	romColClient
	romColBirthYear
	romColSex
	romColOrg
	romColTrajectID
	romColStart
	romColEnd
	romColPrestatie
	romColReden
	romColInstrument
	romColSchaal
	romColMoment
	romColDate
	romColScore
)

// instrument describes how one ROM instrument's scores are drawn. The
// ranges and directions are those of the spec's instrument table; the
// distributions are plausible, not normative.
type instrument struct {
	code, scale          string
	min, max             float64
	decimals             int
	preMean, preSD       float64 // score at the start of treatment
	deltaMean, deltaSD   float64 // change from voor to na (raw points; negative improves when higher is worse)
	weight, secondWeight int     // how often it is the first / the second instrument of a trajectory
}

var instruments = []instrument{
	{"OQ-45", "totaal", 0, 180, 0, 82, 22, -19, 20, 40, 10},
	{"SQ-48", "totaal", 0, 148, 0, 72, 22, -16, 18, 31, 10},
	{"BSI", "totaal", 0, 4, 2, 1.55, 0.6, -0.45, 0.5, 8, 10},
	{"4DKL", "distress", 0, 32, 0, 22, 6, -6, 6.5, 6, 15},
	{"HONOS", "totaal", 0, 48, 0, 14, 5, -4, 4.5, 6, 20},
	{"CORE-10", "totaal", 0, 40, 0, 21, 6.5, -6, 6.5, 5, 10},
	{"MANSA", "totaal", 1, 7, 2, 4.0, 0.8, 0.5, 0.65, 4, 25},
}

var (
	instrumentFirst, instrumentSecond []int
)

func init() {
	for _, in := range instruments {
		instrumentFirst = append(instrumentFirst, in.weight)
		instrumentSecond = append(instrumentSecond, in.secondWeight)
	}
}

// Basis GGZ products and typical treatment lengths in days.
var prestaties = []struct {
	code     string
	weight   int
	min, max int
}{
	{"kort", 25, 42, 120},
	{"middel", 33, 90, 210},
	{"intensief", 18, 120, 300},
	{"chronisch", 7, 240, 540},
	{"onvolledig", 12, 14, 90},
	{"", 5, 30, 200}, // not (yet) filled in by the source system
}

var prestatieWeights = func() []int {
	ws := make([]int, len(prestaties))
	for i, p := range prestaties {
		ws[i] = p.weight
	}
	return ws
}()

var (
	endReason = weighted[string]{
		vals: []string{"regulier", "voortijdig", "administratief", ""},
		ws:   []int{80, 15, 3, 2},
	}
	endReasonIncomplete = weighted[string]{
		vals: []string{"regulier", "voortijdig", "administratief", ""},
		ws:   []int{10, 80, 8, 2},
	}
	openPrestatie = weighted[string]{
		vals: []string{"", "kort", "middel", "intensief", "chronisch"},
		ws:   []int{70, 6, 12, 8, 4},
	}
	romSexes = weighted[string]{
		vals: []string{"V", "M", "X", ""},
		ws:   []int{580, 400, 10, 10},
	}
)

// romRow is one logical ROM record, before formatting.
type romRow struct {
	bsn, bsnFull string // as written (8 digits when the leading zero was lost); 9 digits; "" when absent
	client       string
	birthYear    int // 0: unknown
	sex          string
	org          string
	traject      *romTraject
	// The measurement; in == nil for a trajectory without measurements.
	in     *instrument
	schaal string
	moment string
	date   int
	score  float64

	newClient, newTraject bool
}

type romTraject struct {
	id          string
	start, end  int // days since 1970; end < 0: open
	prestatie   string
	reden       string
	emptySchaal bool // the source leaves schaal empty for "totaal"
}

type romOrg struct {
	agb       string
	clients   counter
	satellite counter
	trajects  uint32
	key       uint32
}

// romGen produces ROM records client by client.
type romGen struct {
	r        rng
	orgs     []romOrg
	orgW     []int
	p0, p1   int // first and last day trajectories may cover
	year     int
	rows     []romRow
	next     int
	trajects []romTraject
}

func newROMGen(o Options) *romGen {
	g := &romGen{
		r:    newRNG(o.Seed, streamROM),
		p0:   days(o.Year-1, 1, 1),
		p1:   days(o.Year, 12, 31),
		year: o.Year,
	}
	for i, agb := range o.Organisations {
		g.orgs = append(g.orgs, romOrg{
			agb:       agb,
			clients:   counter{g.r.between(1_000_000, 2_500_000)},
			satellite: counter{g.r.between(1_000, 9_000)},
			key:       g.r.Uint32(),
		})
		g.orgW = append(g.orgW, max(1, 600/(i+1)))
	}
	return g
}

// row returns the next record; it stays valid until the next call.
func (g *romGen) row() *romRow {
	for g.next >= len(g.rows) {
		g.client()
	}
	g.next++
	return &g.rows[g.next-1]
}

func (g *romGen) client() {
	r := g.r
	g.rows, g.next = g.rows[:0], 0
	org := &g.orgs[r.pick(g.orgW)]
	c := romRow{org: org.agb, newClient: true}
	if r.chance(0.05) {
		c.client = numID("Súdwest-", org.satellite.next(r), 6)
	} else {
		c.client = numID("C", org.clients.next(r), 7)
	}
	if r.chance(0.80) {
		c.bsnFull = r.bsn()
		c.bsn = r.writtenBSN(c.bsnFull)
	}
	if r.chance(0.99) {
		age := []int{18, 30, 45, 65, 87}
		band := r.pick([]int{30, 30, 30, 10})
		c.birthYear = g.year - r.between(age[band], age[band+1]-1)
	}
	c.sex = romSexes.from(r)

	n := 1
	if r.chance(0.20) {
		n = 2
	}
	// Trajectories are consecutive; they are kept in g.trajects so the rows
	// can point at them.
	g.trajects = g.trajects[:0]
	cursor := g.p0
	for t := range n {
		tr, ok := g.trajectory(org, &cursor, t == 0 && n == 2)
		if !ok {
			break
		}
		g.trajects = append(g.trajects, tr)
		if tr.end < 0 {
			break
		}
	}
	for i := range g.trajects {
		g.measurements(c, &g.trajects[i])
		c.newClient = false
	}
}

// trajectory draws one trajectory starting at or after *cursor and moves
// the cursor past its end. first2 asks for room for a second one.
func (g *romGen) trajectory(org *romOrg, cursor *int, first2 bool) (romTraject, bool) {
	r := g.r
	var t romTraject
	if r.chance(0.10) {
		// Open: began in the last year or so, no end, no reason.
		lo, hi := max(*cursor, g.p1-330), g.p1-10
		if lo > hi {
			return t, false
		}
		t.start, t.end = r.between(lo, hi), -1
		t.prestatie = openPrestatie.from(r)
	} else {
		p := prestaties[r.pick(prestatieWeights)]
		dur := r.between(p.min, p.max)
		latest := g.p1 - dur
		if latest < *cursor {
			return t, false
		}
		if first2 {
			latest = *cursor + (latest-*cursor)/2
		}
		t.start = r.between(*cursor, latest)
		t.end = t.start + dur
		t.prestatie = p.code
		if p.code == "onvolledig" {
			t.reden = endReasonIncomplete.from(r)
		} else {
			t.reden = endReason.from(r)
		}
		*cursor = t.end + r.between(14, 120)
	}
	org.trajects++
	t.id = hexID("T-", org.trajects, org.key)
	t.emptySchaal = r.chance(0.10)
	return t, true
}

// measurements appends the rows of one trajectory: ~5% have none (one row
// without measurement), the rest 1–4 measurements on 1–2 instruments.
func (g *romGen) measurements(c romRow, t *romTraject) {
	r := g.r
	base := c
	base.traject = t
	base.newTraject = true
	if r.chance(0.05) {
		g.rows = append(g.rows, base)
		return
	}

	var insBuf [2]*instrument
	ins := append(insBuf[:0], &instruments[r.pick(instrumentFirst)])
	if r.chance(0.22) {
		for {
			second := &instruments[r.pick(instrumentSecond)]
			if second != ins[0] {
				ins = append(ins, second)
				break
			}
		}
	}

	// Moments and their dates, shared by the instruments.
	type moment struct {
		name string
		date int
		frac float64 // how much of the voor→na change has happened
	}
	var msBuf [3]moment
	ms := msBuf[:0]
	if t.end >= 0 {
		dur := t.end - t.start
		voor := r.between(t.start-7, t.start+min(14, dur/3))
		pNa := 0.5
		switch t.reden {
		case "regulier":
			pNa = 0.78
		case "voortijdig":
			pNa = 0.35
		case "administratief":
			pNa = 0.10
		}
		hasNa := r.chance(pNa)
		if !hasNa || !r.chance(0.03) {
			ms = append(ms, moment{"voor", voor, 0})
		}
		if len(ins) == 1 && dur >= 90 && r.chance(0.20) {
			ms = append(ms, moment{"tussen", t.start + dur/2 + r.between(-dur/6, dur/6), 0.3 + 0.4*r.Float64()})
		}
		if hasNa {
			na := r.between(t.end-min(14, dur/3), min(t.end+7, g.p1))
			ms = append(ms, moment{"na", na, 1})
		}
	} else {
		ms = append(ms, moment{"voor", r.between(t.start-7, min(t.start+14, g.p1)), 0})
		if len(ins) == 1 && g.p1-t.start >= 90 && r.chance(0.30) {
			ms = append(ms, moment{"tussen", r.between(t.start+60, g.p1), 0.3 + 0.4*r.Float64()})
		}
	}

	// One shared response: a client who improves on one instrument tends
	// to improve on the other.
	effect := 1.0
	switch t.reden {
	case "voortijdig":
		effect = 0.4
	case "administratief":
		effect = 0.5
	}
	shared := r.NormFloat64()
	first := true
	type series struct{ pre, delta float64 }
	var ss [2]series
	for i, in := range ins {
		ss[i].pre = r.normal(in.preMean, in.preSD)
		ss[i].delta = in.deltaMean*effect + in.deltaSD*(0.8*shared+0.6*r.NormFloat64())
	}
	for _, m := range ms {
		for i, in := range ins {
			row := base
			row.newClient = base.newClient && first
			row.newTraject = first
			first = false
			row.in = in
			row.schaal = in.scale
			if t.emptySchaal && in.scale == "totaal" {
				row.schaal = ""
			}
			row.moment = m.name
			row.date = m.date
			x := ss[i].pre + ss[i].delta*m.frac
			if m.name == "tussen" {
				x += r.normal(0, 0.15*in.deltaSD)
			}
			row.score = roundScore(x, in)
			g.rows = append(g.rows, row)
		}
	}
}

func roundScore(x float64, in *instrument) float64 {
	p := math.Pow(10, float64(in.decimals))
	x = math.Round(x*p) / p
	return min(max(x, in.min), in.max)
}

// format writes the fields of row into l.
func (row *romRow) format(l *line, d *dialectSpec) {
	l.reset()
	l.str(row.bsn)
	l.str(row.client)
	l.intOr(row.birthYear, 0)
	l.str(row.sex)
	l.str(row.org)
	t := row.traject
	l.str(t.id)
	l.buf = d.appendDate(l.buf, t.start)
	l.end()
	if t.end >= 0 {
		l.buf = d.appendDate(l.buf, t.end)
	}
	l.end()
	l.str(t.prestatie)
	l.str(t.reden)
	if row.in == nil {
		for range 5 {
			l.empty()
		}
		return
	}
	l.str(row.in.code)
	l.str(row.schaal)
	l.str(row.moment)
	l.buf = d.appendDate(l.buf, row.date)
	l.end()
	l.buf = d.appendDecimal(l.buf, row.score, row.in.decimals)
	l.end()
}

// corrupt gives row one row error, drawn from r.
func (row *romRow) corrupt(l *line, d *dialectSpec, r rng, year int, scratch []byte) {
	t := row.traject
	kinds := []int{0, 1, 2, 3}
	if t.end >= 0 {
		kinds = append(kinds, 4)
	}
	if row.in != nil {
		kinds = append(kinds, 5, 6, 7, 8, 9, 10)
	}
	b := scratch[:0]
	switch kinds[r.IntN(len(kinds))] {
	case 0: // traject_start not a date
		l.replace(romColStart, badDate(b, d, r, year))
	case 1: // geslacht not a code
		l.replace(romColSex, append(b, "Q"...))
	case 2: // prestatie not a code
		l.replace(romColPrestatie, append(b, "lang"...))
	case 3: // instrument without the rest of the measurement, or the
		// measurement without an instrument
		if row.in == nil {
			l.replace(romColInstrument, append(b, "OQ-45"...))
		} else {
			l.replace(romColInstrument, b)
		}
	case 4: // traject_eind before traject_start
		l.replace(romColEnd, d.appendDate(b, t.start-r.between(1, 60)))
	case 5: // meetdatum not a date
		l.replace(romColDate, badDate(b, d, r, year))
	case 6: // score above the instrument's range
		l.replace(romColScore, d.appendDecimal(b, row.in.max+float64(r.between(1, 20)), row.in.decimals))
	case 7: // score below it
		l.replace(romColScore, d.appendDecimal(b, row.in.min-float64(r.between(1, 5)), row.in.decimals))
	case 8: // unknown instrument
		l.replace(romColInstrument, append(b, "PHQ-9"...))
	case 9: // unknown meetmoment
		l.replace(romColMoment, append(b, "nameting"...))
	case 10: // score missing
		l.replace(romColScore, b)
	}
}

// badDate formats a date that does not exist, in the dialect's style.
func badDate(b []byte, d *dialectSpec, r rng, year int) []byte {
	switch r.IntN(3) {
	case 0:
		return d.appendYMD(b, year, 2, 30)
	case 1:
		return d.appendYMD(b, year, 4, 31)
	default:
		return d.appendYMD(b, year, 13, r.between(1, 28))
	}
}

// WriteROM writes a synthetic ROM extract (header and o.Rows data rows) to w.
// Memory use does not depend on o.Rows.
func WriteROM(w io.Writer, o Options) error {
	o, d, err := o.normalize(defaultROMOrganisations)
	if err != nil {
		return err
	}
	return writeExtract(w, o, d, romColumns, streamROMErrors, newROMGen(o).row)
}

// ROMIdentifiers replays WriteROM(w, o) and calls visit for every
// identifying value the file contains, once per client or trajectory, in
// the order they first appear: kind "bsn" (always the 9-digit form, also
// when the file has the 8-digit form that lost its leading zero),
// "client_id" and "traject_id". The dialect and ErrorRate do not change
// the values. It returns the error WriteROM would return for invalid
// options.
func ROMIdentifiers(o Options, visit func(kind, value string)) error {
	o, _, err := o.normalize(defaultROMOrganisations)
	if err != nil {
		return err
	}
	g := newROMGen(o)
	for range o.Rows {
		row := g.row()
		if row.newClient {
			if row.bsnFull != "" {
				visit("bsn", row.bsnFull)
			}
			visit("client_id", row.client)
		}
		if row.newTraject {
			visit("traject_id", row.traject.id)
		}
	}
	return nil
}
