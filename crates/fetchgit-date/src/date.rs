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

mod calendar;
pub use calendar::DateProblem;

/// The forms [`parse_date()`] accepts, as listed in every [`DateError`].
const ACCEPTED_DATE_FORMS: &str = "use Unix seconds (1671388622 or @1671388622), \
     ISO 8601 (2022-12-18T18:37:02Z, 2022-12-18 18:37:02 UTC, 2022-12-18), RFC 2822, \
     git's or date(1)'s format (Sun Dec 18 18:37:02 UTC 2022), Nix's lastModifiedDate (20221218183702), \
     or a relative form like '3 days ago'";

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
    /// A bare number below 100000000 (fewer than 9 digits), or with a sign, which git would
    /// read as parts of a calendar date or as a zone rather than as Unix seconds.
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
    #[error("invalid date '{}': out of range (years -9999 to 9999)", .input.escape_debug())]
    OutOfRange {
        /// The input as given.
        input: String,
    },
    /// The input is a calendar date that cannot be read without a guess, or does not exist.
    #[error("invalid date '{}': {problem}", .input.escape_debug())]
    Calendar {
        /// The input as given.
        input: String,
        /// What is wrong with it, and what to write instead.
        problem: DateProblem,
    },
}

/// Read `spec`, a date given on the command line, as Unix seconds. Relative forms count back
/// from `now`.
///
/// Leading and trailing whitespace is ignored. Accepted forms:
/// - Unix seconds: a bare number of at least 9 digits (`1671388622`), or `@` and any number
///   (`@1671388622`, `@0`, `@-86400`), optionally followed by an offset (`1671388622 +0200`)
///   which does not change the instant;
/// - Nix's `lastModifiedDate`, exactly 14 digits `YYYYMMDDHHMMSS` in UTC (`20221218183702`), as
///   `fetch` prints it;
/// - calendar dates, read token by token as git reads them (see below): ISO 8601 / RFC 3339
///   (`2022-12-18T18:37:02Z`, `2022-12-18T20:37:02+02:00`, `2022-12-18 20:37:02 +0200`,
///   `2022-12-18 18:37:02 UTC`), git's variants (`2022.12.18 18:37:02 +0000`,
///   `20221218T183702Z`, fractions of a second dropped), RFC 2822
///   (`Sun, 18 Dec 2022 18:37:02 +0000`), git's default format (`Sun Dec 18 18:37:02 2022 +0000`,
///   or without the zone), date(1)'s (`Sun Dec 18 18:37:02 UTC 2022`, also with `AM`/`PM`),
///   month names (`Dec 18 2022`, `18 Dec 2022`, `December 18, 2022 18:37`), and a date with
///   `noon` or `midnight` (`2022-12-18 noon`);
/// - relative forms: `now`, `today`, `yesterday`, or one or more `<count> <unit>` pairs with an
///   optional trailing `ago` (`3 days ago`, `2 weeks ago`, `1 day 12 hours ago`, `last month`),
///   separated by whitespace or dots (`2.weeks.ago`). A count is a decimal number, `one` to
///   `ten`, or `last` (one); a unit is `second`, `minute`, `hour`, `day`, `week`, `month` or
///   `year`, singular or plural. Seconds to weeks are fixed lengths; months and years step the
///   UTC calendar back, a day past the end of the shorter month rolling over into the next,
///   exactly as git does. These and only these set [`ParsedDate::clock_dependent`].
///
/// In a calendar date, as in git, `YYYY-MM-DD` (or with `.` or `/`) is a date and `HH:MM[:SS]` a
/// time; a month or weekday name may be cut to three letters (`Sept`, `Thu`); a 4-digit number
/// is the year and a 1- or 2-digit one the day of the month; a zone is `Z` or `z`, `±HH`,
/// `±HHMM`, `±HH:MM`, or a name from git's zone table (`UTC`, `GMT`, `EST`, `CEST`, `JST`, ...
/// with git's offsets); the order of the tokens does not matter, and a weekday given first is
/// ignored, as git ignores it. A time without a zone is UTC; a date without a time is UTC
/// midnight; `noon` is 12:00:00 and `midnight` 00:00:00 of the date.
///
/// ### Deviation
///
/// `git rev-list --before` reads its argument with `approxidate()`, which never fails and
/// depends on the environment. Where that reading is impure or a guess, we differ:
/// - A date-time without a zone is UTC; git uses the local zone (`TZ`). Both are the same when
///   git runs with `TZ=UTC`.
/// - A date without a time (`2022-12-18`, `Dec 18 2022`) is UTC **midnight**; git takes the
///   current local time of day on that date. `2022-12-18 noon` is noon of that date; git, when
///   its clock is before noon, takes noon of the day before (`date_time()` in `date.c`).
/// - Exactly 14 digits are Nix's `lastModifiedDate`. Git reads them as Unix seconds in a year
///   beyond its calendar (20221218183702 is in the year 642754) and takes the current time.
/// - A bare number below 100000000, or with a sign, is refused ([`DateError::AmbiguousNumber`]).
///   Git reads such digits as a day, month or year (`-5` is the 5th of the current month), or
///   ignores them and takes the current time (`12345`, and `20221218`, which is not a date to
///   it); we refuse rather than guess. `@N` is always Unix seconds here, for any `N`, where git
///   only reads `@N` with 9 or more digits (for `@0` it takes the current time).
/// - Any time from year -9999 to 9999 is read as written, and a year in a calendar date has
///   four digits. Git's calendar covers 1970 to 2099 only: outside it, git silently substitutes
///   (`4102444800` becomes the current time, `2100-01-01T00:00:00Z` the first of January of the
///   current year).
/// - Calendar dates are refused ([`DateError::Calendar`]) where git guesses: a numeric date that
///   does not start with its year (`06/05/2009`, which git reads as June 5 and `06.05.2009` as
///   May 6), a date without its year or day, a time, `noon` or `midnight` without a date
///   (which git places by its clock), a weekday that is not first (`last friday`, which git
///   counts back from the clock), a zone on a date without a time (git ignores it), a
///   day, time or offset that does not exist (git rolls `2022-02-30` over into March), any
///   token given twice, and the zone names CAT, PST, CST, CDT, AST, ADT and WAT: git reads them
///   with the offsets of its table, but date(1) prints them for other offsets too (`CST` is
///   -0600 to git and +0800 in China).
/// - Input that is none of the forms above is an error ([`DateError::Unrecognized`]). Git
///   ignores what it does not understand and reads `garbage` or the empty string as the
///   current time, and knows more approximations (`tea`, `yesterday noon`, `3 PM`, 2-digit
///   years): each of these depends on the clock or guesses.
/// - Relative forms are limited to the grammar above. Git takes more (`-3 days ago`,
///   `1 fortnight ago`, which it reads as the 1st of the current month), and counts months and
///   years in the local zone, so around a daylight saving change its `1 month ago` may be an
///   hour off ours.
pub fn parse_date(spec: &str, now: SystemTime) -> Result<ParsedDate, DateError> {
    let input = spec.trim();
    if input.is_empty() {
        return Err(DateError::Empty);
    }
    // One line of ASCII: git stops reading at a newline, and reads other bytes as separators.
    if !input.bytes().all(|b| b.is_ascii_graphic() || b == b' ' || b == b'\t') {
        return Err(DateError::Unrecognized { input: spec.into() });
    }
    let out_of_range = || DateError::OutOfRange { input: spec.into() };
    let absolute = |unix_seconds: i64| {
        time::OffsetDateTime::from_unix_timestamp(unix_seconds).map(|_| ParsedDate { unix_seconds, clock_dependent: false }).map_err(|_| out_of_range())
    };
    if let Some(seconds) = unix_seconds(spec, input)? {
        return absolute(seconds);
    }
    match relative_form(input) {
        Relative::Yes => {
            let now = utc(now).ok_or_else(out_of_range)?;
            let time = gix::date::parse(input, Some(now)).map_err(|_| out_of_range())?;
            Ok(ParsedDate { clock_dependent: true, ..absolute(time.seconds)? })
        }
        Relative::CountTooLarge => Err(out_of_range()),
        Relative::No => match calendar::parse(input) {
            Ok(date) => absolute(date.unix_seconds),
            Err(calendar::Refusal::Unrecognized) => Err(DateError::Unrecognized { input: spec.into() }),
            Err(calendar::Refusal::OutOfRange) => Err(out_of_range()),
            Err(calendar::Refusal::Problem(problem)) => Err(DateError::Calendar { input: spec.into(), problem }),
        },
    }
}

