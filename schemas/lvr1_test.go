package schemas

import (
	"reflect"
	"strings"
	"testing"
)

var lvr1Header = []string{"bsn_moeder", "client_id", "geboortejaar_moeder", "postcode", "agb_praktijk", "vsv_code",
	"zwangerschap_id", "datum_eerste_consult", "ad_eerste_consult", "pariteit", "aantal_kinderen", "kindvolgnummer",
	"verantw_begin_baring", "overdracht", "wijze_begin_baring", "ligging", "type_partus", "plaats_baring",
	"datum_partus", "ad_partus", "geslacht_kind", "geboortegewicht", "apgar5", "perineum", "bloedverlies",
	"nicu_opname", "sterfte"}

var lvr1Base = map[string]string{
	"bsn_moeder": "111222333", "client_id": "M01", "geboortejaar_moeder": "1990", "postcode": "3511 AB",
	"agb_praktijk": "03012345", "vsv_code": "vsv-utr-01", "zwangerschap_id": "Z01", "datum_eerste_consult": "01-02-2026",
	"ad_eerste_consult": "63", "pariteit": "0", "aantal_kinderen": "2", "kindvolgnummer": "2",
	"verantw_begin_baring": "1E_LIJN", "overdracht": "durante_partu", "wijze_begin_baring": "1", "ligging": "1",
	"type_partus": "spont", "plaats_baring": "Thuis", "datum_partus": "15-09-2026", "ad_partus": "280",
	"geslacht_kind": "2", "geboortegewicht": "3450", "apgar5": "9", "perineum": "b", "bloedverlies": "350",
	"nicu_opname": "n", "sterfte": "0",
}

func lvr1Want() LVR1Row {
	return LVR1Row{
		BSNMoeder: "111222333", ClientID: "M01", GeboortejaarMoeder: 1990, Postcode4: "3511", AGBPraktijk: "03012345",
		VSVCode: "VSV-UTR-01", ZwangerschapID: "Z01", AdEersteConsult: ptr[int32](63), Pariteit: 0, AantalKinderen: 2,
		Kindvolgnummer: 2, VerantwBeginBaring: "1e_lijn", Overdracht: "durante_partu", WijzeBeginBaring: ptr[int32](1),
		Ligging: ptr[int32](1), TypePartus: "SPONT", PlaatsBaring: "thuis", DatumPartus: date(2026, 9, 15), AdPartus: 280,
		GeslachtKind: ptr[int32](2), Geboortegewicht: ptr[int32](3450), Apgar5: ptr[int32](9), Perineum: "B",
		Bloedverlies: ptr[int32](350), NICUOpname: "N", Sterfte: ptr[int32](0),
	}
}

