//! Dates written with a calendar: ISO 8601, RFC 2822, git's and date(1)'s formats, month names,
//! zone names, `noon` and `midnight`, and Nix's `lastModifiedDate`.
//!
//! Each token means what it means to git's `parse_date_basic()` and `approxidate()` (`date.c`):
//! a `YYYY-MM-DD`, `YYYY.MM.DD` or `YYYY/MM/DD` group is a date, `HH:MM[:SS]` a time, a month or
//! weekday name may be abbreviated to three letters, a name from git's zone table or `±HH[[:]MM]`
//! is a zone, a 4-digit number is a year and a 1- or 2-digit one the day of the month. As in git
//! the order of the tokens does not matter. Unlike git, every token must be understood, none may
//! be given twice, and a token that git reads by guessing (a day and month without a year first,
//! a weekday counting back from the clock, a zone name that means several offsets) is refused
//! with a [`DateProblem`] saying what to write instead.

use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

/// A date read by [`parse()`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CalendarDate {
    pub(super) unix_seconds: i64,
    pub(super) time_of_day: TimeOfDay,
}

/// Where the time of day of a [`CalendarDate`] came from. Git agrees on the instant only for
/// some of these (see the `### Deviation` section of [`super::parse_date()`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TimeOfDay {
    /// It was written (`12:00:00`, or the last six digits of a `lastModifiedDate`).
    Written,
    /// `noon`: 12:00:00.
    Noon,
    /// `midnight`: 00:00:00.
    Midnight,
    /// None was written: 00:00:00.
    Unwritten,
}

/// Why a calendar date was refused, with what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateProblem {
    /// A numeric date that does not start with a 4-digit year (`06/05/2009`, `18.12.2022`).
    #[error("a numeric date must start with its 4-digit year, as the order of day and month differs from place to place: write {suggestion}")]
    DayMonthOrder {
        /// The year-first spellings of the readings that exist, or the general form.
        suggestion: String,
    },
    /// Some of day, month and year are missing (`Dec 19`, `12-18`).
    #[error("a date needs its day, month and 4-digit year: write 2022-12-19 or Dec 19 2022")]
    IncompleteDate,
    /// A time of day, `noon` or `midnight` without a date, which git places relative to the clock.
    #[error("{what} needs a date, which git would take from the clock: write one, as in '2022-12-19 {example}'")]
    NoDate {
        /// What was given: `'noon'`, `'midnight'` or `a time of day`.
        what: String,
        /// How to write it with a date.
        example: &'static str,
    },
    /// A weekday without a date (`last friday`, `friday`), which git counts back from the clock.
    #[error("'{word}' counts back from the clock to a weekday: write the date (2022-12-16) or a count ('3 days ago')")]
    Weekday {
        /// The weekday as given.
        word: String,
    },
    /// A weekday after the start (`Dec 19 2022 Monday`), which git may count back from.
    #[error("a weekday is only read at the start, where it is ignored: write it first ('Mon, 19 Dec 2022') or leave it out")]
    WeekdayPlacement,
    /// A zone without a time of day, which git ignores.
    #[error("a zone only applies to a time of day, and git ignores it on a date alone: add the time ('2022-12-19 00:00 {zone}') or leave the zone out (a date alone is UTC midnight)")]
    ZoneWithoutTime {
        /// The zone as given.
        zone: String,
    },
    /// A zone name from git's table that date(1) also prints for other offsets.
    #[error("the zone name '{name}' is ambiguous: git reads it as {git_offset}, but date(1) also prints it for {other_offsets}: write the offset instead")]
    AmbiguousZone {
        /// The name as given.
        name: String,
        /// The offset git's table gives it.
        git_offset: &'static str,
        /// The offsets tzdata uses the name for as well.
        other_offsets: &'static str,
    },
    /// `AM` or `PM` without a time from 1:00 to 12:59 before it.
    #[error("'{word}' needs a time from 1:00 to 12:59 before it, as in '12:00:00 {word}'")]
    Meridiem {
        /// `AM` or `PM` as given.
        word: String,
    },
    /// A 1- or 2-digit number after the day of the month, where git guesses a century.
    #[error("a year needs its four digits, git guesses the century of a shorter one: write it in full (2022)")]
    ShortYear,
    /// A part of the date or time given twice (`2022-12-19 19`, `12:00 noon`, `+0100 CET`).
    #[error("{what} is given twice: give it once")]
    Twice {
        /// `the date`, `the day`, `the time of day`, `the zone`, ...
        what: &'static str,
    },
    /// A day, month, time or offset that does not exist (`2022-02-30`, `24:00`, `+25:00`).
    #[error("there is no {what}")]
    Nonexistent {
        /// What, e.g. `day 30 in February 2022`.
        what: String,
    },
}

