//! Validated scalar values that appear in payloads: identifiers, ISO codes, decimal amounts,
//! dates and times.
//!
//! Each type keeps the exact string it was parsed from, so a payload's bytes are never
//! re-derived from a parsed number or date: what was signed is what is shown and exported.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::FieldError;

/// The longest identifier (entry id, member id, commitment id) accepted.
pub const MAX_ID_LEN: usize = 128;
/// The longest free-text field (title, institution, reason, note) accepted.
pub const MAX_TEXT_LEN: usize = 4096;
/// Most digits an amount may have (docs/FORMAT.md section 1).
pub const MAX_AMOUNT_DIGITS: usize = 28;

macro_rules! string_value {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Parses and validates the value.
            ///
            /// # Errors
            /// [`FieldError`] naming what is wrong with `s`.
            pub fn parse(s: &str) -> Result<Self, FieldError> {
                let check: fn(&str) -> Result<(), String> = $check;
                check(s).map_err(|why| FieldError::new(stringify!($name), s, why))?;
                Ok(Self(s.to_owned()))
            }

            /// The value exactly as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = FieldError;
            fn from_str(s: &str) -> Result<Self, FieldError> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

fn check_id(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > MAX_ID_LEN {
        return Err(format!("must be 1 to {MAX_ID_LEN} characters"));
    }
    let ok_first = s.as_bytes()[0].is_ascii_alphanumeric();
    let ok_rest = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b':'));
    if ok_first && ok_rest {
        Ok(())
    } else {
        Err("must start with a letter or digit and use only A-Z a-z 0-9 - _ . / :".into())
    }
}

fn check_member_id(s: &str) -> Result<(), String> {
    // A member id is also the name of its C2SP verifier key, so it must not contain '+'
    // or white space (C2SP signed-note); we are stricter still.
    if s.is_empty() || s.len() > 64 {
        return Err("must be 1 to 64 characters".into());
    }
    if s.bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && s.as_bytes()[0].is_ascii_uppercase()
    {
        Ok(())
    } else {
        Err(
            "must be upper-case letters, digits, '-' or '_', starting with a letter (e.g. JP-MOF)"
                .into(),
        )
    }
}

fn check_country(s: &str) -> Result<(), String> {
    if s == "EU" || (s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())) {
        if is_assigned_country(s) {
            return Ok(());
        }
        return Err("is not an assigned ISO 3166-1 alpha-2 code (or EU)".into());
    }
    Err("must be an ISO 3166-1 alpha-2 code (two upper-case letters) or EU".into())
}

fn check_currency(s: &str) -> Result<(), String> {
    if s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase()) {
        if ISO_4217.binary_search(&s).is_ok() {
            return Ok(());
        }
        return Err("is not a current ISO 4217 code (List One as of 2026-01-01)".into());
    }
    Err("must be an ISO 4217 code (three upper-case letters)".into())
}

fn check_text(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > MAX_TEXT_LEN {
        return Err(format!("must be at most {MAX_TEXT_LEN} bytes"));
    }
    if s.chars().any(|c| c.is_control() && c != '\n') {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

fn check_slug(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > MAX_ID_LEN {
        return Err(format!("must be 1 to {MAX_ID_LEN} characters"));
    }
    if s.bytes().all(|b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'/' | b'.')
    }) {
        Ok(())
    } else {
        Err("must use only a-z 0-9 - _ . / (e.g. rare-earths/ndpr-oxide)".into())
    }
}

fn check_decimal(s: &str) -> Result<(), String> {
    // Grammar: 1*DIGIT [ "." 1*DIGIT ], no sign, no exponent, no leading zeros except "0".
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(
            "must be a non-negative decimal string such as \"110.00\" (no sign, exponent or float)"
                .into(),
        );
    }
    if int.len() > 1 && int.starts_with('0') {
        return Err("must not have leading zeros".into());
    }
    // Every digit written counts, except the lone 0 before the point of an amount below one:
    // 28 digits always fit rust_decimal's 96-bit mantissa and scale of 28, exactly.
    let written = if int == "0" { 0 } else { int.len() } + frac.map_or(0, str::len);
    if written > MAX_AMOUNT_DIGITS {
        return Err(format!(
            "has {written} digits; at most {MAX_AMOUNT_DIGITS} are allowed"
        ));
    }
    if rust_decimal::Decimal::from_str_exact(s).is_err() {
        return Err(format!(
            "is out of range (at most {MAX_AMOUNT_DIGITS} digits)"
        ));
    }
    Ok(())
}

