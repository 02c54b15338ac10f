package gateway

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// The gateway's Prometheus metrics are counted from its audit events, as
// each is written (Dropzone.Audit): what the metrics say and what the audit
// log says cannot disagree. Labels hold only values from small fixed sets:
// the protocol, a configured tenant id (or "unknown"), and reasons and
// methods from the lists below (or "other"). Never a file name, an address,
// a user name as the client sent it, or anything else a client chooses.

// Protocols as the metrics label them.
var (
	metricProtocols = []string{"sftp", "s3"}
	protocolSet     = labelSet(metricProtocols...)
)

// uploadRefusalReasons are the reasons of upload.refused events: the
// drop-zone's refusal codes, the gateway's own words (reasonOf), and the S3
// error codes an upload body can end with.
var uploadRefusalReasons = labelSet(
	"invalid_name", "not_encrypted", "too_large", "empty",
	"protocol", "shutdown", "broken", "timeout", "error", "too_many_multipart_uploads",
	"AccessDenied", "BadDigest", "EntityTooLarge", "IncompleteBody", "InternalError", "InvalidArgument",
	"InvalidDigest", "InvalidPart", "InvalidRequest", "MalformedTrailerError", "RequestTimeout",
	"ServiceUnavailable", "SignatureDoesNotMatch", "XAmzContentSHA256Mismatch",
)

// authFailureReasons are the reasons of auth.failed events: SFTP's (see
// sftpAuthReason) and the S3 error codes of a failed signature check.
var authFailureReasons = labelSet(
	"key_not_authorized", "key_not_proven", "method_not_allowed", "banned",
	"AccessDenied", "AuthorizationHeaderMalformed", "AuthorizationQueryParametersError", "InvalidAccessKeyId",
	"InvalidArgument", "InvalidRequest", "InvalidToken", "MissingSecurityHeader", "RequestTimeTooSkewed",
	"SignatureDoesNotMatch", "XAmzContentSHA256Mismatch", "error",
)

// authMethods are the SSH authentication methods (RFC 4252 and common
// extensions) and S3's signature; a client may name any method it likes.
var authMethods = labelSet("publickey", "password", "keyboard-interactive", "hostbased", "gssapi-with-mic", "sigv4")

// connRefusalReasons are the reasons of conn.refused events.
var connRefusalReasons = labelSet("banned", "too_many_connections", "too_many_connections_from_address",
	"too_many_sessions", "idle_timeout")

func labelSet(values ...string) map[string]bool {
	m := map[string]bool{}
	for _, v := range values {
		m[v] = true
	}
	return m
}

// bounded returns v when it is in set, else "other".
func bounded(set map[string]bool, v string) string {
	if set[v] {
		return v
	}
	return "other"
}

// gatewayMetrics are the metrics of one Dropzone and its front-ends.
type gatewayMetrics struct {
	d *Dropzone

	sessionsOpened   *prometheus.CounterVec
	sessions         *prometheus.GaugeVec
	uploadsStarted   *prometheus.CounterVec
	uploadsCommitted *prometheus.CounterVec
	uploadsAborted   *prometheus.CounterVec
	receivedBytes    *prometheus.CounterVec
	refusals         *prometheus.CounterVec
	authFailures     *prometheus.CounterVec
	connRefusals     *prometheus.CounterVec
	denied           *prometheus.CounterVec
	bans             prometheus.Counter

	activeUploads *prometheus.Desc
	banned        *prometheus.Desc
}

