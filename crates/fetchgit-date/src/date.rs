//! Points in time and repeating boundaries given on the command line.
//!
//! [`parse_date()`] reads a `--date` the way `git rev-list --before=<date>` would, as far as
//! that reading is pure, and refuses what git would have to guess at. [`Interval`] is a repeating
//! boundary length, and [`Interval::boundary()`] the last boundary at or before a time.
//!
//! ```
//! use std::time::SystemTime;
//! use fetchgit_date::date::{parse_date, Interval};
//!
//! let date = parse_date("2022-12-18T20:37:02+02:00", SystemTime::now()).expect("valid date");
//! assert_eq!(date.unix_seconds, 1671388622);
//! assert!(!date.clock_dependent);
//!
//! let day: Interval = "1d".parse().expect("valid interval");
//! assert_eq!(day.boundary(1671388622), 1671321600);
//! ```

use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gix::date::Zoned;

/// The forms [`parse_date()`] accepts, as listed in every [`DateError`].
const ACCEPTED_DATE_FORMS: &str = "use Unix seconds (1671388622 or @1671388622), \
     ISO 8601 (2022-12-18T18:37:02Z, 2022-12-18), RFC 2822, or a relative form like '3 days ago'";

/// Git reads a bare number as Unix seconds only from this value on (`match_digit()` in git's
/// `date.c`); below it, the digits are taken as parts of a calendar date.
const GIT_MIN_BARE_SECONDS: i64 = 100_000_000;

/// A point in time given on the command line, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedDate {
    /// Seconds since 1970-01-01T00:00:00Z; negative before it.
    pub unix_seconds: i64,
    /// true for forms whose value depends on the clock ("3 days ago", "yesterday", "now")
    pub clock_dependent: bool,
}

/// The error returned by [`parse_date()`]. Each message is one line naming the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// The input was empty or only whitespace.
    #[error("empty date: {ACCEPTED_DATE_FORMS}")]
    Empty,
    /// The input is none of the accepted forms.
    #[error("invalid date '{}': {ACCEPTED_DATE_FORMS}", .input.escape_debug())]
    Unrecognized {
        /// The input as given.
        input: String,
    },
    /// A bare number below 100000000 (fewer than 9 digits) or a negative bare number, which
    /// git would read as parts of a calendar date rather than as Unix seconds.
    #[error(
        "invalid date '{}': a bare number is Unix seconds only from 9 digits ({GIT_MIN_BARE_SECONDS}) on, \
         as in git; write '@{}' for Unix seconds or YYYY-MM-DD for a day",
        .input.escape_debug(), .number.escape_debug()
    )]
    AmbiguousNumber {
        /// The input as given.
        input: String,
        /// The number in it.
        number: String,
    },
    /// The input has an accepted form, but its value is not representable.
    #[error("invalid date '{}': out of range (Unix seconds must fit in a signed 64-bit integer, years in -9999..=9999)", .input.escape_debug())]
    OutOfRange {
        /// The input as given.
        input: String,
    },
}

