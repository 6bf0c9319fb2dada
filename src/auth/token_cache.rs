//! Tokens verified before: a frontend sends the same bearer token with every request until it
//! expires, and checking its signature again each time (base64, two JSON documents, an HMAC or a
//! public-key operation) is most of what a small request costs. A token seen before is answered
//! from here while its own `exp` and `nbf` hold, as jsonwebtoken would judge them now.
//!
//! Only successes are kept, under the token's exact text: a different token, however alike, is
//! verified in full (and the map's hash is seeded anew in every process, so a forged token's
//! lookup tells nothing about the tokens kept). Nothing here widens what is accepted:
//! - the secret and the validation rules are fixed for the life of the process;
//! - a token verified against Better Auth's key set is kept with the set's generation, and is
//!   checked in full again once another set has been fetched (a withdrawn key stops counting).
//!
//! The map is bounded; when it is full, expired tokens go first, then arbitrary ones (the map's
//! order, seeded anew in every process), each costing its next request one full check.
//!
//! The hash is foldhash's rather than std's SipHash: every request with a token hashes it (150
//! bytes and more), and SipHash spent ~500 instructions on that. Its seeds come from the address
//! space's random layout and the clock at start-up, and differ from map to map: not the operating
//! system's random numbers std seeds SipHash with, but nothing a client can learn or choose. A
//! flood of colliding lookups would gain nothing anyway: only verified tokens go in.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use foldhash::fast::RandomState;

use super::AuthUser;
use super::claims::{Lifetime, Verified};

/// Which key a kept token was verified with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifiedBy {
    /// `BETTER_AUTH_SECRET`, fixed for the life of the process.
    Secret,
    /// Better Auth's key set, at this generation ([`super::jwks::JwksVerifier::key_set_generation`]).
    KeySet(u64),
}

struct Kept {
    user: AuthUser,
    lifetime: Lifetime,
    by: VerifiedBy,
}

impl Kept {
    fn holds(&self, now: u64, leeway: u64, key_set: Option<u64>) -> bool {
        let key_still_current = match self.by {
            VerifiedBy::Secret => true,
            VerifiedBy::KeySet(generation) => key_set == Some(generation),
        };
        key_still_current && self.lifetime.holds_at(now, leeway)
    }
}

/// At most `capacity` verified tokens (`VERIFIED_TOKEN_CACHE_SIZE`; 0 keeps none). No `Debug`:
/// the keys are bearer tokens, which never reach a log.
pub struct VerifiedTokens {
    capacity: usize,
    leeway_seconds: u64,
    kept: Mutex<HashMap<Box<str>, Kept, RandomState>>,
    /// Counted for `/metrics` ([`CacheLookups`]): how much of the traffic the map answers.
    hits: AtomicU64,
    misses: AtomicU64,
}

/// The lookups so far: tokens answered from the map (`hits`), and tokens checked in full
/// (`misses`: seen for the first time, expired, verified with a replaced key set, refused, or
/// every token when the map is turned off).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheLookups {
    pub hits: u64,
    pub misses: u64,
}

