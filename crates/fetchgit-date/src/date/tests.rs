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
    assert!(
        !parsed.clock_dependent,
        "{spec:?} does not depend on the clock"
    );
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
        assert_eq!(
            absolute("100000000"),
            100_000_000,
            "the smallest bare number git reads as seconds"
        );
        assert_eq!(absolute("@0"), 0, "after @ any number is seconds");
        assert_eq!(absolute("@-86400"), -86400);
        assert_eq!(absolute("@99999999"), 99_999_999);
        assert_eq!(
            absolute("1671388622 +0200"),
            INSTANT,
            "commit header form, the offset is only a zone"
        );
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
        assert_eq!(
            absolute("2022-12-18"),
            datetime!(2022-12-18 00:00:00 UTC).unix_timestamp(),
            "a bare date is UTC midnight, whatever the clock says"
        );
        assert_eq!(
            parse_date("2022-12-18", at(0)),
            parse_date("2022-12-18", at(INSTANT + 12345)),
            "a bare date does not depend on the time of day"
        );
        assert_eq!(absolute("1969-12-31"), -86400);
    }

    #[test]
    fn rfc2822() {
        assert_eq!(absolute("Sun, 18 Dec 2022 18:37:02 +0000"), INSTANT);
        assert_eq!(absolute("Sun, 18 Dec 2022 20:37:02 +0200"), INSTANT);
        assert_eq!(absolute("Sun, 18 Dec 2022 18:37:02 GMT"), INSTANT);
        assert_eq!(
            absolute("Mon, 18 Dec 2022 18:37:02 +0000"),
            INSTANT,
            "a wrong weekday is ignored, as by git"
        );
        assert_eq!(
            absolute("Sun Dec 18 18:37:02 2022 +0000"),
            INSTANT,
            "git's default format"
        );
    }

    #[test]
    fn relative_forms() {
        let now = INSTANT;
        assert_eq!(relative("now", now), now);
        assert_eq!(relative("today", now), now);
        assert_eq!(relative("yesterday", now), now - 86400);
        assert_eq!(relative("3 days ago", now), now - 3 * 86400);
        assert_eq!(relative("3 DAYS AGO", now), now - 3 * 86400);
        assert_eq!(
            relative("3 days", now),
            now - 3 * 86400,
            "ago is optional, as in git"
        );
        assert_eq!(relative("  3   days  ago ", now), now - 3 * 86400);
        assert_eq!(relative("1 day ago", now), now - 86400);
        assert_eq!(relative("2 weeks ago", now), now - 14 * 86400);
        assert_eq!(relative("three hours ago", now), now - 3 * 3600);
        assert_eq!(relative("last week", now), now - 7 * 86400);
        assert_eq!(relative("10 seconds ago", now), now - 10);
        assert_eq!(relative("90 minutes ago", now), now - 5400);
        assert_eq!(relative("1 day 12 hours ago", now), now - 36 * 3600);
        assert_eq!(relative("0 days ago", now), now);
        assert_eq!(
            relative("1 month ago", now),
            datetime!(2022-11-18 18:37:02 UTC).unix_timestamp(),
            "months step the calendar"
        );
        assert_eq!(
            relative(
                "1 month ago",
                datetime!(2023-03-31 12:00:00 UTC).unix_timestamp()
            ),
            datetime!(2023-03-03 12:00:00 UTC).unix_timestamp(),
            "February 31st rolls over into March, as in git"
        );
        assert_eq!(
            relative(
                "2 years ago",
                datetime!(2024-02-29 06:00:00 UTC).unix_timestamp()
            ),
            datetime!(2022-03-01 06:00:00 UTC).unix_timestamp()
        );
        assert_eq!(
            relative("now", INSTANT) + 1,
            parse_date("now", at(INSTANT) + Duration::from_millis(1999))
                .expect("valid")
                .unix_seconds,
            "the clock is truncated to whole seconds, as git's"
        );
    }

    #[test]
    fn empty() {
        assert_eq!(error(""), DateError::Empty);
        assert_eq!(error(" \t "), DateError::Empty);
        assert!(error("")
            .to_string()
            .starts_with("empty date: use Unix seconds"));
    }

    #[test]
    fn unrecognized() {
        assert_eq!(
            error("last friday").to_string(),
            "invalid date 'last friday': use Unix seconds (1671388622 or @1671388622), \
             ISO 8601 (2022-12-18T18:37:02Z, 2022-12-18), RFC 2822, or a relative form like '3 days ago'"
        );
        for spec in [
            "garbage",
            "noon",
            "tea",
            "never",
            "ago",
            "days ago",
            "3 ago",
            "3 days ago ago",
            "ago 3 days",
            "1 fortnight ago",
            "3.days.ago",
            "-3 days ago",
            "eleven days ago",
            "2022-12-18 18:37:02 EST",
            "2022-13-18",
            "2022-12-32T00:00:00Z",
            "2022-12-18T24:00:00Z",
            "2022-12-18T18:37:02+25:00",
            "18/12/2022",
            "@",
            "@abc",
            "1671388622 +0200 extra",
        ] {
            assert_eq!(
                error(spec),
                DateError::Unrecognized { input: spec.into() },
                "{spec:?}"
            );
        }
    }

    #[test]
    fn unrecognized_message_stays_on_one_line() {
        let message = error("a\nb").to_string();
        assert!(
            message.starts_with(r"invalid date 'a\nb': use Unix seconds"),
            "{message}"
        );
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
            ("12345 +0000", "12345"),
        ] {
            assert_eq!(
                error(spec),
                DateError::AmbiguousNumber {
                    input: spec.into(),
                    number: number.into()
                },
                "{spec:?}"
            );
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
            "99999999999999999999 days ago",
            "1 day 99999999999999999999 seconds ago",
            "9223372036854775807 seconds ago",
            "99999 years ago",
            "9999999999999999 weeks ago",
        ] {
            assert_eq!(
                error(spec),
                DateError::OutOfRange { input: spec.into() },
                "{spec:?}"
            );
        }
        assert!(error("99999999999999999999")
            .to_string()
            .starts_with("invalid date '99999999999999999999': out of range"));
    }

    #[test]
    fn relative_forms_need_a_clock_in_range() {
        let far_future = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(
            parse_date("now", far_future),
            Err(DateError::OutOfRange {
                input: "now".into()
            })
        );
        assert_eq!(
            parse_date("2022-12-18", far_future).map(|d| d.unix_seconds),
            Ok(datetime!(2022-12-18 00:00:00 UTC).unix_timestamp()),
            "absolute forms ignore the clock"
        );
        assert_eq!(
            relative("yesterday", -1),
            -1 - 86400,
            "a clock before 1970 works"
        );
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
        assert_eq!(
            error("-1d"),
            IntervalError::Negative {
                input: "-1d".into()
            }
        );
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
        for s in [
            "1x", "x", "d", "1.5h", "1 d", " 1d", "1d ", "1D", "+5", "1dd", "1d1h", "1e3", "٣d",
            "1\nd",
        ] {
            assert_eq!(
                error(s),
                IntervalError::Invalid { input: s.into() },
                "{s:?}"
            );
        }
        assert_eq!(
            error("1x").to_string(),
            "invalid interval '1x': use seconds (86400) or a number with a unit s, m, h, d or w (30s, 90m, 12h, 1d, 1w)"
        );
        assert_eq!(
            error("1\nd").to_string(),
            r"invalid interval '1\nd': use seconds (86400) or a number with a unit s, m, h, d or w (30s, 90m, 12h, 1d, 1w)"
        );
    }

    #[test]
    fn overflow() {
        for s in [
            "99999999999999999999w",
            "99999999999999999999",
            "9223372036854775808",
            "18446744073709551615",
            "15250284452472w",
            "2562047788015216h",
        ] {
            assert_eq!(
                error(s),
                IntervalError::Overflow { input: s.into() },
                "{s:?}"
            );
        }
        assert_eq!(
            error("99999999999999999999w").to_string(),
            "invalid interval '99999999999999999999w': longer than the maximum of 9223372036854775807 seconds"
        );
        assert_eq!(
            interval("15250284452471w").seconds(),
            15250284452471 * 604800,
            "the largest whole week count"
        );
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
        assert_eq!(
            day.boundary(INSTANT),
            datetime!(2022-12-18 00:00:00 UTC).unix_timestamp()
        );
        assert_eq!(
            day.boundary(1671321600),
            1671321600,
            "a boundary is its own boundary"
        );
        assert_eq!(day.boundary(1671321599), 1671321600 - 86400);
        assert_eq!(day.boundary(0), 0);
        assert_eq!(
            day.boundary(-1),
            -86400,
            "floors, not truncates, before 1970"
        );
        assert_eq!(day.boundary(-86400), -86400);
        assert_eq!(day.boundary(-86401), -2 * 86400);
        assert_eq!(
            interval("1w").boundary(INSTANT),
            datetime!(2022-12-15 00:00:00 UTC).unix_timestamp(),
            "weeks start on Thursdays, like the epoch"
        );
        assert_eq!(
            interval("12h").boundary(INSTANT),
            datetime!(2022-12-18 12:00:00 UTC).unix_timestamp()
        );
        assert_eq!(interval("1").boundary(-7), -7);
        assert_eq!(interval("10").boundary(i64::MAX), i64::MAX - 7);
        assert_eq!(
            interval("10").boundary(i64::MIN + 8),
            i64::MIN + 8,
            "-9223372036854775800 is a multiple of 10"
        );
        assert_eq!(
            interval("10").boundary(i64::MIN + 7),
            i64::MIN,
            "the boundary below is not representable"
        );
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
            let status = git
                .command("UTC")
                .args(["init", "-q"])
                .status()
                .expect("git is installed");
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
            assert!(
                out.status.success(),
                "git rev-parse --before={spec:?} in {:?}: {out:?}",
                self.path()
            );
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
            assert_eq!(
                self.before("now", "UTC", Some(now)),
                now,
                "git honours GIT_TEST_DATE_NOW"
            );
            self.before(spec, "UTC", Some(now))
        }
    }

    /// A zone nine hours east of UTC, as a POSIX TZ string so that no time zone database is needed.
    const EAST: &str = "JST-9";

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
        for spec in [
            "2022-12-18T18:37:02",
            "2022-12-18 18:37:02",
            "2022-12-18 18:37",
            "20221218T183702",
            "1999-12-31 23:59:59",
        ] {
            let ours = absolute(spec);
            assert_eq!(git.before(spec, "UTC", None), ours, "{spec:?} with TZ=UTC");
            assert_eq!(
                git.before(spec, EAST, None),
                ours - 9 * 3600,
                "{spec:?}: git reads it in the local zone; that is our documented deviation"
            );
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
            assert_eq!(
                git.before_at(spec, now),
                ours + now.rem_euclid(86400),
                "{spec:?}"
            );
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
                assert_eq!(
                    git.before_at(spec, now),
                    relative(spec, now),
                    "{spec:?} at {now}"
                );
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
            assert!(
                (0..=5).contains(&(theirs - ours)),
                "{spec:?}: ours {ours}, git {theirs}"
            );
        }
    }

    /// What git does with input we refuse or read differently, as the `### Deviation` section of
    /// [`parse_date()`] describes it.
    #[test]
    fn git_guesses_where_we_refuse() {
        let git = Git::new();
        let now = INSTANT;
        for spec in [
            "garbage",
            "",
            "12345",
            "20221218",
            "99999999",
            "@0",
            "@99999999",
        ] {
            assert_eq!(
                git.before_at(spec, now),
                now,
                "git reads {spec:?} as the current time"
            );
        }
        assert_eq!(absolute("@0"), 0);
        assert_eq!(absolute("@99999999"), 99_999_999);
        assert_eq!(
            git.before_at("-5", now),
            datetime!(2022-12-05 18:37:02 UTC).unix_timestamp(),
            "git reads -5 as a day of the current month"
        );
        // git's calendar covers 1970 to 2099 only; outside, it keeps what fits of the input.
        assert_eq!(git.before_at("4102444800", now), now);
        assert_eq!(
            absolute("4102444800"),
            datetime!(2100-01-01 00:00:00 UTC).unix_timestamp()
        );
        assert_eq!(
            git.before_at("2100-01-01T00:00:00Z", now),
            datetime!(2022-01-01 00:00:00 UTC).unix_timestamp(),
            "git takes the current year"
        );
        assert_eq!(absolute("2100-01-01T00:00:00Z"), 4102444800);
        assert_ne!(git.before_at("1969-12-31T23:59:59Z", now), -1);
        assert_eq!(absolute("1969-12-31T23:59:59Z"), -1);
        assert_eq!(
            git.before_at("1 fortnight ago", now),
            datetime!(2022-12-01 18:37:02 UTC).unix_timestamp(),
            "git drops the unknown unit and reads 1 as a day of the current month"
        );
        assert_eq!(
            git.before_at("3.days.ago", now),
            now - 3 * 86400,
            "git takes any separator"
        );
        assert_ne!(git.before_at("last friday", now), now, "git knows weekdays");
        for spec in ["garbage", "1 fortnight ago", "3.days.ago", "last friday"] {
            assert!(
                matches!(error(spec), DateError::Unrecognized { .. }),
                "{spec:?}"
            );
        }
        for spec in ["12345", "20221218", "99999999", "-5"] {
            assert!(
                matches!(error(spec), DateError::AmbiguousNumber { .. }),
                "{spec:?}"
            );
        }
    }
}