/// Read `spec`, a date given on the command line, as Unix seconds. Relative forms count back
/// from `now`.
///
/// Leading and trailing whitespace is ignored. Accepted forms, all read by [`gix::date::parse()`]:
/// - Unix seconds: a bare number of at least 9 digits (`1671388622`), or `@` and any number
///   (`@1671388622`, `@0`, `@-86400`), optionally followed by an offset (`1671388622 +0200`)
///   which does not change the instant;
/// - ISO 8601 / RFC 3339 with `Z` or an offset, `T` or a space between date and time
///   (`2022-12-18T18:37:02Z`, `2022-12-18T20:37:02+02:00`, `2022-12-18 20:37:02 +0200`);
///   git's variants `2022.12.18 18:37:02 +0000` and `20221218T183702Z` too, with fractions of a
///   second dropped; a time without a zone and a bare date (`2022-12-18T18:37:02`,
///   `2022-12-18`) are UTC;
/// - RFC 2822 (`Sun, 18 Dec 2022 18:37:02 +0000`) and git's default format
///   (`Sun Dec 18 18:37:02 2022 +0000`); a wrong weekday is ignored, as git does;
/// - relative forms: `now`, `today`, `yesterday`, or one or more `<count> <unit>` pairs with an
///   optional trailing `ago` (`3 days ago`, `2 weeks ago`, `1 day 12 hours ago`, `last month`),
///   separated by whitespace. A count is a decimal number, `one` to `ten`, or `last` (one); a
///   unit is `second`, `minute`, `hour`, `day`, `week`, `month` or `year`, singular or plural.
///   Seconds to weeks are fixed lengths; months and years step the UTC calendar back, a day
///   past the end of the shorter month rolling over into the next, exactly as git does. These
///   and only these set [`ParsedDate::clock_dependent`].
///
/// ### Deviation
///
/// `git rev-list --before` reads its argument with `approxidate()`, which never fails and
/// depends on the environment. Where that reading is impure or a guess, we differ:
/// - A date-time without a zone is UTC; git uses the local zone (`TZ`). A bare `YYYY-MM-DD` is
///   UTC midnight; git takes the current local time of day on that date. Both are the same
///   in git only when run with `TZ=UTC` (and, for a bare date, at midnight).
/// - A bare number below 100000000, or negative, is refused ([`DateError::AmbiguousNumber`]).
///   Git reads such digits as a day, month or year (`-5` is the 5th of the current month), or
///   ignores them and takes the current time (`12345`, and `20221218`, which is not a date to
///   it); we refuse rather than guess. `@N` is always Unix seconds here, for any `N`, where git only reads `@N` with 9 or
///   more digits (for `@0` it takes the current time).
/// - Any time from year -9999 to 9999 is read as written. Git's calendar covers 1970 to 2099
///   only: outside it, git silently substitutes (`4102444800` becomes the current time,
///   `2100-01-01T00:00:00Z` the first of January of the current year).
/// - Input that is none of the forms above is an error ([`DateError::Unrecognized`]). Git
///   ignores what it does not understand and reads `garbage` or the empty string as the
///   current time, and knows more approximations (`last friday`, `noon`, `tea`, time zone
///   names after ISO dates): each of these depends on the clock or guesses.
/// - Relative forms are limited to the grammar above. Git takes more (`3.days.ago`,
///   `-3 days ago`, `1 fortnight ago`, which it reads as the 1st of the current month), and counts months and
///   years in the local zone, so around a daylight saving change its `1 month ago` may be an
///   hour off ours.
pub fn parse_date(spec: &str, now: SystemTime) -> Result<ParsedDate, DateError> {
    let input = spec.trim();
    if input.is_empty() {
        return Err(DateError::Empty);
    }
    check_bare_number(spec, input)?;
    // gix consults `now` only for relative forms, so whatever it reads without one is pure.
    if let Ok(time) = gix::date::parse(input, None) {
        return Ok(ParsedDate {
            unix_seconds: time.seconds,
            clock_dependent: false,
        });
    }
    let out_of_range = || DateError::OutOfRange { input: spec.into() };
    match relative_form(input) {
        Relative::No => {
            if let Some(rest) = input.strip_prefix('@') {
                if is_integer(rest) {
                    return Err(out_of_range());
                }
            }
            Err(DateError::Unrecognized { input: spec.into() })
        }
        Relative::CountTooLarge => Err(out_of_range()),
        Relative::Yes => {
            let now = utc(now).ok_or_else(out_of_range)?;
            let time = gix::date::parse(input, Some(now)).map_err(|_| out_of_range())?;
            Ok(ParsedDate {
                unix_seconds: time.seconds,
                clock_dependent: true,
            })
        }
    }
}

