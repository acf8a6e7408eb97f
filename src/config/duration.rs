//! Humane durations for the config file and the command line: `"250ms"`,
//! `"2s"`, `"1.5s"`, `"2m"`, `"1h"`.

use std::fmt;
use std::time::Duration;

/// Why [`parse_duration`] refused a text. Its `Display` names the text and
/// the problem, e.g. `invalid duration "5": a unit is missing (write e.g.
/// "250ms", "2s", "1.5m")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    text: String,
    kind: DurationErrorKind,
}

/// What was wrong with a duration's text (see [`DurationError::kind`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurationErrorKind {
    /// It does not start with a number (`"ms"`, `".5s"`, `"-1s"`).
    NoNumber,
    /// The number has no unit (`"5"`).
    NoUnit,
    /// The unit is not one of `ns`, `us`, `ms`, `s`, `m`, `h`, `d`.
    UnknownUnit(String),
    /// The number is malformed (`"1.2.3s"`, more than 9 decimals).
    MalformedNumber,
    /// Longer than a `Duration` holds.
    TooLong,
}

impl DurationError {
    fn new(text: &str, kind: DurationErrorKind) -> DurationError {
        DurationError {
            text: text.to_string(),
            kind,
        }
    }

    /// The text as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// What was wrong with it.
    pub fn kind(&self) -> &DurationErrorKind {
        &self.kind
    }
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid duration {:?}: ", self.text)?;
        match &self.kind {
            DurationErrorKind::NoNumber => f.write_str("it must start with a number")?,
            DurationErrorKind::NoUnit => f.write_str("a unit is missing")?,
            DurationErrorKind::UnknownUnit(unit) => write!(f, "unknown unit {unit:?}")?,
            DurationErrorKind::MalformedNumber => f.write_str("malformed number")?,
            DurationErrorKind::TooLong => f.write_str("too long")?,
        }
        f.write_str(" (write e.g. \"250ms\", \"2s\", \"1.5m\")")
    }
}

impl std::error::Error for DurationError {}

/// The message, for code whose errors are `String`s (`parse_duration(t)?`
/// in a function returning `Result<_, String>`, as before the error was typed).
impl From<DurationError> for String {
    fn from(e: DurationError) -> String {
        e.to_string()
    }
}

/// Parses a humane duration: a number (integer or decimal) and a unit,
/// one of `ns`, `us`, `ms`, `s`, `m`, `h`, `d`; `"0"` alone is zero.
/// Spaces between number and unit are allowed.
///
/// ```
/// use std::time::Duration;
/// use cluster_client::{parse_duration, DurationErrorKind};
///
/// assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
/// assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
/// assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
/// let e = parse_duration("2 fortnights").unwrap_err();
/// assert_eq!(e.kind(), &DurationErrorKind::UnknownUnit("fortnights".into()));
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    use DurationErrorKind as K;
    let t = text.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim());
    let refuse = |kind: DurationErrorKind| DurationError::new(text, kind);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(refuse(K::NoNumber));
    }
    let nanos_per_unit: u128 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" | "sec" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        "" => return Err(refuse(K::NoUnit)),
        _ => return Err(refuse(K::UnknownUnit(unit.to_string()))),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.contains('.') || fraction.len() > 9 {
        return Err(refuse(K::MalformedNumber));
    }
    let too_long = || refuse(K::TooLong);
    let whole: u128 = whole.parse().map_err(|_| too_long())?;
    let mut nanos = whole.checked_mul(nanos_per_unit).ok_or_else(too_long)?;
    if !fraction.is_empty() {
        let digits: u128 = fraction.parse().map_err(|_| refuse(K::MalformedNumber))?;
        let scale = 10u128.pow(u32::try_from(fraction.len()).unwrap_or(9));
        nanos = nanos
            .checked_add(digits * nanos_per_unit / scale)
            .ok_or_else(too_long)?;
    }
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| too_long())?;
    // The remainder of a division by 10^9 always fits in u32.
    let sub = u32::try_from(nanos % 1_000_000_000).unwrap_or(0);
    Ok(Duration::new(secs, sub))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humane_forms() {
        let ok = |t: &str| parse_duration(t).unwrap();
        assert_eq!(ok("250ms"), Duration::from_millis(250));
        assert_eq!(ok(" 2 s "), Duration::from_secs(2));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok("0.25m"), Duration::from_secs(15));
        assert_eq!(ok("1h"), Duration::from_secs(3600));
        assert_eq!(ok("3d"), Duration::from_secs(3 * 86_400));
        assert_eq!(ok("10us"), Duration::from_micros(10));
        assert_eq!(ok("7ns"), Duration::from_nanos(7));
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("0ms"), Duration::ZERO);
    }

    #[test]
    fn bad_forms_name_the_problem() {
        for (bad, why) in [
            ("", "number"),
            ("ms", "number"),
            ("5", "unit"),
            ("5 fortnights", "unknown unit"),
            ("1.2.3s", "malformed"),
            (".5s", "number"),
            ("5.s", "number"),
            ("-1s", "number"),
            ("99999999999999999999999999999999999999d", "too long"),
            ("1.0000000001s", "malformed"),
        ] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.to_string().contains(why), "{bad:?}: {e}");
            assert_eq!(e.text(), bad);
        }
    }

    #[test]
    fn the_error_is_typed_and_keeps_its_message() {
        let e = parse_duration("5").unwrap_err();
        assert_eq!(e.kind(), &DurationErrorKind::NoUnit);
        assert_eq!(
            e.to_string(),
            r#"invalid duration "5": a unit is missing (write e.g. "250ms", "2s", "1.5m")"#
        );
        let boxed: Box<dyn std::error::Error> = Box::new(e.clone());
        assert_eq!(boxed.to_string(), e.to_string());
        assert_eq!(String::from(e.clone()), e.to_string());
        for (bad, kind) in [
            (".5s", DurationErrorKind::NoNumber),
            ("1.2.3s", DurationErrorKind::MalformedNumber),
            (
                "99999999999999999999999999999999999999d",
                DurationErrorKind::TooLong,
            ),
            ("2 weeks", DurationErrorKind::UnknownUnit("weeks".into())),
        ] {
            assert_eq!(parse_duration(bad).unwrap_err().kind(), &kind, "{bad:?}");
        }
    }
}
