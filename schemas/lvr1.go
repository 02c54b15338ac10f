package schemas

import (
	"strings"
	"unicode/utf8"
)

// LVR1 extract v1 (docs: spec/lvr1-extract-v1.md). The constants index
// lvr1Columns, which lists the columns in the specification's order.
const (
	lvrBSNMoeder = iota
	lvrClientID
	lvrGeboortejaarMoeder
	lvrPostcode
	lvrAGBPraktijk
	lvrVSVCode
	lvrZwangerschapID
	lvrDatumEersteConsult
	lvrAdEersteConsult
	lvrPariteit
	lvrAantalKinderen
	lvrKindvolgnummer
	lvrVerantwBeginBaring
	lvrOverdracht
	lvrWijzeBeginBaring
	lvrLigging
	lvrTypePartus
	lvrPlaatsBaring
	lvrDatumPartus
	lvrAdPartus
	lvrGeslachtKind
	lvrGeboortegewicht
	lvrApgar5
	lvrPerineum
	lvrBloedverlies
	lvrNICUOpname
	lvrSterfte
)

var lvr1Columns = []column{
	lvrBSNMoeder:          {"bsn_moeder", false},
	lvrClientID:           {"client_id", true},
	lvrGeboortejaarMoeder: {"geboortejaar_moeder", false},
	lvrPostcode:           {"postcode", false},
	lvrAGBPraktijk:        {"agb_praktijk", true},
	lvrVSVCode:            {"vsv_code", true},
	lvrZwangerschapID:     {"zwangerschap_id", true},
	lvrDatumEersteConsult: {"datum_eerste_consult", false},
	lvrAdEersteConsult:    {"ad_eerste_consult", false},
	lvrPariteit:           {"pariteit", true},
	lvrAantalKinderen:     {"aantal_kinderen", true},
	lvrKindvolgnummer:     {"kindvolgnummer", true},
	lvrVerantwBeginBaring: {"verantw_begin_baring", false},
	lvrOverdracht:         {"overdracht", false},
	lvrWijzeBeginBaring:   {"wijze_begin_baring", false},
	lvrLigging:            {"ligging", false},
	lvrTypePartus:         {"type_partus", true},
	lvrPlaatsBaring:       {"plaats_baring", false},
	lvrDatumPartus:        {"datum_partus", true},
	lvrAdPartus:           {"ad_partus", true},
	lvrGeslachtKind:       {"geslacht_kind", false},
	lvrGeboortegewicht:    {"geboortegewicht", false},
	lvrApgar5:             {"apgar5", false},
	lvrPerineum:           {"perineum", false},
	lvrBloedverlies:       {"bloedverlies", false},
	lvrNICUOpname:         {"nicu_opname", false},
	lvrSterfte:            {"sterfte", false},
}

// maxVSVLen bounds vsv_code (characters).
const maxVSVLen = 16

var (
	lvrVerantwoordelijk = []string{"1e_lijn", "2e_lijn", "onbekend"}
	lvrOverdrachten     = []string{"geen", "zwangerschap", "durante_partu", "postpartum"}
	lvrTypesPartus      = []string{"SPONT", "FORCEPS", "VACUUM", "STUIT", "SECTIO_PRIM", "SECTIO_SEC"}
	lvrPlaatsen         = []string{"thuis", "poliklinisch", "klinisch", "onderweg", "anders"}
	lvrPerinea          = []string{"A", "B", "C", "D", "E", "F"}
	lvrJaNee            = []string{"J", "N"}
)

func between(lo, hi int64) func(int64) bool {
	return func(v int64) bool { return lo <= v && v <= hi }
}

var (
	wijzeBeginBaring = between(1, 3)
	geslachtKind     = between(1, 3)
	sterfte          = between(0, 9)
)

// ligging: 1–6 cephalic, 11–12 breech, 13 transverse.
func ligging(v int64) bool { return (1 <= v && v <= 6) || (11 <= v && v <= 13) }

