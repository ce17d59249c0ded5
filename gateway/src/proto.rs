//! The gRPC API types, from the `kopir-proto` crate, and how their identifier fields are read
//! at the edge (the API and the pledge contract both read them).

use kopir_core::identifiers::{Bin, Iin};
pub use kopir_proto::{codec, convert, v1, FILE_DESCRIPTOR_SET};

use crate::error::GatewayError;
use v1 as pb;

/// A required IIN field.
pub fn iin(field: &str, value: Option<&pb::Iin>) -> Result<Iin, GatewayError> {
    let value = value
        .ok_or_else(|| GatewayError::invalid(field, "required: the 12-digit IIN of the person"))?;
    Iin::parse(&value.value)
        .map_err(|e| GatewayError::invalid(&format!("{field}.value"), e.to_string()))
}

/// A required BIN field.
pub fn bin(field: &str, value: Option<&pb::Bin>) -> Result<Bin, GatewayError> {
    let value = value.ok_or_else(|| {
        GatewayError::invalid(field, "required: the 12-digit BIN of the legal entity")
    })?;
    Bin::parse(&value.value)
        .map_err(|e| GatewayError::invalid(&format!("{field}.value"), e.to_string()))
}

/// A required calendar date field.
pub fn date(field: &str, value: Option<&pb::Date>) -> Result<chrono::NaiveDate, GatewayError> {
    let d = value.ok_or_else(|| GatewayError::invalid(field, "required: year, month, day"))?;
    u32::try_from(d.month)
        .ok()
        .zip(u32::try_from(d.day).ok())
        .and_then(|(m, day)| chrono::NaiveDate::from_ymd_opt(d.year, m, day))
        .ok_or_else(|| GatewayError::invalid(field, "not a calendar date"))
}
