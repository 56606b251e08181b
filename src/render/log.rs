//! The kernel log as `dmesg` prints it: `[seconds.micros] text`, every line of a
//! multi-line record under its record's prefix (as the console shows it), optionally
//! with `facility:level:` in front (`dmesg -x`); or JSON with the device info.

use crate::kernel::printk::LogRecord;
use serde::Serialize;
use std::fmt::Write as _;

/// syslog level names, index = level.
pub const LEVELS: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warn", "notice", "info", "debug",
];
const FACILITIES: [&str; 12] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp",
];

/// `LEVEL` (name or 0-7) to its number.
pub fn parse_level(s: &str) -> Result<u8, String> {
    if let Ok(n) = s.parse::<u8>() {
        if n < 8 {
            return Ok(n);
        }
    }
    let s = if s == "warning" { "warn" } else { s };
    LEVELS
        .iter()
        .position(|l| *l == s)
        .map(|p| p as u8)
        .ok_or_else(|| format!("unknown level '{s}' (one of {} or 0-7)", LEVELS.join(", ")))
}

/// `SECONDS[.FRACTION]` to nanoseconds, exactly (no float rounding at the boundary).
pub fn parse_seconds(s: &str) -> Result<u64, String> {
    let bad = || format!("'{s}' is not a number of seconds");
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let frac: u64 = format!("{frac:0<9}").parse().map_err(|_| bad())?;
    whole
        .checked_mul(1_000_000_000)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(bad)
}

/// `[    1.234567]`, as printk and dmesg print a timestamp.
pub fn timestamp(ts_nsec: u64) -> String {
    format!(
        "[{:5}.{:06}]",
        ts_nsec / 1_000_000_000,
        (ts_nsec % 1_000_000_000) / 1000
    )
}

/// `T123` (a task) or `C1` (a CPU, printk from interrupt context).
pub fn caller(id: u32) -> String {
    if id & 0x8000_0000 != 0 {
        format!("C{}", id & 0x7fff_ffff)
    } else {
        format!("T{id}")
    }
}

fn facility_name(f: u8) -> String {
    FACILITIES.get(f as usize).map_or_else(
        || format!("local{}", f.saturating_sub(16)),
        |s| s.to_string(),
    )
}

/// Text lines, one per line of each record.
pub fn text(records: &[LogRecord], decode: bool) -> String {
    let mut out = String::new();
    for r in records {
        let mut prefix = String::new();
        if decode {
            let level = LEVELS.get(r.level as usize).copied().unwrap_or("?");
            let _ = write!(prefix, "{:<6}:{:<6}: ", facility_name(r.facility), level);
        }
        prefix.push_str(&timestamp(r.ts_nsec));
        if let Some(why) = &r.problem {
            let _ = writeln!(out, "{prefix} <unreadable record: {why}>");
            continue;
        }
        for line in r.text.split('\n') {
            let _ = writeln!(out, "{prefix} {line}");
        }
    }
    out
}

/// One record in `--json`; the key names are a stable interface for scripts.
#[derive(Serialize)]
struct JsonRecord<'a> {
    seq: u64,
    timestamp_ns: u64,
    time: String,
    level: u8,
    level_name: &'a str,
    facility: u8,
    caller: String,
    text: &'a str,
    subsystem: Option<&'a str>,
    device: Option<&'a str>,
    error: Option<&'a str>,
}

pub fn json(records: &[LogRecord]) -> Result<String, serde_json::Error> {
    let rows: Vec<JsonRecord> = records
        .iter()
        .map(|r| JsonRecord {
            seq: r.seq,
            timestamp_ns: r.ts_nsec,
            time: format!(
                "{}.{:06}",
                r.ts_nsec / 1_000_000_000,
                (r.ts_nsec % 1_000_000_000) / 1000
            ),
            level: r.level,
            level_name: LEVELS.get(r.level as usize).copied().unwrap_or("?"),
            facility: r.facility,
            caller: caller(r.caller_id),
            text: &r.text,
            subsystem: Some(r.subsystem.as_str()).filter(|s| !s.is_empty()),
            device: Some(r.device.as_str()).filter(|s| !s.is_empty()),
            error: r.problem.as_deref(),
        })
        .collect();
    serde_json::to_string_pretty(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ts: u64, text: &str) -> LogRecord {
        LogRecord {
            seq: 0,
            ts_nsec: ts,
            level: 3,
            facility: 0,
            flags: 0,
            caller_id: 0x8000_0001,
            text: text.into(),
            subsystem: String::new(),
            device: String::new(),
            problem: None,
        }
    }

    #[test]
    fn prefixes_every_line_like_the_console() {
        let out = text(&[rec(1_234_567_891, "a\nb")], false);
        assert_eq!(out, "[    1.234567] a\n[    1.234567] b\n");
        let out = text(&[rec(12_000_000_000_000, "x")], true);
        assert_eq!(out, "kern  :err   : [12000.000000] x\n");
    }

    #[test]
    fn levels_and_callers() {
        assert_eq!(parse_level("warning"), Ok(4));
        assert_eq!(parse_level("7"), Ok(7));
        assert!(parse_level("8").is_err() && parse_level("loud").is_err());
        assert_eq!(parse_seconds("1.5"), Ok(1_500_000_000));
        assert_eq!(parse_seconds("2"), Ok(2_000_000_000));
        assert_eq!(parse_seconds("0.000000001"), Ok(1));
        assert!(parse_seconds("1.2.3").is_err() && parse_seconds("-1").is_err());
        assert_eq!(
            (caller(0x8000_0001), caller(42)),
            ("C1".into(), "T42".into())
        );
    }
}
