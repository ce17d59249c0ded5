//! IIN and BIN: 12 digits whose last digit is a check digit; and the legal cadastre's number.
//!
//! The check digit is the weighted sum of the first 11 digits modulo 11 with weights 1..=11; when
//! that gives 10, a second pass uses weights 3..=11, 1, 2; when that also gives 10 the number is
//! never issued. IIN and BIN share the algorithm, so one function serves both.

use std::fmt;

use serde::{Deserialize, Serialize};

const FIRST_PASS: [u32; 11] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const SECOND_PASS: [u32; 11] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];

/// Why a string is not a valid IIN or BIN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    /// Not exactly 12 characters.
    #[error("must be exactly 12 digits, got {0} characters")]
    Length(usize),
    /// A character other than an ASCII digit.
    #[error("must contain digits only")]
    NotDigits,
    /// The 12th digit does not match the first 11.
    #[error("check digit does not match (mistyped digit?)")]
    CheckDigit,
}

/// The check digit for 11 leading digits, or `None` when no valid number starts with them.
pub fn check_digit(first11: &[u8; 11]) -> Option<u8> {
    let pass = |weights: &[u32; 11]| -> u32 {
        first11
            .iter()
            .zip(weights)
            .map(|(d, w)| u32::from(*d) * w)
            .sum::<u32>()
            % 11
    };
    let first = pass(&FIRST_PASS);
    let digit = if first == 10 {
        pass(&SECOND_PASS)
    } else {
        first
    };
    u8::try_from(digit).ok().filter(|d| *d < 10)
}

fn parse12(s: &str) -> Result<[u8; 12], IdentifierError> {
    let chars = s.chars().count();
    if chars != 12 {
        return Err(IdentifierError::Length(chars));
    }
    let mut digits = [0u8; 12];
    for (slot, b) in digits.iter_mut().zip(s.bytes()) {
        if !b.is_ascii_digit() {
            return Err(IdentifierError::NotDigits);
        }
        *slot = b - b'0';
    }
    let mut first11 = [0u8; 11];
    first11.copy_from_slice(&digits[..11]);
    match check_digit(&first11) {
        Some(d) if d == digits[11] => Ok(digits),
        _ => Err(IdentifierError::CheckDigit),
    }
}

/// Masks a 12-digit identifier for logs and spans: `850123******` keeps only what is needed to
/// tell requests apart by eye, never enough to name a person.
pub fn mask(id: &str) -> String {
    if id.len() == 12 && id.is_ascii() {
        format!("{}******{}", &id[..4], &id[10..])
    } else {
        "************".to_string()
    }
}

impl Iin {
    /// The birth date the IIN encodes: YYMMDD, the seventh digit giving the century (1–2: 1800s,
    /// 3–4: 1900s, 5–6: 2000s). `None` for a seventh digit outside those (foreigners' numbers).
    pub fn birth_date(&self) -> Option<chrono::NaiveDate> {
        let d: Vec<u32> = self.0.bytes().map(|b| u32::from(b - b'0')).collect();
        let century = match d.get(6)? {
            1 | 2 => 1800,
            3 | 4 => 1900,
            5 | 6 => 2000,
            _ => return None,
        };
        let year = century + d[0] * 10 + d[1];
        chrono::NaiveDate::from_ymd_opt(
            i32::try_from(year).ok()?,
            d[2] * 10 + d[3],
            d[4] * 10 + d[5],
        )
    }

    /// Whether the person is under 18 on `day`; `false` when the IIN encodes no birth date.
    pub fn is_minor_on(&self, day: chrono::NaiveDate) -> bool {
        self.birth_date()
            .and_then(|born| born.checked_add_months(chrono::Months::new(18 * 12)))
            .is_some_and(|adult| day < adult)
    }
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Parses and validates (length, digits, check digit).
            pub fn parse(s: &str) -> Result<Self, IdentifierError> {
                parse12(s).map(|_| Self(s.to_string()))
            }
            /// The 12 digits.
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// The masked form for logs and spans.
            pub fn masked(&self) -> String {
                mask(&self.0)
            }
        }

        // Debug and Display print the masked form, so a stray `{:?}` cannot leak the number.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.masked())
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.masked())
            }
        }
    };
}

identifier!(
    /// Individual identification number (ЖСН / ИИН).
    Iin
);
identifier!(
    /// Business identification number (БСН / БИН).
    Bin
);

/// A cadastral number: four groups of digits, `NN-NNN-NNN-NNN` (district, block, plot, object).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CadastralNumber(String);

impl CadastralNumber {
    /// Parses the `NN-NNN-NNN-NNN` form; the message says what is wrong.
    pub fn parse(s: &str) -> Result<Self, String> {
        let groups: Vec<&str> = s.split('-').collect();
        let shape = [2, 3, 3, 3];
        if groups.len() == 4
            && groups
                .iter()
                .zip(shape)
                .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_digit()))
        {
            Ok(Self(s.to_string()))
        } else {
            Err("a cadastral number is four groups of digits, NN-NNN-NNN-NNN".into())
        }
    }

    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_check(first11: &str) -> Option<String> {
        let mut d = [0u8; 11];
        for (slot, b) in d.iter_mut().zip(first11.bytes()) {
            *slot = b - b'0';
        }
        check_digit(&d).map(|c| format!("{first11}{c}"))
    }

    #[test]
    fn first_pass_check_digit() {
        // 1*8+2*5+3*0+4*1+5*2+6*3+7*3+8*0+9*1+10*2+11*0 = 100, 100 % 11 = 1
        assert_eq!(with_check("85012330120").as_deref(), Some("850123301201"));
        assert!(Iin::parse("850123301201").is_ok());
        assert_eq!(Iin::parse("850123301202"), Err(IdentifierError::CheckDigit));
    }

    #[test]
    fn second_pass_used_when_first_gives_ten() {
        // Search a prefix whose first pass is 10; the second pass must then decide.
        let prefix = (0..100_000u32)
            .map(|n| format!("9001013{n:04}"))
            .find(|p| {
                let d: Vec<u32> = p.bytes().map(|b| u32::from(b - b'0')).collect();
                d.iter().zip(FIRST_PASS).map(|(a, w)| a * w).sum::<u32>() % 11 == 10
            })
            .expect("some prefix has first pass 10");
        let d: Vec<u32> = prefix.bytes().map(|b| u32::from(b - b'0')).collect();
        let second = d.iter().zip(SECOND_PASS).map(|(a, w)| a * w).sum::<u32>() % 11;
        match with_check(&prefix) {
            Some(full) => {
                assert_eq!(second, u32::from(full.as_bytes()[11] - b'0'));
                assert!(Iin::parse(&full).is_ok());
            }
            None => assert_eq!(second, 10),
        }
    }

    #[test]
    fn rejects_length_and_letters() {
        assert_eq!(Iin::parse("123"), Err(IdentifierError::Length(3)));
        assert_eq!(Bin::parse("12345678901a"), Err(IdentifierError::NotDigits));
        assert_eq!(
            Bin::parse("１２３４５６７８９０１２"),
            Err(IdentifierError::NotDigits)
        );
    }

    #[test]
    fn debug_and_display_are_masked() {
        let iin = Iin::parse("850123301201").unwrap();
        assert_eq!(format!("{iin}"), "8501******01");
        assert_eq!(format!("{iin:?}"), "Iin(8501******01)");
        assert_eq!(mask("short"), "************");
    }
}
