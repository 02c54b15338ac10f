package synth

import (
	"io"
	"math"
)

var lvr1Columns = []string{
	"bsn_moeder", "client_id", "geboortejaar_moeder", "postcode", "agb_praktijk", "vsv_code",
	"zwangerschap_id", "datum_eerste_consult", "ad_eerste_consult", "pariteit", "aantal_kinderen",
	"kindvolgnummer", "verantw_begin_baring", "overdracht", "wijze_begin_baring", "ligging",
	"type_partus", "plaats_baring", "datum_partus", "ad_partus", "geslacht_kind", "geboortegewicht",
	"apgar5", "perineum", "bloedverlies", "nicu_opname", "sterfte",
}

// Indexes into lvr1Columns.
const (
	lvrColBSN = iota
	lvrColClient
	lvrColBirthYear
	lvrColPostcode
	lvrColAGB
	lvrColVSV
	lvrColPregnancy
	lvrColFirstDate
	lvrColFirstAD
	lvrColParity
	lvrColChildren
	lvrColChild
	lvrColResponsible
	lvrColReferral
	lvrColOnset
	lvrColPresentation
	lvrColType
	lvrColPlace
	lvrColBirthDate
	lvrColAD
	lvrColSex
	lvrColWeight
	lvrColApgar
	lvrColPerineum
	lvrColBloodLoss
	lvrColNICU
	lvrColDeath
)

const unknown = -1 // an integer field left empty

// lvrRow is one logical LVR1 record (one child), before formatting.
type lvrRow struct {
	bsn, bsnFull           string // as written; 9 digits; "" when absent
	client                 string
	birthYear              int    // unknown when not known
	postcode, postcodeFull string // as written; "1234AB"
	agb, vsv, pregnancy    string
	firstDate, firstAD     int // unknown when not known
	parity, children       int
	responsible, referral  string
	onset                  int // unknown, or 1–3
	birthDate, ad          int
	place                  string
	perineum               string
	bloodLoss              int
	// Per child.
	child        int
	presentation int
	typ          string
	sex          int
	weight       int
	apgar        int
	nicu         string
	death        int

	newPregnancy bool
}

type lvrPractice struct {
	agb, vsv    string
	clients     counter
	satellite   counter
	pregnancies uint32
	key         uint32
}

