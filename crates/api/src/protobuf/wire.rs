//! The protobuf wire format, read-only: a message is a sequence of
//! (field number, wire value) pairs; nothing here knows what the fields mean.

/// One field's value as it sits on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireValue<'a> {
    /// Wire type 0: int32, int64, bool, enum.
    Varint(u64),
    /// Wire type 1: fixed64, double.
    Fixed64(u64),
    /// Wire type 2: string, bytes, embedded message, packed repeated scalars.
    Bytes(&'a [u8]),
    /// Wire type 5: fixed32, float.
    Fixed32(u32),
}

impl WireValue<'_> {
    /// The wire type's name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            WireValue::Varint(_) => "varint",
            WireValue::Fixed64(_) => "fixed64",
            WireValue::Bytes(_) => "length-delimited",
            WireValue::Fixed32(_) => "fixed32",
        }
    }
}

/// Reads one varint from the front of `buf`.
pub fn varint(buf: &mut &[u8]) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf
            .split_first()
            .ok_or_else(|| "truncated varint".to_string())?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint longer than 10 bytes".into())
}

fn take<'a>(buf: &mut &'a [u8], n: usize, what: &str) -> Result<&'a [u8], String> {
    if buf.len() < n {
        return Err(format!("truncated {what}"));
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Ok(head)
}

/// The fields of one message, in wire order.
pub struct Fields<'a> {
    buf: &'a [u8],
}

/// Iterates over the fields of the message encoded in `buf`.
pub fn fields(buf: &[u8]) -> Fields<'_> {
    Fields { buf }
}

impl<'a> Fields<'a> {
    fn read(&mut self) -> Result<(u32, WireValue<'a>), String> {
        let key = varint(&mut self.buf)?;
        let number = u32::try_from(key >> 3)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("invalid field number {}", key >> 3))?;
        let value = match key & 7 {
            0 => WireValue::Varint(varint(&mut self.buf)?),
            1 => {
                let bytes = take(&mut self.buf, 8, "fixed64")?;
                WireValue::Fixed64(u64::from_le_bytes(bytes.try_into().map_err(|_| "fixed64")?))
            }
            2 => {
                let len = usize::try_from(varint(&mut self.buf)?)
                    .map_err(|_| "length does not fit in memory".to_string())?;
                WireValue::Bytes(take(&mut self.buf, len, "length-delimited field")?)
            }
            5 => {
                let bytes = take(&mut self.buf, 4, "fixed32")?;
                WireValue::Fixed32(u32::from_le_bytes(bytes.try_into().map_err(|_| "fixed32")?))
            }
            other => return Err(format!("unsupported wire type {other} (field {number})")),
        };
        Ok((number, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, WireValue<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let item = self.read();
        if item.is_err() {
            // One error ends the message: what follows cannot be framed.
            self.buf = &[];
        }
        Some(item)
    }
}

#[cfg(test)]
pub mod encode {
    //! A minimal encoder for tests: builds the bytes a Go client would send.

    /// Appends `value` as a varint.
    pub fn varint(out: &mut Vec<u8>, mut value: u64) {
        while value >= 0x80 {
            out.push((value as u8) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }

    /// A message under construction.
    #[derive(Default, Clone)]
    pub struct Msg(pub Vec<u8>);

    impl Msg {
        /// An empty message.
        pub fn new() -> Self {
            Msg(Vec::new())
        }
        /// Adds a varint field.
        pub fn int(mut self, number: u32, value: i64) -> Self {
            varint(&mut self.0, u64::from(number) << 3);
            varint(&mut self.0, value as u64);
            self
        }
        /// Adds a length-delimited field.
        pub fn bytes(mut self, number: u32, value: &[u8]) -> Self {
            varint(&mut self.0, u64::from(number) << 3 | 2);
            varint(&mut self.0, value.len() as u64);
            self.0.extend_from_slice(value);
            self
        }
        /// Adds a string field.
        pub fn str(self, number: u32, value: &str) -> Self {
            self.bytes(number, value.as_bytes())
        }
        /// Adds an embedded message.
        pub fn msg(self, number: u32, value: Msg) -> Self {
            self.bytes(number, &value.0)
        }
        /// Adds a map entry (key 1, value 2) of strings.
        pub fn entry(self, number: u32, key: &str, value: &[u8]) -> Self {
            self.msg(number, Msg::new().str(1, key).bytes(2, value))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::encode::Msg;
    use super::*;

    #[test]
    fn reads_every_wire_type() {
        let mut buf = Msg::new().int(1, 300).str(2, "hi").0;
        buf.extend([(3 << 3) | 1, 1, 0, 0, 0, 0, 0, 0, 0]);
        buf.extend([(4 << 3) | 5, 2, 0, 0, 0]);
        let got: Vec<_> = fields(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            got,
            vec![
                (1, WireValue::Varint(300)),
                (2, WireValue::Bytes(b"hi")),
                (3, WireValue::Fixed64(1)),
                (4, WireValue::Fixed32(2)),
            ]
        );
        let negative = Msg::new().int(1, -1).0;
        assert_eq!(negative.len(), 11);
        assert_eq!(
            fields(&negative).next().unwrap().unwrap(),
            (1, WireValue::Varint(u64::MAX))
        );
    }

    #[test]
    fn broken_framing_is_an_error_not_a_panic() {
        for buf in [
            &[0x0a, 0x05, b'a'][..],
            &[0x80],
            &[0x0b],
            &[0x09, 1, 2],
            &[0x00, 0x01],
            &[0xff; 12],
        ] {
            let results: Vec<_> = fields(buf).collect();
            assert!(results.iter().any(Result::is_err), "{buf:?}");
        }
    }
}