func TestReadLVR1Rows(t *testing.T) {
	optional := map[string]string{}
	for _, c := range lvr1Columns {
		if !c.required {
			optional[c.name] = ""
		}
	}
	tests := []struct {
		name  string
		set   map[string]string
		want  func(r *LVR1Row) // applied to lvr1Want(); nil: the row is invalid
		errs  []cc
		warns []cc
	}{
		{name: "valid", want: func(*LVR1Row) {}},
		{name: "only required values", set: optional, want: func(r *LVR1Row) {
			*r = LVR1Row{ClientID: "M01", AGBPraktijk: "03012345", VSVCode: "VSV-UTR-01", ZwangerschapID: "Z01",
				AantalKinderen: 2, Kindvolgnummer: 2, TypePartus: "SPONT", DatumPartus: date(2026, 9, 15), AdPartus: 280}
		}},
		{name: "postcode without space", set: map[string]string{"postcode": "3511AB"}, want: func(*LVR1Row) {}},
		{name: "postcode lower case", set: map[string]string{"postcode": "3511ab"}, want: func(*LVR1Row) {}},
		{name: "postcode digits only", set: map[string]string{"postcode": "9999"}, want: func(r *LVR1Row) { r.Postcode4 = "9999" }},
		{name: "codes in other case", set: map[string]string{"type_partus": "Sectio_Sec", "perineum": "F", "nicu_opname": "J", "overdracht": "GEEN", "verantw_begin_baring": "onbekend", "plaats_baring": "ONDERWEG"},
			want: func(r *LVR1Row) {
				r.TypePartus, r.Perineum, r.NICUOpname, r.Overdracht, r.VerantwBeginBaring, r.PlaatsBaring = "SECTIO_SEC", "F", "J", "geen", "onbekend", "onderweg"
			}},
		{name: "range bounds low", set: map[string]string{"geboortejaar_moeder": "1940", "ad_eerste_consult": "0", "pariteit": "0", "aantal_kinderen": "1", "kindvolgnummer": "1",
			"ad_partus": "154", "geboortegewicht": "200", "apgar5": "0", "bloedverlies": "0", "ligging": "11", "wijze_begin_baring": "3", "geslacht_kind": "1", "sterfte": "9"},
			want: func(r *LVR1Row) {
				r.GeboortejaarMoeder, r.AdEersteConsult, r.AantalKinderen, r.Kindvolgnummer, r.AdPartus = 1940, ptr[int32](0), 1, 1, 154
				r.Geboortegewicht, r.Apgar5, r.Bloedverlies, r.Ligging, r.WijzeBeginBaring, r.GeslachtKind, r.Sterfte = ptr[int32](200), ptr[int32](0), ptr[int32](0), ptr[int32](11), ptr[int32](3), ptr[int32](1), ptr[int32](9)
			}},
		{name: "range bounds high", set: map[string]string{"geboortejaar_moeder": "2026", "ad_eerste_consult": "300", "pariteit": "20", "aantal_kinderen": "8", "kindvolgnummer": "8",
			"ad_partus": "315", "geboortegewicht": "6500,0", "apgar5": "10", "bloedverlies": "10000", "ligging": "13", "geslacht_kind": "3"},
			want: func(r *LVR1Row) {
				r.GeboortejaarMoeder, r.AdEersteConsult, r.Pariteit, r.AantalKinderen, r.Kindvolgnummer, r.AdPartus = 2026, ptr[int32](300), 20, 8, 8, 315
				r.Geboortegewicht, r.Apgar5, r.Bloedverlies, r.Ligging, r.GeslachtKind = ptr[int32](6500), ptr[int32](10), ptr[int32](10000), ptr[int32](13), ptr[int32](3)
			}},
		{name: "ligging 6", set: map[string]string{"ligging": "6"}, want: func(r *LVR1Row) { r.Ligging = ptr[int32](6) }},
		{name: "bsn padded", set: map[string]string{"bsn_moeder": "12345672"}, want: func(r *LVR1Row) { r.BSNMoeder = "012345672" }, warns: []cc{{"bsn_moeder", CodeBSNPadded}}},
		{name: "bsn elfproef", set: map[string]string{"bsn_moeder": "123456789"}, want: func(r *LVR1Row) { r.BSNMoeder = "" }, warns: []cc{{"bsn_moeder", CodeBSNElfproef}}},
		{name: "16-character vsv", set: map[string]string{"vsv_code": "abcdefgh-1234567"}, want: func(r *LVR1Row) { r.VSVCode = "ABCDEFGH-1234567" }},

		{name: "client_id missing", set: map[string]string{"client_id": ""}, errs: []cc{{"client_id", CodeMissingValue}}},
		{name: "client_id too long", set: map[string]string{"client_id": strings.Repeat("m", 65)}, errs: []cc{{"client_id", CodeTooLong}}},
		{name: "zwangerschap_id too long", set: map[string]string{"zwangerschap_id": strings.Repeat("z", 65)}, errs: []cc{{"zwangerschap_id", CodeTooLong}}},
		{name: "geboortejaar_moeder 1939", set: map[string]string{"geboortejaar_moeder": "1939"}, errs: []cc{{"geboortejaar_moeder", CodeOutOfRange}}},
		{name: "geboortejaar_moeder future", set: map[string]string{"geboortejaar_moeder": "2027"}, errs: []cc{{"geboortejaar_moeder", CodeOutOfRange}}},
		{name: "postcode leading zero", set: map[string]string{"postcode": "0511AB"}, errs: []cc{{"postcode", CodeInvalidFormat}}},
		{name: "postcode one letter", set: map[string]string{"postcode": "3511 A"}, errs: []cc{{"postcode", CodeInvalidFormat}}},
		{name: "postcode hyphen", set: map[string]string{"postcode": "3511-AB"}, errs: []cc{{"postcode", CodeInvalidFormat}}},
		{name: "postcode two spaces", set: map[string]string{"postcode": "3511  AB"}, errs: []cc{{"postcode", CodeInvalidFormat}}},
		{name: "postcode five digits", set: map[string]string{"postcode": "35112"}, errs: []cc{{"postcode", CodeInvalidFormat}}},
		{name: "postcode three digits", set: map[string]string{"postcode": "351"}, errs: []cc{{"postcode", CodeInvalidFormat}}},
		{name: "agb missing", set: map[string]string{"agb_praktijk": ""}, errs: []cc{{"agb_praktijk", CodeMissingValue}}},
		{name: "agb lost its zero", set: map[string]string{"agb_praktijk": "3012345"}, errs: []cc{{"agb_praktijk", CodeInvalidFormat}}},
		{name: "vsv missing", set: map[string]string{"vsv_code": ""}, errs: []cc{{"vsv_code", CodeMissingValue}}},
		{name: "vsv too long", set: map[string]string{"vsv_code": "abcdefgh-12345678"}, errs: []cc{{"vsv_code", CodeTooLong}}},
		{name: "vsv underscore", set: map[string]string{"vsv_code": "VSV_UTR"}, errs: []cc{{"vsv_code", CodeInvalidFormat}}},
		{name: "vsv space", set: map[string]string{"vsv_code": "VSV UTR"}, errs: []cc{{"vsv_code", CodeInvalidFormat}}},
		{name: "datum_eerste_consult", set: map[string]string{"datum_eerste_consult": "31-02-2026"}, errs: []cc{{"datum_eerste_consult", CodeInvalidDate}}},
		{name: "ad_eerste_consult", set: map[string]string{"ad_eerste_consult": "301"}, errs: []cc{{"ad_eerste_consult", CodeOutOfRange}}},
		{name: "ad_eerste_consult weeks", set: map[string]string{"ad_eerste_consult": "9+0"}, errs: []cc{{"ad_eerste_consult", CodeInvalidNumber}}},
		{name: "pariteit missing", set: map[string]string{"pariteit": ""}, errs: []cc{{"pariteit", CodeMissingValue}}},
		{name: "pariteit", set: map[string]string{"pariteit": "21"}, errs: []cc{{"pariteit", CodeOutOfRange}}},
		{name: "aantal_kinderen 0", set: map[string]string{"aantal_kinderen": "0"}, errs: []cc{{"aantal_kinderen", CodeOutOfRange}}},
		{name: "aantal_kinderen 9", set: map[string]string{"aantal_kinderen": "9"}, errs: []cc{{"aantal_kinderen", CodeOutOfRange}}},
		{name: "kindvolgnummer 0", set: map[string]string{"kindvolgnummer": "0"}, errs: []cc{{"kindvolgnummer", CodeOutOfRange}}},
		{name: "kindvolgnummer above aantal_kinderen", set: map[string]string{"kindvolgnummer": "3"}, errs: []cc{{"kindvolgnummer", CodeInconsistent}}},
		{name: "kindvolgnummer with aantal_kinderen invalid", set: map[string]string{"kindvolgnummer": "3", "aantal_kinderen": "x"}, errs: []cc{{"aantal_kinderen", CodeInvalidNumber}}},
		{name: "verantw_begin_baring", set: map[string]string{"verantw_begin_baring": "3e_lijn"}, errs: []cc{{"verantw_begin_baring", CodeInvalidCode}}},
		{name: "overdracht", set: map[string]string{"overdracht": "ja"}, errs: []cc{{"overdracht", CodeInvalidCode}}},
		{name: "wijze_begin_baring", set: map[string]string{"wijze_begin_baring": "4"}, errs: []cc{{"wijze_begin_baring", CodeInvalidCode}}},
		{name: "ligging 7", set: map[string]string{"ligging": "7"}, errs: []cc{{"ligging", CodeInvalidCode}}},
		{name: "ligging 14", set: map[string]string{"ligging": "14"}, errs: []cc{{"ligging", CodeInvalidCode}}},
		{name: "ligging text", set: map[string]string{"ligging": "hoofd"}, errs: []cc{{"ligging", CodeInvalidCode}}},
		{name: "type_partus missing", set: map[string]string{"type_partus": ""}, errs: []cc{{"type_partus", CodeMissingValue}}},
		{name: "type_partus", set: map[string]string{"type_partus": "KEIZERSNEDE"}, errs: []cc{{"type_partus", CodeInvalidCode}}},
		{name: "plaats_baring", set: map[string]string{"plaats_baring": "ziekenhuis"}, errs: []cc{{"plaats_baring", CodeInvalidCode}}},
		{name: "datum_partus missing", set: map[string]string{"datum_partus": ""}, errs: []cc{{"datum_partus", CodeMissingValue}}},
		{name: "datum_partus", set: map[string]string{"datum_partus": "2026-13-01"}, errs: []cc{{"datum_partus", CodeInvalidDate}}},
		{name: "ad_partus missing", set: map[string]string{"ad_partus": ""}, errs: []cc{{"ad_partus", CodeMissingValue}}},
		{name: "ad_partus 153", set: map[string]string{"ad_partus": "153"}, errs: []cc{{"ad_partus", CodeOutOfRange}}},
		{name: "ad_partus 316", set: map[string]string{"ad_partus": "316"}, errs: []cc{{"ad_partus", CodeOutOfRange}}},
		{name: "geslacht_kind", set: map[string]string{"geslacht_kind": "M"}, errs: []cc{{"geslacht_kind", CodeInvalidCode}}},
		{name: "geboortegewicht 199", set: map[string]string{"geboortegewicht": "199"}, errs: []cc{{"geboortegewicht", CodeOutOfRange}}},
		{name: "geboortegewicht 6501", set: map[string]string{"geboortegewicht": "6501"}, errs: []cc{{"geboortegewicht", CodeOutOfRange}}},
		{name: "geboortegewicht in kg", set: map[string]string{"geboortegewicht": "3,45"}, errs: []cc{{"geboortegewicht", CodeInvalidNumber}}},
		{name: "geboortegewicht thousands", set: map[string]string{"geboortegewicht": "3.000"}, errs: []cc{{"geboortegewicht", CodeInvalidNumber}}},
		{name: "apgar5", set: map[string]string{"apgar5": "11"}, errs: []cc{{"apgar5", CodeOutOfRange}}},
		{name: "perineum", set: map[string]string{"perineum": "G"}, errs: []cc{{"perineum", CodeInvalidCode}}},
		{name: "bloedverlies", set: map[string]string{"bloedverlies": "10001"}, errs: []cc{{"bloedverlies", CodeOutOfRange}}},
		{name: "bloedverlies negative", set: map[string]string{"bloedverlies": "-1"}, errs: []cc{{"bloedverlies", CodeOutOfRange}}},
		{name: "nicu_opname", set: map[string]string{"nicu_opname": "ja"}, errs: []cc{{"nicu_opname", CodeInvalidCode}}},
		{name: "sterfte", set: map[string]string{"sterfte": "10"}, errs: []cc{{"sterfte", CodeInvalidCode}}},
		{name: "several errors", set: map[string]string{"bsn_moeder": "1", "postcode": "AB", "pariteit": "-1", "type_partus": "x", "sterfte": "-1"},
			errs:  []cc{{"postcode", CodeInvalidFormat}, {"pariteit", CodeOutOfRange}, {"type_partus", CodeInvalidCode}, {"sterfte", CodeInvalidCode}},
			warns: []cc{{"bsn_moeder", CodeBSNElfproef}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, rows, err := readAll(t, fileOf(lvr1Header, lvr1Base, tt.set), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rd.Dataset() != LVR1 || len(rows) != 1 {
				t.Fatalf("got dataset %q and %d rows, want lvr1 and 1", rd.Dataset(), len(rows))
			}
			row := rows[0]
			if got, want := row.Errors, issuesOf(SeverityError, tt.errs); !reflect.DeepEqual(got, want) {
				t.Errorf("got errors %v, want %v", got, want)
			}
			if got, want := row.Warnings, issuesOf(SeverityWarning, tt.warns); !reflect.DeepEqual(got, want) {
				t.Errorf("got warnings %v, want %v", got, want)
			}
			if row.ROM != nil {
				t.Errorf("got a ROM row")
			}
			if tt.want == nil {
				if row.LVR1 != nil {
					t.Errorf("got row %s, want none", show(row.LVR1))
				}
				return
			}
			want := lvr1Want()
			tt.want(&want)
			if row.LVR1 == nil || !reflect.DeepEqual(*row.LVR1, want) {
				t.Errorf("\n got %s\nwant %s", show(row.LVR1), show(want))
			}
		})
	}
}

// TestReadLVR1Twins reads a small file in the comma dialect with a twin.
func TestReadLVR1Twins(t *testing.T) {
	data := "Zwangerschap_ID,type_partus,client_id,agb_praktijk,vsv_code,pariteit,aantal_kinderen,kindvolgnummer,datum_partus,ad_partus\r\n" +
		"Z01,VACUUM,M01,03012345,VSV-01,1,2,1,2026-09-15,252\r\n" +
		"Z01,SECTIO_SEC,M01,03012345,VSV-01,1,2,2,16/9/2026,252\r\n"
	rd, rows, err := readAll(t, data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rd.Dataset() != LVR1 || rd.Separator() != ',' || len(rows) != 2 {
		t.Fatalf("got %q %q %d rows, want lvr1 , 2", rd.Dataset(), rd.Separator(), len(rows))
	}
	for i, r := range rows {
		if r.LVR1 == nil || r.LVR1.Kindvolgnummer != int32(i+1) || r.Line != i+2 {
			t.Errorf("row %d: got %s", i, show(r))
		}
	}
	if got := rows[1].LVR1.DatumPartus; got != date(2026, 9, 16) {
		t.Errorf("got datum_partus %v, want 2026-09-16", got)
	}
}

func TestLVR1Columns(t *testing.T) {
	if len(lvr1Columns) != len(lvr1Header) || lvrSterfte != len(lvr1Columns)-1 {
		t.Fatalf("got %d columns, want %d", len(lvr1Columns), len(lvr1Header))
	}
	for i, c := range lvr1Columns {
		if c.name != lvr1Header[i] {
			t.Errorf("column %d: got %q, want %q", i, c.name, lvr1Header[i])
		}
	}
}
