package gateway

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/internal/testenv"
)

// minioStore returns an S3 store on a fresh bucket of a MinIO server that
// runs for the test.
func minioStore(t *testing.T) store.Store {
	t.Helper()
	m := testenv.StartMinIO(t, testenv.MinIOOptions{})
	return openMinioStore(t, m, m.Bucket(t))
}

// openMinioStore opens bucket of m as a store of its own, with its own
// connections, as another process would.
func openMinioStore(t *testing.T, m *testenv.MinIO, bucket string) store.Store {
	t.Helper()
	st, err := store.NewS3(t.Context(), store.S3Options{Endpoint: m.Endpoint, Bucket: bucket,
		AccessKey: m.AccessKey, SecretKey: m.SecretKey, PartSize: store.MinPartSize})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestTwoGatewaysOneStore runs two gateways (SFTP and S3 each) on one S3
// store, as two instances behind a load balancer: uploads to both at once
// all become deliveries, a multipart upload begun on one instance is
// continued and completed on the other, and HeadObject of an upload answers
// alike on both.
func TestTwoGatewaysOneStore(t *testing.T) {
	m := testenv.StartMinIO(t, testenv.MinIOOptions{})
	bucket := m.Bucket(t)
	sftp1 := startGatewayOn(t, t.TempDir(), openMinioStore(t, m, bucket), nil)
	sftp2 := startGatewayOn(t, t.TempDir(), openMinioStore(t, m, bucket), nil)
	s3a := startS3On(t, openMinioStore(t, m, bucket), "", nil)
	s3b := startS3On(t, openMinioStore(t, m, bucket), s3a.keys, nil)
	check := openMinioStore(t, m, bucket)

	const each = 4
	want := map[string][]byte{} // file name -> content
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range each {
		for gi, g := range []*gw{sftp1, sftp2} {
			name := fmt.Sprintf("sftp%d-%d.age", gi+1, i)
			data := ageBytes(200<<10 + i)
			if err := os.WriteFile(filepath.Join(g.dir, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
			want[name] = data
			wg.Go(func() {
				if _, stderr, code := g.sftp("acme", "put "+name+" /upload/"+name+"\n"); code != 0 {
					t.Errorf("sftp put %s: exit %d: %s", name, code, stderr)
				}
			})
		}
		for gi, g := range []*s3gw{s3a, s3b} {
			name := fmt.Sprintf("s3%c-%d.age", 'a'+gi, i)
			data := ageBytes(300<<10 + i)
			mu.Lock()
			want[name] = data
			mu.Unlock()
			wg.Go(func() {
				_, err := g.client("acme").PutObject(context.Background(), &s3.PutObjectInput{
					Bucket: aws.String("acme"), Key: aws.String("upload/" + name), Body: bytes.NewReader(data)})
				if err != nil {
					t.Errorf("PutObject %s: %v", name, err)
				}
			})
		}
	}
	wg.Wait()

	// A multipart upload begun on instance a, parts on both, completed on b.
	ctx := context.Background()
	ca, cb := s3a.client("acme"), s3b.client("acme")
	key := aws.String("upload/across.age")
	cr, err := ca.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("acme"), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := ageBytes(5<<20), bytes.Repeat([]byte("second part "), 1000)
	var parts []types.CompletedPart
	for i, c := range []*s3.Client{ca, cb} {
		body := [][]byte{p1, p2}[i]
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("acme"), Key: key, UploadId: cr.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatalf("part %d: %v", i+1, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	done, err := cb.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("acme"), Key: key,
		UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		t.Fatalf("complete on the other instance: %v", err)
	}
	want["across.age"] = append(slices.Clone(p1), p2...)

	// HeadObject of the upload answers on both instances, as on the one
	// that took it (rclone checks its uploads so).
	for _, c := range []*s3.Client{ca, cb} {
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("acme"), Key: key})
		if err != nil {
			t.Fatalf("HeadObject: %v", err)
		}
		if aws.ToString(h.ETag) != aws.ToString(done.ETag) || aws.ToInt64(h.ContentLength) != int64(len(want["across.age"])) {
			t.Errorf("HeadObject: ETag %s, %d bytes; want %s, %d", aws.ToString(h.ETag), aws.ToInt64(h.ContentLength),
				aws.ToString(done.ETag), len(want["across.age"]))
		}
	}
	// Not found: a name never uploaded, and one uploaded over SFTP (HeadObject
	// tells only of the tenant's uploads over S3).
	for _, name := range []string{"never.age", "sftp1-0.age"} {
		if _, err := cb.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("acme"), Key: aws.String("upload/" + name)}); s3Code(err) != "NotFound" {
			t.Errorf("HeadObject of %s: %v, want 404", name, err)
		}
	}

	// Every upload is one delivery, with its bytes, in the shared store.
	metas, err := delivery.List(ctx, check)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, md := range metas {
		data, ok := want[md.FileName]
		switch {
		case !ok:
			t.Errorf("unexpected delivery %s (%s)", md.ID, md.FileName)
			continue
		case got[md.FileName]:
			t.Errorf("%s delivered twice", md.FileName)
		}
		got[md.FileName] = true
		stored, err := store.ReadAll(ctx, check, delivery.DataKey(md.Tenant, md.ID), 16<<20)
		if err != nil || !bytes.Equal(stored, data) || md.SHA256 != upSHA256(data) {
			t.Errorf("%s: stored %d bytes (%v), want %d with sha256 %s", md.FileName, len(stored), err, len(data), upSHA256(data))
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d deliveries, want %d", len(got), len(want))
	}
	for info, err := range check.List(ctx, "multipart/") {
		t.Errorf("left under multipart/: %s (%v)", info.Key, err)
	}
}
