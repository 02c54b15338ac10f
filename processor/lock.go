package processor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"github.com/ttpgate/ttpgate/internal/store"
)

// rebuildLock is the key of the lock that one processor at a time holds
// while it rebuilds the outputs from the ledger.
const rebuildLock = "locks/rebuild.json"

// lockPoll is how long a processor waits between attempts at a held lock.
const lockPoll = 500 * time.Millisecond

// lockDoc is the content of a lock object.
type lockDoc struct {
	Holder   string    `json:"holder"`
	Token    string    `json:"token"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
}

// acquire takes the lock at key, waiting while another processor holds it,
// until ctx ends. A lock whose holder let it expire (it died) is taken over
// with a compare-and-swap, so of several processors that find it expired
// exactly one gets it. release gives the lock up if it is still ours.
func (p *Processor) acquire(ctx context.Context, key string, ttl time.Duration) (release func(), err error) {
	waited := false
	for {
		now := p.opt.Now().UTC()
		doc := lockDoc{Holder: p.host, Token: rand.Text(), Acquired: now, Expires: now.Add(ttl)}
		b, err := json.Marshal(doc)
		if err != nil {
			return nil, err
		}
		err = p.opt.Store.Create(ctx, key, bytes.NewReader(b))
		if err == nil {
			return func() { p.release(key, doc.Token) }, nil
		}
		if !errors.Is(err, store.ErrExist) {
			return nil, fmt.Errorf("lock %s: %w", key, err)
		}
		info, held, err := p.readLock(ctx, key)
		switch {
		case errors.Is(err, store.ErrNotExist):
			continue // released meanwhile
		case err != nil:
			return nil, fmt.Errorf("lock %s: %w", key, err)
		case now.After(held.Expires):
			err := p.opt.Store.Replace(ctx, key, bytes.NewReader(b), info.ETag)
			if err == nil {
				p.log.Warn("took over an expired lock", "lock", key, "holder", held.Holder, "expired", held.Expires)
				return func() { p.release(key, doc.Token) }, nil
			}
			if !errors.Is(err, store.ErrChanged) {
				return nil, fmt.Errorf("lock %s: %w", key, err)
			}
			continue // another processor took it over first
		}
		if !waited {
			p.log.Info("waiting for another processor", "lock", key, "holder", held.Holder)
			waited = true
		}
		t := time.NewTimer(lockPoll + mrand.N(lockPoll))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("lock %s: %w", key, ctx.Err())
		case <-t.C:
		}
	}
}

// readLock returns the lock object's version and content.
func (p *Processor) readLock(ctx context.Context, key string) (store.Info, lockDoc, error) {
	info, err := p.opt.Store.Stat(ctx, key)
	if err != nil {
		return info, lockDoc{}, err
	}
	raw, err := store.ReadAll(ctx, p.opt.Store, key, 4096)
	if err != nil {
		return info, lockDoc{}, err
	}
	var doc lockDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		// A lock that cannot be read cannot be waited for: treat it as
		// expired, so the compare-and-swap replaces it.
		return info, lockDoc{Holder: "unreadable"}, nil
	}
	return info, doc, nil
}

// release deletes the lock if it still holds our token. It runs even when
// the run's context has ended, so that others need not wait for expiry.
func (p *Processor) release(key, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, doc, err := p.readLock(ctx, key)
	if err != nil || doc.Token != token {
		return // gone, or taken over after it expired
	}
	if err := p.opt.Store.Delete(ctx, key); err != nil {
		p.log.Warn("could not release lock; it expires by itself", "lock", key, "error", err)
	}
}