var (
	parities      = weighted[int]{[]int{0, 1, 2, 3, 4, 5, 6, 7, 8}, []int{450, 350, 130, 40, 15, 7, 4, 2, 2}}
	presentations = weighted[int]{[]int{1, 2, 3, 4, 5, 6, 11, 12, 13, unknown}, []int{885, 40, 10, 10, 5, 6, 25, 15, 3, 5}}
	cephalicTypes = weighted[string]{
		[]string{"SPONT", "VACUUM", "FORCEPS", "SECTIO_PRIM", "SECTIO_SEC"}, []int{780, 85, 5, 45, 80}}
	breechTypes           = weighted[string]{[]string{"STUIT", "SECTIO_PRIM", "SECTIO_SEC"}, []int{30, 50, 20}}
	transverseTypes       = weighted[string]{[]string{"SECTIO_PRIM", "SECTIO_SEC"}, []int{60, 40}}
	pretermReferrals      = weighted[string]{[]string{"zwangerschap", "durante_partu"}, []int{60, 40}}
	instrumentalReferrals = weighted[string]{[]string{"zwangerschap", "durante_partu"}, []int{45, 55}}
	spontReferrals        = weighted[string]{
		[]string{"geen", "zwangerschap", "durante_partu", "postpartum"}, []int{58, 17, 18, 7}}
	firstLinePlaces = weighted[string]{
		[]string{"thuis", "poliklinisch", "klinisch", "onderweg", "anders"}, []int{30, 60, 5, 3, 2}}
	perineaVaginal = weighted[string]{
		[]string{"A", "B", "C", "D", "E", "F"}, []int{330, 200, 250, 25, 3, 180}}
	perineaInstrumental = weighted[string]{
		[]string{"A", "B", "C", "D", "E", "F"}, []int{50, 90, 200, 60, 5, 600}}
	kidSexes   = weighted[int]{[]int{1, 2, 3, unknown}, []int{5100, 4850, 5, 45}}
	apgarTerm  = weighted[int]{[]int{10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, []int{550, 350, 50, 25, 10, 6, 4, 2, 1, 1, 1}}
	apgarEarly = weighted[int]{[]int{10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, []int{150, 300, 250, 150, 80, 40, 12, 8, 4, 3, 3}}
	deaths     = weighted[int]{[]int{0, 3, 4, 5, 6, unknown}, []int{9940, 20, 3, 10, 6, 100}}
	deathsPre  = weighted[int]{[]int{0, 3, 4, 5, 6, unknown}, []int{9720, 100, 15, 50, 30, 100}}
	// Letters of Dutch postcodes (F, I, O, Q, U and Y are not used).
	postcodeLetters = "ABCDEGHJKLMNPRSTVWXZ"
)

// lvrGen produces LVR1 records pregnancy by pregnancy.
type lvrGen struct {
	r         rng
	practices []lvrPractice
	pracW     []int
	year      int
	rows      []lvrRow
	next      int
}

func newLVRGen(o Options) *lvrGen {
	g := &lvrGen{r: newRNG(o.Seed, streamLVR1), year: o.Year}
	for i, agb := range o.Organisations {
		g.practices = append(g.practices, lvrPractice{
			agb:       agb,
			vsv:       o.VSVs[i%len(o.VSVs)],
			clients:   counter{g.r.between(100_000, 400_000)},
			satellite: counter{g.r.between(100, 3_000)},
			key:       g.r.Uint32(),
		})
		g.pracW = append(g.pracW, max(1, 600/(i+1)))
	}
	return g
}

func (g *lvrGen) row() *lvrRow {
	for g.next >= len(g.rows) {
		g.pregnancy()
	}
	g.next++
	return &g.rows[g.next-1]
}

func (g *lvrGen) pregnancy() {
	r := g.r
	g.rows, g.next = g.rows[:0], 0
	p := &g.practices[r.pick(g.pracW)]
	b := lvrRow{agb: p.agb, vsv: p.vsv, newPregnancy: true}

	if r.chance(0.05) {
		b.client = numID("Zoë-", p.satellite.next(r), 5)
	} else {
		b.client = numID("M", p.clients.next(r), 6)
	}
	if r.chance(0.90) {
		b.bsnFull = r.bsn()
		b.bsn = r.writtenBSN(b.bsnFull)
	}
	b.birthYear = unknown
	if age := r.normalInt(31.5, 4.8, 16, 46); r.chance(0.98) {
		b.birthYear = g.year - age
	}
	b.postcodeFull, b.postcode = postcode(r)
	p.pregnancies++
	b.pregnancy = hexID("ZW-", p.pregnancies, p.key)

	twins := r.chance(0.015)
	b.children = 1
	if twins {
		b.children = 2
	}
	b.birthDate = r.between(days(g.year, 1, 1), days(g.year, 12, 31))
	b.ad = gestation(r, twins)
	b.parity = parities.from(r)

	b.firstDate, b.firstAD = unknown, unknown
	if r.chance(0.97) {
		ad := r.normalInt(62, 14, 35, 200)
		if r.chance(0.05) {
			ad = r.between(100, 200) // booked late
		}
		b.firstAD = min(ad, b.ad-7)
		b.firstDate = b.birthDate - (b.ad - b.firstAD)
	}

	// The children's presentations and modes of birth come first: they
	// decide the referral, the place and the perineum.
	var kids [2]struct {
		presentation int
		typ          string
	}
	for k := range b.children {
		c := &kids[k]
		c.presentation = presentations.from(r)
		if k == 1 && r.chance(0.30) {
			c.presentation = 11 + r.IntN(2) // second twin in breech
		}
		switch {
		case c.presentation == 13:
			c.typ = transverseTypes.from(r)
		case c.presentation >= 11:
			c.typ = breechTypes.from(r)
		default:
			c.typ = cephalicTypes.from(r)
		}
		if k == 1 && isSectio(kids[0].typ) {
			c.typ = kids[0].typ // after a caesarean the second twin is born the same way
		}
	}
	first := kids[0].typ
	instrumental := first != "SPONT"
	sectio := isSectio(first)

	switch {
	case r.chance(0.03):
		b.referral = "" // not recorded
	case twins || first == "SECTIO_PRIM" || b.ad > 294:
		b.referral = "zwangerschap"
	case b.ad < 259:
		b.referral = pretermReferrals.from(r)
	case instrumental:
		b.referral = instrumentalReferrals.from(r)
	default:
		b.referral = spontReferrals.from(r)
	}
	switch {
	case r.chance(0.02):
		b.responsible = "onbekend"
	case r.chance(0.02):
		b.responsible = ""
	case b.referral == "zwangerschap" && r.chance(0.95):
		b.responsible = "2e_lijn"
	default:
		b.responsible = "1e_lijn"
	}
	switch {
	case first == "SECTIO_PRIM" || r.chance(0.04):
		b.onset = unknown // no labour, or not recorded
	case b.referral == "zwangerschap" && r.chance(0.40):
		b.onset = 3
	case r.chance(0.78):
		b.onset = 1
	default:
		b.onset = 2
	}
	switch {
	case r.chance(0.015):
		b.place = ""
	case b.referral == "zwangerschap" || b.referral == "durante_partu" || instrumental || twins || b.ad < 259:
		b.place = "klinisch" // births in the second line
	default:
		b.place = firstLinePlaces.from(r)
	}
	switch {
	case r.chance(0.015):
		b.perineum = ""
	case sectio:
		if r.chance(0.6) {
			b.perineum = "A"
		}
	case instrumental:
		b.perineum = perineaInstrumental.from(r)
	default:
		b.perineum = perineaVaginal.from(r)
	}
	switch {
	case r.chance(0.03):
		b.bloodLoss = unknown
	case r.chance(0.05):
		b.bloodLoss = r.between(20, 50) * 50 // 1000–2500 ml: haemorrhage
	default:
		median := 350.0
		if sectio {
			median = 500
		}
		ml := median * math.Exp(r.normal(0, 0.35))
		b.bloodLoss = min(max(int(math.Round(ml/10))*10, 50), 990)
	}

	for k := range b.children {
		c := b
		c.newPregnancy = k == 0
		c.child = k + 1
		c.presentation = kids[k].presentation
		c.typ = kids[k].typ
		g.child(&c, twins)
		g.rows = append(g.rows, c)
	}
}

// child fills in the fields of one newborn.
func (g *lvrGen) child(c *lvrRow, twins bool) {
	r := g.r
	c.sex = kidSexes.from(r)
	if c.ad < 259 {
		c.death = deathsPre.from(r)
	} else {
		c.death = deaths.from(r)
	}
	c.weight = unknown
	if r.chance(0.99) {
		ga := float64(c.ad) / 7
		w := math.Exp(0.578+0.332*ga-0.00354*ga*ga) * math.Exp(r.normal(0, 0.11)) // Hadlock
		if c.sex == 2 {
			w *= 0.97
		}
		if twins {
			w *= 0.88
		}
		c.weight = min(max(int(math.Round(w)), 200), 6500)
	}
	stillborn := c.death == 3 || c.death == 4
	switch {
	case r.chance(0.02):
		c.apgar = unknown
	case stillborn:
		c.apgar = 0
	case c.ad < 224:
		c.apgar = apgarEarly.from(r)
	default:
		c.apgar = apgarTerm.from(r)
	}
	pNICU := 0.008
	switch {
	case stillborn:
		pNICU = 0
	case c.ad < 224:
		pNICU = 0.90
	case c.ad < 259:
		pNICU = 0.15
	case c.apgar != unknown && c.apgar < 7:
		pNICU = 0.3
	}
	switch {
	case r.chance(0.02):
		c.nicu = ""
	case r.chance(pNICU):
		c.nicu = "J"
	default:
		c.nicu = "N"
	}
}

func isSectio(typ string) bool { return typ == "SECTIO_PRIM" || typ == "SECTIO_SEC" }

// gestation draws ad_partus in days: mostly term (259–294), ~7% preterm
// (about half for twins), ~2% post-term.
func gestation(r rng, twins bool) int {
	pPre := 0.07
	if twins {
		pPre = 0.5
	}
	switch {
	case r.chance(pPre):
		switch r.pick([]int{75, 17, 6, 2}) {
		case 0:
			return r.between(238, 258)
		case 1:
			return r.between(224, 237)
		case 2:
			return r.between(196, 223)
		default:
			return r.between(154, 195)
		}
	case !twins && r.chance(0.02):
		return r.between(295, 300)
	default:
		return r.normalInt(280, 8, 259, 294)
	}
}

// postcode returns a full Dutch postcode in the Utrecht region and how the
// source wrote it: "3511AB" (70%), "3511 AB" (20%), "3511" (8%) or not
// at all.
func postcode(r rng) (full, written string) {
	for {
		l1, l2 := postcodeLetters[r.IntN(len(postcodeLetters))], postcodeLetters[r.IntN(len(postcodeLetters))]
		if l1 == 'S' && (l2 == 'A' || l2 == 'D' || l2 == 'S') {
			continue // not issued
		}
		digits := numID("", r.between(3400, 3999), 4)
		full = digits + string([]byte{l1, l2})
		switch r.pick([]int{70, 20, 8, 2}) {
		case 0:
			return full, full
		case 1:
			return full, digits + " " + full[4:]
		case 2:
			return full, digits
		default:
			return full, ""
		}
	}
}

func (row *lvrRow) format(l *line, d *dialectSpec) {
	l.reset()
	l.str(row.bsn)
	l.str(row.client)
	l.intOr(row.birthYear, unknown)
	l.str(row.postcode)
	l.str(row.agb)
	l.str(row.vsv)
	l.str(row.pregnancy)
	if row.firstDate != unknown {
		l.buf = d.appendDate(l.buf, row.firstDate)
	}
	l.end()
	l.intOr(row.firstAD, unknown)
	l.intOr(row.parity, unknown)
	l.intOr(row.children, unknown)
	l.intOr(row.child, unknown)
	l.str(row.responsible)
	l.str(row.referral)
	l.intOr(row.onset, unknown)
	l.intOr(row.presentation, unknown)
	l.str(row.typ)
	l.str(row.place)
	l.buf = d.appendDate(l.buf, row.birthDate)
	l.end()
	l.intOr(row.ad, unknown)
	l.intOr(row.sex, unknown)
	l.intOr(row.weight, unknown)
	l.intOr(row.apgar, unknown)
	l.str(row.perineum)
	l.intOr(row.bloodLoss, unknown)
	l.str(row.nicu)
	l.intOr(row.death, unknown)
}

// corrupt gives row one row error, drawn from r.
func (row *lvrRow) corrupt(l *line, d *dialectSpec, r rng, year int, scratch []byte) {
	b := scratch[:0]
	num := func(lo, hi int) []byte { return appendPad(b, r.between(lo, hi), 1) }
	switch r.IntN(10) {
	case 0: // datum_partus not a date
		l.replace(lvrColBirthDate, badDate(b, d, r, year))
	case 1: // ad_partus beyond 315 days
		l.replace(lvrColAD, num(320, 400))
	case 2: // apgar above 10
		l.replace(lvrColApgar, num(11, 15))
	case 3: // unknown type_partus
		l.replace(lvrColType, append(b, "KEIZERSNEDE"...))
	case 4: // kindvolgnummer above aantal_kinderen
		l.replace(lvrColChild, num(row.children+1, row.children+1))
	case 5: // birth weight above 6500 g
		l.replace(lvrColWeight, num(7000, 9999))
	case 6: // pariteit above 20
		l.replace(lvrColParity, num(21, 30))
	case 7: // unknown ligging
		l.replace(lvrColPresentation, append(b, "7"...))
	case 8: // type_partus (required) missing
		l.replace(lvrColType, b)
	case 9: // unknown nicu_opname
		l.replace(lvrColNICU, append(b, "X"...))
	}
}

// WriteLVR1 writes a synthetic LVR1 extract (header and o.Rows data rows,
// one per child) to w. Memory use does not depend on o.Rows.
func WriteLVR1(w io.Writer, o Options) error {
	o, d, err := o.normalize(defaultLVR1Organisations)
	if err != nil {
		return err
	}
	return writeExtract(w, o, d, lvr1Columns, streamLVR1Err, newLVRGen(o).row)
}

// LVR1Identifiers replays WriteLVR1(w, o) and calls visit for every
// identifying value the file contains, once per pregnancy, in file order:
// kind "bsn_moeder" (always 9 digits, also when written as 8),
// "client_id", "zwangerschap_id" and "postcode" (the full postcode without
// a space, e.g. "3511AB", whenever the file has its letters, written as
// "3511AB" or "3511 AB"; a 4-digit postcode is not reported). The dialect
// and ErrorRate do not change the values. It returns the error WriteLVR1
// would return for invalid options.
func LVR1Identifiers(o Options, visit func(kind, value string)) error {
	o, _, err := o.normalize(defaultLVR1Organisations)
	if err != nil {
		return err
	}
	g := newLVRGen(o)
	for range o.Rows {
		row := g.row()
		if !row.newPregnancy {
			continue
		}
		if row.bsnFull != "" {
			visit("bsn_moeder", row.bsnFull)
		}
		visit("client_id", row.client)
		visit("zwangerschap_id", row.pregnancy)
		if len(row.postcode) > 4 {
			visit("postcode", row.postcodeFull)
		}
	}
	return nil
}
