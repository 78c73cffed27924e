//! A stable digest of a serialisable value: its serde data model fed straight into SHA-256,
//! without rendering text first.
//!
//! The encoding is defined here, not by a library, so the digest is the same on every platform
//! and across compiler and library versions: every value is a tag byte followed by its content;
//! integers are 8 (or 16) little-endian bytes whatever their width in memory; strings and bytes
//! carry their length; sequences, maps and structs are bracketed, and fields and variants are
//! named (as in the JSON form), so a field left out (`skip_serializing_if`) cannot be confused
//! with another. The encoding is prefix-free, so two different values never encode alike.

use serde::ser::{self, Serialize};
use sha2::{Digest as _, Sha256};

/// The SHA-256 of `value`'s encoding. A `Serialize` implementation that fails (none of the
/// model's do) contributes what it wrote before failing.
pub(crate) fn sha256(value: &impl Serialize) -> [u8; 32] {
    let mut encoder = Encoder {
        sha: Sha256::new(),
        buf: Vec::with_capacity(BUF),
    };
    let _ = value.serialize(&mut encoder);
    encoder.flush();
    encoder.sha.finalize().into()
}

/// Bytes gathered before they are hashed (one `update` per block instead of per field).
const BUF: usize = 16 * 1024;

struct Encoder {
    sha: Sha256,
    buf: Vec<u8>,
}

impl Encoder {
    fn bytes(&mut self, bytes: &[u8]) {
        if self.buf.len() + bytes.len() > BUF {
            self.flush();
            if bytes.len() > BUF {
                self.sha.update(bytes);
                return;
            }
        }
        self.buf.extend_from_slice(bytes);
    }

    fn flush(&mut self) {
        self.sha.update(&self.buf);
        self.buf.clear();
    }

    fn tag(&mut self, tag: u8) {
        self.bytes(&[tag]);
    }

    fn len(&mut self, len: usize) {
        self.bytes(&(len as u64).to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.tag(b's');
        self.len(s.len());
        self.bytes(s.as_bytes());
    }
}

/// Never produced by the encoder itself; only a `Serialize` implementation's own failure.
#[derive(Debug)]
pub(crate) struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

impl<'a> ser::Serializer for &'a mut Encoder {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.bytes(&[b'b', u8::from(v)]);
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.tag(b'i');
        self.bytes(&v.to_le_bytes());
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.tag(b'I');
        self.bytes(&v.to_le_bytes());
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.tag(b'u');
        self.bytes(&v.to_le_bytes());
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        self.tag(b'U');
        self.bytes(&v.to_le_bytes());
        Ok(())
    }

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(v.into())
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.tag(b'f');
        self.bytes(&v.to_bits().to_le_bytes());
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.str(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.str(v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.tag(b'y');
        self.len(v.len());
        self.bytes(v);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.tag(b'n');
        Ok(())
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), Error> {
        self.tag(b'o');
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.tag(b'z');
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.str(variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.tag(b'v');
        self.str(variant);
        value.serialize(self)
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a>, Error> {
        Ok(Compound::open(self, b'[', b']'))
    }

    fn serialize_tuple(self, _len: usize) -> Result<Compound<'a>, Error> {
        Ok(Compound::open(self, b'(', b')'))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        Ok(Compound::open(self, b'(', b')'))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.tag(b'v');
        self.str(variant);
        Ok(Compound::open(self, b'(', b')'))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a>, Error> {
        Ok(Compound::open(self, b'{', b'}'))
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Compound<'a>, Error> {
        Ok(Compound::open(self, b'{', b'}'))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.tag(b'v');
        self.str(variant);
        Ok(Compound::open(self, b'{', b'}'))
    }
}

/// A sequence, tuple, map or struct being encoded: its elements between `open` and `close`
/// (no element's encoding starts with a closing byte, so no count is needed).
pub(crate) struct Compound<'a> {
    encoder: &'a mut Encoder,
    close: u8,
}

impl<'a> Compound<'a> {
    fn open(encoder: &'a mut Encoder, open: u8, close: u8) -> Self {
        encoder.tag(open);
        Compound { encoder, close }
    }

    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.encoder)
    }

    fn field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.encoder.str(key);
        value.serialize(&mut *self.encoder)
    }

    fn close(self) -> Result<(), Error> {
        self.encoder.tag(self.close);
        Ok(())
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), Error> {
        self.element(key)
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

#[cfg(test)]
mod tests {
    use super::sha256;
    use sha2::{Digest as _, Sha256};
    use std::collections::BTreeMap;

    #[derive(serde::Serialize)]
    struct Pair {
        #[serde(skip_serializing_if = "Option::is_none")]
        a: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        b: Option<String>,
    }

    #[test]
    fn values_that_differ_digest_differently() {
        // Strings carry their length: the split between neighbours counts.
        assert_ne!(sha256(&("ab", "c")), sha256(&("a", "bc")));
        assert_ne!(sha256(&vec!["ab"]), sha256(&vec!["a", "b"]));
        // Fields are named: the same value in another skipped-or-not field differs.
        let a = Pair {
            a: Some("x".into()),
            b: None,
        };
        let b = Pair {
            a: None,
            b: Some("x".into()),
        };
        assert_ne!(sha256(&a), sha256(&b));
        // None, Some(""), an empty list and unit are all different.
        let none: Option<&str> = None;
        assert_ne!(sha256(&none), sha256(&Some("")));
        assert_ne!(sha256(&Vec::<u8>::new()), sha256(&()));
        // Nesting counts: [[a], b] is not [[a, b]].
        assert_ne!(
            sha256(&(vec!["a"], vec!["b"])),
            sha256(&(vec!["a", "b"], Vec::<&str>::new()))
        );
        // Integer widths do not: the same number is the same value.
        assert_eq!(sha256(&7u8), sha256(&7u64));
        assert_ne!(sha256(&7u64), sha256(&7i64));
        assert_ne!(sha256(&true), sha256(&1u8));
        let map: BTreeMap<&str, u32> = [("k", 1)].into();
        assert_ne!(sha256(&map), sha256(&BTreeMap::<&str, u32>::new()));
    }

    #[test]
    fn the_encoding_is_pinned() {
        // The encoding written out by hand: a change to the encoder changes every plan id (and
        // approvals in flight stop matching), so this test fails first.
        let value = (
            "user@corp.example.com",
            Some(42u32),
            vec![true, false],
            Pair {
                a: Some("x".into()),
                b: None,
            },
        );
        let mut expected = vec![b'(', b's'];
        expected.extend(21u64.to_le_bytes());
        expected.extend(b"user@corp.example.com");
        expected.extend([b'o', b'u']);
        expected.extend(42u64.to_le_bytes());
        expected.extend(b"[b\x01b\x00]{s");
        expected.extend(1u64.to_le_bytes());
        expected.push(b'a');
        expected.extend([b'o', b's']);
        expected.extend(1u64.to_le_bytes());
        expected.extend(b"x})");
        let expected: [u8; 32] = Sha256::digest(&expected).into();
        assert_eq!(sha256(&value), expected);
    }
}
