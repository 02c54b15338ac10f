package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ttpgate/ttpgate/internal/testenv"
)

// TestS3StoreScripts runs the scripts in testdata/s3script against a MinIO
// server started for the test, each script with a bucket of its own. They
// have the commands of TestScripts and:
//
//	s3store CONFIG    switch CONFIG's store to the script's bucket (store.type s3)
//	s3cmp DIR PREFIX  the objects under PREFIX in the bucket and the files
//	                  under DIR/PREFIX are the same keys with the same bytes
//
// The credentials are in TTPGATE_S3_ACCESS_KEY and TTPGATE_S3_SECRET_KEY,
// which the configuration names, as in production.
func TestS3StoreScripts(t *testing.T) {
	m := testenv.StartMinIO(t, testenv.MinIOOptions{})
	var mu sync.Mutex
	buckets := map[string]string{} // script work dir -> bucket
	bucketOf := func(ts *testscript.TestScript) string {
		mu.Lock()
		defer mu.Unlock()
		return buckets[ts.Getenv("WORK")]
	}
	p := scriptParams("s3script", func(e *testscript.Env) error {
		e.Setenv("TTPGATE_S3_ACCESS_KEY", m.AccessKey)
		e.Setenv("TTPGATE_S3_SECRET_KEY", m.SecretKey)
		mu.Lock()
		buckets[e.WorkDir] = m.Bucket(t)
		mu.Unlock()
		return nil
	})
	for name, cmd := range map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"s3store": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 1 {
				ts.Fatalf("usage: s3store CONFIG")
			}
			cfg := ts.MkAbs(args[0])
			b, err := os.ReadFile(cfg)
			ts.Check(err)
			const local = "store:\n  type: local\n  path: store\n"
			if !strings.Contains(string(b), local) {
				ts.Fatalf("s3store: %s has no local store section", args[0])
			}
			s3 := fmt.Sprintf("store:\n  type: s3\n  s3: {endpoint: %q, bucket: %s, secure: false,\n"+
				"       access_key_env: TTPGATE_S3_ACCESS_KEY, secret_key_env: TTPGATE_S3_SECRET_KEY}\n", m.Endpoint, bucketOf(ts))
			ts.Check(os.WriteFile(cfg, []byte(strings.Replace(string(b), local, s3, 1)), 0o600))
		},
		"s3cmp": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 2 {
				ts.Fatalf("usage: s3cmp DIR PREFIX")
			}
			dir, prefix := ts.MkAbs(args[0]), args[1]
			var local []string
			ts.Check(filepath.WalkDir(filepath.Join(dir, prefix), func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					rel, _ := filepath.Rel(dir, p)
					local = append(local, filepath.ToSlash(rel))
				}
				return err
			}))
			var remote []string
			for o := range m.Client.ListObjects(t.Context(), bucketOf(ts), minio.ListObjectsOptions{Prefix: prefix + "/", Recursive: true}) {
				ts.Check(o.Err)
				remote = append(remote, o.Key)
			}
			slices.Sort(local)
			if !slices.Equal(local, remote) {
				ts.Fatalf("s3cmp: the bucket holds %q, the folder %q", remote, local)
			}
			for _, key := range remote {
				obj, err := m.Client.GetObject(t.Context(), bucketOf(ts), key, minio.GetObjectOptions{})
				ts.Check(err)
				got, err := io.ReadAll(obj)
				obj.Close()
				ts.Check(err)
				want, err := os.ReadFile(filepath.Join(dir, key))
				ts.Check(err)
				if !bytes.Equal(got, want) {
					ts.Fatalf("s3cmp: %s differs: %d bytes in the bucket, %d in the folder", key, len(got), len(want))
				}
			}
			fmt.Fprintf(ts.Stdout(), "%d objects under %s are identical\n", len(remote), prefix)
		},
	} {
		p.Cmds[name] = cmd
	}
	testscript.Run(t, p)
}
