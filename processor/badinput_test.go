package processor

import (
	"context"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/schemas"
)

const romHeader = "bsn,client_id,geboortejaar,geslacht,agb_organisatie,traject_id,traject_start,traject_eind,prestatie,reden_einde,instrument,schaal,meetmoment,meetdatum,score\n"

// Two valid ROM rows (lines 2 and 3): a pre and a post of one trajectory.
// 111222333 passes the elfproef: 9·1+8·1+7·1+6·2+5·2+4·2+3·3+2·3−1·3 = 66 = 6·11.
const romValid = "111222333,C001,1980,V,94012345,T001,2026-01-05,2026-04-20,kort,regulier,OQ-45,totaal,voor,2026-01-05,80\n" +
	"111222333,C001,1980,V,94012345,T001,2026-01-05,2026-04-20,kort,regulier,OQ-45,totaal,na,2026-04-18,50\n"

func issue(row int, column string, code schemas.Code) ReportIssue {
	return ReportIssue{Row: row, Column: column, Code: string(code), Message: code.Message()}
}

func TestBadInputs(t *testing.T) {
	other, _ := age.GenerateX25519Identity()
	lvrHeader := "bsn_moeder,client_id,agb_praktijk,vsv_code,zwangerschap_id,pariteit,aantal_kinderen,kindvolgnummer,type_partus,datum_partus,ad_partus\n"
	type want struct {
		status, reason, encoding, separator string
		total, accepted, rejected           int64
		errors, warnings                    []ReportIssue
		orgs, vsvs, missing                 []string
		staged                              bool
	}
	tests := []struct {
		name    string
		tenant  string
		file    string
		data    func(h *harness) []byte
		raw     bool // bypass the gateway checks
		want    want
		checkFn func(t *testing.T, h *harness, m delivery.Meta)
	}{
		{name: "wrong recipient", data: func(h *harness) []byte {
			return encryptTo(t, other.Recipient(), []byte(romHeader+romValid))
		}, want: want{status: "rejected", reason: "not_decryptable"}},
		{name: "truncated", data: func(h *harness) []byte {
			b := h.encrypt([]byte(romHeader + strings.Repeat(romValid, 2000)))
			return b[:len(b)-10]
		}, want: want{status: "rejected", reason: "not_decryptable"}},
		{name: "truncated at chunk boundary", data: func(h *harness) []byte {
			b := h.encrypt([]byte(romHeader + strings.Repeat(romValid, 2000)))
			hdr := len(b) - (len(romHeader) + 2000*len(romValid)) - 16*(1+(len(romHeader)+2000*len(romValid))/65536)
			return b[:hdr+65536+16]
		}, want: want{status: "rejected", reason: "not_decryptable"}},
		{name: "not age at all", raw: true, data: func(h *harness) []byte {
			return []byte(romHeader + romValid)
		}, want: want{status: "rejected", reason: "not_decryptable"}},
		{name: "unknown dataset", data: func(h *harness) []byte {
			return h.encrypt([]byte("naam,adres\nx,y\n"))
		}, want: want{status: "rejected", reason: "unknown_dataset"}},
		{name: "missing column", data: func(h *harness) []byte {
			return h.encrypt([]byte("client_id,traject_id,meetmoment\nC1,T1,voor\n"))
		}, want: want{status: "rejected", reason: "missing_column", missing: []string{"agb_organisatie", "traject_start"}}},
		{name: "organisation not allowed", data: func(h *harness) []byte {
			return h.encrypt([]byte(romHeader + romValid + strings.ReplaceAll(romValid, "94012345", "94099999") +
				strings.ReplaceAll(romValid, "94012345", "94088888")))
		}, want: want{status: "rejected", reason: "organisation_not_allowed", total: 6, rejected: 6, orgs: []string{"94088888", "94099999"}}},
		{name: "dataset not allowed", tenant: "praktijk", data: func(h *harness) []byte {
			return h.encrypt([]byte(romHeader + romValid))
		}, want: want{status: "rejected", reason: "dataset_not_allowed"}},
		{name: "vsv not allowed", tenant: "praktijk", data: func(h *harness) []byte {
			return h.encrypt([]byte(lvrHeader +
				",M1,03012345,VSV-UTR-01,Z1,0,1,1,SPONT,2026-03-01,280\n" +
				",M2,03012345,VSV-AMS-09,Z2,1,1,1,SPONT,2026-03-02,275\n"))
		}, want: want{status: "rejected", reason: "organisation_not_allowed", total: 2, rejected: 2, vsvs: []string{"VSV-AMS-09"}}},
		{name: "no valid rows", data: func(h *harness) []byte {
			return h.encrypt([]byte(romHeader +
				",C1,1980,V,94012345,T1,2026-13-01,,,,,,,,\n"))
		}, want: want{status: "rejected", reason: "no_valid_rows", total: 1, rejected: 1,
			errors: []ReportIssue{issue(2, "traject_start", schemas.CodeInvalidDate)}}},
		{name: "invalid date, number and code", data: func(h *harness) []byte {
			return h.encrypt([]byte(romHeader + romValid +
				",C2,1980,V,94012345,T2,2026-01-05,2026-04-20,kort,regulier,OQ-45,totaal,voor,31-02-2026,80\n" +
				",C3,1980,V,94012345,T3,2026-01-05,2026-04-20,kort,regulier,OQ-45,totaal,voor,2026-01-05,8x\n" +
				",C4,1980,Q,94012345,T4,2026-01-05,2026-04-20,kort,regulier,OQ-45,totaal,voor,2026-01-05,80\n" +
				",C5,1980,V,94012345,T5,2026-01-05,2026-04-20,kort,regulier,OQ-45,totaal,voor,2026-01-05,181\n"))
		}, want: want{status: "accepted_with_warnings", total: 6, accepted: 2, rejected: 4, staged: true,
			errors: []ReportIssue{
				issue(4, "meetdatum", schemas.CodeInvalidDate),
				issue(5, "score", schemas.CodeInvalidNumber),
				issue(6, "geslacht", schemas.CodeInvalidCode),
				issue(7, "score", schemas.CodeOutOfRange),
			}}},
		{name: "control characters in identifiers", data: func(h *harness) []byte {
			return h.encrypt([]byte(romHeader + romValid +
				",C\x002,1980,V,94012345,T2,2026-01-05,2026-04-20,kort,regulier,OQ-45,totaal,voor,2026-01-05,80\n" +
				",C3,1980,V,94012345,T\x013,2026-01-05,2026-04-20,kort,regulier,OQ-45,totaal,voor,2026-01-05,80\n"))
		}, want: want{status: "accepted_with_warnings", total: 4, accepted: 2, rejected: 2, staged: true,
			errors: []ReportIssue{issue(4, "client_id", schemas.CodeInvalidFormat), issue(5, "traject_id", schemas.CodeInvalidFormat)}}},
		{name: "bsn elfproef and 8-digit bsn", data: func(h *harness) []byte {
			// 123456789: 9+16+21+24+25+24+21+16−9 = 147 ≡ 4 (mod 11): fails.
			// 12345672 → 012345672: 0+8+14+18+20+20+18+14−2 = 110 = 10·11: passes after padding.
			return h.encrypt([]byte(romHeader +
				"123456789,C1,1980,V,94012345,T1,2026-01-05,2026-04-20,kort,regulier,OQ-45,totaal,voor,2026-01-05,80\n" +
				"12345672,C2,1980,V,94012345,T2,2026-01-05,2026-04-20,kort,regulier,OQ-45,totaal,voor,2026-01-05,80\n"))
		}, want: want{status: "accepted_with_warnings", total: 2, accepted: 2, staged: true,
			warnings: []ReportIssue{issue(2, "bsn", schemas.CodeBSNElfproef), issue(3, "bsn", schemas.CodeBSNPadded)}},
			checkFn: func(t *testing.T, h *harness, m delivery.Meta) {
				recs := readStaged[schemas.ROMStaged](t, h, "rom", m)
				if len(recs) != 2 {
					t.Fatalf("staged %d records, want 2", len(recs))
				}
				nBSN := 0
				for _, r := range recs {
					if r.BSN != nil {
						nBSN++
						if !strings.HasPrefix(*r.BSN, "v1-") {
							t.Errorf("staged BSN %q is not a pseudonym", *r.BSN)
						}
					}
				}
				if nBSN != 1 {
					t.Errorf("staged %d BSN pseudonyms, want 1 (the failing BSN is left out)", nBSN)
				}
			}},
		{name: "windows-1252", data: func(h *harness) []byte {
			// "Zoë" in client_id: 0xEB is not valid UTF-8 on its own.
			return h.encrypt([]byte(romHeader + strings.ReplaceAll(romValid, "C001", "Zo\xeb1")))
		}, want: want{status: "accepted", encoding: "windows-1252", separator: "comma", total: 2, accepted: 2, staged: true}},
		{name: "utf-8 BOM, semicolons, decimal commas, CRLF", data: func(h *harness) []byte {
			s := strings.ReplaceAll(romHeader+romValid, ",", ";")
			s = strings.ReplaceAll(s, ";80\n", ";80,5\n")
			s = strings.ReplaceAll(s, "2026-01-05", "05-01-2026")
			s = strings.ReplaceAll(s, "\n", "\r\n")
			return h.encrypt([]byte("\xef\xbb\xbf" + s))
		}, want: want{status: "accepted", encoding: "utf-8", separator: "semicolon", total: 2, accepted: 2, staged: true},
			checkFn: func(t *testing.T, h *harness, m delivery.Meta) {
				recs := readStaged[schemas.ROMStaged](t, h, "rom", m)
				var scores []float64
				for _, r := range recs {
					scores = append(scores, *r.Score)
					if got, want := schemas.Date(r.Start).String(), "2026-01-05"; got != want {
						t.Errorf("traject_start = %s, want %s", got, want)
					}
				}
				slices.Sort(scores)
				if !slices.Equal(scores, []float64{50, 80.5}) {
					t.Errorf("scores = %v, want [50 80.5]", scores)
				}
			}},
		{name: "pipe separator, d-m-yyyy", data: func(h *harness) []byte {
			s := strings.ReplaceAll(romHeader+romValid, ",", "|")
			return h.encrypt([]byte(strings.ReplaceAll(s, "2026-01-05", "5-1-2026")))
		}, want: want{status: "accepted", encoding: "utf-8", separator: "pipe", total: 2, accepted: 2, staged: true}},
		{name: "tab separator, dd/mm/yyyy", data: func(h *harness) []byte {
			s := strings.ReplaceAll(romHeader+romValid, ",", "\t")
			return h.encrypt([]byte(strings.ReplaceAll(s, "2026-04-20", "20/04/2026")))
		}, want: want{status: "accepted", encoding: "utf-8", separator: "tab", total: 2, accepted: 2, staged: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, romTenant("vendor", "94012345"), lvr1Tenant("praktijk", []string{"03012345"}, []string{"VSV-UTR-01"}))
			tenant := tt.tenant
			if tenant == "" {
				tenant = "vendor"
			}
			var m delivery.Meta
			if tt.raw {
				m = h.deliverRaw(tenant, "x.csv.age", tt.data(h))
			} else {
				m = h.deliver(tenant, "x.csv.age", tt.data(h))
			}
			h.run()
			r := h.report(m)
			w := tt.want
			if r.Status != w.status || r.Reason != w.reason {
				t.Errorf("status, reason = %q, %q; want %q, %q (report %+v)", r.Status, r.Reason, w.status, w.reason, r)
			}
			if w.encoding != "" && (r.Encoding != w.encoding || r.Separator != w.separator) {
				t.Errorf("encoding, separator = %q, %q; want %q, %q", r.Encoding, r.Separator, w.encoding, w.separator)
			}
			if r.RowsTotal != w.total || r.RowsAccepted != w.accepted || r.RowsRejected != w.rejected {
				t.Errorf("rows total/accepted/rejected = %d/%d/%d, want %d/%d/%d", r.RowsTotal, r.RowsAccepted, r.RowsRejected, w.total, w.accepted, w.rejected)
			}
			if w.errors == nil {
				w.errors = []ReportIssue{}
			}
			if w.warnings == nil {
				w.warnings = []ReportIssue{}
			}
			if !slices.Equal(r.Errors, w.errors) {
				t.Errorf("errors = %+v\nwant %+v", r.Errors, w.errors)
			}
			if !slices.Equal(r.Warnings, w.warnings) {
				t.Errorf("warnings = %+v\nwant %+v", r.Warnings, w.warnings)
			}
			if !slices.Equal(r.RefusedOrganisations, w.orgs) || !slices.Equal(r.RefusedVSVs, w.vsvs) || !slices.Equal(r.MissingColumns, w.missing) {
				t.Errorf("refused orgs %v vsvs %v missing %v; want %v %v %v", r.RefusedOrganisations, r.RefusedVSVs, r.MissingColumns, w.orgs, w.vsvs, w.missing)
			}
			if r.Status == "rejected" && r.Message == "" {
				t.Error("rejected report without a message")
			}
			staged := h.keys("staging/")
			if got := len(staged) > 0; got != w.staged {
				t.Errorf("staged files %v, want staged=%v", staged, w.staged)
			}
			if tt.checkFn != nil {
				tt.checkFn(t, h, m)
			}
			// Processing again changes nothing: the ledger remembers.
			if sum := h.run(); sum.Processed != 0 {
				t.Errorf("second run processed %d deliveries, want 0", sum.Processed)
			}
		})
	}
}

