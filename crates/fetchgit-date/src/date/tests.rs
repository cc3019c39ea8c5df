use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::macros::datetime;

use super::*;

/// 2022-12-18T18:37:02Z, the instant of the examples in the issue.
const INSTANT: i64 = 1671388622;

fn at(unix_seconds: i64) -> SystemTime {
    let magnitude = Duration::from_secs(unix_seconds.unsigned_abs());
    if unix_seconds >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

fn absolute(spec: &str) -> i64 {
    let parsed = parse_date(spec, at(INSTANT)).unwrap_or_else(|err| panic!("{spec:?}: {err}"));
    assert!(!parsed.clock_dependent, "{spec:?} does not depend on the clock");
    parsed.unix_seconds
}

fn relative(spec: &str, now: i64) -> i64 {
    let parsed = parse_date(spec, at(now)).unwrap_or_else(|err| panic!("{spec:?}: {err}"));
    assert!(parsed.clock_dependent, "{spec:?} depends on the clock");
    parsed.unix_seconds
}

fn error(spec: &str) -> DateError {
    let err = parse_date(spec, at(INSTANT)).expect_err(spec);
    let message = err.to_string();
    assert!(!message.contains('\n'), "one line: {message}");
    err
}

mod parse_date {
    use super::*;

    #[test]
    fn unix_seconds() {
        assert_eq!(absolute("1671388622"), INSTANT);
        assert_eq!(absolute("@1671388622"), INSTANT);
        assert_eq!(absolute("100000000"), 100_000_000, "the smallest bare number git reads as seconds");
        assert_eq!(absolute("@0"), 0, "after @ any number is seconds");
        assert_eq!(absolute("@-86400"), -86400);
        assert_eq!(absolute("@99999999"), 99_999_999);
        assert_eq!(absolute("1671388622 +0200"), INSTANT, "commit header form, the offset is only a zone");
        assert_eq!(absolute("@1671388622 +0200"), INSTANT);
    }

    #[test]
    fn iso8601_with_zone() {
        let expected = datetime!(2022-12-18 18:37:02 UTC).unix_timestamp();
        assert_eq!(expected, INSTANT);
        for spec in [
            "2022-12-18T18:37:02Z",
            "2022-12-18T20:37:02+02:00",
            "2022-12-18T13:07:02-05:30",
            "2022-12-18T20:37:02+0200",
            "2022-12-18 20:37:02 +0200",
            "2022-12-18 20:37:02+02:00",
            "2022-12-18 18:37:02Z",
            "  2022-12-18T18:37:02Z\t",
        ] {
            assert_eq!(absolute(spec), expected, "{spec:?}");
        }
    }

    #[test]
    fn iso8601_without_zone_is_utc() {
        assert_eq!(absolute("2022-12-18T18:37:02"), INSTANT);
        assert_eq!(absolute("2022-12-18 18:37:02"), INSTANT);
        assert_eq!(absolute("2022-12-18"), datetime!(2022-12-18 00:00:00 UTC).unix_timestamp(), "a bare date is UTC midnight, whatever the clock says");
        assert_eq!(parse_date("2022-12-18", at(0)), parse_date("2022-12-18", at(INSTANT + 12345)), "a bare date does not depend on the time of day");
        assert_eq!(absolute("1969-12-31"), -86400);
    }

    #[test]
    fn rfc2822() {
        assert_eq!(absolute("Sun, 18 Dec 2022 18:37:02 +0000"), INSTANT);
        assert_eq!(absolute("Sun, 18 Dec 2022 20:37:02 +0200"), INSTANT);
        assert_eq!(absolute("Sun, 18 Dec 2022 18:37:02 GMT"), INSTANT);
        assert_eq!(absolute("Mon, 18 Dec 2022 18:37:02 +0000"), INSTANT, "a wrong weekday is ignored, as by git");
        assert_eq!(absolute("Sun Dec 18 18:37:02 2022 +0000"), INSTANT, "git's default format");
    }

    #[test]
    fn relative_forms() {
        let now = INSTANT;
        assert_eq!(relative("now", now), now);
        assert_eq!(relative("today", now), now);
        assert_eq!(relative("yesterday", now), now - 86400);
        assert_eq!(relative("3 days ago", now), now - 3 * 86400);
        assert_eq!(relative("3 DAYS AGO", now), now - 3 * 86400);
        assert_eq!(relative("3 days", now), now - 3 * 86400, "ago is optional, as in git");
        assert_eq!(relative("  3   days  ago ", now), now - 3 * 86400);
        assert_eq!(relative("1 day ago", now), now - 86400);
        assert_eq!(relative("2 weeks ago", now), now - 14 * 86400);
        assert_eq!(relative("three hours ago", now), now - 3 * 3600);
        assert_eq!(relative("last week", now), now - 7 * 86400);
        assert_eq!(relative("10 seconds ago", now), now - 10);
        assert_eq!(relative("90 minutes ago", now), now - 5400);
        assert_eq!(relative("1 day 12 hours ago", now), now - 36 * 3600);
        assert_eq!(relative("0 days ago", now), now);
        assert_eq!(relative("1 month ago", now), datetime!(2022-11-18 18:37:02 UTC).unix_timestamp(), "months step the calendar");
        assert_eq!(
            relative("1 month ago", datetime!(2023-03-31 12:00:00 UTC).unix_timestamp()),
            datetime!(2023-03-03 12:00:00 UTC).unix_timestamp(),
            "February 31st rolls over into March, as in git"
        );
        assert_eq!(relative("2 years ago", datetime!(2024-02-29 06:00:00 UTC).unix_timestamp()), datetime!(2022-03-01 06:00:00 UTC).unix_timestamp());
        assert_eq!(
            relative("now", INSTANT) + 1,
            parse_date("now", at(INSTANT) + Duration::from_millis(1999)).expect("valid").unix_seconds,
            "the clock is truncated to whole seconds, as git's"
        );
    }

    #[test]
    fn empty() {
        assert_eq!(error(""), DateError::Empty);
        assert_eq!(error(" \t "), DateError::Empty);
        assert!(error("").to_string().starts_with("empty date: use Unix seconds"));
    }

    #[test]
    fn unrecognized() {
        assert_eq!(
            error("garbage").to_string(),
            "invalid date 'garbage': use Unix seconds (1671388622 or @1671388622), \
             ISO 8601 (2022-12-18T18:37:02Z, 2022-12-18 18:37:02 UTC, 2022-12-18), RFC 2822, \
             git's or date(1)'s format (Sun Dec 18 18:37:02 UTC 2022), Nix's lastModifiedDate (20221218183702), \
             or a relative form like '3 days ago'"
        );
        for spec in [
            "garbage",
            "tea",
            "2022-12-19 tea",
            "never",
            "ago",
            "days ago",
            "3 ago",
            "3 days ago ago",
            "ago 3 days",
            "1 fortnight ago",
            "3.5 days ago",
            "-3 days ago",
            "eleven days ago",
            "2022-12-18 18:37:02 IST",
            "2022-12-18 18:37:02 UT",
            "2022-12-18 18:37:02 MES",
            "2022-12-18 18:37:02 +0000 (UTC)",
            "2022-12-18 18:37:02 UTC+2",
            "2022-12-18t18:37:02Z",
            "20221218T1837Z",
            "20221218T18Z",
            "2022-12-18T18Z",
            "20221218 18:37:02",
            "2022-12-18 183702",
            "2022-12-18 18:37:2",
            "2022-12-18 018:37:02",
            "18:37:02.5 2022-12-18",
            "Dec 19 10000",
            "@",
            "@abc",
            "@ 1671388622",
            "@1671388622.5",
            "1671388622 +0200 extra",
            "1671388622 +02",
            "1671388622 +2400",
        ] {
            assert_eq!(error(spec), DateError::Unrecognized { input: spec.into() }, "{spec:?}");
        }
    }

    #[test]
    fn unrecognized_message_stays_on_one_line() {
        let message = error("a\nb").to_string();
        assert!(message.starts_with(r"invalid date 'a\nb': use Unix seconds"), "{message}");
    }

    #[test]
    fn small_or_negative_bare_numbers_are_refused() {
        for (spec, number) in [
            ("0", "0"),
            ("5", "5"),
            ("12345", "12345"),
            ("20221218", "20221218"),
            ("99999999", "99999999"),
            ("-5", "-5"),
            ("-1671388622", "-1671388622"),
            ("+1671388622", "1671388622"),
            ("12345 +0000", "12345"),
        ] {
            assert_eq!(error(spec), DateError::AmbiguousNumber { input: spec.into(), number: number.into() }, "{spec:?}");
        }
        assert_eq!(
            error("20221218").to_string(),
            "invalid date '20221218': a bare number is Unix seconds only from 9 digits (100000000) on, \
             as in git; write '@20221218' for Unix seconds or YYYY-MM-DD for a day"
        );
    }

    #[test]
    fn out_of_range() {
        for spec in [
            "99999999999999999999",
            "@99999999999999999999",
            "253402300800",
            "@253402300800",
            "@-377705116801",
            "@20221218183702",
            "20221218183702 +0000",
            "10000-01-01",
            "99999999999999999999-12-18 12:00",
            "99999999999999999999 days ago",
            "1 day 99999999999999999999 seconds ago",
            "9223372036854775807 seconds ago",
            "99999 years ago",
            "9999999999999999 weeks ago",
        ] {
            assert_eq!(error(spec), DateError::OutOfRange { input: spec.into() }, "{spec:?}");
        }
        assert!(error("99999999999999999999").to_string().starts_with("invalid date '99999999999999999999': out of range"));
    }

    #[test]
    fn relative_forms_need_a_clock_in_range() {
        let far_future = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(parse_date("now", far_future), Err(DateError::OutOfRange { input: "now".into() }));
        assert_eq!(
            parse_date("2022-12-18", far_future).map(|d| d.unix_seconds),
            Ok(datetime!(2022-12-18 00:00:00 UTC).unix_timestamp()),
            "absolute forms ignore the clock"
        );
        assert_eq!(relative("yesterday", -1), -1 - 86400, "a clock before 1970 works");
    }
}

/// A small deterministic generator (xorshift64*), so that generated cases are the same each run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("below n")
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn calendar_problem(spec: &str) -> DateProblem {
    match error(spec) {
        DateError::Calendar { input, problem } => {
            assert_eq!(input, spec);
            problem
        }
        other => panic!("{spec:?}: not a calendar problem: {other:?}"),
    }
}

mod calendar_forms {
    use super::*;

    const NOON: i64 = datetime!(2022-12-19 12:00:00 UTC).unix_timestamp();
    const MIDNIGHT: i64 = datetime!(2022-12-19 00:00:00 UTC).unix_timestamp();

    #[test]
    fn zone_names_after_a_time() {
        for (spec, expected) in [
            ("2022-12-19 12:00:00 UTC", NOON),
            ("2022-12-19 12:00:00 utc", NOON),
            ("2022-12-19 12:00:00 GMT", NOON),
            ("2022-12-19T12:00:00z", NOON),
            ("2022-12-19T12:00:00Z", NOON),
            ("2022-12-19 12:00:00 z", NOON),
            ("2022-12-19 12:00 UTC", NOON),
            ("2022-12-19 12:00:00 EST", NOON + 5 * 3600),
            ("2022-12-19 12:00:00 EDT", NOON + 4 * 3600),
            ("2022-12-19 12:00:00 CEST", NOON - 2 * 3600),
            ("2022-12-19 12:00:00 cet", NOON - 3600),
            ("2022-12-19 12:00:00 JST", NOON - 9 * 3600),
            ("2022-12-19 12:00:00 NZDT", NOON - 13 * 3600),
            ("2022-12-19 12:00:00 IDLW", NOON + 12 * 3600),
            ("2022.12.19 12:00:00 BST", NOON - 3600),
            ("UTC 2022-12-19 12:00:00", NOON),
            ("20221219T120000Z", NOON),
            ("20221219T120000z", NOON),
        ] {
            assert_eq!(absolute(spec), expected, "{spec:?}");
        }
    }

    #[test]
    fn date_command_and_git_formats() {
        for (spec, expected) in [
            ("Mon Dec 19 12:00:00 UTC 2022", NOON),
            ("Mon Dec 19 07:00:00 EST 2022", NOON),
            ("Mon Dec 19 12:00:00 PM UTC 2022", NOON),
            ("Mon Dec 19 01:30:00 PM UTC 2022", NOON + 5400),
            ("Mon Dec 19 12:30:00 AM UTC 2022", MIDNIGHT + 1800),
            ("Mon Dec 19 11:59:59 am UTC 2022", NOON - 1),
            ("Mon Dec  5 12:00:00 UTC 2022", datetime!(2022-12-05 12:00:00 UTC).unix_timestamp()),
            ("Mon Dec 19 12:00:00 2022", NOON),
            ("Mon Dec 19 12:00:00 2022 +0000", NOON),
            ("Mon Dec 19 13:00:00 2022 +0100", NOON),
            ("Mon, 19 Dec 2022 12:00:00 GMT", NOON),
            ("Fri, 19 Dec 2022 12:00:00 +0000", NOON),
        ] {
            assert_eq!(absolute(spec), expected, "{spec:?}");
        }
    }

    #[test]
    fn month_name_dates_are_utc_midnight() {
        for spec in [
            "Dec 19 2022",
            "19 Dec 2022",
            "December 19, 2022",
            "December 19 2022",
            "19 December, 2022",
            "Monday, December 19, 2022",
            "Mon, 19 Dec 2022",
            "dec 19 2022",
            "DECEMBER 19 2022",
            "Decem 19 2022",
            "2022 Dec 19",
        ] {
            assert_eq!(absolute(spec), MIDNIGHT, "{spec:?}");
        }
        assert_eq!(absolute("Sept 5 2022"), datetime!(2022-09-05 00:00:00 UTC).unix_timestamp());
        assert_eq!(absolute("December 19, 2022 12:00"), NOON);
        assert_eq!(absolute("19 Dec 2022 13:00 +0100"), NOON);
        assert_eq!(parse_date("Dec 19 2022", at(0)), parse_date("Dec 19 2022", at(INSTANT + 12345)), "a date alone does not depend on the time of day");
    }

    #[test]
    fn year_first_numeric_dates() {
        for spec in ["2022-12-19", "2022.12.19", "2022/12/19", "2022-12-19 00:00", "2022-1-5"] {
            let expected = if spec == "2022-1-5" { datetime!(2022-01-05 00:00:00 UTC).unix_timestamp() } else { MIDNIGHT };
            assert_eq!(absolute(spec), expected, "{spec:?}");
        }
    }

    #[test]
    fn noon_and_midnight_with_a_date() {
        for (spec, expected) in [
            ("2022-12-19 noon", NOON),
            ("noon 2022-12-19", NOON),
            ("Dec 19 2022 noon", NOON),
            ("2022-12-19 NOON", NOON),
            ("2022-12-19 midnight", MIDNIGHT),
            ("December 19, 2022 midnight", MIDNIGHT),
        ] {
            assert_eq!(absolute(spec), expected, "{spec:?}");
        }
    }

    #[test]
    fn last_modified_date_is_utc() {
        assert_eq!(absolute("20221218183702"), INSTANT);
        assert_eq!(absolute(" 20221218183702 "), INSTANT);
        assert_eq!(absolute("19700101000000"), 0);
        assert_eq!(absolute("19691231235959"), -1);
        assert_eq!(absolute("20000229235959"), 951868799);
        assert_eq!(absolute("99991231235959"), datetime!(9999-12-31 23:59:59 UTC).unix_timestamp());
        assert_eq!(absolute("00000101000000"), datetime!(0000-01-01 00:00:00 UTC).unix_timestamp());
        for (spec, what) in [
            ("20221318183702", "month 13"),
            ("20220018183702", "month 0"),
            ("20221200183702", "day 0"),
            ("20221232183702", "day 32"),
            ("20220230120000", "day 30 in February 2022"),
            ("20230229120000", "day 29 in February 2023"),
            ("20221218243702", "hour 24"),
            ("20221218186002", "minute 60"),
            ("20221218183760", "second 60"),
        ] {
            let problem = calendar_problem(spec);
            assert_eq!(problem, DateProblem::Nonexistent { what: format!("{what}: 14 digits are Nix's lastModifiedDate, YYYYMMDDHHMMSS") }, "{spec:?}");
        }
    }

    #[test]
    fn dotted_relative_forms() {
        let now = INSTANT;
        for (dotted, spaced) in [
            ("2.weeks.ago", "2 weeks ago"),
            ("3.days.ago", "3 days ago"),
            ("3.days", "3 days"),
            ("1.day.12.hours.ago", "1 day 12 hours ago"),
            ("last.month", "last month"),
            ("ten.minutes.ago", "ten minutes ago"),
            ("3. days ago.", "3 days ago"),
        ] {
            assert_eq!(relative(dotted, now), relative(spaced, now), "{dotted:?}");
        }
        assert_eq!(relative("2.weeks.ago", now), now - 14 * 86400);
    }

    #[test]
    fn refusals_say_what_to_write() {
        use DateProblem::*;
        let weekday = |word: &str| Weekday { word: word.into() };
        let order = |suggestion: &str| DayMonthOrder { suggestion: suggestion.into() };
        for (spec, expected) in [
            ("last friday", weekday("friday")),
            ("friday", weekday("friday")),
            ("next Fri", weekday("Fri")),
            ("2 fridays ago", weekday("fridays")),
            ("friday noon", weekday("friday")),
            ("yesterday noon", NoDate { what: "'noon'".into(), example: "noon" }),
            ("noon", NoDate { what: "'noon'".into(), example: "noon" }),
            ("midnight", NoDate { what: "'midnight'".into(), example: "midnight" }),
            ("12:00", NoDate { what: "a time of day".into(), example: "12:00" }),
            ("06/05/2009", order("2009-06-05 for June 5 or 2009-05-06 for May 6")),
            ("06.05.2009", order("2009-06-05 for June 5 or 2009-05-06 for May 6")),
            ("18/12/2022", order("2022-12-18 for December 18")),
            ("12-18-2022", order("2022-12-18 for December 18")),
            ("05/05/2009 12:00", order("2009-05-05 for May 5")),
            ("31/02/2022", order("YYYY-MM-DD")),
            ("06/05/09", order("YYYY-MM-DD, with all four digits of the year")),
            ("12/18", IncompleteDate),
            ("Dec 19", IncompleteDate),
            ("Dec 2022", IncompleteDate),
            ("19 2022 12:00", IncompleteDate),
            ("Dec 19 22", ShortYear),
            ("19 Dec 22 12:00 +0000", ShortYear),
            ("2022-12-19 12:00 Monday", WeekdayPlacement),
            ("Dec 19 Mon 2022", WeekdayPlacement),
            ("2022-12-19 UTC", ZoneWithoutTime { zone: "UTC".into() }),
            ("2022-12-19 +0200", ZoneWithoutTime { zone: "+0200".into() }),
            ("2022-12-19 noon UTC", ZoneWithoutTime { zone: "UTC".into() }),
            ("2022-12-19 13:00 PM", Meridiem { word: "PM".into() }),
            ("2022-12-19 0:30 AM", Meridiem { word: "AM".into() }),
            ("2022-12-19 PM", Meridiem { word: "PM".into() }),
            ("PM 2022-12-19 12:00", Meridiem { word: "PM".into() }),
            ("2022-12-19 12:00 PM PM", Meridiem { word: "PM".into() }),
            ("2022-12-19 12:00 noon", Twice { what: "the time of day" }),
            ("noon midnight 2022-12-19", Twice { what: "the time of day" }),
            ("2022-12-19 12:00 13:00", Twice { what: "the time of day" }),
            ("2022-12-19 2022-12-20", Twice { what: "the date" }),
            ("Dec 2022-12-19", Twice { what: "the date" }),
            ("2022-12-19 12:00 +0100 CET", Twice { what: "the zone" }),
            ("2022-12-19 12:00 UTC GMT", Twice { what: "the zone" }),
            ("Dec December 19 2022", Twice { what: "the month" }),
            ("2022 Dec 19 2023", Twice { what: "the year" }),
            ("2022-12-19 19", Twice { what: "the day of the month" }),
            ("Mon Tue Dec 19 2022", Twice { what: "the weekday" }),
            ("2022-02-30", Nonexistent { what: "day 30 in February 2022".into() }),
            ("Feb 29 2023 12:00", Nonexistent { what: "day 29 in February 2023".into() }),
            ("2022-13-18", Nonexistent { what: "month 13".into() }),
            ("2022-00-18", Nonexistent { what: "month 0".into() }),
            ("2022-12-32T00:00:00Z", Nonexistent { what: "day 32".into() }),
            ("Dec 0 2022", Nonexistent { what: "day 0".into() }),
            ("2022-12-18T24:00:00Z", Nonexistent { what: "hour 24".into() }),
            ("2022-12-18 23:60", Nonexistent { what: "minute 60".into() }),
            ("2022-12-18 23:59:60 UTC", Nonexistent { what: "second 60".into() }),
            ("2022-12-18T18:37:02+25:00", Nonexistent { what: "offset +25:00: git reads offsets up to ±23:59".into() }),
            ("2022-12-18 18:37:02 -0060", Nonexistent { what: "offset -0060: git reads offsets up to ±23:59".into() }),
        ] {
            assert_eq!(calendar_problem(spec), expected, "{spec:?}");
        }
        for (name, git_offset, other_offsets) in calendar::AMBIGUOUS_ZONE_NAMES {
            for spelling in [name.to_owned(), name.to_lowercase()] {
                let spec = format!("2022-12-19 12:00:00 {spelling}");
                assert_eq!(calendar_problem(&spec), AmbiguousZone { name: spelling.clone(), git_offset, other_offsets }, "{spec:?}");
            }
        }
        for (spec, expected) in [
            (
                "last friday",
                "invalid date 'last friday': 'friday' counts back from the clock to a weekday: \
                 write the date (2022-12-16) or a count ('3 days ago')",
            ),
            (
                "noon",
                "invalid date 'noon': 'noon' needs a date, which git would take from the clock: \
                 write one, as in '2022-12-19 noon'",
            ),
            (
                "06/05/2009",
                "invalid date '06/05/2009': a numeric date must start with its 4-digit year, \
                 as the order of day and month differs from place to place: \
                 write 2009-06-05 for June 5 or 2009-05-06 for May 6",
            ),
            (
                "Mon Dec 19 12:00:00 CST 2022",
                "invalid date 'Mon Dec 19 12:00:00 CST 2022': the zone name 'CST' is ambiguous: \
                 git reads it as -0600, but date(1) also prints it for +0800 (China) and -0500 (Cuba): \
                 write the offset instead",
            ),
        ] {
            assert_eq!(error(spec).to_string(), expected);
        }
    }

    #[test]
    fn hostile_input_is_a_clear_error() {
        let huge = "9".repeat(100_000);
        let many_days = format!("{}ago", "1 day ".repeat(10_000));
        assert_eq!(relative(&many_days, INSTANT), INSTANT - 10_000 * 86400);
        let many_months = "Dec ".repeat(10_000) + "19 2022";
        for (spec, unrecognized) in [
            (huge.as_str(), false),
            (&format!("@{huge}"), false),
            (&format!("{huge} days ago"), false),
            (&format!("2022-12-{huge}"), true),
            (&format!("{huge}-12-19"), false),
            (&format!("2022-12-19 {huge}:00"), true),
            (&format!("2022-12-19 12:{huge}"), true),
            (&format!("2022-12-19 12:00 +{huge}"), true),
            (&format!("Dec 19 {huge}"), true),
            (&format!("{huge}T120000Z"), true),
            ("@9223372036854775807", false),
            ("@-9223372036854775808", false),
            ("@-9223372036854775809", false),
            ("9223372036854775808", false),
            ("9999-12-31 23:59:59 -2359", false),
            ("10000-01-01T00:00:00Z", false),
            ("2022-12-19\n12:00:00 UTC", true),
            ("2022-12-19\r12:00:00 UTC", true),
            ("2022-12-19\u{0}", true),
            ("2022-12-19\u{a0}12:00:00 UTC", true),
            ("2022-12-19\u{2003}12:00:00 UTC", true),
            ("３ days ago", true),
            ("٣ days ago", true),
            ("２０２２-12-19", true),
            ("Déc 19 2022", true),
            ("2022‐12‐19", true),
            ("2022-12-19 12:00:00 UTC😀", true),
            (many_months.as_str(), false),
        ] {
            let err = error(spec);
            assert_eq!(matches!(err, DateError::Unrecognized { .. }), unrecognized, "{spec:.60?}: {err:.200}");
        }
        for (spec, expected) in [
            ("@-1", -1),
            ("@-377705116800", datetime!(-9999-01-01 00:00:00 UTC).unix_timestamp()),
            ("@253402300799", datetime!(9999-12-31 23:59:59 UTC).unix_timestamp()),
            ("1969-12-31 23:59:59 UTC", -1),
            ("1969-12-31T23:59:59-01:00", 3599),
            ("0000-01-01 00:00:00 +2359", datetime!(-0001-12-31 00:01:00 UTC).unix_timestamp()),
            ("\t 2022-12-19 \t 12:00:00\tUTC \n", NOON),
            ("\u{a0}2022-12-19 12:00:00 UTC\u{a0}", NOON),
        ] {
            assert_eq!(absolute(spec), expected, "{spec:?}");
        }
    }

    /// Random strings of the characters and words dates are made of: every one is read or
    /// refused with one line, none panics, and whatever is read is within range.
    #[test]
    fn random_input_is_read_or_refused_in_one_line() {
        let pieces = [
            "0",
            "1",
            "2",
            "9",
            "12",
            "19",
            "24",
            "59",
            "60",
            "2022",
            "10000",
            "20221218",
            "183702",
            "20221218183702",
            "-",
            "+",
            ":",
            ".",
            "/",
            ",",
            " ",
            "\t",
            "@",
            "T",
            "Z",
            "z",
            "Dec",
            "Mon",
            "UTC",
            "CST",
            "noon",
            "midnight",
            "PM",
            "ago",
            "days",
            "last",
            "yesterday",
            "é",
            "\n",
        ];
        let mut rng = Rng(0x5eed_da7e);
        for _ in 0..200_000 {
            let len = 1 + rng.below(8);
            let spec: String = (0..len).map(|_| *rng.pick(&pieces)).collect();
            match parse_date(&spec, at(INSTANT)) {
                Ok(date) => assert!(time::OffsetDateTime::from_unix_timestamp(date.unix_seconds).is_ok(), "{spec:?}"),
                Err(err) => assert!(!err.to_string().contains('\n'), "{spec:?}: {err}"),
            }
        }
    }
}

mod interval {
    use super::*;

    fn interval(s: &str) -> Interval {
        s.parse().unwrap_or_else(|err| panic!("{s:?}: {err}"))
    }

    fn error(s: &str) -> IntervalError {
        let err = s.parse::<Interval>().expect_err(s);
        assert!(!err.to_string().contains('\n'), "one line: {err}");
        err
    }

    #[test]
    fn forms() {
        for (s, seconds) in [
            ("86400", 86400),
            ("1", 1),
            ("007", 7),
            ("30s", 30),
            ("90m", 5400),
            ("12h", 43200),
            ("1d", 86400),
            ("1w", 604800),
            ("9223372036854775807", i64::MAX as u64),
            ("9223372036854775807s", i64::MAX as u64),
        ] {
            assert_eq!(interval(s).seconds(), seconds, "{s:?}");
        }
    }

    #[test]
    fn zero() {
        for s in ["0", "0s", "0d", "000w"] {
            assert_eq!(error(s), IntervalError::Zero { input: s.into() }, "{s:?}");
        }
    }

    #[test]
    fn negative() {
        assert_eq!(error("-5"), IntervalError::Negative { input: "-5".into() });
        assert_eq!(error("-1d"), IntervalError::Negative { input: "-1d".into() });
        assert_eq!(
            error("-5").to_string(),
            "invalid interval '-5': it must be positive; \
             use seconds (86400) or a number with a unit s, m, h, d or w (30s, 90m, 12h, 1d, 1w)"
        );
    }

    #[test]
    fn empty() {
        assert_eq!(error(""), IntervalError::Empty);
    }

    #[test]
    fn garbage() {
        for s in ["1x", "x", "d", "1.5h", "1 d", " 1d", "1d ", "1D", "+5", "1dd", "1d1h", "1e3", "٣d", "1\nd"] {
            assert_eq!(error(s), IntervalError::Invalid { input: s.into() }, "{s:?}");
        }
        assert_eq!(error("1x").to_string(), "invalid interval '1x': use seconds (86400) or a number with a unit s, m, h, d or w (30s, 90m, 12h, 1d, 1w)");
        assert_eq!(error("1\nd").to_string(), r"invalid interval '1\nd': use seconds (86400) or a number with a unit s, m, h, d or w (30s, 90m, 12h, 1d, 1w)");
    }

    #[test]
    fn overflow() {
        for s in ["99999999999999999999w", "99999999999999999999", "9223372036854775808", "18446744073709551615", "15250284452472w", "2562047788015216h"] {
            assert_eq!(error(s), IntervalError::Overflow { input: s.into() }, "{s:?}");
        }
        assert_eq!(
            error("99999999999999999999w").to_string(),
            "invalid interval '99999999999999999999w': longer than the maximum of 9223372036854775807 seconds"
        );
        assert_eq!(interval("15250284452471w").seconds(), 15250284452471 * 604800, "the largest whole week count");
    }

    #[test]
    fn display_uses_the_largest_exact_unit_and_round_trips() {
        for (s, shown) in [
            ("86400", "1d"),
            ("5400", "90m"),
            ("90m", "90m"),
            ("120m", "2h"),
            ("30", "30s"),
            ("1209600", "2w"),
            ("1d", "1d"),
            ("36h", "36h"),
            ("9223372036854775807", "9223372036854775807s"),
        ] {
            let parsed = interval(s);
            assert_eq!(parsed.to_string(), shown, "{s:?}");
            assert_eq!(interval(&parsed.to_string()), parsed, "{s:?}");
        }
    }

    #[test]
    fn boundary() {
        let day = interval("1d");
        assert_eq!(day.boundary(INSTANT), datetime!(2022-12-18 00:00:00 UTC).unix_timestamp());
        assert_eq!(day.boundary(1671321600), 1671321600, "a boundary is its own boundary");
        assert_eq!(day.boundary(1671321599), 1671321600 - 86400);
        assert_eq!(day.boundary(0), 0);
        assert_eq!(day.boundary(-1), -86400, "floors, not truncates, before 1970");
        assert_eq!(day.boundary(-86400), -86400);
        assert_eq!(day.boundary(-86401), -2 * 86400);
        assert_eq!(interval("1w").boundary(INSTANT), datetime!(2022-12-15 00:00:00 UTC).unix_timestamp(), "weeks start on Thursdays, like the epoch");
        assert_eq!(interval("12h").boundary(INSTANT), datetime!(2022-12-18 12:00:00 UTC).unix_timestamp());
        assert_eq!(interval("1").boundary(-7), -7);
        assert_eq!(interval("10").boundary(i64::MAX), i64::MAX - 7);
        assert_eq!(interval("10").boundary(i64::MIN + 8), i64::MIN + 8, "-9223372036854775800 is a multiple of 10");
        assert_eq!(interval("10").boundary(i64::MIN + 7), i64::MIN, "the boundary below is not representable");
        let longest = interval("9223372036854775807");
        assert_eq!(longest.boundary(i64::MAX), i64::MAX);
        assert_eq!(longest.boundary(i64::MAX - 1), 0);
        assert_eq!(longest.boundary(-1), -i64::MAX);
        assert_eq!(longest.boundary(i64::MIN), i64::MIN);
    }

    #[test]
    fn boundary_is_the_last_multiple_at_or_before_t() {
        for s in ["1", "7", "90m", "1d", "1w"] {
            let interval = interval(s);
            let step = interval.seconds() as i64;
            for t in (-3 * step - 5..=3 * step + 5).chain([INSTANT, -INSTANT]) {
                let b = interval.boundary(t);
                assert!(b <= t && t - b < step, "{s} {t} -> {b}");
                assert_eq!(b % step, 0, "{s} {t} -> {b}");
            }
        }
    }
}

/// Compare with what `git rev-parse --before=SPEC` prints, which is what `git rev-list
/// --before=SPEC` uses: both read SPEC with git's `approxidate()`.
mod git_baseline {
    use std::path::Path;
    use std::process::Command;

    use super::*;

    /// A scratch repository to run git in, isolated from the user's configuration.
    struct Git {
        dir: tempfile::TempDir,
    }

    impl Git {
        fn new() -> Self {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let git = Git { dir };
            let status = git.command("UTC").args(["init", "-q"]).status().expect("git is installed");
            assert!(status.success(), "git init");
            git
        }

        fn command(&self, tz: &str) -> Command {
            let mut cmd = Command::new("git");
            cmd.current_dir(self.dir.path())
                .env("HOME", self.dir.path())
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("TZ", tz)
                .env_remove("GIT_DIR")
                .env_remove("GIT_WORK_TREE")
                .env_remove("GIT_TEST_DATE_NOW");
            cmd
        }

        fn path(&self) -> &Path {
            self.dir.path()
        }

        /// Git's reading of `spec` in zone `tz`, with its clock set to `now` if given.
        fn before(&self, spec: &str, tz: &str, now: Option<i64>) -> i64 {
            let mut cmd = self.command(tz);
            cmd.arg("rev-parse").arg(format!("--before={spec}"));
            if let Some(now) = now {
                // git's date.c reads its clock from here when set (used by git's own tests).
                cmd.env("GIT_TEST_DATE_NOW", now.to_string());
            }
            let out = cmd.output().expect("git runs");
            assert!(out.status.success(), "git rev-parse --before={spec:?} in {:?}: {out:?}", self.path());
            let stdout = String::from_utf8(out.stdout).expect("git prints ASCII");
            stdout
                .trim_end()
                .strip_prefix("--min-age=")
                .unwrap_or_else(|| panic!("git rev-parse --before={spec:?} printed {stdout:?}"))
                .parse()
                .expect("git prints a number")
        }

        /// Git's reading of `spec` with its clock set to `now`, checking first that git honours
        /// the fake clock at all.
        fn before_at(&self, spec: &str, now: i64) -> i64 {
            assert_eq!(self.before("now", "UTC", Some(now)), now, "git honours GIT_TEST_DATE_NOW");
            self.before(spec, "UTC", Some(now))
        }
    }

    /// A zone nine hours east of UTC, as a POSIX TZ string so that no time zone database is needed.
    const EAST: &str = "JST-9";

    /// Git's readings of `specs` in zone `tz` with its clock at `now`: one `git rev-parse` per
    /// thousand specs, which prints one `--min-age=N` line per `--before`.
    fn before_all(git: &Git, specs: &[String], tz: &str, now: i64) -> Vec<i64> {
        assert_eq!(git.before("now", tz, Some(now)), now, "git honours GIT_TEST_DATE_NOW");
        let mut readings = Vec::with_capacity(specs.len());
        for chunk in specs.chunks(1000) {
            let mut cmd = git.command(tz);
            cmd.arg("rev-parse").args(chunk.iter().map(|spec| format!("--before={spec}"))).env("GIT_TEST_DATE_NOW", now.to_string());
            let out = cmd.output().expect("git runs");
            assert!(out.status.success(), "git rev-parse: {out:?}");
            let stdout = String::from_utf8(out.stdout).expect("git prints ASCII");
            readings.extend(
                stdout.lines().map(|line| {
                    line.strip_prefix("--min-age=").and_then(|n| n.parse::<i64>().ok()).unwrap_or_else(|| panic!("git rev-parse printed {line:?}"))
                }),
            );
        }
        assert_eq!(readings.len(), specs.len(), "one line per --before");
        readings
    }

    /// Compare git's readings of `cases` (spelling, git's expected reading) in `tz` at `now`,
    /// listing every difference.
    fn assert_git_reads(git: &Git, cases: &[(String, i64)], tz: &str, now: i64) {
        let specs: Vec<String> = cases.iter().map(|(spec, _)| spec.clone()).collect();
        let theirs = before_all(git, &specs, tz, now);
        let diffs: Vec<String> = cases
            .iter()
            .zip(&theirs)
            .filter(|((_, want), got)| want != *got)
            .map(|((spec, want), got)| format!("{spec:?}: git {got}, expected {want}"))
            .take(20)
            .collect();
        assert!(
            diffs.is_empty(),
            "TZ={tz}, clock {now}: {} of {} differ:\n{}",
            cases.iter().zip(&theirs).filter(|((_, w), g)| w != *g).count(),
            cases.len(),
            diffs.join("\n")
        );
    }

    /// Clocks for git: one in the afternoon and one in the morning (UTC), with odd seconds.
    const AFTERNOON: i64 = INSTANT;
    const MORNING: i64 = datetime!(2022-12-19 09:05:07 UTC).unix_timestamp();

    /// Instants spread over git's calendar (1970 to 2099, a little inside so that every zone's
    /// spelling stays in it): ends of days, months and leap years, 2038, and random ones.
    fn instants() -> Vec<i64> {
        let mut instants = vec![
            INSTANT,
            datetime!(1970-01-03 00:00:00 UTC).unix_timestamp(),
            datetime!(1999-12-31 23:59:59 UTC).unix_timestamp(),
            datetime!(2000-01-01 00:00:00 UTC).unix_timestamp(),
            datetime!(2000-02-29 12:34:56 UTC).unix_timestamp(),
            datetime!(2024-02-29 23:59:59 UTC).unix_timestamp(),
            datetime!(2023-03-01 00:00:00 UTC).unix_timestamp(),
            datetime!(2022-12-31 23:59:59 UTC).unix_timestamp(),
            datetime!(2038-01-19 03:14:08 UTC).unix_timestamp(),
            datetime!(2099-12-29 12:00:00 UTC).unix_timestamp(),
            datetime!(2021-06-30 00:00:00 UTC).unix_timestamp(),
            datetime!(2022-12-19 12:00:00 UTC).unix_timestamp(),
        ];
        let low = datetime!(1970-01-03 00:00:00 UTC).unix_timestamp();
        let high = datetime!(2099-12-29 00:00:00 UTC).unix_timestamp();
        let mut rng = Rng(0xda7e_5eed);
        instants.extend((0..40).map(|_| low + (rng.next() % (high - low) as u64) as i64));
        instants
    }

    /// Zones: numeric offsets in every spelling git reads, and every name of git's table that
    /// we accept, in two cases. (offset in seconds, spelling)
    fn zones() -> Vec<(i32, String)> {
        let mut zones: Vec<(i32, String)> = [
            (0, "+0000"),
            (0, "-0000"),
            (0, "+00:00"),
            (7200, "+0200"),
            (7200, "+02:00"),
            (7200, "+02"),
            (-19800, "-0530"),
            (-19800, "-05:30"),
            (20700, "+0545"),
            (-43200, "-1200"),
            (50400, "+1400"),
            (-34200, "-09:30"),
            (86340, "+2359"),
            (-86340, "-23:59"),
        ]
        .into_iter()
        .map(|(offset, spelling)| (offset, spelling.to_owned()))
        .collect();
        for (i, (name, hours)) in calendar::GIT_ZONE_NAMES.iter().enumerate() {
            if calendar::AMBIGUOUS_ZONE_NAMES.iter().any(|(n, _, _)| n == name) {
                continue;
            }
            let spelling = if i % 2 == 0 { name.to_lowercase() } else { (*name).to_owned() };
            zones.push((i32::from(*hours) * 3600, spelling));
        }
        zones
    }

    /// The fields of `t` seen at `offset`, named as the spellings below use them.
    struct Fields {
        y: i32,
        mo: u8,
        d: u8,
        h: u8,
        mi: u8,
        s: u8,
        month: String,
        mon: String,
        weekday: String,
        wdy: String,
    }

    fn fields(t: i64, offset: i32) -> Fields {
        let offset = time::UtcOffset::from_whole_seconds(offset).expect("a valid offset");
        let local = time::OffsetDateTime::from_unix_timestamp(t).expect("in range").to_offset(offset);
        let month = local.month().to_string();
        let weekday = local.weekday().to_string();
        Fields {
            y: local.year(),
            mo: u8::from(local.month()),
            d: local.day(),
            h: local.hour(),
            mi: local.minute(),
            s: local.second(),
            mon: month[..3].to_owned(),
            month,
            wdy: weekday[..3].to_owned(),
            weekday,
        }
    }

    /// Spellings of instant `t` with a time of day and a zone, each with the instant it denotes.
    fn zoned_spellings(t: i64, offset: i32, zone: &str) -> Vec<(String, i64)> {
        let Fields { y, mo, d, h, mi, s, month, mon, wdy, .. } = fields(t, offset);
        let h12 = if h % 12 == 0 { 12 } else { h % 12 };
        let meridiem = if h < 12 { "AM" } else { "PM" };
        let mut spellings = vec![
            (format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} {zone}"), t),
            (format!("{y:04}.{mo:02}.{d:02} {h:02}:{mi:02}:{s:02} {zone}"), t),
            (format!("{y:04}/{mo:02}/{d:02} {h:02}:{mi:02}:{s:02} {zone}"), t),
            (format!("{wdy}, {d} {mon} {y} {h:02}:{mi:02}:{s:02} {zone}"), t),
            (format!("{wdy} {mon} {d} {h:02}:{mi:02}:{s:02} {y} {zone}"), t),
            (format!("{wdy} {mon} {d:>2} {h:02}:{mi:02}:{s:02} {zone} {y}"), t),
            (format!("{wdy} {mon} {d:>2} {h12:02}:{mi:02}:{s:02} {meridiem} {zone} {y}"), t),
            (format!("{month} {d}, {y} {h:02}:{mi:02} {zone}"), t - i64::from(s)),
            (format!("{d} {month} {y} {h}:{mi:02}:{s:02} {zone}"), t),
            (format!("{zone} {y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"), t),
        ];
        if zone.starts_with(['+', '-']) || zone.eq_ignore_ascii_case("z") {
            spellings.extend([
                (format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{zone}"), t),
                (format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}{zone}", t.rem_euclid(997)), t),
                (format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}{zone}"), t),
            ]);
        }
        spellings
    }

    /// Spellings of `t` with a time of day and no zone: UTC.
    fn zoneless_spellings(t: i64) -> Vec<(String, i64)> {
        let Fields { y, mo, d, h, mi, s, month, mon, wdy, .. } = fields(t, 0);
        vec![
            (format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"), t),
            (format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}"), t),
            (format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}"), t),
            (format!("{wdy} {mon} {d} {h:02}:{mi:02}:{s:02} {y}"), t),
            (format!("{month} {d}, {y} {h:02}:{mi:02}"), t - i64::from(s)),
        ]
    }

    /// Spellings of the UTC day of `t` without a time: UTC midnight, to us.
    fn day_spellings(t: i64) -> Vec<(String, i64)> {
        let Fields { y, mo, d, month, mon, weekday, wdy, .. } = fields(t, 0);
        let midnight = t - t.rem_euclid(86400);
        [
            format!("{y:04}-{mo:02}-{d:02}"),
            format!("{y:04}.{mo:02}.{d:02}"),
            format!("{y:04}/{mo}/{d}"),
            format!("{y:04}-{mo}-{d}"),
            format!("{mon} {d} {y}"),
            format!("{d} {mon} {y}"),
            format!("{month} {d}, {y}"),
            format!("{wdy}, {d} {mon} {y}"),
            format!("{weekday}, {month} {d}, {y}"),
            format!("{y} {mon} {d}"),
        ]
        .into_iter()
        .map(|spec| (spec, midnight))
        .collect()
    }

    /// Our reading of each spelling is the instant it was made from.
    fn assert_we_read(cases: &[(String, i64)]) {
        for (spec, want) in cases {
            assert_eq!(absolute(spec), *want, "{spec:?}");
        }
    }

    /// Every spelling with a time, in every zone, over many instants: git reads each as the
    /// instant it was made from, and so do we; in any TZ when the zone is written, in UTC
    /// when it is not.
    #[test]
    fn generated_spellings_with_a_time_match_git() {
        let git = Git::new();
        let zones = zones();
        let mut zoned = Vec::new();
        let mut zoneless = Vec::new();
        for t in instants() {
            for (offset, zone) in &zones {
                zoned.extend(zoned_spellings(t, *offset, zone));
            }
            zoneless.extend(zoneless_spellings(t));
        }
        assert_we_read(&zoned);
        assert_we_read(&zoneless);
        for tz in ["UTC", EAST] {
            assert_git_reads(&git, &zoned, tz, AFTERNOON);
        }
        assert_git_reads(&git, &zoneless, "UTC", AFTERNOON);
    }

    /// Nix's lastModifiedDate: the UTC instant to us; to git, Unix seconds beyond its calendar,
    /// so never that instant.
    #[test]
    fn generated_last_modified_dates_are_ours_not_gits() {
        let git = Git::new();
        let cases: Vec<(String, i64)> = instants()
            .into_iter()
            .map(|t| {
                let Fields { y, mo, d, h, mi, s, .. } = fields(t, 0);
                (format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}"), t)
            })
            .collect();
        assert_we_read(&cases);
        let specs: Vec<String> = cases.iter().map(|(spec, _)| spec.clone()).collect();
        let now = AFTERNOON + 1;
        for (theirs, (spec, t)) in before_all(&git, &specs, "UTC", now).into_iter().zip(&cases) {
            assert_ne!(theirs, *t, "{spec:?}: our deviation, documented on parse_date()");
        }
    }

    /// A date without a time is UTC midnight to us; git takes its clock's time of day on it.
    #[test]
    fn generated_dates_without_a_time_match_git_but_for_the_time_of_day() {
        let git = Git::new();
        let cases: Vec<(String, i64)> = instants().into_iter().flat_map(day_spellings).collect();
        assert_we_read(&cases);
        for now in [AFTERNOON, MORNING] {
            let with_clock: Vec<(String, i64)> = cases.iter().map(|(spec, midnight)| (spec.clone(), midnight + now.rem_euclid(86400))).collect();
            assert_git_reads(&git, &with_clock, "UTC", now);
        }
    }

    /// `noon` and `midnight` with a date: git agrees, except that before noon on its clock it
    /// takes noon of the day before when `noon` follows the date.
    #[test]
    fn generated_noon_and_midnight_match_git() {
        let git = Git::new();
        let mut afternoon = Vec::new();
        let mut morning = Vec::new();
        for t in instants() {
            let midnight = t - t.rem_euclid(86400);
            let noon = midnight + 12 * 3600;
            let Fields { y, mo, d, mon, .. } = fields(t, 0);
            let iso = format!("{y:04}-{mo:02}-{d:02}");
            let named = format!("{mon} {d} {y}");
            for date in [&iso, &named] {
                for (spec, ours) in [
                    (format!("{date} noon"), noon),
                    (format!("noon {date}"), noon),
                    (format!("{date} midnight"), midnight),
                    (format!("midnight {date}"), midnight),
                ] {
                    assert_eq!(absolute(&spec), ours, "{spec:?}");
                    afternoon.push((spec, ours));
                }
            }
            morning.extend([
                (format!("{iso} noon"), noon - 86400),
                (format!("noon {iso}"), noon),
                (format!("{iso} midnight"), midnight),
                (format!("{named} midnight"), midnight),
            ]);
        }
        assert_git_reads(&git, &afternoon, "UTC", AFTERNOON);
        assert_git_reads(&git, &morning, "UTC", MORNING);
    }

    /// Our copy of git's zone table is git's: each name moves 12:00:00 by its offset, in any TZ.
    /// We read the names we accept the same; the ambiguous ones we refuse, quoting git's offset.
    #[test]
    fn zone_table_is_gits() {
        let git = Git::new();
        let noon = datetime!(2022-12-19 12:00:00 UTC).unix_timestamp();
        let cases: Vec<(String, i64)> = calendar::GIT_ZONE_NAMES
            .iter()
            .flat_map(|(name, hours)| {
                let want = noon - i64::from(*hours) * 3600;
                [name.to_string(), name.to_lowercase()].map(|n| (format!("2022-12-19 12:00:00 {n}"), want))
            })
            .collect();
        for tz in ["UTC", EAST] {
            assert_git_reads(&git, &cases, tz, AFTERNOON);
        }
        for (spec, want) in &cases {
            let name = spec.rsplit(' ').next().expect("a name");
            match calendar::AMBIGUOUS_ZONE_NAMES.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(name)) {
                None => assert_eq!(absolute(spec), *want, "{spec:?}"),
                Some((_, git_offset, _)) => {
                    let hours = (noon - want) / 3600;
                    assert_eq!(*git_offset, format!("{hours:+03}00"), "{name}");
                    assert!(matches!(calendar_problem(spec), DateProblem::AmbiguousZone { .. }), "{spec:?}");
                }
            }
        }
    }

    /// Random dates made of random parts in random order, with now and then a random token
    /// more: whatever we read, git reads the same (in UTC), but for the time of day of a date
    /// without one and `DATE noon` before noon (our deviations).
    #[test]
    fn random_token_sequences_we_read_match_git() {
        let dates: [&[&str]; 9] = [
            &["2022-12-19"],
            &["1999.01.31"],
            &["2024/02/29"],
            &["2001-9-3"],
            &["Dec", "19", "2022"],
            &["December", "5", "1999"],
            &["Sept", "30", "2000"],
            &["Feb", "29", "2024"],
            &["Feb", "29", "2023"],
        ];
        let times = ["12:00:00", "23:59", "7:05:09", "00:00:01", "12:30 PM", "12:00:00 am", "9:15 pm"];
        let zones = ["UTC", "z", "GMT", "EST", "cest", "JST", "NZDT", "+0200", "-05:30", "+01", "-0000"];
        let others = [
            "20221219T120000",
            "2022-12-19T12:00:00Z",
            "20221219T083000+05:30",
            "Mon",
            "Monday,",
            "Thurs",
            "noon",
            "midnight",
            "PM",
            "19",
            "5",
            "2022",
            ",",
            "T",
            "Z",
        ];
        let git = Git::new();
        let mut rng = Rng(0x70ce_4a11);
        let mut read = std::collections::BTreeMap::new();
        for _ in 0..20_000 {
            let mut parts: Vec<&str> = rng.pick(&dates).to_vec();
            match rng.below(4) {
                0 => {}
                1 => parts.push(*rng.pick(&["noon", "midnight"])),
                _ => {
                    parts.push(*rng.pick(&times));
                    if rng.below(3) > 0 {
                        parts.push(*rng.pick(&zones));
                    }
                }
            }
            for i in (1..parts.len()).rev() {
                parts.swap(i, rng.below(i + 1));
            }
            if rng.below(3) == 0 {
                parts.insert(0, *rng.pick(&["Mon", "Tuesday,", "Fri,", "thu"]));
            }
            if rng.below(4) == 0 {
                let at = rng.below(parts.len() + 1);
                parts.insert(at, *rng.pick(&others));
            }
            let spec = parts.join(if rng.below(5) == 0 { ", " } else { " " });
            if let Ok(date) = calendar::parse(&spec) {
                assert_eq!(absolute(&spec), date.unix_seconds, "{spec:?}");
                read.insert(spec, date);
            }
        }
        assert!(read.len() > 3000, "only {} sequences read", read.len());
        for now in [AFTERNOON, MORNING] {
            let cases: Vec<(String, i64)> = read
                .iter()
                .filter(|(_, date)| now == AFTERNOON || date.time_of_day != calendar::TimeOfDay::Noon)
                .map(|(spec, date)| {
                    let time_of_day = match date.time_of_day {
                        calendar::TimeOfDay::Unwritten => now.rem_euclid(86400),
                        _ => 0,
                    };
                    (spec.clone(), date.unix_seconds + time_of_day)
                })
                .collect();
            assert_git_reads(&git, &cases, "UTC", now);
        }
    }

    #[test]
    fn zoned_forms_match_git_in_any_zone() {
        let git = Git::new();
        for spec in [
            "1671388622",
            "100000000",
            "4102444799",
            "@1671388622",
            "1671388622 +0200",
            "@1671388622 +0200",
            "2022-12-18T18:37:02Z",
            "2022-12-18T20:37:02+02:00",
            "2022-12-18T13:07:02-05:30",
            "2022-12-18T20:37:02+0200",
            "2022-12-18 20:37:02 +0200",
            "2022-12-18 20:37:02+02:00",
            "2022-12-18 18:37:02Z",
            " 2022-12-18T18:37:02Z ",
            "2000-02-29T23:59:59-01:00",
            "1970-01-01T00:00:00Z",
            "2099-12-31T23:59:59Z",
            "2022-12-18T18:37:02.5Z",
            "2022.12.18 18:37:02 +0000",
            "20221218T183702Z",
            "20221218T203702+02:00",
            "Sun, 18 Dec 2022 18:37:02 +0000",
            "Sun, 18 Dec 2022 20:37:02 +0200",
            "Sun, 18 Dec 2022 18:37:02 GMT",
            "Mon, 18 Dec 2022 18:37:02 +0000",
            "Sun Dec 18 18:37:02 2022 +0000",
        ] {
            let ours = absolute(spec);
            for tz in ["UTC", EAST] {
                assert_eq!(git.before(spec, tz, None), ours, "{spec:?} with TZ={tz}");
            }
        }
    }

    #[test]
    fn zoneless_forms_match_git_in_utc() {
        let git = Git::new();
        for spec in ["2022-12-18T18:37:02", "2022-12-18 18:37:02", "2022-12-18 18:37", "20221218T183702", "1999-12-31 23:59:59"] {
            let ours = absolute(spec);
            assert_eq!(git.before(spec, "UTC", None), ours, "{spec:?} with TZ=UTC");
            assert_eq!(git.before(spec, EAST, None), ours - 9 * 3600, "{spec:?}: git reads it in the local zone; that is our documented deviation");
        }
    }

    #[test]
    fn bare_dates_match_git_in_the_date_part() {
        let git = Git::new();
        for spec in ["2022-12-18", "2000-02-29", "1999-12-31"] {
            let ours = absolute(spec);
            assert_eq!(ours.rem_euclid(86400), 0, "{spec:?} is UTC midnight");
            // git takes the current time of day on that date: only the day can agree.
            let theirs = git.before(spec, "UTC", None);
            assert_eq!(theirs.div_euclid(86400) * 86400, ours, "{spec:?}: {theirs}");
            // With its clock fixed, git's time of day is visibly the clock's: our deviation.
            let now = INSTANT + 3;
            assert_eq!(git.before_at(spec, now), ours + now.rem_euclid(86400), "{spec:?}");
        }
    }

    const RELATIVE: &[&str] = &[
        "now",
        "today",
        "yesterday",
        "3 days ago",
        "3 DAYS AGO",
        "3 days",
        "1 day ago",
        "2 weeks ago",
        "three hours ago",
        "ten minutes ago",
        "last week",
        "last month",
        "last year",
        "10 seconds ago",
        "90 minutes ago",
        "1 day 12 hours ago",
        "0 days ago",
        "1 month ago",
        "13 months ago",
        "2 years ago",
        "1 year 1 month ago",
    ];

    #[test]
    fn relative_forms_match_git_with_the_same_clock() {
        let git = Git::new();
        for now in [
            INSTANT,
            datetime!(2023-03-31 12:00:00 UTC).unix_timestamp(),
            datetime!(2024-02-29 06:00:00 UTC).unix_timestamp(),
            datetime!(2022-12-31 23:59:59 UTC).unix_timestamp(),
            datetime!(2021-01-01 00:00:00 UTC).unix_timestamp(),
        ] {
            for spec in RELATIVE {
                assert_eq!(git.before_at(spec, now), relative(spec, now), "{spec:?} at {now}");
            }
        }
    }

    #[test]
    fn relative_forms_match_git_with_the_real_clock() {
        let git = Git::new();
        for spec in RELATIVE {
            let now = SystemTime::now();
            let ours = parse_date(spec, now).expect("valid").unix_seconds;
            let theirs = git.before(spec, "UTC", None);
            // git reads the clock a little later; allow for a slow machine.
            assert!((0..=5).contains(&(theirs - ours)), "{spec:?}: ours {ours}, git {theirs}");
        }
    }

    /// What git does with input we refuse or read differently, as the `### Deviation` section of
    /// [`parse_date()`] describes it.
    #[test]
    fn git_guesses_where_we_refuse() {
        let git = Git::new();
        let now = INSTANT;
        for spec in ["garbage", "", "12345", "20221218", "99999999", "@0", "@99999999"] {
            assert_eq!(git.before_at(spec, now), now, "git reads {spec:?} as the current time");
        }
        assert_eq!(absolute("@0"), 0);
        assert_eq!(absolute("@99999999"), 99_999_999);
        assert_eq!(git.before_at("-5", now), datetime!(2022-12-05 18:37:02 UTC).unix_timestamp(), "git reads -5 as a day of the current month");
        // git's calendar covers 1970 to 2099 only; outside, it keeps what fits of the input.
        assert_eq!(git.before_at("4102444800", now), now);
        assert_eq!(absolute("4102444800"), datetime!(2100-01-01 00:00:00 UTC).unix_timestamp());
        assert_eq!(git.before_at("2100-01-01T00:00:00Z", now), datetime!(2022-01-01 00:00:00 UTC).unix_timestamp(), "git takes the current year");
        assert_eq!(absolute("2100-01-01T00:00:00Z"), 4102444800);
        assert_ne!(git.before_at("1969-12-31T23:59:59Z", now), -1);
        assert_eq!(absolute("1969-12-31T23:59:59Z"), -1);
        assert_eq!(
            git.before_at("1 fortnight ago", now),
            datetime!(2022-12-01 18:37:02 UTC).unix_timestamp(),
            "git drops the unknown unit and reads 1 as a day of the current month"
        );
        let before_noon = datetime!(2022-12-19 10:00:00 UTC).unix_timestamp();
        for (spec, theirs, ours, why) in [
            ("last friday", datetime!(2022-12-16 18:37:02 UTC).unix_timestamp(), None, "git counts back from its clock to a weekday"),
            ("noon", datetime!(2022-12-18 12:00:00 UTC).unix_timestamp(), None, "git takes its clock's date"),
            ("06/05/2009", datetime!(2009-06-05 18:37:02 UTC).unix_timestamp(), None, "git reads month first with '/'"),
            ("06.05.2009", datetime!(2009-05-06 18:37:02 UTC).unix_timestamp(), None, "git reads day first with '.'"),
            ("2022-02-30 12:00:00", datetime!(2022-03-02 12:00:00 UTC).unix_timestamp(), None, "git rolls a day past the month's end over"),
            ("2022-12-19 12:00:00 IST", datetime!(2022-12-19 12:00:00 UTC).unix_timestamp(), None, "git ignores a zone name it does not know, and uses TZ"),
            ("2022-12-12 EST", datetime!(2022-12-12 18:37:02 UTC).unix_timestamp(), None, "git ignores a zone on a date without a time"),
            (
                "2022-12-19 12:00:00 +0100 CET +0000",
                datetime!(2022-12-19 12:00:00 UTC).unix_timestamp(),
                None,
                "git takes the last offset, and a name only without one",
            ),
            ("3.5 days ago", datetime!(2022-05-03 18:37:02 UTC).unix_timestamp(), None, "git reads 3.5 as the 3rd of May"),
            (
                "Dec 19 2022",
                datetime!(2022-12-19 18:37:02 UTC).unix_timestamp(),
                Some(datetime!(2022-12-19 00:00:00 UTC).unix_timestamp()),
                "git takes its clock's time of day on a date alone",
            ),
            ("20221218183702", now, Some(INSTANT), "to git, 14 digits are Unix seconds beyond its calendar"),
        ] {
            assert_eq!(git.before_at(spec, now), theirs, "{spec:?}: {why}");
            match ours {
                Some(ours) => assert_eq!(absolute(spec), ours, "{spec:?}"),
                None => {
                    error(spec);
                }
            }
        }
        assert_eq!(git.before_at("20221218183702", INSTANT + 86400), INSTANT + 86400, "git reads lastModifiedDate as its clock");
        assert_eq!(
            git.before_at("2022-12-19 noon", before_noon),
            datetime!(2022-12-18 12:00:00 UTC).unix_timestamp(),
            "before noon on git's clock, 'DATE noon' is noon of the day before"
        );
        assert_eq!(absolute("2022-12-19 noon"), datetime!(2022-12-19 12:00:00 UTC).unix_timestamp());
        for spec in ["garbage", "1 fortnight ago", "3.5 days ago"] {
            assert!(matches!(error(spec), DateError::Unrecognized { .. }), "{spec:?}");
        }
        for spec in ["12345", "20221218", "99999999", "-5"] {
            assert!(matches!(error(spec), DateError::AmbiguousNumber { .. }), "{spec:?}");
        }
    }
}
