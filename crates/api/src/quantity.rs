//! Kubernetes resource quantities (`100m`, `1.5`, `2Gi`, `512Mi`, `1e3`, `1k`),
//! parsed exactly into nano-units and printed in upstream's canonical form.
//!
//! A quantity is held as an `i128` count of nano-units (1e-9), which covers every
//! value upstream can store in its fast path (and far more: ±1.7e29 units) with no
//! rounding except below one nano, where upstream also rounds up. CPU is usually
//! read with [`Quantity::milli_value`], memory with [`Quantity::value`] (bytes).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use k8s_openapi::api::core::v1::{Container, PodSpec};

use crate::error::Error;

const NANOS_PER_UNIT: i128 = 1_000_000_000;

const ERR_FORMAT: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const ERR_SUFFIX: &str = "unable to parse quantity's suffix";
const ERR_NUMERIC: &str = "unable to parse numeric part of quantity";
const ERR_RANGE: &str = "quantity is too large or too precise to be represented";

/// How a quantity prints: the family of its suffix when it was parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `Ki`, `Mi`, ... (powers of 1024)
    BinarySI,
    /// `n`, `u`, `m`, ``, `k`, `M`, ... (powers of 1000)
    DecimalSI,
    /// `e3`, `E-2`
    DecimalExponent,
}

/// An exact resource quantity. Equality and ordering compare values only
/// (`1Gi == 1073741824`).
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Default for Quantity {
    fn default() -> Self {
        Quantity {
            nanos: 0,
            format: Format::DecimalSI,
        }
    }
}

fn q_err(msg: &str) -> Error {
    Error::Quantity(msg.to_string())
}

/// `base^exp` as i128, `None` on overflow.
fn pow(base: i128, exp: u32) -> Option<i128> {
    base.checked_pow(exp)
}

/// Divides rounding away from zero (upstream rounds sub-nano precision up).
fn div_round_up(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d == 0 {
        q
    } else if n > 0 {
        q + 1
    } else {
        q - 1
    }
}

impl Quantity {
    /// Parses a quantity string as `resource.ParseQuantity` does.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let b = s.as_bytes();
        let mut i = 0;
        let negative = match b.first() {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let int_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let int_part = &s[int_start..i];
        let mut frac_part = "";
        if i < b.len() && b[i] == b'.' {
            i += 1;
            let f = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            frac_part = &s[f..i];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(q_err(ERR_FORMAT));
        }
        let suffix = &s[i..];
        if suffix.contains('.')
            || !suffix
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'+')
        {
            return Err(q_err(ERR_FORMAT));
        }
        let (base, exp, format) = parse_suffix(suffix)?;

