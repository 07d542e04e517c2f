//! Typed values shared by the inventory (attribute and key types declared
//! in configd.toml) and by command arguments (noded.toml): parsing a type
//! name, and checking a value against it. Pure code, table-tested, used on
//! both configd and noded so both sides agree on what is valid.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The type of an inventory key or attribute: `string`, `int`, `ip`,
/// `date` (YYYY-MM-DD) or an enum written `a|b|c`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValueType {
    String,
    Int,
    Ip,
    Date,
    Enum(Vec<String>),
}

/// Longest string value accepted anywhere (inventory attributes).
pub const MAX_STRING: usize = 4096;

impl ValueType {
    /// Parses a type as written in configd.toml.
    pub fn parse(text: &str) -> Result<ValueType, String> {
        match text {
            "string" => Ok(ValueType::String),
            "int" => Ok(ValueType::Int),
            "ip" => Ok(ValueType::Ip),
            "date" => Ok(ValueType::Date),
            t if t.contains('|') => {
                let values: Vec<String> = t.split('|').map(|v| v.trim().to_string()).collect();
                if values.iter().any(|v| v.is_empty()) {
                    return Err(format!("enum `{t}` has an empty value"));
                }
                Ok(ValueType::Enum(values))
            }
            other => Err(format!(
                "unknown type `{other}`: use string, int, ip, date or an enum such as `new|live|archived`"
            )),
        }
    }

    /// How the type is written (for messages).
    pub fn describe(&self) -> String {
        match self {
            ValueType::String => "string".into(),
            ValueType::Int => "int".into(),
            ValueType::Ip => "ip".into(),
            ValueType::Date => "date (YYYY-MM-DD)".into(),
            ValueType::Enum(v) => format!("one of {}", v.join("|")),
        }
    }

    /// Checks `value` and returns its canonical text (ints without
    /// leading zeros or `+`, so `0218` and `218` are one key).
    pub fn check(&self, value: &str) -> Result<String, String> {
        match self {
            ValueType::String => {
                if value.len() > MAX_STRING {
                    return Err(format!(
                        "is {} bytes; the limit is {MAX_STRING}",
                        value.len()
                    ));
                }
                if value.chars().any(char::is_control) {
                    return Err("must not contain control characters".into());
                }
                Ok(value.to_string())
            }
            ValueType::Int => parse_int(value).map(|i| i.to_string()),
            ValueType::Ip => value
                .parse::<IpAddr>()
                .map(|ip| ip.to_string())
                .map_err(|_| format!("`{}` is not an IP address", shown(value))),
            ValueType::Date => check_date(value, "%Y-%m-%d").map(|_| value.to_string()),
            ValueType::Enum(values) if values.iter().any(|v| v == value) => Ok(value.to_string()),
            ValueType::Enum(values) => Err(format!(
                "`{}` is not one of {}",
                shown(value),
                values.join("|")
            )),
        }
    }
}

