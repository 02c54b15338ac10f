package processor

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/ttpgate/ttpgate/schemas"
)

// Indexes into schemas.IGCatalogue.
const (
	ig01 = iota
	ig02
	ig03
	ig04
	ig05
	ig06
	ig07
	ig08
	ig09
	ig10
	igCount
)

// Fixed texts of the ZIN table's Opmerking.
const (
	odbPrimaryPrefix = "Onderdrukt: noemer kleiner dan "
	odbComplementary = "Onderdrukt: complementaire onderdrukking"
)

// lvr1Aggregator builds the DHD table (ig_indicators) and the ZIN table
// (ig_odb) from deduplicated LVR1 records that arrive in identity order
// (Practice, Pregnancy, Child), so that all children of one pregnancy arrive
// consecutively, the lowest Child first. Memory grows with the number of
// VSVs, years and practices, not with the number of records.
//
// The indicators are exactly the table of outputs-v1.md:
//
//   - births: AdPartus ≥ 154; singleton: AantalKinderen 1; term:
//     AdPartus ≥ 259; cephalic: Ligging 1–6 (unknown is not cephalic);
//     NTSV: Pariteit 0, singleton, term and cephalic; vaginal: SPONT,
//     FORCEPS, VACUUM, STUIT; caesarean: SECTIO_PRIM, SECTIO_SEC.
//   - IG-01 counts pregnancies, one per (Practice, Pregnancy), with the VSV,
//     year and AdEersteConsult of its child with the lowest Child number
//     (the first to arrive): denominator AdEersteConsult known, numerator
//     AdEersteConsult < 70. Twins count once.
//   - IG-02 NTSV births; caesarean. IG-03 singleton term births with
//     WijzeBeginBaring known; WijzeBeginBaring 3. IG-04 NTSV vaginal
//     births; FORCEPS or VACUUM. IG-05 singleton births with AdPartus ≥ 224;
//     any of Sterfte 3–7, NICUOpname J, Apgar5 < 7, Bloedverlies ≥ 1000,
//     Perineum D or E (an unknown value is no event). IG-06 births with
//     AdPartus ≥ 168; Sterfte 3, 4, 5 or 6, per mille. IG-07 live-born
//     (Sterfte not 3 or 4; unknown counts as live-born) term births with
//     Apgar5 known; Apgar5 < 7. IG-08 vaginal births with Perineum known;
//     D or E. IG-09 births with VerantwBeginBaring 1e_lijn; Overdracht
//     durante_partu. IG-10 births; AdPartus < 259.
//   - score = 100·numerator/denominator (IG-06: 1000·…); n_practices is the
//     number of distinct practices that contributed to the row's
//     denominator.
//   - Rows: every VSV and year with any record gets all ten indicators (a
//     denominator of 0 is suppressed), and every year a national row (NL)
//     per indicator, computed from all records. Rows are sorted by VSV,
//     then indicator id, in byte order.
//   - Suppression by suppressGroup on the denominator, within year and
//     indicator.
//   - The ZIN table holds the same rows. IndicatorWaarde is the score
//     rounded half up to one decimal, computed from the integers (see
//     roundedScore); Opmerking is null when the row is published,
//     "Onderdrukt: noemer kleiner dan <min_cell>" for primary and
//     "Onderdrukt: complementaire onderdrukking" for complementary
//     suppression.
//   - A partition's Sources are the src values of every record whose Year
//     is that year.
type lvr1Aggregator struct {
	p aggParams

	havePregnancy               bool
	lastPractice, lastPregnancy string

	vsv      map[igKey]*igAcc
	national map[int32]*igAcc
	sources  map[int32]map[int]struct{}
}

type igKey struct {
	vsv  string
	year int32
}

type igAcc [igCount]igCell

type igCell struct {
	num, den  int64
	practices map[string]struct{}
}