        // Trailing fractional zeros carry no value; dropping them keeps `1.50000…0` in range.
        let frac_part = frac_part.trim_end_matches('0');
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 38 {
            return Err(q_err(ERR_RANGE));
        }
        let mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| q_err(ERR_NUMERIC))?
        };
        let frac_digits = frac_part.len() as i64;

        // value = mantissa * base^exp / 10^frac_digits; nanos = value * 1e9.
        let nanos = if base == 10 {
            let e = exp + 9 - frac_digits;
            if e >= 0 {
                let m = u32::try_from(e)
                    .ok()
                    .and_then(|e| pow(10, e))
                    .ok_or_else(|| q_err(ERR_RANGE))?;
                mantissa.checked_mul(m).ok_or_else(|| q_err(ERR_RANGE))?
            } else if e < -38 {
                i128::from(mantissa != 0)
            } else {
                let d = pow(10, (-e) as u32).ok_or_else(|| q_err(ERR_RANGE))?;
                div_round_up(mantissa, d)
            }
        } else {
            let scale = u32::try_from(exp)
                .ok()
                .and_then(|e| pow(1024, e))
                .ok_or_else(|| q_err(ERR_RANGE))?;
            let n = mantissa
                .checked_mul(scale)
                .and_then(|v| v.checked_mul(NANOS_PER_UNIT))
                .ok_or_else(|| q_err(ERR_RANGE))?;
            let d = pow(10, frac_digits as u32).ok_or_else(|| q_err(ERR_RANGE))?;
            div_round_up(n, d)
        };
        Ok(Quantity {
            nanos: if negative { -nanos } else { nanos },
            format,
        })
    }

    /// A quantity of `milli` thousandths (CPU millicores), printed DecimalSI.
    pub fn from_milli(milli: i128) -> Self {
        Quantity {
            nanos: milli.saturating_mul(1_000_000),
            format: Format::DecimalSI,
        }
    }

    /// A whole-unit quantity (bytes, pods) in the given format.
    pub fn from_value(value: i128, format: Format) -> Self {
        Quantity {
            nanos: value.saturating_mul(NANOS_PER_UNIT),
            format,
        }
    }

    /// The exact value in nano-units.
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    /// The value in thousandths, rounded up (as upstream's `MilliValue`).
    pub fn milli_value(&self) -> i128 {
        div_ceil(self.nanos, 1_000_000)
    }

    /// The value in whole units, rounded up (as upstream's `Value`).
    pub fn value(&self) -> i128 {
        div_ceil(self.nanos, NANOS_PER_UNIT)
    }

    /// The print format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// True for zero.
    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// The sum, in this quantity's format (the other's if this one is zero);
    /// `None` on overflow.
    pub fn checked_add(&self, other: &Quantity) -> Option<Quantity> {
        let format = if self.is_zero() {
            other.format
        } else {
            self.format
        };
        Some(Quantity {
            nanos: self.nanos.checked_add(other.nanos)?,
            format,
        })
    }

    /// The difference, in this quantity's format; `None` on overflow.
    pub fn checked_sub(&self, other: &Quantity) -> Option<Quantity> {
        Some(Quantity {
            nanos: self.nanos.checked_sub(other.nanos)?,
            format: self.format,
        })
    }

    /// The canonical string, as upstream's `Quantity.String()`.
    pub fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".to_string();
        }
        let sign = if self.nanos < 0 { "-" } else { "" };
        let abs = self.nanos.unsigned_abs();
        let mut format = self.format;
        if format == Format::BinarySI
            && (abs < 1024 * NANOS_PER_UNIT as u128 || !abs.is_multiple_of(NANOS_PER_UNIT as u128))
        {
            format = Format::DecimalSI;
        }
        if format == Format::BinarySI {
            let mut units = abs / NANOS_PER_UNIT as u128;
            let mut exp = 0;
            while exp < 6 && units.is_multiple_of(1024) {
                units /= 1024;
                exp += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exp];
            return format!("{sign}{units}{suffix}");
        }
        // value = abs * 10^-9; strip factors of ten, then floor the exponent to a multiple of 3.
        let mut amount = abs;
        let mut exp: i32 = -9;
        while amount.is_multiple_of(10) {
            amount /= 10;
            exp += 1;
        }
        match exp.rem_euclid(3) {
            1 => {
                amount *= 10;
                exp -= 1;
            }
            2 => {
                amount *= 100;
                exp -= 2;
            }
            _ => {}
        }
        if format == Format::DecimalExponent {
            return if exp == 0 {
                format!("{sign}{amount}")
            } else {
                format!("{sign}{amount}e{exp}")
            };
        }
        while exp > 18 {
            amount *= 1000;
            exp -= 3;
        }
        let suffix = match exp {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            18 => "E",
            _ => "",
        };
        format!("{sign}{amount}{suffix}")
    }
}

fn div_ceil(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d > 0 { q + 1 } else { q }
}

/// Returns (base, exponent, format) for a suffix.
fn parse_suffix(suffix: &str) -> Result<(i128, i64, Format), Error> {
    let decimal = |e| Ok((10, e, Format::DecimalSI));
    let binary = |e| Ok((1024, e, Format::BinarySI));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        _ => {
            let rest = suffix
                .strip_prefix(['e', 'E'])
                .ok_or_else(|| q_err(ERR_SUFFIX))?;
            let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return Err(q_err(ERR_SUFFIX));
            }
            let e: i64 = rest.parse().map_err(|_| q_err(ERR_SUFFIX))?;
            if !(-1000..=1000).contains(&e) {
                return Err(q_err(ERR_RANGE));
            }
            Ok((10, e, Format::DecimalExponent))
        }
    }
}

impl FromStr for Quantity {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl TryFrom<&k8s_openapi::apimachinery::pkg::api::resource::Quantity> for Quantity {
    type Error = Error;