/// How [`parse()`] fails: a [`DateProblem`], or the two outcomes [`super::DateError`] has its
/// own variants for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Not a calendar date at all (an unknown word or character, a number of no known length).
    Unrecognized,
    /// A year beyond 9999.
    OutOfRange,
    /// A calendar date that cannot be read without a guess.
    Problem(DateProblem),
}

impl From<DateProblem> for Refusal {
    fn from(problem: DateProblem) -> Self {
        Refusal::Problem(problem)
    }
}

/// Git's `timezone_names` (`date.c`), each with the offset git gives it: the table's hours plus
/// one for a summer zone ("This is bogus, but we like summer").
pub(super) const GIT_ZONE_NAMES: [(&str, i8); 44] = [
    ("IDLW", -12),
    ("NT", -11),
    ("CAT", -10),
    ("HST", -10),
    ("HDT", -9),
    ("YST", -9),
    ("YDT", -8),
    ("PST", -8),
    ("PDT", -7),
    ("MST", -7),
    ("MDT", -6),
    ("CST", -6),
    ("CDT", -5),
    ("EST", -5),
    ("EDT", -4),
    ("AST", -3),
    ("ADT", -2),
    ("WAT", -1),
    ("GMT", 0),
    ("UTC", 0),
    ("Z", 0),
    ("WET", 0),
    ("BST", 1),
    ("CET", 1),
    ("MET", 1),
    ("MEWT", 1),
    ("MEST", 2),
    ("CEST", 2),
    ("MESZ", 2),
    ("FWT", 1),
    ("FST", 2),
    ("EET", 2),
    ("EEST", 3),
    ("WAST", 7),
    ("WADT", 8),
    ("CCT", 8),
    ("JST", 9),
    ("EAST", 10),
    ("EADT", 11),
    ("GST", 10),
    ("NZT", 12),
    ("NZST", 12),
    ("NZDT", 13),
    ("IDLE", 12),
];

/// The names of [`GIT_ZONE_NAMES`] that date(1) prints, with tzdata 2025b, for another offset than
/// git's somewhere since 2000 (`TZ=Asia/Shanghai date` prints `CST` for +0800, which git reads
/// as -0600): git's offset and the others, in the spelling of [`DateProblem::AmbiguousZone`].
pub(super) const AMBIGUOUS_ZONE_NAMES: [(&str, &str, &str); 7] = [
    ("CAT", "-1000", "+0200 (Central Africa)"),
    ("PST", "-0800", "+0800 (Philippines)"),
    ("CST", "-0600", "+0800 (China) and -0500 (Cuba)"),
    ("CDT", "-0500", "-0400 (Cuba)"),
    ("AST", "-0300", "-0400 (Atlantic)"),
    ("ADT", "-0200", "-0300 (Atlantic)"),
    ("WAT", "-0100", "+0100 (West Africa)"),
];

/// As in git's `date.c`: a word names a month or weekday when it is at least three letters long
/// and a prefix of one of these, in any case.
const MONTH_NAMES: [&str; 12] = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const WEEKDAY_NAMES: [&str; 7] = ["Sundays", "Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays"];

/// Read `input` (trimmed, ASCII) as a calendar date.
pub(super) fn parse(input: &str) -> Result<CalendarDate, Refusal> {
    if input.len() == 14 && input.bytes().all(|b| b.is_ascii_digit()) {
        return last_modified_date(input);
    }
    let mut reader =
        Reader { s: input.as_bytes(), pos: 0, fields: Fields::default(), previous: Previous::Other, adjacent: false, items: 0, unknown: false, problem: None };
    reader.read_all();
    reader.finish()
}

/// Nix's `lastModifiedDate`, `YYYYMMDDHHMMSS` in UTC.
fn last_modified_date(digits: &str) -> Result<CalendarDate, Refusal> {
    let field = |range: std::ops::Range<usize>| -> u32 { digits[range].parse().expect("the caller checked for 14 ASCII digits") };
    let fields = Fields {
        year: Some(field(0..4)),
        month: Some(field(4..6)),
        day: Some(field(6..8)),
        time: Some((field(8..10), field(10..12), field(12..14))),
        ..Fields::default()
    };
    fields.instant().map(|unix_seconds| CalendarDate { unix_seconds, time_of_day: TimeOfDay::Written }).map_err(|problem| match problem {
        DateProblem::Nonexistent { what } => DateProblem::Nonexistent { what: format!("{what}: 14 digits are Nix's lastModifiedDate, YYYYMMDDHHMMSS") }.into(),
        other => other.into(),
    })
}

