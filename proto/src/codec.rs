//! The codec of every `kopir.v1` service: prost's, except that a request whose bytes are not the
//! method's message (random bytes, invalid UTF-8 in a string, a truncated field) is the caller's
//! `INVALID_ARGUMENT` naming what could not be decoded, not tonic's `INTERNAL`.

use std::marker::PhantomData;

use prost::Message;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::Status;
use tonic_prost::ProstEncoder;

/// The message of a decoding refusal starts with this, so the edge can tell it from the
/// service's own `INVALID_ARGUMENT`s (it counts and logs it as a refusal of its own).
pub const UNDECODABLE: &str = "the request is not a valid protobuf message of this method";

/// prost's encoding, and decoding that refuses bad bytes as the caller's error.
#[derive(Debug, Clone)]
pub struct KopirCodec<T, U> {
    _pd: PhantomData<(T, U)>,
}

impl<T, U> Default for KopirCodec<T, U> {
    fn default() -> Self {
        Self { _pd: PhantomData }
    }
}

impl<T, U> Codec for KopirCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = RefusingDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        RefusingDecoder { _pd: PhantomData }
    }
}

/// Decodes `U`, refusing bytes that are not one as `INVALID_ARGUMENT`.
#[derive(Debug, Clone)]
pub struct RefusingDecoder<U> {
    _pd: PhantomData<U>,
}

impl<U: Message + Default> Decoder for RefusingDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(|e| refusal(&e))
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

/// prost's error names the message, the field path and what was wrong with it
/// ("PersonRequest.iin: invalid string value: data is not UTF-8 encoded").
fn refusal(e: &prost::DecodeError) -> Status {
    let detail = e.to_string();
    let detail = detail
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(&detail);
    Status::invalid_argument(format!("{UNDECODABLE}: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_bytes_are_the_callers_error_naming_the_field() {
        // Field 2 (the request's `iin`, a message) holding its string `value` with invalid UTF-8.
        let bytes = [0x12, 0x04, 0x0a, 0x02, 0xff, 0xfe];
        let e = crate::v1::GetPersonRequest::decode(&bytes[..]).expect_err("not UTF-8");
        let status = refusal(&e);
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(
            status.message().starts_with(UNDECODABLE),
            "{}",
            status.message()
        );
        assert!(status.message().contains("UTF-8"), "{}", status.message());
        let truncated = crate::v1::GetPersonRequest::decode(&[0x12, 0x09][..]).expect_err("short");
        assert_eq!(refusal(&truncated).code(), tonic::Code::InvalidArgument);
    }
}