    fn try_from(
        q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity,
    ) -> Result<Self, Error> {
        Quantity::parse(&q.0)
    }
}

impl From<Quantity> for k8s_openapi::apimachinery::pkg::api::resource::Quantity {
    fn from(q: Quantity) -> Self {
        k8s_openapi::apimachinery::pkg::api::resource::Quantity(q.canonical())
    }
}

/// A resource list (`cpu` → 250m, `memory` → 64Mi) with parsed values.
pub type ResourceList = BTreeMap<String, Quantity>;

fn parse_list(
    map: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
) -> Result<ResourceList, Error> {
    map.into_iter()
        .flatten()
        .map(|(k, v)| Ok((k.clone(), Quantity::try_from(v)?)))
        .collect()
}

fn container_requests(c: &Container) -> Result<ResourceList, Error> {
    parse_list(c.resources.as_ref().and_then(|r| r.requests.as_ref()))
}

fn add_into(total: &mut ResourceList, add: &ResourceList) -> Result<(), Error> {
    for (k, v) in add {
        let sum = match total.get(k) {
            Some(t) => t.checked_add(v).ok_or_else(|| q_err(ERR_RANGE))?,
            None => *v,
        };
        total.insert(k.clone(), sum);
    }
    Ok(())
}

fn max_into(total: &mut ResourceList, other: &ResourceList) {
    for (k, v) in other {
        if total.get(k).is_none_or(|t| v > t) {
            total.insert(k.clone(), *v);
        }
    }
}

/// What a pod asks the scheduler for, as upstream's `PodRequests` computes it:
/// per resource, the larger of the app containers' sum (plus restartable
/// "sidecar" init containers, which keep running) and the largest one-shot init
/// container (plus the sidecars started before it), then the pod overhead.
/// Call on a defaulted spec (limits copied into missing requests).
pub fn pod_requests(spec: &PodSpec) -> Result<ResourceList, Error> {
    let mut apps = ResourceList::new();
    for c in &spec.containers {
        add_into(&mut apps, &container_requests(c)?)?;
    }
    let mut sidecars = ResourceList::new();
    let mut init_peak = ResourceList::new();
    for c in spec.init_containers.iter().flatten() {
        let req = container_requests(c)?;
        if c.restart_policy.as_deref() == Some("Always") {
            add_into(&mut sidecars, &req)?;
            max_into(&mut init_peak, &sidecars);
        } else {
            let mut during = sidecars.clone();
            add_into(&mut during, &req)?;
            max_into(&mut init_peak, &during);
        }
    }
    add_into(&mut apps, &sidecars)?;
    max_into(&mut apps, &init_peak);
    add_into(&mut apps, &parse_list(spec.overhead.as_ref())?)?;
    Ok(apps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_exactly() {
        let cases: &[(&str, i128, &str)] = &[
            ("0", 0, "0"),
            ("100m", 100_000_000, "100m"),
            ("1", 1_000_000_000, "1"),
            ("1.5", 1_500_000_000, "1500m"),
            ("0.1", 100_000_000, "100m"),
            (".5", 500_000_000, "500m"),
            ("5.", 5_000_000_000, "5"),
            ("2Gi", 2 * (1 << 30) * NANOS_PER_UNIT, "2Gi"),
            ("512Mi", 512 * (1 << 20) * NANOS_PER_UNIT, "512Mi"),
            ("1.5Gi", 1536 * (1 << 20) * NANOS_PER_UNIT, "1536Mi"),
            ("1024", 1024 * NANOS_PER_UNIT, "1024"),
            ("0.5Ki", 512 * NANOS_PER_UNIT, "512"),
            ("1e3", 1000 * NANOS_PER_UNIT, "1e3"),
            ("1E3", 1000 * NANOS_PER_UNIT, "1e3"),
            ("1200e0", 1200 * NANOS_PER_UNIT, "1200"),
            ("1e-3", 1_000_000, "1e-3"),
            ("1k", 1000 * NANOS_PER_UNIT, "1k"),
            ("1M", 1_000_000 * NANOS_PER_UNIT, "1M"),
            ("1500k", 1_500_000 * NANOS_PER_UNIT, "1500k"),
            ("1000m", NANOS_PER_UNIT, "1"),
            ("2000", 2000 * NANOS_PER_UNIT, "2k"),
            ("-100m", -100_000_000, "-100m"),
            ("+2", 2 * NANOS_PER_UNIT, "2"),
            ("1n", 1, "1n"),
            ("1u", 1000, "1u"),
            ("0.1n", 1, "1n"),
            ("1.0000000001", 1_000_000_001, "1000000001n"),
            ("1E", 1_000_000_000_000_000_000 * NANOS_PER_UNIT, "1E"),
            (
                "1000E",
                1_000_000_000_000_000_000_000 * NANOS_PER_UNIT,
                "1000E",
            ),
            ("1Ei", (1i128 << 60) * NANOS_PER_UNIT, "1Ei"),
            (
                "1.50000000000000000000000000000000000000000000",
                1_500_000_000,
                "1500m",
            ),
            ("000001", NANOS_PER_UNIT, "1"),
        ];
        for &(input, nanos, canonical) in cases {
            let got = q(input);
            assert_eq!(got.nanos(), nanos, "{input}");
            assert_eq!(got.to_string(), canonical, "{input}");
            assert_eq!(q(canonical), got, "{canonical} re-parses to the same value");
        }
    }

    #[test]
    fn rejects_bad_input() {
        let cases = [
            ("", ERR_FORMAT),
            ("abc", ERR_FORMAT),
            ("-", ERR_FORMAT),
            (".", ERR_FORMAT),
            ("1.2.3", ERR_FORMAT),
            ("1 Gi", ERR_FORMAT),
            ("1K", ERR_SUFFIX),
            ("1Gb", ERR_SUFFIX),
            ("1ki", ERR_SUFFIX),
            ("1e", ERR_SUFFIX),
            ("1e+", ERR_SUFFIX),
            ("1e1.5", ERR_FORMAT),
            ("1mm", ERR_SUFFIX),
            ("1e99999999999999999999", ERR_SUFFIX),
            ("1e5000", ERR_RANGE),
            ("999999999999999999999999999999999999999", ERR_RANGE),
            ("99999999999999999999999999999999Ei", ERR_RANGE),
            ("--1", ERR_FORMAT),
            ("1é", ERR_FORMAT),
        ];
        for (input, want) in cases {
            assert_eq!(
                Quantity::parse(input),
                Err(Error::Quantity(want.to_string())),
                "{input}"
            );
        }
    }

    #[test]
    fn arithmetic_and_scaled_values() {
        assert!(q("100m") < q("1"));
        assert!(q("1Gi") > q("1G"));
        assert_eq!(q("1Gi"), q("1073741824"));
        assert_eq!(q("1500m"), q("1.5"));
        let sum = q("250m").checked_add(&q("1.5")).unwrap();
        assert_eq!(sum.to_string(), "1750m");
        assert_eq!(
            q("1Gi").checked_add(&q("512Mi")).unwrap().to_string(),
            "1536Mi"
        );
        assert_eq!(
            Quantity::default()
                .checked_add(&q("1Gi"))
                .unwrap()
                .to_string(),
            "1Gi"
        );
        assert_eq!(q("1").checked_sub(&q("250m")).unwrap().to_string(), "750m");
        assert_eq!(q("1.5").milli_value(), 1500);
        assert_eq!(q("1n").milli_value(), 1);
        assert_eq!(q("1.1").value(), 2);
        assert_eq!(q("2Gi").value(), 2 * (1 << 30));
        assert_eq!(Quantity::from_milli(250).to_string(), "250m");
        assert_eq!(
            Quantity::from_value(4096, Format::BinarySI).to_string(),
            "4Ki"
        );
        let k: k8s_openapi::apimachinery::pkg::api::resource::Quantity = q("0.5").into();
        assert_eq!(k.0, "500m");
        assert_eq!(Quantity::try_from(&k).unwrap(), q("500m"));
        let max = Quantity {
            nanos: i128::MAX,
            format: Format::DecimalSI,
        };
        assert_eq!(max.checked_add(&q("1n")), None);
        assert!(!max.to_string().is_empty());
        let min = Quantity {
            nanos: i128::MIN,
            format: Format::BinarySI,
        };
        assert!(min.to_string().starts_with('-'));
    }

    #[test]
    fn pod_requests_follow_upstream() {
        let spec: PodSpec = serde_json::from_value(serde_json::json!({
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "500m"}}},
                {"name": "c"}
            ],
            "initContainers": [
                {"name": "setup", "resources": {"requests": {"cpu": "2", "memory": "16Mi"}}},
                {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m", "memory": "32Mi"}}},
                {"name": "late", "resources": {"requests": {"memory": "512Mi"}}}
            ],
            "overhead": {"cpu": "10m"}
        }))
        .unwrap();
        let got: Vec<(String, String)> = pod_requests(&spec)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect();
        // cpu: max(0.75 + 0.1 sidecar, 2 setup) + 10m overhead; memory: max(64+32, 32+512).
        assert_eq!(
            got,
            [
                ("cpu".to_string(), "2010m".to_string()),
                ("memory".to_string(), "544Mi".to_string())
            ]
        );

        let bad: PodSpec = serde_json::from_value(serde_json::json!({
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "lots"}}}]
        }))
        .unwrap();
        assert!(pod_requests(&bad).is_err());
        assert!(pod_requests(&PodSpec::default()).unwrap().is_empty());
    }

    #[test]
    fn garbage_never_panics() {
        let alphabet: Vec<char> = "0123456789.+-eEinumkKMGTP é".chars().collect();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 50) as usize;
            let s: String = (0..len)
                .map(|i| alphabet[((seed >> (i % 60)) as usize + i * 13) % alphabet.len()])
                .collect();
            if let Ok(v) = Quantity::parse(&s) {
                assert_eq!(Quantity::parse(&v.to_string()), Ok(v), "{s:?}");
            }
        }
    }
}
