//! Initial passwords for new users: random from the operating system's CSPRNG, never stored,
//! logged or printed ([`Secret`] prints `[redacted]`). Graph's complexity rule wants three of four character classes; we always
//! use all four and 20 characters.

use rand::Rng;
use rand::seq::SliceRandom;

use crate::graph::Secret;

const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGITS: &[u8] = b"23456789";
const SYMBOLS: &[u8] = b"!#%+-.:=?@^~";

/// Length of generated passwords.
pub const PASSWORD_LENGTH: usize = 20;

/// A fresh random password with at least one lower-case letter, upper-case letter, digit and
/// symbol. `rand::rng()` is a CSPRNG (ChaCha) seeded from the operating system.
pub fn generate() -> Secret {
    let mut rng = rand::rng();
    let classes = [LOWER, UPPER, DIGITS, SYMBOLS];
    let all: Vec<u8> = classes.concat();
    let mut chars: Vec<u8> = classes
        .iter()
        .map(|class| class[rng.random_range(0..class.len())])
        .collect();
    while chars.len() < PASSWORD_LENGTH {
        chars.push(all[rng.random_range(0..all.len())]);
    }
    chars.shuffle(&mut rng);
    Secret::new(chars.into_iter().map(char::from).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_have_all_four_character_classes_and_twenty_characters() {
        for _ in 0..200 {
            let p = generate();
            let s = p.expose();
            assert_eq!(s.chars().count(), PASSWORD_LENGTH);
            assert!(s.bytes().any(|b| LOWER.contains(&b)), "{s}");
            assert!(s.bytes().any(|b| UPPER.contains(&b)), "{s}");
            assert!(s.bytes().any(|b| DIGITS.contains(&b)), "{s}");
            assert!(s.bytes().any(|b| SYMBOLS.contains(&b)), "{s}");
        }
    }

    #[test]
    fn passwords_differ_every_time() {
        let a = generate();
        let b = generate();
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn passwords_never_print() {
        let p = generate();
        assert_eq!(format!("{p:?} {p}"), "[redacted] [redacted]");
        assert!(!format!("{p:?}").contains(p.expose()));
    }
}