/// `YYYY-MM-DD` with ASCII digits only: RFC 3339 `full-date` (section 5.6), year 0000-9999.
fn full_date_shape(s: &[u8]) -> bool {
    s.len() == 10
        && s.iter().enumerate().all(|(i, &b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        })
}

fn check_timestamp(s: &str) -> Result<(), String> {
    // RFC 3339 section 5.6 `date-time` in UTC, in one spelling: upper-case `T` between date
    // and time (the RFC's ABNF; its note on a space separator is not taken up), seconds 00 to
    // 59 (no leap second: instants then compare as they read), an optional fraction of 1 to
    // 9 digits, and `Z`.
    const FORM: &str =
        "must be an RFC 3339 UTC time YYYY-MM-DDTHH:MM:SS[.fraction]Z, e.g. 2026-01-13T15:00:00Z";
    let b = s.as_bytes();
    let time_ok = b.len() >= 20
        && full_date_shape(&b[..10])
        && b[10] == b'T'
        && b[11..13].iter().all(u8::is_ascii_digit)
        && b[13] == b':'
        && b[14..16].iter().all(u8::is_ascii_digit)
        && b[16] == b':'
        && b[17..19].iter().all(u8::is_ascii_digit)
        && b[17] <= b'5'
        && b[b.len() - 1] == b'Z'
        && match &b[19..b.len() - 1] {
            [] => true,
            [b'.', frac @ ..] => {
                (1..=9).contains(&frac.len()) && frac.iter().all(u8::is_ascii_digit)
            }
            _ => false,
        };
    if !time_ok {
        return Err(FORM.into());
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|_| ())
        .map_err(|e| format!("is not a real time ({e}); {FORM}"))
}

fn check_date(s: &str) -> Result<(), String> {
    parse_date(s).map(|_| ())
}

pub(crate) fn parse_date(s: &str) -> Result<time::Date, String> {
    if !full_date_shape(s.as_bytes()) {
        return Err("must be an RFC 3339 full-date YYYY-MM-DD".into());
    }
    let fmt = time::macros::format_description!("[year repr:full sign:automatic]-[month]-[day]");
    time::Date::parse(s, &fmt)
        .map_err(|e| format!("is not a real calendar day ({e}); the form is YYYY-MM-DD"))
}

fn check_url(s: &str) -> Result<(), String> {
    if s.len() > 2048 {
        return Err("must be at most 2048 bytes".into());
    }
    if !(s.starts_with("https://") || s.starts_with("http://")) {
        return Err("must start with https:// or http://".into());
    }
    // An RFC 3986 URI is ASCII: non-ASCII text (U+00A0, look-alike letters) must be
    // percent-encoded or punycoded, so what a reader sees is what was signed.
    if s.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
        return Err("must be printable ASCII without spaces (percent-encode anything else)".into());
    }
    let authority = s.split_once("://").map_or("", |(_, rest)| {
        rest.split(['/', '?', '#']).next().unwrap_or("")
    });
    // The WHATWG parser the url crate follows would read `https:///x` as host `x`; RFC 3986
    // reads an empty authority. Insist on a host where the RFC sees one.
    if authority.is_empty() {
        return Err("must name a host".into());
    }
    if authority.contains('@') {
        return Err("must not carry user information (user@ or user:password@)".into());
    }
    let u = url::Url::parse(s).map_err(|e| format!("is not a URL: {e}"))?;
    match u.host() {
        Some(url::Host::Domain(d)) if !d.is_empty() => Ok(()),
        Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => Ok(()),
        _ => Err("must name a host".into()),
    }
}

string_value!(
    /// An entry id or commitment id: 1 to 128 of `A-Z a-z 0-9 - _ . / :`, starting with a
    /// letter or digit.
    EntryId,
    check_id
);
string_value!(
    /// A member id such as `JP-MOF`: upper-case letters, digits, `-` and `_`. It is also the
    /// name in the member's C2SP verifier key.
    MemberId,
    check_member_id
);
string_value!(
    /// An ISO 3166-1 alpha-2 country code, or `EU`.
    Country,
    check_country
);
string_value!(
    /// An ISO 4217 currency code.
    Currency,
    check_currency
);
string_value!(
    /// Free text: non-empty, at most 4096 bytes, no control characters but newline.
    Text,
    check_text
);
string_value!(
    /// A lower-case slug naming a commodity, stage, unit or index, e.g.
    /// `rare-earths/ndpr-oxide`.
    Slug,
    check_slug
);
string_value!(
    /// A non-negative decimal string such as `"110.00"`; never a JSON number.
    Amount,
    check_decimal
);
string_value!(
    /// An RFC 3339 date-time in UTC (`...Z`).
    Timestamp,
    check_timestamp
);
string_value!(
    /// An RFC 3339 full-date `YYYY-MM-DD`.
    Date,
    check_date
);
string_value!(
    /// An `http` or `https` URL.
    Url,
    check_url
);

