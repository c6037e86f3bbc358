//! `xs:duration` parsing and the two Windows output forms.

use pssession_wsman::duration::{DurationError, XsDuration};

#[test]
fn windows_and_powershell_forms_parse() {
    let cases = [
        ("PT20S", 20_000),
        ("PT60.000S", 60_000),
        ("PT7200.000S", 7_200_000),
        ("P0DT0H1M2S", 62_000),
        ("P1DT2H3M4.5S", 93_784_500),
        ("PT0.1239S", 123),
        ("P2D", 172_800_000),
        ("PT1H", 3_600_000),
        (" PT180.000S ", 180_000),
    ];
    for (text, millis) in cases {
        assert_eq!(XsDuration::parse(text), Ok(XsDuration::from_millis(millis)), "{text}");
    }
}

#[test]
fn formats_match_windows() {
    assert_eq!(XsDuration::from_secs(7200).to_seconds_string(), "PT7200.000S");
    assert_eq!(XsDuration::from_millis(62_000).to_dhms_string(), "P0DT0H1M2S");
    assert_eq!(XsDuration::from_millis(93_784_500).to_dhms_string(), "P1DT2H3M4S");
    assert_eq!(XsDuration::from_millis(1500).to_string(), "PT1.500S");
    for millis in [0, 1, 999, 60_000, 7_200_000, 86_400_123] {
        let d = XsDuration::from_millis(millis);
        assert_eq!(XsDuration::parse(&d.to_seconds_string()), Ok(d));
        assert_eq!(XsDuration::parse(&d.to_dhms_string()), Ok(XsDuration::from_millis(millis / 1000 * 1000)));
    }
}

#[test]
fn bad_values_are_typed_errors() {
    assert_eq!(XsDuration::parse("-PT5S"), Err(DurationError::Negative));
    assert_eq!(XsDuration::parse("P1Y"), Err(DurationError::CalendarUnits));
    assert_eq!(XsDuration::parse("P1M"), Err(DurationError::CalendarUnits));
    assert_eq!(XsDuration::parse("PT99999999999999999999999S"), Err(DurationError::Overflow));
    assert_eq!(XsDuration::parse("P9999999999999999DT"), Err(DurationError::Overflow));
    for bad in ["", "P", "PT", "20S", "PT5", "PTS", "PT1.5M", "PT5S3M", "P1DT1D", "PT1.S", "PT.5S", "PTT1S", "PT5X"] {
        assert!(matches!(XsDuration::parse(bad), Err(DurationError::Invalid { .. })), "{bad:?} accepted");
    }
}