impl VerifiedTokens {
    pub fn new(capacity: usize, leeway_seconds: u64) -> Self {
        Self {
            capacity,
            leeway_seconds,
            kept: Mutex::new(HashMap::with_hasher(RandomState::default())),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The lookups counted since start-up.
    pub fn lookups(&self) -> CacheLookups {
        CacheLookups {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// The caller of `token` when it was verified before and still holds at `now` (seconds since
    /// the epoch); `key_set` is the current generation of Better Auth's key set, if one is used.
    pub fn get(&self, token: &str, now: u64, key_set: Option<u64>) -> Option<AuthUser> {
        let answer = self.look_up(token, now, key_set);
        let counter = match answer {
            Some(_) => &self.hits,
            None => &self.misses,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        answer
    }

    fn look_up(&self, token: &str, now: u64, key_set: Option<u64>) -> Option<AuthUser> {
        if self.capacity == 0 {
            return None;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = kept.get(token)?;
        if entry.holds(now, self.leeway_seconds, key_set) {
            return Some(entry.user.clone());
        }
        // Expired or verified with a key set since replaced: the full check decides, and
        // answers with the reason (an expired token's 401 says `token_expired`).
        kept.remove(token);
        None
    }

    /// Keeps a token just verified with `by`.
    pub fn keep(&self, token: &str, verified: &Verified, by: VerifiedBy, now: u64) {
        let Some(lifetime) = verified.lifetime else {
            return;
        };
        if self.capacity == 0 {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if kept.len() >= self.capacity && !kept.contains_key(token) {
            self.make_room(&mut kept, now);
        }
        kept.insert(
            token.into(),
            Kept {
                user: verified.user.clone(),
                lifetime,
                by,
            },
        );
    }

    /// Drops the expired tokens and, when that is not enough, a quarter of the rest, so that a
    /// full map is not swept again on every new token.
    fn make_room(&self, kept: &mut HashMap<Box<str>, Kept, RandomState>, now: u64) {
        kept.retain(|_, entry| entry.lifetime.holds_at(now, self.leeway_seconds));
        if kept.len() >= self.capacity {
            let mut to_drop = kept.len() + 1 - self.capacity + self.capacity / 4;
            kept.retain(|_, _| {
                let keep = to_drop == 0;
                to_drop = to_drop.saturating_sub(1);
                keep
            });
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.kept.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;
    const LEEWAY: u64 = 30;

    fn verified(user: &str, expires_at: u64, not_before: Option<u64>) -> Verified {
        Verified {
            user: AuthUser::for_tests(user),
            lifetime: Some(Lifetime { expires_at, not_before }),
        }
    }

    fn user_of(cache: &VerifiedTokens, token: &str, now: u64, key_set: Option<u64>) -> Option<String> {
        cache.get(token, now, key_set).map(|user| user.id().to_owned())
    }

    #[test]
    fn a_kept_token_answers_with_its_user_until_it_expires() {
        let cache = VerifiedTokens::new(10, LEEWAY);
        assert_eq!(user_of(&cache, "t1", NOW, None), None);
        cache.keep("t1", &verified("alice", NOW + 60, None), VerifiedBy::Secret, NOW);
        assert_eq!(user_of(&cache, "t1", NOW, None).as_deref(), Some("alice"));
        assert_eq!(user_of(&cache, "t1", NOW + 60 + LEEWAY, None).as_deref(), Some("alice"));
        assert_eq!(user_of(&cache, "t2", NOW, None), None, "only the exact token");
        assert_eq!(user_of(&cache, "t1", NOW + 61 + LEEWAY, None), None);
        assert_eq!(cache.len(), 0, "an expired token is dropped when met");
    }

    #[test]
    fn a_token_is_not_answered_before_its_nbf() {
        let cache = VerifiedTokens::new(10, LEEWAY);
        // Kept within the leeway of its `nbf`; a clock stepped back must not widen that.
        cache.keep(
            "t1",
            &verified("alice", NOW + 600, Some(NOW + 20)),
            VerifiedBy::Secret,
            NOW,
        );
        assert_eq!(user_of(&cache, "t1", NOW, None).as_deref(), Some("alice"));
        assert_eq!(user_of(&cache, "t1", NOW - 20, None), None);
    }

    #[test]
    fn a_token_verified_with_a_key_set_counts_only_while_that_set_is_current() {
        let cache = VerifiedTokens::new(10, LEEWAY);
        cache.keep("t1", &verified("alice", NOW + 60, None), VerifiedBy::KeySet(3), NOW);
        assert_eq!(user_of(&cache, "t1", NOW, Some(3)).as_deref(), Some("alice"));
        assert_eq!(user_of(&cache, "t1", NOW, Some(4)), None);
        assert_eq!(user_of(&cache, "t1", NOW, Some(3)), None, "dropped once stale");
        cache.keep("t2", &verified("bob", NOW + 60, None), VerifiedBy::Secret, NOW);
        assert_eq!(user_of(&cache, "t2", NOW, Some(9)).as_deref(), Some("bob"));
    }

    #[test]
    fn the_cache_never_holds_more_than_its_capacity_and_keeps_the_newest() {
        let cache = VerifiedTokens::new(8, LEEWAY);
        for n in 0..100 {
            let token = format!("t{n}");
            cache.keep(&token, &verified("alice", NOW + 60, None), VerifiedBy::Secret, NOW);
            assert!(cache.len() <= 8, "{n}: {}", cache.len());
            assert_eq!(user_of(&cache, &token, NOW, None).as_deref(), Some("alice"));
        }
    }

    #[test]
    fn a_full_cache_drops_its_expired_tokens_first() {
        let cache = VerifiedTokens::new(4, 0);
        cache.keep("live", &verified("alice", NOW + 600, None), VerifiedBy::Secret, NOW);
        for n in 0..3 {
            cache.keep(
                &format!("old{n}"),
                &verified("bob", NOW + 5, None),
                VerifiedBy::Secret,
                NOW,
            );
        }
        cache.keep("new", &verified("carol", NOW + 600, None), VerifiedBy::Secret, NOW + 10);
        assert_eq!(cache.len(), 2);
        assert_eq!(user_of(&cache, "live", NOW + 10, None).as_deref(), Some("alice"));
        assert_eq!(user_of(&cache, "new", NOW + 10, None).as_deref(), Some("carol"));
    }

    #[test]
    fn a_capacity_of_zero_keeps_nothing_and_a_token_without_lifetime_is_not_kept() {
        let off = VerifiedTokens::new(0, LEEWAY);
        off.keep("t1", &verified("alice", NOW + 60, None), VerifiedBy::Secret, NOW);
        assert_eq!(user_of(&off, "t1", NOW, None), None);

        let cache = VerifiedTokens::new(10, LEEWAY);
        let without_exp = Verified {
            user: AuthUser::for_tests("alice"),
            lifetime: None,
        };
        cache.keep("t1", &without_exp, VerifiedBy::Secret, NOW);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn every_lookup_is_counted_as_answered_or_not() {
        let cache = VerifiedTokens::new(10, LEEWAY);
        assert_eq!(cache.lookups(), CacheLookups { hits: 0, misses: 0 });
        assert_eq!(user_of(&cache, "t1", NOW, None), None);
        cache.keep("t1", &verified("alice", NOW + 60, None), VerifiedBy::Secret, NOW);
        user_of(&cache, "t1", NOW, None);
        user_of(&cache, "t1", NOW + 1, None);
        user_of(&cache, "forged", NOW, None);
        user_of(&cache, "t1", NOW + 61 + LEEWAY, None);
        assert_eq!(cache.lookups(), CacheLookups { hits: 2, misses: 3 });

        let off = VerifiedTokens::new(0, LEEWAY);
        user_of(&off, "t1", NOW, None);
        assert_eq!(off.lookups(), CacheLookups { hits: 0, misses: 1 });
    }
}