impl Amount {
    /// The amount as an exact decimal, for totals.
    pub fn value(&self) -> rust_decimal::Decimal {
        // Validated at parse time; a failure here would be a bug, so fall back to zero
        // rather than panic on data.
        rust_decimal::Decimal::from_str_exact(&self.0).unwrap_or_default()
    }
}

impl Date {
    /// The calendar date.
    pub fn date(&self) -> time::Date {
        parse_date(&self.0).unwrap_or(time::Date::MIN)
    }
}

impl Timestamp {
    /// The instant.
    pub fn instant(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::parse(&self.0, &time::format_description::well_known::Rfc3339)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }

    /// Formats an instant as an RFC 3339 UTC timestamp with whole seconds.
    pub fn from_unix(seconds: i64) -> Option<Self> {
        let t = time::OffsetDateTime::from_unix_timestamp(seconds).ok()?;
        let fmt =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        let s = t.format(&fmt).ok()?;
        Self::parse(&s).ok()
    }

    /// 1970-01-01T00:00:00Z.
    pub fn epoch() -> Self {
        Self("1970-01-01T00:00:00Z".to_owned())
    }

    /// Now, by the system clock, in whole seconds (the epoch if the clock is before it).
    pub fn now() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Self::from_unix(secs).unwrap_or_else(Self::epoch)
    }

    /// The calendar date (UTC) of this instant.
    pub fn date(&self) -> time::Date {
        self.instant().date()
    }
}

/// A 32-byte SHA-256 digest written as 64 lower-case hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sha256Hex(pub [u8; 32]);

impl Serialize for Sha256Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Sha256Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(serde::de::Error::custom(
                "sha256 must be 64 lower-case hex digits",
            ));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
        Ok(Self(out))
    }
}

/// ISO 3166-1 alpha-2 codes officially assigned (2024), plus `EU` (exceptionally reserved).
fn is_assigned_country(s: &str) -> bool {
    ISO_3166.binary_search(&s).is_ok()
}

const ISO_3166: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "EU", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE",
    "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK",
    "HM", "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE",
    "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB",
    "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH",
    "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ",
    "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF",
    "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU",
    "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR",
    "SS", "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN",
    "TO", "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG",
    "VI", "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// ISO 4217 List One as it stood on 2026-01-01: every current currency code (VED and XCG
/// included; ANG, withdrawn in 2025, is not) and the fund and special drawing codes (BOV, CHE,
/// CHW, CLF, COU, MXV, USN, UYI, UYW, XDR, XSU, XUA). Not the precious metals (XAU, XAG, XPD,
/// XPT), bond-market units (XBA to XBD), XTS or XXX: they are no money a pledge is made in.
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN",
    "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK",
    "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS",
    "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD",
    "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD",
    "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT",
    "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK",
    "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
    "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP",
    "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS",
    "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV", "WST",
    "XAF", "XCD", "XCG", "XDR", "XOF", "XPF", "XSU", "XUA", "YER", "ZAR", "ZMW", "ZWG",
];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn code_tables_are_sorted_for_binary_search() {
        assert!(ISO_3166.windows(2).all(|w| w[0] < w[1]));
        assert!(ISO_4217.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn decimals_are_strings_without_sign_or_exponent() {
        for ok in ["0", "110.00", "1000000000", "0.5"] {
            Amount::parse(ok).unwrap();
        }
        for bad in [
            "", "-1", "+1", "1e9", "01", ".5", "5.", "1,000", "NaN", " 1",
        ] {
            assert!(Amount::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn codes_and_times() {
        Country::parse("JP").unwrap();
        Country::parse("EU").unwrap();
        assert!(Country::parse("XX").is_err());
        assert!(Country::parse("jp").is_err());
        Currency::parse("USD").unwrap();
        assert!(Currency::parse("US$").is_err());
        Timestamp::parse("2026-01-13T15:00:00Z").unwrap();
        assert!(Timestamp::parse("2026-01-13T15:00:00+01:00").is_err());
        assert!(Timestamp::parse("2026-13-13T15:00:00Z").is_err());
        Date::parse("2026-02-28").unwrap();
        assert!(Date::parse("2026-02-30").is_err());
        MemberId::parse("JP-MOF").unwrap();
        assert!(MemberId::parse("JP+MOF").is_err());
        assert_eq!(
            Timestamp::from_unix(0).unwrap().as_str(),
            "1970-01-01T00:00:00Z"
        );
    }
}