// RegisterMetrics registers the gateway's metrics with reg and has d count
// its audit events into them from then on. Give each gateway a registry of
// its own (prometheus.NewRegistry), not the global default one.
func (d *Dropzone) RegisterMetrics(reg prometheus.Registerer) error {
	const ns, sub = "ttpgate", "gateway"
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, labels)
	}
	m := &gatewayMetrics{
		d: d,
		sessionsOpened: counter("sessions_opened_total",
			"Sessions opened: SFTP logins, and S3 connections on which a tenant authenticated.", "protocol"),
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "sessions",
			Help: "Sessions open now: SFTP logins, and S3 connections on which a tenant authenticated."}, []string{"protocol"}),
		uploadsStarted: counter("uploads_started_total",
			"Uploads begun (an S3 multipart upload counts when it is created and again when it is assembled).", "protocol", "tenant"),
		uploadsCommitted: counter("uploads_committed_total",
			"Uploads committed as deliveries.", "protocol", "tenant"),
		uploadsAborted: counter("uploads_aborted_total",
			"Uploads ended without a delivery after they began: broken off, refused while the data came in, "+
				"discarded at shutdown, or S3 multipart uploads aborted or expired.", "protocol", "tenant"),
		receivedBytes: counter("received_bytes_total",
			"Bytes of the uploads committed as deliveries.", "protocol"),
		refusals: counter("upload_refusals_total",
			"Uploads refused, by reason (not_encrypted, invalid_name, too_large, ...).", "protocol", "reason"),
		authFailures: counter("auth_failures_total",
			"Failed authentication attempts, by method and reason.", "protocol", "method", "reason"),
		connRefusals: counter("connections_refused_total",
			"Connections and requests refused before any work: bans, connection and session limits, idle timeouts.", "protocol", "reason"),
		denied: counter("requests_denied_total",
			"Requests denied by the drop-zone's policy (outside the tenant's folders, or an operation it does not allow).", "protocol"),
		bans: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "bans_total",
			Help: "Addresses banned after repeated authentication failures."}),
		activeUploads: prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "active_uploads"),
			"Uploads in progress now.", []string{"protocol"}, nil),
		banned: prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "banned_addresses"),
			"Addresses banned now.", nil, nil),
	}
	// Every series of a known label set exists from the start, at zero, so
	// that rates and alerts work before the first event.
	for _, p := range metricProtocols {
		m.sessionsOpened.WithLabelValues(p)
		m.sessions.WithLabelValues(p)
		m.receivedBytes.WithLabelValues(p)
		m.denied.WithLabelValues(p)
		for t := range d.Tenants {
			m.uploadsStarted.WithLabelValues(p, t)
			m.uploadsCommitted.WithLabelValues(p, t)
			m.uploadsAborted.WithLabelValues(p, t)
		}
	}
	for _, c := range []prometheus.Collector{m.sessionsOpened, m.sessions, m.uploadsStarted, m.uploadsCommitted,
		m.uploadsAborted, m.receivedBytes, m.refusals, m.authFailures, m.connRefusals, m.denied, m.bans, m} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	d.metrics.Store(m)
	return nil
}

// observe counts one audit event.
func (m *gatewayMetrics) observe(event string, attrs []any) {
	get := func(key string) slog.Value {
		for i := 0; i+1 < len(attrs); i += 2 {
			if k, ok := attrs[i].(string); ok && k == key {
				return slog.AnyValue(attrs[i+1])
			}
		}
		return slog.Value{}
	}
	str := func(key string) string {
		if v := get(key); v.Kind() == slog.KindString {
			return v.String()
		}
		return ""
	}
	protocol := bounded(protocolSet, str("protocol"))
	tenant := str("tenant")
	if _, ok := m.d.Tenants[tenant]; !ok {
		tenant = "unknown"
	}
	switch event {
	case EventAuthSuccess:
		m.sessionsOpened.WithLabelValues(protocol).Inc()
		m.sessions.WithLabelValues(protocol).Inc()
	case EventDisconnect:
		m.sessions.WithLabelValues(protocol).Dec()
	case EventAuthFailed:
		m.authFailures.WithLabelValues(protocol, bounded(authMethods, str("method")), bounded(authFailureReasons, str("reason"))).Inc()
	case EventAddrBanned:
		m.bans.Inc()
	case EventConnRefused:
		m.connRefusals.WithLabelValues(protocol, bounded(connRefusalReasons, str("reason"))).Inc()
	case EventDenied:
		m.denied.WithLabelValues(protocol).Inc()
	case EventUploadStarted:
		m.uploadsStarted.WithLabelValues(protocol, tenant).Inc()
	case EventUploadCommitted:
		m.uploadsCommitted.WithLabelValues(protocol, tenant).Inc()
		if v := get("size"); v.Kind() == slog.KindInt64 && v.Int64() > 0 {
			m.receivedBytes.WithLabelValues(protocol).Add(float64(v.Int64()))
		}
	case EventUploadRefused:
		m.refusals.WithLabelValues(protocol, bounded(uploadRefusalReasons, str("reason"))).Inc()
	case EventUploadAborted:
		m.uploadsAborted.WithLabelValues(protocol, tenant).Inc()
	}
}

// Describe and Collect make the gauges read from the drop-zone's state
// (uploads in progress, bans in force) a collector.
func (m *gatewayMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.activeUploads
	ch <- m.banned
}

func (m *gatewayMetrics) Collect(ch chan<- prometheus.Metric) {
	d := m.d
	active := map[string]int{}
	banned := 0
	d.mu.Lock()
	for u := range d.active {
		active[u.s.Channel]++
	}
	now := d.now()
	for _, f := range d.failures {
		if now.Before(f.bannedUntil) {
			banned++
		}
	}
	d.mu.Unlock()
	for _, p := range metricProtocols {
		ch <- prometheus.MustNewConstMetric(m.activeUploads, prometheus.GaugeValue, float64(active[p]), p)
	}
	ch <- prometheus.MustNewConstMetric(m.banned, prometheus.GaugeValue, float64(banned))
}