func TestNotDecryptableMessages(t *testing.T) {
	other, _ := age.GenerateX25519Identity()
	h := newHarness(t, romTenant("vendor", "94012345"))
	wrong := h.deliver("vendor", "a.csv.age", encryptTo(t, other.Recipient(), []byte(romHeader+romValid)))
	full := h.encrypt([]byte(romHeader + romValid))
	cut := h.deliver("vendor", "b.csv.age", full[:len(full)-1])
	plain := h.deliverRaw("vendor", "c.csv.age", []byte(romHeader+romValid))
	h.run()
	for _, c := range []struct {
		m    delivery.Meta
		want string
	}{
		{wrong, reasonMessage("wrong_recipient")},
		{cut, reasonMessage("corrupt")},
		{plain, reasonMessage("not_encrypted")},
	} {
		if got := h.report(c.m).Message; got != c.want {
			t.Errorf("%s: message %q, want %q", c.m.FileName, got, c.want)
		}
	}
}

func encryptTo(t *testing.T, r age.Recipient, plain []byte) []byte {
	t.Helper()
	var b strings.Builder
	w, err := age.Encrypt(&b, r)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	w.Close()
	return []byte(b.String())
}

// readStaged reads the staging file of an accepted delivery.
func readStaged[T any](t *testing.T, h *harness, dataset string, m delivery.Meta) []T {
	t.Helper()
	key := "staging/" + dataset + "/" + m.Tenant + "/" + m.ID + ".parquet"
	p := h.processor()
	r, err := openStaged[T](context.Background(), p, key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer r.Close()
	var out []T
	for {
		rec, ok, err := r.nextRow()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		out = append(out, rec)
	}
}

var _ = config.Tenant{}
