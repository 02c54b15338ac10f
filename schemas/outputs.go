package schemas

import "time"

// The output tables (outputs-v1.md), one struct per table. Columns appear in
// the order the specification lists them, except the hive partition column
// (period for the KiBG tables, year for the DHD table): it lives in the
// folder name only, as Spark writes it, and DuckDB reads it back with
// hive_partitioning. Counts and figures are optional because small-cell
// suppression sets them to null.

// NationalCode is the organisation or VSV code of the national row.
const NationalCode = "NL"

// ROMOutcome is one row of out/kibg/rom_outcomes/period=<YYYY>-H<1|2>/.
type ROMOutcome struct {
	Organisation      string   `parquet:"organisation,dict"` // AGB or NL
	Instrument        string   `parquet:"instrument,dict"`
	Scale             string   `parquet:"scale,dict"`
	NTrajectories     *int64   `parquet:"n_trajectories,optional"`
	NPairs            *int64   `parquet:"n_pairs,optional"`
	MeanPre           *float64 `parquet:"mean_pre,optional"`
	MeanPost          *float64 `parquet:"mean_post,optional"`
	MeanImprovement   *float64 `parquet:"mean_improvement,optional"`
	CI95Low           *float64 `parquet:"ci95_low,optional"`
	CI95High          *float64 `parquet:"ci95_high,optional"`
	EffectSize        *float64 `parquet:"effect_size,optional"`
	PctRecovered      *float64 `parquet:"pct_recovered,optional"`
	PctImproved       *float64 `parquet:"pct_improved,optional"`
	PctUnchanged      *float64 `parquet:"pct_unchanged,optional"`
	PctDeteriorated   *float64 `parquet:"pct_deteriorated,optional"`
	ParamsProvisional bool     `parquet:"params_provisional"`
	Suppressed        bool     `parquet:"suppressed"`
}

// ROMResponse is one row of out/kibg/rom_response/period=<YYYY>-H<1|2>/.
type ROMResponse struct {
	Organisation   string   `parquet:"organisation,dict"` // AGB or NL
	Prestatie      string   `parquet:"prestatie,dict"`    // a Basis GGZ product or "alle"
	NTrajectories  *int64   `parquet:"n_trajectories,optional"`
	NCompleters    *int64   `parquet:"n_completers,optional"`
	NDropouts      *int64   `parquet:"n_dropouts,optional"`
	NNonstarters   *int64   `parquet:"n_nonstarters,optional"`
	NNonresponders *int64   `parquet:"n_nonresponders,optional"`
	ResponseRate   *float64 `parquet:"response_rate,optional"`
	Suppressed     bool     `parquet:"suppressed"`
}

// PrestatieAll is the prestatie of the response row that counts every
// included trajectory.
const PrestatieAll = "alle"

// IGIndicator is one row of out/dhd/ig_indicators/year=<YYYY>/.
type IGIndicator struct {
	VSV           string   `parquet:"vsv,dict"` // VSV code or NL
	IndicatorID   string   `parquet:"indicator_id,dict"`
	IndicatorName string   `parquet:"indicator_name,dict"`
	Numerator     *int64   `parquet:"numerator,optional"`
	Denominator   *int64   `parquet:"denominator,optional"`
	Score         *float64 `parquet:"score,optional"` // percentage, or per mille for IG-06
	Unit          string   `parquet:"unit,dict"`      // "%" or "‰"
	NPractices    *int64   `parquet:"n_practices,optional"`
	Suppressed    bool     `parquet:"suppressed"`
}

