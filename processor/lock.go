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
	// Released: the holder gave the lock up. A lock is released by a
	// compare-and-swap, not deleted, so that a release can never remove a
	// lock another processor has taken over meanwhile.
	Released bool `json:"released,omitempty"`
}

// heldLock is a lock this processor holds: its key, content and version.
type heldLock struct {
	key  string
	doc  lockDoc
	etag string
}

// acquire takes the lock at key, waiting while another processor holds it,
// until ctx ends. A lock that its holder released, or let expire (it died),
// is taken over with a compare-and-swap, so of several processors that find
// it free exactly one gets it.
func (p *Processor) acquire(ctx context.Context, key string, ttl time.Duration) (*heldLock, error) {
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
			return p.held(ctx, key, doc)
		}
		if !errors.Is(err, store.ErrExist) {
			return nil, fmt.Errorf("lock %s: %w", key, err)
		}
		info, held, err := p.readLock(ctx, key)
		switch {
		case errors.Is(err, store.ErrNotExist):
			continue // deleted meanwhile
		case err != nil:
			return nil, fmt.Errorf("lock %s: %w", key, err)
		case held.Released || now.After(held.Expires):
			err := p.opt.Store.Replace(ctx, key, bytes.NewReader(b), info.ETag)
			if err == nil {
				if !held.Released {
					p.log.Warn("took over an expired lock", "lock", key, "holder", held.Holder, "expired", held.Expires)
				}
				return p.held(ctx, key, doc)
			}
			if !errors.Is(err, store.ErrChanged) {
				return nil, fmt.Errorf("lock %s: %w", key, err)
			}
			continue // another processor took it first
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

// held reads the version of the lock just written, and checks it is ours.
func (p *Processor) held(ctx context.Context, key string, doc lockDoc) (*heldLock, error) {
	info, cur, err := p.readLock(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	if cur.Token != doc.Token {
		return nil, fmt.Errorf("lock %s: taken by %s as it was acquired", key, cur.Holder)
	}
	return &heldLock{key: key, doc: doc, etag: info.ETag}, nil
}

// renew extends a held lock by ttl from now, with a compare-and-swap on the
// version this processor wrote: it fails if the lock is no longer ours.
func (p *Processor) renew(ctx context.Context, l *heldLock, ttl time.Duration) error {
	doc := l.doc
	doc.Expires = p.opt.Now().UTC().Add(ttl)
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	if err := p.opt.Store.Replace(ctx, l.key, bytes.NewReader(b), l.etag); err != nil {
		if errors.Is(err, store.ErrChanged) {
			return fmt.Errorf("lock %s: lost (it expired and was taken over); nothing published", l.key)
		}
		return fmt.Errorf("lock %s: %w", l.key, err)
	}
	next, err := p.held(ctx, l.key, doc)
	if err != nil {
		return err
	}
	*l = *next
	return nil
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

// release gives the lock up with a compare-and-swap on the version this
// processor wrote, so it cannot release a lock another processor took over.
// It runs even when the run's context has ended, so that others need not
// wait for the expiry.
func (p *Processor) release(l *heldLock) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	doc := l.doc
	doc.Released = true
	b, err := json.Marshal(doc)
	if err != nil {
		return
	}
	err = p.opt.Store.Replace(ctx, l.key, bytes.NewReader(b), l.etag)
	if err != nil && !errors.Is(err, store.ErrChanged) {
		p.log.Warn("could not release lock; it expires by itself", "lock", l.key, "error", err)
	}
}
