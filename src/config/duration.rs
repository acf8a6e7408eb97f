//! Humane durations for the config file and the command line: `"250ms"`,
//! `"2s"`, `"1.5s"`, `"2m"`, `"1h"`.

use std::time::Duration;

/// Parses a humane duration: a number (integer or decimal) and a unit,
/// one of `ns`, `us`, `ms`, `s`, `m`, `h`, `d`; `"0"` alone is zero.
/// Spaces between number and unit are allowed.
///
/// ```
/// use std::time::Duration;
/// use cluster_client::parse_duration;
///
/// assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
/// assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
/// assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
/// assert!(parse_duration("2 fortnights").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim());
    let explain = |why: &str| {
        format!("invalid duration {text:?}: {why} (write e.g. \"250ms\", \"2s\", \"1.5m\")")
    };
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(explain("it must start with a number"));
    }
    let nanos_per_unit: u128 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" | "sec" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        "" => return Err(explain("a unit is missing")),
        _ => return Err(explain(&format!("unknown unit {unit:?}"))),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.contains('.') || fraction.len() > 9 {
        return Err(explain("malformed number"));
    }
    let too_long = || explain("too long");
    let whole: u128 = whole.parse().map_err(|_| too_long())?;
    let mut nanos = whole.checked_mul(nanos_per_unit).ok_or_else(too_long)?;
    if !fraction.is_empty() {
        let digits: u128 = fraction.parse().map_err(|_| explain("malformed number"))?;
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
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