/// What has been read so far.
#[derive(Debug, Default)]
struct Fields {
    year: Option<u32>,
    month: Option<u32>,
    day: Option<u32>,
    /// Hour, minute, second.
    time: Option<(u32, u32, u32)>,
    /// `AM`/`PM` was applied to `time`.
    meridiem: bool,
    /// `noon` or `midnight`.
    special: Option<TimeOfDay>,
    /// Offset in seconds east of UTC, and the zone as given.
    zone: Option<(i32, String)>,
    /// The first weekday given, and whether it was the first item.
    weekday: Option<(String, bool)>,
}

impl Fields {
    fn date_known(&self) -> bool {
        self.year.is_some() && self.month.is_some() && self.day.is_some()
    }

    /// The instant the fields name, if they name one.
    fn instant(&self) -> Result<i64, DateProblem> {
        let nonexistent = |what: String| Err(DateProblem::Nonexistent { what });
        let (Some(year), Some(month), Some(day)) = (self.year, self.month, self.day) else {
            return Err(DateProblem::IncompleteDate);
        };
        let Some(month) = u8::try_from(month).ok().and_then(|m| Month::try_from(m).ok()) else {
            return nonexistent(format!("month {month}"));
        };
        let year = i32::try_from(year).expect("years have at most 4 digits");
        let date = match u8::try_from(day).ok().filter(|d| (1..=31).contains(d)) {
            None => return nonexistent(format!("day {day}")),
            Some(day) => match Date::from_calendar_date(year, month, day) {
                Ok(date) => date,
                Err(_) => return nonexistent(format!("day {day} in {month} {year}")),
            },
        };
        let (hour, minute, second) = match (self.time, self.special) {
            (Some(time), _) => time,
            (None, Some(TimeOfDay::Noon)) => (12, 0, 0),
            (None, _) => (0, 0, 0),
        };
        let field = |n: u32, max: u32, what: &str| match u8::try_from(n) {
            Ok(n) if u32::from(n) <= max => Ok(n),
            _ => Err(DateProblem::Nonexistent { what: format!("{what} {n}") }),
        };
        let time = Time::from_hms(field(hour, 23, "hour")?, field(minute, 59, "minute")?, field(second, 59, "second")?).expect("fields in range make a time");
        let offset = self.zone.as_ref().map_or(0, |(offset, _)| *offset);
        let offset = UtcOffset::from_whole_seconds(offset).expect("offset() keeps offsets within ±23:59");
        Ok(PrimitiveDateTime::new(date, time).assume_offset(offset).unix_timestamp())
    }
}

/// The kind of the item just read, for the tokens that must directly follow one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Previous {
    /// A year-first date (`2022-12-18`, `20221218`): a `T` and a time may follow.
    Date,
    /// The `T` of ISO 8601: a time must follow.
    T,
    /// A time; with seconds, a fraction may follow.
    Time {
        seconds: bool,
    },
    Other,
}

struct Reader<'a> {
    s: &'a [u8],
    pos: usize,
    fields: Fields,
    previous: Previous,
    /// Nothing separates the item about to be read from the previous one.
    adjacent: bool,
    /// Items read so far.
    items: usize,
    /// Something not understood was seen.
    unknown: bool,
    /// The first problem seen.
    problem: Option<Refusal>,
}