// IGODB is one row of out/zin/ig_odb/year=<YYYY>/, the long format of the
// Zorginstituut's open database. Verslagjaar repeats the partition's year
// because it is a column of that format.
type IGODB struct {
	IndicatorsetNaam      string   `parquet:"IndicatorsetNaam,dict"`
	IndicatorsetCode      string   `parquet:"IndicatorsetCode,dict"`
	Verslagjaar           int64    `parquet:"Verslagjaar"`
	VSV                   string   `parquet:"VSV,dict"`
	IndicatorCode         string   `parquet:"IndicatorCode,dict"`
	IndicatorNaam         string   `parquet:"IndicatorNaam,dict"`
	IndicatorEenheid      string   `parquet:"IndicatorEenheid,dict"` // Percentage or Promille
	IndicatorWaarde       *float64 `parquet:"IndicatorWaarde,optional"`
	Teller                *int64   `parquet:"Teller,optional"`
	Noemer                *int64   `parquet:"Noemer,optional"`
	IndicatorNB           bool     `parquet:"Indicator_nb"`
	Opmerking             *string  `parquet:"Opmerking,optional,dict"`
	MeetperiodeBeginDatum int32    `parquet:"MeetperiodeBeginDatum,date"` // a Date
	MeetperiodeEindDatum  int32    `parquet:"MeetperiodeEindDatum,date"`  // a Date
	Bron                  string   `parquet:"Bron,dict"`
}

// Fixed values of the ZIN table.
const (
	ODBIndicatorsetNaam = "Integrale Geboortezorg"
	ODBIndicatorsetCode = "IG"
	ODBBron             = "LVR1 via ttpgate (TTP)"
)

// DeliveryRow is one row of out/ops/deliveries/: one processed delivery.
type DeliveryRow struct {
	DeliveryID   string    `parquet:"delivery_id"`
	Tenant       string    `parquet:"tenant,dict"`
	Channel      string    `parquet:"channel,dict"`
	FileName     string    `parquet:"file_name"`
	ReceivedAt   time.Time `parquet:"received_at,timestamp(microsecond:local)"`
	SizeBytes    int64     `parquet:"size_bytes"`
	SHA256       string    `parquet:"sha256"`
	Dataset      string    `parquet:"dataset,dict"`
	Status       string    `parquet:"status,dict"`
	RowsTotal    int64     `parquet:"rows_total"`
	RowsAccepted int64     `parquet:"rows_accepted"`
	RowsRejected int64     `parquet:"rows_rejected"`
	ProcessedAt  time.Time `parquet:"processed_at,timestamp(microsecond:local)"`
}

// IGIndicatorDef describes one indicator of the Integrale Geboortezorg set.
type IGIndicatorDef struct {
	ID   string // "IG-01" … "IG-10"
	Name string // the English name of outputs-v1.md
	Unit string // "%" or "‰"
	// ODBUnit is the unit as the ZIN table spells it: Percentage or Promille.
	ODBUnit string
	// Per is 100 for a percentage and 1000 for a per mille:
	// score = Per·numerator/denominator.
	Per int64
}

// IGCatalogue lists the IG indicators in id order (outputs-v1.md). It is an
// array, so a caller gets a copy.
var IGCatalogue = [...]IGIndicatorDef{
	{ID: "IG-01", Name: "Early start of care", Unit: "%", ODBUnit: "Percentage", Per: 100},
	{ID: "IG-02", Name: "Caesarean section in NTSV", Unit: "%", ODBUnit: "Percentage", Per: 100},
	{ID: "IG-03", Name: "Induction of labour at term", Unit: "%", ODBUnit: "Percentage", Per: 100},
	{ID: "IG-04", Name: "Assisted vaginal birth in NTSV", Unit: "%", ODBUnit: "Percentage", Per: 100},
	{ID: "IG-05", Name: "Adverse outcome (composite)", Unit: "%", ODBUnit: "Percentage", Per: 100},
	{ID: "IG-06", Name: "Perinatal mortality", Unit: "‰", ODBUnit: "Promille", Per: 1000},
	{ID: "IG-07", Name: "Apgar < 7 at 5 minutes", Unit: "%", ODBUnit: "Percentage", Per: 100},
	{ID: "IG-08", Name: "Severe perineal tear", Unit: "%", ODBUnit: "Percentage", Per: 100},
	{ID: "IG-09", Name: "Referral during labour", Unit: "%", ODBUnit: "Percentage", Per: 100},
	{ID: "IG-10", Name: "Preterm birth", Unit: "%", ODBUnit: "Percentage", Per: 100},
}