func (c *igCell) count(practice string, event bool) {
	c.den++
	if event {
		c.num++
	}
	if c.practices == nil {
		c.practices = map[string]struct{}{}
	}
	c.practices[practice] = struct{}{}
}

func newLVR1Aggregator(p aggParams) *lvr1Aggregator {
	return &lvr1Aggregator{
		p:        p,
		vsv:      map[igKey]*igAcc{},
		national: map[int32]*igAcc{},
		sources:  map[int32]map[int]struct{}{},
	}
}

// add takes the next record (one child) in identity order; src is the
// index of the delivery it came from.
func (a *lvr1Aggregator) add(rec *schemas.LVR1Staged, src int) {
	srcs := a.sources[rec.Year]
	if srcs == nil {
		srcs = map[int]struct{}{}
		a.sources[rec.Year] = srcs
	}
	srcs[src] = struct{}{}
	k := igKey{rec.VSV, rec.Year}
	acc := a.vsv[k]
	if acc == nil {
		acc = &igAcc{}
		a.vsv[k] = acc
	}
	nat := a.national[rec.Year]
	if nat == nil {
		nat = &igAcc{}
		a.national[rec.Year] = nat
	}
	count := func(i int, event bool) {
		acc[i].count(rec.Practice, event)
		nat[i].count(rec.Practice, event)
	}

	// IG-01: the first child of a pregnancy speaks for it.
	if !a.havePregnancy || rec.Practice != a.lastPractice || rec.Pregnancy != a.lastPregnancy {
		a.havePregnancy, a.lastPractice, a.lastPregnancy = true, rec.Practice, rec.Pregnancy
		if rec.AdEersteConsult != nil {
			count(ig01, *rec.AdEersteConsult < 70)
		}
	}

	if rec.AdPartus < 154 {
		return // not a birth
	}
	singleton := rec.AantalKinderen == 1
	term := rec.AdPartus >= 259
	cephalic := rec.Ligging != nil && *rec.Ligging >= 1 && *rec.Ligging <= 6
	ntsv := rec.Pariteit == 0 && singleton && term && cephalic
	var vaginal, caesarean, assisted bool
	switch rec.TypePartus {
	case "SPONT", "STUIT":
		vaginal = true
	case "FORCEPS", "VACUUM":
		vaginal, assisted = true, true
	case "SECTIO_PRIM", "SECTIO_SEC":
		caesarean = true
	}
	sterfte := int32(-1) // unknown
	if rec.Sterfte != nil {
		sterfte = *rec.Sterfte
	}
	perineum := ""
	if rec.Perineum != nil {
		perineum = *rec.Perineum
	}
	severeTear := perineum == "D" || perineum == "E"

	if ntsv {
		count(ig02, caesarean)
	}
	if singleton && term && rec.WijzeBeginBaring != nil {
		count(ig03, *rec.WijzeBeginBaring == 3)
	}
	if ntsv && vaginal {
		count(ig04, assisted)
	}
	if singleton && rec.AdPartus >= 224 {
		adverse := sterfte >= 3 && sterfte <= 7 ||
			rec.NICUOpname != nil && *rec.NICUOpname == "J" ||
			rec.Apgar5 != nil && *rec.Apgar5 < 7 ||
			rec.Bloedverlies != nil && *rec.Bloedverlies >= 1000 ||
			severeTear
		count(ig05, adverse)
	}
	if rec.AdPartus >= 168 {
		count(ig06, sterfte >= 3 && sterfte <= 6)
	}
	if term && sterfte != 3 && sterfte != 4 && rec.Apgar5 != nil {
		count(ig07, *rec.Apgar5 < 7)
	}
	if vaginal && perineum != "" {
		count(ig08, severeTear)
	}
	if rec.VerantwBeginBaring != nil && *rec.VerantwBeginBaring == "1e_lijn" {
		count(ig09, rec.Overdracht != nil && *rec.Overdracht == "durante_partu")
	}
	count(ig10, rec.AdPartus < 259)
}