impl Reader<'_> {
    fn peek(&self, offset: usize) -> Option<u8> {
        self.s.get(self.pos + offset).copied()
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &str {
        let start = self.pos;
        while self.peek(0).is_some_and(&f) {
            self.pos += 1;
        }
        std::str::from_utf8(&self.s[start..self.pos]).expect("the input is ASCII")
    }

    fn digits(&mut self) -> String {
        self.take_while(|b| b.is_ascii_digit()).to_owned()
    }

    fn problem(&mut self, problem: impl Into<Refusal>) {
        self.problem.get_or_insert(problem.into());
    }

    fn read_all(&mut self) {
        while let Some(c) = self.peek(0) {
            if matches!(c, b' ' | b'\t' | b',') {
                self.pos += 1;
                self.adjacent = false;
                continue;
            }
            let next_is_digit = self.peek(1).is_some_and(|b| b.is_ascii_digit());
            let previous = if c.is_ascii_digit() {
                self.numbers()
            } else if c.is_ascii_alphabetic() {
                self.word()
            } else if matches!(c, b'+' | b'-') && next_is_digit {
                self.offset()
            } else if c == b'.' && next_is_digit && self.adjacent && self.previous == (Previous::Time { seconds: true }) && self.fields.date_known() {
                // Fractions of a second are dropped, as git drops them after a full date.
                self.pos += 1;
                self.digits();
                Previous::Other
            } else {
                self.pos += 1;
                self.unknown = true;
                Previous::Other
            };
            self.previous = previous;
            self.adjacent = true;
            self.items += 1;
        }
    }

    /// A number, or up to three joined by one of `:-./`, as git's `match_multi_number()` reads them.
    fn numbers(&mut self) -> Previous {
        let after_t = self.adjacent && self.previous == Previous::T;
        // After the `T` only a time may follow, which a zone such as `-0500` may end.
        let separators: &[u8] = if after_t { b":" } else { b":-./" };
        let mut numbers = vec![self.digits()];
        let mut separator = None;
        while numbers.len() < 3 {
            match (self.peek(0), self.peek(1)) {
                (Some(sep), Some(d)) if separators.contains(&sep) && d.is_ascii_digit() && separator.is_none_or(|s| s == sep) => {
                    separator = Some(sep);
                    self.pos += 1;
                    numbers.push(self.digits());
                }
                _ => break,
            }
        }
        match separator {
            Some(b':') => self.time(&numbers),
            _ if after_t => match numbers.as_slice() {
                [hhmmss] if hhmmss.len() == 6 => {
                    let field = |i: usize| hhmmss[i..i + 2].parse().expect("digits");
                    self.set_time((field(0), field(2), field(4)));
                    Previous::Time { seconds: true }
                }
                _ => self.unknown(),
            },
            Some(_) => self.date(&numbers),
            None => self.lone_number(&numbers[0]),
        }
    }

    /// `HH:MM` or `HH:MM:SS`.
    fn time(&mut self, numbers: &[String]) -> Previous {
        let well_formed = (1..=2).contains(&numbers[0].len()) && numbers[1..].iter().all(|n| n.len() == 2);
        if !well_formed {
            return self.unknown();
        }
        let n = |i: usize| numbers.get(i).map_or(0, |s| s.parse().expect("1 or 2 digits"));
        self.set_time((n(0), n(1), n(2)));
        Previous::Time { seconds: numbers.len() == 3 }
    }

    fn set_time(&mut self, time: (u32, u32, u32)) {
        if self.fields.time.is_some() {
            self.problem(DateProblem::Twice { what: "the time of day" });
        }
        self.fields.time = Some(time);
    }

    /// Numbers joined by `-`, `.` or `/`: a date only when it starts with a 4-digit year.
    fn date(&mut self, numbers: &[String]) -> Previous {
        let short = |n: &String| (1..=2).contains(&n.len());
        match numbers {
            [year, month, day] if year.len() == 4 && short(month) && short(day) => {
                let n = |s: &String| s.parse().expect("at most 4 digits");
                self.set_date(n(year), n(month), n(day));
                Previous::Date
            }
            [year, month, day] if year.len() > 4 && short(month) && short(day) => {
                self.problem(Refusal::OutOfRange);
                Previous::Date
            }
            [first, second, year] if short(first) && short(second) && year.len() == 4 => {
                let n = |s: &String| s.parse().expect("at most 4 digits");
                let suggestion = day_month_readings(n(year), n(first), n(second));
                self.problem(DateProblem::DayMonthOrder { suggestion });
                Previous::Other
            }
            [_, _, _] if numbers.iter().all(short) => {
                self.problem(DateProblem::DayMonthOrder { suggestion: "YYYY-MM-DD, with all four digits of the year".into() });
                Previous::Other
            }
            [_, _] if numbers.iter().all(|n| n.len() <= 4) => {
                self.problem(DateProblem::IncompleteDate);
                Previous::Other
            }
            _ => self.unknown(),
        }
    }

    fn set_date(&mut self, year: u32, month: u32, day: u32) {
        let f = &self.fields;
        if f.year.is_some() || f.month.is_some() || f.day.is_some() {
            self.problem(DateProblem::Twice { what: "the date" });
        }
        self.fields.year = Some(year);
        self.fields.month = Some(month);
        self.fields.day = Some(day);
    }

    /// A number on its own: a compact date, a year or a day of the month.
    fn lone_number(&mut self, digits: &str) -> Previous {
        let n = || digits.parse::<u32>().expect("at most 8 digits");
        let t_follows = self.peek(0) == Some(b'T') && self.peek(1).is_some_and(|b| b.is_ascii_digit());
        match digits.len() {
            8 if t_follows => {
                let value = n();
                self.set_date(value / 10000, value / 100 % 100, value % 100);
                Previous::Date
            }
            4 => {
                if self.fields.year.is_some() {
                    self.problem(DateProblem::Twice { what: "the year" });
                }
                self.fields.year = Some(n());
                Previous::Other
            }
            1 | 2 => {
                match (self.fields.day, self.fields.year) {
                    (Some(_), None) => self.problem(DateProblem::ShortYear),
                    (Some(_), Some(_)) => self.problem(DateProblem::Twice { what: "the day of the month" }),
                    (None, _) => {}
                }
                self.fields.day = Some(n());
                Previous::Other
            }
            _ => self.unknown(),
        }
    }

    /// `±HH`, `±HHMM` or `±HH:MM`, as git's `match_tz()` reads them.
    fn offset(&mut self) -> Previous {
        let start = self.pos;
        let sign = if self.s[start] == b'-' { -1 } else { 1 };
        self.pos += 1;
        let hours_digits = self.digits();
        let (hours, minutes) = match hours_digits.len() {
            4 => (hours_digits[..2].to_owned(), hours_digits[2..].to_owned()),
            2 if self.peek(0) == Some(b':') && self.peek(1).is_some_and(|b| b.is_ascii_digit()) => {
                self.pos += 1;
                let minutes = self.digits();
                if minutes.len() != 2 {
                    return self.unknown();
                }
                (hours_digits, minutes)
            }
            2 => (hours_digits, "00".to_owned()),
            _ => return self.unknown(),
        };
        let written = std::str::from_utf8(&self.s[start..self.pos]).expect("the input is ASCII").to_owned();
        let hours: i32 = hours.parse().expect("2 digits");
        let minutes: i32 = minutes.parse().expect("2 digits");
        if hours > 23 || minutes > 59 {
            self.problem(DateProblem::Nonexistent { what: format!("offset {written}: git reads offsets up to ±23:59") });
        } else {
            self.set_zone(sign * (hours * 3600 + minutes * 60), written);
        }
        Previous::Other
    }

    fn set_zone(&mut self, offset: i32, written: String) {
        if self.fields.zone.is_some() {
            self.problem(DateProblem::Twice { what: "the zone" });
        }
        self.fields.zone = Some((offset, written));
    }

    /// A run of letters: the `T` of ISO 8601, a month, weekday or zone name, `noon`, `midnight`,
    /// `AM` or `PM`.
    fn word(&mut self) -> Previous {
        let follows_date = self.adjacent && self.previous == Previous::Date;
        let word = self.take_while(|b| b.is_ascii_alphabetic()).to_owned();
        let digit_follows = self.peek(0).is_some_and(|b| b.is_ascii_digit());
        if word == "T" && follows_date && digit_follows {
            return Previous::T;
        }
        let names =
            |names: &[&str]| names.iter().position(|name| word.len() >= 3 && name.len() >= word.len() && name[..word.len()].eq_ignore_ascii_case(&word));
        if let Some(month) = names(&MONTH_NAMES) {
            if self.fields.month.is_some() {
                self.problem(DateProblem::Twice { what: "the month" });
            }
            self.fields.month = Some(u32::try_from(month).expect("below 12") + 1);
        } else if names(&WEEKDAY_NAMES).is_some() {
            let first = self.items == 0;
            if self.fields.weekday.is_some() {
                self.problem(DateProblem::Twice { what: "the weekday" });
            }
            self.fields.weekday.get_or_insert((word, first));
        } else if let Some(&(_, hours)) = GIT_ZONE_NAMES.iter().find(|(name, _)| name.eq_ignore_ascii_case(&word)) {
            if let Some(&(_, git_offset, other_offsets)) = AMBIGUOUS_ZONE_NAMES.iter().find(|(name, _, _)| name.eq_ignore_ascii_case(&word)) {
                self.problem(DateProblem::AmbiguousZone { name: word.clone(), git_offset, other_offsets });
            }
            self.set_zone(i32::from(hours) * 3600, word);
        } else if word.eq_ignore_ascii_case("noon") || word.eq_ignore_ascii_case("midnight") {
            if self.fields.special.is_some() {
                self.problem(DateProblem::Twice { what: "the time of day" });
            }
            let noon = word.eq_ignore_ascii_case("noon");
            self.fields.special = Some(if noon { TimeOfDay::Noon } else { TimeOfDay::Midnight });
        } else if word.eq_ignore_ascii_case("am") || word.eq_ignore_ascii_case("pm") {
            self.meridiem(word);
        } else {
            return self.unknown();
        }
        Previous::Other
    }

    /// `AM`/`PM` after a time from 1:00 to 12:59, which it turns into a 24-hour time as git does.
    fn meridiem(&mut self, word: String) {
        match self.fields.time {
            Some((hour, minute, second)) if (1..=12).contains(&hour) && !self.fields.meridiem => {
                let pm = word.eq_ignore_ascii_case("pm");
                self.fields.time = Some((hour % 12 + if pm { 12 } else { 0 }, minute, second));
                self.fields.meridiem = true;
            }
            _ => self.problem(DateProblem::Meridiem { word }),
        }
    }

    fn unknown(&mut self) -> Previous {
        self.unknown = true;
        Previous::Other
    }

    fn finish(self) -> Result<CalendarDate, Refusal> {
        let f = &self.fields;
        let date_known = f.date_known();
        let weekday = || DateProblem::Weekday { word: f.weekday.as_ref().map(|(w, _)| w.clone()).unwrap_or_default() };
        if self.unknown {
            return Err(match () {
                () if !date_known && f.weekday.is_some() => weekday().into(),
                () if !date_known && f.special.is_some() => no_date(f).into(),
                () => Refusal::Unrecognized,
            });
        }
        if let Some(refusal) = self.problem {
            return Err(refusal);
        }
        if !date_known {
            return Err(match () {
                () if f.weekday.is_some() => weekday().into(),
                () if f.year.is_some() || f.month.is_some() || f.day.is_some() => DateProblem::IncompleteDate.into(),
                () if f.special.is_some() || f.time.is_some() => no_date(f).into(),
                () => Refusal::Unrecognized,
            });
        }
        if f.weekday.as_ref().is_some_and(|(_, first)| !first) {
            return Err(DateProblem::WeekdayPlacement.into());
        }
        if f.special.is_some() && f.time.is_some() {
            return Err(DateProblem::Twice { what: "the time of day" }.into());
        }
        if let (Some((_, zone)), None) = (&f.zone, f.time) {
            return Err(DateProblem::ZoneWithoutTime { zone: zone.clone() }.into());
        }
        let unix_seconds = f.instant()?;
        let time_of_day = match (f.time, f.special) {
            (Some(_), _) => TimeOfDay::Written,
            (None, Some(special)) => special,
            (None, None) => TimeOfDay::Unwritten,
        };
        Ok(CalendarDate { unix_seconds, time_of_day })
    }
}