/// Refuse a bare number (optionally followed by an offset, as in a commit header) that git
/// would not read as Unix seconds, and one too large to be any.
fn check_bare_number(spec: &str, input: &str) -> Result<(), DateError> {
    let mut words = input.split_ascii_whitespace();
    let number = words.next().expect("input is not empty");
    let is_header_form = match (words.next(), words.next()) {
        (None, _) => true,
        (Some(offset), None) => {
            offset.len() > 1
                && offset.starts_with(['+', '-'])
                && offset[1..].bytes().all(|b| b.is_ascii_digit())
        }
        (Some(_), Some(_)) => false,
    };
    if !is_header_form || !is_integer(number) {
        return Ok(());
    }
    match number.parse::<i64>() {
        Ok(seconds) if seconds >= GIT_MIN_BARE_SECONDS => Ok(()),
        Ok(_) => Err(DateError::AmbiguousNumber {
            input: spec.into(),
            number: number.into(),
        }),
        Err(_) if number.starts_with('-') => Err(DateError::AmbiguousNumber {
            input: spec.into(),
            number: number.into(),
        }),
        Err(_) => Err(DateError::OutOfRange { input: spec.into() }),
    }
}

/// `s` is decimal digits with an optional sign.
fn is_integer(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Whether an input is one of the relative forms we accept.
enum Relative {
    /// It is not.
    No,
    /// It is.
    Yes,
    /// It would be, but a count does not fit in an `i64`, which gix would skip silently.
    CountTooLarge,
}

/// Check `input` against the relative grammar documented on [`parse_date()`]. gix's relative
/// parser is laxer (any unknown unit before `ago` counts as seconds), so it only computes
/// what this admits.
fn relative_form(input: &str) -> Relative {
    let words: Vec<&str> = input.split_ascii_whitespace().collect();
    if let [word] = words.as_slice() {
        if ["now", "today", "yesterday"]
            .iter()
            .any(|w| word.eq_ignore_ascii_case(w))
        {
            return Relative::Yes;
        }
    }
    let pairs = match words.split_last() {
        Some((last, rest)) if last.eq_ignore_ascii_case("ago") => rest,
        _ => &words[..],
    };
    if pairs.is_empty() || pairs.len() % 2 != 0 {
        return Relative::No;
    }
    let mut too_large = false;
    for pair in pairs.chunks_exact(2) {
        let (count, unit) = (pair[0], pair[1]);
        let unit = unit.strip_suffix(['s', 'S']).unwrap_or(unit);
        let known_unit = ["second", "minute", "hour", "day", "week", "month", "year"]
            .iter()
            .any(|u| unit.eq_ignore_ascii_case(u));
        let named_count = [
            "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "last",
        ]
        .iter()
        .any(|n| count.eq_ignore_ascii_case(n));
        let digits = !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit());
        if !known_unit || !(named_count || digits) {
            return Relative::No;
        }
        too_large |= digits && count.parse::<i64>().is_err();
    }
    if too_large {
        Relative::CountTooLarge
    } else {
        Relative::Yes
    }
}

/// `now` in UTC, truncated to whole seconds as git's clock is. `None` if out of jiff's range.
fn utc(now: SystemTime) -> Option<Zoned> {
    match now.duration_since(UNIX_EPOCH) {
        Ok(after) => Zoned::UNIX_EPOCH
            .checked_add(Duration::from_secs(after.as_secs()))
            .ok(),
        Err(before) => {
            let before = before.duration();
            let secs = before.as_secs() + u64::from(before.subsec_nanos() > 0);
            Zoned::UNIX_EPOCH
                .checked_sub(Duration::from_secs(secs))
                .ok()
        }
    }
}

/// A repeating boundary length, > 0.
///
/// Written as a number of seconds (`86400`) or a number with one unit: `s`, `m` (minutes), `h`,
/// `d` or `w` (`30s`, `90m`, `12h`, `1d`, `1w`). At most `i64::MAX` seconds, so that
/// [`Interval::boundary()`] can work on any Unix time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval(NonZeroU64);

