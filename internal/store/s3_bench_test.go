package store_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/internal/testenv"
)

// BenchmarkS3Put compares the S3 store's Put of a 64 MiB object of unknown
// length with minio-go's own PutObject of the same stream (its peer: the
// client MinIO maintains), and Get with GetObject, on one MinIO server:
//
//	go test -run '^$' -bench S3 -benchtime 5x ./internal/store
func BenchmarkS3Put(b *testing.B) {
	m := testenv.StartMinIO(b, testenv.MinIOOptions{})
	s, err := store.NewS3(b.Context(), store.S3Options{Endpoint: m.Endpoint, Bucket: m.Bucket(b),
		AccessKey: m.AccessKey, SecretKey: m.SecretKey})
	if err != nil {
		b.Fatal(err)
	}
	peerBucket := m.Bucket(b)
	data := bytes.Repeat([]byte("ttpgate benchmark payload "), (64<<20)/26)
	stream := func() io.Reader { return io.MultiReader(bytes.NewReader(data)) } // hides the length
	ctx := context.Background()

	b.Run("store.Put", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if err := s.Put(ctx, "bench", stream()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("minio-go.PutObject", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := m.Client.PutObject(ctx, peerBucket, "bench", stream(), -1,
				minio.PutObjectOptions{PartSize: store.DefaultPartSize, NumThreads: 1}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("store.Get", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			rc, err := s.Get(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, rc)
			rc.Close()
		}
	})
	b.Run("minio-go.GetObject", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			obj, err := m.Client.GetObject(ctx, peerBucket, "bench", minio.GetObjectOptions{})
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, obj)
			obj.Close()
		}
	})
}