func readLVR1(r *reader, f *fields, row *Row) {
	var l LVR1Row
	l.BSNMoeder = f.bsn(lvrBSNMoeder)
	l.ClientID = f.text(lvrClientID, true, maxIDLen)
	l.GeboortejaarMoeder, _ = f.integer(lvrGeboortejaarMoeder, false, 1940, r.year)
	l.Postcode4 = f.postcode4(lvrPostcode)
	l.AGBPraktijk = f.agb(lvrAGBPraktijk)
	l.VSVCode = f.vsv(lvrVSVCode)
	l.ZwangerschapID = f.text(lvrZwangerschapID, true, maxIDLen)
	f.date(lvrDatumEersteConsult, false) // checked, not kept
	l.AdEersteConsult = f.optInteger(lvrAdEersteConsult, 0, 300)
	l.Pariteit, _ = f.integer(lvrPariteit, true, 0, 20)
	var okAantal, okVolg bool
	l.AantalKinderen, okAantal = f.integer(lvrAantalKinderen, true, 1, 8)
	l.Kindvolgnummer, okVolg = f.integer(lvrKindvolgnummer, true, 1, 8)
	if okAantal && okVolg && l.Kindvolgnummer > l.AantalKinderen {
		f.fail(lvrKindvolgnummer, CodeInconsistent)
	}
	l.VerantwBeginBaring = f.code(lvrVerantwBeginBaring, false, lvrVerantwoordelijk)
	l.Overdracht = f.code(lvrOverdracht, false, lvrOverdrachten)
	l.WijzeBeginBaring = f.intCode(lvrWijzeBeginBaring, wijzeBeginBaring)
	l.Ligging = f.intCode(lvrLigging, ligging)
	l.TypePartus = f.code(lvrTypePartus, true, lvrTypesPartus)
	l.PlaatsBaring = f.code(lvrPlaatsBaring, false, lvrPlaatsen)
	l.DatumPartus, _ = f.date(lvrDatumPartus, true)
	l.AdPartus, _ = f.integer(lvrAdPartus, true, 154, 315)
	l.GeslachtKind = f.intCode(lvrGeslachtKind, geslachtKind)
	l.Geboortegewicht = f.optInteger(lvrGeboortegewicht, 200, 6500)
	l.Apgar5 = f.optInteger(lvrApgar5, 0, 10)
	l.Perineum = f.code(lvrPerineum, false, lvrPerinea)
	l.Bloedverlies = f.optInteger(lvrBloedverlies, 0, 10000)
	l.NICUOpname = f.code(lvrNICUOpname, false, lvrJaNee)
	l.Sterfte = f.intCode(lvrSterfte, sterfte)
	row.LVR1 = &l
}

// postcode4 returns the four digits of an optional Dutch postcode written
// `1234AB`, `1234 AB` or `1234` (letters in either case).
func (f *fields) postcode4(c int) string {
	s, ok := f.value(c)
	if !ok {
		return ""
	}
	valid := len(s) >= 4 && s[0] != '0' && allDigits(s[:4])
	if valid {
		switch rest := s[4:]; len(rest) {
		case 0:
		case 2:
			valid = allLetters(rest)
		case 3:
			valid = rest[0] == ' ' && allLetters(rest[1:])
		default:
			valid = false
		}
	}
	if !valid {
		f.fail(c, CodeInvalidFormat)
		return ""
	}
	return s[:4]
}

// vsv returns a required VSV code, upper-cased: at most 16 letters, digits
// and hyphens.
func (f *fields) vsv(c int) string {
	s, ok := f.value(c)
	if !ok {
		f.absent(c, true)
		return ""
	}
	if utf8.RuneCountInString(s) > maxVSVLen {
		f.fail(c, CodeTooLong)
		return ""
	}
	for i := 0; i < len(s); i++ {
		if ch := s[i]; ch != '-' && !isLetter(ch) && (ch < '0' || ch > '9') {
			f.fail(c, CodeInvalidFormat)
			return ""
		}
	}
	return strings.ToUpper(s)
}

func isLetter(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

func allLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isLetter(s[i]) {
			return false
		}
	}
	return true
}