/// Read Unix seconds: a bare number (optionally followed by an offset, as in a commit header)
/// that git would read as Unix seconds, or `@` and any number. `None` for other input; an error
/// for a bare number git would read otherwise, and one too large to be any.
fn unix_seconds(spec: &str, input: &str) -> Result<Option<i64>, DateError> {
    let (explicit, body) = match input.strip_prefix('@') {
        Some(rest) => (true, rest),
        None => (false, input),
    };
    let mut words = body.split([' ', '\t']).filter(|w| !w.is_empty());
    let number = words.next().unwrap_or_default();
    let offset = words.next();
    let is_offset = |o: &str| {
        let digits = o.strip_prefix(['+', '-']).unwrap_or_default();
        digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()) && digits[..2] < *"24" && digits[2..] < *"60"
    };
    if body.starts_with([' ', '\t']) || words.next().is_some() || !is_integer(number) || !offset.is_none_or(is_offset) {
        return Ok(None);
    }
    let ambiguous = || DateError::AmbiguousNumber { input: spec.into(), number: number.trim_start_matches('+').into() };
    if explicit {
        return number.parse().map(Some).map_err(|_| DateError::OutOfRange { input: spec.into() });
    }
    if number.starts_with(['+', '-']) {
        return Err(ambiguous());
    }
    if number.len() == 14 && offset.is_none() {
        return Ok(None); // Nix's lastModifiedDate, a calendar date
    }
    match number.parse::<i64>() {
        Ok(seconds) if seconds >= GIT_MIN_BARE_SECONDS => Ok(Some(seconds)),
        Ok(_) => Err(ambiguous()),
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
    let words: Vec<&str> = input.split([' ', '\t', '.']).filter(|w| !w.is_empty()).collect();
    if let [word] = words.as_slice() {
        if ["now", "today", "yesterday"].iter().any(|w| word.eq_ignore_ascii_case(w)) {
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
        let known_unit = ["second", "minute", "hour", "day", "week", "month", "year"].iter().any(|u| unit.eq_ignore_ascii_case(u));
        let named_count = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "last"].iter().any(|n| count.eq_ignore_ascii_case(n));
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
        Ok(after) => Zoned::UNIX_EPOCH.checked_add(Duration::from_secs(after.as_secs())).ok(),
        Err(before) => {
            let before = before.duration();
            let secs = before.as_secs() + u64::from(before.subsec_nanos() > 0);
            Zoned::UNIX_EPOCH.checked_sub(Duration::from_secs(secs)).ok()
        }
    }
}

