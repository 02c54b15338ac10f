package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ttpgate/ttpgate/crypto"
	"github.com/ttpgate/ttpgate/schemas"
)

// maxListed bounds the errors and warnings a report lists; the rest are
// counted in more_errors / more_warnings.
const maxListed = 1000

// Report is the feedback a tenant reads back from its outbox for every
// delivery. It names rows, columns and codes, never a value from a row.
type Report struct {
	DeliveryID     string    `json:"delivery_id"`
	FileName       string    `json:"file_name"`
	ReceivedAt     time.Time `json:"received_at"`
	SHA256         string    `json:"sha256"`
	Dataset        string    `json:"dataset,omitempty"`
	SchemaVersion  int       `json:"schema_version"`
	Status         string    `json:"status"`
	Reason         string    `json:"reason,omitempty"`
	Message        string    `json:"message,omitempty"`
	DuplicateOf    string    `json:"duplicate_of,omitempty"`
	MissingColumns []string  `json:"missing_columns,omitempty"`
	// RefusedOrganisations and RefusedVSVs are the codes the tenant may not
	// deliver for (organisation codes are not personal data).
	RefusedOrganisations []string      `json:"refused_organisations,omitempty"`
	RefusedVSVs          []string      `json:"refused_vsvs,omitempty"`
	Encoding             string        `json:"encoding,omitempty"`
	Separator            string        `json:"separator,omitempty"`
	RowsTotal            int64         `json:"rows_total"`
	RowsAccepted         int64         `json:"rows_accepted"`
	RowsRejected         int64         `json:"rows_rejected"`
	Errors               []ReportIssue `json:"errors"`
	Warnings             []ReportIssue `json:"warnings"`
	MoreErrors           int64         `json:"more_errors"`
	MoreWarnings         int64         `json:"more_warnings"`
	ProcessedAt          time.Time     `json:"processed_at"`
}

// ReportIssue is one row problem.
type ReportIssue struct {
	Row     int    `json:"row"`
	Column  string `json:"column,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (r *Report) addIssue(is schemas.Issue) {
	ri := ReportIssue{Row: is.Row, Column: is.Column, Code: string(is.Code), Message: is.Code.Message()}
	if is.Severity == schemas.SeverityWarning {
		if len(r.Warnings) < maxListed {
			r.Warnings = append(r.Warnings, ri)
		} else {
			r.MoreWarnings++
		}
		return
	}
	if len(r.Errors) < maxListed {
		r.Errors = append(r.Errors, ri)
	} else {
		r.MoreErrors++
	}
}

// Reasons of rejections for the state of the store rather than the file.
const (
	reasonDataMissing = "data_missing"
	reasonDataChanged = "data_changed"
)

// reasonMessages are the fixed texts of file-level rejections.
var reasonMessages = map[string]string{
	string(schemas.ReasonNotDecryptable):         "the file could not be decrypted with the TTP's key",
	string(schemas.ReasonNotCSV):                 "the file is not valid CSV (check quoting)",
	string(schemas.ReasonUnknownDataset):         "the header matches no known extract format",
	string(schemas.ReasonDatasetNotAllowed):      "this tenant may not deliver this dataset",
	string(schemas.ReasonMissingColumn):          "a required column is missing",
	string(schemas.ReasonOrganisationNotAllowed): "the file names organisations this tenant may not deliver for",
	string(schemas.ReasonNoValidRows):            "the file has no valid row",
	"not_encrypted":                              "the file is not an age or OpenPGP message",
	"wrong_recipient":                            "no matching key: the file is not encrypted to the TTP's key",
	"passphrase_only":                            "the file is encrypted with a passphrase only; encrypt it to the TTP's public key",
	"corrupt":                                    "the file is damaged or truncated: it failed its integrity check",
	"no_integrity_protection":                    "the OpenPGP message has no integrity protection (no MDC); encrypt it with a current GnuPG",
	"decompression_limit":                        fmt.Sprintf("the file decompresses to more than %d times its size or %d GiB; encrypt it without compression", crypto.MaxExpansion, crypto.MaxPlaintext>>30),
	"unsupported_format":                         "the file uses an encryption format or algorithm the TTP does not accept",
	reasonDataMissing:                            "the delivered file is no longer in the TTP's store; please deliver it again",
	reasonDataChanged:                            "the stored file differs from what was received (SHA-256 mismatch); please deliver it again",
}

func reasonMessage(reason string) string {
	if m, ok := reasonMessages[reason]; ok {
		return m
	}
	return reason
}

func reportKey(tenant, id, ext string) string { return "outbox/" + tenant + "/" + id + ext }

// writeReport stores the JSON report and a short text beside it.
func (p *Processor) writeReport(ctx context.Context, tenant string, r *Report) error {
	if r.Errors == nil {
		r.Errors = []ReportIssue{}
	}
	if r.Warnings == nil {
		r.Warnings = []ReportIssue{}
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := p.opt.Store.Put(ctx, reportKey(tenant, r.DeliveryID, ".json"), bytes.NewReader(append(b, '\n'))); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := p.opt.Store.Put(ctx, reportKey(tenant, r.DeliveryID, ".txt"), strings.NewReader(r.Text())); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// Text renders the short human summary of a report.
func (r *Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Delivery %s\n", r.DeliveryID)
	fmt.Fprintf(&b, "File:     %s (received %s, sha256 %s)\n", r.FileName, r.ReceivedAt.Format(time.RFC3339), r.SHA256)
	if r.Dataset != "" {
		fmt.Fprintf(&b, "Dataset:  %s v%d\n", r.Dataset, r.SchemaVersion)
	}
	fmt.Fprintf(&b, "Status:   %s\n", r.Status)
	if r.Reason != "" {
		fmt.Fprintf(&b, "Reason:   %s: %s\n", r.Reason, r.Message)
	}
	if r.DuplicateOf != "" {
		fmt.Fprintf(&b, "Same bytes as delivery %s; nothing was counted twice.\n", r.DuplicateOf)
	}
	if len(r.MissingColumns) > 0 {
		fmt.Fprintf(&b, "Missing columns: %s\n", strings.Join(r.MissingColumns, ", "))
	}
	if len(r.RefusedOrganisations) > 0 {
		fmt.Fprintf(&b, "Organisations not allowed: %s\n", strings.Join(r.RefusedOrganisations, ", "))
	}
	if len(r.RefusedVSVs) > 0 {
		fmt.Fprintf(&b, "VSVs not allowed: %s\n", strings.Join(r.RefusedVSVs, ", "))
	}
	fmt.Fprintf(&b, "Rows:     %d read, %d accepted, %d rejected\n", r.RowsTotal, r.RowsAccepted, r.RowsRejected)
	if n := int64(len(r.Errors)) + r.MoreErrors; n > 0 {
		fmt.Fprintf(&b, "Errors:   %d (see the .json report for row, column and code)\n", n)
	}
	if n := int64(len(r.Warnings)) + r.MoreWarnings; n > 0 {
		fmt.Fprintf(&b, "Warnings: %d\n", n)
	}
	return b.String()
}
