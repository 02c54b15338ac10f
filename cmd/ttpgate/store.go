package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/store"
)

// openStore opens the store the configuration names. The S3 store's
// credentials come from the environment variables the configuration names,
// never from the file.
func openStore(cfg *config.Config) (store.Store, error) {
	switch cfg.Store.Type {
	case "", "local":
		return store.NewLocal(cfg.Store.Path)
	case "s3":
		return openS3(cfg.Store.S3)
	}
	return nil, fmt.Errorf("store type %q is not supported", cfg.Store.Type)
}

func openS3(c config.S3Store) (store.Store, error) {
	o := store.S3Options{
		Endpoint:  c.Endpoint,
		Bucket:    c.Bucket,
		Prefix:    c.Prefix,
		Region:    c.Region,
		Secure:    c.Secure == nil || *c.Secure,
		AccessKey: os.Getenv(c.AccessKeyEnv),
		SecretKey: os.Getenv(c.SecretKeyEnv),
		PartSize:  int64(c.PartSize),
	}
	for _, e := range []struct{ key, name, val string }{
		{"access_key_env", c.AccessKeyEnv, o.AccessKey},
		{"secret_key_env", c.SecretKeyEnv, o.SecretKey},
	} {
		if e.val == "" {
			return nil, fmt.Errorf("S3 store: environment variable %s (store.s3.%s) is not set", e.name, e.key)
		}
	}
	if o.Secure {
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("S3 store: ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("S3 store: ca_file %s holds no PEM certificate", c.CAFile)
			}
			o.TLSConfig.RootCAs = pool
		}
		// Validation allows this only for a loopback endpoint.
		o.TLSConfig.InsecureSkipVerify = c.InsecureSkipVerify
	}
	return store.NewS3(context.Background(), o)
}