/// A 64-bit decimal integer, nothing else (no spaces, no `0x`).
pub fn parse_int(value: &str) -> Result<i64, String> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{}` is not an integer", shown(value)));
    }
    value
        .parse::<i64>()
        .map_err(|_| format!("`{}` is not a 64-bit integer", shown(value)))
}

/// Checks that `value` is a real date (or date-time) written as `format`
/// (strftime subset: `%Y %m %d %H %M %S %%` and literal text).
pub fn check_date(value: &str, format: &str) -> Result<(), String> {
    let description = time_format(format)?;
    let items = time::format_description::parse_borrowed::<2>(&description)
        .map_err(|e| format!("bad date format `{format}`: {e}"))?;
    let real = match format.contains("%H") {
        true => time::PrimitiveDateTime::parse(value, &items).is_ok(),
        false => time::Date::parse(value, &items).is_ok(),
    };
    let not_real = || format!("`{}` is not a real date in format {format}", shown(value));
    real.then_some(()).ok_or_else(not_real)
}

/// Translates the strftime subset into a `time` format description.
pub fn time_format(format: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = format.chars();
    let mut has_date = (false, false, false);
    while let Some(c) = chars.next() {
        if c != '%' {
            if c == '[' {
                out.push_str("[[");
            } else {
                out.push(c);
            }
            continue;
        }
        let piece = match chars.next() {
            Some('Y') => {
                has_date.0 = true;
                "[year repr:full padding:zero]"
            }
            Some('m') => {
                has_date.1 = true;
                "[month padding:zero]"
            }
            Some('d') => {
                has_date.2 = true;
                "[day padding:zero]"
            }
            Some('H') => "[hour repr:24 padding:zero]",
            Some('M') => "[minute padding:zero]",
            Some('S') => "[second padding:zero]",
            Some('%') => "%",
            other => {
                return Err(format!(
                    "bad date format `{format}`: unsupported `%{}`; use %Y %m %d %H %M %S",
                    other.map(String::from).unwrap_or_default()
                ))
            }
        };
        out.push_str(piece);
    }
    if has_date != (true, true, true) {
        return Err(format!(
            "bad date format `{format}`: it needs %Y, %m and %d"
        ));
    }
    Ok(out)
}

/// A value as it may appear in a one-line message: control characters
/// escaped, cut to 64 characters.
pub fn shown(value: &str) -> String {
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i == 64 {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parse() {
        assert_eq!(ValueType::parse("int").unwrap(), ValueType::Int);
        assert_eq!(
            ValueType::parse("new|live|archived").unwrap(),
            ValueType::Enum(vec!["new".into(), "live".into(), "archived".into()])
        );
        assert!(ValueType::parse("integer").is_err());
        assert!(ValueType::parse("a||b").is_err());
    }

    #[test]
    fn values_check() {
        let cases: &[(ValueType, &str, Option<&str>)] = &[
            (ValueType::Int, "218", Some("218")),
            (ValueType::Int, "0218", Some("218")),
            (ValueType::Int, "-3", Some("-3")),
            (ValueType::Int, "2 18", None),
            (ValueType::Int, "0x10", None),
            (ValueType::Int, "", None),
            (ValueType::Int, "99999999999999999999", None),
            (ValueType::Ip, "10.0.0.1", Some("10.0.0.1")),
            (ValueType::Ip, "::1", Some("::1")),
            (ValueType::Ip, "10.0.0.256", None),
            (ValueType::Date, "2026-02-28", Some("2026-02-28")),
            (ValueType::Date, "2026-02-30", None),
            (
                ValueType::String,
                "s218.example.com",
                Some("s218.example.com"),
            ),
            (ValueType::String, "a\nb", None),
            (
                ValueType::Enum(vec!["new".into(), "live".into()]),
                "live",
                Some("live"),
            ),
            (
                ValueType::Enum(vec!["new".into(), "live".into()]),
                "dead",
                None,
            ),
        ];
        for (t, v, want) in cases {
            assert_eq!(t.check(v).ok().as_deref(), *want, "{t:?} {v:?}");
        }
    }

    #[test]
    fn dates_are_real() {
        assert!(check_date("20261201", "%Y%m%d").is_ok());
        assert!(check_date("20240229", "%Y%m%d").is_ok());
        assert!(check_date("20250229", "%Y%m%d").is_err());
        assert!(check_date("20261301", "%Y%m%d").is_err());
        assert!(check_date(";reboot;", "%Y%m%d").is_err());
        assert!(check_date("2026120", "%Y%m%d").is_err());
        assert!(check_date("202612011", "%Y%m%d").is_err());
        assert!(check_date("2026-12-01 10:00:00", "%Y-%m-%d %H:%M:%S").is_ok());
        assert!(time_format("%Y%q").is_err());
        assert!(time_format("%Y%m").is_err());
    }
}
