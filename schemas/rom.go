package schemas

import "strings"

// ROM extract v1 (docs: spec/rom-extract-v1.md). The constants index
// romColumns, which lists the columns in the specification's order.
const (
	romBSN = iota
	romClientID
	romGeboortejaar
	romGeslacht
	romAGB
	romTrajectID
	romTrajectStart
	romTrajectEind
	romPrestatie
	romRedenEinde
	romInstrument
	romSchaal
	romMeetmoment
	romMeetdatum
	romScore
)

var romColumns = []column{
	romBSN:          {"bsn", false},
	romClientID:     {"client_id", true},
	romGeboortejaar: {"geboortejaar", false},
	romGeslacht:     {"geslacht", false},
	romAGB:          {"agb_organisatie", true},
	romTrajectID:    {"traject_id", true},
	romTrajectStart: {"traject_start", true},
	romTrajectEind:  {"traject_eind", false},
	romPrestatie:    {"prestatie", false},
	romRedenEinde:   {"reden_einde", false},
	romInstrument:   {"instrument", false}, // required with a measurement
	romSchaal:       {"schaal", false},
	romMeetmoment:   {"meetmoment", false}, // required with a measurement
	romMeetdatum:    {"meetdatum", false},  // required with a measurement
	romScore:        {"score", false},      // required with a measurement
}

// maxIDLen bounds client and trajectory numbers (characters).
const maxIDLen = 64

var (
	romSexes        = []string{"M", "V", "X"}
	romPrestaties   = []string{"kort", "middel", "intensief", "chronisch", "onvolledig"}
	romRedenenEind  = []string{"regulier", "voortijdig", "administratief"}
	romMeetmomenten = []string{"voor", "tussen", "na"}
)

func readROM(r *reader, f *fields, row *Row) {
	var rom ROMRow
	rom.BSN = f.bsn(romBSN)
	rom.ClientID = f.text(romClientID, true, maxIDLen)
	rom.Geboortejaar, _ = f.integer(romGeboortejaar, false, 1900, r.year)
	rom.Geslacht = f.code(romGeslacht, false, romSexes)
	rom.AGB = f.agb(romAGB)
	rom.TrajectID = f.text(romTrajectID, true, maxIDLen)
	start, okStart := f.date(romTrajectStart, true)
	rom.TrajectStart = start
	if end, ok := f.date(romTrajectEind, false); ok {
		if okStart && end < start {
			f.fail(romTrajectEind, CodeDateOrder)
		}
		rom.TrajectEind = new(end)
	}
	rom.Prestatie = f.code(romPrestatie, false, romPrestaties)
	rom.RedenEinde = f.code(romRedenEinde, false, romRedenenEind)
	r.readMeasurement(f, &rom)
	row.ROM = &rom
}

// readMeasurement reads instrument, schaal, meetmoment, meetdatum and score:
// all four of instrument, meetmoment, meetdatum and score, or none (a
// trajectory without a measurement; schaal is then ignored).
func (r *reader) readMeasurement(f *fields, rom *ROMRow) {
	n, firstMissing := 0, -1
	for _, c := range [...]int{romInstrument, romMeetmoment, romMeetdatum, romScore} {
		if f.present(c) {
			n++
		} else if firstMissing < 0 {
			firstMissing = c
		}
	}
	if n == 0 {
		return
	}
	// Check what is there, so that every problem is reported at once.
	instrument, known := "", false
	if s, ok := f.value(romInstrument); ok {
		if instrument, known = r.instruments.Canonical(s); !known {
			f.fail(romInstrument, CodeInvalidCode)
		}
	}
	var params *Instrument
	schaal := ""
	if known && !f.failed(romSchaal) {
		if s, ok := f.value(romSchaal); ok {
			schaal = strings.ToLower(s)
		} else {
			schaal = r.defaultScale[instrument]
		}
		if schaal == "" {
			f.fail(romSchaal, CodeMissingValue) // several scales, none "totaal"
		} else if p, ok := r.instruments.Lookup(instrument, schaal); ok {
			params = p
		} else {
			f.fail(romSchaal, CodeInvalidCode)
		}
	}
	moment := f.code(romMeetmoment, false, romMeetmomenten)
	datum, okDatum := f.date(romMeetdatum, false)
	score, okScore := f.decimal(romScore)
	if okScore && params != nil && (score < params.Min || score > params.Max) {
		f.fail(romScore, CodeOutOfRange)
	}
	if n < 4 {
		f.fail(firstMissing, CodeIncomplete)
		return
	}
	if params == nil || !okDatum || !okScore || moment == "" {
		return // reported above
	}
	if score == 0 {
		score = 0 // not -0
	}
	rom.Instrument = instrument
	rom.Schaal = schaal
	rom.Meetmoment = moment
	rom.Meetdatum = new(datum)
	rom.Score = new(score)
}