/// A repeating boundary length, > 0.
///
/// Written as a number of seconds (`86400`) or a number with one unit: `s`, `m` (minutes), `h`,
/// `d` or `w` (`30s`, `90m`, `12h`, `1d`, `1w`). At most `i64::MAX` seconds, so that
/// [`Interval::boundary()`] can work on any Unix time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
const ACCEPTED_INTERVAL_FORMS: &str = "use seconds (86400) or a number with a unit s, m, h, d or w (30s, 90m, 12h, 1d, 1w)";

/// Units of an [`Interval`], largest first, so that [`Display`](fmt::Display) picks the largest
/// one that divides the length.
const INTERVAL_UNITS: [(char, u64); 5] = [('w', 7 * 86400), ('d', 86400), ('h', 3600), ('m', 60), ('s', 1)];

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
        NonZeroU64::new(seconds).map(Interval).ok_or_else(|| IntervalError::Zero { input: input() })
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
        let interval = i64::try_from(self.seconds()).expect("parsing keeps an interval within i64::MAX");
        t.checked_sub(t.rem_euclid(interval)).unwrap_or(i64::MIN)
    }
}

impl fmt::Display for Interval {
    /// The largest unit that divides the length: `86400` is shown as `1d`, `5400` as `90m`.
    /// The result parses back to the same interval.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.seconds();
        let (unit, factor) = INTERVAL_UNITS.into_iter().find(|(_, factor)| seconds.is_multiple_of(*factor)).expect("every length is a multiple of one second");
        write!(f, "{}{unit}", seconds / factor)
    }
}

#[cfg(test)]
mod tests;