fn no_date(f: &Fields) -> DateProblem {
    let (what, example) = match f.special {
        Some(TimeOfDay::Noon) => ("'noon'".to_owned(), "noon"),
        Some(TimeOfDay::Midnight) => ("'midnight'".to_owned(), "midnight"),
        _ => ("a time of day".to_owned(), "12:00"),
    };
    DateProblem::NoDate { what, example }
}

/// The year-first spellings of `a/b/year` read month first and day first, those that exist.
fn day_month_readings(year: u32, a: u32, b: u32) -> String {
    let reading = |month: u32, day: u32| {
        let month_u8 = u8::try_from(month).ok()?;
        let name = Month::try_from(month_u8).ok()?;
        let day_u8 = u8::try_from(day).ok()?;
        Date::from_calendar_date(i32::try_from(year).ok()?, name, day_u8).ok()?;
        Some(format!("{year:04}-{month:02}-{day:02} for {name} {day}"))
    };
    let mut readings: Vec<String> = [reading(a, b), reading(b, a)].into_iter().flatten().collect();
    readings.dedup();
    match readings.as_slice() {
        [] => "YYYY-MM-DD".into(),
        [one] => one.clone(),
        [first, second] => format!("{first} or {second}"),
        _ => unreachable!("two readings at most"),
    }
}