/// The error returned when parsing an [`Interval`]. Each message is one line naming the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntervalError {
    /// The input was empty.
    #[error("empty interval: {ACCEPTED_INTERVAL_FORMS}")]
    Empty,
    /// The input is not a number with an optional unit.
    #[error("invalid interval '{}': {ACCEPTED_INTERVAL_FORMS}", .input.escape_debug())]
    Invalid {
        /// The input as given.
        input: String,
    },
    /// The input is negative.
    #[error("invalid interval '{}': it must be positive; {ACCEPTED_INTERVAL_FORMS}", .input.escape_debug())]
    Negative {
        /// The input as given.
        input: String,
    },
    /// The input is zero.
    #[error("invalid interval '{}': it must be at least one second; {ACCEPTED_INTERVAL_FORMS}", .input.escape_debug())]
    Zero {
        /// The input as given.
        input: String,
    },
    /// The input is more than `i64::MAX` seconds.
    #[error("invalid interval '{}': longer than the maximum of {} seconds", .input.escape_debug(), i64::MAX)]
    Overflow {
        /// The input as given.
        input: String,
    },
}

/// The forms [`Interval`] accepts, as listed in [`IntervalError`]s.
const ACCEPTED_INTERVAL_FORMS: &str =
    "use seconds (86400) or a number with a unit s, m, h, d or w (30s, 90m, 12h, 1d, 1w)";

/// Units of an [`Interval`], largest first, so that [`Display`](fmt::Display) picks the largest
/// one that divides the length.
const INTERVAL_UNITS: [(char, u64); 5] = [
    ('w', 7 * 86400),
    ('d', 86400),
    ('h', 3600),
    ('m', 60),
    ('s', 1),
];

impl FromStr for Interval {
    type Err = IntervalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let input = || s.to_owned();
        if s.is_empty() {
            return Err(IntervalError::Empty);
        }
        if s.starts_with('-') {
            return Err(IntervalError::Negative { input: input() });
        }
        let (digits, factor) = match INTERVAL_UNITS.iter().find(|(unit, _)| s.ends_with(*unit)) {
            Some(&(unit, factor)) => (&s[..s.len() - unit.len_utf8()], factor),
            None => (s, 1),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IntervalError::Invalid { input: input() });
        }
        let seconds = digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(factor))
            .filter(|&n| i64::try_from(n).is_ok())
            .ok_or_else(|| IntervalError::Overflow { input: input() })?;
        NonZeroU64::new(seconds)
            .map(Interval)
            .ok_or_else(|| IntervalError::Zero { input: input() })
    }
}

impl Interval {
    /// The length in seconds, at least 1 and at most `i64::MAX`.
    pub fn seconds(&self) -> u64 {
        self.0.get()
    }

    /// t - (t mod interval), flooring correctly for negative t too
    ///
    /// The result is the last multiple of the interval at or before `t`, counted from the Unix
    /// epoch: `1d` gives UTC midnight. When `t` is so close to `i64::MIN` that this multiple
    /// is not representable, the result is `i64::MIN`, still at or before `t`.
    pub fn boundary(&self, t: i64) -> i64 {
        let interval =
            i64::try_from(self.seconds()).expect("parsing keeps an interval within i64::MAX");
        t.checked_sub(t.rem_euclid(interval)).unwrap_or(i64::MIN)
    }
}

impl fmt::Display for Interval {
    /// The largest unit that divides the length: `86400` is shown as `1d`, `5400` as `90m`.
    /// The result parses back to the same interval.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.seconds();
        let (unit, factor) = INTERVAL_UNITS
            .into_iter()
            .find(|(_, factor)| seconds.is_multiple_of(*factor))
            .expect("every length is a multiple of one second");
        write!(f, "{}{unit}", seconds / factor)
    }
}

#[cfg(test)]
mod tests;