// finish returns the partitions by year. The aggregator must not be used
// afterwards.
func (a *lvr1Aggregator) finish() (ind map[int32]partition[schemas.IGIndicator], odb map[int32]partition[schemas.IGODB]) {
	ind = map[int32]partition[schemas.IGIndicator]{}
	odb = map[int32]partition[schemas.IGODB]{}
	type codeAcc struct {
		code string
		acc  *igAcc
	}
	byYear := map[int32][]codeAcc{}
	for k, acc := range a.vsv {
		byYear[k.year] = append(byYear[k.year], codeAcc{k.vsv, acc})
	}
	limit := max(a.p.MinCell, 1)
	for year, nat := range a.national {
		codes := append(byYear[year], codeAcc{schemas.NationalCode, nat})
		slices.SortFunc(codes, func(x, y codeAcc) int { return cmp.Compare(x.code, y.code) })

		verdicts := make([][igCount]verdict, len(codes))
		for i := range igCount {
			v := suppressGroup(codes, a.p.MinCell,
				func(c *codeAcc) string { return c.code },
				func(c *codeAcc) int64 { return c.acc[i].den })
			for j := range codes {
				verdicts[j][i] = v[j]
			}
		}

		begin := int32(schemas.DateOf(int(year), time.January, 1))
		end := int32(schemas.DateOf(int(year), time.December, 31))
		rows := make([]schemas.IGIndicator, 0, len(codes)*igCount)
		zin := make([]schemas.IGODB, 0, len(codes)*igCount)
		for j, c := range codes {
			for i, def := range schemas.IGCatalogue {
				cell := &c.acc[i]
				row := schemas.IGIndicator{VSV: c.code, IndicatorID: def.ID, IndicatorName: def.Name, Unit: def.Unit}
				z := schemas.IGODB{
					IndicatorsetNaam:      schemas.ODBIndicatorsetNaam,
					IndicatorsetCode:      schemas.ODBIndicatorsetCode,
					Verslagjaar:           int64(year),
					VSV:                   c.code,
					IndicatorCode:         def.ID,
					IndicatorNaam:         def.Name,
					IndicatorEenheid:      def.ODBUnit,
					MeetperiodeBeginDatum: begin,
					MeetperiodeEindDatum:  end,
					Bron:                  schemas.ODBBron,
				}
				switch verdicts[j][i] {
				case published:
					row.Numerator = ptr(cell.num)
					row.Denominator = ptr(cell.den)
					row.Score = ptr(float64(def.Per*cell.num) / float64(cell.den))
					row.NPractices = ptr(int64(len(cell.practices)))
					z.Teller = ptr(cell.num)
					z.Noemer = ptr(cell.den)
					z.IndicatorWaarde = ptr(roundedScore(cell.num, cell.den, def.Per))
				case primary:
					row.Suppressed = true
					z.IndicatorNB = true
					z.Opmerking = ptr(odbPrimaryPrefix + strconv.Itoa(limit))
				case complementary:
					row.Suppressed = true
					z.IndicatorNB = true
					z.Opmerking = ptr(odbComplementary)
				}
				rows = append(rows, row)
				zin = append(zin, z)
			}
		}
		srcs := sortedSet(a.sources[year])
		ind[year] = partition[schemas.IGIndicator]{Rows: rows, Sources: srcs}
		odb[year] = partition[schemas.IGODB]{Rows: zin, Sources: slices.Clone(srcs)}
	}
	return ind, odb
}

// roundedScore returns per·num/den rounded half up to one decimal, computed
// in integers so that a score exactly halfway (5/16 = 31.25%) rounds up
// whatever its binary representation: tenths = ⌊(2·10·per·num + den) /
// (2·den)⌋. den > 0 and num ≥ 0.
func roundedScore(num, den, per int64) float64 {
	tenths := (2*10*per*num + den) / (2 * den)
	return float64(tenths) / 10
}
