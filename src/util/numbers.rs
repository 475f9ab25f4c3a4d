//! TEMPORARY stand-in until the numbers module lands.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty()
        || s.len() > 20
        || s[0] == b'+'
        || (s.len() > 1 && s[0] == b'0')
        || s == b"-0"
        || (s.len() > 1 && s[0] == b'-' && s[1] == b'0')
    {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    let v: f64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    (!v.is_nan()).then_some(v)
}
pub fn format_f64_human(v: f64, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("{v}").as_bytes());
}
pub fn format_f64_score(v: f64, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("{v}").as_bytes());
}
