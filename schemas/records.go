package schemas

// ROMRow is one validated ROM row as read. It holds identifying values
// (BSN, ClientID, TrajectID): it must never be logged, reported or staged;
// the processor turns it into a ROMStaged with pseudonyms.
type ROMRow struct {
	BSN          string // normalised 9 digits, "" when absent or dropped
	ClientID     string // trimmed
	Geboortejaar int32  // 0 when absent
	Geslacht     string // "M", "V", "X" or ""
	AGB          string // 8 digits
	TrajectID    string // trimmed
	TrajectStart Date
	TrajectEind  *Date  // nil while open
	Prestatie    string // "" when absent
	RedenEinde   string // "" when absent
	// Measurement; all empty/nil for a trajectory row without one.
	Instrument string // canonical code from the instrument table, e.g. "OQ-45"
	Schaal     string // lower case; "totaal" by default when a measurement is present
	Meetmoment string // "voor", "tussen", "na"
	Meetdatum  *Date
	Score      *float64
}

// HasMeasurement reports whether the row carries a measurement.
func (r *ROMRow) HasMeasurement() bool { return r.Instrument != "" }

// LVR1Row is one validated LVR1 row (one child) as read. It holds identifying
// values (BSNMoeder, ClientID, ZwangerschapID, the full postcode, dates): it
// must never be logged, reported or staged.
type LVR1Row struct {
	BSNMoeder          string // normalised 9 digits or ""
	ClientID           string
	GeboortejaarMoeder int32  // 0 when absent
	Postcode4          string // the 4 digits only; "" when absent
	AGBPraktijk        string
	VSVCode            string // as given (upper-cased)
	ZwangerschapID     string
	AdEersteConsult    *int32
	Pariteit           int32
	AantalKinderen     int32
	Kindvolgnummer     int32
	VerantwBeginBaring string // "" when absent
	Overdracht         string
	WijzeBeginBaring   *int32 // 1, 2, 3
	Ligging            *int32 // 1-6, 11-13
	TypePartus         string // SPONT, FORCEPS, VACUUM, STUIT, SECTIO_PRIM, SECTIO_SEC
	PlaatsBaring       string
	DatumPartus        Date // only its year is staged
	AdPartus           int32
	GeslachtKind       *int32
	Geboortegewicht    *int32
	Apgar5             *int32
	Perineum           string // A-F or ""
	Bloedverlies       *int32
	NICUOpname         string // "J", "N" or ""
	Sterfte            *int32 // 0-9
}

// ROMStaged is one pseudonymised ROM record in staging/rom/<tenant>/<id>.parquet.
// A staging file holds each identity (Organisation, Traject, Instrument,
// Scale, Moment, Date) once, sorted by identity.
type ROMStaged struct {
	Organisation string   `parquet:"organisation,dict"`
	Traject      string   `parquet:"traject"`         // pseudonym of (organisation, traject_id)
	Instrument   string   `parquet:"instrument,dict"` // "" for a trajectory row without measurement
	Scale        string   `parquet:"scale,dict"`
	Moment       string   `parquet:"moment,dict"`
	Date         *int32   `parquet:"date,optional,date"` // meetdatum
	Score        *float64 `parquet:"score,optional"`
	Client       string   `parquet:"client"`       // pseudonym of (organisation, client_id)
	BSN          *string  `parquet:"bsn,optional"` // pseudonym of the BSN
	BirthYear    *int32   `parquet:"birth_year,optional"`
	Sex          *string  `parquet:"sex,optional,dict"`
	Start        int32    `parquet:"traject_start,date"`
	End          *int32   `parquet:"traject_end,optional,date"`
	Prestatie    *string  `parquet:"prestatie,optional,dict"`
	RedenEinde   *string  `parquet:"reden_einde,optional,dict"`
}

// LVR1Staged is one pseudonymised LVR1 record (one child) in
// staging/lvr1/<tenant>/<id>.parquet, unique and sorted by identity
// (Practice, Pregnancy, Child). Dates of persons are reduced to the year.
type LVR1Staged struct {
	Practice           string  `parquet:"agb_praktijk,dict"`
	Pregnancy          string  `parquet:"zwangerschap"` // pseudonym of (agb, zwangerschap_id)
	Child              int32   `parquet:"kindvolgnummer"`
	Client             string  `parquet:"client"` // pseudonym of (agb, client_id)
	BSN                *string `parquet:"bsn_moeder,optional"`
	MotherBirthYear    *int32  `parquet:"geboortejaar_moeder,optional"`
	Postcode4          *string `parquet:"postcode4,optional,dict"`
	VSV                string  `parquet:"vsv,dict"`
	AdEersteConsult    *int32  `parquet:"ad_eerste_consult,optional"`
	Pariteit           int32   `parquet:"pariteit"`
	AantalKinderen     int32   `parquet:"aantal_kinderen"`
	VerantwBeginBaring *string `parquet:"verantw_begin_baring,optional,dict"`
	Overdracht         *string `parquet:"overdracht,optional,dict"`
	WijzeBeginBaring   *int32  `parquet:"wijze_begin_baring,optional"`
	Ligging            *int32  `parquet:"ligging,optional"`
	TypePartus         string  `parquet:"type_partus,dict"`
	PlaatsBaring       *string `parquet:"plaats_baring,optional,dict"`
	Year               int32   `parquet:"year"` // year of datum_partus
	AdPartus           int32   `parquet:"ad_partus"`
	GeslachtKind       *int32  `parquet:"geslacht_kind,optional"`
	Geboortegewicht    *int32  `parquet:"geboortegewicht,optional"`
	Apgar5             *int32  `parquet:"apgar5,optional"`
	Perineum           *string `parquet:"perineum,optional,dict"`
	Bloedverlies       *int32  `parquet:"bloedverlies,optional"`
	NICUOpname         *string `parquet:"nicu_opname,optional,dict"`
	Sterfte            *int32  `parquet:"sterfte,optional"`
}
